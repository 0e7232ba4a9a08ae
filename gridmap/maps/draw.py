"""Drawing a map: polygons as path collections, labels with a halo, and the whole figure.

Polygons are drawn as one :class:`~matplotlib.collections.PathCollection` per layer
(no per-feature patches), and layers of more than :data:`RASTERIZE_ABOVE` features are
rasterized inside the PDF, so a 50 k-grid city renders in seconds and the file stays
small. matplotlib is imported inside the functions: it loads when a map is drawn.
"""

from __future__ import annotations

import datetime as _dt
import io
from typing import Any

import numpy as np
import shapely

from gridmap.check import CheckResult
from gridmap.coverage import CoverageResult
from gridmap.labels import text_width
from gridmap.maps._builders import build_spec
from gridmap.maps.families import family_title
from gridmap.maps.furniture import add_legend, north_arrow, scale_bar, source_note, style
from gridmap.maps.placement import draw_key, place_labels, renderer_of
from gridmap.maps.spec import EDGE, MapSpec

#: ``gid`` of a map page's title (the PDF report makes it the page's bookmark)
TITLE_GID = "gm-bookmark"

__all__ = ["RASTERIZE_ABOVE", "TITLE_GID", "draw_map", "map_figure", "map_png"]

#: layers with more features than this are rasterized inside vector outputs
RASTERIZE_ABOVE = 3000


def _polygon_paths(geoms: Any) -> tuple[list, np.ndarray]:
    """One compound :class:`matplotlib.path.Path` per polygon (holes kept); empty ones dropped."""
    from matplotlib.path import Path

    geoms = np.asarray(geoms, dtype=object)
    keep = np.flatnonzero(
        ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        & np.isin(shapely.get_type_id(geoms), (3, 6))
    )
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


def _add_polygons(
    ax: Any,
    geoms: Any,
    *,
    facecolor: list | str | None,
    edgecolor: str = EDGE,
    linewidth: float = 0.3,
    zorder: int = 1,
    alpha: float | None = None,
    hatch: str | None = None,
) -> Any:
    """One PathCollection of the polygons (rasterized above :data:`RASTERIZE_ABOVE`)."""
    from matplotlib.collections import PathCollection

    paths, keep = _polygon_paths(geoms)
    if not paths:
        return None
    fc = (
        facecolor
        if isinstance(facecolor, str) or facecolor is None
        else np.asarray(facecolor, dtype=object)[keep].tolist()
    )
    coll = PathCollection(
        paths,
        facecolors=fc if fc is not None else "none",
        edgecolors=edgecolor,
        linewidths=linewidth,
        zorder=zorder,
        alpha=alpha,
        hatch=hatch,
    )
    coll.set_transform(ax.transData)
    if len(paths) > RASTERIZE_ABOVE:
        coll.set_rasterized(True)
    ax.add_collection(coll, autolim=False)
    return coll


def draw_map(
    ax: Any,
    result: CheckResult,
    family: str | MapSpec = "overview",
    *,
    coverage: CoverageResult | None = None,
    label_size: float = 6.5,
    labels: bool = True,
) -> dict:
    """Draw a map family onto ``ax`` (data, labels, scale bar, north arrow; no legend).

    Parameters
    ----------
    ax
        A matplotlib Axes.
    result
        A :class:`gridmap.CheckResult`.
    family
        A map family (see :func:`map_families`) or a :class:`MapSpec` of the caller's.
    coverage
        Coverage results to map instead of ``result.coverage_result``.
    label_size
        Font size of the emphasised labels.
    labels
        Place the labels now (:func:`gridmap.maps.place_labels`, those that do not fit are
        left out). ``False`` when the axes will still move: the caller places them after.

    Returns
    -------
    dict
        ``{"spec": …, "title": …, "subtitle": …, "key": …}`` for the caller's legend and
        titles; ``key`` is the :class:`~gridmap.maps.placement.LabelKey` (None when
        ``labels=False``).
    """
    result = result.with_coverage(coverage)
    spec = family if isinstance(family, MapSpec) else build_spec(result, family)
    for layer in spec.layers:
        _add_polygons(
            ax,
            layer.units.geometry.to_numpy(),
            facecolor=layer.colors,
            edgecolor=layer.edge,
            linewidth=layer.width,
            zorder=layer.zorder,
            hatch=layer.hatch,
        )
    for xy, color, _label, size in spec.points:
        if len(xy):
            sc = ax.scatter(
                xy[:, 0], xy[:, 1], s=size, c=color, edgecolors="white", linewidths=0.3, zorder=8
            )
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
    scale_bar(ax)
    north_arrow(ax)
    key = place_labels(ax, spec.labels, size=label_size, numbers=False) if labels else None
    title = "" if isinstance(family, MapSpec) else family_title(result, family)
    return {"spec": spec, "title": title, "subtitle": spec.subtitle, "key": key}


def map_figure(
    result: CheckResult,
    family: str = "overview",
    *,
    title: str | None = None,
    page: str = "a4",
    date: _dt.date | str | None = None,
    header: str | None = None,
    coverage: CoverageResult | None = None,
    key_bottom: float = 0.075,
) -> Any:
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
        Coverage results for ``"coverage:…"`` families (default ``result.coverage_result``).
    key_bottom
        Lowest point (figure fraction) of the key of numbered labels under the legend;
        raise it to keep room for the caller's own text.

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
    info = draw_map(ax, result, family, coverage=coverage, labels=False)
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
    info["key"] = place_labels(ax, info["spec"].labels, numbers=True)
    if header:
        fig.text(0.07, 0.972, header, fontsize=8, color="#666666", ha="left")
    heading = title or info["title"]
    size = min(15.0, (1 - 2 * box[0]) * fw * 72 / max(text_width(heading, 1.0, 0.58) * 1.03, 1))
    fig.text(
        0.5,
        title_y,
        heading,
        fontsize=max(size, 9.0),
        fontweight="bold",
        ha="center",
        gid=TITLE_GID,
    )
    if info["subtitle"]:
        fig.text(0.5, sub_y, info["subtitle"], fontsize=8, ha="center", color="#333333", wrap=True)
    legend = add_legend(fig, info["spec"], loc="upper center", bbox=(0.5, bottom - 0.012), ncol=3)
    below = bottom - 0.012
    if legend is not None:
        below = legend.get_window_extent(renderer_of(fig)).y0 / fig.bbox.height
    draw_key(fig, info["key"], top=below - 0.01, bottom=key_bottom, left=box[0], right=1 - box[0])
    fig.text(
        box[0],
        0.025,
        source_note(result, date=date),
        fontsize=6.5,
        color="#555555",
        ha="left",
        va="bottom",
        linespacing=1.5,
        wrap=True,
    )
    return fig


def map_png(
    result: CheckResult,
    family: str = "overview",
    *,
    dpi: int = 150,
    title: str | None = None,
    date: _dt.date | str | None = None,
    coverage: CoverageResult | None = None,
    fmt: str = "png",
) -> bytes:
    """The map as PNG (or ``fmt="pdf"``) bytes, for the dashboard's "export map" buttons.

    Parameters
    ----------
    result, family, title, date, coverage
        As for :func:`map_figure` (a landscape ``"screen"`` page).
    dpi
        Resolution of the PNG.
    fmt
        ``"png"`` or ``"pdf"``.

    Returns
    -------
    bytes

    See the example of :mod:`gridmap.maps`.
    """
    with style():
        fig = map_figure(result, family, title=title, page="screen", date=date, coverage=coverage)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white")
    return buf.getvalue()
