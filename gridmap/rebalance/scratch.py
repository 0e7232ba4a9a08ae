"""Plans drawn from nothing, and the communities outside the band.

:func:`from_scratch_labels` cuts the map into contiguous communities of about a target size
(:func:`gridmap.edits.partition_contiguous`); :class:`gridmap.rebalance.Rebalancer` then
repairs any community left outside the band. Given the as-is assignment, each new community
takes the id of the as-is community it holds most households of, so the households a
community holds outside every unit (its fixed remainder) stay with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridmap.edits import partition_contiguous

__all__ = ["band_violations", "from_scratch_labels"]


def band_violations(
    labels: pd.Series, households, *, min_households: int, max_households: int
) -> pd.DataFrame:
    """Communities outside the band: ``community_id, households, status``.

    ``status`` is ``too_small`` or ``too_large``.

    Examples
    --------
    >>> band_violations(pd.Series(["A", "A", "B"]), [600, 600, 400], min_households=1000,
    ...                 max_households=3000)
      community_id  households     status
    0            B         400  too_small
    """
    h = pd.Series(np.asarray(households), index=labels.index)
    tot = h.groupby(labels.astype(str).to_numpy()).sum()
    bad = tot[(tot < min_households) | (tot > max_households)]
    return pd.DataFrame(
        {
            "community_id": bad.index.astype(str),
            "households": bad.to_numpy(),
            "status": np.where(bad.to_numpy() < min_households, "too_small", "too_large"),
        }
    )


def from_scratch_labels(
    graph: sparse.csr_array,
    households,
    *,
    target: int,
    index=None,
    coords=None,
    min_households: int | None = None,
    max_households: int | None = None,
    prefix: str = "C",
    base: pd.Series | None = None,
    offsets: Mapping[str, int] | None = None,
) -> pd.Series:
    """A new plan drawn from nothing: contiguous communities of about ``target`` households.

    Each connected part of the map is cut into ``k = round(W / target)`` parts
    (kept within ``[ceil(W / max), floor(W / min)]`` when the band allows) by
    :func:`gridmap.edits.partition_contiguous`; run :class:`~gridmap.rebalance.Rebalancer`
    on the result to repair any community left outside the band.

    Parameters
    ----------
    graph, households
        Unit adjacency and households per unit (positional).
    target
        Households per community to aim at.
    index
        Unit ids of the result (default positions).
    coords
        Unit representative points (n × 2): compact parts.
    min_households, max_households
        The band, to keep the number of parts within reach of it.
    prefix
        New communities are ``C0001``, ``C0002`` … (skipping ids the as-is plan uses).
    base
        The as-is community of each unit (positional): each new community takes the id of
        the as-is community it holds most households of (largest overlaps first, each id
        once), so a community keeps its fixed remainder (``offsets``).
    offsets
        ``{community_id: 户数}`` households of an as-is community outside every unit: they
        count in the size of the new community that takes its id, and in ``W`` when parts
        are drawn (spread over the community's units in proportion to their households).

    Examples
    --------
    >>> from gridmap.edits import lattice_adjacency
    >>> g, hh = lattice_adjacency(2, 4), np.full(8, 500)
    >>> from_scratch_labels(g, hh, target=2000).value_counts().tolist()
    [4, 4]
    >>> base = pd.Series(list("AAAABBBB"))
    >>> sorted(from_scratch_labels(g, hh, target=2000, base=base, offsets={"B": 100}).unique())
    ['A', 'B']
    """
    h = np.asarray(households, dtype=float)
    n = len(h)
    w = h if base is None or not offsets else _with_remainders(h, base, offsets)
    _, comp = connected_components(graph, directed=False)
    out = np.empty(n, dtype=object)
    serial = 0
    for c in np.unique(comp):
        members = np.flatnonzero(comp == c)
        total = float(w[members].sum())
        k = max(1, round(total / target))
        lo = math.ceil(total / max_households) if max_households else 1
        hi = math.floor(total / min_households) if min_households else k
        if lo <= hi:
            k = min(max(k, lo), hi)
        k = max(1, min(k, len(members)))
        parts = partition_contiguous(graph, w, k=k, members=members, coords=coords)
        for p in range(k):
            serial += 1
            out[members[parts == p]] = f"{prefix}{serial:04d}"
    labels = pd.Series(out, index=index if index is not None else pd.RangeIndex(n), dtype=object)
    if base is not None:
        labels = _inherit_ids(labels, np.asarray(base, dtype=object).astype(str), h, prefix)
    return labels


def _with_remainders(h: np.ndarray, base: pd.Series, offsets: Mapping[str, int]) -> np.ndarray:
    """Unit weights for drawing.

    Households plus the community's remainder, spread over its units in proportion to their
    households (equally when they have none).
    """
    lab = np.asarray(base, dtype=object).astype(str)
    w = h.copy()
    for cid, extra in offsets.items():
        mine = lab == str(cid)
        if not mine.any() or not extra:
            continue
        total = h[mine].sum()
        share = h[mine] / total if total > 0 else np.full(mine.sum(), 1 / mine.sum())
        w[mine] += float(extra) * share
    return w


def _inherit_ids(labels: pd.Series, base: np.ndarray, h: np.ndarray, prefix: str) -> pd.Series:
    """Rename new communities after the as-is community each holds most households of."""
    new = labels.to_numpy()
    overlap = (
        pd.DataFrame({"new": new, "old": base, "hh": h, "n": 1})
        .groupby(["new", "old"], sort=True)[["hh", "n"]]
        .sum()
        .reset_index()
    )
    overlap = overlap.sort_values(
        ["hh", "n", "new", "old"], ascending=[False, False, True, True], kind="stable"
    )
    rename: dict[str, str] = {}
    taken: set[str] = set()
    for part, old in zip(overlap["new"], overlap["old"], strict=True):
        if part not in rename and old not in taken:
            rename[part] = old
            taken.add(old)
    used = set(base) | taken
    serial = 0
    for part in sorted(set(new) - set(rename)):
        serial += 1
        while f"{prefix}{serial:04d}" in used:
            serial += 1
        rename[part] = f"{prefix}{serial:04d}"
        used.add(rename[part])
    return pd.Series([rename[p] for p in new], index=labels.index, dtype=object)
