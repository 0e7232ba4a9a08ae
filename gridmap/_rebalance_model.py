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
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable

import numpy as np

from gridmap.edits import _components

__all__: list[str] = []


def _nbrs(g, u: int) -> np.ndarray:
    return g.indices[g.indptr[u]:g.indptr[u + 1]]


def bfs_hops(graph, sources: Iterable[int], allowed: set[int] | None, limit: int) -> dict[int, int]:
    """Steps from ``sources`` to every unit within ``limit`` steps (through ``allowed`` units)."""
    dist: dict[int, int] = {}
    queue: deque[int] = deque()
    for s in sources:
        dist[int(s)] = 0
        queue.append(int(s))
    while queue:
        u = queue.popleft()
        if dist[u] >= limit:
            continue
        for v in _nbrs(graph, u):
            v = int(v)
            if v not in dist and (allowed is None or v in allowed):
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def _tree(graph, members: set[int], roots: set[int], choose: list[int], arcs: dict):
    """A BFS forest of ``members`` from ``roots`` (plus one unit of ``choose`` per part the roots
    do not reach): ``(extra roots, {arc: flow}, {root: supply})`` or None when impossible."""
    extra: list[int] = []
    parent: dict[int, int] = {}
    seen = set(roots)
    order: list[int] = []

    def grow(starts):
        queue = deque(starts)
        while queue:
            u = queue.popleft()
            for v in _nbrs(graph, u):
                v = int(v)
                if v in members and v not in seen and (u, v) in arcs:
                    seen.add(v)
                    parent[v] = u
                    order.append(v)
                    queue.append(v)

    grow(seen)
    for u in choose:
        if u in members and u not in seen:
            seen.add(u)
            extra.append(u)
            grow([u])
    if not members <= seen:
        return None
    sub = dict.fromkeys(order, 1)
    for v in reversed(order):
        if parent[v] in sub:
            sub[parent[v]] += sub[v]
    flow = {(parent[v], v): sub[v] for v in order}
    supply = {r: 1 + sum(f for (a, _), f in flow.items() if a == r) for r in extra}
    return extra, flow, supply


def _anchors(rb, members) -> list[int]:
    """The most central unit of each piece of ``members`` (by ``rb.coords``, else by degree)."""
    g, out = rb.graph, []
    for comp in _components(members, g):
        comp = np.array(sorted(comp))
        if rb.coords is not None:
            w = rb.households[comp].astype(float) + 1e-9
            centre = (rb.coords[comp] * w[:, None]).sum(0) / w.sum()
            out.append(int(comp[np.argmin(np.hypot(*(rb.coords[comp] - centre).T))]))
        else:
            inside = set(comp.tolist())
            deg = [sum(int(v) in inside for v in _nbrs(g, i)) for i in comp]
            out.append(int(comp[int(np.argmax(deg))]))
    return out


def _params(solver, seconds: float, workers: int) -> None:
    p = solver.parameters
    p.max_deterministic_time = max(0.05, float(seconds))
    p.random_seed = 0
    p.num_workers = max(1, int(workers))
    if workers > 1:  # several workers, interleaved in a deterministic order (slower per unit of work)
        p.interleave_search = True


