"""Contiguity of an assignment on the unit graph: pieces, neighbouring communities, enclaves.

An assignment is a Series unit id → community id, positional like the unit adjacency
(:mod:`gridmap.adjacency`). A community is contiguous when its units form one connected
piece of the graph.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = [
    "community_pieces",
    "community_adjacency",
    "check_contiguity",
    "enclaves",
    "connected_parts",
]


def _neighbours(graph: sparse.csr_array, i: int) -> np.ndarray:
    """The units adjacent to unit ``i`` (positions)."""
    return graph.indices[graph.indptr[i] : graph.indptr[i + 1]]


def _codes(labels: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(labels.astype("object"), use_na_sentinel=True)
    return codes, pd.Index(uniques)


def community_pieces(labels: pd.Series, graph: sparse.csr_array) -> pd.Series:
    """Number of connected pieces of each community (1 = contiguous).

    Examples
    --------
    >>> from gridmap.adjacency import lattice_adjacency
    >>> labels = pd.Series(["A", "B", "A"])
    >>> community_pieces(labels, lattice_adjacency(1, 3)).to_dict()
    {'A': 2, 'B': 1}
    """
    codes, uniques = _codes(labels)
    coo = graph.tocoo()
    same = (codes[coo.row] == codes[coo.col]) & (codes[coo.row] >= 0)
    n = len(codes)
    sub = sparse.coo_array(
        (np.ones(int(same.sum()), dtype=bool), (coo.row[same], coo.col[same])), shape=(n, n)
    )
    _, comp = connected_components(sub, directed=False)
    ok = codes >= 0
    pieces = pd.Series(comp[ok]).groupby(codes[ok]).nunique()
    return pd.Series(pieces.to_numpy(), index=uniques[pieces.index.to_numpy()], name="pieces")


def community_adjacency(labels: pd.Series, graph: sparse.csr_array) -> dict[str, set[str]]:
    """Which communities border which (through any pair of adjacent units)."""
    codes, uniques = _codes(labels)
    coo = graph.tocoo()
    a, b = codes[coo.row], codes[coo.col]
    m = (a != b) & (a >= 0) & (b >= 0)
    out: dict[str, set[str]] = {str(c): set() for c in uniques}
    for x, y in set(zip(a[m].tolist(), b[m].tolist(), strict=True)):
        out[str(uniques[x])].add(str(uniques[y]))
    return out


def check_contiguity(labels: pd.Series, graph: sparse.csr_array) -> pd.DataFrame:
    """The communities in more than one piece.

    ``community_id``, ``pieces`` and the ``detached`` units (all pieces but the one with the
    most units), with a Chinese ``message``.
    """
    pieces = community_pieces(labels, graph)
    rows = []
    for cid in pieces[pieces > 1].index:
        members = np.flatnonzero((labels == cid).to_numpy())
        comps = connected_parts(members, graph)
        comps.sort(key=len, reverse=True)
        detached = [str(labels.index[i]) for c in comps[1:] for i in c]
        more = "…" if len(detached) > 10 else ""
        rows.append(
            {
                "community_id": str(cid),
                "pieces": len(comps),
                "detached": detached,
                "message": f"社区 {cid} 被分成 {len(comps)} 块"
                f"（飞地单元：{'、'.join(detached[:10])}{more}）",
            }
        )
    return pd.DataFrame(rows, columns=["community_id", "pieces", "detached", "message"])


def enclaves(
    labels: pd.Series, graph: sparse.csr_array, *, geometry=None, tolerance: float = 1.0
) -> pd.DataFrame:
    """Communities wholly surrounded by a single other community (an enclave, 被包围的社区).

    A community counts when all its outside neighbours belong to one community. With
    ``geometry`` (the units' polygons, positional) it must also not reach the edge of
    that pair (its boundary, grown by ``tolerance``, lies inside the two); without
    geometry the smaller of two mutual neighbours is reported.
    """
    nb = community_adjacency(labels, graph)
    sizes = labels.astype(str).value_counts()
    rows = []
    for c, n in nb.items():
        if len(n) != 1:
            continue
        other = next(iter(n))
        if geometry is not None:
            geoms = np.asarray(getattr(geometry, "values", geometry))
            lab = labels.astype(str).to_numpy()
            inner = shapely.union_all(geoms[lab == c])
            pair = shapely.union_all(geoms[(lab == c) | (lab == other)])
            outside = shapely.difference(
                shapely.buffer(inner, tolerance), shapely.buffer(pair, tolerance / 2)
            )
            if shapely.area(outside) > tolerance**2:
                continue
        elif len(nb.get(other, ())) == 1 and (sizes[c], c) > (sizes[other], other):
            continue
        rows.append(
            {
                "community_id": c,
                "surrounded_by": other,
                "message": f"社区 {c} 被社区 {other} 完全包围（飞地）",
            }
        )
    return pd.DataFrame(rows, columns=["community_id", "surrounded_by", "message"])


def connected_parts(members: Iterable[int], graph: sparse.csr_array) -> list[list[int]]:
    """The connected parts of the units ``members`` (positions) on ``graph``.

    Examples
    --------
    >>> from gridmap.adjacency import lattice_adjacency
    >>> sorted(sorted(p) for p in connected_parts([0, 1, 3], lattice_adjacency(1, 4)))
    [[0, 1], [3]]
    """
    left = set(int(m) for m in members)
    out = []
    while left:
        start = left.pop()
        comp, queue = [start], deque([start])
        while queue:
            u = queue.popleft()
            for v in _neighbours(graph, u):
                v = int(v)
                if v in left:
                    left.remove(v)
                    comp.append(v)
                    queue.append(v)
        out.append(comp)
    return out
