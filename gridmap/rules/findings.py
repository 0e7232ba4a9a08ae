"""Rule evaluation: every rule of a profile applied to a table of units, as findings rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.rules.coverage_rule import _eval_coverage
from gridmap.rules.kinds import (
    _eval_coordinators,
    _eval_facilities,
    _eval_floor_area,
    _eval_range,
    _eval_ratio,
    _eval_staff,
)
from gridmap.rules.model import FINDING_COLUMNS, Profile
from gridmap.rules.posts import _eval_posts
from gridmap.rules.profiles import load_profile
from gridmap.rules.variants import Evaluator, evaluate_variants

__all__ = ["evaluate"]

#: what each rule evaluator measures per unit (the per-unit columns of a finding)
_MEASURED = ("value", "threshold", "status", "gap", "message")

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
    if "name" in units.columns:
        names = units["name"]
    else:
        names = pd.Series(units.index.astype(str), index=units.index)
    unit_ids = units.index.astype(str).to_numpy(dtype=object)
    unit_names = names.astype(str).to_numpy(dtype=object)
    rules = [r for r in profile.rules if r.level == level]
    if not rules:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    measured: dict[str, list[np.ndarray]] = {c: [] for c in _MEASURED}
    for rule in rules:
        if "variants" in rule.params:
            ev = evaluate_variants(units, rule, lang, _EVALUATORS[rule.kind])
        else:
            ev = _EVALUATORS[rule.kind](units, rule, lang)
        for c in _MEASURED:
            measured[c].append(getattr(ev, c).to_numpy())
    # one frame of every rule's arrays (rule-major, units in table order): a frame per rule
    # and a concat cost more than the rules themselves
    n = len(units)

    def per_rule(values: list[str]) -> np.ndarray:
        return np.repeat(np.array(values, dtype=object), n)

    return pd.DataFrame(
        {
            "level": np.full(n * len(rules), level, dtype=object),
            "unit_id": np.tile(unit_ids, len(rules)),
            "unit_name": np.tile(unit_names, len(rules)),
            "rule_id": per_rule([r.id for r in rules]),
            "value": np.concatenate(measured["value"]).astype("float64"),
            "threshold": np.concatenate(measured["threshold"]).astype(object),
            "status": np.concatenate(measured["status"]).astype(object),
            "gap": np.concatenate(measured["gap"]).astype("float64"),
            "message": np.concatenate(measured["message"]).astype(object),
            "source": per_rule([r.source for r in rules]),
            "severity": per_rule([r.severity for r in rules]),
            "rule_title": per_rule([r.title(lang) for r in rules]),
        }
    )
