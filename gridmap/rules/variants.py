"""Rules whose threshold depends on the unit: variants selected by a column (城市/农村, 老旧小区).

A rule with ``by = "type"`` and ``[rules.variants.城市]`` / ``[rules.variants.农村]`` tables is
evaluated per unit with the fields of the unit's variant. Where the unit's value of ``by`` is
unknown, the rule is evaluated with the common threshold when every variant has the same one,
and is ``not_assessed`` otherwise — never judged against a guessed type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from gridmap.columns import community_type
from gridmap.rules._evaluator import _column_label, _Eval
from gridmap.rules.model import NOT_ASSESSED, Rule

__all__ = ["variant_keys", "evaluate_variants"]

_LABELS = ("label_zh", "label_en")


def variant_keys(units: pd.DataFrame, by: str) -> pd.Series:
    """The variant name per unit: 城市/农村 for ``type``, ``true``/``false`` for a flag; None unknown.

    Examples
    --------
    >>> variant_keys(pd.DataFrame({"type": ["城市社区", "农村", "?", None]}), "type").tolist()
    ['城市', '农村', None, None]
    >>> variant_keys(pd.DataFrame({"old_estate": [True, False]}), "old_estate").tolist()
    ['true', 'false']
    """
    if by not in units.columns:
        return pd.Series(None, index=units.index, dtype=object)
    values = units[by]
    if by == "type":
        return community_type(values)

    def key(v: object) -> str | None:
        if isinstance(v, (bool, np.bool_)):
            return "true" if v else "false"
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        return str(v)

    out = values.map(key).astype(object)
    return out.where(out.notna(), None)


def _variant_rule(rule: Rule, name: str) -> Rule:
    """``rule`` with the fields of its variant ``name`` (and no variants)."""
    base = {k: v for k, v in rule.params.items() if k not in ("by", "variants")}
    over = {k: v for k, v in rule.params["variants"][name].items() if k not in _LABELS}
    return replace(rule, params={**base, **over})


def evaluate_variants(
    units: pd.DataFrame,
    rule: Rule,
    lang: str,
    evaluator: Callable[[pd.DataFrame, Rule, str], _Eval],
) -> _Eval:
    """Evaluate ``rule`` per unit with the variant its ``by`` column selects."""
    by, variants = rule.params["by"], rule.params["variants"]
    keys = variant_keys(units, by)
    zh = lang == "zh"
    idx = units.index
    value = pd.Series(np.nan, index=idx, dtype="float64")
    gap = pd.Series(np.nan, index=idx, dtype="float64")
    threshold = pd.Series("", index=idx, dtype=object)
    status = pd.Series(NOT_ASSESSED, index=idx, dtype=object)
    message = pd.Series("", index=idx, dtype=object)
    texts: list[str] = []
    for name, fields in variants.items():
        ev = evaluator(units, _variant_rule(rule, name), lang)
        label = fields.get("label_zh" if zh else "label_en", name)
        text = ev.threshold.astype(str) + (f"（{label}）" if zh else f" ({label})")
        texts.append(str(text.iloc[0]) if len(text) else "")
        m = (keys == name).to_numpy()
        for out, new in ((value, ev.value), (gap, ev.gap), (status, ev.status)):
            out[m] = new[m]
        threshold[m], message[m] = text[m], ev.message[m]
    unknown = ~keys.isin(list(variants)).to_numpy()
    params = [{k: v for k, v in f.items() if k not in _LABELS} for f in variants.values()]
    if unknown.any() and all(p == params[0] for p in params):
        ev = evaluator(units, _variant_rule(rule, next(iter(variants))), lang)
        value[unknown], gap[unknown], status[unknown] = (
            ev.value[unknown],
            ev.gap[unknown],
            ev.status[unknown],
        )
        threshold[unknown], message[unknown] = ev.threshold[unknown], ev.message[unknown]
    elif unknown.any():
        what = "社区类型（城市/农村）" if by == "type" else _column_label(by)
        threshold[unknown] = " / ".join(texts)
        message[unknown] = (
            f"未评估：缺少{what}，各类型标准不同"
            if zh
            else f"not assessed: {by} missing and the threshold differs by {by}"
        )
    return _Eval(value, threshold, status, gap, message)
