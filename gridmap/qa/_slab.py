"""A cheap exact upper bound of the area two polygons share, to skip most DE-9IM tests.

For any unit direction ``n``, a polygon lies between the least and the greatest projection of
its vertices on ``n`` (it is inside their convex hull), so two polygons share at most the
rectangle where both their strips along ``n`` and along the perpendicular meet: its area
bounds the area of their intersection. Two grids of a tiling whose common edge is straight
(a lattice, blocks cut by straight streets) give a strip of width ~0 along that edge's
normal, so the bound proves in a few multiplications what a DE-9IM test proves by noding
both boundaries. The directions tried are the edges of each polygon with its collinear runs
merged (Douglas-Peucker at :data:`COLLINEAR_M`); the strips are computed from those corners
widened by how far the true vertices lie from them (their discrete Hausdorff distance), so
the bound holds for the true polygons. Polygons with more than :data:`MAX_CORNERS` corners
are not bounded (``inf``): the caller tests them as before.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import shapely

#: vertices this close (m) to the line through their neighbours are merged into one edge
COLLINEAR_M = 1e-6
#: polygons with more corners than this are not bounded (their pairs go to GEOS)
MAX_CORNERS = 8
#: pairs bounded per numpy step (memory ~ pairs x 8 corners² x 8 bytes a few times)
_CHUNK = 8192


@dataclass(frozen=True)
class Corners:
    """Each polygon's outline with collinear runs merged, its edge directions and strips.

    Coordinates are relative to ``origin`` (small numbers, small rounding errors); arrays are
    padded to the most corners any polygon has by repeating the first corner (a repeated
    corner gives no direction: ``edge_ok`` False). Polygons not bounded have ``simple``
    False and zeros.
    """

    simple: np.ndarray  #: (n,) bool: a non-empty (multi)polygon of ≤ MAX_CORNERS + 1 coordinates
    points: np.ndarray  #: (n, k, 2) the simplified rings' coordinates, closing points included
    off: np.ndarray  #: (n,) the largest distance from a true vertex to the simplified outline
    along: np.ndarray  #: (n, k - 1, 2) unit direction of each edge
    normal: np.ndarray  #: (n, k - 1, 2) unit normal of each edge
    edge_ok: np.ndarray  #: (n, k - 1) bool: the edge has a length
    strips: np.ndarray  #: (n, 4, k - 1) own strip per edge: low/high across, low/high along
    margin: float  #: more than the rounding error of any projection


def corners(geoms: np.ndarray) -> Corners:
    """:class:`Corners` of each polygon (the directions and strips :func:`shared_area_bound` uses)."""
    n = len(geoms)
    simplified = shapely.simplify(geoms, COLLINEAR_M, preserve_topology=False)
    counts = shapely.get_num_coordinates(simplified)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))  # their boundary has every vertex
    simple = polygonal & (counts > 1) & (counts <= MAX_CORNERS + 1) & ~shapely.is_empty(simplified)
    off = np.zeros(n)
    kept = np.flatnonzero(simple)
    k = int(counts[kept].max()) if len(kept) else 2
    points = np.zeros((n, k, 2))
    margin = 0.0
    if len(kept):
        coords, owner = shapely.get_coordinates(simplified[kept], return_index=True)
        bounds = shapely.total_bounds(geoms[kept])
        origin = (bounds[:2] + bounds[2:]) / 2
        # projections of coordinates up to |x| are off by a few 2⁻⁵³|x|: far less than this
        margin = 1e-12 * (float(np.abs(bounds).max()) + 1.0)
        start = np.searchsorted(owner, np.arange(len(kept)))
        points[kept] = (coords[start] - origin)[:, None, :]  # padding: the first corner again
        points[kept[owner], np.arange(len(owner)) - start[owner]] = coords - origin
        # discrete Hausdorff distance of the outlines: every true vertex to the simplified rings
        off[kept] = shapely.hausdorff_distance(
            shapely.boundary(geoms[kept]), shapely.boundary(simplified[kept])
        )
        bad = kept[~np.isfinite(off[kept])]
        simple[bad], off[bad], points[bad] = False, 0.0, 0.0
    edges = np.diff(points, axis=1)
    length = np.hypot(edges[..., 0], edges[..., 1])
    edge_ok = length > 0
    along = np.zeros_like(edges)
    along[edge_ok] = edges[edge_ok] / length[edge_ok][:, None]
    normal = np.stack([-along[..., 1], along[..., 0]], axis=-1)
    own = [_project(axis, points) for axis in (normal, along)]
    strips = np.stack(
        [_least(own[0]) - off[:, None], _most(own[0]) + off[:, None]]
        + [_least(own[1]) - off[:, None], _most(own[1]) + off[:, None]],
        axis=1,
    )
    return Corners(simple, points, off, along, normal, edge_ok, strips, margin)


def shared_area_bound(c: Corners, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An upper bound of ``area(geoms[a] ∩ geoms[b])`` for each pair (``inf`` when not bounded).

    Parameters
    ----------
    c
        :func:`corners` of the polygons.
    a, b
        Indices of the pairs.

    Returns
    -------
    ndarray
        Per pair, at least the area the two polygons share (in the units² of the coordinates).
    """
    out = np.full(len(a), np.inf)
    both = np.flatnonzero(c.simple[a] & c.simple[b])
    for s in range(0, len(both), _CHUNK):
        i, j = a[both[s : s + _CHUNK]], b[both[s : s + _CHUNK]]
        out[both[s : s + _CHUNK]] = np.minimum(_across(c, i, j), _across(c, j, i))
    return out


def _project(axis: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(p, e, k)``: each point of each row projected on each direction of that row."""
    x, y = axis[..., 0][:, :, None], axis[..., 1][:, :, None]
    return x * points[:, None, :, 0] + y * points[:, None, :, 1]


def _least(values: np.ndarray) -> np.ndarray:
    """``values.min(axis=-1)``, taken element-wise corner by corner: the same numbers.

    numpy reduces a short last axis row by row, several times slower.
    """
    return functools.reduce(np.minimum, (values[..., k] for k in range(values.shape[-1])))


def _most(values: np.ndarray) -> np.ndarray:
    """``values.max(axis=-1)``, as :func:`_least`."""
    return functools.reduce(np.maximum, (values[..., k] for k in range(values.shape[-1])))


def _across(c: Corners, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The bound from the directions of polygon ``i``'s edges: its strips met by ``j``'s."""
    sides = []
    for n, axis in enumerate((c.normal, c.along)):
        proj = _project(axis[i], c.points[j])
        low = np.maximum(c.strips[i, 2 * n], _least(proj) - c.off[j][:, None])
        high = np.minimum(c.strips[i, 2 * n + 1], _most(proj) + c.off[j][:, None])
        sides.append(np.maximum(high - low + c.margin, 0.0))
    area = sides[0] * sides[1]
    area[~c.edge_ok[i]] = np.inf
    return area.min(axis=1)
