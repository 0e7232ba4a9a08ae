"""Building a :class:`~gridmap.network.Network` from a line layer: noding, levels, gaps, components.

* Lines whose intersection is anything but shared end points are noded with
  :func:`shapely.node` (:func:`node_lines`); lines of different levels (bridges,
  tunnels) are only connected where one ends on the other.
* Dead ends that stop short of another street are found (:func:`find_gaps`)
  and, up to ``close_gaps_m``, connected.
* Line ends within the node tolerance are one node; every connected component
  is reported (``components="largest"`` drops all but the largest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries
from scipy.sparse import csgraph

from gridmap.crs import require_metric
from gridmap.network.graph import Network, csr_graph

__all__ = ["build_network", "node_lines", "find_gaps", "GAP_REPORT_M", "NODING_GRID_M"]

#: line ends closer than this to another street without touching it are reported (metres)
GAP_REPORT_M = 5.0

#: snap-rounding grid (m) used when GEOS's floating-point noder does not converge
NODING_GRID_M = 0.01


def _as_lines(lines) -> tuple[np.ndarray, object, pd.Index]:
    if isinstance(lines, GeoDataFrame):
        geoms = lines.geometry
    elif isinstance(lines, GeoSeries):
        geoms = lines
    else:
        raise TypeError(
            f"expected a GeoDataFrame or GeoSeries of lines, got {type(lines).__name__}"
        )
    require_metric(geoms, what="路网长度")
    return np.asarray(geoms.values), geoms.crs, geoms.index


def node_lines(
    geoms: np.ndarray, *, levels: np.ndarray | None = None, precise: bool = False
) -> tuple[np.ndarray, np.ndarray, int]:
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
            return node_lines(
                shapely.set_precision(geoms, NODING_GRID_M), levels=levels, precise=True
            )
        pieces.append(noded)
        piece_level.append(np.full(len(noded), level))
    return np.concatenate(pieces), np.concatenate(piece_level), int(dirty.sum())


def find_gaps(
    parts: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    nodes: np.ndarray,
    *,
    within: float,
    levels: np.ndarray | None = None,
    tolerance: float = 1e-3,
) -> pd.DataFrame:
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
    cols = {
        "node": np.array([], dtype=np.int64),
        "edge": np.array([], dtype=np.int64),
        "gap_m": np.array([]),
        "along_m": np.array([]),
    }
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
    # not kept for snapping: freeing it leaves memory the snapping index reuses
    # (measured ~0.25 s at 1.7 M edges)
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


def _split_lines(
    parts: np.ndarray,
    levels: np.ndarray,
    edge: np.ndarray,
    along: np.ndarray,
    tolerance: float,
    at_xy: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        cut_xy = (
            np.column_stack([np.interp(a, cum, xy[:, 0]), np.interp(a, cum, xy[:, 1])])
            if at_xy is None
            else at_xy[rows]
        )
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
            new_parts.append(
                shapely.linestrings(np.concatenate([bxy[k : k + 1], xy[mid], bxy[k + 1 : k + 2]]))
            )
            new_levels.append(levels[e])
    if not new_parts:
        return parts, levels, points
    return (
        np.concatenate([parts[keep], np.array(new_parts, dtype=object)]),
        np.concatenate([levels[keep], np.array(new_levels, dtype=levels.dtype)]),
        points,
    )


def _close_gaps(
    parts: np.ndarray, levels: np.ndarray, nodes: np.ndarray, gaps: pd.DataFrame, tolerance: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Split each target line where a gap meets it and add a connector from the dead end.

    Returns the new lines, their levels and how many connectors were added.
    """
    edge = gaps["edge"].to_numpy()
    lev = levels[edge]
    parts, levels, points = _split_lines(parts, levels, edge, gaps["along_m"].to_numpy(), tolerance)
    connectors = shapely.linestrings(np.stack([nodes[gaps["node"].to_numpy()], points], axis=1))
    # two dead ends facing each other across a gap would get the same connector twice
    once = ~pd.Series(shapely.to_wkb(shapely.normalize(connectors))).duplicated().to_numpy()
    return (
        np.concatenate([parts, connectors[once]]),
        np.concatenate([levels, lev[once]]),
        int(once.sum()),
    )


