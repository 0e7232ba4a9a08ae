"""The CP-SAT model behind :class:`gridmap.rebalance.Rebalancer` (one subproblem at a time).

A subproblem is a set of *active* communities, the units they hold, and which of those
units may move (``free``; the rest are fixed). For each free unit ``i`` and each
candidate community ``c`` (communities within ``hops`` adjacency steps, its as-is
community and the hinted one) a boolean ``x[i, c]`` says where it goes.

- **Band, soft.** Each community has a boolean ``bad[c]``; the band is enforced unless
  ``bad[c]``. A community that cannot be fixed is simply ``bad`` and never makes its
  neighbours' fixes infeasible.
- **Objective, lexicographic in weights:** the fewest communities out of band, then the
  fewest structural changes (second phase: splits, dissolutions), then the fewest units
  moved *from the as-is plan* (a later subproblem may undo an earlier move); a second
  solve with the first level fixed minimises households moved, then compactness.
- **Contiguity, hard,** by a single-commodity flow: every member receives one unit of
  flow from a root. A community's fixed units (locked, or outside the subproblem's move
  zone) are roots where they must stay anyway; a community with no fixed unit chooses
  its root among its own units (no unit is pinned where contiguity does not need it).
  A community in ``k`` pieces as-is may have up to ``k`` roots: no edit makes it worse.
- **Deterministic:** a fixed seed and a *deterministic* time limit
  (``max_deterministic_time``) and one search worker by default (several run interleaved,
  ``interleave_search``), so the same input gives the same plan on any machine load.

:func:`solve_subproblem` builds and solves one subproblem in named steps (which units are
fixed, where free units may go, the band, contiguity, the objective, the solve).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model
from scipy import sparse

from gridmap.edits import connected_parts
from gridmap.rebalance.graph import _nbrs, bfs_hops, flow_tree

__all__ = ["solve_subproblem"]

#: CP-SAT status → name
_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "invalid",
}


class Problem(Protocol):
    """What a subproblem reads of the rebalancer (:class:`~gridmap.rebalance.Rebalancer`)."""

    graph: sparse.csr_array
    households: np.ndarray
    base: pd.Series
    base_arr: np.ndarray
    base_pieces: dict[str, int]
    min_households: int
    max_households: int
    hops: int
    workers: int
    coords: np.ndarray | None
    offsets: dict[str, int]
    exempt_min: set[str]
    locked_units: set[str]
    locked_communities: set[str]
    allow_split: bool
    allow_dissolve: bool

    def _comm_graph(self, lab: np.ndarray) -> dict[str, set[str]]: ...


def _anchors(rb: Problem, members: np.ndarray) -> list[int]:
    """The most central unit of each piece of ``members`` (by ``rb.coords``, else by degree)."""
    g, out = rb.graph, []
    for part in connected_parts(members, g):
        comp = np.array(sorted(part))
        if rb.coords is not None:
            w = rb.households[comp].astype(float) + 1e-9
            centre = (rb.coords[comp] * w[:, None]).sum(0) / w.sum()
            out.append(int(comp[np.argmin(np.hypot(*(rb.coords[comp] - centre).T))]))
        else:
            inside = set(comp.tolist())
            deg = [sum(int(v) in inside for v in _nbrs(g, i)) for i in comp]
            out.append(int(comp[int(np.argmax(deg))]))
    return out


def _largest_first(part: list[int]) -> tuple[int, int]:
    """Sort key: the part with the most units, then the lowest unit."""
    return len(part), -min(part)


def _params(solver: cp_model.CpSolver, seconds: float, workers: int) -> None:
    p = solver.parameters
    p.max_deterministic_time = max(0.05, float(seconds))
    p.random_seed = 0
    p.num_workers = max(1, int(workers))
    if workers > 1:  # several workers, interleaved in a deterministic order (slower per work unit)
        p.interleave_search = True


def solve_subproblem(
    rb: Problem,
    lab: np.ndarray,
    active: list[str],
    *,
    seconds: float,
    phase: int = 1,
    pending: Iterable[str] | None = None,
    hint: np.ndarray | None = None,
    movable: set[int] | None = None,
    depth: int | None = None,
    hops: int | None = None,
    level2: bool = True,
    params: dict | None = None,
    band: str = "soft",
    soft: Iterable[str] = (),
    workers: int | None = None,
) -> tuple[str, np.ndarray | None, dict]:
    """Solve one subproblem of a :class:`~gridmap.rebalance.Rebalancer` from labels ``lab``.

    Parameters
    ----------
    rb
        The rebalancer (graph, households, band, locks, remainders, exemptions).
    lab
        The current community of each unit (positional).
    active
        The communities of the subproblem.
    seconds
        Work budget in CP-SAT deterministic seconds.
    phase
        1: moves only; 2: also split (``pending`` communities above the maximum) and
        dissolve (those below the minimum).
    pending
        The violations the subproblem is for.
    hint, movable, depth, hops
        A plan to start from; the only units that may move; only units within ``depth`` steps
        of a pending community's boundary may move; the move radius (default ``rb.hops``).
    level2
        Run the second level (households moved, compactness).
    params
        CP-SAT parameters to set.
    band
        ``"soft"`` (every community may be left out of band, at a cost: the whole-map stage),
        ``"local"`` (communities in band now stay in band, the others are soft) or ``"hard"``
        (every community in band except those in ``soft``: fastest to prove, the first try
        of a local subproblem).
    soft
        Communities whose band is soft whatever ``band`` says (those that cannot be fixed).
    workers
        CP-SAT workers (default ``rb.workers``).

    Returns
    -------
    tuple
        ``(status, new labels or None, info)``; ``status`` is the CP-SAT status name.
    """
    t0 = time.perf_counter()
    sub = _Subproblem(
        rb, lab, active, phase=phase, pending=pending, hint=hint, hops=hops, band=band, soft=soft
    )
    sub.fix_units(movable=movable, depth=depth)
    sub.find_candidates()
    if not sub.build():
        return "invalid", None, sub.info()
    workers = rb.workers if workers is None else workers
    return sub.solve(seconds=seconds, level2=level2, params=params, workers=workers, t0=t0)


class _Subproblem:
    """One subproblem's data and CP-SAT model, built in the order of the steps below."""

    def __init__(
        self,
        rb: Problem,
        lab: np.ndarray,
        active: list[str],
        *,
        phase: int,
        pending: Iterable[str] | None,
        hint: np.ndarray | None,
        hops: int | None,
        band: str,
        soft: Iterable[str],
    ) -> None:
        self.rb, self.lab, self.active, self.phase, self.band = rb, lab, active, phase, band
        self.pending = list(pending) if pending is not None else None
        self.hint = hint
        self.hops = rb.hops if hops is None else int(hops)
        self.act = set(active)
        self.soft = set(soft)
        self.units = np.flatnonzero(np.isin(lab, list(active)))
        self.uset = set(self.units.tolist())
        h = rb.households
        self.members = {c: self.units[lab[self.units] == c] for c in active}
        self.totals = {c: int(h[self.members[c]].sum()) + rb.offsets.get(c, 0) for c in active}
        self.targets = {c for c in active if c not in rb.locked_communities}
        self.slots: dict[str, list[str]] = {}
        self.dissolvable: set[str] = set()
        if phase == 2:
            self._structural_options()
        self.fixed: set[int] = set()
        self.free: list[int] = []
        self.cand: dict[int, set[str]] = {}

    # ------------------------------------------------------------------ the data
    def _structural_options(self) -> None:
        """Second phase: what a split or a dissolution may do.

        New communities a too-large pending one may split into (``slots``), and the too-small
        pending ones that may be dissolved.
        """
        rb, ids, base = self.rb, self.rb.base.index, self.rb.base_arr
        mn, mx = rb.min_households, rb.max_households
        taken = set(base) | set(self.lab)
        for c in sorted(set(self.pending or ()) & self.targets):
            if self.totals[c] > mx and rb.allow_split:
                ss = [f"{c}-{k + 2}" for k in range(max(1, math.ceil(self.totals[c] / mx) - 1))]
                self.slots[c] = [s if s not in taken else f"{s}-新" for s in ss]
            # households outside every unit stay with their community: it cannot be dissolved
            if (
                self.totals[c] < mn
                and c not in rb.exempt_min
                and rb.allow_dissolve
                and not rb.offsets.get(c, 0)
                and not any(ids[i] in rb.locked_units for i in self.members[c])
            ):
                self.dissolvable.add(c)

    def fix_units(self, *, movable: set[int] | None, depth: int | None) -> None:
        """Which units stay where they are.

        Locked ones, those outside the move zone (``depth`` steps of a pending community's
        boundary, ``movable``), and in local stages one anchor per piece of a community with no
        fixed unit (a much tighter model).
        """
        rb, lab, units, g = self.rb, self.lab, self.units, self.rb.graph
        ids = rb.base.index
        fixed = {
            int(i) for i in units if ids[i] in rb.locked_units or lab[i] in rb.locked_communities
        }
        if depth is not None and self.pending:
            pend = set(self.pending)
            seeds = [
                int(i)
                for i in units
                if lab[i] in pend
                and (self.phase == 2 or any(lab[v] != lab[i] for v in _nbrs(g, int(i))))
            ]
            zone = bfs_hops(g, seeds, self.uset, depth)
            fixed |= {int(i) for i in units if int(i) not in zone}
        if movable is not None:
            fixed |= {int(i) for i in units if int(i) not in movable}
        if self.band != "soft":
            # local stages anchor; the whole-map stage chooses roots freely
            for c in sorted(self.targets - self.dissolvable):
                if not any(int(i) in fixed for i in self.members[c]):
                    fixed |= set(_anchors(rb, self.members[c]))
        self.fixed = fixed
        self.free = [int(i) for i in units if int(i) not in fixed]

    def find_candidates(self) -> None:
        """Where each free unit may go.

        Communities within ``hops`` steps, its as-is and its hinted community, a split's new
        communities, a dissolved community's neighbours.
        """
        rb, lab, g = self.rb, self.lab, self.rb.graph
        base, hint, targets = rb.base_arr, self.hint, self.targets
        cand: dict[int, set[str]] = {}
        for i in self.free:
            near = bfs_hops(g, [i], None, self.hops)
            cs = {lab[v] for v in near if lab[v] in targets} | {lab[i]}
            for extra in (base[i], None if hint is None else hint[i]):
                if extra in targets:
                    cs.add(extra)
            cand[i] = cs
        for c, ss in self.slots.items():
            for i in self.members[c]:
                if int(i) in cand:
                    cand[int(i)] |= set(ss)
        if self.dissolvable:
            cg = rb._comm_graph(lab)
            for c in self.dissolvable:  # a dissolved community's units may join any neighbour
                around = {n for n in cg[c] if n in targets}
                for i in self.members[c]:
                    if int(i) in cand:
                        cand[int(i)] |= around
        self.cand = cand

    def info(self) -> dict[str, Any]:
        """Size of the subproblem."""
        return {
            "communities": len(self.active),
            "units": len(self.units),
            "free_units": len(self.free),
        }

    # ------------------------------------------------------------------ the model
    def build(self) -> bool:
        """Variables, band, contiguity and objective; False when the model cannot be built."""
        m = self.m = cp_model.CpModel()
        self.x: dict[tuple[int, str], cp_model.IntVar] = {}
        for i in self.free:
            for c in sorted(self.cand[i]):
                self.x[i, c] = m.new_bool_var("")
            m.add_exactly_one(self.x[i, c] for c in sorted(self.cand[i]))
        self.one = m.new_constant(1)
        self._community_vars()
        self.want = self.lab.copy()
        if self.hint is not None:
            for i in self.free:
                if self.hint[i] in self.cand[i]:
                    self.want[i] = self.hint[i]
        self.bad: dict[str, cp_model.IntVar] = {}
        self.dist_cost: dict[tuple[int, str], int] = {}
        self.hints: list[tuple[Any, int]] = []
        comms = sorted(self.active) + [s for ss in self.slots.values() for s in ss]
        for c in comms:
            pool = [int(i) for i in self.units if self._xv(int(i), c) is not None]
            xs = {i: self._xv(i, c) for i in pool}
            varying = any(v is not self.one for v in xs.values())
            self._band(c, pool, xs, varying)
            if varying and not self._contiguity(c, pool, xs):
                return False
        self._objective()
        self._add_hints()
        return True

    def _xv(self, i: int, c: str) -> Any:
        """Unit ``i`` is in community ``c``: its variable, the constant 1, or None (never)."""
        if i in self.fixed:
            return self.one if self.lab[i] == c else None
        return self.x.get((i, c))

    def _community_vars(self) -> None:
        """``y[c]``: the community exists.

        The community exists (a variable for dissolvable communities and a split's new ones, in
        order: the first new one before the second …).
        """
        m = self.m
        self.y: dict[str, Any] = {
            c: (m.new_bool_var("") if c in self.dissolvable else self.one) for c in self.active
        }
        for ss in self.slots.values():
            prev = None
            for s in ss:
                self.y[s] = m.new_bool_var("")
                if prev is not None:
                    m.add(self.y[s] <= prev)
                prev = self.y[s]

    def _band(self, c: str, pool: list[int], xs: dict[int, Any], varying: bool) -> None:
        """The band of community ``c``.

        Hard (local stages, a community in band stays in band), or soft with ``bad[c]`` (hinted
        with whether the starting plan has it in band).
        """
        rb, m, y = self.rb, self.m, self.y
        h, mn, mx = rb.households, rb.min_households, rb.max_households
        dissolvable, totals = self.dissolvable, self.totals
        hsum = sum(int(h[i]) * v for i, v in xs.items()) + rb.offsets.get(c, 0)
        if c not in self.act:  # a split's new community
            m.add(hsum >= mn).only_enforce_if(y[c])
            m.add(hsum <= mx * y[c])
        elif (
            (varying or c in dissolvable)
            and c not in dissolvable
            and c not in self.soft
            and (
                self.band == "hard"
                or (
                    self.band == "local"
                    and (c in rb.exempt_min or totals[c] >= mn)
                    and totals[c] <= mx
                )
            )
        ):
            if c not in rb.exempt_min:
                m.add(hsum >= mn)
            m.add(hsum <= mx)
        elif varying or c in dissolvable:
            b = self.bad[c] = m.new_bool_var("")
            cond = [~b] + ([y[c]] if c in dissolvable else [])
            if c not in rb.exempt_min:
                m.add(hsum >= mn).only_enforce_if(cond)
            m.add(hsum <= mx).only_enforce_if(cond)
            if c in dissolvable:
                m.add_implication(b, y[c])
                for v in xs.values():
                    if v is not self.one:
                        m.add_implication(v, y[c])
            hw = int(sum(h[i] for i in pool if self.want[i] == c)) + rb.offsets.get(c, 0)
            low = 0 if c in rb.exempt_min else mn
            self.hints.append((b, int(not (hw >= low and hw <= mx))))

    def _roots(self, c: str, xs: dict[int, Any]) -> tuple[set[int], int]:
        """The fixed roots of ``c`` and how many pieces have one.

        The roots are its largest group of fixed units in each current piece.
        """
        roots: set[int] = set()
        n_roots = 0
        if c in self.act:
            core = {u for u, v in xs.items() if v is self.one}
            for piece in connected_parts(self.members[c], self.rb.graph):
                inside = [u for u in piece if u in core]
                if inside:
                    comps = connected_parts(inside, self.rb.graph)
                    best = max(comps, key=_largest_first)
                    roots |= set(best)
                    n_roots += 1
        return roots, n_roots

    def _contiguity(self, c: str, pool: list[int], xs: dict[int, Any]) -> bool:
        """Single-commodity flow from the roots to every member of ``c``.

        A community without a fixed root chooses up to as many roots among its units as it had
        pieces as-is.
        """
        rb, m, g, y, base, lab = self.rb, self.m, self.rb.graph, self.y, self.rb.base_arr, self.lab
        is_slot, one = c not in self.act, self.one
        pset = set(pool)
        roots, n_roots = self._roots(c, xs)
        allowed_roots = (1 if is_slot else max(rb.base_pieces.get(c, 1), 1)) - n_roots
        free_roots = (
            [u for u in pool if u not in self.fixed and (is_slot or lab[u] == c or base[u] == c)]
            if allowed_roots > 0
            else []
        )
        size = len(pset - roots) + 1
        arcs: dict[tuple[int, int], cp_model.IntVar] = {}
        for u in pset:
            for v in _nbrs(g, u):
                v = int(v)
                if v in pset and v not in roots:
                    arcs[u, v] = m.new_int_var(0, size, "")
        for (u, v), f in arcs.items():
            if xs[u] is not one:
                m.add(f <= size * xs[u])
            if xs[v] is not one:
                m.add(f <= size * xs[v])
        inflow: dict[int, list] = {u: [] for u in pset}
        outflow: dict[int, list] = {u: [] for u in pset}
        for (u, v), f in arcs.items():
            outflow[u].append(f)
            inflow[v].append(f)
        r = {u: m.new_bool_var("") for u in free_roots}
        sup = {}
        for u, ru in r.items():
            m.add_implication(ru, xs[u])
            sup[u] = m.new_int_var(0, size, "")
            m.add(sup[u] <= size * ru)
        grows = is_slot or c in self.dissolvable
        need = y[c] if grows else (1 if n_roots == 0 else 0)
        if r:
            m.add(sum(r.values()) <= allowed_roots * (y[c] if grows else 1))
            m.add(sum(r.values()) >= need)
        elif n_roots == 0 and not grows:
            return False
        for u in pset:
            if u in roots:
                continue
            m.add(sum(inflow[u]) - sum(outflow[u]) == xs[u] - sup.get(u, 0))
            if xs[u] is not one and u not in r:  # a member needs a member neighbour (implied)
                nb = [xs[v] for v in _nbrs(g, u) if int(v) in pset]
                if nb:
                    m.add(sum(nb) >= xs[u])
                else:
                    m.add(xs[u] == 0)
        d = bfs_hops(g, roots or [u for u in pool if lab[u] == c][:1], pset, 30)
        for u in pset:
            self.dist_cost[u, c] = min(d.get(u, 30), 30)
        if not is_slot:
            tree = flow_tree(g, {u for u in pool if self.want[u] == c}, roots, free_roots, arcs)
            if tree is not None:
                extra, flow, supply = tree
                self.hints += [(f, flow.get(k, 0)) for k, f in arcs.items()]
                self.hints += [(ru, int(u in extra)) for u, ru in r.items()]
                self.hints += [(sup[u], supply.get(u, 0)) for u in r]
        return True

    def _objective(self) -> None:
        """Level 1: communities out of band, then structural changes, then units moved."""
        base = self.rb.base_arr
        self.moved = [
            (i, 1 - self.x[i, base[i]]) if (i, base[i]) in self.x else (i, 1) for i in self.free
        ]
        structural = [1 - self.y[c] for c in self.dissolvable] + [
            self.y[s] for ss in self.slots.values() for s in ss
        ]
        self.w_moves = len(self.free) + 1
        w_struct = self.w_moves
        w_bad = self.w_moves * (len(structural) + 1)
        self.level1 = (
            w_bad * sum(self.bad.values())
            + w_struct * sum(structural)
            + sum(e for _, e in self.moved)
        )
        self.m.minimize(self.level1)

    def _add_hints(self) -> None:
        """Start from ``want`` (the hint, else the current plan) and its flows."""
        m = self.m
        for i in self.free:
            for c in sorted(self.cand[i]):
                m.add_hint(self.x[i, c], int(c == self.want[i]))
        for v, val in self.hints:
            m.add_hint(v, val)
        for c in self.dissolvable:
            m.add_hint(self.y[c], 1)
        for ss in self.slots.values():
            for s in ss:
                m.add_hint(self.y[s], 0)

    # ------------------------------------------------------------------ the solve
    def solve(
        self, *, seconds: float, level2: bool, params: dict | None, workers: int, t0: float
    ) -> tuple[str, np.ndarray | None, dict]:
        """Solve level 1, then (``level2``) households moved and compactness at that level."""
        solver = cp_model.CpSolver()
        _params(solver, seconds * (0.8 if level2 else 1.0), workers)
        for k, v in (params or {}).items():
            setattr(solver.parameters, k, v)
        st = solver.solve(self.m)
        info = self.info()
        name = _STATUS.get(st, "unknown")
        info["work"] = round(solver.response_proto.deterministic_time, 3)
        if name not in ("optimal", "feasible"):
            info["seconds"] = round(time.perf_counter() - t0, 3)
            return name, None, info
        info["bound"] = solver.best_objective_bound
        info["level1"] = solver.objective_value
        values = {k: solver.value(v) for k, v in self.x.items()}
        moves_left = int(round(solver.objective_value)) % self.w_moves
        if level2 and moves_left > 0:
            values = self._second_level(solver, seconds, workers, info) or values
        new = self.lab.copy()
        for (i, c), v in values.items():
            if v:
                new[i] = c
        info["moves"] = int((new != self.lab).sum())
        info["seconds"] = round(time.perf_counter() - t0, 3)
        return name, new, info

    def _second_level(
        self, solver: cp_model.CpSolver, seconds: float, workers: int, info: dict
    ) -> dict | None:
        """Fewest households moved, then compactness, without a worse first level."""
        m, h, base, x = self.m, self.rb.households, self.rb.base_arr, self.x
        compact = [(self.dist_cost.get((i, c), 0), v) for (i, c), v in x.items() if c != base[i]]
        cmax = sum(
            max([self.dist_cost.get((i, c), 0) for c in self.cand[i]] + [0]) for i in self.free
        )
        m.add(self.level1 <= int(round(solver.objective_value)))
        m.clear_hints()
        sol = solver.response_proto.solution
        m.proto.solution_hint.vars.extend(range(len(sol)))
        m.proto.solution_hint.values.extend(sol)
        m.minimize(
            (cmax + 1) * sum(int(h[i]) * e for i, e in self.moved)
            + sum(d * v for d, v in compact if d)
        )
        solver2 = cp_model.CpSolver()
        _params(solver2, max(0.05, 0.25 * seconds), workers)
        st2 = solver2.solve(m)
        values = None
        if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = {k: solver2.value(v) for k, v in x.items()}
        info["level2"] = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(
            st2, "unknown"
        )
        info["work"] += round(solver2.response_proto.deterministic_time, 3)
        return values
