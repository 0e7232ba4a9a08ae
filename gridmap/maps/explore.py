"""Interactive web maps (folium) of a check or a plan, for notebooks and the HTML report.

:func:`explore_check` (``CheckResult.explore``) and :func:`explore_plan`
(``Plan.explore``) return a :class:`folium.Map` that works with no internet (no tiles,
Leaflet inlined by :mod:`gridmap.maps.offline`): communities filled by status (the
palette of :mod:`gridmap.labels`), grids outlined (failing grids filled), facilities,
one layer per coverage gap drawn *over* the community fill, tooltips naming each
failing rule with its value, standard and citation, a layer control, a legend, a
scale bar and a north arrow. Layers sit in fixed Leaflet panes, so switching a layer
off and on never puts the gaps under the fill.

The building blocks are public for other pages (:func:`unit_tips`, :func:`legend`);
the map's panes are :data:`PANES`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap.check import CheckResult
from gridmap.facilities import type_label
from gridmap.labels import STATUS_COLORS, STATUS_ORDER, status_label, tint
from gridmap.maps.families import coverage_gaps, family_title
from gridmap.maps.offline import make_offline

__all__ = [
    "GAP_COLOR",
    "PANES",
    "explore_check",
    "explore_plan",
    "legend",
    "pane_layers",
    "unit_tips",
]

#: Leaflet panes, bottom up (z-index): gaps and moved units always above the community fill.
PANES: dict[str, int] = {
    "gm_communities": 410,
    "gm_grids": 420,
    "gm_gaps": 430,
    "gm_moved": 440,
    "gm_facilities": 450,
}
#: Colour of coverage gaps (households outside a facility's service radius).
GAP_COLOR = "#6a3d9a"
_MOVED_COLOR = "#0057d9"
_FACILITY_COLOR = "#08306b"
#: How many findings a tooltip lists before "另有 N 项", and how much of each citation
_TIP_FINDINGS = 3
_TIP_CITE = 48


def _esc(value: Any) -> str:
    return html.escape("" if value is None or value is pd.NA else str(value))


def _num(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if not np.isfinite(v) else f"{v:,.0f}"


def unit_tips(
    units: pd.DataFrame,
    findings: pd.DataFrame,
    level: str,
    fields: dict[str, str],
    *,
    limit: int | None = _TIP_FINDINGS,
    cite: int | None = _TIP_CITE,
) -> list[str]:
    """One HTML tooltip per unit: name, code, figures, status and its failing rules.

    Each failing rule is named with its message (the measured value), its standard and its
    citation, in Chinese. Text is HTML-escaped. The defaults make a tooltip (three rules,
    citations shortened); ``limit=None, cite=None`` the full details of a popup.

    Parameters
    ----------
    units
        Indexed by unit id, with ``status`` and the columns of ``fields``.
    findings
        Findings (:data:`gridmap.rules.FINDING_COLUMNS`); failing ones of ``level`` are listed.
    level
        ``"community"`` or ``"grid"``.
    fields
        ``{column: 中文标签}`` shown under the name (households shown as whole numbers).
    limit
        How many failing rules to list (``None``: all).
    cite
        Citations cut to this many characters (``None``: in full).

    Returns
    -------
    list of str
    """
    f = findings[(findings["level"] == level) & (findings["status"] == "fail")]
    by_unit: dict[str, list[Any]] = {}
    for r in f.sort_values("gap", ascending=False, kind="stable").itertuples():
        by_unit.setdefault(str(r.unit_id), []).append(r)
    out = []
    for uid, row in zip(units.index.astype(str), units.itertuples(), strict=True):
        name = getattr(row, "name", "") or uid
        lines = [f"<b>{_esc(name)}</b>（{_esc(uid)}）"]
        for col, label in fields.items():
            v = getattr(row, col, None)
            lines.append(f"{_esc(label)}：{_num(v) if col == 'households' else _esc(v)}")
        lines.append(f"状态：<b>{_esc(status_label(str(getattr(row, 'status', ''))))}</b>")
        fails = by_unit.get(uid, [])
        for r in fails if limit is None else fails[:limit]:
            src = str(r.source)
            if cite is not None and len(src) > cite:
                src = src[:cite] + "…"
            lines.append(
                f'<div style="border-left:3px solid {STATUS_COLORS["fail"]};padding-left:5px;'
                f'margin-top:3px"><b>{_esc(r.rule_title)}</b>：{_esc(r.message)}'
                f"（标准 {_esc(r.threshold)}）<br><small>依据：{_esc(src)}</small></div>"
            )
        if limit is not None and len(fails) > limit:
            lines.append(f"另有 {len(fails) - limit} 项不合规，点击查看全部")
        body = "<br>".join(lines)
        # Leaflet tooltips do not wrap: a tip with rules gets a width to wrap in
        box = "white-space:normal;width:320px;font-size:11px;line-height:1.35"
        out.append(f'<div style="{box}">{body}</div>' if fails else body)
    return out


def pane_layers(m: Any) -> dict[str, str]:
    """``{pane: JavaScript variable}`` of the map's layers, for a page that scripts them.

    Parameters
    ----------
    m
        A map from :func:`explore_check` or :func:`explore_plan`.

    Returns
    -------
    dict
        E.g. ``{"gm_communities": "geo_json_…", "gm_grids": …}``; the map itself is
        ``m.get_name()``.
    """
    out = {}
    for child in m._children.values():
        pane = getattr(child, "options", {}).get("pane") if hasattr(child, "options") else None
        if pane in PANES:
            out[pane] = child.get_name()
    return out


def legend(items: Sequence[tuple[str, str, str]], title: str = "图例") -> str:
    """HTML of a map legend: ``(label, fill colour, border colour)`` per row.

    Parameters
    ----------
    items
        Rows, in order.
    title
        Heading.

    Returns
    -------
    str
    """
    rows = "".join(
        f'<div style="display:flex;align-items:center;gap:6px;margin:2px 0">'
        f'<i style="width:16px;height:12px;display:inline-block;background:{fill};'
        f'border:1.5px solid {edge}"></i><span>{_esc(label)}</span></div>'
        for label, fill, edge in items
    )
    return f"<b>{_esc(title)}</b>{rows}"


def _web(gdf: GeoDataFrame, props: dict[str, Iterable[Any]]) -> GeoDataFrame:
    """``gdf`` simplified (1/4000 of its extent), in WGS 84, rounded, with only ``props``."""
    x0, y0, x1, y1 = gdf.total_bounds
    tol = max(x1 - x0, y1 - y0) / 4000 if gdf.crs is not None and gdf.crs.is_projected else 0
    geoms = gdf.geometry.to_numpy()
    if tol > 0:
        geoms = shapely.simplify(geoms, tol, preserve_topology=True)
    out = GeoDataFrame(
        {k: list(v) for k, v in props.items()}, geometry=list(geoms), crs=gdf.crs
    ).to_crs(4326)
    out.geometry = shapely.transform(out.geometry.to_numpy(), lambda c: np.round(c, 6))
    return out[~out.geometry.is_empty & out.geometry.notna()]


def _new_map(bounds: Any, *, height: str | int) -> Any:
    # folium is an optional heavy dependency: imported only when a map is built
    import folium

    m = folium.Map(
        tiles=None, control_scale=False, height=height, prefer_canvas=False, zoom_snap=0.25
    )
    for pane, z in PANES.items():
        folium.map.CustomPane(pane, z_index=z, pointer_events=True).add_to(m)
    x0, y0, x1, y1 = bounds
    m.fit_bounds([[y0, x0], [y1, x1]])
    return m


def _polygons(
    m: Any,
    frame: GeoDataFrame,
    *,
    name: str,
    pane: str,
    show: bool = True,
    weight: float = 1.0,
    edge: str = "#252525",
) -> Any:
    """A GeoJson layer filled by the ``fill`` / ``opacity`` columns, tooltip from ``tip``."""
    # folium is an optional heavy dependency: imported only when a map is built
    import folium

    def style(feature: dict) -> dict:
        p = feature["properties"]
        return {
            "fillColor": p["fill"],
            "fillOpacity": p["opacity"],
            "color": edge,
            "weight": weight,
        }

    fields = ["tip"] if "tip" in frame.columns else None
    details = ["detail"] if "detail" in frame.columns else fields
    layer = folium.GeoJson(
        frame,
        name=name,
        show=show,
        pane=pane,
        style_function=style,
        highlight_function=lambda _f: {"weight": weight + 2, "color": _MOVED_COLOR},
        tooltip=folium.GeoJsonTooltip(fields, labels=False, sticky=True) if fields else None,
        popup=folium.GeoJsonPopup(details, labels=False, max_width=420) if details else None,
    )
    layer.add_to(m)
    return layer


def _finish(m: Any, items: Sequence[tuple[str, str, str]], note: str) -> Any:
    """Layer control, legend, north arrow and source note; then inline Leaflet."""
    # folium is an optional heavy dependency: imported only when a map is built
    import folium
    from branca.element import Element, MacroElement, Template

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    box = (
        "background:rgba(255,255,255,.93);padding:6px 9px;border:1px solid #888;"
        "border-radius:4px;font-size:12px;line-height:1.35;max-width:300px"
    )
    controls = [
        ("bottomright", legend(items), "gm-legend"),
        ("topleft", "<b>▲</b><br>N", "gm-north"),
        ("bottomleft", _esc(note).replace("\n", "<br>"), "gm-note"),
    ]
    js = "".join(
        f"(function(){{var c=L.control({{position:{pos!r}}});c.onAdd=function(){{"
        f"var d=L.DomUtil.create('div',{cls!r});d.style.cssText={box!r}"
        f"+({cls!r}==='gm-north'?';text-align:center;font-size:13px':'');"
        f"d.innerHTML={body!r};L.DomEvent.disableClickPropagation(d);return d}};"
        f"c.addTo({{{{this._parent.get_name()}}}})}})();"
        for pos, body, cls in controls
        if body
    )
    js += "L.control.scale({imperial:false,maxWidth:160}).addTo({{this._parent.get_name()}});"
    # no tiles: a white ground, so the grey of 未评估 is not lost in Leaflet's grey
    m.get_root().header.add_child(
        Element("<style>.leaflet-container{background:#ffffff}</style>"), name="gm_ground"
    )
    el = MacroElement()
    el._template = Template("{% macro script(this, kwargs) %}" + js + "{% endmacro %}")
    m.add_child(el, name="gridmap_furniture")
    return make_offline(m)


def _fill_rows(status: pd.Series, *, strength: float | None = None) -> dict[str, list[Any]]:
    fills = [
        tint(STATUS_COLORS.get(s, STATUS_COLORS["not_assessed"]))
        if strength is None
        else STATUS_COLORS.get(s, STATUS_COLORS["not_assessed"])
        for s in status
    ]
    return {"fill": fills, "opacity": [0.9 if strength is None else strength] * len(fills)}


def _status_items(status: pd.Series, noun: str) -> list[tuple[str, str, str]]:
    counts = status.value_counts()
    return [
        (f"{status_label(s)}（{int(counts[s])} 个{noun}）", tint(STATUS_COLORS[s]), "#252525")
        for s in STATUS_ORDER
        if counts.get(s, 0)
    ]


def explore_check(
    result: CheckResult,
    *,
    grids: bool = True,
    facilities: bool = True,
    gaps: bool = True,
    height: str | int = "100%",
    note: str = "",
) -> Any:
    """An offline folium map of a check: status choropleth, gaps, tooltips, legend.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult` (its ``coverage_result`` gives the gap layers).
    grids, facilities, gaps
        Add the grid layer (failing grids filled, off by default when over 3,000 grids),
        the facility points and one layer per coverage gap.
    height
        Height of the map (CSS, e.g. ``"100%"`` or ``600``).
    note
        Source note shown in the map's corner (e.g. :func:`gridmap.maps.source_note`).

    Returns
    -------
    folium.Map
        Self-contained: ``m.save("map.html")`` opens with no internet.
    """
    comm = result.communities
    m = _new_map(comm.to_crs(4326).total_bounds, height=height)
    status = comm.get("status", pd.Series("not_assessed", index=comm.index))
    fields = {"households": "户数", "grids": "网格数", "street": "街道"}
    fields = {k: v for k, v in fields.items() if k in comm.columns}
    frame = _web(
        comm,
        {
            "tip": unit_tips(comm, result.findings, "community", fields),
            "detail": unit_tips(comm, result.findings, "community", fields, limit=None, cite=None),
            **_fill_rows(status),
            "unit_id": comm.index.astype(str),
        },
    )
    _polygons(m, frame, name="社区（合规状态）", pane="gm_communities", weight=1.6)
    items = _status_items(status, "社区")
    g = result.grids
    if grids and g is not None and len(g):
        if "community_id" in g.columns and "name" in comm.columns:
            g = g.assign(community_name=g["community_id"].map(comm["name"]))
        gst = g.get("status", pd.Series("not_assessed", index=g.index))
        fill = _fill_rows(gst, strength=0.55)
        fill["opacity"] = [0.55 if s == "fail" else 0.0 for s in gst]
        gfields = {"households": "户数", "coordinators": "协理员", "community_name": "所属社区"}
        gframe = _web(
            g,
            {
                "tip": unit_tips(
                    g, result.findings, "grid", {k: v for k, v in gfields.items() if k in g.columns}
                ),
                **fill,
                "unit_id": g.index.astype(str),
            },
        )
        _polygons(
            m,
            gframe,
            name="网格（不合规网格着色）",
            pane="gm_grids",
            show=len(g) <= 3000,
            weight=0.5,
            edge="#6b6b6b",
        )
        n_fail = int((gst == "fail").sum())
        if n_fail:
            items.append((f"不合规网格（{n_fail} 个）", STATUS_COLORS["fail"], "#6b6b6b"))
    if gaps:
        items += _gap_layers(m, result)
    fac = result.facilities
    if facilities and fac is not None and len(fac) and "facility_type" in fac.columns:
        _facility_layer(m, fac)
        items.append(("设施", _FACILITY_COLOR, "#ffffff"))
    return _finish(m, items, note)


def _gap_layers(m: Any, result: CheckResult) -> list[tuple[str, str, str]]:
    """One layer per coverage spec leaving households uncovered, over the community fill."""
    cov = result.coverage_result
    n = 0
    for sid in coverage_gaps(result):
        assert cov is not None and cov.gaps is not None  # coverage_gaps found uncovered cells
        col = f"uncovered:{sid}"
        cells = cov.gaps[cov.gaps[col] > 0]
        label = family_title(result, f"coverage:{sid}")
        top = max(float(cells[col].max()), 1.0)
        frame = _web(
            cells,
            {
                "tip": [f"{_esc(label)}<br>服务半径外 {_num(u)} 户" for u in cells[col]],
                "fill": [GAP_COLOR] * len(cells),
                "opacity": [round(0.25 + 0.55 * float(u) / top, 2) for u in cells[col]],
            },
        )
        _polygons(m, frame, name=f"覆盖缺口：{label}", pane="gm_gaps", weight=0, edge=GAP_COLOR)
        n += 1
    return [("服务半径外的住户（覆盖缺口，颜色越深户越多）", GAP_COLOR, GAP_COLOR)] if n else []


def _facility_layer(m: Any, fac: GeoDataFrame) -> None:
    """Facility points, one GeoJSON layer of circle markers in their own pane (off at first)."""
    # folium is an optional heavy dependency: imported only when a map is built
    import folium

    names = fac["name"] if "name" in fac.columns else fac["facility_type"]
    pts = GeoDataFrame(
        {
            "tip": [
                f"{_esc(type_label(t))}：{_esc(n)}"
                for t, n in zip(fac["facility_type"], names, strict=True)
            ]
        },
        geometry=shapely.point_on_surface(fac.geometry.to_numpy()),
        crs=fac.crs,
    ).to_crs(4326)
    marker = folium.CircleMarker(
        radius=4, color="#ffffff", weight=1, fill=True, fill_color=_FACILITY_COLOR, fill_opacity=0.9
    )
    marker.options["pane"] = "gm_facilities"  # folium's path options drop ``pane``
    folium.GeoJson(
        pts,
        name="设施",
        show=False,
        marker=marker,
        tooltip=folium.GeoJsonTooltip(["tip"], labels=False),
    ).add_to(m)


def explore_plan(plan: Any, *, base: bool = False, height: str | int = "100%") -> Any:
    """An offline folium map of a plan: communities by status, units, moved units.

    Parameters
    ----------
    plan
        A :class:`gridmap.plans.Plan`.
    base
        Map the as-is assignment instead of the plan.
    height
        Height of the map (CSS).

    Returns
    -------
    folium.Map
    """
    comm = plan.dissolve(base=base)
    comm = comm[comm.geometry.notna()]
    comm["status"] = comm["rules_status"]
    m = _new_map(comm.to_crs(4326).total_bounds, height=height)
    findings = plan.findings(base=base)
    fields = {"households": "户数", "units": "单位数", "pieces": "片数"}
    frame = _web(
        comm,
        {
            "tip": unit_tips(comm, findings, "community", fields),
            "detail": unit_tips(comm, findings, "community", fields, limit=None, cite=None),
            **_fill_rows(comm["status"]),
            "unit_id": comm.index.astype(str),
        },
    )
    title = "方案社区（合规状态）" if not base else "现状社区（合规状态）"
    _polygons(m, frame, name=title, pane="gm_communities", weight=1.8)
    items = _status_items(comm["status"], "社区")
    units = plan.units
    labels = units["community_id"] if base else plan.labels
    names = units["name"] if "name" in units.columns else pd.Series(units.index, index=units.index)
    tips = [
        f"<b>{_esc(n)}</b>（{_esc(u)}）<br>户数：{_num(h)}<br>所属社区：{_esc(plan.community_name(c))}"
        for u, n, h, c in zip(units.index, names, units["households"], labels, strict=True)
    ]
    uframe = _web(
        units,
        {"tip": tips, "fill": ["#ffffff"] * len(units), "opacity": [0.0] * len(units)},
    )
    _polygons(
        m, uframe, name="单位", pane="gm_grids", weight=0.5, edge="#6b6b6b", show=len(units) <= 3000
    )
    moved = units.index[units["community_id"].to_numpy() != plan.labels.to_numpy()]
    if len(moved) and not base:
        mv = units.loc[moved]
        mframe = _web(
            mv,
            {
                "tip": [t for t, u in zip(tips, units.index, strict=True) if u in set(moved)],
                "fill": [_MOVED_COLOR] * len(mv),
                "opacity": [0.35] * len(mv),
            },
        )
        _polygons(
            m,
            mframe,
            name=f"调整的单位（{len(mv)} 个）",
            pane="gm_moved",
            weight=2.5,
            edge=_MOVED_COLOR,
        )
        items.append((f"调整的单位（{len(mv)} 个）", _MOVED_COLOR, _MOVED_COLOR))
    return _finish(m, items, f"方案：{plan.name}")
