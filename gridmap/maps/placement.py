"""Map labels that never overlap: place, shift with a leader line, or number with a key.

On a dense district (138 communities on one A4 page) the labels of a map cannot all sit
on their units. :func:`place_labels` takes them in priority order (the spec's order:
failing units and the largest gaps first) and for each tries, in display space

1. the full label on its unit's label point,
2. the full label shifted around the point (growing rings), joined to it by a leader
   line,
3. a number at the point or shifted, listed in the key table (:class:`LabelKey`) the
   page prints beside the legend — with ``numbers=False`` (pages without a key) the
   label is left out instead,

and accepts the first box that stays inside the axes and clear of every box placed
before it (and of the scale bar and north arrow corners). So no two labels ever
overlap; what could not be written on the map is in the key. Boxes are measured with
the renderer after the axes' final position is known (call it last).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridmap.labels import text_width

__all__ = ["LABEL_GID", "LabelKey", "draw_key", "place_labels", "renderer_of"]

#: ``gid`` of every label text the map draws (tests and callers find them by it).
LABEL_GID = "gm-label"
#: display-space margin kept around each label, in points
_PAD_PT = 1.0
#: candidate shifts, in label heights, around the point: the point, then rings
_DIRECTIONS = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]
_RINGS = (1.0, 1.8, 2.8)


@dataclass
class LabelKey:
    """What :func:`place_labels` did: numbered labels for the key, labels left out.

    Attributes
    ----------
    numbered
        ``(number, text)`` of the labels written as numbers, in number order.
    omitted
        Texts that found no free place at all (``numbers=False``, or a map too dense).
    shifted
        How many labels sit off their point with a leader line.
    """

    numbered: list[tuple[int, str]] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    shifted: int = 0


def renderer_of(fig: Any) -> Any:
    """A renderer to measure text on ``fig`` (an Agg canvas is attached when it has none)."""
    # matplotlib is heavy and optional for library users: imported only when drawing
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas
    if not hasattr(canvas, "get_renderer"):
        canvas = FigureCanvasAgg(fig)
    return canvas.get_renderer()


def _free(box: np.ndarray, placed: list[np.ndarray], frame: np.ndarray) -> bool:
    if box[0] < frame[0] or box[1] < frame[1] or box[2] > frame[2] or box[3] > frame[3]:
        return False
    for b in placed:
        if box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]:
            return False
    return True


def _furniture(frame: np.ndarray) -> list[np.ndarray]:
    """Display boxes of the scale bar (lower left) and north arrow (upper right) corners."""
    w, h = frame[2] - frame[0], frame[3] - frame[1]
    return [
        np.array([frame[0], frame[1], frame[0] + 0.42 * w, frame[1] + 0.1 * h]),
        np.array([frame[2] - 0.09 * w, frame[3] - 0.14 * h, frame[2], frame[3]]),
    ]


def place_labels(
    ax: Any,
    labels: list[tuple[float, float, str, bool]],
    *,
    size: float = 6.5,
    numbers: bool = True,
) -> LabelKey:
    """Draw ``labels`` on ``ax`` so that no two overlap (see the module docstring).

    Parameters
    ----------
    ax
        A matplotlib Axes in its final position, limits set.
    labels
        ``(x, y, text, emphasis)`` in data coordinates, most important first; emphasised
        labels are bold and black.
    size
        Font size of emphasised labels (others 0.5 pt smaller).
    numbers
        Write labels that do not fit as numbers (for a page with a key); otherwise leave
        them out.

    Returns
    -------
    LabelKey
    """
    # matplotlib is heavy and optional for library users: imported only when drawing
    import matplotlib.patheffects as pe

    if not labels:
        return LabelKey()
    fig = ax.figure
    ax.apply_aspect()
    renderer = renderer_of(fig)
    frame = ax.get_window_extent(renderer).get_points().ravel()
    placed = _furniture(frame)
    pad = _PAD_PT * fig.dpi / 72
    halo = [pe.withStroke(linewidth=2.2, foreground="white")]
    key = LabelKey()
    to_axes = ax.transAxes.inverted()
    anchors = ax.transData.transform(np.array([(x, y) for x, y, _t, _s in labels], dtype=float))
    for (px, py), (_x, _y, text, strong) in zip(anchors, labels, strict=True):
        fs = size if strong else size - 0.5
        style = {
            "fontsize": fs,
            "color": "#000000" if strong else "#404040",
            "fontweight": "bold" if strong else "normal",
            "linespacing": 1.1,
        }
        forms = [text, str(len(key.numbered) + 1)] if numbers else [text]
        done = False
        for k, form in enumerate(forms):
            t = ax.text(
                px,
                py,
                form,
                ha="center",
                va="center",
                transform=None,
                path_effects=halo,
                zorder=15,
                gid=LABEL_GID,
                **style,
            )
            bb = t.get_window_extent(renderer)
            bw, bh = bb.width + 2 * pad, bb.height + 2 * pad
            for dx, dy in [(0.0, 0.0)] + [
                (ux * r * (bw + bh) / 2, uy * r * bh) for r in _RINGS for ux, uy in _DIRECTIONS
            ]:
                cx, cy = px + dx, py + dy
                box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
                if _free(box, placed, frame):
                    done = True
                    break
            if not done:
                t.remove()
                continue
            placed.append(box)
            # axes fractions: valid at any DPI (text and axes both scale with it)
            t.set_transform(ax.transAxes)
            t.set_position(to_axes.transform((cx, cy)))
            if (dx, dy) != (0.0, 0.0):
                key.shifted += 1
                end = (float(np.clip(px, box[0], box[2])), float(np.clip(py, box[1], box[3])))
                (ax0, ay0), (ax1, ay1) = to_axes.transform(np.array([(px, py), end]))
                ax.plot(
                    [ax0, ax1],
                    [ay0, ay1],
                    transform=ax.transAxes,
                    color="#555555",
                    lw=0.4,
                    zorder=14,
                )
                ax.plot(
                    [ax0], [ay0], "o", transform=ax.transAxes, color="#333333", ms=1.2, zorder=14
                )
            if k == 1:
                key.numbered.append((int(form), text.replace("\n", " ")))
            break
        if not done:
            key.omitted.append(text.replace("\n", " "))
    return key


def draw_key(
    fig: Any, key: LabelKey, *, top: float, bottom: float, left: float, right: float
) -> Any:
    """The key table of numbered labels, in columns between ``top`` and ``bottom``.

    Coordinates are figure fractions. The font shrinks (6 to 4.5 pt) until every entry
    fits; labels left out of the map are counted in the heading.

    Parameters
    ----------
    fig
        The matplotlib Figure.
    key
        What :func:`place_labels` returned.
    top, bottom, left, right
        The free area of the page.

    Returns
    -------
    list of matplotlib.text.Text
        The heading and one text per column (empty when there is nothing to explain).
    """
    if not key.numbered and not key.omitted:
        return []
    fw, fh = fig.get_size_inches()
    head = "图上编号对照" if key.numbered else ""
    if key.omitted:
        head += ("；" if head else "") + f"另有 {len(key.omitted)} 个单位过密未标注"
    texts = [fig.text(left, top, head, fontsize=7, fontweight="bold", va="top")]
    entries = [f"{n} {t}" for n, t in key.numbered]
    if not entries:
        return texts
    for fs in (6.0, 5.5, 5.0, 4.5):
        row = fs * 1.3 / 72 / fh
        rows = max(1, int((top - 0.018 - bottom) / row))
        cols = -(-len(entries) // rows)
        width = (right - left) / cols
        widest = max(text_width(e, 1.0, 0.58) for e in entries) * fs / 72 / fw
        if widest <= width * 0.97:
            break
    rows = -(-len(entries) // cols)
    for c in range(cols):
        texts.append(
            fig.text(
                left + c * width,
                top - 0.018,
                "\n".join(entries[c * rows : (c + 1) * rows]),
                fontsize=fs,
                va="top",
                linespacing=1.3,
                color="#222222",
            )
        )
    return texts