def _join_level_ends(
    parts: np.ndarray, levels: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split lines where a line of another level ends on them, so the two connect there.

    E.g. a bridge or ramp landing on a street, an OSM way ending at a node
    inside a way of another ``layer``.
    """
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
    parts, levels, _ = _split_lines(
        parts, levels, pj, along, tolerance, at_xy=shapely.get_coordinates(ends[pi])
    )
    return parts, levels


def _level_codes(levels, n: int) -> np.ndarray:
    """Levels as integer codes (missing = the level of the first line without one)."""
    if levels is None:
        return np.zeros(n, dtype=np.int64)
    return pd.factorize(pd.Series(levels).fillna(0))[0]


def _ends(
    parts: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nodes (line ends merged within ``tolerance``) and the end nodes ``u``, ``v`` of each line.

    Also the lines' coordinates and how many each has (kept for the snapping index).
    """
    n_coords = shapely.get_num_coordinates(parts)
    coords = shapely.get_coordinates(parts)
    last = np.cumsum(n_coords) - 1
    first = last - n_coords + 1
    nodes, inv = _unique_xy(np.concatenate([coords[first], coords[last]]), tolerance)
    return nodes, inv[: len(parts)], inv[len(parts) :], coords, n_coords


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
    >>> lines = GeoSeries([LineString([(0, 0), (100, 0)]), LineString([(500, 0), (600, 0)])],
    ...                   crs=4549)
    >>> net = build_network(lines)
    >>> net.components[["nodes", "main"]].values.tolist()
    [[2, True], [2, False]]
    >>> build_network(lines, components="largest").n_edges
    1
    """
    if components not in ("keep", "largest"):
        raise ValueError(f"components must be 'keep' or 'largest', not {components!r}")
    parts, lev, crs = _line_parts(lines, level_column)
    noded = 0
    if node:
        parts, lev, noded = node_lines(parts, levels=lev)
        parts, lev = _join_level_ends(parts, lev, tolerance)
        keep = shapely.length(parts) > 0
        parts, lev = parts[keep], lev[keep]
    else:
        lev = _level_codes(lev, len(parts))
    nodes, u, v, coords, n_coords = _ends(parts, tolerance)
    gaps = find_gaps(
        parts, u, v, nodes, within=max(close_gaps_m, GAP_REPORT_M), levels=lev, tolerance=tolerance
    )
    gaps["x"], gaps["y"] = nodes[gaps["node"], 0], nodes[gaps["node"], 1]
    # within the node tolerance: always closed
    closed = gaps["gap_m"].to_numpy() <= max(close_gaps_m, tolerance)
    connectors = 0
    if closed.any():
        parts, lev, connectors = _close_gaps(parts, lev, nodes, gaps[closed], tolerance)
        nodes, u, v, coords, n_coords = _ends(parts, tolerance)
    open_gaps = gaps.loc[~closed, ["x", "y", "gap_m"]].reset_index(drop=True)
    length = shapely.length(parts)
    graph = csr_graph(u, v, length, len(nodes))
    label, table = _components(graph, u, length)
    if components == "largest" and len(table) > 1:
        table["dropped"] = table.index != 0
        keep_e = label[u] == 0
        keep_n = label == 0
        new_id = np.cumsum(keep_n) - 1
        nodes, u, v = nodes[keep_n], new_id[u[keep_e]], new_id[v[keep_e]]
        length, parts, label = length[keep_e], parts[keep_e], label[keep_n]
        coords, n_coords = coords[np.repeat(keep_e, n_coords)], n_coords[keep_e]
    net = Network(
        nodes=nodes,
        u=u,
        v=v,
        length=length,
        geometry=parts,
        component=label,
        components=table,
        crs=crs,
        noded=noded,
        gaps_closed=connectors,
        gaps=open_gaps,
    )
    # the edges' coordinates, as the snapping index reads them (computed here anyway)
    net._cache["coords"] = (coords, n_coords)
    if not table["dropped"].any():
        graph.sort_indices()
        net.__dict__["graph"] = graph  # the cached property: already built for the components
    return net


def _line_parts(
    lines: GeoDataFrame | GeoSeries, level_column: str | None
) -> tuple[np.ndarray, np.ndarray | None, object]:
    """The single-part, non-empty lines of a layer, their level (or None) and the CRS."""
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
    return parts[ok], (None if lev is None else lev[ok]), crs


def _components(graph, u: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Component label of every node (0 = the largest) and the component table."""
    ncomp, label = csgraph.connected_components(graph, directed=False)
    sizes = np.bincount(label, minlength=ncomp)
    # relabel components by size (0 = largest), stable by first node
    order = np.lexsort((np.arange(ncomp), -sizes))
    rank = np.empty(ncomp, dtype=np.int64)
    rank[order] = np.arange(ncomp)
    label = rank[label]
    elab = label[u]
    table = pd.DataFrame(
        {
            "nodes": sizes[order],
            "edges": np.bincount(elab, minlength=ncomp),
            "length_m": np.bincount(elab, weights=length, minlength=ncomp),
        }
    )
    table.index.name = "component"
    table["main"] = table.index == 0
    table["dropped"] = False
    return label, table
