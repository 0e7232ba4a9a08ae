"""Small-cell protection of the gap layer (个人信息保护法): no count from fewer than k buildings.

A gap cell holding one building shows that building's households. Before a gap
layer leaves :func:`~gridmap.coverage.gap_cells`, every count of a cell (``households``
and each ``uncovered:{spec}``) must come from at least :data:`MIN_BUILDINGS` household
records (buildings), or be 0. Cells that fall short are **merged** with the nearest
cell (by centre distance, so a neighbour first) that adds records to the short count,
until every count is safe. Merging, not suppression, because:

* totals stay exact (each household is counted in exactly one published cell), so
  nothing can be recovered by subtracting the published cells from a total;
* no gap disappears from the maps: a merged cell is drawn as the union of its cells
  (a MultiPolygon when they do not touch) with the sum of their counts;
* suppressing would need secondary suppression to stop that subtraction anyway.

Only when a whole layer holds fewer than k records with a count (say, two uncovered
buildings in the district) can no merge help: that count is then withheld (0 in every
cell) and its households are reported separately in ``gaps.attrs["privacy"]``.

``k = 3`` (:data:`MIN_BUILDINGS`) is the usual minimum cell size of statistical
disclosure control for counts (the "threshold rule"); a larger k merges more.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

__all__ = [
    "MIN_BUILDINGS",
    "contributing_records",
    "merge_small_cells",
    "record_ids",
    "records_behind",
]

#: fewest household records (buildings) a published count may come from
MIN_BUILDINGS = 3


def merge_small_cells(
    records: list[dict[str, set]],
    centres: np.ndarray,
    *,
    k: int = MIN_BUILDINGS,
) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Group cells so every count of a group comes from ≥ ``k`` records (or from none).

    Parameters
    ----------
    records
        Per cell, ``{count column: the record ids adding to it}``.
    centres : ndarray, shape (n, 2)
        Cell centres (the nearest group is the one with the closest cell centre).
    k
        Fewest records a count may come from.

    Returns
    -------
    labels : ndarray of int, shape (n,)
        The group of each cell (the index of one of its cells).
    withheld : dict
        ``{count column: groups whose count must be withheld}`` — only when the whole
        layer has fewer than ``k`` records in that column.

    Examples
    --------
    >>> recs = [{"n": {1}}, {"n": {2, 3}}, {"n": {4, 5, 6}}]
    >>> labels, withheld = merge_small_cells(recs, np.array([[0.0, 0], [1, 0], [9, 0]]))
    >>> labels.tolist(), withheld
    ([0, 0, 2], {})
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n = len(records)
    labels = np.arange(n)
    members = {g: [g] for g in range(n)}  # the cells of each group, so no step scans all labels
    groups = [{c: set(r) for c, r in rec.items()} for rec in records]
    columns = sorted({c for rec in records for c in rec})
    count = {c: np.array([len(g.get(c, ())) for g in groups]) for c in columns}
    withheld: dict[str, list[int]] = {}
    tree = cKDTree(centres) if n else None

    def short(g: int) -> list[str]:
        return [c for c in columns if 0 < count[c][g] < k and g not in withheld.get(c, [])]

    pending = deque(
        sorted((g for g in range(n) if short(g)), key=lambda g: (_size(count, g, k), g))
    )
    while pending:
        g = pending.popleft()
        cols = short(g) if labels[g] == g else []  # a merged-away group has nothing left
        if not cols:
            continue
        has = np.any([count[c] > 0 for c in cols], axis=0)  # per group
        candidate = (labels != g) & has[labels]  # per cell
        h = _nearest_group(tree, centres, labels, np.sort(members[g]), candidate)
        if h is None:  # the whole layer is short in these columns
            for c in cols:
                withheld.setdefault(c, []).append(g)
            continue
        for c in columns:
            groups[g].setdefault(c, set()).update(groups[h].get(c, ()))
            count[c][g], count[c][h] = len(groups[g][c]), 0
        groups[h] = {}
        labels[members[h]] = g
        members[g] += members.pop(h)
        for c, lst in withheld.items():
            withheld[c] = sorted({g if x == h else x for x in lst})
        if short(g):
            pending.appendleft(g)
    return labels, withheld


def _nearest_group(
    tree: Any, centres: np.ndarray, labels: np.ndarray, mine: np.ndarray, candidate: np.ndarray
) -> int | None:
    """The group of the candidate cell nearest to any of ``mine`` (ties: lowest cell index).

    The k nearest neighbours of ``mine`` (k grown until a candidate shows up) bound the
    distance; every cell within that bound is then compared exactly, so the answer equals
    a scan of all candidates — without one.
    """
    if not candidate.any():
        return None
    n, kk = len(centres), 8
    while True:
        kq = min(kk, n)
        d, j = tree.query(centres[mine], k=kq)
        d, j = d.reshape(len(mine), -1), j.reshape(len(mine), -1)
        ok = candidate[np.minimum(j, n - 1)] & (j < n)
        if ok.any():
            bound = float(d[ok].min())
            break
        if kq >= n:
            return None
        kk *= 4
    near = tree.query_ball_point(centres[mine], bound * (1 + 1e-9) + 1e-9)
    near = np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in near]))
    cand = near[candidate[near]]
    dist = np.linalg.norm(centres[cand][:, None, :] - centres[mine][None, :, :], axis=2)
    return int(labels[cand[int(np.argmin(dist.min(axis=1)))]])


def _size(count: dict[str, np.ndarray], g: int, k: int) -> int:
    """How few records group ``g``'s shortest count has (processing order: smallest first)."""
    sizes = [int(v[g]) for v in count.values() if 0 < v[g] < k]
    return min(sizes) if sizes else k


