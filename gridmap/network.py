"""Walking network: noding, components, snapping onto edges, exact multi-source distances.

The network is built once from a line layer (:func:`build_network`) and is then
read-only: a :class:`Network` holds the node coordinates, the edges (end nodes,
length, geometry), the component of every node and a symmetric CSR graph.

* **Noding.** Real street layers have long lines that cross without a shared
  vertex. Lines whose intersection is anything but shared end points are noded
  with :func:`shapely.node` (only those lines, so clean layers cost little).
  Bridges and tunnels must not be joined to the streets they pass over: give
  ``level_column`` (e.g. OSM ``layer``) and lines of different levels are only
  connected where they share an end point.
* **Components.** Every connected component is reported; ``components="largest"``
  drops all but the largest.
* **Gaps.** Dead ends that stop within :data:`GAP_REPORT_M` of another street
  without touching it (undershoots in digitised centrelines) are listed in
  ``Network.gaps``; ``close_gaps_m`` connects those up to that distance.
* **Snapping.** A point is snapped to the nearest point *on an edge* (not the
  nearest node); the edge is split virtually, so its distance to both end nodes
  is exact. Points farther than ``max_snap_m`` from every edge are not snapped
  and are reported. Large batches use a KD-tree of points sampled every ≤ 20 m
  along the edge segments: the nearest segment among those of the 8 (then 32)
  nearest samples is provably the nearest of all when the next sample is farther
  than that distance plus half a sample spacing; the rare rest go to the exact
  STRtree search. Ties (equidistant edges, e.g. at a node) go to the lowest
  edge id on both paths, so the result is the same either way.
* **Distances.** :func:`network_distance` runs one multi-source Dijkstra
  (:func:`scipy.sparse.csgraph.dijkstra` with ``min_only=True`` and ``limit``)
  from all sources at once; :func:`dijkstra_groups` runs one per source group
  (facility type), in forked worker processes on large networks. Sources enter
  as virtual nodes with one-way edges to both ends of their edge, so the result
  is exact, including source and target on the same edge. The snap legs
  (point → edge) are part of the distance, so a network distance is never
  shorter than the straight line (up to the 1 mm node tolerance: end points
  that close are one node).

>>> from shapely import LineString, Point
>>> lines = GeoSeries([LineString([(0, 0), (200, 0)]), LineString([(100, -50), (100, 50)])], crs=4549)
>>> net = build_network(lines)
>>> net.n_nodes, net.n_edges  # the crossing at (100, 0) was noded
(5, 4)
>>> d, src = network_distance(net, GeoSeries([Point(0, 0)], crs=4549), GeoSeries([Point(100, 50)], crs=4549))
>>> float(d[0])
150.0
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np
import pandas as pd
import shapely
import shapely.ops
from geopandas import GeoDataFrame, GeoSeries
from scipy import sparse
from scipy.sparse import csgraph

from gridmap.crs import require_metric

__all__ = [
    "Network",
    "Snap",
    "build_network",
    "node_lines",
    "find_gaps",
    "GAP_REPORT_M",
    "snap_points",
    "network_distance",
    "node_distances",
    "reachable_pieces",
    "augmented_graph",
    "dijkstra_from",
    "dijkstra_groups",
    "target_distances",
    "metres_for_minutes",
    "minutes_for_metres",
    "WALK_KMH",
]

#: default walking speed (STANDARDS §6: 4.5–5 km/h; 10 minutes ≈ 800 m)
WALK_KMH = 4.8
_EPS = 1e-9


def metres_for_minutes(minutes: float, *, speed_kmh: float = WALK_KMH) -> float:
    """Walking distance covered in ``minutes`` at ``speed_kmh``.

    Examples
    --------
    >>> metres_for_minutes(10)
    800.0
    >>> round(metres_for_minutes(15, speed_kmh=4.0))
    1000
    """
    if speed_kmh <= 0:
        raise ValueError(f"speed_kmh must be positive, got {speed_kmh}")
    return float(minutes) * speed_kmh * 1000.0 / 60.0


def minutes_for_metres(metres: float, *, speed_kmh: float = WALK_KMH) -> float:
    """Walking minutes for ``metres`` at ``speed_kmh``.

    Examples
    --------
    >>> minutes_for_metres(800)
    10.0
    """
    if speed_kmh <= 0:
        raise ValueError(f"speed_kmh must be positive, got {speed_kmh}")
    return float(metres) * 60.0 / (speed_kmh * 1000.0)


@dataclass(frozen=True, eq=False)
class Network:
    """A routable, undirected walking network in a metric CRS.

    Attributes
    ----------
    nodes : ndarray, shape (n, 2)
        Node coordinates.
    u, v : ndarray of int
        End nodes of each edge (``u`` is the start of the edge geometry).
    length : ndarray of float
        Edge lengths in metres.
    geometry : ndarray of shapely LineStrings
        Edge geometries.
    component : ndarray of int
        Component label of every node; ``main`` is the largest.
    components : pandas.DataFrame
        One row per component: ``nodes``, ``edges``, ``length_m``, ``main``, ``dropped``.
    crs
        The CRS of the coordinates.
    noded : int
        How many input lines were split by noding.
    gaps_closed : int
        Connectors added from dead ends to the street they fell short of (``close_gaps_m``).
    gaps : pandas.DataFrame
        Dead ends left within :data:`GAP_REPORT_M` of another street without
        touching it (``x``, ``y``, ``gap_m``): probably missing junctions.
    """

    nodes: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    geometry: np.ndarray
    component: np.ndarray
    components: pd.DataFrame
    crs: object
    noded: int = 0
    main: int = 0
    gaps_closed: int = 0
    gaps: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"x": [], "y": [], "gap_m": []}))
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        return int(len(self.nodes))

    @property
    def n_edges(self) -> int:
        return int(len(self.u))

    @cached_property
    def graph(self) -> sparse.csr_matrix:
        """Symmetric CSR adjacency (the shortest of parallel edges; no self loops)."""
        return _csr(self.u, self.v, self.length, self.n_nodes)

    @cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geometry)

    def edges(self) -> GeoDataFrame:
        """The edges as a GeoDataFrame (``u``, ``v``, ``length_m``, ``component``)."""
        return GeoDataFrame({"u": self.u, "v": self.v, "length_m": self.length,
                             "component": self.component[self.u]}, geometry=self.geometry, crs=self.crs)

    def __repr__(self) -> str:
        return f"Network(nodes={self.n_nodes}, edges={self.n_edges}, components={len(self.components)})"


def _csr(u, v, w, n, extra=None) -> sparse.csr_matrix:
    keep = u != v
    a = np.concatenate([u[keep], v[keep]])
    b = np.concatenate([v[keep], u[keep]])
    c = np.maximum(np.concatenate([w[keep], w[keep]]), _EPS)  # csgraph: explicit zeros are not edges
    if extra is not None:
        a, b, c = np.concatenate([a, extra[0]]), np.concatenate([b, extra[1]]), np.concatenate([c, np.maximum(extra[2], _EPS)])
        n = max(n, int(extra[0].max()) + 1 if len(extra[0]) else n)
    # keep the shortest of parallel edges (a coo→csr conversion would add them up)
    order = np.lexsort((c, b, a))
    a, b, c = a[order], b[order], c[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    g = sparse.csr_matrix((c[first], (a[first], b[first])), shape=(n, n))
    g.sort_indices()
    return g


def _as_lines(lines) -> tuple[np.ndarray, object, pd.Index]:
    if isinstance(lines, GeoDataFrame):
        geoms = lines.geometry
    elif isinstance(lines, GeoSeries):
        geoms = lines
    else:
        raise TypeError(f"expected a GeoDataFrame or GeoSeries of lines, got {type(lines).__name__}")
    require_metric(geoms, what="路网长度")
    return np.asarray(geoms.values), geoms.crs, geoms.index


def node_lines(geoms: np.ndarray, *, levels: np.ndarray | None = None,
               precise: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """Split lines wherever they intersect other than at shared end points.

    When GEOS's floating-point noder does not converge (near-coincident lines),
    all lines are snap-rounded to a :data:`NODING_GRID_M` grid and noded again
    (``precise=True`` marks that second pass).

    Parameters
    ----------
    geoms : ndarray of LineStrings
    levels : ndarray, optional
        A level per line (bridge/tunnel ``layer``); lines of different levels are
        never split against each other.

    Returns
    -------
    pieces : ndarray of LineStrings
    level : ndarray
        The level of every piece.
    noded : int
        How many input lines were split.

    Examples
    --------
    >>> from shapely import LineString
    >>> g = np.array([LineString([(0, 0), (2, 0)]), LineString([(1, -1), (1, 1)])])
    >>> len(node_lines(g)[0]), len(node_lines(g, levels=np.array([0, 1]))[0])
    (4, 2)
    """
    n = len(geoms)
    lev = _level_codes(levels, n)
    if n == 0:
        return geoms, lev, 0
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    m = (i < j) & (lev[i] == lev[j])
    i, j = i[m], j[m]
    # clean: interiors do not meet, and no end point lies on the other's interior
    clean = shapely.relate_pattern(geoms[i], geoms[j], "FF*F*****")
    dirty = np.zeros(n, dtype=bool)
    dirty[i[~clean]] = True
    dirty[j[~clean]] = True
    # lines that touch themselves (loops through a vertex) need noding too
    dirty |= ~shapely.is_simple(geoms)
    pieces, piece_level = [geoms[~dirty]], [lev[~dirty]]
    for level in np.unique(lev[dirty]):
        sel = dirty & (lev == level)
        try:
            noded = shapely.get_parts(shapely.node(shapely.multilinestrings(geoms[sel])))
        except shapely.errors.GEOSException:
            if precise:
                raise
            # near-coincident lines defeat GEOS's floating-point noder ("Iterated noding
            # failed to converge"): snap-round every line to a 1 cm grid and node again
            return node_lines(shapely.set_precision(geoms, NODING_GRID_M), levels=levels, precise=True)
        pieces.append(noded)
        piece_level.append(np.full(len(noded), level))
    return np.concatenate(pieces), np.concatenate(piece_level), int(dirty.sum())


#: line ends closer than this to another street without touching it are reported (metres)
GAP_REPORT_M = 5.0


def find_gaps(parts: np.ndarray, u: np.ndarray, v: np.ndarray, nodes: np.ndarray, *, within: float,
              levels: np.ndarray | None = None, tolerance: float = 1e-3) -> pd.DataFrame:
    """Dead ends that stop short of another street (undershoots), nearest street first.

    A node of degree 1 whose nearest other line, at the same level, is within
    ``within`` metres but does not touch it. Lines that share a node with the
    dead end's own line are not candidates (a short spur is not an undershoot
    of the street it leaves), and a dead-end line shorter than ``within`` is an
    overshoot past a junction (a dangle, as GIS topology tools call it), not an
    undershoot.

    Returns
    -------
    DataFrame
        One row per dead end: ``node``, ``edge`` (the line it falls short of),
        ``gap_m``, ``along_m`` (where on that line the gap is closest).
    """
    cols = {"node": np.array([], dtype=np.int64), "edge": np.array([], dtype=np.int64),
            "gap_m": np.array([]), "along_m": np.array([])}
    n = len(nodes)
    if n == 0 or len(parts) == 0:
        return pd.DataFrame(cols)
    deg = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    dead = np.flatnonzero(deg == 1)
    if len(dead) == 0:
        return pd.DataFrame(cols)
    own = np.full(n, -1, dtype=np.int64)  # the one edge of each dead end
    e = np.arange(len(u))
    own[u[deg[u] == 1]] = e[deg[u] == 1]
    own[v[deg[v] == 1]] = e[deg[v] == 1]
    dead = dead[shapely.length(parts[own[dead]]) >= within]  # dangles past a junction are not gaps
    if len(dead) == 0:
        return pd.DataFrame(cols)
    pts = shapely.points(nodes[dead])
    # not kept for snapping: freeing it leaves memory the snapping index reuses (measured ~0.25 s at 1.7 M edges)
    di, pj = shapely.STRtree(parts).query(pts, predicate="dwithin", distance=within)
    oe = own[dead[di]]
    far_end = np.where(u[oe] == dead[di], v[oe], u[oe])
    lev = np.zeros(len(parts), dtype=np.int64) if levels is None else levels
    ok = (pj != oe) & (u[pj] != far_end) & (v[pj] != far_end) & (lev[pj] == lev[oe])
    di, pj = di[ok], pj[ok]
    dist = shapely.distance(pts[di], parts[pj])
    ok = dist > 0  # touching lines were noded (or noding is off)
    di, pj, dist = di[ok], pj[ok], dist[ok]
    order = np.lexsort((pj, dist, di))
    di, pj, dist = di[order], pj[order], dist[order]
    first = np.ones(len(di), dtype=bool)
    first[1:] = di[1:] != di[:-1]
    di, pj, dist = di[first], pj[first], dist[first]
    along = shapely.line_locate_point(parts[pj], pts[di])
    return pd.DataFrame({"node": dead[di], "edge": pj, "gap_m": dist, "along_m": along})


def _split_lines(parts: np.ndarray, levels: np.ndarray, edge: np.ndarray, along: np.ndarray, tolerance: float,
                 at_xy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split lines ``edge`` at distances ``along`` them.

    Returns the lines (unsplit ones first), their levels, and the point of each cut
    (row-aligned with ``edge``): ``at_xy`` when given, else the point at ``along``;
    a cut within ``tolerance`` of a line's end is that end (the line is not split there).
    """
    keep = np.ones(len(parts), dtype=bool)
    new_parts, new_levels = [], []
    points = np.empty((len(edge), 2))
    frame = pd.DataFrame({"edge": edge, "along": along})
    for e, grp in frame.groupby("edge", sort=True):
        xy = shapely.get_coordinates(parts[e])
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        a = np.clip(grp["along"].to_numpy(), 0.0, cum[-1])
        rows = grp.index.to_numpy()
        cut_xy = (np.column_stack([np.interp(a, cum, xy[:, 0]), np.interp(a, cum, xy[:, 1])]) if at_xy is None
                  else at_xy[rows])
        at_start, at_end = a <= tolerance, a >= cum[-1] - tolerance
        points[rows] = np.where(at_start[:, None], xy[0], np.where(at_end[:, None], xy[-1], cut_xy))
        inner = ~(at_start | at_end)
        if not inner.any():
            continue
        cuts, first = np.unique(a[inner], return_index=True)
        bounds = np.concatenate([[0.0], cuts, [cum[-1]]])
        bxy = np.concatenate([xy[:1], cut_xy[inner][first], xy[-1:]])
        keep[e] = False
        for k in range(len(bounds) - 1):
            mid = (cum > bounds[k]) & (cum < bounds[k + 1])
            new_parts.append(shapely.linestrings(np.concatenate([bxy[k:k + 1], xy[mid], bxy[k + 1:k + 2]])))
            new_levels.append(levels[e])
    if not new_parts:
        return parts, levels, points
    return (np.concatenate([parts[keep], np.array(new_parts, dtype=object)]),
            np.concatenate([levels[keep], np.array(new_levels, dtype=levels.dtype)]), points)


