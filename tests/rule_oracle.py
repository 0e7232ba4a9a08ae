"""The rule kinds written out one unit at a time: the oracle of the rule evaluation tests.

:func:`findings` applies every rule of a profile to a table the slow, obvious way — a loop
over the units as plain dicts, each rule kind a few lines of arithmetic and wording taken
from its documentation — and returns the findings frame :func:`gridmap.rules.evaluate` must
give, value for value and word for word. It uses no evaluator of :mod:`gridmap.rules` (only
the rules' data: parameters, titles, the columns a rule reads) so a mistake in the fast path
cannot hide in it. Not for production: slow on purpose.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd

from gridmap.columns import ALIASES, AREA_MEASURES, community_type
from gridmap.facilities import type_label
from gridmap.rules import FINDING_COLUMNS, Rule, load_profile

NAN = math.nan
PASS, FAIL, NA = "pass", "fail", "not_assessed"
#: one unit's finding of one rule: value, threshold, status, gap, message
Finding = tuple[float, str, str, float, str]


def missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x: object) -> float:
    """A cell as a number; NaN when missing or not a number."""
    if missing(x) or isinstance(x, (tuple, list, set)):
        return NAN
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return NAN


def fmt(x: float) -> str:
    """``1,500``, ``12.5``; empty for NaN."""
    if math.isnan(x):
        return ""
    return f"{int(round(x)):,}" if abs(x - round(x)) < 1e-9 else f"{x:,.1f}"


def pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def share_text(x: float, need: float) -> str:
    """A share with as many decimals (≤ 3) as it takes not to print like ``need`` when it differs."""
    for digits in range(4):
        text = f"{x * 100:.{digits}f}%"
        if abs(x - need) < 1e-12 or text != f"{need * 100:.{digits}f}%":
            return text
    return text


class Table:
    """The units as dicts, and what the table as a whole says (absent or empty columns)."""

    def __init__(self, units: pd.DataFrame, lang: str) -> None:
        self.columns = set(units.columns)
        self.rows: list[dict] = units.to_dict("records")  # Python values: 1.0, True, None
        self.lang, self.zh = lang, lang == "zh"

    def empty(self, column: str) -> bool:
        return column not in self.columns or all(missing(r[column]) for r in self.rows)

    def label(self, column: str) -> str:
        """The Chinese name a planner's file uses for ``column``, with the canonical one."""
        for kind in ("communities", "grids", "households", "facilities"):
            zh = [n for n in ALIASES[kind].get(column, ()) if not n.isascii()]
            if zh:
                return f"{zh[0]}（{column}）"
        return "设施图层（facilities）" if column == "facility_types" else column

    def not_assessed(self, rule: Rule) -> str:
        """Why a unit is not assessed: no facilities layer, columns missing, or its own value."""
        absent = [
            c
            for c in rule.inputs()
            if c and (c not in self.columns or (c != "facility_types" and self.empty(c)))
        ]
        if rule.kind == "facilities" and "facility_types" not in self.columns:
            return "未评估：未提供设施图层" if self.zh else "not assessed: no facilities layer"
        if absent and self.zh:
            return "未评估：缺少数据列 " + "、".join(self.label(c) for c in absent)
        if absent:
            return f"not assessed: missing column(s) {', '.join(absent)}"
        return "未评估：该单元数据缺失" if self.zh else "not assessed: value missing for this unit"

    def ok(self) -> str:
        return "符合" if self.zh else "compliant"


# --------------------------------------------------------------------------- the kinds
def range_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """A value within [min, max]; below min is waived where ``exempt_min_if`` is set."""
    p = rule.params
    value = number(row.get(p["metric"]))
    lo, hi = p.get("min"), p.get("max")
    text = pct if rule.unit == "%" else fmt
    unit = "" if rule.unit == "%" else rule.unit
    if lo is not None and hi is not None:
        threshold = f"{text(lo)}–{text(hi)}{unit}"
    else:
        threshold = f"≥{text(lo)}{unit}" if lo is not None else f"≤{text(hi)}{unit}"
    if math.isnan(value):
        return NAN, threshold, NA, NAN, t.not_assessed(rule)
    flag = row.get(p.get("exempt_min_if") or "")
    exempt = isinstance(flag, (bool, int, float)) and not missing(flag) and bool(flag)
    below = lo is not None and value < lo - 1e-9
    if below and not exempt:
        gap = lo - value
        return (
            value,
            threshold,
            FAIL,
            gap,
            ("低于下限 " if t.zh else "below minimum by ") + (f"{text(gap)} {unit}".rstrip()),
        )
    if hi is not None and value > hi + 1e-9:
        gap = value - hi
        return (
            value,
            threshold,
            FAIL,
            gap,
            ("超出上限 " if t.zh else "above maximum by ") + (f"{text(gap)} {unit}".rstrip()),
        )
    if below:
        return (
            value,
            threshold,
            PASS,
            0.0,
            "居民分散，豁免下限" if t.zh else "sparse area: minimum waived",
        )
    return value, threshold, PASS, 0.0, t.ok()