def contributing_records(
    ids: np.ndarray, weights: np.ndarray, cell: np.ndarray, n: int
) -> list[set]:
    """Per cell, the distinct record ids with a positive weight in it."""
    out: list[set] = [set() for _ in range(n)]
    for i in np.flatnonzero(weights > 0):
        out[cell[i]].add(ids[i])
    return out


def record_ids(households: pd.DataFrame) -> np.ndarray:
    """The household record of each row (``record`` column, else the row itself)."""
    if "record" in households.columns:
        return households["record"].astype(str).to_numpy()
    return np.arange(len(households))


def records_behind(cells: Any, households: pd.DataFrame, xy: np.ndarray, column: str) -> np.ndarray:
    """How many household records each cell's ``column`` count comes from (for audits).

    Parameters
    ----------
    cells
        A gap layer (GeoDataFrame), merged or not.
    households : DataFrame
        The rows the layer was made from: ``households``, ``covered:{spec}`` and
        optionally ``record`` (:attr:`CoverageResult.households <gridmap.coverage.CoverageResult>`).
    xy : ndarray, shape (n, 2)
        The location of each row.
    column
        ``"households"`` or ``"uncovered:{spec}"``.

    Returns
    -------
    ndarray of int
        Per cell (layer order), the distinct records adding a positive number to ``column``.
    """
    w = households["households"].to_numpy(dtype="float64")
    if column != "households":
        w = w * ~households[f"covered:{column.split(':', 1)[1]}"].to_numpy(dtype=bool)
    located = np.isfinite(xy).all(axis=1) & (w > 0)
    tree = shapely.STRtree(np.asarray(cells.geometry.values))
    pi, ci = tree.query(shapely.points(xy[located]), predicate="intersects")
    first = pd.Series(ci).groupby(pi).min()  # a point on a shared edge counts once
    ids = record_ids(households)[located][first.index.to_numpy()]
    per_cell = pd.Series(ids).groupby(first.to_numpy()).nunique()
    return per_cell.reindex(range(len(cells)), fill_value=0).to_numpy()
