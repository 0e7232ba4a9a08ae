"""Rule evaluation: every rule of a profile applied to a table of units, as findings rows."""

from __future__ import annotations

import pandas as pd

from gridmap.rules import FINDING_COLUMNS, Profile, load_profile
from rules_reference.coverage_rule import _eval_coverage
from rules_reference.kinds import (
    _eval_coordinators,
    _eval_facilities,
    _eval_floor_area,
    _eval_range,
    _eval_ratio,
    _eval_staff,
)
from rules_reference.posts import _eval_posts
from rules_reference.variants import Evaluator, evaluate_variants

__all__ = ["evaluate"]

_EVALUATORS: dict[str, Evaluator] = {
    "range": _eval_range,
    "coordinators": _eval_coordinators,
    "staff": _eval_staff,
    "posts": _eval_posts,
    "floor_area": _eval_floor_area,
    "facilities": _eval_facilities,
    "ratio": _eval_ratio,
    "coverage": _eval_coverage,
}


def evaluate(
    units: pd.DataFrame, profile: Profile | str, *, level: str, lang: str = "zh"
) -> pd.DataFrame:
    """Evaluate every rule of ``profile`` at ``level`` on ``units``.

    Parameters
    ----------
    units
        One row per unit (index = unit id) with the metric columns and ``name``.
    profile
        A :class:`Profile` or a profile name/path.
    level
        ``"community"`` or ``"grid"``.
    lang
        Message language, ``"zh"`` (default) or ``"en"``.

    Returns
    -------
    pandas.DataFrame
        One row per unit × rule with :data:`FINDING_COLUMNS`.

    Examples
    --------
    >>> units = pd.DataFrame({"name": ["甲", "乙", "丙"], "households": [999, 3000, 3001]},
    ...                      index=pd.Index(["1", "2", "3"], name="community_id"))
    >>> f = evaluate(units, "national", level="community")
    >>> f[f.rule_id == "community.size"][["unit_id", "status", "gap", "message"]].values.tolist()
    [['1', 'fail', 1.0, '低于下限 1 户'], ['2', 'pass', 0.0, '符合'], ['3', 'fail', 1.0, '超出上限 1 户']]
    """
    profile = load_profile(profile)
    if not len(units):  # an empty layer: no findings (never a crash on empty text columns)
        return pd.DataFrame(columns=FINDING_COLUMNS)
    frames = []
    if "name" in units.columns:
        names = units["name"]
    else:
        names = pd.Series(units.index.astype(str), index=units.index)
    unit_ids, unit_names = units.index.astype(str), names.astype(str).to_numpy()
    for rule in profile.rules:
        if rule.level != level:
            continue
        if "variants" in rule.params:
            ev = evaluate_variants(units, rule, lang, _EVALUATORS[rule.kind])
        else:
            ev = _EVALUATORS[rule.kind](units, rule, lang)
        frames.append(
            pd.DataFrame(
                {
                    "level": level,
                    "unit_id": unit_ids,
                    "unit_name": unit_names,
                    "rule_id": rule.id,
                    "value": ev.value.to_numpy(),
                    "threshold": ev.threshold.to_numpy(),
                    "status": ev.status.to_numpy(),
                    "gap": ev.gap.to_numpy(),
                    "message": ev.message.to_numpy(),
                    "source": rule.source,
                    "severity": rule.severity,
                    "rule_title": rule.title(lang),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.concat(frames, ignore_index=True)
