"""Reference optimum for the rebalancing benchmark: an independent whole-map CP-SAT model.

Written apart from :mod:`gridmap.rebalance` (it imports nothing from gridmap) so that it is a
real cross-check of gridmap's rebalancer. Given the unit graph, households per unit, the as-is
community of each unit, the households each community holds outside its units (``offsets``,
fixed remainders) and the band, it finds — over the whole map at once — a new assignment with

1. the fewest communities out of band (total < minimum unless exempt, > maximum, or left
   without any unit), then, with that number fixed,
2. the fewest units moved.

Model
-----
* ``x[u, c]`` — unit ``u`` belongs to community ``c``; exactly one per unit. The candidate
  communities of a unit are its own and those of the units within ``hops`` adjacency steps
  (as-is labels). A unit whose only candidate is its own community is fixed. The optimum is
  therefore proven *within this move radius*: ``hops`` is reported with every result.
* A community's total = its fixed remainder + the households of its units; ``out[c]`` is
  true when the total is outside the band (or the community has no unit left).
* The set of communities is fixed: none created, none dissolved (an emptied community is
  out of band), like gridmap's rebalancer run with ``allow_split=False, allow_dissolve=False``.
* Contiguity is hard: a single-commodity flow per community from its root(s). A community in
  ``p`` pieces as-is may have up to ``p`` roots (it may stay in pieces but not get more);
  roots are among its as-is units. Fixed units of one community that touch each other are
  contracted into one node first; for a one-piece community with a fixed node, that node is
  the root (no loss of generality: it always belongs to the community).
* Solved with OR-Tools CP-SAT, fixed ``random_seed``, ``num_workers`` workers, a wall-clock
  limit shared by two phases (phase 1 gets at most half). Phase 1 minimises the number out of
  band, hinted with the as-is plan (feasible); that number is then fixed as a bound and
  phase 2 minimises the moves, hinted with phase 1's plan. (Minimising ``W · out + moved`` in
  one go proves SIP faster but finds no feasible 0-violation plan at 10 k units in time.)
  ``proven`` only when CP-SAT reports OPTIMAL for both phases; otherwise the incumbent and
  the best bounds are reported.

Example
-------
>>> import numpy as np, pandas as pd
>>> from scipy import sparse
>>> g = sparse.csr_array(sparse.diags([1, 1], [-1, 1], shape=(6, 6), dtype=np.int8))
>>> r = optimum(g, np.full(6, 500), pd.Series(list("AAAABB")), min_households=1200, max_households=1800,
...             time_limit=10)
>>> r["violations"], r["units_moved"], r["proven"]
(0, 1, True)
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["optimum", "evaluate", "pieces"]


def pieces(graph: sparse.csr_array, codes: np.ndarray, k: int) -> np.ndarray:
    """Number of connected pieces of each community code ``0 … k-1`` (0 for an empty one)."""
    coo = sparse.coo_array(graph)
    keep = codes[coo.row] == codes[coo.col]
    sub = sparse.csr_array(
        (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=graph.shape
    )
    _, comp = connected_components(sub, directed=False)
    out = np.zeros(k, dtype=np.int64)
    first = pd.DataFrame({"c": codes, "p": comp}).drop_duplicates()
    np.add.at(out, first["c"].to_numpy(), 1)
    return out


def evaluate(
    graph,
    households,
    base: pd.Series,
    new: pd.Series,
    *,
    min_households: int,
    max_households: int,
    offsets: dict | None = None,
    exempt_min=(),
    hops: int | None = None,
) -> dict:
    """Independent recount of a plan ``new`` against the as-is ``base`` (same unit order).

    The communities are those of ``base``; an emptied community counts as out of band, a new
    one as one more violation. Returns violations, the out-of-band ids, units moved, the
    communities with more pieces than as-is and, with ``hops``, the units moved to a community
    farther than ``hops`` steps (outside the reference model's move radius).
    """
    base = base.astype(str).to_numpy()
    new = new.astype(str).to_numpy()
    offsets = {str(k): int(v) for k, v in (offsets or {}).items()}
    comms = sorted(set(base))
    unknown = sorted(set(new) - set(comms))
    cid = {c: i for i, c in enumerate(comms + unknown)}
    k = len(cid)
    hh = np.asarray(households, dtype=np.int64)
    b, n = np.array([cid[c] for c in base]), np.array([cid[c] for c in new])
    tot = np.bincount(n, weights=hh, minlength=k).astype(np.int64)
    cnt = np.bincount(n, minlength=k)
    tot += np.array([offsets.get(c, 0) for c in cid])
    exempt = np.array([c in set(map(str, exempt_min)) for c in cid])
    bad = (cnt == 0) | (tot > max_households) | ((tot < min_households) & ~exempt)
    before, after = pieces(graph, b, k), pieces(graph, n, k)
    worse = [c for c, i in cid.items() if after[i] > max(before[i], 1)]
    beyond = None
    if hops is not None:
        cand = _candidates(graph, b, k, hops)
        beyond = int(sum(1 for u in np.flatnonzero(b != n) if not cand[[u], [n[u]]].item()))
    return {
        "violations": int(bad[: len(comms)].sum()) + len(unknown),
        "moved_beyond_radius": beyond,
        "out_of_band": [c for c, i in cid.items() if bad[i]],
        "units_moved": int((b != n).sum()),
        "households_moved": int(hh[b != n].sum()),
        "pieces_added": worse,
        "new_communities": unknown,
    }


def _candidates(graph, codes: np.ndarray, k: int, hops: int) -> sparse.csr_array:
    """Boolean n × k: community c is within ``hops`` steps of unit u (own community included)."""
    n = len(codes)
    reach = sparse.identity(n, format="csr", dtype=np.int8)
    step = (sparse.csr_array(graph) != 0).astype(np.int8) + sparse.identity(
        n, format="csr", dtype=np.int8
    )
    for _ in range(hops):
        reach = reach @ step
        reach.data[:] = 1
    onehot = sparse.csr_array((np.ones(n, dtype=np.int8), (np.arange(n), codes)), shape=(n, k))
    cand = reach.astype(np.int32) @ onehot.astype(np.int32)
    return sparse.csr_array(cand != 0)


def optimum(
    graph,
    households,
    labels: pd.Series,
    *,
    min_households: int,
    max_households: int,
    offsets: dict | None = None,
    exempt_min=(),
    hops: int = 3,
    time_limit: float = 300.0,
    seed: int = 0,
    workers: int = 2,
    log: bool = False,
) -> dict:
    """Whole-map lexicographic optimum (fewest out of band, then fewest moves); see the module doc."""
    t0 = time.perf_counter()
    graph = sparse.csr_array(graph)
    hh = np.asarray(households, dtype=np.int64)
    base = labels.astype(str).to_numpy()
    comms = sorted(set(base))
    code = {c: i for i, c in enumerate(comms)}
    codes = np.array([code[c] for c in base])
    n, k = len(codes), len(comms)
    offsets = {str(a): int(b) for a, b in (offsets or {}).items()}
    off = np.array([offsets.get(c, 0) for c in comms], dtype=np.int64)
    exempt = {str(c) for c in exempt_min}
    cand = _candidates(graph, codes, k, hops)
    cands = [cand.indices[cand.indptr[u] : cand.indptr[u + 1]] for u in range(n)]
    movable = np.array([len(c) > 1 for c in cands])

    # contract touching fixed units of one community into one node
    coo = sparse.coo_array(graph)
    fixed_edge = ~movable[coo.row] & ~movable[coo.col] & (codes[coo.row] == codes[coo.col])
    fsub = sparse.csr_array(
        (np.ones(int(fixed_edge.sum())), (coo.row[fixed_edge], coo.col[fixed_edge])), shape=(n, n)
    )
    _, fcomp = connected_components(fsub, directed=False)
    node = np.empty(n, dtype=np.int64)
    nodes_fixed: dict[int, int] = {}  # fixed component -> node id
    nxt = 0
    for u in range(n):
        if movable[u]:
            node[u] = nxt
            nxt += 1
        else:
            if fcomp[u] not in nodes_fixed:
                nodes_fixed[fcomp[u]] = nxt
                nxt += 1
            node[u] = nodes_fixed[fcomp[u]]
    nn = nxt
    node_cands: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * nn
    node_own = np.empty(nn, dtype=np.int64)
    for u in range(n):
        node_cands[node[u]] = cands[u] if movable[u] else np.array([codes[u]])
        node_own[node[u]] = codes[u]
    node_movable = np.zeros(nn, dtype=bool)
    node_movable[node[movable]] = True
    a, b = node[coo.row], node[coo.col]
    m = a != b
    edges = sorted(set(zip(a[m].tolist(), b[m].tolist(), strict=True)))  # both directions present

    md = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    true = md.new_constant(1)
    for v in range(nn):
        if node_movable[v]:
            lits = []
            for c in node_cands[v]:
                x[v, int(c)] = md.new_bool_var(f"x{v}_{c}")
                lits.append(x[v, int(c)])
            md.add_exactly_one(lits)
        else:
            x[v, int(node_own[v])] = true
    members: list[list[int]] = [[] for _ in range(k)]
    for v, c in x:
        members[c].append(v)

    # totals and out-of-band flags
    fixed_hh = np.bincount(codes[~movable], weights=hh[~movable], minlength=k).astype(np.int64)
    out = []
    mov_units = np.flatnonzero(movable)
    terms: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in range(k)]
    for u in mov_units.tolist():
        for c in cands[u]:
            terms[int(c)].append((int(hh[u]), x[node[u], int(c)]))
    has_fixed = np.bincount(codes[~movable], minlength=k) > 0
    # communities out of band in every plan: their fixed part alone plus the smallest of their own
    # units (a non-empty community keeps a root among them; an emptied one is out of band)
    # exceeds the maximum, or all they could hold stays below the minimum
    cand_hh = (
        np.asarray(cand[mov_units].astype(np.int64).T @ hh[mov_units]).ravel()
        if len(mov_units)
        else np.zeros(k)
    )
    smallest = np.full(k, np.iinfo(np.int64).max)
    np.minimum.at(smallest, codes[mov_units], hh[mov_units])
    low = off + fixed_hh + np.where(has_fixed, 0, smallest)
    high = off + fixed_hh + cand_hh
    always_out = (low > max_households) | (
        (high < min_households) & ~np.isin(comms, sorted(exempt))
    )
    base_of = {id(x[node[u], int(c)]): base[u] for u in mov_units for c in cands[u]}
    for c in range(k):
        total = int(off[c] + fixed_hh[c]) + sum(w * lit for w, lit in terms[c])
        o = md.new_bool_var(f"out{c}")
        out.append(o)
        md.add(total <= max_households).only_enforce_if(o.Not())
        if comms[c] not in exempt:
            md.add(total >= min_households).only_enforce_if(o.Not())
        if not has_fixed[c]:  # an emptied community is out of band
            md.add_bool_or([lit for _, lit in terms[c]]).only_enforce_if(o.Not())
        # valid counting cuts: to come into band a community must shed (take in) at least as
        # many units as its largest candidates need to cover the excess (shortfall)
        asis = int(off[c] + fixed_hh[c]) + sum(
            w for w, lit in terms[c] if comms[c] == base_of[id(lit)]
        )
        own_w = sorted((w for w, lit in terms[c] if comms[c] == base_of[id(lit)]), reverse=True)
        new_w = sorted((w for w, lit in terms[c] if comms[c] != base_of[id(lit)]), reverse=True)
        if asis > max_households:
            need = int(np.searchsorted(np.cumsum(own_w), asis - max_households) + 1)
            if need <= len(own_w):
                md.add(
                    sum(1 - lit for w, lit in terms[c] if comms[c] == base_of[id(lit)]) >= need
                ).only_enforce_if(o.Not())
        elif asis < min_households and comms[c] not in exempt:
            need = int(np.searchsorted(np.cumsum(new_w), min_households - asis) + 1)
            if need <= len(new_w):
                md.add(
                    sum(lit for w, lit in terms[c] if comms[c] != base_of[id(lit)]) >= need
                ).only_enforce_if(o.Not())

    # contiguity: every unit of a community but its root(s) has a parent in the community that
    # is closer to a root (depth strictly decreasing, so every unit reaches a root)
    before = pieces(graph, codes, k)
    size = np.array([len(m) for m in members])
    nbrs: list[list[int]] = [[] for _ in range(nn)]
    for v, w in edges:
        nbrs[v].append(w)
    cset = [set(cs.tolist()) for cs in node_cands]
    fixed_root = {}
    for c in range(k):
        fixed_nodes = [v for v in members[c] if not node_movable[v]]
        if before[c] <= 1 and fixed_nodes:
            fixed_root[c] = fixed_nodes[0]  # always in c: rooting there loses nothing
    depth = [md.new_int_var(0, int(max(size[c] for c in cset[v])) - 1, f"d{v}") for v in range(nn)]
    root: dict[tuple[int, int], cp_model.IntVar] = {}
    for c in range(k):
        if c in fixed_root:
            continue
        lits = []
        for v in members[c]:
            if node_own[v] == c:
                root[v, c] = md.new_bool_var(f"r{v}_{c}")
                md.add_implication(root[v, c], x[v, c])
                md.add(depth[v] == 0).only_enforce_if(root[v, c])
                lits.append(root[v, c])
        if len(lits) > max(int(before[c]), 1):
            md.add(sum(lits) <= max(int(before[c]), 1))
    parent: dict[tuple[int, int], cp_model.IntVar] = {}
    for v in range(nn):
        if fixed_root.get(int(node_own[v])) == v:
            md.add(depth[v] == 0)
            continue
        choice = [root[v, c] for c in cset[v] if (v, c) in root]
        for w in nbrs[v]:
            if not cset[v] & cset[w]:
                continue
            p = parent[v, w] = md.new_bool_var(f"p{v}_{w}")
            choice.append(p)
            md.add(depth[w] < depth[v]).only_enforce_if(p)
            for c in cset[v]:
                if c in cset[w]:
                    if node_movable[v] or node_movable[w]:
                        md.add_bool_or([p.Not(), x[v, c].Not(), x[w, c]])
                else:
                    md.add_bool_or([p.Not(), x[v, c].Not()])
        md.add_exactly_one(choice)

    # implied by contiguity (the community keeps a root elsewhere): a unit that joins another
    # community touches it; stated explicitly, it prunes the search
    for (v, c), lit in x.items():
        if node_movable[v] and c != node_own[v]:
            md.add_bool_or([x[w, c] for w in nbrs[v] if (w, c) in x]).only_enforce_if(lit)

    # a complete hint: the as-is plan with a BFS tree per as-is piece
    hint: dict = {}
    for (v, c), lit in x.items():
        if node_movable[v]:
            hint[lit] = int(c == node_own[v])
    for lit in root.values():
        hint[lit] = 0
    for lit in parent.values():
        hint[lit] = 0
    seen = np.zeros(nn, dtype=bool)
    dval = np.zeros(nn, dtype=np.int64)
    for c in range(k):
        own = [v for v in members[c] if node_own[v] == c]
        starts = [fixed_root[c]] + own if c in fixed_root else own
        for s0 in starts:
            if seen[s0]:
                continue
            seen[s0] = True
            if (s0, c) in root:
                hint[root[s0, c]] = 1
            queue = [s0]
            for v in queue:
                for w in nbrs[v]:
                    if not seen[w] and node_own[w] == c:
                        seen[w] = True
                        dval[w] = dval[v] + 1
                        hint[parent[w, v]] = 1
                        queue.append(w)
    for v in range(nn):
        hint[depth[v]] = int(dval[v])

    moved = [x[node[u], int(codes[u])].Not() for u in mov_units]
    res: dict = {
        "hops": hops,
        "units": n,
        "movable_units": int(movable.sum()),
        "nodes": nn,
        "x_vars": int(sum(len(cands[u]) for u in mov_units)),
        "time_limit": time_limit,
    }

    def run(seconds: float):
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(1.0, seconds)
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = seed
        solver.parameters.log_search_progress = log
        st = solver.solve(md)
        return solver, st

    # phase 1: fewest communities out of band, from the as-is plan (a feasible hint)
    for var, val in hint.items():
        md.add_hint(var, val)
    md.minimize(sum(out))
    s1, st1 = run(time_limit / 2)
    res["phase1_status"] = s1.status_name(st1)
    if st1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        res.update(
            seconds=round(time.perf_counter() - t0, 2),
            proven=False,
            violations=None,
            violations_bound=None,
            units_moved=None,
        )
        return res
    v1 = int(round(s1.objective_value))
    res["violations"] = v1
    res["violations_bound"] = int(np.ceil(s1.best_objective_bound - 1e-6))
    # phase 2: at most v1 out of band, fewest moves (hinted with phase 1's plan)
    md.clear_hints()
    for var in hint:
        md.add_hint(var, s1.value(var))
    md.add(sum(out) <= v1)
    res["always_out"] = int(always_out.sum())
    if res["violations_bound"] == v1 == int(always_out.sum()):
        # the proven minimum is exactly the communities out in every plan: all others are in band
        # (stated as fixed literals, the band constraints become hard and the LP bound strong)
        for c in np.flatnonzero(~always_out):
            md.add(out[c] == 0)
    md.minimize(sum(moved))
    s2, st2 = run(time_limit - (time.perf_counter() - t0))
    res["phase2_status"] = s2.status_name(st2)
    sol = s1
    res["units_moved_bound"] = None
    if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        sol = s2
        res["units_moved_bound"] = int(np.ceil(s2.best_objective_bound - 1e-6))
    res["seconds"] = round(time.perf_counter() - t0, 2)
    lab = np.empty(n, dtype=object)
    for u in range(n):
        if not movable[u]:
            lab[u] = base[u]
        else:
            lab[u] = next(comms[int(c)] for c in cands[u] if sol.value(x[node[u], int(c)]))
    res["labels"] = pd.Series(lab, index=labels.index, dtype=object)
    res["units_moved"] = int((lab != base).sum())
    res["proven"] = bool(st1 == cp_model.OPTIMAL and st2 == cp_model.OPTIMAL)
    return res
