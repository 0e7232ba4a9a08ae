"""Rule profiles (TOML, with citations) and their evaluation into findings.

A profile is a declarative file in ``gridmap/profiles/`` (or any path) with a
``[profile]`` table and ``[[rules]]``. ``extends = "national"`` inherits the
parent's rules; a child rule with the same ``id`` replaces the parent's and
``disable = [ids]`` drops parent rules.

Rule kinds and their fields:

``range``
    ``metric``, ``min`` and/or ``max``; ``exempt_min_if`` names a flag column
    (e.g. ``sparse``, 居民分散) that exempts a unit from the minimum.
``coordinators``
    ``per``, ``min_per_unit``: required = max(min_per_unit, ceil(households / per)),
    compared with ``coordinators``.
``staff``
    ``base``, ``above``, ``step``: required = base + ceil(max(0, households - above) / step),
    compared with ``staff``; optional ``max``.
``floor_area``
    ``per_100``, ``min_total``, ``facility_types``: required = max(min_total,
    per_100 * households / 100), compared with the 建筑面积 of the community's
    facilities of those types; without a facilities layer, with the column named
    by ``attribute`` (e.g. ``floor_area_m2``, 服务用房面积) when the rule has one.
``facilities``
    ``required``: facility type keys that must be present.
``ratio``
    ``numerator``, ``denominator``, ``scale`` (default 1), ``min`` and/or ``max``.
``coverage``
    ``facility_type``, ``radius_m`` (or ``minutes`` with optional ``speed_kmh``,
    default 4.8 km/h), ``mode`` = ``"straight"`` | ``"network"`` (default
    straight), ``min_share`` (default 1.0): the share of the unit's households
    within the radius of a facility of that type. Evaluated on the unit column
    ``coverage:{rule id}`` that :func:`gridmap.check` fills (with
    ``covered:{rule id}`` households); not assessed without it.

A rule whose input is missing (no column, or a missing value for that unit) is
``not_assessed`` — never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap._toml import tomllib
from gridmap.facilities import type_label

__all__ = [
    "Rule",
    "Profile",
    "SizeBand",
    "list_profiles",
    "load_profile",
    "evaluate",
    "FINDING_COLUMNS",
    "PASS",
    "FAIL",
    "NOT_ASSESSED",
    "coverage_radius",
    "exempt_flags",
    "required_coordinators",
]

PASS, FAIL, NOT_ASSESSED = "pass", "fail", "not_assessed"
FINDING_COLUMNS = [
    "level", "unit_id", "unit_name", "rule_id", "value", "threshold", "status", "gap",
    "message", "source", "severity", "rule_title",
]
KINDS = ("range", "coordinators", "staff", "floor_area", "facilities", "ratio", "coverage")
_COMMON = ("id", "level", "kind", "title_zh", "title_en", "source")


@dataclass(frozen=True)
class Rule:
    """One rule of a profile; ``params`` holds the kind-specific fields."""

    id: str
    level: str
    kind: str
    title_zh: str
    title_en: str
    source: str
    severity: str = "error"
    unit: str = ""
    params: dict = field(default_factory=dict)

    def title(self, lang: str = "zh") -> str:
        return self.title_en if lang == "en" else self.title_zh

    def inputs(self) -> tuple[str, ...]:
        """The unit columns this rule reads (for 'not assessed' reasons)."""
        p = self.params
        return {
            "range": (p.get("metric", ""),),
            "coordinators": ("households", "coordinators"),
            "staff": ("households", "staff"),
            "floor_area": ("households", p.get("attribute", "facility_types")),
            "facilities": ("facility_types",),
            "ratio": (p.get("numerator", ""), p.get("denominator", "")),
            "coverage": (f"coverage:{self.id}",),
        }[self.kind]


@dataclass(frozen=True)
class Profile:
    """A named, ordered set of rules."""

    id: str
    title_zh: str
    title_en: str
    rules: tuple[Rule, ...]
    description_zh: str = ""
    description_en: str = ""
    path: str = ""
    extends: str = ""

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"profile {self.id!r} has no rule {rule_id!r}; rules: {[r.id for r in self.rules]}")

    def first(self, kind: str, level: str) -> Rule | None:
        return next((r for r in self.rules if r.kind == kind and r.level == level), None)

    def size_band(self) -> SizeBand | None:
        """The community household band (the ``community.size`` rule, else the first
        community ``range`` rule on ``households``); None when the profile has none.

        The one source of the band for plans, the rebalancer, reports and the dashboard.

        Examples
        --------
        >>> load_profile("hangzhou-2008").size_band()
        SizeBand(min=1500, max=3000, exempt_min_if=None, rule_id='community.size')
        """
        ranges = [r for r in self.rules if r.level == "community" and r.kind == "range"
                  and r.params.get("metric") == "households"]
        rule = next((r for r in ranges if r.id == "community.size"), ranges[0] if ranges else None)
        if rule is None:
            return None
        p = rule.params
        return SizeBand(min=p.get("min"), max=p.get("max"), exempt_min_if=p.get("exempt_min_if"), rule_id=rule.id)


    def with_band(self, *, min: float | None = None, max: float | None = None) -> Profile:  # noqa: A002
        """A copy whose band rule (:meth:`size_band`) has ``min`` and/or ``max`` replaced: an
        explicit override (e.g. ``gridmap rebalance --min``) that the rule, the KPIs and the
        solver all see. The copy's id says so (``national[1200–3000]``).

        Examples
        --------
        >>> p = load_profile("national").with_band(min=1200)
        >>> p.id, p.size_band().min, p.rule("community.size").params["min"]
        ('national[1200–3000]', 1200, 1200)
        """
        band = self.size_band()
        if band is None:
            raise ValueError(f"profile {self.id!r} has no household band to override")
        rule = self.rule(band.rule_id)
        params = dict(rule.params)
        if min is not None:
            params["min"] = min
        if max is not None:
            params["max"] = max
        rules = tuple(replace(rule, params=params) if r.id == rule.id else r for r in self.rules)
        return replace(self, id=f"{self.id}[{params.get('min')}–{params.get('max')}]", rules=rules)


@dataclass(frozen=True)
class SizeBand:
    """A household band ``min``–``max`` 户 (either may be None) with its minimum exemption flag.

    :meth:`classify` gives ``pass`` / ``too_small`` / ``too_large`` / ``not_assessed``
    with the same comparisons as the profile's range rule.
    """

    min: float | None
    max: float | None
    exempt_min_if: str | None = None
    rule_id: str = "community.size"

    @property
    def lower(self) -> int:
        """The minimum as an integer (0 when there is none), for solvers."""
        return 0 if self.min is None else int(math.ceil(self.min))

    @property
    def upper(self) -> int:
        """The maximum as an integer (a very large number when there is none), for solvers."""
        return 2**62 if self.max is None else int(math.floor(self.max))

    def label(self, lang: str = "zh") -> str:
        """The band as text, e.g. ``1,000–3,000 户``.

        Examples
        --------
        >>> SizeBand(1500, 3000).label(), SizeBand(1000, None).label("en")
        ('1,500–3,000 户', '≥1,000 households')
        """
        unit = " 户" if lang == "zh" else " households"
        if self.min is not None and self.max is not None:
            return f"{_fmt(self.min)}–{_fmt(self.max)}{unit}"
        if self.min is not None:
            return f"≥{_fmt(self.min)}{unit}"
        return f"≤{_fmt(self.max)}{unit}" if self.max is not None else ""

    def classify(self, households, exempt=None) -> np.ndarray:
        """Status per unit: ``too_small`` (below the minimum and not exempt), ``too_large``,
        ``pass``, or ``not_assessed`` where households is missing.

        Examples
        --------
        >>> SizeBand(1000, 3000).classify([999, 1000, 3001, float("nan")]).tolist()
        ['too_small', 'pass', 'too_large', 'not_assessed']
        """
        h = np.asarray(households, dtype="float64")
        ex = np.zeros(len(h), dtype=bool) if exempt is None else np.asarray(exempt, dtype=bool)
        small = (h < self.min - 1e-9) & ~ex if self.min is not None else np.zeros(len(h), dtype=bool)
        large = h > self.max + 1e-9 if self.max is not None else np.zeros(len(h), dtype=bool)
        return np.where(np.isnan(h), NOT_ASSESSED, np.where(small, "too_small", np.where(large, "too_large", PASS)))


def _builtin_dir():
    return files("gridmap").joinpath("profiles")


def list_profiles() -> list[str]:
    """Names of the built-in profiles.

    Examples
    --------
    >>> "national" in list_profiles()
    True
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str | Path) -> tuple[dict, str]:
    text_path = str(name_or_path)
    if text_path.endswith(".toml") or Path(text_path).exists():
        path = Path(text_path)
        if not path.exists():
            raise ValueError(f"规则文件不存在 / profile file not found: {path}")
        return tomllib.loads(path.read_text(encoding="utf-8")), str(path)
    res = _builtin_dir().joinpath(f"{text_path}.toml")
    if not res.is_file():
        raise ValueError(
            f"未知的规则配置 {text_path!r} / unknown profile; built-in profiles: {', '.join(list_profiles())}; "
            "or pass the path of a .toml file"
        )
    return tomllib.loads(res.read_text(encoding="utf-8")), f"gridmap/profiles/{text_path}.toml"


