"""Edits of a plan: move units, split, merge, create communities — with contiguity checks.

Every edit is a pure function: an assignment (``labels``: a Series unit id →
community id) and the unit adjacency in, an :class:`EditResult` out. The result
lists the changes ``(unit, from, to)``, the communities it touches (the only
ones whose KPIs need re-evaluating), refusal ``reasons`` and ``warnings`` in
Chinese. Nothing is mutated; :func:`apply_changes` applies a result, and
:class:`gridmap.plans.Plan` journals it.

Contiguity is judged on the unit adjacency graph (:func:`unit_adjacency`: units
sharing a boundary, with a digitising tolerance). An edit that would split a
community into pieces is refused with the reason (``allow_islands=True``
downgrades it to a warning); enclaves are reported by :func:`enclaves`.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> units = gpd.GeoDataFrame({"households": [400, 500, 600, 700]},
...     geometry=[box(i, 0, i + 1, 1) for i in range(4)], index=list("abcd"), crs=4549)
>>> graph = unit_adjacency(units, tolerance=0.01)
>>> labels = pd.Series(["A", "A", "B", "B"], index=units.index)
>>> move_units(labels, ["b"], "B", graph=graph).changes
(('b', 'A', 'B'),)
>>> move_units(labels, ["a"], "B", graph=graph).reasons[0]
'单元 a 与社区 B 不相邻，只能移到相邻社区'
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridmap.adjacency import (
    lattice_adjacency,
    planning_adjacency,
    unit_adjacency,
    unit_territories,
)

__all__ = [
    "EditResult",
    "unit_adjacency",
    "lattice_adjacency",
    "planning_adjacency",
    "unit_territories",
    "community_adjacency",
    "community_pieces",
    "check_contiguity",
    "enclaves",
    "move_units",
    "split_community",
    "merge_communities",
    "new_community",
    "apply_changes",
    "partition_contiguous",
    "edit_from_labels",
]


@dataclass(frozen=True)
class EditResult:
    """The outcome of one edit (nothing applied yet).

    Attributes
    ----------
    op
        ``"move"``, ``"split"``, ``"merge"``, ``"create"``, ``"rebalance"`` ….
    params
        The edit's arguments (JSON-serialisable), for the journal.
    changes
        ``(unit, from, to)`` per unit whose community changes.
    touched
        Communities whose membership changes (re-evaluate only these).
    reasons
        Why the edit is refused; empty when ``ok``.
    warnings
        Things the planner should know (enclaves, islands allowed, emptied communities).
    """

    op: str
    params: dict
    changes: tuple[tuple[str, str, str], ...] = ()
    touched: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    info: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        """True when the edit can be applied."""
        return not self.reasons


def _neighbours(graph: sparse.csr_array, i: int) -> np.ndarray:
    return graph.indices[graph.indptr[i]:graph.indptr[i + 1]]


def _codes(labels: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(labels.astype("object"), use_na_sentinel=True)
    return codes, pd.Index(uniques)


def community_pieces(labels: pd.Series, graph: sparse.csr_array) -> pd.Series:
    """Number of connected pieces of each community (1 = contiguous).

    Examples
    --------
    >>> labels = pd.Series(["A", "B", "A"])
    >>> community_pieces(labels, lattice_adjacency(1, 3)).to_dict()
    {'A': 2, 'B': 1}
    """
    codes, uniques = _codes(labels)
    coo = graph.tocoo()
    same = (codes[coo.row] == codes[coo.col]) & (codes[coo.row] >= 0)
    n = len(codes)
    sub = sparse.coo_array((np.ones(int(same.sum()), dtype=bool), (coo.row[same], coo.col[same])), shape=(n, n))
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
    """One row per community in more than one piece: ``community_id``, ``pieces`` and the
    ``detached`` units (all pieces but the one with the most units), with a Chinese ``message``."""
    pieces = community_pieces(labels, graph)
    rows = []
    for cid in pieces[pieces > 1].index:
        members = np.flatnonzero((labels == cid).to_numpy())
        comps = _components(members, graph)
        comps.sort(key=len, reverse=True)
        detached = [str(labels.index[i]) for c in comps[1:] for i in c]
        rows.append({"community_id": str(cid), "pieces": len(comps), "detached": detached,
                     "message": f"社区 {cid} 被分成 {len(comps)} 块（飞地单元：{'、'.join(detached[:10])}{'…' if len(detached) > 10 else ''}）"})
    return pd.DataFrame(rows, columns=["community_id", "pieces", "detached", "message"])


def enclaves(labels: pd.Series, graph: sparse.csr_array, *, geometry=None, tolerance: float = 1.0) -> pd.DataFrame:
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
            if shapely.area(shapely.difference(shapely.buffer(inner, tolerance), shapely.buffer(pair, tolerance / 2))) > tolerance ** 2:
                continue
        elif len(nb.get(other, ())) == 1 and (sizes[c], c) > (sizes[other], other):
            continue
        rows.append({"community_id": c, "surrounded_by": other, "message": f"社区 {c} 被社区 {other} 完全包围（飞地）"})
    return pd.DataFrame(rows, columns=["community_id", "surrounded_by", "message"])


def _components(members: Iterable[int], graph: sparse.csr_array) -> list[list[int]]:
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


# --------------------------------------------------------------------------- edits


def _positions(labels: pd.Series, units: Sequence) -> tuple[np.ndarray, list[str]]:
    idx = labels.index.astype(str)
    pos = idx.get_indexer([str(u) for u in units])
    missing = [str(u) for u, p in zip(units, pos, strict=True) if p < 0]
    return pos[pos >= 0], missing


def _island_reasons(labels: pd.Series, graph, communities: Iterable[str], after: np.ndarray, kind: str) -> list[str]:
    out = []
    for cid in communities:
        members = np.flatnonzero(after == cid)
        if len(members) <= 1:
            continue
        comps = _components(members, graph)
        if len(comps) > 1:
            comps.sort(key=len, reverse=True)
            stray = [str(labels.index[i]) for c in comps[1:] for i in c]
            out.append(f"{kind}后社区 {cid} 会被分成 {len(comps)} 块（孤立单元：{'、'.join(stray[:10])}）")
    return out


def _finish(op, params, labels, graph, after, *, allow_islands, extra_reasons=(), warnings=(), check=None) -> EditResult:
    before = labels.astype("object").to_numpy()
    changed = np.flatnonzero(before != after)
    changes = tuple((str(labels.index[i]), str(before[i]), str(after[i])) for i in changed)
    touched = tuple(sorted({str(before[i]) for i in changed} | {str(after[i]) for i in changed}))
    reasons = list(extra_reasons)
    warns = list(warnings)
    if not reasons:
        islands = _island_reasons(labels, graph, check if check is not None else touched, after, {"move": "移动", "split": "拆分", "merge": "合并", "create": "新建"}.get(op, op))
        (warns if allow_islands else reasons).extend(islands)
        emptied = [c for c in touched if c in set(before[changed]) and not (after == c).any()]
        if emptied and op == "move":
            warns.append(f"社区 {'、'.join(emptied)} 的全部单元被移出，该社区将消失")
    if reasons:
        return EditResult(op, params, reasons=tuple(reasons), warnings=tuple(warns))
    return EditResult(op, params, changes, touched, (), tuple(warns))


def move_units(labels: pd.Series, units: Sequence, to: str, *, graph: sparse.csr_array,
               allow_islands: bool = False) -> EditResult:
    """Move ``units`` into the neighbouring community ``to``.

    Refused (with reasons) when a unit is unknown, when the moved units do not
    border ``to`` (each connected group of moved units must touch it), or when the
    move would split the source or target community — unless ``allow_islands``,
    which turns island reasons into warnings.
    """
    to = str(to)
    units = [str(u) for u in units]
    params = {"units": units, "to": to}
    pos, missing = _positions(labels, units)
    if missing:
        return EditResult("move", params, reasons=(f"未知单元：{'、'.join(missing)}",))
    after = labels.astype("object").to_numpy().copy()
    reasons = []
    moving = set(pos.tolist())
    target = set(np.flatnonzero(after == to).tolist())
    if not target and to not in set(map(str, after)):
        reasons.append(f"社区 {to} 不存在；新建社区请用 new_community")
    else:
        for comp in _components(pos, graph):
            if not any(int(v) in target and int(v) not in moving for u in comp for v in _neighbours(graph, u)):
                names = "、".join(str(labels.index[u]) for u in comp[:5])
                reasons.append(f"单元 {names} 与社区 {to} 不相邻，只能移到相邻社区")
    after[pos] = to
    return _finish("move", params, labels, graph, after, allow_islands=allow_islands, extra_reasons=reasons)


def new_community(labels: pd.Series, units: Sequence, *, graph: sparse.csr_array, new_id: str | None = None,
                  allow_islands: bool = False) -> EditResult:
    """Make a new community of the selected ``units`` (which must be contiguous)."""
    units = [str(u) for u in units]
    existing = set(map(str, labels.astype("object")))
    new_id = str(new_id) if new_id else _fresh_id(existing, "新社区")
    params = {"units": units, "new_id": new_id}
    pos, missing = _positions(labels, units)
    reasons = [f"未知单元：{'、'.join(missing)}"] if missing else []
    if not units:
        reasons.append("没有选择单元")
    if new_id in existing:
        reasons.append(f"社区编码 {new_id} 已存在")
    after = labels.astype("object").to_numpy().copy()
    if not reasons:
        after[pos] = new_id
    return _finish("create", params, labels, graph, after, allow_islands=allow_islands, extra_reasons=reasons)


def merge_communities(labels: pd.Series, communities: Sequence[str], *, graph: sparse.csr_array,
                      into: str | None = None) -> EditResult:
    """Merge ``communities`` into one (``into``, default the first); they must form a contiguous whole."""
    communities = [str(c) for c in communities]
    into = str(into) if into else communities[0]
    params = {"communities": communities, "into": into}
    before = labels.astype("object").to_numpy()
    present = set(map(str, before))
    reasons = [f"社区 {c} 不存在" for c in communities if c not in present]
    if len(communities) < 2:
        reasons.append("合并至少需要两个社区")
    if into not in communities:
        reasons.append(f"合并目标 {into} 必须是被合并的社区之一")
    after = before.copy()
    if not reasons:
        after[np.isin(before.astype(str), communities)] = into
    return _finish("merge", params, labels, graph, after, allow_islands=False, extra_reasons=reasons,
                   check=[into])


def split_community(labels: pd.Series, community: str, k: int = 2, *, graph: sparse.csr_array,
                    households: pd.Series | None = None, coords: np.ndarray | None = None,
                    new_ids: Sequence[str] | None = None) -> EditResult:
    """Split ``community`` into ``k`` contiguous parts of balanced households.

    The part keeping the old id is the one with the most units; the others get
    ``new_ids`` (default ``<id>-2``, ``<id>-3`` …). ``coords`` (n × 2, positional)
    makes the parts compact; without it, graph distance is used.
    """
    community = str(community)
    params = {"community": community, "k": int(k), "new_ids": list(new_ids) if new_ids else None}
    before = labels.astype("object").to_numpy()
    members = np.flatnonzero(before.astype(str) == community)
    reasons = []
    if not len(members):
        reasons.append(f"社区 {community} 不存在")
    elif k < 2:
        reasons.append("k 至少为 2")
    elif len(members) < k:
        reasons.append(f"社区 {community} 只有 {len(members)} 个单元，不能分成 {k} 块")
    elif len(_components(members, graph)) > 1:
        reasons.append(f"社区 {community} 本身不连通，请先处理飞地")
    if reasons:
        return EditResult("split", params, reasons=tuple(reasons))
    w = (households.reindex(labels.index).fillna(0).to_numpy(dtype=float) if households is not None
         else np.ones(len(labels)))
    parts = partition_contiguous(graph, w, k=k, members=members, coords=coords)
    existing = set(map(str, before))
    order = sorted(range(k), key=lambda p: -int((parts == p).sum()))
    ids = list(new_ids) if new_ids else []
    while len(ids) < k - 1:
        ids.append(_fresh_id(existing | set(ids), f"{community}-"))
    params["new_ids"] = ids[:k - 1]
    after = before.copy()
    for rank, p in enumerate(order[1:]):
        after[members[parts == p]] = ids[rank]
    return _finish("split", params, labels, graph, after, allow_islands=False)


def _fresh_id(existing: set[str], stem: str) -> str:
    i = 2 if stem.endswith("-") else 1
    while f"{stem}{i}" in existing:
        i += 1
    return f"{stem}{i}"


def apply_changes(labels: pd.Series, changes: Iterable[tuple[str, str, str]]) -> pd.Series:
    """A new assignment with ``changes`` applied (checks each ``from`` matches).

    Examples
    --------
    >>> apply_changes(pd.Series(["A", "B"], index=["u1", "u2"]), [("u1", "A", "B")]).tolist()
    ['B', 'B']
    """
    out = labels.astype("object").copy()
    pos = {u: i for i, u in enumerate(out.index.astype(str))}
    values = out.to_numpy().copy()
    for unit, old, new in changes:
        i = pos[str(unit)]
        if str(values[i]) != str(old):
            raise ValueError(f"change {unit}: {old} → {new} does not match the plan (unit is in {values[i]})")
        values[i] = new
    return pd.Series(values, index=labels.index, name=labels.name, dtype=object)


# --------------------------------------------------------------------------- partition


def _distances(graph, seed: int, allowed: set[int], coords) -> dict[int, float]:
    if coords is not None:
        idx = np.fromiter(allowed, dtype=np.int64)
        d = np.hypot(*(coords[idx] - coords[seed]).T)
        return dict(zip(idx.tolist(), d.tolist(), strict=True))
    dist = {seed: 0.0}
    queue = deque([seed])
    while queue:
        u = queue.popleft()
        for v in _neighbours(graph, u):
            v = int(v)
            if v in allowed and v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def _bisect(graph, w, members: list[int], target: float, coords) -> tuple[list[int], list[int]]:
    """Grow a connected region of weight ≈ ``target`` from a peripheral seed; the rest stays connected."""
    allowed = set(members)
    # peripheral seed: the member farthest from the first member's farthest member
    d0 = _distances(graph, members[0], allowed, coords)
    seed = max(d0, key=lambda u: (d0[u], -u))
    dist = _distances(graph, seed, allowed, coords)
    region, total = {seed}, float(w[seed])
    heap = [(dist.get(int(v), 1e18), int(v)) for v in _neighbours(graph, seed) if int(v) in allowed]
    heapq.heapify(heap)
    while heap and total < target:
        _, u = heapq.heappop(heap)
        if u in region:
            continue
        if total + w[u] - target > target - total:  # adding overshoots more than it helps
            continue
        region.add(u)
        total += float(w[u])
        for v in _neighbours(graph, u):
            v = int(v)
            if v in allowed and v not in region:
                heapq.heappush(heap, (dist.get(v, 1e18), v))
    rest = [m for m in members if m not in region]
    if rest:
        comps = _components(rest, graph)
        if len(comps) > 1:
            comps.sort(key=lambda c: -sum(w[i] for i in c))
            for c in comps[1:]:
                region.update(c)
            rest = comps[0]
    return sorted(region), sorted(rest)


def partition_contiguous(graph: sparse.csr_array, weights, *, k: int, members=None, coords=None) -> np.ndarray:
    """Split connected ``members`` into ``k`` contiguous parts of about equal weight.

    Recursive bisection: a region is grown from a peripheral unit in order of
    distance (Euclidean with ``coords``, else hops) until it holds its share of
    the weight; detached bits of the remainder join the region, so both halves
    are always contiguous. Fast (no solver); used to split communities, draw
    grids and seed ``--from-scratch`` plans.

    Returns
    -------
    numpy.ndarray
        Part number (0 … k-1) of each member, in the order of ``members``.

    Examples
    --------
    >>> partition_contiguous(lattice_adjacency(1, 6), np.ones(6), k=3).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    w = np.asarray(weights, dtype=float)
    members = np.arange(graph.shape[0]) if members is None else np.asarray(members)
    out = np.full(len(members), -1, dtype=np.int64)
    where = {int(m): i for i, m in enumerate(members)}
    next_label = [0]

    def rec(group: list[int], parts: int) -> None:
        if parts <= 1 or len(group) <= 1:
            lab = next_label[0]
            next_label[0] += 1
            for g in group:
                out[where[g]] = lab
            return
        left_parts = parts // 2
        total = float(sum(w[g] for g in group))
        a, b = _bisect(graph, w, group, total * left_parts / parts, coords)
        if not b:  # the region swallowed everything: peel off a leaf of its BFS tree
            d = _distances(graph, a[0], set(a), None)
            leaf = max(d, key=lambda u: (d[u], u))
            a, b = [g for g in a if g != leaf], [leaf]
        pa = min(left_parts, len(a))
        pb = min(parts - pa, len(b))
        pa = min(parts - pb, len(a))  # a side too small for its share hands parts to the other
        rec(a, max(1, pa))
        rec(b, max(1, pb))

    rec(sorted(int(m) for m in members), int(k))
    # stable numbering by first appearance
    _, first = np.unique(out, return_index=True)
    remap = {int(out[f]): r for r, f in enumerate(sorted(first))}
    return np.array([remap[int(v)] for v in out], dtype=np.int64)


def edit_from_labels(labels: pd.Series, new: pd.Series, *, op: str = "replace", params: dict | None = None,
                     warnings: Sequence[str] = ()) -> EditResult:
    """The edit that turns ``labels`` into ``new`` (e.g. a solver's or a from-scratch plan).

    Examples
    --------
    >>> old = pd.Series(["A", "A", "B"], index=["u1", "u2", "u3"])
    >>> edit_from_labels(old, pd.Series(["A", "B", "B"], index=old.index)).changes
    (('u2', 'A', 'B'),)
    """
    before = labels.astype("object").to_numpy()
    after = new.reindex(labels.index).astype("object").to_numpy()
    changed = np.flatnonzero(before != after)
    changes = tuple((str(labels.index[i]), str(before[i]), str(after[i])) for i in changed)
    return EditResult(op, dict(params or {}), changes, tuple(sorted(set(before[changed]) | set(after[changed]))),
                      (), tuple(warnings))
