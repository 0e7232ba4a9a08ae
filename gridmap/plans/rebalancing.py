"""The rebalancer run on a plan: one interface for the command line and the dashboard.

:func:`rebalance_plan` (:meth:`gridmap.plans.Plan.rebalance`) runs the minimal-change
rebalancer (:class:`gridmap.rebalance.Rebalancer`) on the plan's current assignment, with its
adjacency, households outside every unit (fixed remainders), exemptions and band;
:func:`redraw_plan` (:meth:`gridmap.plans.Plan.redraw`) draws a new plan from nothing first
(:func:`gridmap.rebalance.from_scratch_labels`). Both return a
:class:`~gridmap.rebalance.RebalanceResult` — a status code, per-community reasons with codes,
and the edit to apply — and apply nothing: ``plan.apply(result.edit)`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gridmap.edits import edit_from_labels
from gridmap.plans.evaluation import PlanEvaluation
from gridmap.rebalance import Rebalancer, RebalanceResult, from_scratch_labels

__all__ = ["rebalance_plan", "redraw_plan"]


def _band(
    plan: PlanEvaluation, min_households: int | None, max_households: int | None
) -> tuple[int, int]:
    """The band to aim at: the plan's profile's, unless given."""
    band = plan.band
    lo = min_households if min_households is not None else (band.lower if band else None)
    hi = (
        max_households
        if max_households is not None
        else (band.upper if band and band.max is not None else None)
    )
    if lo is None or hi is None:
        raise ValueError(
            f"profile {plan.profile.id!r} has no community household band: pass "
            "min_households= and max_households="
        )
    if lo < 0 or hi <= 0 or lo > hi:
        raise ValueError(
            f"invalid band min_households={lo}, max_households={hi}: "
            "need 0 <= min_households <= max_households and max_households > 0"
        )
    return int(lo), int(hi)


def _locks(plan: PlanEvaluation, locked: Iterable[str]) -> tuple[list[str], list[str]]:
    """``locked`` ids split into units and communities of the plan (an id may be both)."""
    locks = [str(x) for x in locked]
    units, comms = set(plan.units.index), set(plan.labels)
    unknown = [x for x in locks if x not in units and x not in comms]
    if unknown:
        raise ValueError(f"locked=: unknown community or unit ids {', '.join(unknown)}")
    return [x for x in locks if x in units], [x for x in locks if x in comms]


def _check(hops: int, time_limit: float) -> None:
    if hops < 1:
        raise ValueError(f"hops= must be at least 1, got {hops}")
    if not time_limit > 0:
        raise ValueError(f"time_limit= must be positive, got {time_limit}")


def rebalance_plan(
    plan: PlanEvaluation,
    *,
    min_households: int | None = None,
    max_households: int | None = None,
    hops: int = 2,
    locked: Iterable[str] = (),
    allow_split: bool = True,
    allow_dissolve: bool = True,
    local: bool = True,
    time_limit: float = 20.0,
    **options: Any,
) -> RebalanceResult:
    """Run the rebalancer on ``plan`` (see :meth:`gridmap.plans.Plan.rebalance`)."""
    lo, hi = _band(plan, min_households, max_households)
    _check(hops, time_limit)
    units, comms = _locks(plan, locked)
    rb = Rebalancer.from_plan(
        plan,
        min_households=lo,
        max_households=hi,
        hops=hops,
        locked_units=units,
        locked_communities=comms,
        allow_split=allow_split,
        allow_dissolve=allow_dissolve,
        local=local,
        time_limit=time_limit,
        **options,
    ).solve()
    return RebalanceResult.from_solver(rb)


def redraw_plan(
    plan: PlanEvaluation,
    *,
    target: int = 2000,
    min_households: int | None = None,
    max_households: int | None = None,
    hops: int = 2,
    locked: Iterable[str] = (),
    allow_split: bool = True,
    allow_dissolve: bool = True,
    local: bool = True,
    time_limit: float = 20.0,
    **options: Any,
) -> RebalanceResult:
    """Draw a new plan from nothing, then repair it (see :meth:`gridmap.plans.Plan.redraw`)."""
    lo, hi = _band(plan, min_households, max_households)
    _check(hops, time_limit)
    if not target > 0:
        raise ValueError(f"target= must be positive, got {target}")
    units, _ = _locks(plan, locked)
    hh, coords, labels = plan.units["households"].to_numpy(), plan.coords(), plan.labels
    start = from_scratch_labels(
        plan.graph,
        hh,
        target=target,
        index=plan.units.index,
        coords=coords,
        min_households=lo,
        max_households=hi,
        base=labels,
        offsets=plan.offsets,
    )
    rb = Rebalancer(
        plan.graph,
        hh,
        start,
        min_households=lo,
        max_households=hi,
        hops=hops,
        locked_units=units,
        allow_split=allow_split,
        allow_dissolve=allow_dissolve,
        local=local,
        time_limit=time_limit,
        coords=coords,
        names=plan.community_names,
        unit_kind=plan.unit_kind,
        offsets=plan.offsets,
        exempt_min=plan.exempt_min(),
        **options,
    ).solve()
    edit = edit_from_labels(
        labels,
        rb.labels_,
        op="from_scratch",
        params={"target": target, "min": lo, "max": hi},
        warnings=rb.explanations_,
    )
    return RebalanceResult.from_solver(rb, edit)
