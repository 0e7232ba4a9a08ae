"""Unit adjacency graphs: touching polygons, lattices, and the planning adjacency.

Three graphs, each a symmetric boolean ``scipy.sparse.csr_array`` positional like
its input:

- :func:`unit_adjacency`: polygons that share a boundary (with a digitising
  tolerance). Right where units tile the land (小区, a complete grid layer).
- :func:`lattice_adjacency`: the rook graph of a rows × cols lattice (tests, benchmarks).
- :func:`planning_adjacency`: what a planner means by "neighbouring units" when the
  grids do **not** tile their communities (in Suzhou Industrial Park the grids cover
  16 % of the community area). Each unit stands for its share of its community's
  ungridded land (:func:`unit_territories`): every point of a community belongs to the
  nearest of that community's units, so a gap or a road between two grids is not a
  wall. Two units are neighbours when their **territories** share a boundary of at
  least ``min_shared`` metres (within ``tolerance``), or when the units themselves touch.
  Units of neighbouring communities are thus neighbours exactly where they face each
  other across the shared community boundary.

Examples
--------
Two communities side by side, each with one small grid far from the shared
boundary: the grids do not touch, their territories do.

>>> import geopandas as gpd
>>> from shapely import box
>>> comms = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
...                          index=["A", "B"], crs=4549)
>>> units = gpd.GeoDataFrame({"community_id": ["A", "B"]},
...                          geometry=[box(10, 10, 30, 30), box(170, 10, 190, 30)], crs=4549)
>>> unit_adjacency(units).nnz, planning_adjacency(units, comms).toarray().astype(int).tolist()
(0, [[0, 1], [1, 0]])
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy import sparse

__all__ = [
    "unit_adjacency",
    "lattice_adjacency",
    "adjacency_from_pairs",
    "unit_territories",
    "planning_adjacency",
]


def _geoms(units) -> np.ndarray:
    """The geometries of a GeoDataFrame, GeoSeries or array, as an object array."""
    g = getattr(units, "geometry", units)
    return np.asarray(getattr(g, "values", g), dtype=object)


def unit_adjacency(
    units, *, tolerance: float = 1.0, min_shared: float | None = None
) -> sparse.csr_array:
    """Rook adjacency of polygons: units sharing a boundary of some length.

    Boundaries digitised separately rarely match, so two units are neighbours
    when one's boundary runs within ``tolerance`` metres of the other for at
    least ``min_shared`` metres (default ``3 * tolerance``); touching at a corner
    only does not count.

    Returns
    -------
    scipy.sparse.csr_array
        Symmetric boolean n × n matrix, positional like ``units``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> cells = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 0, 2, 1), box(1, 1, 2, 2)])
    >>> unit_adjacency(cells, tolerance=0.01).toarray().astype(int).tolist()
    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    """
    geoms = _geoms(units)
    n = len(geoms)
    if min_shared is None:
        min_shared = 3 * tolerance
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="dwithin", distance=tolerance)
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        grown = shapely.buffer(geoms, tolerance, quad_segs=1)
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), grown[b]))
        ok = shared >= min_shared
        a, b = a[ok], b[ok]
    return adjacency_from_pairs(a, b, n)


def adjacency_from_pairs(a, b, n: int) -> sparse.csr_array:
    """The symmetric boolean n × n adjacency with an edge between ``a[k]`` and ``b[k]``.

    Examples
    --------
    >>> adjacency_from_pairs([0], [2], 3).toarray().astype(int).tolist()
    [[0, 0, 1], [0, 0, 0], [1, 0, 0]]
    """
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    data = np.ones(2 * len(a), dtype=bool)
    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    m = sparse.coo_array((data, (rows, cols)), shape=(n, n)).tocsr()
    m.sum_duplicates()
    m.sort_indices()
    return m


def lattice_adjacency(rows: int, cols: int) -> sparse.csr_array:
    """Rook adjacency of a ``rows × cols`` lattice, cells numbered row by row.

    Examples
    --------
    >>> lattice_adjacency(2, 2).toarray().astype(int).tolist()
    [[0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0]]
    """
    idx = np.arange(rows * cols).reshape(rows, cols)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return adjacency_from_pairs(a, b, rows * cols)


def unit_territories(
    units, communities, *, community: str = "community_id", spacing: float = 25.0
) -> np.ndarray:
    """Each unit's share of its community.

    The unit itself plus the part of the community polygon nearer to it than to any other unit
    of the same community.

    Nearness is measured to the units' boundaries (sampled every ``spacing`` metres), a
    Voronoi allocation of the community's land to its units. A unit whose community has no
    polygon keeps its own geometry; a community with one unit gives it all its land.

    Parameters
    ----------
    units
        Unit polygons (metric CRS) with a ``community`` column.
    communities
        Community polygons indexed by community id, same CRS.

    Returns
    -------
    numpy.ndarray of shapely geometries, positional like ``units``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> comm = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 10)], index=["A"], crs=4549)
    >>> units = gpd.GeoDataFrame({"community_id": ["A", "A"]},
    ...                          geometry=[box(0, 0, 10, 10), box(90, 0, 100, 10)], crs=4549)
    >>> [round(t.area) for t in unit_territories(units, comm)]
    [500, 500]
    """
    geoms = shapely.make_valid(_geoms(units))
    terr = geoms.copy()
    polys = communities.geometry
    polys = pd.Series(polys.to_numpy(), index=polys.index.astype(str))
    polys = polys[~polys.index.duplicated()]
    labels = pd.Series(units[community].to_numpy(), index=np.arange(len(geoms)))
    labels = labels.dropna().astype(str)
    for cid, idx in labels.groupby(labels).groups.items():
        poly = polys.get(cid)
        if poly is None or shapely.is_missing(poly) or poly.is_empty:
            continue
        poly = shapely.make_valid(poly)
        idx = np.asarray(idx)
        if len(idx) == 1:
            terr[idx[0]] = shapely.union(poly, geoms[idx[0]])
            continue
        rings = shapely.segmentize(shapely.boundary(geoms[idx]), spacing)
        xy, owner = shapely.get_coordinates(rings, return_index=True)
        xy, first = np.unique(np.round(xy, 3), axis=0, return_index=True)
        owner = owner[first]
        if len(xy) < 3:
            continue
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=shapely.envelope(poly))
        )
        cell_i, pt_i = shapely.STRtree(shapely.points(xy)).query(cells, predicate="contains")
        cell_owner = np.full(len(cells), -1)
        cell_owner[cell_i] = owner[pt_i]  # a cell holds exactly its own site
        for k, i in enumerate(idx):
            mine = cells[cell_owner == k]
            if len(mine):
                share = shapely.intersection(shapely.union_all(mine), poly)
                terr[i] = shapely.union(geoms[i], share)
    return terr


def planning_adjacency(
    units,
    communities,
    *,
    community: str = "community_id",
    tolerance: float = 5.0,
    min_shared: float | None = None,
    unit_tolerance: float = 1.0,
    spacing: float = 25.0,
) -> sparse.csr_array:
    """Adjacency for redrawing when units do not tile their communities (see the module text).

    Two units are neighbours when their territories (:func:`unit_territories`) share at
    least ``min_shared`` metres of boundary within ``tolerance`` (default 5 m / 15 m:
    separately digitised community boundaries leave slivers), or when the units themselves
    touch (:func:`unit_adjacency` with ``unit_tolerance``).

    Returns
    -------
    scipy.sparse.csr_array
        Symmetric boolean n × n matrix, positional like ``units``.
    """
    terr = unit_territories(units, communities, community=community, spacing=spacing)
    a = unit_adjacency(terr, tolerance=tolerance, min_shared=min_shared)
    b = unit_adjacency(units, tolerance=unit_tolerance, min_shared=min(3 * unit_tolerance, 20.0))
    out = sparse.csr_array((a + b).astype(bool))
    out.sort_indices()
    return out