def _rule(data: dict, where: str) -> Rule:
    missing = [k for k in _COMMON if not data.get(k)]
    if missing:
        raise ValueError(f"{where}: rule {data.get('id', '?')!r} lacks {missing} (every rule needs {list(_COMMON)})")
    if data["kind"] not in KINDS:
        raise ValueError(f"{where}: rule {data['id']!r} has unknown kind {data['kind']!r}; kinds: {list(KINDS)}")
    if data["level"] not in ("community", "grid"):
        raise ValueError(f"{where}: rule {data['id']!r} level must be 'community' or 'grid'")
    params = {k: v for k, v in data.items() if k not in (*_COMMON, "severity", "unit")}
    needs = {
        "range": ("metric",), "coordinators": ("per",), "staff": ("base", "above", "step"),
        "floor_area": ("per_100",), "facilities": ("required",), "ratio": ("numerator", "denominator"),
        "coverage": ("facility_type",),
    }[data["kind"]]
    lacking = [k for k in needs if k not in params]
    if lacking:
        raise ValueError(f"{where}: rule {data['id']!r} of kind {data['kind']!r} lacks {lacking}")
    if data["kind"] in ("range", "ratio") and "min" not in params and "max" not in params:
        raise ValueError(f"{where}: rule {data['id']!r} needs min and/or max")
    if data["kind"] == "coverage":
        if ("radius_m" in params) == ("minutes" in params):
            raise ValueError(f"{where}: coverage rule {data['id']!r} needs radius_m or minutes (one of them)")
        if params.get("mode", "straight") not in ("straight", "network"):
            raise ValueError(f"{where}: coverage rule {data['id']!r}: mode must be 'straight' or 'network', not {params['mode']!r}")
        share = params.get("min_share", 1.0)
        if not 0 <= share <= 1:
            raise ValueError(f"{where}: coverage rule {data['id']!r}: min_share must be within 0–1, got {share}")
        try:
            radius = coverage_radius(Rule(data["id"], data["level"], "coverage", "", "", "", params=params))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: coverage rule {data['id']!r}: {exc}") from exc
        if not radius > 0:
            raise ValueError(f"{where}: coverage rule {data['id']!r}: the radius must be positive")
    return Rule(
        id=data["id"], level=data["level"], kind=data["kind"], title_zh=data["title_zh"],
        title_en=data["title_en"], source=data["source"], severity=data.get("severity", "error"),
        unit=data.get("unit", ""), params=params,
    )


