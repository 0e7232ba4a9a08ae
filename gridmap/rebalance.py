"""The minimal-change rebalancer: the fewest units moved so every community fits the band.

Given units (grids, 小区 …) assigned to communities, their households and
their adjacency, :class:`Rebalancer` finds new assignments such that every
community has between ``min_households`` and ``max_households`` 户 and is
contiguous, changing as little as possible. The objective is lexicographic:

1. (second phase only) the fewest structural changes — communities split or dissolved;
2. the fewest units moved;
3. then the fewest households moved;
4. then compactness (moved units close, in hops, to the anchor of their new community).

The model is an OR-Tools CP-SAT program. A unit may move only to a community
reachable within ``hops`` unit-adjacency steps; contiguity is enforced with a
single-commodity flow from one fixed anchor unit per community (per piece, for
a community that was already in pieces: no edit makes it worse). When moves
alone cannot fix a community, a second phase may **split** an oversized
community (new communities with a free root) and **dissolve** an undersized one
into its neighbours. Locked units and communities never change.

It scales by solving **local subproblems**: only the communities in violation
and their neighbours (``ring`` community steps) are free, the rest of the map
stays fixed; the ring grows when a subproblem is infeasible. On maps of up to
``polish_units`` units a **polish** then re-solves every touched community and its
neighbours at once, from the as-is plan, with the local solution as a complete hint
(assignment and contiguity flows): chains of moves through communities no subproblem held
are found there. ``local=False`` solves the whole map at once (and can prove the global
optimum on small maps).

Infeasibility is explained, never raised: a unit that alone exceeds the
maximum, a locked community out of the band, an undersized community with no
neighbour, an island whose households cannot reach the minimum, or what the
solver could not fix within the hops — each in Chinese, naming the unit.

Examples
--------
A 1 × 6 strip of units of 500 户: communities A (4 units, 2000 户) and B (2 units, 1000 户);
with a band of 1200–1800 one unit moves from A to B.

>>> from gridmap.edits import lattice_adjacency
>>> labels = pd.Series(list("AAAABB"), index=[f"u{i}" for i in range(6)])
>>> rb = Rebalancer(lattice_adjacency(1, 6), np.full(6, 500), labels,
...                 min_households=1200, max_households=1800).solve()
>>> rb.status_, rb.units_moved_, rb.labels_.tolist()
('optimal', 1, ['A', 'A', 'A', 'B', 'B', 'B'])
>>> Rebalancer(lattice_adjacency(1, 2), np.array([3400, 500]), pd.Series(["A", "B"], index=["320505006023004", "x"]),
...            min_households=1000, max_households=3000).solve().explanations_[0]
'网格 320505006023004 单独就有 3,400 户 > 3,000 户：请先拆分此网格 (this unit alone exceeds the maximum: split it first)'
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridmap.edits import EditResult, _components, community_pieces, partition_contiguous

__all__ = ["Rebalancer", "from_scratch_labels", "band_violations"]

_UNIT_ZH = {"grids": "网格", "blocks": "小区", "buildings": "楼栋"}
_TIMEOUT = "（可加大 --time-limit）"


def band_violations(labels: pd.Series, households, *, min_households: int, max_households: int) -> pd.DataFrame:
    """Communities outside the band: ``community_id, households, status`` (``too_small``/``too_large``).

    Examples
    --------
    >>> band_violations(pd.Series(["A", "A", "B"]), [600, 600, 400], min_households=1000, max_households=3000)
      community_id  households     status
    0            B         400  too_small
    """
    h = pd.Series(np.asarray(households), index=labels.index)
    tot = h.groupby(labels.astype(str).to_numpy()).sum()
    bad = tot[(tot < min_households) | (tot > max_households)]
    return pd.DataFrame({"community_id": bad.index.astype(str), "households": bad.to_numpy(),
                         "status": np.where(bad.to_numpy() < min_households, "too_small", "too_large")})


def from_scratch_labels(graph: sparse.csr_array, households, *, target: int, index=None, coords=None,
                        min_households: int | None = None, max_households: int | None = None,
                        prefix: str = "C") -> pd.Series:
    """A new plan drawn from nothing: contiguous communities of about ``target`` households.

    Each connected part of the map is cut into ``k = round(W / target)`` parts
    (kept within ``[ceil(W / max), floor(W / min)]`` when the band allows) by
    :func:`gridmap.edits.partition_contiguous`; run :class:`Rebalancer` on the
    result to repair any community left outside the band.

    Examples
    --------
    >>> from gridmap.edits import lattice_adjacency
    >>> from_scratch_labels(lattice_adjacency(2, 4), np.full(8, 500), target=2000).value_counts().tolist()
    [4, 4]
    """
    h = np.asarray(households, dtype=float)
    n = len(h)
    _, comp = connected_components(graph, directed=False)
    out = np.empty(n, dtype=object)
    serial = 0
    for c in np.unique(comp):
        members = np.flatnonzero(comp == c)
        w = float(h[members].sum())
        k = max(1, round(w / target))
        lo = math.ceil(w / max_households) if max_households else 1
        hi = math.floor(w / min_households) if min_households else k
        if lo <= hi:
            k = min(max(k, lo), hi)
        k = max(1, min(k, len(members)))
        parts = partition_contiguous(graph, h, k=k, members=members, coords=coords)
        for p in range(k):
            serial += 1
            out[members[parts == p]] = f"{prefix}{serial:04d}"
    return pd.Series(out, index=index if index is not None else pd.RangeIndex(n), dtype=object)


def _bfs_hops(graph, sources: Iterable[int], allowed: set[int] | None, limit: int) -> dict[int, int]:
    dist = {}
    queue = deque()
    for s in sources:
        dist[int(s)] = 0
        queue.append(int(s))
    while queue:
        u = queue.popleft()
        if dist[u] >= limit:
            continue
        for v in graph.indices[graph.indptr[u]:graph.indptr[u + 1]]:
            v = int(v)
            if v not in dist and (allowed is None or v in allowed):
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def _tree_flows(graph, members: set[int], roots: set[int], arcs: dict) -> list[tuple]:
    """Hint values ``(var, value)`` for the contiguity flow of ``members`` from ``roots``: each
    unit's flow in is the size of its subtree of a BFS tree. Empty when a member is unreachable."""
    parent: dict[int, int] = {}
    order = []
    seen = set(roots)
    queue = deque(seen)
    while queue:
        u = queue.popleft()
        for v in graph.indices[graph.indptr[u]:graph.indptr[u + 1]]:
            v = int(v)
            if v in members and v not in seen and (u, v) in arcs:
                seen.add(v)
                parent[v] = u
                order.append(v)
                queue.append(v)
    if not members <= seen:
        return []
    sub = dict.fromkeys(order, 1)
    for v in reversed(order):
        if parent[v] in sub:
            sub[parent[v]] += sub[v]
    tree = {(parent[v], v): sub[v] for v in order}
    return [(f, tree.get(k, 0)) for k, f in arcs.items()]