def required(
    t: Table, rule: Rule, value: float, need: float, zh: str, en: str, unit: str
) -> Finding:
    """A value that must reach ``need``; a shortfall worded by ``zh`` / ``en`` (``{gap}``)."""
    threshold = "" if math.isnan(need) else f"≥{fmt(need)}{unit}"
    if math.isnan(value) or math.isnan(need):
        return value, threshold, NA, NAN, t.not_assessed(rule)
    gap = max(need - value, 0.0)
    if value >= need - 1e-9:
        return value, threshold, PASS, gap, t.ok()
    return value, threshold, FAIL, gap, (zh if t.zh else en).format(gap=fmt(gap))


def coordinators_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """One coordinator per ``per`` households begun, at least ``min_per_unit``."""
    h = number(row.get("households"))
    p = rule.params
    need = NAN if math.isnan(h) else max(float(p.get("min_per_unit", 1)), math.ceil(h / p["per"]))
    return required(
        t,
        rule,
        number(row.get("coordinators")),
        float(need),
        "需增配 {gap} 名协理员",
        "{gap} more coordinator(s) needed",
        "人",
    )


def staff_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """``base`` staff, one more per full ``step`` households above ``above``; at most ``max``."""
    p = rule.params
    h = number(row.get("households"))
    need = (
        NAN if math.isnan(h) else p["base"] + math.floor(max(h - p["above"], 0) / p["step"] + 1e-9)
    )
    value, threshold, status, gap, message = required(
        t,
        rule,
        number(row.get("staff")),
        float(need),
        "需增配 {gap} 名专职工作人员",
        "{gap} more staff needed",
        "人",
    )
    if "max" not in p:
        return value, threshold, status, gap, message
    threshold += f"，≤{p['max']}人"
    if value > p["max"]:
        cap = f"超出编制上限 {p['max']} 人" if t.zh else f"above the cap of {p['max']}"
        return value, threshold, FAIL, value - p["max"], cap
    return value, threshold, status, gap, message


def posts_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """``base`` posts plus each term's (``every`` N: per full N; ``above`` N: ``add`` beyond N);
    ``may`` terms only raise what the threshold says is allowed."""
    p = rule.params
    least = allowed = float(p.get("base", 0))
    for term in p.get("terms", ()):
        count = number(row.get(term["count"]))
        if "every" in term:
            add = math.floor(count / term["every"] + 1e-9) if not math.isnan(count) else NAN
        else:
            add = float(term.get("add", 1)) if count > term["above"] + 1e-9 else 0.0
            add = NAN if math.isnan(count) else add
        allowed += add
        if not term.get("may", False):
            least += add
    value, threshold, status, gap, message = required(
        t,
        rule,
        number(row.get(p["staff"])),
        least,
        "需增配 {gap} 人",
        "{gap} more staff needed",
        "人",
    )
    if threshold and not math.isnan(allowed) and allowed > least + 1e-9:
        threshold += f"（可配至{fmt(allowed)}人）" if t.zh else f" (up to {fmt(allowed)} allowed)"
    return value, threshold, status, gap, message


def floor_area_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """Service floor area ≥ max(``min_total``, ``per_100`` m² per 100 households)."""
    p = rule.params
    h = number(row.get("households"))
    need = NAN if math.isnan(h) else max(float(p.get("min_total", 0)), p["per_100"] * h / 100.0)
    column = f"{AREA_MEASURES[p.get('area_measure', 'gross')]}:{rule.id}"
    if column not in t.columns:
        column = p.get("attribute", column)
    return required(
        t,
        rule,
        number(row.get(column)),
        need,
        "服务用房缺 {gap} m²",
        "service floor area short by {gap} m²",
        "m²",
    )


def facilities_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """Every required facility type present in the unit."""
    need = list(rule.params["required"])
    threshold = f"{len(need)}/{len(need)}"
    have = row.get("facility_types")
    if missing(have):
        return NAN, threshold, NA, NAN, t.not_assessed(rule)
    lacking = [x for x in need if x not in set(have)]
    if not lacking:
        return float(len(need)), threshold, PASS, 0.0, t.ok()
    names = ("、" if t.zh else ", ").join(type_label(x, lang=t.lang) for x in lacking)
    message = f"缺少 {names}" if t.zh else f"missing {names}"
    return float(len(need) - len(lacking)), threshold, FAIL, float(len(lacking)), message