def solve_sub(rb, lab: np.ndarray, active: list[str], *, seconds: float, phase: int = 1, pending=None,
              hint: np.ndarray | None = None, movable: set[int] | None = None, depth: int | None = None,
              hops: int | None = None, level2: bool = True, params: dict | None = None,
              band: str = "soft", soft: Iterable[str] = (), workers: int | None = None):
    """Solve one subproblem of ``rb`` (a :class:`~gridmap.rebalance.Rebalancer`) from labels ``lab``.

    ``band``: ``"soft"`` (every community may be left out of band, at a cost: the whole-map
    stage), ``"local"`` (communities in band now stay in band, the others are soft) or
    ``"hard"`` (every community in band except those in ``soft``: fastest to prove, the
    first try of a local subproblem). Returns ``(status, new_labels or None, info)``; ``status`` is the CP-SAT
    status name.
    """
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    ids, base = rb.base.index, rb.base_arr
    h, g = rb.households, rb.graph
    mn, mx = rb.min_households, rb.max_households
    hops = rb.hops if hops is None else int(hops)
    act = set(active)
    soft = set(soft)
    units = np.flatnonzero(np.isin(lab, list(active)))
    uset = set(units.tolist())
    members = {c: units[lab[units] == c] for c in active}
    totals = {c: int(h[members[c]].sum()) + rb.offsets.get(c, 0) for c in active}
    targets = {c for c in active if c not in rb.locked_communities}
    slots: dict[str, list[str]] = {}
    dissolvable: set[str] = set()
    if phase == 2:
        taken = set(base) | set(lab)
        for c in sorted(set(pending or ()) & targets):
            if totals[c] > mx and rb.allow_split:
                ss = [f"{c}-{k + 2}" for k in range(max(1, math.ceil(totals[c] / mx) - 1))]
                slots[c] = [s if s not in taken else f"{s}-新" for s in ss]
            # households outside every unit stay with their community: it cannot be dissolved
            if (totals[c] < mn and c not in rb.exempt_min and rb.allow_dissolve and not rb.offsets.get(c, 0)
                    and not any(ids[i] in rb.locked_units for i in members[c])):
                dissolvable.add(c)
    fixed = {int(i) for i in units if ids[i] in rb.locked_units or lab[i] in rb.locked_communities}
    if depth is not None and pending:
        # only units near the violations may move: within `depth` steps of a violator's boundary
        pend = set(pending)
        seeds = [int(i) for i in units if lab[i] in pend and (phase == 2 or any(lab[v] != lab[i] for v in _nbrs(g, i)))]
        zone = bfs_hops(g, seeds, uset, depth)
        fixed |= {int(i) for i in units if int(i) not in zone}
    if movable is not None:
        fixed |= {int(i) for i in units if int(i) not in movable}
    if band != "soft":
        # local stages: a community with no fixed unit keeps its most central unit per piece (an
        # anchor: a much tighter model); the whole-map stage chooses roots freely
        for c in sorted(targets - dissolvable):
            if not any(int(i) in fixed for i in members[c]):
                fixed |= set(_anchors(rb, members[c]))
    free = [int(i) for i in units if int(i) not in fixed]
    cand: dict[int, set[str]] = {}
    for i in free:
        near = bfs_hops(g, [i], None, hops)
        cs = {lab[v] for v in near if lab[v] in targets} | {lab[i]}
        for extra in (base[i], None if hint is None else hint[i]):
            if extra in targets:
                cs.add(extra)
        cand[i] = cs
    for c, ss in slots.items():
        for i in members[c]:
            if int(i) in cand:
                cand[int(i)] |= set(ss)
    if dissolvable:
        cg = rb._comm_graph(lab)
        for c in dissolvable:  # a dissolved community's units may go to any community it borders
            around = {n for n in cg[c] if n in targets}
            for i in members[c]:
                if int(i) in cand:
                    cand[int(i)] |= around
    m = cp_model.CpModel()
    x: dict[tuple[int, str], object] = {}
    for i in free:
        for c in sorted(cand[i]):
            x[i, c] = m.NewBoolVar("")
        m.AddExactlyOne(x[i, c] for c in sorted(cand[i]))
    one = m.NewConstant(1)

    def xv(i, c):
        if i in fixed:
            return one if lab[i] == c else None
        return x.get((i, c))

    y = {c: (m.NewBoolVar("") if c in dissolvable else one) for c in active}
    for ss in slots.values():
        prev = None
        for s in ss:
            y[s] = m.NewBoolVar("")
            if prev is not None:
                m.Add(y[s] <= prev)
            prev = y[s]
    want = lab.copy()
    if hint is not None:
        for i in free:
            if hint[i] in cand[i]:
                want[i] = hint[i]
    comms = sorted(active) + [s for ss in slots.values() for s in ss]
    bad: dict[str, object] = {}
    dist_cost: dict[tuple[int, str], int] = {}
    hints: list[tuple] = []
    for c in comms:
        pool = [int(i) for i in units if xv(int(i), c) is not None]
        xs = {i: xv(i, c) for i in pool}
        varying = any(v is not one for v in xs.values())
        hsum = sum(int(h[i]) * v for i, v in xs.items()) + rb.offsets.get(c, 0)
        is_slot = c not in act
        if is_slot:
            m.Add(hsum >= mn).OnlyEnforceIf(y[c])
            m.Add(hsum <= mx * y[c])
        elif (varying or c in dissolvable) and c not in dissolvable and c not in soft and (band == "hard" or (
                band == "local" and (c in rb.exempt_min or totals[c] >= mn) and totals[c] <= mx)):
            # local stages: a community in band now stays in band (a tighter model, fast to prove)
            if c not in rb.exempt_min:
                m.Add(hsum >= mn)
            m.Add(hsum <= mx)
        elif varying or c in dissolvable:
            b = bad[c] = m.NewBoolVar("")
            cond = [b.Not()] + ([y[c]] if c in dissolvable else [])
            if c not in rb.exempt_min:
                m.Add(hsum >= mn).OnlyEnforceIf(cond)
            m.Add(hsum <= mx).OnlyEnforceIf(cond)
            if c in dissolvable:
                m.AddImplication(b, y[c])
                for v in xs.values():
                    if v is not one:
                        m.AddImplication(v, y[c])
            hw = int(sum(h[i] for i in pool if want[i] == c)) + rb.offsets.get(c, 0)
            hints.append((b, int(not (hw >= (0 if c in rb.exempt_min else mn) and hw <= mx))))
        if not varying:
            continue
        pset = set(pool)
        # roots: the fixed units (they stay anyway), one group per current piece; else a chosen own unit
        roots: set[int] = set()
        n_roots = 0
        if not is_slot:
            core = {u for u, v in xs.items() if v is one}
            for piece in _components(members[c], g):
                inside = [u for u in piece if u in core]
                if inside:
                    comps = _components(inside, g)
                    roots |= set(max(comps, key=lambda q: (len(q), -min(q))))
                    n_roots += 1
        allowed_roots = (1 if is_slot else max(rb.base_pieces.get(c, 1), 1)) - n_roots
        free_roots = [u for u in pool if u not in fixed and (is_slot or lab[u] == c or base[u] == c)] \
            if allowed_roots > 0 else []
        size = len(pset - roots) + 1
        arcs = {}
        for u in pset:
            for v in _nbrs(g, u):
                v = int(v)
                if v in pset and v not in roots:
                    arcs[u, v] = m.NewIntVar(0, size, "")
        for (u, v), f in arcs.items():
            if xs[u] is not one:
                m.Add(f <= size * xs[u])
            if xs[v] is not one:
                m.Add(f <= size * xs[v])
        inflow: dict[int, list] = {u: [] for u in pset}
        outflow: dict[int, list] = {u: [] for u in pset}
        for (u, v), f in arcs.items():
            outflow[u].append(f)
            inflow[v].append(f)
        r = {u: m.NewBoolVar("") for u in free_roots}
        sup = {}
        for u, ru in r.items():
            m.AddImplication(ru, xs[u])
            sup[u] = m.NewIntVar(0, size, "")
            m.Add(sup[u] <= size * ru)
        need = y[c] if (is_slot or c in dissolvable) else (1 if n_roots == 0 else 0)
        if r:
            m.Add(sum(r.values()) <= allowed_roots * (y[c] if (is_slot or c in dissolvable) else 1))
            m.Add(sum(r.values()) >= need)
        elif n_roots == 0 and not is_slot and c not in dissolvable:
            return "invalid", None, {"communities": len(active), "units": len(units), "free_units": len(free)}
        for u in pset:
            if u in roots:
                continue
            m.Add(sum(inflow[u]) - sum(outflow[u]) == xs[u] - sup.get(u, 0))
            if xs[u] is not one and u not in r:  # a member needs a member neighbour (implied; helps propagation)
                nb = [xs[v] for v in _nbrs(g, u) if int(v) in pset]
                m.Add(sum(nb) >= xs[u]) if nb else m.Add(xs[u] == 0)
        d = bfs_hops(g, roots or [u for u in pool if lab[u] == c][:1], pset, 30)
        for u in pset:
            dist_cost[u, c] = min(d.get(u, 30), 30)
        if not is_slot:
            tree = _tree(g, {u for u in pool if want[u] == c}, roots, free_roots, arcs)
            if tree is not None:
                extra, flow, supply = tree
                hints += [(f, flow.get(k, 0)) for k, f in arcs.items()]
                hints += [(ru, int(u in extra)) for u, ru in r.items()]
                hints += [(sup[u], supply.get(u, 0)) for u in r]
    moved = [(i, 1 - x[i, base[i]]) if (i, base[i]) in x else (i, 1) for i in free]
    structural = [1 - y[c] for c in dissolvable] + [y[s] for ss in slots.values() for s in ss]
    w_moves = len(free) + 1
    w_struct = w_moves
    w_bad = w_moves * (len(structural) + 1)
    level1 = w_bad * sum(bad.values()) + w_struct * sum(structural) + sum(e for _, e in moved)
    m.Minimize(level1)
    for i in free:
        for c in sorted(cand[i]):
            m.AddHint(x[i, c], int(c == want[i]))
    for v, val in hints:
        m.AddHint(v, val)
    for c in dissolvable:
        m.AddHint(y[c], 1)
    for ss in slots.values():
        for s in ss:
            m.AddHint(y[s], 0)
    solver = cp_model.CpSolver()
    workers = rb.workers if workers is None else workers
    _params(solver, seconds * (0.8 if level2 else 1.0), workers)
    for k, v in (params or {}).items():
        setattr(solver.parameters, k, v)
    st = solver.Solve(m)
    info = {"communities": len(active), "units": len(units), "free_units": len(free)}
    name = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
            cp_model.INFEASIBLE: "infeasible", cp_model.MODEL_INVALID: "invalid"}.get(st, "unknown")
    info["work"] = round(solver.ResponseProto().deterministic_time, 3)
    if name not in ("optimal", "feasible"):
        info["seconds"] = round(time.perf_counter() - t0, 3)
        return name, None, info
    info["bound"] = solver.BestObjectiveBound()
    info["level1"] = solver.ObjectiveValue()
    values = {k: solver.Value(v) for k, v in x.items()}
    moves_left = int(round(solver.ObjectiveValue())) % w_moves
    if level2 and moves_left > 0:
        # second level: fewest households moved, then compactness, without worse first level
        compact = [(dist_cost.get((i, c), 0), v) for (i, c), v in x.items() if c != base[i]]
        cmax = sum(max([dist_cost.get((i, c), 0) for c in cand[i]] + [0]) for i in free)
        m.Add(level1 <= int(round(solver.ObjectiveValue())))
        m.ClearHints()
        sol = solver.ResponseProto().solution
        m.Proto().solution_hint.vars.extend(range(len(sol)))
        m.Proto().solution_hint.values.extend(sol)
        m.Minimize((cmax + 1) * sum(int(h[i]) * e for i, e in moved) + sum(d * v for d, v in compact if d))
        solver2 = cp_model.CpSolver()
        _params(solver2, max(0.05, 0.25 * seconds), workers)
        st2 = solver2.Solve(m)
        if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = {k: solver2.Value(v) for k, v in x.items()}
        info["level2"] = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(st2, "unknown")
        info["work"] += round(solver2.ResponseProto().deterministic_time, 3)
    new = lab.copy()
    for (i, c), v in values.items():
        if v:
            new[i] = c
    info["moves"] = int((new != lab).sum())
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return name, new, info