def _close_gaps(parts: np.ndarray, levels: np.ndarray, nodes: np.ndarray, gaps: pd.DataFrame,
                tolerance: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Split each target line where a gap meets it and add a connector from the dead end
    (returns the new lines, their levels and how many connectors were added)."""
    edge = gaps["edge"].to_numpy()
    lev = levels[edge]
    parts, levels, points = _split_lines(parts, levels, edge, gaps["along_m"].to_numpy(), tolerance)
    connectors = shapely.linestrings(np.stack([nodes[gaps["node"].to_numpy()], points], axis=1))
    # two dead ends facing each other across a gap would get the same connector twice
    once = ~pd.Series(shapely.to_wkb(shapely.normalize(connectors))).duplicated().to_numpy()
    return (np.concatenate([parts, connectors[once]]), np.concatenate([levels, lev[once]]), int(once.sum()))


def _join_level_ends(parts: np.ndarray, levels: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Split lines where a line of another level ends on them (a bridge or ramp landing on a street,
    an OSM way ending at a node inside a way of another ``layer``), so the two connect there."""
    if len(parts) == 0 or len(np.unique(levels)) < 2:
        return parts, levels
    n = len(parts)
    ends = np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)])
    owner = np.concatenate([np.arange(n), np.arange(n)])
    pi, pj = shapely.STRtree(parts).query(ends, predicate="dwithin", distance=tolerance)
    ok = levels[owner[pi]] != levels[pj]
    pi, pj = pi[ok], pj[ok]
    along = shapely.line_locate_point(parts[pj], ends[pi])
    inner = (along > tolerance) & (along < shapely.length(parts[pj]) - tolerance)
    if not inner.any():
        return parts, levels
    pi, pj, along = pi[inner], pj[inner], along[inner]
    parts, levels, _ = _split_lines(parts, levels, pj, along, tolerance, at_xy=shapely.get_coordinates(ends[pi]))
    return parts, levels