def ratio_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """``numerator`` / ``denominator`` × ``scale`` as a range rule (a share in % when unscaled)."""
    p = rule.params
    num, den = number(row.get(p["numerator"])), number(row.get(p["denominator"]))
    ratio = NAN if math.isnan(den) or den <= 0 else num / den * float(p.get("scale", 1))
    unit = rule.unit or ("%" if p.get("scale", 1) == 1 else "")
    bounds = {k: p[k] for k in ("min", "max") if k in p}
    shadow = replace(rule, kind="range", unit=unit, params={"metric": "ratio", **bounds})
    found = range_rule(t, shadow, {"ratio": ratio})
    if found[2] == NA:
        return (*found[:4], t.not_assessed(rule))
    return found


def coverage_rule(t: Table, rule: Rule, row: dict) -> Finding:
    """Share of households within the radius ≥ ``min_share``; without a network, judged by the
    straight-line upper bound where even that falls short."""
    p, zh = rule.params, t.zh
    need = float(p.get("min_share", 1.0))
    share = number(row.get(f"coverage:{rule.id}"))
    bound = number(row.get(f"coverage_bound:{rule.id}")) if math.isnan(share) else NAN
    total = number(row.get("households"))
    if "radius_m" in p:
        metres, how = f"{round(float(p['radius_m']), 2):g} m", ""
    else:
        minutes, speed = float(p["minutes"]), float(p.get("speed_kmh", 4.8))
        metres = f"{round(minutes * speed * 1000.0 / 60.0, 2):g} m"
        how = (
            f"按 {minutes:g} 分钟 × {speed:g} km/h 折算"
            if zh
            else f"{minutes:g} min at {speed:g} km/h"
        )
    walk = p.get("mode", "straight") == "network"
    mode = ("步行" if walk else "直线") if zh else ("walking" if walk else "straight-line")
    how = (("，" if zh else ", ") + how) if how else ""
    need_text = pct(need)
    threshold = (
        f"≥{need_text}（{mode} {metres}{how}）" if zh else f"≥{need_text} ({mode} {metres}{how})"
    )

    def gap_to(reached: float) -> float:
        return max(math.ceil(max(need * total - reached, 0) - 1e-9), 0)

    if not math.isnan(share):
        covered = number(row.get(f"covered:{rule.id}"))
        gap = float(gap_to(covered)) if not (math.isnan(total) or math.isnan(covered)) else NAN
        if share >= need - 1e-12:
            return share, threshold, PASS, gap, t.ok()
        beyond = fmt(total - covered)
        label = type_label(p["facility_type"], lang=t.lang)
        if beyond and zh:
            return share, threshold, FAIL, gap, f"{beyond} 户在{label}{mode} {metres} 范围外"
        if beyond:
            return (
                share,
                threshold,
                FAIL,
                gap,
                f"{beyond} households beyond {metres} ({mode}) of a {label}",
            )
        return share, threshold, FAIL, gap, ""
    if math.isnan(bound):
        return NAN, threshold, NA, NAN, coverage_not_assessed(t, rule)
    b, needed = share_text(bound, need), share_text(need, need)
    if bound >= need - 1e-12:  # the bound reaches the share: a walk may or may not
        if zh:
            return (
                bound,
                threshold,
                NA,
                NAN,
                f"未评估：无路网；直线距离上限 {b}（步行覆盖率不会更高）",
            )
        return (
            bound,
            threshold,
            NA,
            NAN,
            (
                f"not assessed: no network; straight-line upper bound {b} (the walking share cannot "
                "be higher)"
            ),
        )
    covered = number(row.get(f"covered_bound:{rule.id}"))
    gap = float(gap_to(covered)) if not (math.isnan(total) or math.isnan(covered)) else NAN
    if zh:
        message = (
            f"无路网；直线距离上限 {b}（步行覆盖率不会更高），低于 {needed}；"
            f"至少还需覆盖 {fmt(gap)} 户（按上限计）"
        )
    else:
        message = (
            f"no network; straight-line upper bound {b} (the walking share cannot be higher), "
            f"below the required {needed}; at least {fmt(gap)} more households to cover (gap "
            "from the bound)"
        )
    return bound, threshold, FAIL, gap, message


