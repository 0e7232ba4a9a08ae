"""The border network of a polygon layer: every boundary segment once, as line strings.

A map that strokes each polygon's outline draws every border two polygons share twice (and
its tiles carry it twice). :func:`border_lines` keeps each segment of the polygons' rings
once — two segments are the same when they join the same two points, in either direction —
and chains the segments into line strings: through every point where two of them meet, and
where more meet, through the pairs that run on the straightest (a grid of blocks becomes a
few long lines, not one line per block side). Coordinates are the polygons' own: nothing is
moved, snapped or noded, so a border two neighbours draw with different vertices stays as
each drew it.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

__all__ = ["border_lines", "ring_segments"]


def ring_segments(polygons: np.ndarray) -> np.ndarray:
    """Every segment of the polygons' rings (exterior and holes), ``(n, 4)``: x0, y0, x1, y1.

    Zero-length segments (a repeated vertex) are left out; a segment keeps its ring's
    direction.

    Examples
    --------
    >>> ring_segments(np.array([shapely.box(0, 0, 1, 1)])).tolist()
    [[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    """
    parts = shapely.get_parts(np.asarray(polygons, dtype=object))
    rings = shapely.get_rings(parts[~shapely.is_empty(parts)])
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    seg = np.column_stack([coords[:-1], coords[1:]])[same]
    return seg[(seg[:, 0] != seg[:, 2]) | (seg[:, 1] != seg[:, 3])]


def border_lines(polygons: np.ndarray) -> np.ndarray:
    """The polygons' borders, each segment once, chained into line strings (see the module).

    Parameters
    ----------
    polygons
        Polygons or multipolygons (any coordinates; empty ones add nothing).

    Returns
    -------
    numpy.ndarray
        LineStrings (object array) whose segments are the distinct segments of
        :func:`ring_segments`, each in exactly one line, once.

    Examples
    --------
    >>> two = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> lines = border_lines(two)
    >>> len(lines), sum(len(shapely.get_coordinates(g)) - 1 for g in lines)
    (2, 7)
    """
    seg = ring_segments(polygons)
    if not len(seg):
        return np.empty(0, dtype=object)
    # one direction per segment (the smaller end first), then each distinct segment once
    flip = (seg[:, 2] < seg[:, 0]) | ((seg[:, 2] == seg[:, 0]) & (seg[:, 3] < seg[:, 1]))
    seg = np.where(flip[:, None], seg[:, [2, 3, 0, 1]], seg)
    seg = np.unique(seg + 0.0, axis=0)  # + 0.0: -0.0 and 0.0 are one coordinate
    coords, offsets = _chains(seg)
    return shapely.linestrings(
        coords, indices=np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    )


def _partners(seg: np.ndarray) -> np.ndarray:
    """For each segment end (``2 * segment + end``), the end it continues into (-1: none).

    Where two ends meet they continue into each other; where more meet, the two whose
    directions are the most nearly opposite pair first, then the next two, and so on.
    """
    ends = seg.reshape(-1, 2)
    away = ends[np.arange(len(ends)) ^ 1] - ends  # each end's direction into its segment
    angle = np.arctan2(away[:, 1], away[:, 0]).tolist()
    _, node = np.unique(ends, axis=0, return_inverse=True)
    node = node.ravel()
    order = np.argsort(node, kind="stable")
    starts = np.flatnonzero(np.r_[True, node[order][1:] != node[order][:-1]])
    degree = np.diff(np.r_[starts, len(order)])
    partner = np.full(len(ends), -1, dtype=np.int64)
    two = starts[degree == 2]
    partner[order[two]], partner[order[two + 1]] = order[two + 1], order[two]
    many = degree > 2
    groups = np.split(order, starts[1:])  # the ends at each node
    for free in (groups[k].tolist() for k in np.flatnonzero(many)):
        while len(free) > 1:
            # the two ends running on the straightest (0: straight on; ties: the first pair)
            _, ea, eb = min(
                (abs(math.pi - abs(angle[p] - angle[q])), p, q)
                for i, p in enumerate(free)
                for q in free[i + 1 :]
            )
            partner[ea], partner[eb] = eb, ea
            free.remove(ea)
            free.remove(eb)
    return partner


def _chains(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The segments chained at their partner ends (:func:`_partners`): coordinates and offsets."""
    ends = seg.reshape(-1, 2)
    partner = _partners(seg)
    seen = np.zeros(len(seg), dtype=bool)
    path: list[int] = []  # the ends each line enters its segments by
    cuts = [0]
    # lines with a free end first, then closed loops (every end partnered)
    for first in np.r_[np.flatnonzero(partner < 0), np.arange(0, len(ends), 2)]:
        if seen[first // 2]:
            continue
        end = int(first)
        while end >= 0 and not seen[end // 2]:
            seen[end // 2] = True
            path.append(end)
            end = int(partner[end ^ 1])
        cuts.append(len(path))
    entered = np.array(path, dtype=np.int64)
    cut = np.array(cuts)
    # each line: the point it enters by on its first segment, then every segment's far end
    firsts = entered[cut[:-1]]
    coords = np.insert(ends[entered ^ 1], cut[:-1], ends[firsts], axis=0)
    return coords, cut + np.arange(len(cut))
