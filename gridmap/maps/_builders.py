"""One :class:`~gridmap.maps.spec.MapSpec` per map family: colours, legend, labels, subtitle.

The overview fills each community with a tint of its status colour
(:data:`gridmap.labels.STATUS_COLORS`); gap maps class the gap of the failing units
(reds: too large or an error rule, blues: too small, oranges: warnings and grids).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely

from gridmap.check import CheckResult
from gridmap.evaluation import size_status
from gridmap.facilities import type_label
from gridmap.labels import STATUS_COLORS, status_label, tint
from gridmap.maps.families import coverage_gaps, family_rule, map_families
from gridmap.maps.spec import MAX_LABELS, MapLayer, MapSpec, label_points
from gridmap.rules import Rule, SizeBand, exempt_flags

__all__ = ["build_spec", "status_fill"]

_REDS = ["#fcbba1", "#fb6a4a", "#cb181d", "#67000d"]
_BLUES = ["#c6dbef", "#6baed6", "#2171b5"]
_ORANGES = ["#fdd0a2", "#fd8d3c", "#d94801"]


def status_fill(status: str) -> str:
    """Map fill of a unit's status: a tint of its :data:`gridmap.labels.STATUS_COLORS`."""
    return tint(STATUS_COLORS.get(status, STATUS_COLORS["not_assessed"]))


def _fmt(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{digits}f}"


def _findings(result: CheckResult, rule_id: str) -> pd.DataFrame:
    f = result.findings
    return f[f["rule_id"] == rule_id].set_index("unit_id")


def _ids(units: pd.DataFrame) -> pd.Index:
    return units.index.astype(str)


def _classes(values: pd.Series, palette: list[str]) -> tuple[pd.Series, list[tuple[float, float]]]:
    """Quantile-ish class breaks (round numbers) for a positive gap series."""
    v = values.dropna()
    if not len(v):
        return pd.Series(index=values.index, dtype=object), []
    n = min(len(palette), max(1, v.nunique()))
    qs = np.unique(np.quantile(v, np.linspace(0, 1, n + 1)))
    if len(qs) < 2:
        qs = np.array([v.min(), v.max() + 1e-9])
    idx = np.clip(np.searchsorted(qs, v.to_numpy(), side="right") - 1, 0, len(qs) - 2)
    colors = pd.Series(index=values.index, dtype=object)
    colors.loc[v.index] = [palette[i] for i in idx]
    return colors, [(qs[i], qs[i + 1]) for i in range(len(qs) - 1)]


def _community_outline(result: CheckResult, spec: MapSpec) -> None:
    spec.layers.append(MapLayer(result.communities, "none", edge="#252525", width=0.9, zorder=5))


def _spec_overview(result: CheckResult) -> MapSpec:
    spec = MapSpec()
    c = result.communities
    colors = [status_fill(s) for s in c["status"]]
    spec.layers.append(MapLayer(c, colors, edge="#252525", width=0.8, zorder=2))
    if result.grids is not None:
        spec.layers.append(MapLayer(result.grids, "none", edge="#8c8c8c", width=0.2, zorder=3))
    counts = c["status"].value_counts()
    for s in ("fail", "warning", "pass", "not_assessed"):
        if counts.get(s, 0):
            spec.legend.append((f"{status_label(s)}（{counts[s]} 个社区）", status_fill(s), None))
    if result.grids is not None:
        spec.legend.append(("网格边界", "none:#8c8c8c", None))
    xy = label_points(c.geometry.to_numpy())
    order = np.argsort(-(c["status"] == "fail").to_numpy().astype(int), kind="stable")[:MAX_LABELS]
    names = c["name"].astype(str).to_numpy() if "name" in c.columns else _ids(c).to_numpy()
    spec.labels = [(xy[i, 0], xy[i, 1], names[i], c["status"].iloc[i] == "fail") for i in order]
    spec.subtitle = "按社区综合状态着色：任一强制性规则不合规即为“不合规”；仅建议性（警告）规则不合规为“仅警告项不合规”"
    return spec