#: snap-rounding grid (m) used when GEOS's floating-point noder does not converge
NODING_GRID_M = 0.01


def _level_codes(levels, n: int) -> np.ndarray:
    """Levels as integer codes (missing = the level of the first line without one), as node_lines does."""
    return np.zeros(n, dtype=np.int64) if levels is None else pd.factorize(pd.Series(levels).fillna(0))[0]


def _ends(parts: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes (line end points merged within ``tolerance``) and the end nodes ``u``, ``v`` of every line."""
    n_coords = shapely.get_num_coordinates(parts)
    coords = shapely.get_coordinates(parts)
    last = np.cumsum(n_coords) - 1
    first = last - n_coords + 1
    nodes, inv = _unique_xy(np.concatenate([coords[first], coords[last]]), tolerance)
    return nodes, inv[: len(parts)], inv[len(parts):]


def _unique_xy(xy: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of ``xy`` after rounding to ``tol``; returns (first coordinates, inverse)."""
    key = np.round(xy / tol).astype(np.int64)
    order = np.lexsort((key[:, 1], key[:, 0]))
    k = key[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = (k[1:] != k[:-1]).any(axis=1)
    group = np.cumsum(new) - 1
    inverse = np.empty(len(xy), dtype=np.int64)
    inverse[order] = group
    return xy[order][new], inverse


def build_network(
    lines: GeoDataFrame | GeoSeries,
    *,
    node: bool = True,
    level_column: str | None = None,
    components: str = "keep",
    tolerance: float = 1e-3,
    close_gaps_m: float = 0.0,
) -> Network:
    """Build a routable walking network from a line layer.

    Parameters
    ----------
    lines : GeoDataFrame or GeoSeries
        (Multi)LineStrings in a metric CRS.
    node : bool, keyword-only
        Split lines where they cross without a shared vertex (default True).
    level_column : str, optional, keyword-only
        A column telling bridges/tunnels apart (e.g. OSM ``layer``); lines of
        different levels connect only where one ends on the other (a ramp landing
        on a street), never where they merely cross.
    components : {"keep", "largest"}, keyword-only
        Keep every connected component (default; all are reported) or drop all
        but the largest.
    tolerance : float, keyword-only
        End points closer than this (metres, rounded to a grid) are one node.
    close_gaps_m : float, keyword-only
        Connect dead ends that stop at most this far short of another street of
        the same level (undershoots in digitised centrelines): the street is split
        where the gap meets it and a connector is added. Default 0: none are
        closed; dead ends within :data:`GAP_REPORT_M` of a street are listed in
        ``Network.gaps`` either way.

    Returns
    -------
    Network

    Examples
    --------
    >>> from shapely import LineString
    >>> lines = GeoSeries([LineString([(0, 0), (100, 0)]), LineString([(500, 0), (600, 0)])], crs=4549)
    >>> net = build_network(lines)
    >>> net.components[["nodes", "main"]].values.tolist()
    [[2, True], [2, False]]
    >>> build_network(lines, components="largest").n_edges
    1
    """
    if components not in ("keep", "largest"):
        raise ValueError(f"components must be 'keep' or 'largest', not {components!r}")
    geoms, crs, _ = _as_lines(lines)
    levels = None
    if level_column is not None:
        if not isinstance(lines, GeoDataFrame) or level_column not in lines.columns:
            raise ValueError(f"level_column {level_column!r} is not a column of the network layer")
        levels = lines[level_column].to_numpy()
    # explode multi-part lines, drop empties and points
    parts, idx = shapely.get_parts(geoms, return_index=True)
    lev = None if levels is None else levels[idx]
    ok = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts) & (shapely.length(parts) > 0)
    parts = parts[ok]
    lev = None if lev is None else lev[ok]
    noded = 0
    if node:
        parts, lev, noded = node_lines(parts, levels=lev)
        parts, lev = _join_level_ends(parts, lev, tolerance)
        keep = shapely.length(parts) > 0
        parts, lev = parts[keep], lev[keep]
    else:
        lev = _level_codes(lev, len(parts))
    nodes, u, v = _ends(parts, tolerance)
    gaps = find_gaps(parts, u, v, nodes, within=max(close_gaps_m, GAP_REPORT_M), levels=lev, tolerance=tolerance)
    gaps["x"], gaps["y"] = nodes[gaps["node"], 0], nodes[gaps["node"], 1]
    closed = gaps["gap_m"].to_numpy() <= max(close_gaps_m, tolerance)  # within the node tolerance: always
    connectors = 0
    if closed.any():
        parts, lev, connectors = _close_gaps(parts, lev, nodes, gaps[closed], tolerance)
        nodes, u, v = _ends(parts, tolerance)
    open_gaps = gaps.loc[~closed, ["x", "y", "gap_m"]].reset_index(drop=True)
    length = shapely.length(parts)
    n = len(nodes)
    graph = _csr(u, v, length, n)
    ncomp, label = csgraph.connected_components(graph, directed=False)
    sizes = np.bincount(label, minlength=ncomp)
    # relabel components by size (0 = largest), stable by first node
    order = np.lexsort((np.arange(ncomp), -sizes))
    rank = np.empty(ncomp, dtype=np.int64)
    rank[order] = np.arange(ncomp)
    label = rank[label]
    sizes = sizes[order]
    elab = label[u]
    table = pd.DataFrame({
        "nodes": sizes,
        "edges": np.bincount(elab, minlength=ncomp),
        "length_m": np.bincount(elab, weights=length, minlength=ncomp),
    })
    table.index.name = "component"
    table["main"] = table.index == 0
    table["dropped"] = False
    if components == "largest" and ncomp > 1:
        table["dropped"] = table.index != 0
        keep_e = elab == 0
        keep_n = label == 0
        new_id = np.cumsum(keep_n) - 1
        nodes, u, v, length, parts = nodes[keep_n], new_id[u[keep_e]], new_id[v[keep_e]], length[keep_e], parts[keep_e]
        label = label[keep_n]
    net = Network(nodes=nodes, u=u, v=v, length=length, geometry=parts, component=label, components=table,
                  crs=crs, noded=noded, gaps_closed=connectors, gaps=open_gaps)
    if not table["dropped"].any():
        graph.sort_indices()
        net.__dict__["graph"] = graph  # the cached property: already built for the components
    return net


# --------------------------------------------------------------------------- snapping


@dataclass(frozen=True)
class Snap:
    """Where points meet the network.

    ``edge`` is -1 for points farther than the snap limit (or with empty
    geometry); ``offset`` is the distance along the edge from its ``u`` end;
    ``snap_m`` the distance from the point to the edge.
    """

    edge: np.ndarray
    offset: np.ndarray
    snap_m: np.ndarray
    max_snap_m: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> np.ndarray:
        return self.edge >= 0

    def subset(self, rows: np.ndarray) -> Snap:
        return Snap(self.edge[rows], self.offset[rows], self.snap_m[rows], self.max_snap_m)

    def legs(self, net: Network) -> dict:
        """Per snapped point (``rows``): its edge's end nodes ``u``/``v`` and the distances to them
        (snap leg included), and the points ordered by edge. Computed once per network."""
        legs = self._cache.get("legs")
        if legs is None or legs["net"] is not net:
            rows = np.flatnonzero(self.ok)
            e = self.edge[rows]
            to_u = self.snap_m[rows] + self.offset[rows]
            to_v = self.snap_m[rows] + (net.length[e] - self.offset[rows])
            by_edge = np.argsort(e, kind="stable")
            legs = {"net": net, "rows": rows, "u": net.u[e], "v": net.v[e], "to_u": to_u, "to_v": to_v,
                    "by_edge": by_edge, "edge_sorted": e[by_edge]}
            self._cache["legs"] = legs
        return legs

    def to_u(self, net: Network) -> np.ndarray:
        return np.where(self.ok, self.offset, np.nan)

    def to_v(self, net: Network) -> np.ndarray:
        e = np.clip(self.edge, 0, None)
        return np.where(self.ok, net.length[e] - self.offset, np.nan)

    def frame(self, index=None) -> pd.DataFrame:
        return pd.DataFrame({"edge": self.edge, "offset_m": self.offset, "snap_m": self.snap_m,
                             "snapped": self.ok}, index=index)


def _points(points) -> tuple[np.ndarray, np.ndarray | None]:
    """``(xy, geoms)``: coordinates (NaN for missing/empty) and the geometries, if given as such.

    Accepts a GeoSeries/GeoDataFrame, an array of shapely geometries (polygons and
    lines are represented by their centroid) or an ``(n, 2)`` array of coordinates.
    """
    if isinstance(points, GeoDataFrame):
        points = points.geometry
    g = np.asarray(points.values) if isinstance(points, GeoSeries) else np.asarray(points)
    if g.dtype != object:
        xy = np.asarray(g, dtype=np.float64)
        if xy.shape == (2,) or xy.size == 0:
            xy = xy.reshape(-1, 2)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"coordinates must be an (n, 2) array of x, y; got shape {xy.shape}")
        return xy, None
    typ = shapely.get_type_id(g)
    if ((typ != 0) & (typ >= 0)).any():
        g = np.where(typ == 0, g, shapely.centroid(g))
    xy = np.full((len(g), 2), np.nan)
    valid = ~(shapely.is_missing(g) | shapely.is_empty(g))
    if valid.any():
        xy[valid] = shapely.get_coordinates(g[valid])
    return xy, g


