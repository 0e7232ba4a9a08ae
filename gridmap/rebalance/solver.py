"""The minimal-change rebalancer: the fewest units moved so every community fits the band.

Given units (grids, 小区 …) assigned to communities, their households and their
adjacency, :class:`Rebalancer` finds new assignments that bring as many communities
as possible within ``min_households``–``max_households`` 户 while every community
stays contiguous, changing as little as possible. The objective is lexicographic:

1. the fewest communities out of band (a community that cannot be fixed is left out
   of band and never blocks its neighbours' fixes);
2. (second phase only) the fewest structural changes — communities split or dissolved;
3. the fewest units moved from the as-is plan;
4. then the fewest households moved, then compactness.

Households a community holds outside all its units (``offsets``: households outside
every grid) are a fixed remainder: they count towards its size and never move.

The model is an OR-Tools CP-SAT program (:mod:`gridmap.rebalance.model`): a unit may
move only to a community within ``hops`` adjacency steps; contiguity is a hard
single-commodity flow constraint (a community already in pieces may not get more).
The search is deterministic (fixed seed, deterministic time limit): the same input gives
the same plan, run after run.

It scales by stages, each warm-started from the previous plan and kept only when it is
better (fewer violations, then fewer moves):

1. **local**: each violation with its neighbours (``ring`` community steps), only units
   within ``depth`` steps of the violator's boundary free;
2. **escalation** for what is left: larger neighbourhoods (ring + 1, ring + 2), deeper move zones;
3. **whole map** when it holds at most ``global_units`` units (proving the optimum on
   small maps), else a **polish** of every touched community and its neighbours at once;
   it always runs, on whatever was fixed;
4. **split / dissolve** (``allow_split``, ``allow_dissolve``) for violations moves cannot fix.

``local=False`` goes straight to the whole-map solve.

Infeasibility is explained, never raised: a unit that alone exceeds the maximum, a
locked community out of the band, an area with no neighbour whose households cannot
reach the minimum, or a violation the whole-map optimum (or, on large maps, the largest
neighbourhood tried) cannot fix — in Chinese, naming the unit, with the same totals as
the check (households outside every unit included).

Why a community is left out of band is a :class:`~gridmap.rebalance.Reason` with a code
(``reasons_``); ``explanations_`` words them (Chinese, then English in brackets).

Examples
--------
A 1 × 6 strip of units of 500 户: communities A (4 units, 2000 户) and B (2 units, 1000 户);
with a band of 1200–1800 one unit moves from A to B.

>>> import numpy as np
>>> import pandas as pd
>>> from gridmap.edits import lattice_adjacency
>>> labels = pd.Series(list("AAAABB"), index=[f"u{i}" for i in range(6)])
>>> rb = Rebalancer(lattice_adjacency(1, 6), np.full(6, 500), labels,
...                 min_households=1200, max_households=1800).solve()
>>> rb.status_, rb.units_moved_, rb.labels_.tolist()
('optimal', 1, ['A', 'A', 'A', 'B', 'B', 'B'])
>>> lab = pd.Series(["A", "B"], index=["320505006023004", "x"])
>>> rb = Rebalancer(lattice_adjacency(1, 2), np.array([3400, 500]), lab,
...                 min_households=1000, max_households=3000).solve()
>>> rb.reasons_[0].code, rb.reasons_[0].text("zh")
('unit_above_max', '网格 320505006023004 单独就有 3,400 户 > 3,000 户：请先拆分此网格')
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridmap.adjacency import planning_adjacency, unit_adjacency
from gridmap.edits import EditResult, community_pieces
from gridmap.rebalance.reasons import Reason, left_reason
from gridmap.rebalance.search import StagedSearch
from gridmap.rules import load_profile

__all__ = ["Rebalancer"]


class Rebalancer(StagedSearch):
    """Minimal-change rebalancing of units between communities (OR-Tools CP-SAT).

    Parameters
    ----------
    graph
        Unit adjacency, positional (:func:`gridmap.adjacency.planning_adjacency` on real
        geometry, :func:`gridmap.edits.unit_adjacency` where units tile the land).
    households
        Households per unit (integers), positional.
    labels
        The current community of each unit; its index is the unit ids.
    min_households, max_households
        The band (from the profile: :meth:`gridmap.rules.Profile.size_band`; :meth:`from_plan` takes
        the plan's, and omitted values default to the `national` profile's).
    hops
        A unit may move only to a community whose units are within this many
        adjacency steps of it (default 2).
    locked_units, locked_communities
        Ids that must not change (a locked community neither loses nor gains units).
    allow_split, allow_dissolve
        Second phase, when moves alone cannot fix a community.
    local, ring
        Solve by stages around the violations (default), starting with neighbours ``ring``
        community steps away; ``local=False`` solves the whole map at once.
    time_limit
        Work budget for the whole solve, in CP-SAT deterministic seconds (roughly 1–5 s of
        wall-clock time each, depending on the machine and its load); deterministic, unlike
        wall-clock time, so runs repeat exactly.
    wall_limit
        Wall-clock safety net in seconds (default ``10 * time_limit``): when it trips, the
        search stops early and ``deterministic_`` is False (the plan may then differ run to run).
    workers
        CP-SAT search workers (default 1; more run interleaved, deterministically, which on
        these models is slower per unit of work).
    coords
        Unit representative points (n × 2); kept for callers, not needed by the solver.
    names
        ``{community_id: 名称}`` for messages; ``unit_kind`` words them (``"grids"`` → 网格).
    offsets
        ``{community_id: 户数}`` a community holds outside its units: a fixed remainder.
    exempt_min
        Communities exempt from the minimum (居民分散, ``sparse``).
    depth
        In the local stage only units within ``depth`` steps of a violator's boundary may
        move (``None``: every unit of the subproblem's communities).
    global_units
        The last stage solves the whole map at once when it has at most this many units.
    polish_units, polish_depth, polish_hops
        On larger maps the last stage re-solves the touched communities and their neighbours
        when they hold at most ``polish_units`` units: units within ``polish_depth`` steps of a
        community boundary (plus those near a violator and those moved) may join a community
        within ``polish_hops`` steps or the one the earlier stages chose.
    max_communities
        Largest local subproblem (communities) built by merging overlapping neighbourhoods.

    Attributes
    ----------
    labels_ : pandas.Series
        The new community of each unit.
    moves_ : pandas.DataFrame
        ``unit_id, from_community, to_community, households``.
    status_ : str
        ``"optimal"`` (proven by a whole-map solve, no violation left), ``"feasible"``,
        ``"partial"`` (violations left; see ``reasons_``) or ``"no_violations"``.
        :class:`~gridmap.rebalance.RebalanceResult` gives the outcome callers decide on.
    proven_ : bool
        A whole-map solve proved the plan optimal (violations, then moves).
    deterministic_ : bool
        False when the wall-clock safety net stopped a search (see ``wall_limit``).
    work_ : float
        Deterministic work spent (CP-SAT deterministic seconds).
    reasons_ : list of Reason
        Why violations are left: :class:`~gridmap.rebalance.Reason` with a code each.
    explanations_ : list of str
        The reasons in Chinese, then English in brackets, naming the Python options
        (``hops=``, ``time_limit=``).
    units_moved_, households_moved_, violations_before_, violations_after_ : int
    non_contiguous_ : list of str
        Communities in more than one piece after the solve (only those that already were).
    subproblems_ : list of dict
        Per subproblem: stage, communities, units, status, work, seconds, moves, bound.
    seconds_ : float
    """

    def __init__(
        self,
        graph: sparse.csr_array,
        households,
        labels: pd.Series,
        *,
        min_households: int | None = None,
        max_households: int | None = None,
        hops: int = 2,
        locked_units: Iterable = (),
        locked_communities: Iterable = (),
        allow_split: bool = True,
        allow_dissolve: bool = True,
        local: bool = True,
        ring: int = 1,
        time_limit: float = 20.0,
        workers: int = 1,
        coords: np.ndarray | None = None,
        names: dict | None = None,
        unit_kind: str = "grids",
        offsets: dict | None = None,
        exempt_min: Iterable = (),
        max_communities: int = 12,
        depth: int | None = 3,
        global_units: int = 1500,
        polish_units: int = 2500,
        polish_depth: int = 0,
        polish_hops: int = 1,
        wall_limit: float | None = None,
    ) -> None:
        self.graph = sparse.csr_array(graph)
        self.households = np.asarray(households, dtype=np.int64)
        self.base = pd.Series(
            labels.astype(str).to_numpy(), index=labels.index.astype(str), dtype=object
        )
        if len(self.households) != len(self.base) or self.graph.shape[0] != len(self.base):
            raise ValueError(
                f"graph ({self.graph.shape[0]}), households ({len(self.households)}) "
                f"and labels ({len(self.base)}) must have one entry per unit"
            )
        if min_households is None or max_households is None:  # the national profile's band
            band = load_profile("national").size_band()
            assert band is not None
            min_households = band.lower if min_households is None else min_households
            max_households = band.upper if max_households is None else max_households
        if min_households > max_households:
            raise ValueError(f"min_households {min_households} > max_households {max_households}")
        self.base_arr = self.base.to_numpy()
        self.min_households, self.max_households = int(min_households), int(max_households)
        self.hops, self.local, self.ring = int(hops), bool(local), int(ring)
        self.locked_units = {str(u) for u in locked_units}
        self.locked_communities = {str(c) for c in locked_communities}
        self.allow_split, self.allow_dissolve = allow_split, allow_dissolve
        self.time_limit, self.workers = float(time_limit), int(workers)
        self.wall_limit = float(wall_limit) if wall_limit is not None else 10 * self.time_limit
        self.coords = coords
        self.names = {str(k): str(v) for k, v in (names or {}).items()}
        self.unit_kind = unit_kind
        self.max_communities = int(max_communities)
        self.depth = None if depth is None else int(depth)
        self.global_units, self.polish_units = int(global_units), int(polish_units)
        self.polish_depth, self.polish_hops = int(polish_depth), int(polish_hops)
        self.offsets = {str(k): int(v) for k, v in (offsets or {}).items()}
        self.exempt_min = {str(c) for c in exempt_min}
        pieces = community_pieces(self.base, self.graph) if len(self.base) else pd.Series(dtype=int)
        self.base_pieces = {str(k): int(v) for k, v in pieces.items()}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_plan(cls, plan: Any, **kwargs: Any) -> Rebalancer:
        """From a :class:`gridmap.plans.Plan`.

        Its current labels, adjacency (``plan.graph``), names, households outside the units
        (``plan.offsets``) and exemptions.

        :meth:`gridmap.plans.Plan.rebalance` runs it and returns a result with reason codes.
        """
        kwargs.setdefault("coords", plan.coords())
        kwargs.setdefault("names", plan.community_names)
        kwargs.setdefault("unit_kind", plan.unit_kind)
        kwargs.setdefault("offsets", plan.offsets)
        kwargs.setdefault("exempt_min", plan.exempt_min())
        band = plan.band  # the plan's profile gives the band
        if band is not None:
            kwargs.setdefault("min_households", band.lower)
            kwargs.setdefault("max_households", band.upper)
        return cls(plan.graph, plan.units["households"].to_numpy(), plan.labels, **kwargs)

    @classmethod
    def from_geodataframe(
        cls,
        gdf: Any,
        *,
        community: str = "community_id",
        households: str = "households",
        communities: Any = None,
        tolerance: float = 1.0,
        **kwargs: Any,
    ) -> Rebalancer:
        """From polygons with a community column and a households column (metric CRS).

        With ``communities`` (polygons indexed by id) the adjacency is
        :func:`gridmap.adjacency.planning_adjacency`, else :func:`gridmap.edits.unit_adjacency`.
        """
        pts = shapely.point_on_surface(np.asarray(gdf.geometry.values))
        kwargs.setdefault("coords", np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]))
        graph = (
            planning_adjacency(gdf, communities, community=community)
            if communities is not None
            else unit_adjacency(gdf, tolerance=tolerance)
        )
        return cls(graph, gdf[households].fillna(0).to_numpy(), gdf[community], **kwargs)

    # ------------------------------------------------------------------ helpers
    def _reason(
        self, code: str, communities: Iterable[str], *, unit: str | None = None, **values: Any
    ) -> Reason:
        return Reason(
            code,
            tuple(communities),
            unit=unit,
            values={**values, "unit_kind": self.unit_kind},
            names=self.names,
        )

    # ------------------------------------------------------------------ pre-checks
    def _prechecks(self, lab: np.ndarray) -> tuple[list[Reason], set[str]]:
        """Violations no solver can fix: (reasons, communities not worth a subproblem)."""
        notes: list[Reason] = []
        skip: set[str] = set()
        h, mx, mn = self.households, self.max_households, self.min_households
        ids = self.base.index
        totals = self._totals(lab)
        for i in np.flatnonzero(h > mx):
            notes.append(
                self._reason(
                    "unit_above_max", [lab[i]], unit=str(ids[i]), households=int(h[i]), max=mx
                )
            )
            skip.add(lab[i])
        for cid in sorted(set(totals.index) - skip):
            if totals[cid] > mx and int(h[lab == cid].min()) + self.offsets.get(cid, 0) > mx:
                notes.append(
                    self._reason(
                        "remainder_above_max", [cid], remainder=self.offsets.get(cid, 0), max=mx
                    )
                )
                skip.add(cid)
        for cid in sorted(self.locked_communities & set(totals.index)):
            if not mn <= totals[cid] <= mx:
                notes.append(
                    self._reason(
                        "locked_out_of_band", [cid], households=int(totals[cid]), min=mn, max=mx
                    )
                )
                skip.add(cid)
        _, comp = connected_components(self.graph, directed=False)
        violators = set(self._violators(lab))
        for c in np.unique(comp):
            inside = comp == c
            # communities wholly on this island (a stray piece of a larger one is not a violation)
            whole = sorted(x for x in set(lab[inside]) if not (lab[~inside] == x).any())
            total = int(h[inside].sum()) + sum(self.offsets.get(x, 0) for x in whole)
            comms = [x for x in whole if x in violators]
            if comms and total < mn and len(whole) == len(set(lab[inside])):
                notes.append(self._reason("isolated_below_min", comms, total=total, min=mn))
                skip.update(comms)
        cg = self._comm_graph(lab)
        for cid in sorted(violators - skip):
            if totals[cid] < mn and not cg.get(cid):
                notes.append(
                    self._reason("no_neighbour", [cid], households=int(totals[cid]), min=mn)
                )
                skip.add(cid)
        return notes, skip

    # ------------------------------------------------------------------ solve
    def solve(self) -> Rebalancer:
        """Find the minimal change; returns self with the ``…_`` attributes set."""
        t0 = time.perf_counter()
        lab = self.base_arr.copy()
        self.violations_before_ = len(self._violators(lab))
        reasons, skip = self._prechecks(lab)
        self._skip = skip
        self.subproblems_: list[dict] = []
        self.proven_ = False
        self._work = 0.0
        self._wall_end = t0 + self.wall_limit
        self.deterministic_ = True
        self._reach: dict[str, str] = {}  # violator -> the widest search that left it out of band
        todo = [c for c in self._violators(lab) if c not in skip]
        whole = sorted(set(lab) - self.locked_communities)
        if todo and not self.local:
            self._attempt(lab, whole, "global", self.time_limit, pending=todo)
        elif todo:
            self._stages(lab, skip)
        if todo and (self.allow_split or self.allow_dissolve):
            self._split_dissolve(lab, skip)
        tot = self._totals(lab)
        reasons += [
            self._left(cid, int(tot[cid])) for cid in self._violators(lab) if cid not in skip
        ]
        self._results(lab, reasons)
        self.seconds_ = time.perf_counter() - t0
        return self

    def _split_dissolve(self, lab: np.ndarray, skip: set[str]) -> None:
        """Second phase: split or dissolve what moves could not fix, one violation at a time."""
        for c in [c for c in self._violators(lab) if c not in skip]:
            if c not in self._violators(lab):
                continue
            hood = sorted(self._ring(self._comm_graph(lab), [c], self.ring + 1, skip))
            share = max(0.5, (self.time_limit - self._work) / 4)
            self._attempt(lab, hood, "split_dissolve", share, pending=[c], phase=2)

    def _results(self, lab: np.ndarray, reasons: list[Reason]) -> None:
        """Set the fitted attributes from the final labels."""
        ids = self.base.index
        left = self._violators(lab)
        self.labels_ = pd.Series(lab, index=ids, dtype=object, name="community_id")
        moved = np.flatnonzero(lab != self.base_arr)
        self.moves_ = pd.DataFrame(
            {
                "unit_id": ids[moved].astype(str),
                "from_community": self.base_arr[moved],
                "to_community": lab[moved],
                "households": self.households[moved],
            }
        )
        self.units_moved_ = int(len(moved))
        self.households_moved_ = int(self.households[moved].sum())
        self.violations_after_ = len(left)
        pieces = community_pieces(self.labels_, self.graph)
        self.non_contiguous_ = sorted(pieces[pieces > 1].index.astype(str))
        self.reasons_ = reasons
        self.explanations_ = [r.explanation() for r in reasons]
        if self.violations_before_ == 0:
            self.status_ = "no_violations"
        elif left:
            self.status_ = "partial"
        else:
            self.status_ = "optimal" if self.proven_ else "feasible"
        self.work_ = round(self._work, 3)

    def _left(self, cid: str, households: int) -> Reason:
        """Why ``cid`` is still out of band: the widest search that had it pending."""
        reach = self._reach.get(cid, "")
        if reach == "global" and self.proven_:
            code = "proven_unfixable"
        elif reach == "split_dissolve":
            code = "no_change_within_hops"
        elif reach == "global":
            code = "budget_exhausted"
        else:
            code = "not_found_nearby"
        rings = int(reach) if reach.isdigit() else (self.ring if not reach else None)
        return left_reason(
            code,
            cid,
            households=households,
            min_households=self.min_households,
            max_households=self.max_households,
            names=self.names,
            unit_kind=self.unit_kind,
            hops=self.hops,
            rings=rings,
        )

    # ------------------------------------------------------------------ outputs
    def to_edit(self) -> EditResult:
        """The solution as an edit for :meth:`gridmap.plans.Plan.apply` (op ``"rebalance"``)."""
        mv = self.moves_
        changes = tuple(zip(mv["unit_id"], mv["from_community"], mv["to_community"], strict=True))
        params = {
            "min": self.min_households,
            "max": self.max_households,
            "hops": self.hops,
            "locked_units": sorted(self.locked_units),
            "locked_communities": sorted(self.locked_communities),
            "status": self.status_,
            "units_moved": self.units_moved_,
        }
        touched = tuple(sorted(set(mv["from_community"]) | set(mv["to_community"])))
        return EditResult("rebalance", params, changes, touched, (), tuple(self.explanations_))
