"""The furniture of a map: style (bundled CJK font), scale bar, north arrow, legend, source note.

matplotlib is imported inside the drawing functions: it loads when a map is drawn, so
``import gridmap.report`` (and the command line) stays fast.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import warnings
from collections.abc import Iterator
from typing import Any

from gridmap import fonts
from gridmap._version import __version__
from gridmap.check import CheckResult
from gridmap.crs import crs_label
from gridmap.maps.spec import MapSpec
from gridmap.study import LAYER_KINDS

__all__ = ["add_legend", "scale_bar", "north_arrow", "source_note", "style"]


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Matplotlib settings for gridmap maps: bundled CJK font, TrueType embedding.

    Missing-glyph warnings (a character outside the bundled subset) are
    silenced: the character shows as a box instead of failing the report.
    """
    import matplotlib as mpl  # matplotlib loads when a map is drawn, not with gridmap.report

    families = fonts.fallback_families()
    with (
        mpl.rc_context(
            {
                "font.family": families,
                "font.size": 9,
                "pdf.fonttype": 42,
                "ps.fonttype": 42,
                "svg.fonttype": "none",
                "axes.unicode_minus": False,
                "pdf.compression": 6,
                "figure.dpi": 100,
                "savefig.dpi": 200,
            }
        ),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings(
            "ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning
        )
        warnings.filterwarnings(
            "ignore", message=r"Matplotlib currently does not support", category=UserWarning
        )
        yield


def _nice(x: float) -> float:
    if x <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * e <= x:
            return m * e
    return e


def scale_bar(ax: Any, *, fontsize: float = 7) -> None:
    """A black-and-white scale bar of round length (米 or 千米) at the lower left of ``ax``."""
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = x1 - x0, y1 - y0
    length = _nice(w / 4)
    km = length >= 1000
    n = 5 if str(int(length / (1000 if km else 1)))[0] == "5" else 4
    seg = length / n
    bx, by, bh = x0 + 0.04 * w, y0 + 0.045 * h, 0.009 * h
    ax.add_patch(
        Rectangle(
            (bx - 0.012 * w, by - 0.028 * h),
            length + 0.05 * w,
            bh + 0.05 * h,
            facecolor="white",
            edgecolor="none",
            alpha=0.85,
            zorder=20,
        )
    )
    for i in range(n):
        ax.add_patch(
            Rectangle(
                (bx + i * seg, by),
                seg,
                bh,
                facecolor="black" if i % 2 == 0 else "white",
                edgecolor="black",
                linewidth=0.5,
                zorder=21,
            )
        )
    unit, div = ("千米", 1000) if km else ("米", 1)
    for i in (0, n // 2, n) if n % 2 == 0 else (0, n):
        val = i * seg / div
        text = f"{val:g}"
        ax.text(
            bx + i * seg,
            by + bh + 0.006 * h,
            text,
            ha="center",
            va="bottom",
            fontsize=fontsize,
            zorder=22,
        )
    ax.text(
        bx + length + 0.012 * w,
        by + bh / 2,
        unit,
        ha="left",
        va="center",
        fontsize=fontsize,
        zorder=22,
    )


def north_arrow(ax: Any) -> None:
    """A north arrow at the upper right of ``ax`` (grid north: the maps are in the study CRS)."""
    from matplotlib.patches import Polygon

    tr = ax.transAxes
    cx, top, hw, hgt = 0.95, 0.965, 0.018, 0.07
    ax.add_patch(
        Polygon(
            [(cx, top), (cx - hw, top - hgt), (cx, top - hgt * 0.72)],
            closed=True,
            facecolor="black",
            edgecolor="black",
            linewidth=0.6,
            transform=tr,
            zorder=22,
        )
    )
    ax.add_patch(
        Polygon(
            [(cx, top), (cx + hw, top - hgt), (cx, top - hgt * 0.72)],
            closed=True,
            facecolor="white",
            edgecolor="black",
            linewidth=0.6,
            transform=tr,
            zorder=22,
        )
    )
    ax.text(
        cx,
        top + 0.004,
        "N",
        ha="center",
        va="bottom",
        fontsize=10,
        fontweight="bold",
        transform=tr,
        zorder=22,
    )


def source_note(result: CheckResult, *, date: _dt.date | str | None = None) -> str:
    """'坐标系 … ；数据来源 … ；制图 …' for the foot of a map.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`: its study's CRS and sources, its profile.
    date
        The date printed (default today).

    Returns
    -------
    str
        Three lines.
    """
    zh = {
        "communities": "社区",
        "grids": "网格",
        "households": "住户",
        "facilities": "设施",
        "network": "路网",
    }
    by_file: dict[str, list[str]] = {}
    for kind in LAYER_KINDS:
        src = result.study.sources.get(kind)
        if not src:
            continue
        file = str(src.get("file", "")).replace("\\", "/").rsplit("/", 1)[-1] or "(内存数据)"
        layer = str(src.get("layer") or "")
        by_file.setdefault(file, []).append(
            zh[kind] + (f"={layer}" if layer and layer not in (kind, zh[kind]) else "")
        )
    sources = "；".join(f"{f}（{'、'.join(v)}）" for f, v in by_file.items()) or "—"
    when = date if isinstance(date, str) else (date or _dt.date.today()).isoformat()
    return (
        f"坐标系：{crs_label(result.study.crs)}（北向为坐标北）\n数据来源：{sources}\n"
        f"规则配置：{result.profile.id}（{result.profile.title_zh}）　制图：gridmap {__version__}，{when}"
    )


def add_legend(
    fig_or_ax: Any,
    spec: MapSpec,
    *,
    loc: str,
    bbox: tuple[float, float] | None = None,
    ncol: int = 2,
    fontsize: float = 8,
) -> Any:
    """Draw the legend of ``spec`` (its legend entries and points) on a figure or axes.

    Parameters
    ----------
    fig_or_ax
        A matplotlib Figure or Axes.
    spec
        The map's :class:`MapSpec`.
    loc, bbox
        matplotlib's ``loc`` and ``bbox_to_anchor``.
    ncol, fontsize
        Columns and font size of the entries.

    Returns
    -------
    matplotlib.legend.Legend or None
        None when the spec has nothing to explain.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    for label, color, hatch in spec.legend:
        if color.startswith("none:"):
            handles.append(Line2D([], [], color=color[5:], linewidth=1.2, label=label))
        else:
            handles.append(
                Patch(facecolor=color, edgecolor="#4d4d4d", linewidth=0.5, hatch=hatch, label=label)
            )
    for _, color, label, size in spec.points:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=math.sqrt(size),
                markerfacecolor=color,
                markeredgecolor="white",
                markeredgewidth=0.4,
                label=label,
            )
        )
    if not handles:
        return None
    kw = {"bbox_to_anchor": bbox} if bbox is not None else {}
    return fig_or_ax.legend(
        handles=handles,
        loc=loc,
        ncol=ncol,
        fontsize=fontsize,
        frameon=True,
        title="图例",
        title_fontsize=fontsize + 0.5,
        borderaxespad=0.3,
        handlelength=1.6,
        handleheight=1.1,
        columnspacing=1.4,
        **kw,
    )
