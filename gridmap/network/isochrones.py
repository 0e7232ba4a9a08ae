"""Isochrones: the streets reachable within a walking radius of a source, and service areas.

:func:`reachable_pieces` cuts the edges at the radius given the node distances
of one source; :func:`service_areas` buffers and merges them into one polygon
per source (the facility's network service area).
"""

from __future__ import annotations

import numpy as np
import shapely
import shapely.ops

from gridmap.network.graph import Network
from gridmap.network.route import augmented_graph, dijkstra_from
from gridmap.network.snap import Snap

__all__ = ["reachable_pieces", "service_areas"]


def reachable_pieces(
    net: Network,
    node_d: np.ndarray,
    radius: float,
    *,
    start_edge: int = -1,
    start_offset: float = 0.0,
    start_budget: float = 0.0,
) -> np.ndarray:
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
        pieces.append(
            shapely.ops.substring(
                net.geometry[start_edge],
                max(0.0, start_offset - start_budget),
                min(float(L[start_edge]), start_offset + start_budget),
            )
        )
    if pieces:
        out.append(np.array(pieces, dtype=object))
    return np.concatenate(out) if out else np.array([], dtype=object)


def service_areas(
    net: Network,
    snap: Snap,
    positions: np.ndarray,
    *,
    radius: float,
    buffer_m: float = 25.0,
    chunk_bytes: float = 2e8,
) -> np.ndarray:
    """Network service-area polygon (isochrone) of each source.

    The street pieces reachable within ``radius`` (whole edges and the reachable
    part of partly reached edges), buffered by ``buffer_m`` and merged.

    Parameters
    ----------
    net : Network
    snap : Snap
        Snapped sources; ``positions`` index into it.
    radius : float, keyword-only
    buffer_m : float, keyword-only
    chunk_bytes : float, keyword-only
        Memory for the distance rows of one batch of sources.

    Returns
    -------
    ndarray of Polygons (empty polygon for a source that could not be snapped)
    """
    out = np.array([shapely.Polygon()] * len(positions), dtype=object)
    positions = np.asarray(positions)
    ok = positions[snap.ok[positions]]
    if not len(ok):
        return out
    graph, full = augmented_graph(net, snap)
    chunk = max(1, int(chunk_bytes // (8 * max(1, net.n_nodes))))
    where = {p: k for k, p in enumerate(positions)}
    for start in range(0, len(ok), chunk):
        part = ok[start : start + chunk]
        dist, _ = dijkstra_from(net, graph, part, limit=radius, min_only=False, all_sources=full)
        for row, p in enumerate(part):
            budget = radius - snap.snap_m[p]
            if budget <= 0:
                continue
            pieces = reachable_pieces(
                net,
                dist[row],
                radius,
                start_edge=int(snap.edge[p]),
                start_offset=float(snap.offset[p]),
                start_budget=float(budget),
            )
            if len(pieces):
                out[where[p]] = shapely.union_all(shapely.buffer(pieces, buffer_m, quad_segs=4))
    return out