def _spec_size(result: CheckResult, rule: Rule) -> MapSpec:
    spec = MapSpec()
    c = result.communities
    f = _findings(result, rule.id).reindex(_ids(c))
    hh = pd.to_numeric(c["households"], errors="coerce").to_numpy()
    p = rule.params
    band = result.profile.size_band()
    if band is None or band.rule_id != rule.id:
        band = SizeBand(p.get("min"), p.get("max"), p.get("exempt_min_if"), rule.id)
    # the size status of the one evaluation (the check's column for the profile's band)
    status = (
        (
            c["size_status"]
            if "size_status" in c.columns and band == result.profile.size_band()
            else size_status(c, band)
        )
        .astype(str)
        .to_numpy()
    )
    over, under = status == "too_large", status == "too_small"
    exempt = (
        (status == "pass")
        & exempt_flags(c, band.exempt_min_if).to_numpy()
        & (hh < (band.min or 0) - 1e-9)
    )
    colors = np.array(["#ffffff"] * len(c), dtype=object)
    colors[f["status"].to_numpy() == "not_assessed"] = status_fill("not_assessed")
    gap = pd.Series(f["gap"].to_numpy(dtype=float), index=c.index)
    if over.any():
        col, br = _classes(gap[over], _REDS[:3])
        colors[over] = col.to_numpy()
        for (a, b), color in zip(br, _REDS, strict=False):
            spec.legend.append((f"超出上限 {_fmt(a)}–{_fmt(b)} 户", color, None))
    if under.any():
        col, br = _classes(gap[under], _BLUES)
        colors[under] = col.to_numpy()
        for (a, b), color in zip(br, _BLUES, strict=False):
            spec.legend.append((f"低于下限 {_fmt(a)}–{_fmt(b)} 户", color, None))
    if exempt.any():
        colors[exempt] = "#f0f0f0"
    spec.layers.append(MapLayer(c, colors.tolist(), edge="#252525", width=0.8, zorder=2))
    if exempt.any():
        spec.layers.append(
            MapLayer(c[exempt], "none", edge="#969696", width=0.0, zorder=3, hatch="///")
        )
        spec.legend.append(("居民分散，豁免下限", "#f0f0f0", "///"))
    spec.legend.append((f"符合 {band.label()}", "#ffffff", None))
    xy = label_points(c.geometry.to_numpy())
    names = c["name"].astype(str).to_numpy()
    fail = over | under
    order = np.argsort(-np.nan_to_num(gap.to_numpy(), nan=-1) * fail, kind="stable")[:MAX_LABELS]
    spec.labels = [
        (xy[i, 0], xy[i, 1], f"{names[i]}\n{_fmt(hh[i])} 户", bool(fail[i])) for i in order
    ]
    spec.subtitle = f"标注：社区名称与户数。标准：{rule.title_zh}"
    return spec


def _gap_state(
    result: CheckResult, rule: Rule, units: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray, pd.Series, np.ndarray]:
    """Findings of the rule per unit, failing mask, gap per unit, and base colours of a gap map.

    The base colour is white, grey where the rule was not assessed.
    """
    f = _findings(result, rule.id).reindex(_ids(units))
    status = f["status"].to_numpy()
    colors = np.array(["#ffffff"] * len(units), dtype=object)
    colors[status == "not_assessed"] = status_fill("not_assessed")
    return f, status == "fail", pd.Series(f["gap"].to_numpy(dtype=float), index=units.index), colors


def _spec_grid_gap(result: CheckResult, rule: Rule) -> MapSpec:
    spec = MapSpec()
    g = result.grids
    assert g is not None  # build_spec maps grid rules only with grids
    _, fail, gap, colors = _gap_state(result, rule, g)
    unit = rule.unit or ""
    if fail.any():
        cap = gap[fail].clip(upper=3)
        pal = (
            {1: _ORANGES[0], 2: _ORANGES[1], 3: _ORANGES[2]}
            if rule.kind == "coordinators"
            else None
        )
        if pal and (cap % 1 == 0).all():
            colors[fail] = [pal[int(max(1, v))] for v in cap]
            for k in sorted({int(max(1, v)) for v in cap}):
                spec.legend.append(
                    (f"缺 {k}{'+' if k == 3 else ''} {unit}".replace("  ", " "), pal[k], None)
                )
        else:
            col, br = _classes(gap[fail], _ORANGES)
            colors[fail] = col.to_numpy()
            for (a, b), p in zip(br, _ORANGES, strict=False):
                spec.legend.append((f"差距 {_fmt(a, 1)}–{_fmt(b, 1)} {unit}", p, None))
    spec.legend.append(("符合", "#ffffff", None))
    spec.layers.append(MapLayer(g, colors.tolist(), edge="#969696", width=0.25, zorder=2))
    _community_outline(result, spec)
    spec.legend.append(("社区边界", "none:#252525", None))
    xy = label_points(g.geometry.to_numpy())
    idx = np.flatnonzero(fail)
    idx = idx[np.argsort(-gap.to_numpy()[idx], kind="stable")][:MAX_LABELS]
    short = "缺{:g}" if rule.kind == "coordinators" else "差{:g}"
    spec.labels = [(xy[i, 0], xy[i, 1], short.format(round(gap.iloc[i], 1)), True) for i in idx]
    n_fail, n = int(fail.sum()), len(g)
    spec.subtitle = f"{n_fail} / {n} 个网格不符合：{rule.title_zh}。标注：缺额（{unit or '差距'}）"
    return spec


