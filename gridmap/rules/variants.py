"""Rules whose threshold depends on the unit: variants selected by a column (城市/农村, 老旧小区).

A rule with ``by = "type"`` and ``[rules.variants.城市]`` / ``[rules.variants.农村]`` tables is
evaluated per unit with the fields of the unit's variant. A variant with ``applies = false``
is a type the clause does not bind (紫发〔2018〕7号: Party service funds "每个城镇社区"): its
units are ``not_assessed``, with the reason. Where the unit's value of ``by`` is unknown, the rule is
evaluated with the common threshold when every variant has the same one, and is
``not_assessed`` otherwise — never judged against a guessed type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from gridmap.columns import community_type
from gridmap.rules._evaluator import _column_label, _Eval
from gridmap.rules.model import NOT_ASSESSED, Rule

__all__ = ["variant_keys", "evaluate_variants", "Evaluator"]

_LABELS = ("label_zh", "label_en")
#: fields of a variant table that are not parameters of the rule's kind
_OWN = (*_LABELS, "applies")
#: an evaluator of one rule kind
Evaluator = Callable[[pd.DataFrame, Rule, str], _Eval]


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
    over = {k: v for k, v in rule.params["variants"][name].items() if k not in _OWN}
    return replace(rule, params={**base, **over})


def _not_applicable(units: pd.DataFrame, rule: Rule, label: str, lang: str) -> _Eval:
    """A clause that does not bind units of the variant ``label``: not assessed, with why."""
    idx = units.index
    level = "communities" if rule.level == "community" else "grids"
    text = f"不适用：该条不约束{label}" if lang == "zh" else f"not applicable to {label} {level}"
    nan = pd.Series(np.nan, index=idx, dtype="float64")
    return _Eval(
        nan,
        pd.Series("—", index=idx, dtype=object),
        pd.Series(NOT_ASSESSED, index=idx, dtype=object),
        nan.copy(),
        pd.Series(text, index=idx, dtype=object),
    )


def evaluate_variants(units: pd.DataFrame, rule: Rule, lang: str, evaluator: Evaluator) -> _Eval:
    """Evaluate ``rule`` per unit with the variant its ``by`` column selects."""
    by, variants = rule.params["by"], rule.params["variants"]
    keys = variant_keys(units, by).to_numpy(dtype=object)
    zh = lang == "zh"
    n = len(keys)
    # on arrays: a plan edit re-runs every rule, and masked Series assignment cost most of it
    value, gap = np.full(n, np.nan), np.full(n, np.nan)
    threshold = np.full(n, "", dtype=object)
    status = np.full(n, NOT_ASSESSED, dtype=object)
    message = np.full(n, "", dtype=object)
    texts: list[str] = []
    for name, fields in variants.items():
        label = fields.get("label_zh" if zh else "label_en", name)
        m = keys == name
        if fields.get("applies", True) is False:
            ev = _not_applicable(units, rule, label, lang)
            threshold[m], message[m] = ev.threshold.to_numpy()[m], ev.message.to_numpy()[m]
            continue
        ev = evaluator(units, _variant_rule(rule, name), lang)
        suffix = f"（{label}）" if zh else f" ({label})"
        text = np.array([f"{x}{suffix}" for x in ev.threshold.to_numpy()], dtype=object)
        texts.append(str(text[0]) if n else "")
        value[m], gap[m] = ev.value.to_numpy()[m], ev.gap.to_numpy()[m]
        status[m], threshold[m], message[m] = (
            ev.status.to_numpy()[m],
            text[m],
            ev.message.to_numpy()[m],
        )
    unknown = ~np.isin(keys, list(variants))
    params = [{k: v for k, v in f.items() if k not in _LABELS} for f in variants.values()]
    if unknown.any() and all(p == params[0] for p in params):
        ev = evaluator(units, _variant_rule(rule, next(iter(variants))), lang)
        value[unknown], gap[unknown] = ev.value.to_numpy()[unknown], ev.gap.to_numpy()[unknown]
        status[unknown] = ev.status.to_numpy()[unknown]
        threshold[unknown] = ev.threshold.to_numpy()[unknown]
        message[unknown] = ev.message.to_numpy()[unknown]
    elif unknown.any():
        threshold[unknown] = " / ".join(texts)
        message[unknown] = _unknown_messages(units, by, lang).to_numpy()[unknown]
    idx = units.index
    return _Eval(
        pd.Series(value, index=idx),
        pd.Series(threshold, index=idx, dtype=object),
        pd.Series(status, index=idx, dtype=object),
        pd.Series(gap, index=idx),
        pd.Series(message, index=idx, dtype=object),
    )


def _unknown_messages(units: pd.DataFrame, by: str, lang: str) -> pd.Series:
    """Why a unit whose ``by`` value selects no variant is not assessed: missing or unrecognised."""
    what = "社区类型（城市/农村）" if by == "type" else _column_label(by)
    raw = units[by] if by in units.columns else pd.Series(None, index=units.index, dtype=object)

    def one(v: object) -> str:
        text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        if not text:
            if lang == "zh":
                return f"未评估：缺少{what}，各类型标准不同"
            return f"not assessed: {by} missing and the threshold differs by {by}"
        if lang == "zh":
            return f"未评估：{what}的值“{text}”无法识别，各类型标准不同"
        return f"not assessed: {by} {text!r} not recognised and the threshold differs by {by}"

    return raw.map(one).astype(object)
