"""Static compliance and gap maps (matplotlib), with the furniture a report needs.

Every map has a title, a legend, a scale bar, a north arrow and a note naming
the CRS and the data sources; labels are Chinese in the bundled font
(:mod:`gridmap.fonts`), which is embedded in PDFs as TrueType (Type 42).

A *map family* names what a map shows: ``"overview"`` (every community by its
overall status), a rule id with failures (``"community.size"``,
``"grid.coordinators"``, ``"community.floor_area"``, …) or
``"coverage:<facility type>"`` when coverage results are present.

Polygons are drawn as one :class:`~matplotlib.collections.PathCollection` per
layer (no per-feature patches), and layers of more than
:data:`RASTERIZE_ABOVE` features are rasterized inside the PDF, so a 50 k-grid
city renders in seconds and the file stays small.

>>> import gridmap
>>> from gridmap import datasets, maps
>>> result = gridmap.check(gridmap.read_study(**datasets.demo_config()))
>>> maps.map_families(result)[:3]
['overview', 'community.size', 'grid.coordinators']
>>> png = maps.map_png(result, "community.size", dpi=60)
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridmap.crs import crs_label

__all__ = [
    "STATUS_COLORS",
    "STATUS_LABELS",
    "RASTERIZE_ABOVE",
    "map_families",
    "family_title",
    "draw_map",
    "map_figure",
    "map_png",
    "coverage_of",
    "style",
    "source_note",
]

#: fill colours of the overall status of a unit
STATUS_COLORS = {"fail": "#e8553e", "warning": "#fdb863", "pass": "#b8e186", "not_assessed": "#d9d9d9"}
#: Chinese names of the statuses
STATUS_LABELS = {"fail": "不合规", "warning": "仅警告项不合规", "pass": "合规", "not_assessed": "未评估"}
#: layers with more features than this are rasterized inside vector outputs
RASTERIZE_ABOVE = 3000
#: at most this many text labels on one map (the largest gaps first)
MAX_LABELS = 120

_REDS = ["#fcbba1", "#fb6a4a", "#cb181d", "#67000d"]
_BLUES = ["#c6dbef", "#6baed6", "#2171b5"]
_ORANGES = ["#fdd0a2", "#fd8d3c", "#d94801"]
_EDGE = "#4d4d4d"

_FAMILY_TITLES = {
    "overview": "社区合规总览",
    "community.size": "社区规模（户数）超出标准范围",
    "grid.coordinators": "网格协理员配备不足",
    "community.floor_area": "社区服务用房面积不足",
    "community.facilities": "社区配套设施缺项",
    "community.service_station": "缺少社区服务站",
}


# --------------------------------------------------------------------------- style


@contextlib.contextmanager
def style() -> Iterator[None]:
    """matplotlib settings for gridmap maps: bundled CJK font, TrueType embedding.

    Missing-glyph warnings (a character outside the bundled subset) are
    silenced: the character shows as a box instead of failing the report.
    """
    import matplotlib as mpl

    from gridmap import fonts

    families = fonts.fallback_families()
    with mpl.rc_context({
        "font.family": families, "font.size": 9, "pdf.fonttype": 42, "ps.fonttype": 42,
        "svg.fonttype": "none", "axes.unicode_minus": False, "pdf.compression": 6,
        "figure.dpi": 100, "savefig.dpi": 200,
    }), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"Matplotlib currently does not support", category=UserWarning)
        yield


# --------------------------------------------------------------------------- families


def _rule_of(result, rule_id: str):
    try:
        return result.profile.rule(rule_id)
    except KeyError:
        return None


def coverage_of(result, coverage=None):
    """The :class:`~gridmap.coverage.CoverageResult` to report, or None.

    ``coverage`` if given, else the check's own (``result.coverage_result``).
    """
    if coverage is not None:
        return coverage
    for attr in ("coverage_result", "coverage"):
        cov = getattr(result, attr, None)
        if cov is not None and hasattr(cov, "specs") and hasattr(cov, "summary"):
            return cov
    return None


def _coverage_gaps(result, coverage=None) -> dict[str, Any]:
    """``{spec id: spec}`` of coverage specs with uncovered households in the gap cells."""
    cov = coverage_of(result, coverage)
    gaps = getattr(cov, "gaps", None)
    if cov is None or gaps is None or not len(gaps):
        return {}
    out = {}
    for spec in getattr(cov, "specs", []):
        col = f"uncovered:{spec.id}"
        if col in gaps.columns and float(gaps[col].sum()) > 0:
            out[spec.id] = spec
    return out


def map_families(result, *, coverage=None) -> list[str]:
    """The maps a report of ``result`` contains: the overview, then one per failing rule.

    Rule families come in profile order; QA findings are not mapped. Coverage
    gap maps (``"coverage:<spec id>"``) follow when coverage results
    (:class:`gridmap.coverage.CoverageResult`, given or as ``result.coverage``)
    leave households uncovered.
    """
    f = result.findings
    failing = set(f.loc[(f["status"] == "fail") & ~f["rule_id"].str.startswith("qa."), "rule_id"])
    out = ["overview"]
    for rule in result.profile.rules:
        if rule.id in failing and (rule.level == "community" or result.grids is not None):
            out.append(rule.id)
    out += [f"coverage:{k}" for k in _coverage_gaps(result, coverage)]
    return out


def _spec_text(spec) -> str:
    from gridmap.facilities import type_label

    mode = "步行距离" if spec.mode == "network" else "直线距离"
    return f"{type_label(spec.facility_type)}（{mode} {spec.radius_m:g} 米）"


def family_title(result, family: str, *, coverage=None) -> str:
    """Chinese map title of a family."""
    if family in _FAMILY_TITLES:
        return _FAMILY_TITLES[family]
    if family.startswith("coverage:"):
        spec = _coverage_gaps(result, coverage).get(family.split(":", 1)[1])
        return f"{_spec_text(spec)}服务覆盖缺口" if spec is not None else family
    rule = _rule_of(result, family)
    return f"不符合：{rule.title_zh}" if rule is not None else family


# --------------------------------------------------------------------------- geometry


def _polygon_paths(geoms) -> tuple[list, np.ndarray]:
    """One compound :class:`matplotlib.path.Path` per polygon (holes kept); empty ones dropped."""
    from matplotlib.path import Path

    geoms = np.asarray(geoms, dtype=object)
    keep = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
                          & np.isin(shapely.get_type_id(geoms), (3, 6)))
    if not len(keep):
        return [], keep
    _, coords, offsets = shapely.to_ragged_array(shapely.force_2d(geoms[keep]))
    if len(offsets) == 2:  # polygons: rings, polygons
        ring_off, geom_rings = offsets
    else:  # multipolygons: rings, polygons, multipolygons
        ring_off, poly_off, multi_off = offsets
        geom_rings = poly_off[multi_off]
    codes = np.full(len(coords), Path.LINETO, dtype=np.uint8)
    codes[ring_off[:-1]] = Path.MOVETO
    codes[ring_off[1:] - 1] = Path.CLOSEPOLY
    bounds = ring_off[geom_rings]
    paths = [Path(coords[a:b], codes[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return paths, keep


def _add_polygons(ax, geoms, *, facecolor, edgecolor=_EDGE, linewidth=0.3, zorder=1, alpha=None, hatch=None):
    from matplotlib.collections import PathCollection

    paths, keep = _polygon_paths(geoms)
    if not paths:
        return None
    fc = facecolor if isinstance(facecolor, str) or facecolor is None else np.asarray(facecolor, dtype=object)[keep].tolist()
    coll = PathCollection(paths, facecolors=fc if fc is not None else "none", edgecolors=edgecolor,
                          linewidths=linewidth, zorder=zorder, alpha=alpha, hatch=hatch)
    coll.set_transform(ax.transData)
    if len(paths) > RASTERIZE_ABOVE:
        coll.set_rasterized(True)
    ax.add_collection(coll, autolim=False)
    return coll


def _label_points(geoms) -> np.ndarray:
    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    return shapely.get_coordinates(pts)


# --------------------------------------------------------------------------- spec


@dataclass
class _Layer:
    units: Any  # GeoDataFrame
    colors: list | str
    edge: str = _EDGE
    width: float = 0.3
    zorder: int = 1
    hatch: str | None = None


@dataclass
class _Spec:
    layers: list[_Layer] = field(default_factory=list)
    legend: list[tuple[str, str, str | None]] = field(default_factory=list)  # (label, color, hatch)
    labels: list[tuple[float, float, str, bool]] = field(default_factory=list)  # x, y, text, emphasis
    points: list[tuple[np.ndarray, str, str, float]] = field(default_factory=list)  # xy, color, label, size
    subtitle: str = ""


def _fmt(x: float, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{digits}f}"


def _findings(result, rule_id: str) -> pd.DataFrame:
    f = result.findings
    return f[f["rule_id"] == rule_id].set_index("unit_id")


def _ids(units) -> pd.Index:
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


def _base_communities(result, spec: _Spec, *, fill: str = "#f7f7f7", width: float = 0.8) -> None:
    spec.layers.append(_Layer(result.communities, fill, edge="#252525", width=width, zorder=3))


def _community_outline(result, spec: _Spec) -> None:
    spec.layers.append(_Layer(result.communities, "none", edge="#252525", width=0.9, zorder=5))


def _spec_overview(result) -> _Spec:
    spec = _Spec()
    c = result.communities
    colors = c["status"].map(STATUS_COLORS).fillna(STATUS_COLORS["not_assessed"]).tolist()
    spec.layers.append(_Layer(c, colors, edge="#252525", width=0.8, zorder=2))
    if result.grids is not None:
        spec.layers.append(_Layer(result.grids, "none", edge="#8c8c8c", width=0.2, zorder=3))
    counts = c["status"].value_counts()
    for s in ("fail", "warning", "pass", "not_assessed"):
        if counts.get(s, 0):
            spec.legend.append((f"{STATUS_LABELS[s]}（{counts[s]} 个社区）", STATUS_COLORS[s], None))
    if result.grids is not None:
        spec.legend.append(("网格边界", "none:#8c8c8c", None))
    xy = _label_points(c.geometry.to_numpy())
    order = np.argsort(-(c["status"] == "fail").to_numpy().astype(int), kind="stable")[:MAX_LABELS]
    names = c["name"].astype(str).to_numpy() if "name" in c.columns else _ids(c).to_numpy()
    spec.labels = [(xy[i, 0], xy[i, 1], names[i], c["status"].iloc[i] == "fail") for i in order]
    spec.subtitle = "按社区综合状态着色：任一强制性规则不合规即为“不合规”；仅建议性（警告）规则不合规为“仅警告项不合规”"
    return spec


def _spec_size(result, rule) -> _Spec:
    spec = _Spec()
    c = result.communities
    from gridmap.evaluation import size_status
    from gridmap.rules import SizeBand, exempt_flags

    f = _findings(result, rule.id).reindex(_ids(c))
    hh = pd.to_numeric(c["households"], errors="coerce").to_numpy()
    p = rule.params
    band = result.profile.size_band()
    if band is None or band.rule_id != rule.id:
        band = SizeBand(p.get("min"), p.get("max"), p.get("exempt_min_if"), rule.id)
    # the size status of the one evaluation (the check's column for the profile's band)
    status = (c["size_status"] if "size_status" in c.columns and band == result.profile.size_band()
              else size_status(c, band)).astype(str).to_numpy()
    over, under = status == "too_large", status == "too_small"
    exempt = (status == "pass") & exempt_flags(c, band.exempt_min_if).to_numpy() & (hh < (band.min or 0) - 1e-9)
    colors = np.array(["#ffffff"] * len(c), dtype=object)
    colors[f["status"].to_numpy() == "not_assessed"] = STATUS_COLORS["not_assessed"]
    gap = pd.Series(f["gap"].to_numpy(dtype=float), index=c.index)
    if over.any():
        col, br = _classes(gap[over], _REDS[:3])
        colors[over] = col.to_numpy()
        for (a, b), p in zip(br, _REDS, strict=False):
            spec.legend.append((f"超出上限 {_fmt(a)}–{_fmt(b)} 户", p, None))
    if under.any():
        col, br = _classes(gap[under], _BLUES)
        colors[under] = col.to_numpy()
        for (a, b), p in zip(br, _BLUES, strict=False):
            spec.legend.append((f"低于下限 {_fmt(a)}–{_fmt(b)} 户", p, None))
    if exempt.any():
        colors[exempt] = "#f0f0f0"
    spec.layers.append(_Layer(c, colors.tolist(), edge="#252525", width=0.8, zorder=2))
    if exempt.any():
        spec.layers.append(_Layer(c[exempt], "none", edge="#969696", width=0.0, zorder=3, hatch="///"))
        spec.legend.append(("居民分散，豁免下限", "#f0f0f0", "///"))
    spec.legend.append((f"符合 {band.label()}", "#ffffff", None))
    xy = _label_points(c.geometry.to_numpy())
    names = c["name"].astype(str).to_numpy()
    fail = over | under
    order = np.argsort(-np.nan_to_num(gap.to_numpy(), nan=-1) * fail, kind="stable")[:MAX_LABELS]
    spec.labels = [(xy[i, 0], xy[i, 1], f"{names[i]}\n{_fmt(hh[i])} 户", bool(fail[i])) for i in order]
    spec.subtitle = f"标注：社区名称与户数。标准：{rule.title_zh}"
    return spec


def _gap_state(result, rule, units) -> tuple[pd.DataFrame, np.ndarray, pd.Series, np.ndarray]:
    """Findings of the rule per unit, failing mask, gap per unit, and base colours
    (white; grey where not assessed) of a gap map."""
    f = _findings(result, rule.id).reindex(_ids(units))
    status = f["status"].to_numpy()
    colors = np.array(["#ffffff"] * len(units), dtype=object)
    colors[status == "not_assessed"] = STATUS_COLORS["not_assessed"]
    return f, status == "fail", pd.Series(f["gap"].to_numpy(dtype=float), index=units.index), colors


def _spec_grid_gap(result, rule) -> _Spec:
    spec = _Spec()
    g = result.grids
    _, fail, gap, colors = _gap_state(result, rule, g)
    unit = rule.unit or ""
    if fail.any():
        cap = gap[fail].clip(upper=3)
        pal = {1: _ORANGES[0], 2: _ORANGES[1], 3: _ORANGES[2]} if rule.kind == "coordinators" else None
        if pal and (cap % 1 == 0).all():
            colors[fail] = [pal[int(max(1, v))] for v in cap]
            for k in sorted({int(max(1, v)) for v in cap}):
                spec.legend.append((f"缺 {k}{'+' if k == 3 else ''} {unit}".replace("  ", " "), pal[k], None))
        else:
            col, br = _classes(gap[fail], _ORANGES)
            colors[fail] = col.to_numpy()
            for (a, b), p in zip(br, _ORANGES, strict=False):
                spec.legend.append((f"差距 {_fmt(a, 1)}–{_fmt(b, 1)} {unit}", p, None))
    spec.legend.append(("符合", "#ffffff", None))
    spec.layers.append(_Layer(g, colors.tolist(), edge="#969696", width=0.25, zorder=2))
    _community_outline(result, spec)
    spec.legend.append(("社区边界", "none:#252525", None))
    xy = _label_points(g.geometry.to_numpy())
    idx = np.flatnonzero(fail)
    idx = idx[np.argsort(-gap.to_numpy()[idx], kind="stable")][:MAX_LABELS]
    short = "缺{:g}" if rule.kind == "coordinators" else "差{:g}"
    spec.labels = [(xy[i, 0], xy[i, 1], short.format(round(gap.iloc[i], 1)), True) for i in idx]
    n_fail, n = int(fail.sum()), len(g)
    spec.subtitle = f"{n_fail} / {n} 个网格不符合：{rule.title_zh}。标注：缺额（{unit or '差距'}）"
    return spec


def _spec_community_gap(result, rule) -> _Spec:
    spec = _Spec()
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
        spec.legend.append(("未评估（缺数据）", STATUS_COLORS["not_assessed"], None))
    spec.legend.append(("符合", "#ffffff", None))
    spec.layers.append(_Layer(c, colors.tolist(), edge="#252525", width=0.8, zorder=2))
    xy = _label_points(c.geometry.to_numpy())
    names = c["name"].astype(str).to_numpy()
    msgs = f["message"].astype(str).to_numpy()
    idx = np.flatnonzero(fail)
    idx = idx[np.argsort(-gap.to_numpy()[idx], kind="stable")][:MAX_LABELS]

    def short(i: int) -> str:
        if rule.kind == "facilities":
            return f"缺{int(gap.iloc[i])}项"
        m = msgs[i]
        return m.replace("服务用房", "").replace("低于下限", "差").replace("超出上限", "超").strip()

    spec.labels = [(xy[i, 0], xy[i, 1], f"{names[i]}\n{short(i)}", True) for i in idx]
    spec.subtitle = f"{int(fail.sum())} / {len(c)} 个社区不符合：{rule.title_zh}"
    return spec


def _spec_coverage(result, key: str, coverage=None) -> _Spec:
    from gridmap.facilities import type_label

    spec = _Spec()
    cov = coverage_of(result, coverage)
    cs = _coverage_gaps(result, coverage)[key]
    col = f"uncovered:{key}"
    cells = cov.gaps[cov.gaps[col] > 0]
    colors, breaks = _classes(cells[col].astype(float), _REDS[:3])
    spec.layers.append(_Layer(cells, colors.tolist(), edge="none", width=0, zorder=1))
    for (a, b), p in zip(breaks, _REDS, strict=False):
        spec.legend.append((f"半径外住户 {_fmt(a)}–{_fmt(b)} 户/格", p, None))
    spec.layers.append(_Layer(result.communities, "none", edge="#252525", width=0.8, zorder=5))
    spec.legend.append(("社区边界", "none:#252525", None))
    fac = result.facilities
    if fac is not None and "facility_type" in fac.columns:
        sel = fac[fac["facility_type"] == cs.facility_type]
        if len(sel):
            spec.points.append((shapely.get_coordinates(shapely.point_on_surface(sel.geometry.to_numpy())),
                                "#08519c", f"现有{type_label(cs.facility_type)}（{len(sel)} 处）", 22.0))
    total = float(cov.gaps["households"].sum()) if "households" in cov.gaps.columns else float("nan")
    unc = float(cells[col].sum())
    share = f"，占 {unc / total:.0%}" if total and total == total else ""
    spec.subtitle = f"服务半径以外的住户 {unc:,.0f} 户{share}；按 {type_label(cs.facility_type)} 的{_spec_text(cs)[len(type_label(cs.facility_type)):]}统计，蜂窝格汇总"
    return spec


def _spec(result, family: str, coverage=None) -> _Spec:
    if family == "overview":
        return _spec_overview(result)
    if family.startswith("coverage:"):
        return _spec_coverage(result, family.split(":", 1)[1], coverage)
    rule = _rule_of(result, family)
    if rule is None:
        raise ValueError(f"unknown map family {family!r}; families of this result: {map_families(result)}")
    if rule.level == "grid":
        if result.grids is None:
            raise ValueError(f"map family {family!r} needs a grids layer")
        return _spec_grid_gap(result, rule)
    if rule.kind == "range" and rule.params.get("metric") == "households":
        return _spec_size(result, rule)
    return _spec_community_gap(result, rule)


# --------------------------------------------------------------------------- furniture


def _nice(x: float) -> float:
    if x <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * e <= x:
            return m * e
    return e


def _scale_bar(ax, *, fontsize: float = 7) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = x1 - x0, y1 - y0
    length = _nice(w / 4)
    km = length >= 1000
    n = 5 if str(int(length / (1000 if km else 1)))[0] == "5" else 4
    seg = length / n
    bx, by, bh = x0 + 0.04 * w, y0 + 0.045 * h, 0.009 * h
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((bx - 0.012 * w, by - 0.028 * h), length + 0.05 * w, bh + 0.05 * h,
                           facecolor="white", edgecolor="none", alpha=0.85, zorder=20))
    for i in range(n):
        ax.add_patch(Rectangle((bx + i * seg, by), seg, bh, facecolor="black" if i % 2 == 0 else "white",
                               edgecolor="black", linewidth=0.5, zorder=21))
    unit, div = ("千米", 1000) if km else ("米", 1)
    for i in (0, n // 2, n) if n % 2 == 0 else (0, n):
        val = i * seg / div
        text = f"{val:g}"
        ax.text(bx + i * seg, by + bh + 0.006 * h, text, ha="center", va="bottom", fontsize=fontsize, zorder=22)
    ax.text(bx + length + 0.012 * w, by + bh / 2, unit, ha="left", va="center", fontsize=fontsize, zorder=22)


def _north_arrow(ax) -> None:
    from matplotlib.patches import Polygon

    tr = ax.transAxes
    cx, top, hw, hgt = 0.95, 0.965, 0.018, 0.07
    ax.add_patch(Polygon([(cx, top), (cx - hw, top - hgt), (cx, top - hgt * 0.72)], closed=True,
                         facecolor="black", edgecolor="black", linewidth=0.6, transform=tr, zorder=22))
    ax.add_patch(Polygon([(cx, top), (cx + hw, top - hgt), (cx, top - hgt * 0.72)], closed=True,
                         facecolor="white", edgecolor="black", linewidth=0.6, transform=tr, zorder=22))
    ax.text(cx, top + 0.004, "N", ha="center", va="bottom", fontsize=10, fontweight="bold", transform=tr, zorder=22)


def source_note(result, *, date: _dt.date | str | None = None) -> str:
    """'坐标系 … ；数据来源 … ；制图 …' for the foot of a map."""
    from gridmap._version import __version__
    from gridmap.study import LAYER_KINDS

    zh = {"communities": "社区", "grids": "网格", "households": "住户", "facilities": "设施", "network": "路网"}
    by_file: dict[str, list[str]] = {}
    for kind in LAYER_KINDS:
        src = result.study.sources.get(kind)
        if not src:
            continue
        file = str(src.get("file", "")).replace("\\", "/").rsplit("/", 1)[-1] or "(内存数据)"
        layer = str(src.get("layer") or "")
        by_file.setdefault(file, []).append(zh[kind] + (f"={layer}" if layer and layer not in (kind, zh[kind]) else ""))
    sources = "；".join(f"{f}（{'、'.join(v)}）" for f, v in by_file.items()) or "—"
    when = date if isinstance(date, str) else (date or _dt.date.today()).isoformat()
    return (f"坐标系：{crs_label(result.study.crs)}（北向为坐标北）\n数据来源：{sources}\n"
            f"规则配置：{result.profile.id}（{result.profile.title_zh}）　制图：gridmap {__version__}，{when}")


def _legend(fig_or_ax, spec: _Spec, *, loc: str, bbox=None, ncol: int = 2, fontsize: float = 8):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    for label, color, hatch in spec.legend:
        if color.startswith("none:"):
            handles.append(Line2D([], [], color=color[5:], linewidth=1.2, label=label))
        else:
            handles.append(Patch(facecolor=color, edgecolor="#4d4d4d", linewidth=0.5, hatch=hatch, label=label))
    for _, color, label, size in spec.points:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=math.sqrt(size),
                              markerfacecolor=color, markeredgecolor="white", markeredgewidth=0.4, label=label))
    if not handles:
        return None
    kw = {"bbox_to_anchor": bbox} if bbox is not None else {}
    return fig_or_ax.legend(handles=handles, loc=loc, ncol=ncol, fontsize=fontsize, frameon=True,
                            title="图例", title_fontsize=fontsize + 0.5, borderaxespad=0.3,
                            handlelength=1.6, handleheight=1.1, columnspacing=1.4, **kw)


def draw_map(ax, result, family: str = "overview", *, coverage=None, label_size: float = 6.5) -> dict:
    """Draw a map family onto ``ax`` (data, labels, scale bar, north arrow; no legend).

    Returns
    -------
    dict
        ``{"spec": …, "title": …, "subtitle": …}`` for the caller's legend and titles.
    """
    import matplotlib.patheffects as pe

    spec = family if isinstance(family, _Spec) else _spec(result, family, coverage)
    for layer in spec.layers:
        _add_polygons(ax, layer.units.geometry.to_numpy(), facecolor=layer.colors, edgecolor=layer.edge,
                      linewidth=layer.width, zorder=layer.zorder, hatch=layer.hatch)
    for xy, color, _label, size in spec.points:
        if len(xy):
            sc = ax.scatter(xy[:, 0], xy[:, 1], s=size, c=color, edgecolors="white", linewidths=0.3, zorder=8)
            if len(xy) > RASTERIZE_ABOVE:
                sc.set_rasterized(True)
    bounds = result.communities.total_bounds
    w, h = bounds[2] - bounds[0], bounds[3] - bounds[1]
    pad = 0.03 * max(w, h)
    ax.set_xlim(bounds[0] - pad, bounds[2] + pad)
    ax.set_ylim(bounds[1] - pad - 0.08 * h, bounds[3] + pad)  # room for the scale bar
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_linewidth(0.8)
    halo = [pe.withStroke(linewidth=2.2, foreground="white")]
    for x, y, text, strong in spec.labels:
        ax.text(x, y, text, ha="center", va="center", fontsize=label_size if strong else label_size - 0.5,
                color="#000000" if strong else "#404040", fontweight="bold" if strong else "normal",
                path_effects=halo, zorder=15, linespacing=1.1, clip_on=True)
    _scale_bar(ax)
    _north_arrow(ax)
    title = "" if isinstance(family, _Spec) else family_title(result, family, coverage=coverage)
    return {"spec": spec, "title": title, "subtitle": spec.subtitle}


def map_figure(result, family: str = "overview", *, title: str | None = None, page: str = "a4",
               date: _dt.date | str | None = None, header: str | None = None, coverage=None):
    """A complete map as a matplotlib Figure: title, map, legend, scale bar, north arrow, note.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    family
        ``"overview"``, a failing rule id, or ``"coverage:<type>"`` (see :func:`map_families`).
    title
        Override the map title.
    page
        ``"a4"`` (portrait page for reports) or ``"screen"`` (landscape, for PNG export).
    date
        Date printed in the note (default today).
    header
        Small text above the title (the report name on report pages).
    coverage
        Coverage results for ``"coverage:…"`` families (default ``result.coverage``).

    Returns
    -------
    matplotlib.figure.Figure
        Call it inside :func:`style` (or use :func:`map_png`) for the Chinese font.
    """
    from matplotlib.figure import Figure

    if page == "a4":
        fig = Figure(figsize=(8.27, 11.69))
        box, title_y, sub_y = (0.07, 0.22, 0.86, 0.665), 0.935, 0.912
    elif page == "screen":
        fig = Figure(figsize=(11.0, 8.0))
        box, title_y, sub_y = (0.05, 0.2, 0.9, 0.68), 0.945, 0.915
    else:
        raise ValueError(f"page must be 'a4' or 'screen', not {page!r}")
    ax = fig.add_axes(box)
    info = draw_map(ax, result, family, coverage=coverage)
    # fit the axes to the map's aspect, hanging from the top of the box
    fw, fh = fig.get_size_inches()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    aspect = (y1 - y0) / (x1 - x0)
    width = box[2]
    height = width * fw * aspect / fh
    if height > box[3]:
        height = box[3]
        width = height * fh / (fw * aspect)
    left, bottom = 0.5 - width / 2, box[1] + box[3] - height
    ax.set_position((left, bottom, width, height))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    if header:
        fig.text(0.07, 0.972, header, fontsize=8, color="#666666", ha="left")
    fig.text(0.5, title_y, title or info["title"], fontsize=15, fontweight="bold", ha="center")
    if info["subtitle"]:
        fig.text(0.5, sub_y, info["subtitle"], fontsize=8, ha="center", color="#333333", wrap=True)
    _legend(fig, info["spec"], loc="upper center", bbox=(0.5, bottom - 0.012), ncol=3)
    fig.text(box[0], 0.025, source_note(result, date=date), fontsize=6.5,
             color="#555555", ha="left", va="bottom", linespacing=1.5, wrap=True)
    return fig


def map_png(result, family: str = "overview", *, dpi: int = 150, title: str | None = None,
            date: _dt.date | str | None = None, coverage=None, fmt: str = "png") -> bytes:
    """The map as PNG (or ``fmt="pdf"``) bytes, for the dashboard's "export map" buttons.

    Examples
    --------
    >>> import gridmap
    >>> from gridmap import datasets, maps
    >>> r = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    >>> len(maps.map_png(r, dpi=50)) > 10_000
    True
    """
    with style():
        fig = map_figure(result, family, title=title, page="screen", date=date, coverage=coverage)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white")
    return buf.getvalue()
