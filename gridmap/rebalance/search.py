"""How the rebalancer searches: local subproblems, escalation, the whole map or a polish.

:class:`StagedSearch` is the search strategy of :class:`gridmap.rebalance.Rebalancer` (its
base class). Each stage solves subproblems (:func:`gridmap.rebalance.model.solve_subproblem`)
warm-started from the plan so far and keeps a result only when it is better — fewer
communities out of band, then fewer units moved, then fewer households moved:

1. **local**: each violation with its neighbours (``ring`` community steps), only units
   within ``depth`` steps of the violator's boundary free; the band hard first (fast to
   prove), then only the violations soft;
2. **escalation** for what is left: larger neighbourhoods, deeper move zones;
3. **polish** of every touched community and its neighbours at once (always, on whatever was
   fixed), then the **whole map** when it holds at most ``global_units`` units, else
   **improvement** windows around the moves with every unit free, while budget is left.

The work budget is CP-SAT deterministic time, so the same input gives the same plan.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from gridmap.rebalance.graph import bfs_hops
from gridmap.rebalance.model import solve_subproblem

__all__ = ["StagedSearch"]


class StagedSearch:
    """The staged search of :class:`gridmap.rebalance.Rebalancer` (see the module text)."""

    # set by Rebalancer
    graph: sparse.csr_array
    households: np.ndarray
    base: pd.Series
    base_arr: np.ndarray
    base_pieces: dict[str, int]
    coords: np.ndarray | None
    workers: int
    allow_split: bool
    allow_dissolve: bool
    locked_units: set[str]
    hops: int
    ring: int
    depth: int | None
    time_limit: float
    global_units: int
    polish_units: int
    polish_depth: int
    polish_hops: int
    max_communities: int
    locked_communities: set[str]
    min_households: int
    max_households: int
    offsets: dict[str, int]
    exempt_min: set[str]
    # set by Rebalancer.solve
    subproblems_: list[dict]
    proven_: bool
    deterministic_: bool
    _work: float
    _wall_end: float
    _skip: set[str]
    _reach: dict[str, str]

    def _totals(self, lab: np.ndarray) -> pd.Series:
        t = pd.Series(self.households).groupby(lab).sum()
        if self.offsets:
            extra = pd.Series(self.offsets, dtype="int64").reindex(t.index).fillna(0)
            t = t + extra.astype("int64")
        return t

    def _violators(self, lab: np.ndarray) -> list[str]:
        t = self._totals(lab)
        small = (t < self.min_households) & ~t.index.isin(sorted(self.exempt_min))
        return sorted(t[small | (t > self.max_households)].index.astype(str))

    def _key(self, lab: np.ndarray) -> tuple[int, int, int]:
        """What the stages minimise: (violations, units moved, households moved)."""
        moved = lab != self.base_arr
        return len(self._violators(lab)), int(moved.sum()), int(self.households[moved].sum())

    def _comm_graph(self, lab: np.ndarray) -> dict[str, set[str]]:
        coo = self.graph.tocoo()
        a, b = lab[coo.row], lab[coo.col]
        m = a != b
        out: dict[str, set[str]] = {c: set() for c in np.unique(lab)}
        for x, y in set(zip(a[m].tolist(), b[m].tolist(), strict=True)):
            out[x].add(y)
        return out

    def _try(
        self,
        lab: np.ndarray,
        active: list[str],
        stage: str,
        seconds: float,
        *,
        pending: list[str] | None = None,
        phase: int = 1,
        hint: np.ndarray | None = None,
        movable: set[int] | None = None,
        depth: int | None = None,
        hops: int | None = None,
        params: dict | None = None,
        level2: bool = True,
        local: bool = False,
    ) -> bool:
        """One subproblem; ``local``: the band hard first, then only the violations soft."""
        kw: dict[str, Any] = dict(
            pending=pending,
            phase=phase,
            hint=hint,
            movable=movable,
            depth=depth,
            hops=hops,
            params=params,
            level2=level2,
        )
        if not local:
            return self._attempt(lab, active, stage, seconds, **kw)
        # hard band first (fast to prove), then only the violations soft: an unfixable
        # community never makes its neighbours' fixes infeasible
        before = self._work
        if self._attempt(lab, active, stage, seconds, band="hard", **kw):
            return True
        if self.subproblems_ and self.subproblems_[-1]["status"] == "optimal":
            return False
        # infeasible (usually proven fast) or out of time: the violations soft, the rest of
        # the budget
        rest = max(0.2 * seconds, 2 * seconds - (self._work - before))
        return self._attempt(lab, active, stage, rest, band="local", **kw)

    def _attempt(
        self,
        lab: np.ndarray,
        active: list[str],
        stage: str,
        seconds: float,
        *,
        pending: list[str] | None = None,
        phase: int = 1,
        hint: np.ndarray | None = None,
        movable: set[int] | None = None,
        depth: int | None = None,
        hops: int | None = None,
        params: dict | None = None,
        level2: bool = True,
        band: str = "soft",
    ) -> bool:
        """Solve one subproblem; keep its plan when it is better (see :meth:`_key`)."""
        wall = self._wall_end - time.perf_counter()
        if not active:
            return False
        if wall <= 0:
            self.deterministic_ = False
            return False
        hint = lab.copy() if hint is None else hint
        params = {**(params or {}), "max_time_in_seconds": wall}
        status, new, info = solve_subproblem(
            self,
            lab,
            list(active),
            seconds=max(0.05, seconds),
            phase=phase,
            pending=pending,
            hint=hint,
            movable=movable,
            depth=depth,
            hops=hops,
            params=params,
            level2=level2,
            band=band,
            soft=self._skip,
        )
        self._work += info.get("work", 0.0)
        if time.perf_counter() >= self._wall_end:
            self.deterministic_ = False
        info.update(stage=stage, status=status)
        self.subproblems_.append(info)
        for c in pending or ():
            self._reach[c] = stage
        if new is None:
            return False
        whole_map = stage == "global" and len(active) == len(set(lab) - self.locked_communities)
        better = self._key(new) < self._key(lab)
        if better:
            lab[:] = new
        if whole_map and status == "optimal" and phase == 1 and movable is None and depth is None:
            self.proven_ = True
        return better

    def _stages(self, lab: np.ndarray, skip: set[str]) -> None:
        """Local subproblems, escalation, then the whole map or a polish (see the module text)."""
        budget = self.time_limit
        n = len(lab)
        whole = sorted(set(lab) - self.locked_communities)
        small = n <= self.global_units
        # 1. local: each violation and its neighbours, near units free
        share_local = budget * (0.3 if small else 0.5)
        cap = max(1.0, budget / 20)  # one local subproblem: a small share of the budget
        todo = [c for c in self._violators(lab) if c not in skip]
        clusters = self._clusters(lab, todo, self.ring, skip, self.max_communities)
        for k, cluster in enumerate(clusters):
            pending = [c for c in self._violators(lab) if c in set(cluster) and c not in skip]
            if pending:
                left = share_local - self._work
                share = min(cap, max(0.2, left / (len(clusters) - k)))
                self._try(
                    lab,
                    cluster,
                    f"{self.ring}",
                    share,
                    pending=pending,
                    depth=self.depth,
                    level2=False,
                    local=True,
                )
        # 2. escalation: wider neighbourhoods, more units free
        for extra in (1, 2):
            todo = [c for c in self._violators(lab) if c not in skip]
            if not todo:
                break
            clusters = self._clusters(lab, todo, self.ring + extra, skip, 2 * self.max_communities)
            stage_end = budget * (
                (0.45 if extra == 1 else 0.55) if small else (0.65 if extra == 1 else 0.8)
            )
            for k, cluster in enumerate(clusters):
                pending = [c for c in self._violators(lab) if c in set(cluster) and c not in skip]
                if pending:
                    left = stage_end - self._work
                    share = min(2 * cap, max(0.2, left / (len(clusters) - k)))
                    self._try(
                        lab,
                        cluster,
                        f"{self.ring + extra}",
                        share,
                        pending=pending,
                        level2=False,
                        local=True,
                        depth=None if self.depth is None else self.depth + 2 * extra,
                    )
        # 3. the whole map at once (warm-started), else a polish of what was touched
        pending = [c for c in self._violators(self.base_arr) if c not in skip]
        polish_end = budget * (0.75 if small else 1.0)
        self._polish(lab, pending, skip, max(1.0, polish_end - self._work), level2=not small)
        if small:
            # the whole map: all that is left of the budget while fixable violations remain, else a
            # bounded attempt at fewer moves and a proof
            unfixed = [c for c in self._violators(lab) if c not in skip]
            rest = budget - self._work
            share = rest if unfixed else min(rest, max(2.0, 0.25 * budget))
            self._attempt(lab, whole, "global", max(1.0, share), pending=pending)
        else:
            self._improve(lab, skip, cap)

    def _improve(self, lab: np.ndarray, skip: set[str], cap: float) -> None:
        """Large maps: fewer moves, window by window, with what is left of the budget.

        Each window is a community the moves touched with its neighbours (overlapping windows
        merged up to ``max_communities``); every unit in it may move within ``hops`` steps,
        communities in band stay in band, and the window's plan is kept only when it moves
        fewer units (a large-neighbourhood search over the moves, deterministic: windows in
        order, a work budget each). The polish alone leaves chains of moves it cannot shorten
        (it lets only boundary units join a bordering community): on the 40 × 40 benchmark
        lattice these windows bring 41 moves down to the proven minimum of 39.
        """
        moved = lab != self.base_arr
        touched = sorted((set(self.base_arr[moved]) | set(lab[moved])) - self.locked_communities)
        windows = self._clusters(lab, touched, 1, skip, self.max_communities)
        for k, window in enumerate(windows):
            left = self.time_limit - self._work
            if left < 0.2:
                break
            share = min(2 * cap, left / (len(windows) - k))
            self._attempt(lab, window, "improve", share, pending=[], band="local", level2=False)

    def _polish(
        self,
        lab: np.ndarray,
        violators: list[str],
        skip: set[str],
        seconds: float,
        level2: bool = True,
    ) -> None:
        """Re-solve the communities the earlier stages touched, and their neighbours, at once.

        Warm-started with the plan so far: chains of local fixes often share moves, and a chain
        may pass through a community no subproblem held. Runs on whatever was fixed.

        To stay fast the move set is restricted: a unit may join only a community it borders
        (``polish_hops``) or the one it has now; units on a community boundary (``polish_depth``),
        near a violator (``depth``) and those moved may move, interior units stay.
        """
        base = self.base_arr
        if set(lab) != set(base):  # splits or dissolves: keep the plan
            return
        moved = lab != base
        touched = (set(base[moved]) | set(lab[moved]) | set(violators)) - self.locked_communities
        touched = self._ring(self._comm_graph(lab), sorted(touched), 1, skip)
        inside = np.flatnonzero(np.isin(lab, sorted(touched)))
        if not len(inside) or len(inside) > self.polish_units:
            return
        g = self.graph
        edge = [
            int(i)
            for i in inside
            if any(lab[v] != lab[i] for v in g.indices[g.indptr[i] : g.indptr[i + 1]])
        ]
        pend = set(violators)
        near = [i for i in edge if lab[i] in pend or base[i] in pend]
        allowed = set(inside.tolist())
        movable = set(bfs_hops(g, edge, allowed, self.polish_depth)) | set(
            np.flatnonzero(moved).tolist()
        )
        if self.depth is not None:
            movable |= set(bfs_hops(g, near, allowed, self.depth))
        self._attempt(
            lab,
            sorted(touched),
            "polish",
            seconds,
            pending=sorted(pend),
            movable=movable,
            hops=min(self.hops, self.polish_hops),
            params={"linearization_level": 2},
            level2=level2,
        )

    def _ring(
        self, cg: dict[str, set[str]], seeds: list[str], steps: int, skip: set[str]
    ) -> set[str]:
        """``seeds`` and the communities up to ``steps`` community-adjacency steps away.

        Communities that cannot be fixed stay in: they may give or take units.
        """
        active, frontier = set(seeds), set(seeds)
        for _ in range(steps):
            frontier = {n for c in frontier for n in cg.get(c, ())} - active
            active |= frontier
        return active - self.locked_communities

    def _clusters(
        self, lab: np.ndarray, violators: list[str], ring: int, skip: set[str], limit: int
    ) -> list[list[str]]:
        """Groups of communities to solve together.

        Each violator with its ring, overlapping neighbourhoods merged while the group stays
        under ``limit`` communities.
        """
        cg = self._comm_graph(lab)
        groups: list[set[str]] = []
        for v in violators:
            merged = self._ring(cg, [v], ring, skip)
            for grp in [grp for grp in groups if grp & merged]:
                if len(grp | merged) <= limit:
                    merged |= grp
                    groups.remove(grp)
            groups.append(merged)
        # small groups first: their budget is what the large ones leave
        return [sorted(grp) for grp in sorted(groups, key=lambda grp: (len(grp), sorted(grp)))]