def load_profile(name_or_path: str | Path | Profile = "national", *, _seen: tuple = ()) -> Profile:
    """Load a built-in profile by name or a user's TOML file, resolving ``extends``.

    Examples
    --------
    >>> p = load_profile("national")
    >>> p.rule("community.size").params["max"]
    3000
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    data, where = _read(name_or_path)
    head = data.get("profile", {})
    pid = head.get("id") or Path(where).stem
    if pid in _seen:
        raise ValueError(f"profile {pid!r}: circular extends ({' -> '.join((*_seen, pid))})")
    rules: list[Rule] = []
    parent = head.get("extends")
    if parent:
        rules = list(load_profile(parent, _seen=(*_seen, pid)).rules)
    disabled = set(head.get("disable", ()))
    unknown = disabled - {r.id for r in rules}
    if unknown:
        raise ValueError(f"{where}: disable names rules the parent does not have: {sorted(unknown)}")
    rules = [r for r in rules if r.id not in disabled]
    for i, item in enumerate(data.get("rules", [])):
        rule = _rule(item, f"{where} [[rules]] #{i + 1}")
        pos = next((j for j, r in enumerate(rules) if r.id == rule.id), None)
        if pos is None:
            rules.append(rule)
        else:
            rules[pos] = rule
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{where}: duplicate rule ids {sorted({i for i in ids if ids.count(i) > 1})}")
    return Profile(
        id=pid, title_zh=head.get("title_zh", pid), title_en=head.get("title_en", pid),
        rules=tuple(rules), description_zh=head.get("description_zh", ""),
        description_en=head.get("description_en", ""), path=where, extends=parent or "",
    )


# --------------------------------------------------------------------------- evaluation


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}"
    return f"{x:,.1f}"


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


@dataclass
class _Eval:
    value: pd.Series
    threshold: pd.Series  # text
    status: pd.Series
    gap: pd.Series
    message: pd.Series


def _column(units: pd.DataFrame, name: str) -> pd.Series:
    if name in units.columns:
        return pd.to_numeric(units[name], errors="coerce").astype("float64")
    return pd.Series(np.nan, index=units.index, dtype="float64")


def required_coordinators(households: pd.Series, rule: Rule) -> pd.Series:
    """max(min_per_unit, ceil(households / per)); NaN where households is missing.

    Examples
    --------
    >>> r = load_profile("national").rule("grid.coordinators")
    >>> required_coordinators(pd.Series([0, 300, 301, 900.0]), r).tolist()
    [1.0, 1.0, 2.0, 3.0]
    """
    per = float(rule.params["per"])
    floor = float(rule.params.get("min_per_unit", 1))
    return np.maximum(floor, np.ceil(households / per)).where(households.notna())


def _compare(value, required, *, lower=True):
    """status/gap for value ≥ required (lower bound)."""
    known = value.notna() & required.notna()
    gap = (required - value).clip(lower=0).where(known)
    status = pd.Series(np.where(~known, NOT_ASSESSED, np.where(value >= required - 1e-9, PASS, FAIL)), index=value.index)
    return status, gap


def _messages(status: pd.Series, cases: list[tuple[pd.Series, pd.Series | str]], na_msg: str, ok_msg: str) -> pd.Series:
    """Per-row message: the first matching case, else compliant / not assessed."""
    out = pd.Series(ok_msg, index=status.index, dtype=object)
    out[status.to_numpy() == NOT_ASSESSED] = na_msg
    for mask, text in reversed(cases):
        m = mask.fillna(False).to_numpy(dtype=bool) & (status.to_numpy() != NOT_ASSESSED)
        if m.any():
            out[m] = text[m] if isinstance(text, pd.Series) else text
    return out


def exempt_flags(units: pd.DataFrame, column: str | None) -> pd.Series:
    """The minimum-exemption flag per unit (e.g. ``sparse`` 居民分散): True only where the
    column says so; a missing column or value is not an exemption.

    The range rule and :meth:`SizeBand.classify` callers read the flag through this one function.

    Examples
    --------
    >>> exempt_flags(pd.DataFrame({"sparse": [True, None, 0]}), "sparse").tolist()
    [True, False, False]
    """
    if not column or column not in units.columns:
        return pd.Series(False, index=units.index, dtype=bool)
    flag = units[column]
    if flag.dtype == object:
        flag = flag.map(lambda v: bool(v) if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating))
                        and not (isinstance(v, float) and math.isnan(v)) else False)
    return flag.fillna(False).astype(bool)


def _eval_range(units, rule: Rule, lang: str) -> _Eval:
    p = rule.params
    value = _column(units, p["metric"])
    lo, hi = p.get("min"), p.get("max")
    exempt = exempt_flags(units, p.get("exempt_min_if"))
    pct = rule.unit == "%"
    f = _pct if pct else _fmt
    unit = "" if pct else rule.unit
    none = pd.Series(False, index=units.index)
    below = value < lo - 1e-9 if lo is not None else none
    under = below & ~exempt
    over = value > hi + 1e-9 if hi is not None else none
    status = pd.Series(np.where(value.isna(), NOT_ASSESSED, np.where(under | over, FAIL, PASS)), index=units.index)
    gap = pd.Series(0.0, index=units.index)
    if lo is not None:
        gap = gap.where(~under, lo - value)
    if hi is not None:
        gap = gap.where(~over, value - hi)
    gap = gap.where(value.notna())
    if lo is not None and hi is not None:
        threshold = f"{f(lo)}–{f(hi)}{unit}"
    elif lo is not None:
        threshold = f"≥{f(lo)}{unit}"
    else:
        threshold = f"≤{f(hi)}{unit}"
    zh = lang == "zh"
    gap_text = gap.map(lambda g: f"{f(g)} {unit}".rstrip() if pd.notna(g) else "").astype(object)
    msg = _messages(status, [
        (under, ("低于下限 " if zh else "below minimum by ") + gap_text),
        (over, ("超出上限 " if zh else "above maximum by ") + gap_text),
        (below & exempt, "居民分散，豁免下限" if zh else "sparse area: minimum waived"),
    ], _not_assessed_msg(rule, units, lang), "符合" if zh else "compliant")
    return _Eval(value, pd.Series(threshold, index=units.index), status, gap, msg)


def _eval_required(units, rule: Rule, value, required, lang, *, zh_short, en_short, unit) -> _Eval:
    status, gap = _compare(value, required)
    fail = status == FAIL
    template = zh_short if lang == "zh" else en_short
    text = gap.map(lambda g: template.format(gap=_fmt(g), unit=unit) if pd.notna(g) else "")
    msg = _messages(status, [(fail, text)], _not_assessed_msg(rule, units, lang), "符合" if lang == "zh" else "compliant")
    threshold = required.map(lambda r: f"≥{_fmt(r)}{unit}" if pd.notna(r) else "")
    return _Eval(value, threshold, status, gap, msg)


def _eval_coordinators(units, rule, lang):
    req = required_coordinators(_column(units, "households"), rule)
    return _eval_required(units, rule, _column(units, "coordinators"), req, lang,
                          zh_short="需增配 {gap} 名协理员", en_short="{gap} more coordinator(s) needed", unit="人")


def _eval_staff(units, rule, lang):
    p = rule.params
    h = _column(units, "households")
    req = (p["base"] + np.ceil((h - p["above"]).clip(lower=0) / p["step"])).where(h.notna())
    ev = _eval_required(units, rule, _column(units, "staff"), req, lang,
                        zh_short="需增配 {gap} 名专职工作人员", en_short="{gap} more staff needed", unit="人")
    if "max" in p:
        over = ev.value > p["max"]
        ev.status = ev.status.where(~over, FAIL)
        ev.gap = ev.gap.where(~over, ev.value - p["max"])
        ev.message = ev.message.where(~over, f"超出编制上限 {p['max']} 人" if lang == "zh" else f"above the cap of {p['max']}")
        ev.threshold = ev.threshold + f"，≤{p['max']}人"
    return ev


def _eval_floor_area(units, rule, lang):
    p = rule.params
    h = _column(units, "households")
    req = np.maximum(float(p.get("min_total", 0)), p["per_100"] * h / 100.0).where(h.notna())
    col = f"floor_area_m2:{rule.id}"
    if col not in units.columns:
        # no facilities layer: only a rule that names an attribute column falls back to it
        col = p.get("attribute", col)
    value = _column(units, col)
    return _eval_required(units, rule, value, req, lang,
                          zh_short="服务用房缺 {gap} m²", en_short="service floor area short by {gap} m²", unit="m²")


def _eval_facilities(units, rule, lang):
    required = list(rule.params["required"])
    present = units["facility_types"] if "facility_types" in units.columns else pd.Series(None, index=units.index, dtype=object)
    value, status, gap, msg = [], [], [], []
    for i in units.index:
        have = present[i]
        if have is None or (isinstance(have, float) and math.isnan(have)):
            value.append(np.nan)
            status.append(NOT_ASSESSED)
            gap.append(np.nan)
            msg.append(_not_assessed_msg(rule, units, lang))
            continue
        have = set(have)
        missing = [t for t in required if t not in have]
        value.append(float(len(required) - len(missing)))
        status.append(FAIL if missing else PASS)
        gap.append(float(len(missing)))
        if missing:
            names = "、".join(type_label(t, lang=lang) for t in missing) if lang == "zh" else ", ".join(type_label(t, lang="en") for t in missing)
            msg.append(f"缺少 {names}" if lang == "zh" else f"missing {names}")
        else:
            msg.append("符合" if lang == "zh" else "compliant")
    threshold = f"{len(required)}/{len(required)}"
    return _Eval(pd.Series(value, index=units.index), pd.Series(threshold, index=units.index),
                 pd.Series(status, index=units.index), pd.Series(gap, index=units.index), pd.Series(msg, index=units.index))


def _eval_ratio(units, rule, lang):
    p = rule.params
    num, den = _column(units, p["numerator"]), _column(units, p["denominator"])
    value = (num / den.where(den > 0)) * float(p.get("scale", 1))
    shadow = Rule(rule.id, rule.level, "range", rule.title_zh, rule.title_en, rule.source, rule.severity,
                  rule.unit or ("%" if p.get("scale", 1) == 1 else ""),
                  {"metric": "__ratio__", **{k: p[k] for k in ("min", "max") if k in p}})
    ev = _eval_range(units.assign(__ratio__=value), shadow, lang)
    ev.message = ev.message.where(ev.status != NOT_ASSESSED, _not_assessed_msg(rule, units, lang))
    return ev


def coverage_radius(rule: Rule) -> float:
    """The radius in metres of a coverage rule: ``radius_m`` as written, or ``minutes`` × ``speed_kmh``
    (default 4.8 km/h).

    The conversion from minutes is the rule's own, not GB 50180-2018's: that standard
    gives its life circles as walking distances (5 minutes ≈ 300 m, 10 minutes ≈
    500 m, 15 minutes 800–1000 m), so 10 minutes at 4.8 km/h (800 m) is not its
    10-minute circle. Findings state how the radius was obtained (see :func:`radius_text`).

    Examples
    --------
    >>> coverage_radius(Rule("x", "community", "coverage", "", "", "", params={"facility_type": "market", "radius_m": 500}))
    500.0
    >>> coverage_radius(Rule("x", "community", "coverage", "", "", "", params={"facility_type": "market", "minutes": 10}))
    800.0
    """
    p = rule.params
    if "radius_m" in p:
        return float(p["radius_m"])
    speed = float(p.get("speed_kmh", 4.8))
    if speed <= 0:
        raise ValueError(f"speed_kmh must be positive, got {speed}")
    return float(p["minutes"]) * speed * 1000.0 / 60.0


def radius_text(rule: Rule, lang: str = "zh") -> str:
    """The radius a coverage rule uses, exactly, and how it was obtained.

    Examples
    --------
    >>> radius_text(Rule("x", "community", "coverage", "", "", "", params={"facility_type": "market", "radius_m": 500}))
    '500 m'
    >>> radius_text(Rule("x", "community", "coverage", "", "", "", params={"facility_type": "market", "minutes": 10}))
    '800 m（按 10 分钟 × 4.8 km/h 折算）'
    >>> radius_text(Rule("x", "community", "coverage", "", "", "", params={"facility_type": "m", "minutes": 7, "speed_kmh": 4.5}), "en")
    '525 m (7 min at 4.5 km/h)'
    """
    metres, how = _radius_parts(rule, lang)
    if not how:
        return metres
    return f"{metres}（{how}）" if lang == "zh" else f"{metres} ({how})"


def _radius_parts(rule: Rule, lang: str) -> tuple[str, str]:
    """(``"800 m"``, ``"按 10 分钟 × 4.8 km/h 折算"``): the radius and, when converted from minutes, how."""
    metres = f"{round(coverage_radius(rule), 2):g} m"
    p = rule.params
    if "radius_m" in p:
        return metres, ""
    minutes, speed = f"{float(p['minutes']):g}", f"{float(p.get('speed_kmh', 4.8)):g}"
    return metres, (f"按 {minutes} 分钟 × {speed} km/h 折算" if lang == "zh" else f"{minutes} min at {speed} km/h")


def _share_text(x: float, need: float) -> str:
    """A share as a percentage with enough decimals not to look equal to ``need`` when it is not (99.6 % ≠ 100 %)."""
    for digits in range(4):
        text = f"{x * 100:.{digits}f}%"
        if abs(x - need) < 1e-12 or text != f"{need * 100:.{digits}f}%":
            return text
    return text


def _eval_coverage(units, rule, lang):
    """Share of households covered ≥ ``min_share``.

    A walking rule measured without a network has no share but may have the
    straight-line upper bound ``coverage_bound:{rule id}`` (households within the
    radius in a straight line / households; a walk is never shorter): the unit
    fails when even the bound is below ``min_share`` (gap from the bound: at least
    that many households still to cover), and is not assessed otherwise; the
    finding's value is the bound in both cases.
    """
    p = rule.params
    zh = lang == "zh"
    share = _column(units, f"coverage:{rule.id}")
    covered = _column(units, f"covered:{rule.id}")
    bound = _column(units, f"coverage_bound:{rule.id}").where(share.isna())
    covered_bound = _column(units, f"covered_bound:{rule.id}").where(bound.notna())
    total = _column(units, "households")
    need = float(p.get("min_share", 1.0))
    by_bound = bound < need - 1e-12  # False where NaN
    status = pd.Series(np.where(share.notna(), np.where(share >= need - 1e-12, PASS, FAIL),
                                np.where(by_bound, FAIL, NOT_ASSESSED)), index=units.index)
    # gap: households that must still be covered to reach the share (from the bound: at least that many)
    reach = covered.where(share.notna(), covered_bound.where(by_bound))
    gap = np.ceil((need * total - reach).clip(lower=0) - 1e-9).clip(lower=0)
    mode = p.get("mode", "straight")
    how = ("步行" if mode == "network" else "直线") if zh else ("walking" if mode == "network" else "straight-line")
    metres, derived = _radius_parts(rule, lang)  # the message names the metres, the threshold how they were obtained
    label = type_label(p["facility_type"], lang=lang)
    unc = (total - covered).where(share.notna())
    text = unc.map(lambda g: (f"{_fmt(g)} 户在{label}{how} {metres} 范围外" if zh
                              else f"{_fmt(g)} households beyond {metres} ({how}) of a {label}") if pd.notna(g) else "")
    if not any(str(c).startswith("coverage:") for c in units.columns):
        na = "未评估：未计算覆盖率（缺少住户、设施或路网数据）" if zh else "not assessed: coverage not computed (households, facilities or network missing)"
    elif f"coverage:{rule.id}" not in units.columns:
        na = _not_assessed_msg(rule, units, lang)
    else:
        na = "未评估：该单元无住户或无路网数据" if zh else "not assessed: no households (or no network) in this unit"
    msg = _messages(status, [(status == FAIL, text)], na, "符合" if zh else "compliant")
    for i in np.flatnonzero(bound.notna().to_numpy()):
        b = _share_text(bound.iloc[i], need)
        if by_bound.iloc[i]:
            msg.iloc[i] = (f"无路网；直线距离上限 {b}（步行覆盖率不会更高），低于 {_share_text(need, need)}；"
                           f"至少还需覆盖 {_fmt(gap.iloc[i])} 户（按上限计）" if zh else
                           f"no network; straight-line upper bound {b} (the walking share cannot be higher), below the "
                           f"required {_share_text(need, need)}; at least {_fmt(gap.iloc[i])} more households to cover "
                           "(gap from the bound)")
        else:
            msg.iloc[i] = (f"未评估：无路网；直线距离上限 {b}（步行覆盖率不会更高）" if zh else
                           f"not assessed: no network; straight-line upper bound {b} (the walking share cannot be higher)")
    derived = ("，" if zh else ", ") + derived if derived else ""
    threshold = f"≥{_pct(need)}（{how} {metres}{derived}）" if zh else f"≥{_pct(need)} ({how} {metres}{derived})"
    return _Eval(share.where(share.notna(), bound), pd.Series(threshold, index=units.index), status,
                 gap.where(share.notna() | by_bound), msg)


def _not_assessed_msg(rule: Rule, units: pd.DataFrame, lang: str) -> str:
    cols = [c for c in rule.inputs() if c]
    absent = [c for c in cols if c not in units.columns or (c != "facility_types" and units[c].isna().all())]
    if rule.kind == "facilities" and "facility_types" not in units.columns:
        return "未评估：未提供设施图层" if lang == "zh" else "not assessed: no facilities layer"
    if absent:
        if lang == "zh":
            return "未评估：缺少数据列 " + "、".join(_column_label(c) for c in absent)
        return f"not assessed: missing column(s) {', '.join(absent)}"
    return "未评估：该单元数据缺失" if lang == "zh" else "not assessed: value missing for this unit"


def _column_label(canonical: str) -> str:
    """``health_record_rate`` -> ``居民健康档案建档率（health_record_rate）``: the Chinese name a planner's file would use."""
    from gridmap.columns import ALIASES

    for kind in ("communities", "grids", "households", "facilities"):
        names = ALIASES[kind].get(canonical)
        if names:
            zh = next((n for n in names if not n.isascii()), None)
            if zh:
                return f"{zh}（{canonical}）"
    if canonical == "facility_types":
        return "设施图层（facilities）"
    return canonical


_EVALUATORS = {
    "range": _eval_range, "coordinators": _eval_coordinators, "staff": _eval_staff,
    "floor_area": _eval_floor_area, "facilities": _eval_facilities, "ratio": _eval_ratio,
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
    names = units["name"] if "name" in units.columns else pd.Series(units.index.astype(str), index=units.index)
    for rule in profile.rules:
        if rule.level != level:
            continue
        ev = _EVALUATORS[rule.kind](units, rule, lang)
        frames.append(pd.DataFrame({
            "level": level, "unit_id": units.index.astype(str), "unit_name": names.astype(str).to_numpy(),
            "rule_id": rule.id, "value": ev.value.to_numpy(), "threshold": ev.threshold.to_numpy(),
            "status": ev.status.to_numpy(), "gap": ev.gap.to_numpy(), "message": ev.message.to_numpy(),
            "source": rule.source, "severity": rule.severity, "rule_title": rule.title(lang),
        }))
    if not frames:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.concat(frames, ignore_index=True)
