"""Exact network distances: sources as virtual nodes, multi-source Dijkstra, snap legs.

Sources enter the graph as virtual nodes with one-way edges to both ends of
their edge (:func:`augmented_graph`), so the result is exact, including a source
and a target on the same edge. One multi-source Dijkstra
(:func:`scipy.sparse.csgraph.dijkstra` with ``min_only=True`` and ``limit``)
gives every node its distance to the nearest source (:func:`dijkstra_from`);
:func:`target_distances` adds the targets' snap legs and the direct way along
a shared edge. :func:`network_distance` does all of it for two point sets.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from gridmap.network.graph import _EPS, Network
from gridmap.network.snap import Snap, snap_points

__all__ = [
    "network_distance",
    "node_distances",
    "augmented_graph",
    "virtual_edges",
    "dijkstra_from",
    "target_distances",
]


def virtual_edges(
    net: Network, snap: Snap, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-way edges from virtual source nodes ``n_nodes + k`` to both ends of their edge.

    Parameters
    ----------
    net : Network
    snap : Snap
    which : ndarray of int
        Positions (in ``snap``) of snapped sources; the k-th becomes node ``n_nodes + k``.

    Returns
    -------
    (rows, cols, weights)
        Two edges per source (to ``u``, then to ``v``), weights including the snap leg.
    """
    legs = snap.legs(net)
    at = np.searchsorted(legs["rows"], which)
    k = np.arange(len(which)) + net.n_nodes
    return (
        np.concatenate([k, k]),
        np.concatenate([legs["u"][at], legs["v"][at]]),
        np.concatenate([legs["to_u"][at], legs["to_v"][at]]),
    )


def node_distances(
    net: Network,
    sources: Snap,
    *,
    limit: float = np.inf,
    groups: np.ndarray | None = None,
    min_only: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
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
        With ``min_only``: the position (in ``sources``) of the nearest source of
        each node, -1 if none; else None.
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
    _, cols, w = virtual_edges(net, sources, which)
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
    graph = sparse.csr_matrix(
        (
            np.concatenate([base.data, vdata[keep]]),
            np.concatenate([base.indices, vcols[keep]]).astype(idx_dtype),
            indptr.astype(idx_dtype),
        ),
        shape=(n + m, n + m),
    )
    graph.has_sorted_indices = True
    return graph, which


def dijkstra_from(
    net: Network,
    graph: sparse.csr_matrix,
    which: np.ndarray,
    *,
    limit: float = np.inf,
    min_only: bool = True,
    all_sources: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Multi-source Dijkstra from the sources at positions ``which``.

    ``all_sources`` is the ``which`` returned by :func:`augmented_graph` (defaults
    to ``which``: the graph was built for exactly these sources).

    Returns
    -------
    dist : ndarray
        Shape (n_nodes,) with ``min_only``, else (len(which), n_nodes).
    source : ndarray of int or None
        With ``min_only``: the position of each node's nearest source, -1 if none.
    """
    return _dijkstra(graph, net.n_nodes, which, limit, min_only, all_sources)


def _dijkstra(
    graph: sparse.csr_matrix,
    n_nodes: int,
    which: np.ndarray,
    limit: float,
    min_only: bool = True,
    all_sources: np.ndarray | None = None,
    nearest: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The Dijkstra run behind :func:`dijkstra_from` (and the worker processes)."""
    base = which if all_sources is None else all_sources
    if len(which) == 0:
        shape = (n_nodes,) if min_only else (0, n_nodes)
        return np.full(shape, np.inf), (np.full(n_nodes, -1) if nearest else None)
    idx = np.searchsorted(base, which) + n_nodes
    pad = limit * (1 + 1e-12) + 1e-6 if np.isfinite(limit) else np.inf
    if min_only and not nearest:  # no predecessors to track: ~15 % faster
        dist = csgraph.dijkstra(graph, directed=True, indices=idx, limit=pad, min_only=True)
        return dist[:n_nodes], None
    if min_only:
        dist, _, src = csgraph.dijkstra(
            graph, directed=True, indices=idx, limit=pad, min_only=True, return_predecessors=True
        )
        src = src[:n_nodes]
        src_pos = np.where(src >= 0, base[np.clip(src - n_nodes, 0, None)], -1)
        return dist[:n_nodes], src_pos
    dist = csgraph.dijkstra(graph, directed=True, indices=idx, limit=pad)
    return dist[:, :n_nodes], None


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
    >>> from geopandas import GeoSeries
    >>> from gridmap.network import build_network
    >>> net = build_network(GeoSeries([LineString([(0, 0), (0, 100)]),
    ...                                LineString([(-100, 0), (100, 0)])], crs=4549))
    >>> d, _ = network_distance(net, [Point(30, 0)], [Point(0, 60)])
    >>> float(d[0])
    90.0
    """
    ts = (
        target_snap if target_snap is not None else snap_points(net, targets, max_snap_m=max_snap_m)
    )
    ss = (
        source_snap if source_snap is not None else snap_points(net, sources, max_snap_m=max_snap_m)
    )
    node_d, node_src = node_distances(net, ss, limit=limit)
    return target_distances(net, ts, ss, node_d, node_src, limit=limit)


def target_distances(
    net: Network,
    targets: Snap,
    sources: Snap,
    node_d: np.ndarray,
    node_src: np.ndarray | None,
    *,
    limit: float = np.inf,
    source_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
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
    nearest = np.full(n, -1, dtype=np.int64)
    legs = targets.legs(net)
    ok, u, v = legs["rows"], legs["u"], legs["v"]
    if len(ok) == 0:
        return np.full(n, np.inf), nearest
    du = node_d[u]
    du += legs["to_u"]
    dv = node_d[v]
    dv += legs["to_v"]
    who = None
    if node_src is not None:
        use_v = dv < du
        who = np.where(use_v, node_src[v], node_src[u])
        best = np.where(use_v, dv, du)
    else:  # the same values: ``dv`` where it is shorter, else ``du``
        best = np.minimum(du, dv, out=du)
    # sources on a target's own edge reach it directly along the edge
    src_ok = sources.ok if source_mask is None else (sources.ok & source_mask)
    s_idx = np.flatnonzero(src_ok)
    if len(s_idx):
        # the targets on a source's edge (few), ordered by edge
        on = np.zeros(net.n_edges, dtype=bool)
        on[sources.edge[s_idx]] = True
        shared = np.flatnonzero(on[legs["edge"]])  # positions in ``rows``
        by_edge = np.argsort(legs["edge"][shared], kind="stable")
        shared = shared[by_edge]
        te = legs["edge"][shared]
        lo = np.searchsorted(te, sources.edge[s_idx], side="left")
        cnt = np.searchsorted(te, sources.edge[s_idx], side="right") - lo
        has = np.flatnonzero(cnt > 0)
        if len(has):
            c = cnt[has]
            src = np.repeat(s_idx[has], c)
            within = np.arange(len(src)) - np.repeat(np.cumsum(c) - c, c)
            tpos = shared[np.repeat(lo[has], c) + within]  # positions in ``rows``
            t = ok[tpos]
            direct = (
                targets.snap_m[t]
                + np.abs(targets.offset[t] - sources.offset[src])
                + sources.snap_m[src]
            )
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
    if len(ok) == n:  # every target snapped: ``best`` in place
        dist = best
        dist[~keep] = np.inf
    else:
        dist = np.full(n, np.inf)
        dist[ok[keep]] = best[keep]
    if who is not None:
        nearest[ok[keep]] = who[keep]
    return dist, nearest