class Rebalancer:
    """Minimal-change rebalancing of units between communities (OR-Tools CP-SAT).

    Parameters
    ----------
    graph
        Unit adjacency, positional (:func:`gridmap.edits.unit_adjacency`).
    households
        Households per unit (integers), positional.
    labels
        The current community of each unit; its index is the unit ids.
    min_households, max_households
        The band (national default 1000–3000 户).
    hops
        A unit may move only to a community whose units are within this many
        adjacency steps of it (default 2).
    locked_units, locked_communities
        Ids that must not change (a locked community neither loses nor gains units).
    allow_split, allow_dissolve
        Second phase, when moves alone cannot fix a community.
    local, ring
        Solve local subproblems around the violations (default), starting with
        neighbours ``ring`` community steps away; ``local=False`` solves everything at once.
    time_limit
        Seconds for the whole solve (shared among subproblems).
    workers
        CP-SAT search workers (default 2).
    coords
        Unit representative points (n × 2), used to pick anchors (else the best-connected unit).
    names
        ``{community_id: 名称}`` for messages; ``unit_kind`` words them (``"grids"`` → 网格).
    offsets
        ``{community_id: 户数}`` a community holds outside its units (fixed).
    exempt_min
        Communities exempt from the minimum (居民分散, ``sparse``).
    depth
        In local subproblems only units within ``depth`` steps of a violator's boundary may
        move (``None``: every unit of the subproblem's communities).
    polish_units
        After the local pass, the touched communities and their neighbours are re-solved
        together, warm-started with the local solution, when they hold at most this many units
        (the local pass then skips its households/compactness stage for moves-only subproblems).
    polish_depth, polish_hops
        The polish's move set: units within ``polish_depth`` steps of any community boundary
        (default 0: boundary units), plus those near a violator (``depth``) and those the local
        pass moved, may join a community within ``polish_hops`` steps (default 1) or the one
        the local pass chose.
    max_communities
        Largest local subproblem (communities) built by merging overlapping neighbourhoods;
        more violations are solved in turn, each seeing the previous solutions.

    Attributes
    ----------
    labels_ : pandas.Series
        The new community of each unit.
    moves_ : pandas.DataFrame
        ``unit_id, from_community, to_community, households``.
    status_ : str
        ``"optimal"`` (every subproblem proven optimal), ``"feasible"``, ``"partial"``
        (violations left; see ``explanations_``) or ``"no_violations"``.
    explanations_ : list of str
        Why violations are left (Chinese, with the English gist).
    units_moved_, households_moved_, violations_before_, violations_after_ : int
    non_contiguous_ : list of str
        Communities in more than one piece after the solve (only those that already were).
    subproblems_ : list of dict
        Per subproblem: communities, units, phase, ring, status, seconds, moves, bound.
    seconds_ : float
    """

    def __init__(self, graph: sparse.csr_array, households, labels: pd.Series, *, min_households: int = 1000,
                 max_households: int = 3000, hops: int = 2, locked_units: Iterable = (),
                 locked_communities: Iterable = (), allow_split: bool = True, allow_dissolve: bool = True,
                 local: bool = True, ring: int = 1, time_limit: float = 60.0, workers: int = 2,
                 coords: np.ndarray | None = None, names: dict | None = None, unit_kind: str = "grids",
                 offsets: dict | None = None, exempt_min: Iterable = (), max_communities: int = 12,
                 depth: int | None = 3, polish_units: int = 2500, polish_depth: int = 0,
                 polish_hops: int = 1) -> None:
        self.graph = sparse.csr_array(graph)
        self.households = np.asarray(households, dtype=np.int64)
        self.base = pd.Series(labels.astype(str).to_numpy(), index=labels.index.astype(str), dtype=object)
        if len(self.households) != len(self.base) or self.graph.shape[0] != len(self.base):
            raise ValueError(f"graph ({self.graph.shape[0]}), households ({len(self.households)}) and labels "
                             f"({len(self.base)}) must have one entry per unit")
        if min_households > max_households:
            raise ValueError(f"min_households {min_households} > max_households {max_households}")
        self.min_households, self.max_households = int(min_households), int(max_households)
        self.hops, self.local, self.ring = int(hops), bool(local), int(ring)
        self.locked_units = {str(u) for u in locked_units}
        self.locked_communities = {str(c) for c in locked_communities}
        self.allow_split, self.allow_dissolve = allow_split, allow_dissolve
        self.time_limit, self.workers = float(time_limit), int(workers)
        self.coords = coords
        self.names = {str(k): str(v) for k, v in (names or {}).items()}
        self.unit_zh = _UNIT_ZH.get(unit_kind, unit_kind)
        self.max_communities = int(max_communities)
        self.depth = None if depth is None else int(depth)
        self.polish_units = int(polish_units)
        self.polish_depth = int(polish_depth)
        self.polish_hops = int(polish_hops)
        self._skip_level2 = False
        self.offsets = {str(k): int(v) for k, v in (offsets or {}).items()}
        self.exempt_min = {str(c) for c in exempt_min}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_plan(cls, plan, **kwargs) -> Rebalancer:
        """From a :class:`gridmap.plans.Plan` (its current labels, adjacency, names)."""
        kwargs.setdefault("coords", plan.coords())
        kwargs.setdefault("names", plan.community_names)
        kwargs.setdefault("unit_kind", plan.unit_kind)
        kwargs.setdefault("offsets", plan.offsets)
        kwargs.setdefault("exempt_min", plan.exempt_min())
        return cls(plan.graph, plan.units["households"].to_numpy(), plan.labels, **kwargs)

    @classmethod
    def from_geodataframe(cls, gdf, *, community: str = "community_id", households: str = "households",
                          tolerance: float = 1.0, **kwargs) -> Rebalancer:
        """From polygons with a community column and a households column (metric CRS)."""
        import shapely

        from gridmap.edits import unit_adjacency

        pts = shapely.point_on_surface(np.asarray(gdf.geometry.values))
        kwargs.setdefault("coords", np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]))
        return cls(unit_adjacency(gdf, tolerance=tolerance), gdf[households].fillna(0).to_numpy(),
                   gdf[community], **kwargs)

    # ------------------------------------------------------------------ helpers
    def _name(self, cid: str) -> str:
        n = self.names.get(cid)
        return f"社区 {cid}（{n}）" if n and n != cid else f"社区 {cid}"

    def _totals(self, lab: np.ndarray) -> pd.Series:
        t = pd.Series(self.households).groupby(lab).sum()
        if self.offsets:
            t = t + pd.Series(self.offsets, dtype="int64").reindex(t.index).fillna(0).astype("int64")
        return t

    def _violators(self, lab: np.ndarray) -> list[str]:
        t = self._totals(lab)
        small = (t < self.min_households) & ~t.index.isin(sorted(self.exempt_min))
        return sorted(t[small | (t > self.max_households)].index.astype(str))

    def _comm_graph(self, lab: np.ndarray) -> dict[str, set[str]]:
        coo = self.graph.tocoo()
        a, b = lab[coo.row], lab[coo.col]
        m = a != b
        out: dict[str, set[str]] = {c: set() for c in np.unique(lab)}
        for x, y in set(zip(a[m].tolist(), b[m].tolist(), strict=True)):
            out[x].add(y)
        return out

    # ------------------------------------------------------------------ pre-checks
    def _prechecks(self, lab: np.ndarray) -> tuple[list[str], set[str]]:
        """Violations no solver can fix: (explanations, communities to leave alone)."""
        notes, skip = [], set()
        h, mx, mn = self.households, self.max_households, self.min_households
        ids = self.base.index
        totals = self._totals(lab)
        for i in np.flatnonzero(h > mx):
            notes.append(f"{self.unit_zh} {ids[i]} 单独就有 {h[i]:,} 户 > {mx:,} 户：请先拆分此{self.unit_zh} "
                         f"(this unit alone exceeds the maximum: split it first)")
            skip.add(lab[i])
        for cid in sorted(self.locked_communities & set(totals.index)):
            if not mn <= totals[cid] <= mx:
                notes.append(f"{self._name(cid)} 已锁定，但有 {totals[cid]:,} 户，不在 {mn:,}–{mx:,} 户范围内：请解除锁定 "
                             f"(locked but outside the band: unlock it)")
                skip.add(cid)
        _, comp = connected_components(self.graph, directed=False)
        comp_total = pd.Series(h).groupby(comp).sum()
        violators = set(self._violators(lab))
        for c in comp_total.index[comp_total < mn]:
            inside = comp == c
            # communities wholly on this island (a stray piece of a larger community is not a violation)
            comms = sorted(x for x in set(lab[inside]) if x in violators and not (lab[~inside] == x).any())
            if comms:
                notes.append(f"{'、'.join(self._name(x) for x in comms)} 所在区域与其他社区不相邻，合计只有 {comp_total[c]:,} 户 < {mn:,} 户："
                             f"没有可合并的相邻社区 (an isolated area below the minimum: no neighbour to merge with)")
                skip.update(comms)
        cg = self._comm_graph(lab)
        for cid in self._violators(lab):
            if cid in skip:
                continue
            if totals[cid] < mn and not cg.get(cid):
                notes.append(f"{self._name(cid)} 只有 {totals[cid]:,} 户 < {mn:,} 户，且没有可合并的相邻社区 (no neighbour it can merge with)")
                skip.add(cid)
        return notes, skip

    # ------------------------------------------------------------------ solve
    def solve(self) -> Rebalancer:
        """Find the minimal change; returns self with the ``…_`` attributes set."""
        t0 = self._t0 = time.perf_counter()
        lab = self.base.to_numpy().copy()
        ids = self.base.index
        self.violations_before_ = len(self._violators(lab))
        notes, skip = self._prechecks(lab)
        self.subproblems_: list[dict] = []
        self.proven_ = True
        todo = [c for c in self._violators(lab) if c not in skip]
        failed: dict[str, str] = {}
        deadline = t0 + self.time_limit
        # a small map is polished as a whole afterwards: the local pass only needs the fewest moves
        self._skip_level2 = bool(self.local and len(lab) <= self.polish_units)
        if todo:
            if self.local:
                clusters = self._clusters(lab, todo, self.ring, skip)
            else:
                clusters = [sorted(set(lab) - self.locked_communities - skip)]
            for k, cluster in enumerate(clusters):
                n_left = len(clusters) - k
                pending = [c for c in self._violators(lab) if c in set(cluster) and c not in skip]
                if not pending:
                    continue
                budget = max(1.0, (deadline - time.perf_counter()) / n_left)
                ok, reason = self._fix(lab, cluster, pending, skip, budget, deadline)
                if not ok and self.local and len(pending) > 1 and reason.endswith(_TIMEOUT):
                    # too hard together: one violation at a time, each seeing the previous fixes
                    ok, reason = True, ""
                    for j, c in enumerate(pending):
                        if c not in self._violators(lab):
                            continue
                        hood = sorted(self._ring(self._comm_graph(lab), [c], self.ring, skip))
                        each = max(1.0, budget / (len(pending) - j))
                        ok_c, why = self._fix(lab, hood, [c], skip, each, deadline)
                        if not ok_c:
                            failed[c] = why
                if not ok:
                    for c in pending:
                        failed[c] = reason
        self._skip_level2 = False
        if self.local and todo and not failed:
            self._polish(lab, todo, skip, deadline)
        left = self._violators(lab)
        tot = self._totals(lab)
        for cid in left:
            if cid in failed:
                word = "不足" if tot[cid] < self.min_households else "超出"
                bound = self.min_households if tot[cid] < self.min_households else self.max_households
                notes.append(f"{self._name(cid)} 有 {tot[cid]:,} 户（{word} {bound:,}）：{failed[cid]}")
        self.labels_ = pd.Series(lab, index=ids, dtype=object, name="community_id")
        moved = np.flatnonzero(lab != self.base.to_numpy())
        self.moves_ = pd.DataFrame({"unit_id": ids[moved].astype(str), "from_community": self.base.to_numpy()[moved],
                                    "to_community": lab[moved], "households": self.households[moved]})
        self.units_moved_ = int(len(moved))
        self.households_moved_ = int(self.households[moved].sum())
        self.violations_after_ = len(left)
        pieces = community_pieces(self.labels_, self.graph)
        self.non_contiguous_ = sorted(pieces[pieces > 1].index.astype(str))
        self.explanations_ = notes
        if self.violations_before_ == 0:
            self.status_ = "no_violations"
        elif left:
            self.status_ = "partial"
        else:
            self.status_ = "optimal" if self.proven_ else "feasible"
        self.seconds_ = time.perf_counter() - t0
        return self

    def _polish(self, lab, violators, skip, deadline) -> None:
        """Re-solve the communities the local pass touched, and their neighbours, at once from
        the as-is plan, warm-started with the local solution (a complete hint): chains of local
        fixes often share moves, and a chain may pass through a community no subproblem held.

        To stay fast the move set is restricted: a unit may join only a community it borders
        (``polish_hops``, default 1) or the one the local pass gave it; units near a violator's
        boundary and on any boundary may move, interior units stay. The LP relaxation is
        strengthened (``linearization_level`` 2): it guides the search to the chains."""
        base = self.base.to_numpy()
        if set(lab) != set(base):  # splits or dissolves: keep the local solution
            return
        moved = lab != base
        touched = (set(base[moved]) | set(lab[moved]) | set(violators)) - skip - self.locked_communities
        # and their neighbours: a chain of moves through a community the local pass did not reach
        touched = self._ring(self._comm_graph(base), sorted(touched), 1, skip)
        units = int(np.isin(base, sorted(touched)).sum())
        elapsed = time.perf_counter() - self._t0
        seconds = min(deadline - time.perf_counter(), max(4.0, 1.5 * elapsed))
        if units > self.polish_units or seconds < 2 or not moved.any():
            return
        g = self.graph
        inside = np.flatnonzero(np.isin(base, sorted(touched)))
        edge = [int(i) for i in inside if any(base[v] != base[i] for v in g.indices[g.indptr[i]:g.indptr[i + 1]])]
        pend = set(violators)
        near = [i for i in edge if base[i] in pend]
        allowed = set(inside.tolist())
        movable = set(_bfs_hops(g, edge, allowed, self.polish_depth)) | set(np.flatnonzero(moved).tolist())
        if self.depth is not None:
            movable |= set(_bfs_hops(g, near, allowed, self.depth))
        depth, hops, self.depth, self.hops = self.depth, self.hops, None, min(self.hops, self.polish_hops)
        try:
            status, new, info = self._solve_sub(base.copy(), sorted(touched), 1, seconds, sorted(violators), hint=lab,
                                                movable=movable, params={"linearization_level": 2})
        finally:
            self.depth, self.hops = depth, hops
        info.update(ring=None, phase="polish", status=status)
        self.subproblems_.append(info)
        if new is not None and (new != base).sum() <= moved.sum() and not self._violators(new):
            lab[:] = new
            if status != "optimal":
                self.proven_ = False

    def _ring(self, cg, seeds, steps: int, skip) -> set[str]:
        """``seeds`` and the communities up to ``steps`` community-adjacency steps away."""
        active, frontier = set(seeds), set(seeds)
        for _ in range(steps):
            frontier = {n for c in frontier for n in cg[c]} - active
            active |= frontier
        return active - self.locked_communities - (set(skip) - set(seeds))

    def _clusters(self, lab, violators, ring, skip) -> list[list[str]]:
        """Groups of communities to solve together: each violator with its ring, overlapping
        neighbourhoods merged while the group stays under ``max_communities``."""
        cg = self._comm_graph(lab)
        hoods = [self._ring(cg, [v], ring, skip) for v in violators]
        groups: list[set[str]] = []
        for hood in hoods:
            merged = hood
            for grp in [grp for grp in groups if grp & hood]:
                if len(grp | merged) <= self.max_communities:
                    merged |= grp
                    groups.remove(grp)
            groups.append(merged)
        # small groups first: their budget is what the large ones leave
        return [sorted(grp) for grp in sorted(groups, key=len)]

    def _fix(self, lab, cluster, pending, skip, budget, deadline) -> tuple[bool, str]:
        """Try moves (growing ring), then split/dissolve. Updates ``lab`` in place on success."""
        rings = [0] if not self.local else [0, 1, 2]
        cluster = set(cluster)
        attempts = [(r, 1) for r in rings]
        if self.allow_split or self.allow_dissolve:
            attempts += [(rings[-1], 2)]
        reason = f"在 {self.hops} 跳范围内找不到可行的移动方案"
        t_start = time.perf_counter()
        for extra, phase in attempts:
            remaining = min(budget - (time.perf_counter() - t_start), deadline - time.perf_counter())
            if remaining <= 0.2:
                return False, "求解时间用尽 (time limit reached)" + _TIMEOUT
            active = set(cluster)
            if extra:
                active = self._ring(self._comm_graph(lab), pending, self.ring + extra, skip) | cluster
            # infeasibility is proven fast; a hard feasible search gets the whole budget
            depth = self.depth
            if phase == 2:
                self.depth = None  # the last resort: every unit of the active communities may move
            try:
                status, new_lab, info = self._solve_sub(lab, sorted(active), phase, remaining, pending)
            finally:
                self.depth = depth
            info.update(ring=self.ring + extra, phase=phase, status=status)
            self.subproblems_.append(info)
            if new_lab is not None:
                lab[:] = new_lab
                if status != "optimal":
                    self.proven_ = False
                return True, ""
            if status == "unknown":
                return False, f"在 {self.hops} 跳范围内、限定时间内没有找到方案{_TIMEOUT}"
            elif phase == 2:
                reason = (f"在 {self.hops} 跳范围内，移动、拆分与合并都无法达标 (no feasible change within {self.hops} hops): "
                          "可加大 --hops、解除锁定或手工调整")
        return False, reason

    def _anchors(self, members: np.ndarray) -> list[int]:
        """One fixed anchor per connected piece: a locked unit, else the most central unit."""
        out = []
        ids = self.base.index
        for comp in _components(members, self.graph):
            comp = np.array(sorted(comp))
            locked = [i for i in comp if ids[i] in self.locked_units]
            if locked:
                out.append(int(locked[0]))
            elif self.coords is not None:
                w = self.households[comp].astype(float) + 1e-9
                centre = (self.coords[comp] * w[:, None]).sum(0) / w.sum()
                out.append(int(comp[np.argmin(np.hypot(*(self.coords[comp] - centre).T))]))
            else:
                inside = set(comp.tolist())
                deg = [sum(int(v) in inside for v in self.graph.indices[self.graph.indptr[i]:self.graph.indptr[i + 1]]) for i in comp]
                out.append(int(comp[int(np.argmax(deg))]))
        return out

    def _solve_sub(self, lab, active: list[str], phase: int, seconds: float, pending=None, hint=None, movable=None,
                   params=None):
        from ortools.sat.python import cp_model

        t0 = time.perf_counter()
        ids = self.base.index
        h, g = self.households, self.graph
        mn, mx = self.min_households, self.max_households
        act = set(active)
        units = np.flatnonzero(np.isin(lab, active))
        members = {c: units[lab[units] == c] for c in active}
        anchors = {c: self._anchors(members[c]) for c in active}
        totals = {c: int(h[members[c]].sum()) + self.offsets.get(c, 0) for c in active}
        targets = [c for c in active if c not in self.locked_communities]
        slots: dict[str, list[str]] = {}
        dissolvable: set[str] = set()
        if phase == 2:
            taken = set(self.base.to_numpy()) | set(lab)
            for c in active:
                if pending and c not in set(pending):
                    continue
                if totals[c] > mx and self.allow_split and c not in self.locked_communities:
                    ss = [f"{c}-{k + 2}" for k in range(max(1, math.ceil(totals[c] / mx) - 1))]
                    slots[c] = [s if s not in taken else f"{s}-新" for s in ss]
                if (totals[c] < mn and c not in self.exempt_min and self.allow_dissolve and c not in self.locked_communities
                        and not any(ids[i] in self.locked_units for i in members[c])):
                    dissolvable.add(c)
        anchor_set = {a for c in active if c not in dissolvable for a in anchors[c]}
        fixed = {int(i) for i in units if ids[i] in self.locked_units or lab[i] in self.locked_communities} | anchor_set
        if self.local and self.depth is not None and pending:
            # only units near the violations may move: within `depth` steps of a violator's boundary
            # (all of a violator's units in the split/dissolve phase); the rest is held fixed
            pend = set(pending)
            seeds = [int(i) for i in units if lab[i] in pend and (phase == 2 or any(
                lab[v] != lab[i] for v in g.indices[g.indptr[i]:g.indptr[i + 1]]))]
            zone = _bfs_hops(g, seeds, set(units.tolist()), self.depth)
            fixed |= {int(i) for i in units if int(i) not in zone}
        if movable is not None:
            fixed |= {int(i) for i in units if int(i) not in movable}
        free = [int(i) for i in units if int(i) not in fixed]
        # candidate communities of each free unit: within `hops` steps
        cand: dict[int, set[str]] = {}
        for i in free:
            near = _bfs_hops(g, [i], None, self.hops)
            cand[i] = ({lab[v] for v in near if lab[v] in act and lab[v] in targets}) | {lab[i]}
            if hint is not None and hint[i] in act and hint[i] in targets:
                cand[i].add(hint[i])
        for c, ss in slots.items():
            for i in members[c]:
                if int(i) in cand:
                    cand[int(i)] |= set(ss)
        if dissolvable:
            # a dissolved community's units may go to any community it borders, however deep inside
            cg = self._comm_graph(lab)
            for c in dissolvable:
                around = {n for n in cg[c] if n in act and n in targets}
                for i in members[c]:
                    if int(i) in cand:
                        cand[int(i)] |= around
        m = cp_model.CpModel()
        x: dict[tuple[int, str], object] = {}
        for i in free:
            for c in sorted(cand[i]):
                x[i, c] = m.NewBoolVar("")
            m.AddExactlyOne(x[i, c] for c in cand[i])
        one = m.NewConstant(1)

        def xv(i, c):
            if i in fixed:
                return one if lab[i] == c else None
            return x.get((i, c))

        y = {}
        for c in active:
            y[c] = m.NewBoolVar("") if c in dissolvable else one
        for ss in slots.values():
            prev = None
            for s in ss:
                y[s] = m.NewBoolVar("")
                if prev is not None:
                    m.Add(y[s] <= prev)
                prev = y[s]
        # anchors of dissolvable communities stay unless the community is dissolved
        for c in dissolvable:
            for a in anchors[c]:
                m.Add(x[a, c] == y[c])
        comms = list(active) + [s for ss in slots.values() for s in ss]
        dist_cost: dict[tuple[int, str], int] = {}
        flows: dict[str, tuple[set, set, dict]] = {}  # community -> (pool, roots, arcs), for the hint
        for c in comms:
            pool = [i for i in units if xv(int(i), c) is not None]
            if not pool:
                continue
            terms = [(int(i), xv(int(i), c)) for i in pool]
            hsum = sum(int(h[i]) * v for i, v in terms) + self.offsets.get(c, 0)
            if y[c] is one:
                if c not in self.exempt_min:
                    m.Add(hsum >= mn)
                m.Add(hsum <= mx)
            else:
                m.Add(hsum >= mn).OnlyEnforceIf(y[c])
                m.Add(hsum <= mx * y[c])
                for _, v in terms:
                    if v is not one:
                        m.AddImplication(v, y[c])
            varying = any(v is not one for _, v in terms)
            if not varying:
                continue
            pset = {i for i, _ in terms}
            size = len(pset)
            is_slot = c not in act
            xs = dict(terms)
            roots = set()
            if not is_slot:
                # the fixed units connected (through fixed units) to an anchor act as one root
                core = {u for u, v in xs.items() if v is one}
                roots = set(_bfs_hops(g, anchors[c], core, 1 << 30)) if c not in dissolvable else set(anchors[c])
            size = len(pset - roots) + 1
            arcs = {}
            for u in pset:
                for v in g.indices[g.indptr[u]:g.indptr[u + 1]]:
                    v = int(v)
                    if v in pset and v not in roots:
                        arcs[u, v] = m.NewIntVar(0, size, "")
            for (u, v), f in arcs.items():
                if xs[u] is not one:
                    m.Add(f <= size * xs[u])
                if xs[v] is not one:
                    m.Add(f <= size * xs[v])
            inflow = {u: [] for u in pset}
            outflow = {u: [] for u in pset}
            for (u, v), f in arcs.items():
                outflow[u].append(f)
                inflow[v].append(f)
            if not is_slot:
                flows[c] = (pset, roots, arcs)
            if is_slot:
                r = {u: m.NewBoolVar("") for u in pset}
                m.Add(sum(r.values()) == y[c])
                for u in pset:
                    m.AddImplication(r[u], xs[u])
                    sup = m.NewIntVar(0, size, "")
                    m.Add(sup <= size * r[u])
                    m.Add(sum(inflow[u]) - sum(outflow[u]) == xs[u] - sup)
            else:
                for u in pset:
                    if u in roots:
                        continue
                    m.Add(sum(inflow[u]) - sum(outflow[u]) == xs[u])
                    if xs[u] is not one:  # a member needs a member neighbour (implied; helps propagation)
                        nb = [xs[v] for v in g.indices[g.indptr[u]:g.indptr[u + 1]] if int(v) in pset]
                        m.Add(sum(nb) >= xs[u]) if nb else m.Add(xs[u] == 0)
                d = _bfs_hops(g, roots, pset, 30)
                for u in pset:
                    dist_cost[u, c] = min(d.get(u, 30), 30)
        # objective, lexicographic in two solves: (structural changes, units moved), then
        # (households moved, compactness) with the first level fixed at its value
        moved = [(i, 1 - x[i, lab[i]]) for i in free]
        structural = [1 - y[c] for c in dissolvable] + [y[s] for ss in slots.values() for s in ss]
        n_moved = sum(e for _, e in moved)
        level1 = n_moved + (len(free) + 1) * sum(structural) if structural else n_moved
        m.Minimize(level1)
        # a complete hint (assignment and the flows that prove it contiguous): CP-SAT starts from
        # a feasible solution instead of repairing a partial one
        want = lab.copy()
        for i in free:
            if hint is not None and hint[i] in cand[i]:
                want[i] = hint[i]
            for c in cand[i]:
                m.AddHint(x[i, c], int(c == want[i]))
        for c, (pset, roots, arcs) in flows.items():
            for v in _tree_flows(g, {u for u in pset if want[u] == c}, roots, arcs):
                m.AddHint(*v)
        for c in dissolvable:
            m.AddHint(y[c], 1)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.5, seconds * 0.8)
        solver.parameters.num_workers = self.workers
        solver.parameters.random_seed = 0
        for k, v in (params or {}).items():
            setattr(solver.parameters, k, v)
        st = solver.Solve(m)
        info = {"communities": len(active), "units": len(units), "free_units": len(free)}
        name = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
                cp_model.INFEASIBLE: "infeasible", cp_model.MODEL_INVALID: "invalid"}.get(st, "unknown")
        if name not in ("optimal", "feasible"):
            info["seconds"] = round(time.perf_counter() - t0, 3)
            return name, None, info
        info["seconds_level1"] = round(time.perf_counter() - t0, 3)
        info["bound"] = solver.BestObjectiveBound()
        info["level1"] = solver.ObjectiveValue()
        values = {k: solver.Value(v) for k, v in x.items()}
        # second level: fewest households moved, then compactness, without more moves
        compact = [(dist_cost.get((i, c), 0), v) for (i, c), v in x.items() if c != lab[i]]
        cmax = sum(max([dist_cost.get((i, c), 0) for c in cand[i]] + [0]) for i in free)
        m.Add(level1 <= int(round(solver.ObjectiveValue())))
        m.ClearHints()
        sol = solver.ResponseProto().solution
        m.Proto().solution_hint.vars.extend(range(len(sol)))
        m.Proto().solution_hint.values.extend(sol)
        m.Minimize((cmax + 1) * sum(int(h[i]) * e for i, e in moved) + sum(d * v for d, v in compact if d))
        left = seconds - (time.perf_counter() - t0)
        if left > 0.3 and info["level1"] > 0 and not (self._skip_level2 and phase == 1):
            solver2 = cp_model.CpSolver()
            solver2.parameters.max_time_in_seconds = max(0.3, min(left, 0.15 * seconds + 0.5))
            solver2.parameters.num_workers = self.workers
            solver2.parameters.random_seed = 0
            st2 = solver2.Solve(m)
            if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                values = {k: solver2.Value(v) for k, v in x.items()}
            info["level2"] = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(st2, "unknown")
        new = lab.copy()
        for (i, c), v in values.items():
            if v:
                new[i] = c
        info["moves"] = int((new != lab).sum())
        info["seconds"] = round(time.perf_counter() - t0, 3)
        return name, new, info

    # ------------------------------------------------------------------ outputs
    def to_edit(self) -> EditResult:
        """The solution as an edit for :meth:`gridmap.plans.Plan.apply` (op ``"rebalance"``)."""
        changes = tuple(zip(self.moves_["unit_id"], self.moves_["from_community"], self.moves_["to_community"], strict=True))
        params = {"min": self.min_households, "max": self.max_households, "hops": self.hops,
                  "locked_units": sorted(self.locked_units), "locked_communities": sorted(self.locked_communities),
                  "status": self.status_, "units_moved": self.units_moved_}
        touched = tuple(sorted(set(self.moves_["from_community"]) | set(self.moves_["to_community"])))
        return EditResult("rebalance", params, changes, touched, (), tuple(self.explanations_))
