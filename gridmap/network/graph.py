"""The :class:`Network` (nodes, edges, components) and its symmetric CSR graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame
from scipy import sparse

__all__ = ["Network", "csr_graph"]

#: the smallest edge weight (metres): csgraph takes explicit zeros for missing edges
_EPS = 1e-9
#: snapping: edges this close (metres) to equidistant from a point are a tie (the lowest edge
#: id wins)
TIE_M = 1e-9


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
        Dead ends left within :data:`~gridmap.network.GAP_REPORT_M` of another
        street without touching it (``x``, ``y``, ``gap_m``): probably missing junctions.
    """

    nodes: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    geometry: np.ndarray
    component: np.ndarray
    components: pd.DataFrame
    crs: Any
    noded: int = 0
    main: int = 0
    gaps_closed: int = 0
    gaps: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"x": [], "y": [], "gap_m": []})
    )
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(len(self.nodes))

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(len(self.u))

    @cached_property
    def graph(self) -> sparse.csr_matrix:
        """Symmetric CSR adjacency (the shortest of parallel edges; no self loops)."""
        return csr_graph(self.u, self.v, self.length, self.n_nodes)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """STRtree of the edge geometries (built on first use)."""
        return shapely.STRtree(self.geometry)

    def edges(self) -> GeoDataFrame:
        """The edges as a GeoDataFrame (``u``, ``v``, ``length_m``, ``component``)."""
        return GeoDataFrame(
            {
                "u": self.u,
                "v": self.v,
                "length_m": self.length,
                "component": self.component[self.u],
            },
            geometry=self.geometry,
            crs=self.crs,
        )

    def __repr__(self) -> str:
        return (
            f"Network(nodes={self.n_nodes}, edges={self.n_edges}, "
            f"components={len(self.components)})"
        )


def csr_graph(
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    n: int,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> sparse.csr_matrix:
    """Symmetric CSR graph of undirected edges ``u``–``v`` of weight ``w`` on ``n`` nodes.

    Self loops are dropped; of parallel edges the shortest is kept; weights are
    at least 1e-9 (SciPy's csgraph reads an explicit zero as no edge).

    Parameters
    ----------
    u, v, w : ndarray
        End nodes and weight of each edge.
    n : int
        Number of nodes (rows).
    extra : (rows, cols, weights), optional
        One-way edges added as given (e.g. the virtual source nodes of
        :func:`~gridmap.network.route.virtual_edges`); they may add nodes.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape (n, n), sorted indices.

    Examples
    --------
    >>> g = csr_graph(np.array([0, 0, 1]), np.array([1, 1, 1]), np.array([5.0, 3.0, 2.0]), 2)
    >>> g.toarray().tolist()
    [[0.0, 3.0], [3.0, 0.0]]
    """
    keep = u != v
    a = np.concatenate([u[keep], v[keep]])
    b = np.concatenate([v[keep], u[keep]])
    c = np.maximum(np.concatenate([w[keep], w[keep]]), _EPS)
    if extra is not None:
        a, b = np.concatenate([a, extra[0]]), np.concatenate([b, extra[1]])
        c = np.concatenate([c, np.maximum(extra[2], _EPS)])
        n = max(n, int(extra[0].max()) + 1 if len(extra[0]) else n)
    # keep the shortest of parallel edges (a coo→csr conversion would add them up)
    order = np.lexsort((c, b, a))
    a, b, c = a[order], b[order], c[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    g = sparse.csr_matrix((c[first], (a[first], b[first])), shape=(n, n))
    g.sort_indices()
    return g