def _spec_community_gap(result: CheckResult, rule: Rule) -> MapSpec:
    spec = MapSpec()
    c = result.communities
    f, fail, gap, colors = _gap_state(result, rule, c)
    palette = _REDS[:3] if rule.severity == "error" else _ORANGES
    unit = rule.unit or ""
    pct = unit == "%"
    if fail.any():
        col, br = _classes(gap[fail], palette)
        colors[fail] = col.to_numpy()
        for (a, b), p in zip(br, palette, strict=False):
            if rule.kind == "facilities":
                text = f"缺 {_fmt(a)}–{_fmt(b)} 项"
            elif pct:
                text = f"差距 {a * 100:.0f}–{b * 100:.0f} 个百分点"
            else:
                text = f"缺 {_fmt(a, 1)}–{_fmt(b, 1)} {unit}".rstrip()
            spec.legend.append((text, p, None))
    if (f["status"].to_numpy() == "not_assessed").any():
        spec.legend.append(("未评估（缺数据）", status_fill("not_assessed"), None))
    spec.legend.append(("符合", "#ffffff", None))
    spec.layers.append(MapLayer(c, colors.tolist(), edge="#252525", width=0.8, zorder=2))
    xy = label_points(c.geometry.to_numpy())
    names = c["name"].astype(str).to_numpy()
    msgs = f["message"].astype(str).to_numpy()
    idx = np.flatnonzero(fail)
    idx = idx[np.argsort(-gap.to_numpy()[idx], kind="stable")][:MAX_LABELS]

    def short(i: int) -> str:
        if rule.kind == "facilities":
            return f"缺{int(gap.iloc[i])}项"
        m = msgs[i]
        return m.replace("服务用房", "").replace("低于下限", "差").replace("超出上限", "超").strip()

    spec.labels = [(xy[i, 0], xy[i, 1], f"{names[i]}\n{short(int(i))}", True) for i in idx]
    spec.subtitle = f"{int(fail.sum())} / {len(c)} 个社区不符合：{rule.title_zh}"
    return spec


def _spec_coverage(result: CheckResult, key: str) -> MapSpec:
    spec = MapSpec()
    cov = result.coverage_result
    assert cov is not None and cov.gaps is not None  # coverage_gaps found the key
    cs = coverage_gaps(result)[key]
    col = f"uncovered:{key}"
    cells = cov.gaps[cov.gaps[col] > 0]
    colors, breaks = _classes(cells[col].astype(float), _REDS[:3])
    spec.layers.append(MapLayer(cells, colors.tolist(), edge="none", width=0, zorder=1))
    for (a, b), p in zip(breaks, _REDS, strict=False):
        spec.legend.append((f"半径外住户 {_fmt(a)}–{_fmt(b)} 户/格", p, None))
    spec.layers.append(MapLayer(result.communities, "none", edge="#252525", width=0.8, zorder=5))
    spec.legend.append(("社区边界", "none:#252525", None))
    fac = result.facilities
    if fac is not None and "facility_type" in fac.columns:
        sel = fac[fac["facility_type"] == cs.facility_type]
        if len(sel):
            spec.points.append(
                (
                    shapely.get_coordinates(shapely.point_on_surface(sel.geometry.to_numpy())),
                    "#08519c",
                    f"现有{type_label(cs.facility_type)}（{len(sel)} 处）",
                    22.0,
                )
            )
    total = (
        float(cov.gaps["households"].sum()) if "households" in cov.gaps.columns else float("nan")
    )
    unc = float(cells[col].sum())
    share = f"，占 {unc / total:.0%}" if total and total == total else ""
    name = type_label(cs.facility_type)
    spec.subtitle = (
        f"服务半径以外的住户 {unc:,.0f} 户{share}；"
        f"按{name}{'步行' if cs.mode == 'network' else '直线'}距离 {cs.radius_m:g} 米的"
        "服务半径统计，以蜂窝格汇总"
    )
    return spec


def build_spec(result: CheckResult, family: str) -> MapSpec:
    """The :class:`~gridmap.maps.spec.MapSpec` of a map family of ``result``.

    Raises
    ------
    ValueError
        For a family that is not the overview, a coverage family or a rule of the profile
        (the message lists the families of the result), or a grid rule without grids.
    """
    if family == "overview":
        return _spec_overview(result)
    if family.startswith("coverage:"):
        return _spec_coverage(result, family.split(":", 1)[1])
    rule = family_rule(result, family)
    if rule is None:
        raise ValueError(
            f"unknown map family {family!r}; families of this result: {map_families(result)}"
        )
    if rule.level == "grid":
        if result.grids is None:
            raise ValueError(f"map family {family!r} needs a grids layer")
        return _spec_grid_gap(result, rule)
    if rule.kind == "range" and rule.params.get("metric") == "households":
        return _spec_size(result, rule)
    return _spec_community_gap(result, rule)