def snap_points(net: Network, points, *, max_snap_m: float = 200.0) -> Snap:
    """Snap points to the nearest point on an edge.

    Parameters
    ----------
    net : Network
    points : GeoSeries, GeoDataFrame, array of shapely geometries, or (n, 2) array of coordinates
        Polygons are represented by their centroid. Same CRS as ``net``.
    max_snap_m : float, keyword-only
        Points farther than this from every edge are not snapped (``edge == -1``).

    Returns
    -------
    Snap

    Examples
    --------
    >>> from shapely import LineString, Point
    >>> net = build_network(GeoSeries([LineString([(0, 0), (100, 0)])], crs=4549))
    >>> s = snap_points(net, [Point(30, 40), Point(50, 500)], max_snap_m=100)
    >>> s.edge.tolist(), s.offset.tolist(), s.snap_m.tolist()
    ([0, -1], [30.0, nan], [40.0, 500.0])
    >>> snap_points(net, np.array([[30.0, 40.0]])).offset.tolist()
    [30.0]
    """
    if isinstance(points, (GeoSeries, GeoDataFrame)) and points.crs is not None and net.crs is not None:
        if not points.crs.equals(net.crs):
            raise ValueError(f"points are in {points.crs.name!r} but the network is in {net.crs.name!r}; use to_crs() first")
    xy, g = _points(points)
    n = len(xy)
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.full(n, np.nan)
    snap_m = np.full(n, np.nan)
    if n == 0 or net.n_edges == 0:
        return Snap(edge, offset, snap_m, float(max_snap_m))
    valid = np.isfinite(xy).all(axis=1)
    vi = np.flatnonzero(valid)
    if len(vi) >= _FAST_SNAP_MIN:
        fe, fo, fd, exact = _snap_fast(net, xy[vi])
        done = exact & (fd <= max_snap_m)
        rows = vi[done]
        edge[rows], offset[rows], snap_m[rows] = fe[done], fo[done], fd[done]
        vi = vi[~done]
    if len(vi) == 0:
        return Snap(edge, offset, snap_m, float(max_snap_m))
    pts = shapely.points(xy[vi]) if g is None else g[vi]
    (pi, ei), dist = net.tree.query_nearest(pts, max_distance=max_snap_m, return_distance=True, all_matches=True)
    # equidistant edges (within _TIE_M; a point nearest to a node): the lowest edge id, as the fast path does
    order = np.lexsort((dist, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    group_min = dist[first][np.cumsum(first) - 1]
    tie = dist <= group_min + _TIE_M
    pi, ei, dist = pi[tie], ei[tie], dist[tie]
    order = np.lexsort((ei, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    pi, ei, dist = pi[first], ei[first], dist[first]
    rows = vi[pi]
    edge[rows] = ei
    snap_m[rows] = dist
    offset[rows] = np.clip(shapely.line_locate_point(net.geometry[ei], pts[pi]), 0.0, net.length[ei])
    # the distance to the edge of points beyond the limit, for the report
    far = np.flatnonzero(edge[vi] < 0)
    if len(far):
        (fi, _), fd = net.tree.query_nearest(pts[far], return_distance=True, all_matches=False)
        nearest = np.full(len(far), np.nan)
        nearest[fi] = fd
        snap_m[vi[far]] = nearest
    return Snap(edge, offset, snap_m, float(max_snap_m))


_FAST_SNAP_MIN = 2000  # points; below this the STRtree alone is as fast
_TIE_M = 1e-9  # edges this close to equidistant are a tie (the lowest edge id wins)
_SAMPLE_M = 20.0
_K = 8
_CHUNK = 65_536  # points per KD-tree batch: the working set stays in cache and memory is reused


def _segments(net: Network) -> dict:
    """The 2-point segments of every edge and a KD-tree of sample points on them.

    Segment ``c`` runs from vertex ``c`` to ``c + 1`` of the edges' concatenated
    coordinates. The samples are the midpoints of pieces ≤ ``_SAMPLE_M`` long, so
    every point of a segment is within ``half`` (half a piece) of one of its samples.
    """
    seg = net._cache.get("segments")
    if seg is not None:
        return seg
    from scipy.spatial import cKDTree

    coords, idx = shapely.get_coordinates(net.geometry, return_index=True)
    idx = idx.astype(np.int32 if net.n_edges < 2**31 else np.int64)
    c = np.flatnonzero(idx[1:] == idx[:-1])  # segment starts
    ln = np.hypot(*(np.take(coords, c + 1, axis=0) - np.take(coords, c, axis=0)).T)
    along = np.zeros(len(coords))  # distance of every vertex along its edge
    along[c + 1] = ln
    np.cumsum(along, out=along)
    edge_start = np.flatnonzero(np.concatenate([[True], idx[1:] != idx[:-1]]))  # each edge's first vertex
    along -= np.repeat(along[edge_start], np.diff(np.append(edge_start, len(idx))))
    n_s = np.maximum(np.ceil(ln / _SAMPLE_M), 1.0)
    counts = n_s.astype(np.int64)
    ends = np.cumsum(counts)
    half = float((ln / n_s).max()) / 2.0 if len(ln) else 0.0
    # samples in batches of segments: the temporaries stay small and are reused
    total = int(ends[-1]) if len(ends) else 0
    pts = np.empty((total, 2))
    start = np.empty(total, dtype=np.int32 if len(coords) < 2**31 else np.int64)
    for lo in range(0, len(c), _CHUNK):
        hi = min(lo + _CHUNK, len(c))
        cnt = counts[lo:hi]
        first = ends[lo] - cnt[0]
        a = np.take(coords, c[lo:hi], axis=0)
        step = np.take(coords, c[lo:hi] + 1, axis=0) - a
        step /= n_s[lo:hi, None]
        a += 0.5 * step  # the first sample of each segment
        k = np.ones(int(ends[hi - 1] - first))  # sample number within its segment
        k[0] = 0.0
        k[(ends[lo:hi - 1] - first)] = 1.0 - cnt[:-1]
        np.cumsum(k, out=k)
        out = pts[first:ends[hi - 1]]
        out[:] = np.repeat(a, cnt, axis=0)
        out += np.repeat(step, cnt, axis=0) * k[:, None]
        start[first:ends[hi - 1]] = np.repeat(c[lo:hi], cnt)
    seg = {"coords": coords, "edge": idx, "along": along, "start": start, "half": half,
           "tree": cKDTree(pts, leafsize=16, balanced_tree=False, compact_nodes=False)}
    net._cache["segments"] = seg
    return seg


def _snap_k(seg: dict, xy: np.ndarray, k: int):
    """Nearest of the segments of the ``k`` nearest samples; ``exact`` where no other segment can be
    as near (every sample not returned is farther than the best distance + half a piece)."""
    sd, si = seg["tree"].query(xy, k=k, workers=-1)
    if k == 1:
        sd, si = sd[:, None], si[:, None]
    cand = seg["start"][si]  # (n, k) segment starts (vertex positions)
    coords = seg["coords"]
    a = np.take(coords, cand, axis=0)  # (n, k, 2); take: much faster than fancy indexing of rows
    d = np.take(coords, cand + 1, axis=0)
    d -= a
    r = xy[:, None, :] - a
    dd = np.einsum("nkj,nkj->nk", d, d)
    t = np.einsum("nkj,nkj->nk", r, d)
    t /= np.where(dd > 0, dd, 1.0)
    np.clip(t, 0.0, 1.0, out=t)
    r -= d * t[..., None]
    d2 = np.einsum("nkj,nkj->nk", r, r)  # squared distance to each candidate segment
    # the closest; ties (within 1e-9 m, e.g. a point nearest to a node): the lowest edge id, as the
    # STRtree path does
    dmin = np.sqrt(d2.min(axis=1))
    tie = d2 <= ((dmin + _TIE_M) ** 2)[:, None]
    ce = seg["edge"][cand]
    best = np.argmin(np.where(tie, ce, np.iinfo(ce.dtype).max), axis=1)
    rows = np.arange(len(xy))
    bd = np.sqrt(d2[rows, best])
    bc = cand[rows, best]
    exact = sd[:, -1] > bd + seg["half"] + 2 * _TIE_M + 1e-6  # + a margin for rounding
    off = seg["along"][bc] + t[rows, best] * np.sqrt(dd[rows, best])
    return seg["edge"][bc], off, bd, exact


def _snap_fast(net: Network, xy: np.ndarray):
    """Nearest edge point via a KD-tree of segment samples (k = 8, then 32 where 8 cannot
    prove the answer); ``exact`` is False where neither can (those go to the STRtree).

    The points are queried in spatial order (cells of 8 sample spacings) and in
    batches, which keeps the KD-tree walk and the segment look-ups cache-friendly."""
    seg = _segments(net)
    n_samples = seg["tree"].n
    cell = 8 * _SAMPLE_M
    cx = np.floor((xy[:, 0] - xy[:, 0].min()) / cell).astype(np.int64)
    cy = np.floor((xy[:, 1] - xy[:, 1].min()) / cell).astype(np.int64)
    order = np.argsort(cx * (int(cy.max()) + 1) + cy, kind="stable")
    n = len(xy)
    edge, offset = np.empty(n, dtype=np.int64), np.empty(n)
    dist, ok = np.empty(n), np.empty(n, dtype=bool)
    for lo in range(0, n, _CHUNK):
        rows = order[lo:lo + _CHUNK]
        sxy = np.take(xy, rows, axis=0)
        e, off, bd, exact = _snap_k(seg, sxy, min(_K, n_samples))
        redo = np.flatnonzero(~exact)
        if len(redo) and n_samples > _K:
            e2, off2, bd2, ex2 = _snap_k(seg, sxy[redo], min(4 * _K, n_samples))
            e[redo], off[redo], bd[redo], exact[redo] = e2, off2, bd2, ex2
        edge[rows], offset[rows], dist[rows], ok[rows] = e, off, bd, exact
    np.clip(offset, 0.0, net.length[edge], out=offset)
    return edge, offset, dist, ok


# --------------------------------------------------------------------------- distances


def _virtual(net: Network, snap: Snap, which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-way edges from virtual source nodes n+k to both ends of each (snapped) source's edge."""
    legs = snap.legs(net)
    at = np.searchsorted(legs["rows"], which)
    k = np.arange(len(which)) + net.n_nodes
    return (np.concatenate([k, k]), np.concatenate([legs["u"][at], legs["v"][at]]),
            np.concatenate([legs["to_u"][at], legs["to_v"][at]]))


def node_distances(net: Network, sources: Snap, *, limit: float = np.inf, groups: np.ndarray | None = None,
                   min_only: bool = True):
    """Distance from the nearest snapped source to every node (multi-source Dijkstra).

    Parameters
    ----------
    net : Network
    sources : Snap
        Snapped sources; unsnapped ones are ignored.
    limit : float, keyword-only
        Search radius in metres; farther nodes get ``inf``.
    groups : ndarray of bool, optional, keyword-only
        Use only the sources where this mask (aligned with ``sources``) is true.
    min_only : bool, keyword-only
        True: one array (nearest source); False: one row per snapped source.

    Returns
    -------
    dist : ndarray
        Shape (n_nodes,) or (n_sources_snapped, n_nodes).
    source : ndarray of int
        With ``min_only``: the position (in ``sources``) of the nearest source of each node, -1 if none.
    """
    graph, full = augmented_graph(net, sources)
    which = full if groups is None else full[np.asarray(groups, dtype=bool)[full]]
    return dijkstra_from(net, graph, which, limit=limit, min_only=min_only, all_sources=full)


def augmented_graph(net: Network, sources: Snap) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The network graph plus one virtual node per snapped source (node ``n_nodes + rank``).

    Build it once and run :func:`dijkstra_from` for any subset of the sources
    (e.g. one facility type, or the facilities of one community).

    Returns
    -------
    graph : csr_matrix
    which : ndarray of int
        Positions (in ``sources``) of the snapped sources, in virtual-node order.
    """
    which = np.flatnonzero(sources.ok)
    if len(which) == 0:
        return net.graph, which
    # the network's CSR rows, then one row per virtual node with its (at most 2) one-way edges
    base = net.graph
    n, m = net.n_nodes, len(which)
    _, cols, w = _virtual(net, sources, which)
    cu, cv, wu, wv = cols[:m], cols[m:], np.maximum(w[:m], _EPS), np.maximum(w[m:], _EPS)
    swap = cv < cu
    lo, hi = np.where(swap, cv, cu), np.where(swap, cu, cv)
    wlo, whi = np.where(swap, wv, wu), np.where(swap, wu, wv)
    loop = lo == hi  # a source on a loop edge: one edge, the shorter leg
    wlo = np.where(loop, np.minimum(wlo, whi), wlo)
    cnt = np.where(loop, 1, 2)
    vcols = np.column_stack([lo, hi]).ravel()
    vdata = np.column_stack([wlo, whi]).ravel()
    keep = np.column_stack([np.ones(m, dtype=bool), ~loop]).ravel()
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(cnt)])
    idx_dtype = np.int64 if len(indptr) and indptr[-1] > np.iinfo(np.int32).max else np.int32
    graph = sparse.csr_matrix((np.concatenate([base.data, vdata[keep]]),
                               np.concatenate([base.indices, vcols[keep]]).astype(idx_dtype),
                               indptr.astype(idx_dtype)), shape=(n + m, n + m))
    graph.has_sorted_indices = True
    return graph, which


def dijkstra_from(net: Network, graph: sparse.csr_matrix, which: np.ndarray, *, limit: float = np.inf,
                  min_only: bool = True, all_sources: np.ndarray | None = None):
    """Multi-source Dijkstra from the sources at positions ``which``.

    ``all_sources`` is the ``which`` returned by :func:`augmented_graph` (defaults
    to ``which``: the graph was built for exactly these sources).
    """
    return _dijkstra(graph, net.n_nodes, which, limit, min_only, all_sources)


def _dijkstra(graph, n_nodes: int, which, limit, min_only=True, all_sources=None, nearest=True):
    base = which if all_sources is None else all_sources
    if len(which) == 0:
        shape = (n_nodes,) if min_only else (0, n_nodes)
        return np.full(shape, np.inf), (np.full(n_nodes, -1) if nearest else None)
    idx = np.searchsorted(base, which) + n_nodes
    pad = limit * (1 + 1e-12) + 1e-6 if np.isfinite(limit) else np.inf
    if min_only and not nearest:  # no predecessors to track: ~15 % faster
        return csgraph.dijkstra(graph, directed=True, indices=idx, limit=pad, min_only=True)[:n_nodes], None
    if min_only:
        dist, _, src = csgraph.dijkstra(graph, directed=True, indices=idx, limit=pad, min_only=True,
                                        return_predecessors=True)
        src = src[:n_nodes]
        src_pos = np.where(src >= 0, base[np.clip(src - n_nodes, 0, None)], -1)
        return dist[:n_nodes], src_pos
    dist = csgraph.dijkstra(graph, directed=True, indices=idx, limit=pad)
    return dist[:, :n_nodes], None


_PARALLEL_MIN_NODES = 200_000  # smaller networks: a worker process costs more than it saves


def dijkstra_groups(net: Network, graph: sparse.csr_matrix, groups: list[tuple[np.ndarray, float]], *,
                    all_sources: np.ndarray | None = None, workers: int | None = None, nearest: bool = True) -> list:
    """Start one multi-source Dijkstra (:func:`dijkstra_from`) per source group, e.g. one per facility type.

    SciPy's Dijkstra holds the GIL, so several runs use several cores only as
    processes: the runs go to forked worker processes (which share the graph
    copy-on-write) and the caller can do other work, such as snapping the
    households, while they run.

    Parameters
    ----------
    net : Network
    graph, all_sources : from :func:`augmented_graph`
    groups : list of (which, limit)
        Source positions and search radius of each run.
    nearest : bool, keyword-only
        Also find each node's nearest source (default); False: distances only.
    workers : int, optional, keyword-only
        Worker processes. Default: one per CPU when the network has at least
        200,000 nodes, there are several groups, and this process can fork
        safely (POSIX ``fork``, no other Python threads running); 0 or 1 runs
        them here, one after the other.

    Returns
    -------
    list
        One handle per group, in order; ``.result()`` gives ``(node_d, node_src)``
        (``node_src`` None without ``nearest``).
    """
    if workers is None:
        workers = _fork_workers(net.n_nodes, len(groups))
    local = [partial(_dijkstra, graph, net.n_nodes, which, limit, True, all_sources, nearest) for which, limit in groups]
    if workers <= 1 or len(groups) <= 1:
        done = []
        for run in local:
            f = Future()
            f.set_result(run())
            done.append(f)
        return done
    pool = ProcessPoolExecutor(max_workers=min(workers, len(groups)), mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker_init, initargs=(graph, net.n_nodes, all_sources))
    # the biggest runs first, so that the workers finish together
    order = sorted(range(len(groups)), key=lambda i: -len(groups[i][0]) * min(groups[i][1], 1e9) ** 2)
    with warnings.catch_warnings():
        # Python >= 3.12 warns on fork whenever any OS thread exists (BLAS pools do); no other Python
        # thread runs (checked above, unless workers were asked for) and the workers only run SciPy's Dijkstra
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        futures = {i: pool.submit(_worker_dijkstra, groups[i][0], groups[i][1], nearest) for i in order}
    pool.shutdown(wait=False)
    return [_Pending(futures[i], local[i]) for i in range(len(groups))]


def _fork_workers(n_nodes: int, n_groups: int) -> int:
    if n_groups < 2 or n_nodes < _PARALLEL_MIN_NODES:
        return 0
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cpus, n_groups)


_WORKER: tuple = ()


def _worker_init(graph, n_nodes, all_sources) -> None:
    global _WORKER
    _WORKER = (graph, n_nodes, all_sources)


def _worker_dijkstra(which, limit, nearest):
    graph, n_nodes, all_sources = _WORKER
    d, src = _dijkstra(graph, n_nodes, which, limit, True, all_sources, nearest)
    if src is not None and len(src) and src.max() < 2**31:
        src = src.astype(np.int32)  # less to send back
    return d, src


@dataclass(frozen=True)
class _Pending:
    future: Future
    fallback: Callable[[], tuple]

    def result(self) -> tuple:
        if self.future.cancel():  # no worker has taken it yet: run it here rather than wait
            return self.fallback()
        try:
            return self.future.result()
        except BrokenProcessPool:  # a worker died (e.g. killed for memory): run it here
            return self.fallback()


def network_distance(
    net: Network,
    targets,
    sources,
    *,
    limit: float = np.inf,
    max_snap_m: float = 200.0,
    target_snap: Snap | None = None,
    source_snap: Snap | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact network distance from each target to its nearest source.

    The distance is snap leg (target → edge) + along the network + snap leg
    (edge → source); targets and sources on the same edge also reach each other
    directly along it.

    Parameters
    ----------
    net : Network
    targets, sources : GeoSeries or arrays of points (ignored when the snaps are given)
    limit : float, keyword-only
        Distances beyond this are ``inf``.
    max_snap_m : float, keyword-only
        Snap limit for points snapped here.
    target_snap, source_snap : Snap, optional
        Reuse snaps computed once (e.g. households snapped for several types).

    Returns
    -------
    dist : ndarray of float
        ``inf`` beyond ``limit``, for unsnapped targets and without any reachable source.
    nearest : ndarray of int
        Position in ``sources`` of the nearest source, -1 when none.

    Examples
    --------
    A cul-de-sac: a one-edge spur (0,0)–(0,100) off a street; the facility sits on
    the spur, the household 30 m along the street from the junction.

    >>> from shapely import LineString, Point
    >>> net = build_network(GeoSeries([LineString([(0, 0), (0, 100)]), LineString([(-100, 0), (100, 0)])], crs=4549))
    >>> d, _ = network_distance(net, [Point(30, 0)], [Point(0, 60)])
    >>> float(d[0])
    90.0
    """
    ts = target_snap if target_snap is not None else snap_points(net, targets, max_snap_m=max_snap_m)
    ss = source_snap if source_snap is not None else snap_points(net, sources, max_snap_m=max_snap_m)
    node_d, node_src = node_distances(net, ss, limit=limit)
    return target_distances(net, ts, ss, node_d, node_src, limit=limit)


def target_distances(net: Network, targets: Snap, sources: Snap, node_d: np.ndarray, node_src: np.ndarray | None,
                     *, limit: float = np.inf, source_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each snapped target to its nearest source, given the sources' node distances.

    The best of: via the ``u`` end of the target's edge, via its ``v`` end, and
    directly along the edge from a source snapped to the same edge.

    Parameters
    ----------
    net : Network
    targets, sources : Snap
    node_d, node_src : ndarray
        From :func:`dijkstra_from` (``node_src`` may be None when only distances are needed).
    limit : float, keyword-only
        Distances beyond this are ``inf``.
    source_mask : ndarray of bool, optional, keyword-only
        The sources (aligned with ``sources``) the node distances were computed from.

    Returns
    -------
    dist : ndarray of float
    nearest : ndarray of int
        Position in ``sources`` of the nearest source, -1 when none.
    """
    n = len(targets.edge)
    dist = np.full(n, np.inf)
    nearest = np.full(n, -1, dtype=np.int64)
    legs = targets.legs(net)
    ok, u, v = legs["rows"], legs["u"], legs["v"]
    if len(ok) == 0:
        return dist, nearest
    du = node_d[u]
    du += legs["to_u"]
    dv = node_d[v]
    dv += legs["to_v"]
    use_v = dv < du
    best = np.where(use_v, dv, du)
    who = None
    if node_src is not None:
        who = np.where(use_v, node_src[v], node_src[u])
    # sources on a target's own edge reach it directly along the edge
    src_ok = sources.ok if source_mask is None else (sources.ok & source_mask)
    s_idx = np.flatnonzero(src_ok)
    if len(s_idx):
        te = legs["edge_sorted"]
        lo = np.searchsorted(te, sources.edge[s_idx], side="left")
        cnt = np.searchsorted(te, sources.edge[s_idx], side="right") - lo
        has = np.flatnonzero(cnt > 0)
        if len(has):
            c = cnt[has]
            src = np.repeat(s_idx[has], c)
            within = np.arange(len(src)) - np.repeat(np.cumsum(c) - c, c)
            tpos = legs["by_edge"][np.repeat(lo[has], c) + within]  # positions in ``rows``
            t = ok[tpos]
            direct = targets.snap_m[t] + np.abs(targets.offset[t] - sources.offset[src]) + sources.snap_m[src]
            # the nearest per target (ties: the lowest source position)
            o = np.lexsort((src, direct, tpos))
            tpos, direct, src = tpos[o], direct[o], src[o]
            first = np.ones(len(tpos), dtype=bool)
            first[1:] = tpos[1:] != tpos[:-1]
            tpos, direct, src = tpos[first], direct[first], src[first]
            better = direct < best[tpos]
            best[tpos[better]] = direct[better]
            if who is not None:
                who[tpos[better]] = src[better]
    keep = best <= limit * (1 + 1e-12) + 1e-6 if np.isfinite(limit) else np.isfinite(best)
    dist[ok[keep]] = best[keep]
    if who is not None:
        nearest[ok[keep]] = who[keep]
    return dist, nearest


def reachable_pieces(net: Network, node_d: np.ndarray, radius: float, *, start_edge: int = -1,
                     start_offset: float = 0.0, start_budget: float = 0.0) -> np.ndarray:
    """The edge pieces within ``radius`` given node distances from one source.

    Whole edges whose both ends are near enough, partial edges from either end,
    and the stretch of the source's own edge reachable directly.

    Returns
    -------
    ndarray of LineStrings
    """
    du, dv = node_d[net.u], node_d[net.v]
    ru = np.clip(radius - du, 0, None)
    rv = np.clip(radius - dv, 0, None)
    ru[~np.isfinite(du)] = 0
    rv[~np.isfinite(dv)] = 0
    L = net.length
    whole = (ru + rv >= L) & ((ru > 0) | (rv > 0))
    out = [net.geometry[whole]]
    part_u = np.flatnonzero(~whole & (ru > 0))
    part_v = np.flatnonzero(~whole & (rv > 0))
    pieces = []
    for i in part_u:
        pieces.append(shapely.ops.substring(net.geometry[i], 0.0, float(ru[i])))
    for i in part_v:
        pieces.append(shapely.ops.substring(net.geometry[i], float(L[i] - rv[i]), float(L[i])))
    if start_edge >= 0 and start_budget > 0:
        pieces.append(shapely.ops.substring(net.geometry[start_edge], max(0.0, start_offset - start_budget),
                                            min(float(L[start_edge]), start_offset + start_budget)))
    if pieces:
        out.append(np.array(pieces, dtype=object))
    return np.concatenate(out) if out else np.array([], dtype=object)
