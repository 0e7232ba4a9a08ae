"""What a rebalancing run says: an outcome code, per-community reasons, the edit to apply.

:class:`RebalanceResult` is what :meth:`gridmap.plans.Plan.rebalance` and
:meth:`gridmap.plans.Plan.redraw` return, for the command line and the dashboard alike.
Callers decide on ``status`` and the reasons' codes, never on text; :meth:`RebalanceResult.text`
words them in Chinese or English, naming the options the way the caller's interface does.

``status`` is one of

``no_violations``
    every community was in band already: nothing to do;
``fixed``
    every community is in band now;
``partial``
    some were fixed; the others are explained (``reasons``);
``infeasible``
    none could be fixed, and the reasons say why (no more work would help);
``budget_exhausted``
    communities are left out of band where a larger work budget (``time_limit``) may help.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridmap.edits import EditResult
from gridmap.rebalance.reasons import Reason
from gridmap.rebalance.solver import Rebalancer

__all__ = ["RebalanceResult", "STATUSES"]

#: the outcome codes of a run
STATUSES: tuple[str, ...] = ("no_violations", "fixed", "partial", "infeasible", "budget_exhausted")


@dataclass(frozen=True)
class RebalanceResult:
    """The outcome of one rebalancing run (see the module text for ``status``).

    Attributes
    ----------
    status
        The outcome code (:data:`STATUSES`).
    reasons
        Why communities are left out of band (:class:`~gridmap.rebalance.Reason`, with codes).
    edit
        The change to apply (:meth:`gridmap.plans.Plan.apply`); nothing is applied yet.
    violations_before, violations_after
        Communities out of band before and after.
    units_moved, households_moved
        The units and households ``edit`` moves.
    proven
        A whole-map solve proved the plan optimal.
    deterministic
        False when the wall-clock safety net stopped a search (the plan may differ run to run).
    min_households, max_households
        The band the run aimed at.
    solver
        The solved :class:`~gridmap.rebalance.Rebalancer` (its status, work, subproblems …).
    """

    status: str
    reasons: tuple[Reason, ...]
    edit: EditResult
    violations_before: int
    violations_after: int
    units_moved: int
    households_moved: int
    proven: bool
    deterministic: bool
    min_households: int
    max_households: int
    solver: Rebalancer = field(repr=False, compare=False)

    @classmethod
    def from_solver(cls, rb: Rebalancer, edit: EditResult | None = None) -> RebalanceResult:
        """The result of a solved rebalancer (``edit`` defaults to :meth:`Rebalancer.to_edit`)."""
        left = rb.violations_after_
        if rb.violations_before_ == 0:
            status = "no_violations"
        elif left == 0:
            status = "fixed"
        elif not rb.deterministic_ or any(r.code == "budget_exhausted" for r in rb.reasons_):
            status = "budget_exhausted"
        elif left < rb.violations_before_:
            status = "partial"
        else:
            status = "infeasible"
        units, households = rb.units_moved_, rb.households_moved_
        if edit is None:
            edit = rb.to_edit()
        else:  # moves against the labels the edit starts from (a redraw: the plan's)
            pos = rb.base.index.get_indexer([c[0] for c in edit.changes])
            units, households = len(edit.changes), int(rb.households[pos].sum())
        return cls(
            status=status,
            reasons=tuple(rb.reasons_),
            edit=edit,
            violations_before=rb.violations_before_,
            violations_after=left,
            units_moved=units,
            households_moved=households,
            proven=rb.proven_,
            deterministic=rb.deterministic_,
            min_households=rb.min_households,
            max_households=rb.max_households,
            solver=rb,
        )

    @property
    def by_community(self) -> dict[str, list[Reason]]:
        """The reasons per community left out of band."""
        out: dict[str, list[Reason]] = {}
        for r in self.reasons:
            for c in r.communities:
                out.setdefault(c, []).append(r)
        return out

    def summary(self, lang: str = "zh") -> str:
        """One line: communities out of band before → after, units and households moved."""
        if lang == "en":
            return (
                f"communities outside the band {self.violations_before} → "
                f"{self.violations_after}, {self.units_moved} units moved "
                f"({self.households_moved:,} households)"
            )
        return (
            f"超出范围的社区 {self.violations_before} → {self.violations_after}，"
            f"调整 {self.units_moved} 个单元（{self.households_moved:,} 户）"
        )

    def text(self, lang: str = "zh", *, options: Mapping[str, str] | None = None) -> list[str]:
        """The reasons in ``lang``.

        ``options`` names the remedies' options as the caller's interface does (see
        :meth:`Reason.text`).
        """
        return [r.text(lang, options=options) for r in self.reasons]

    def explanations(self, *, options: Mapping[str, str] | None = None) -> list[str]:
        """The reasons in Chinese with the English in brackets (console and JSON)."""
        return [r.explanation(options=options) for r in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        """The figures and the reasons (codes) as a JSON-serialisable dict."""
        return {
            "status": self.status,
            "violations_before": self.violations_before,
            "violations_after": self.violations_after,
            "units_moved": self.units_moved,
            "households_moved": self.households_moved,
            "proven": self.proven,
            "deterministic": self.deterministic,
            "min_households": self.min_households,
            "max_households": self.max_households,
            "reasons": [r.to_dict() for r in self.reasons],
        }
