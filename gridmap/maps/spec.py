"""What a map shows, as data: filled layers, legend entries, labels and points.

A :class:`MapSpec` is drawn by :func:`gridmap.maps.draw_map`; the report builds its own
(e.g. the before/after maps of a plan) from the same parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

__all__ = ["EDGE", "MAX_LABELS", "MapLayer", "MapSpec", "label_points"]

#: at most this many text labels on one map (the largest gaps first); the placement
#: (:func:`gridmap.maps.place_labels`) numbers or leaves out what does not fit
MAX_LABELS = 400
#: default outline colour of filled units
EDGE = "#4d4d4d"


@dataclass
class MapLayer:
    """Polygons filled with one colour each (or one for all), with an outline.

    Attributes
    ----------
    units
        A GeoDataFrame of (multi)polygons.
    colors
        One fill colour per unit, or one for all (``"none"`` for outlines only).
    edge, width
        Outline colour and width (points).
    zorder
        Drawing order (higher on top).
    hatch
        A matplotlib hatch pattern, e.g. ``"///"``.
    """

    units: Any  # GeoDataFrame
    colors: list | str
    edge: str = EDGE
    width: float = 0.3
    zorder: int = 1
    hatch: str | None = None


@dataclass
class MapSpec:
    """Everything one map draws.

    Attributes
    ----------
    layers
        :class:`MapLayer` s, drawn in ``zorder``.
    legend
        ``(label, colour, hatch)``; a colour ``"none:#rrggbb"`` is a line (an outline).
    labels
        ``(x, y, text, emphasis)``: emphasised labels are bold and black.
    points
        ``(xy array, colour, legend label, marker size)``.
    subtitle
        The line under the map's title.
    """

    layers: list[MapLayer] = field(default_factory=list)
    legend: list[tuple[str, str, str | None]] = field(default_factory=list)
    labels: list[tuple[float, float, str, bool]] = field(default_factory=list)
    points: list[tuple[np.ndarray, str, str, float]] = field(default_factory=list)
    subtitle: str = ""


def label_points(geoms: Any) -> np.ndarray:
    """``(n, 2)`` coordinates of a point inside each geometry, where its label goes."""
    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    return shapely.get_coordinates(pts)