def coverage_not_assessed(t: Table, rule: Rule) -> str:
    if not any(str(c).startswith("coverage:") for c in t.columns):
        if t.zh:
            return "未评估：未计算覆盖率（缺少住户、设施或路网数据）"
        return "not assessed: coverage not computed (households, facilities or network missing)"
    if f"coverage:{rule.id}" not in t.columns:
        return t.not_assessed(rule)
    if t.zh:
        return "未评估：该单元无住户或无路网数据"
    return "not assessed: no households (or no network) in this unit"


KINDS = {
    "range": range_rule,
    "coordinators": coordinators_rule,
    "staff": staff_rule,
    "posts": posts_rule,
    "floor_area": floor_area_rule,
    "facilities": facilities_rule,
    "ratio": ratio_rule,
    "coverage": coverage_rule,
}


# --------------------------------------------------------------------------- variants
def variant_key(by: str, value: object) -> str | None:
    """The variant a unit's ``by`` value selects: 城市/农村 for ``type``, ``true``/``false``."""
    if by == "type":
        return community_type(pd.Series([value], dtype=object))[0]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if missing(value) else str(value)


def with_variant(rule: Rule, name: str) -> Rule:
    base = {k: v for k, v in rule.params.items() if k not in ("by", "variants")}
    own = ("label_zh", "label_en", "applies")
    fields = {k: v for k, v in rule.params["variants"][name].items() if k not in own}
    return replace(rule, params={**base, **fields})


def variants_rule(t: Table, rule: Rule, i: int) -> Finding:
    """The rule with the fields of the unit's variant; not assessed where the clause does not
    bind that variant, or where the unit's variant is unknown and the variants differ."""
    by, variants = rule.params["by"], rule.params["variants"]
    key = variant_key(by, t.rows[i].get(by))
    evaluate = KINDS[rule.kind]
    if key in variants:
        fields = variants[key]
        label = fields.get("label_zh" if t.zh else "label_en", key)
        if fields.get("applies", True) is False:
            level = "communities" if rule.level == "community" else "grids"
            why = f"不适用：该条不约束{label}" if t.zh else f"not applicable to {label} {level}"
            return NAN, "—", NA, NAN, why
        value, threshold, status, gap, message = evaluate(t, with_variant(rule, key), t.rows[i])
        suffix = f"（{label}）" if t.zh else f" ({label})"
        return value, threshold + suffix, status, gap, message
    params = [
        {k: v for k, v in f.items() if k not in ("label_zh", "label_en")} for f in variants.values()
    ]
    if all(x == params[0] for x in params):  # one threshold for every variant
        return evaluate(t, with_variant(rule, next(iter(variants))), t.rows[i])
    texts = []
    for name, fields in variants.items():
        if fields.get("applies", True) is not False:
            label = fields.get("label_zh" if t.zh else "label_en", name)
            first = evaluate(t, with_variant(rule, name), t.rows[0])[1]
            texts.append(first + (f"（{label}）" if t.zh else f" ({label})"))
    raw = t.rows[i].get(by)
    text = "" if missing(raw) else str(raw).strip()
    what = "社区类型（城市/农村）" if by == "type" else t.label(by)
    if not text:
        why = (
            f"未评估：缺少{what}，各类型标准不同"
            if t.zh
            else f"not assessed: {by} missing and the threshold differs by {by}"
        )
    elif t.zh:
        why = f"未评估：{what}的值“{text}”无法识别，各类型标准不同"
    else:
        why = f"not assessed: {by} {text!r} not recognised and the threshold differs by {by}"
    return NAN, " / ".join(texts), NA, NAN, why


# --------------------------------------------------------------------------- findings
def findings(units: pd.DataFrame, profile: Any, *, level: str, lang: str = "zh") -> pd.DataFrame:
    """Every rule of ``profile`` at ``level`` on every unit: rules in profile order, units in
    table order within each rule, columns :data:`gridmap.rules.FINDING_COLUMNS`."""
    profile = load_profile(profile)
    t = Table(units, lang)
    names = units["name"] if "name" in units.columns else units.index
    rows = []
    for rule in profile.rules:
        if rule.level != level:
            continue
        for i, (uid, name) in enumerate(zip(units.index, names, strict=True)):
            if "variants" in rule.params:
                value, threshold, status, gap, message = variants_rule(t, rule, i)
            else:
                value, threshold, status, gap, message = KINDS[rule.kind](t, rule, t.rows[i])
            rows.append(
                [level, str(uid), str(name), rule.id, value, threshold, status, gap, message]
                + [rule.source, rule.severity, rule.title(lang)]
            )
    if not rows:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    out = pd.DataFrame(
        {c: list(col) for c, col in zip(FINDING_COLUMNS, zip(*rows, strict=True), strict=True)}
    )
    return out.astype({"value": "float64", "gap": "float64"})
