"""The minimal-change rebalancer: the fewest units moved so every community fits the band.

- :mod:`~gridmap.rebalance.solver`: :class:`Rebalancer` — its parameters, pre-checks,
  results and the split / dissolve phase;
- :mod:`~gridmap.rebalance.search`: its staged, deterministic search (local subproblems,
  escalation, a polish, the whole map);
- :mod:`~gridmap.rebalance.model`: the CP-SAT model of one subproblem, and
  :mod:`~gridmap.rebalance.graph` its graph helpers (steps between units, flow trees);
- :mod:`~gridmap.rebalance.reasons`: why a community is left out of band — :class:`Reason`
  codes and the Chinese / English text built from them;
- :mod:`~gridmap.rebalance.result`: :class:`RebalanceResult`, the outcome a plan's
  :meth:`~gridmap.plans.Plan.rebalance` returns (status code, reasons, the edit);
- :mod:`~gridmap.rebalance.scratch`: plans drawn from nothing, and the communities out of band.

It sits above :mod:`gridmap.edits` and :mod:`gridmap.adjacency` and below
:mod:`gridmap.plans` (which journals what it proposes).
"""

from gridmap.rebalance.reasons import API_OPTIONS, REASON_CODES, Reason
from gridmap.rebalance.result import STATUSES, RebalanceResult
from gridmap.rebalance.scratch import band_violations, from_scratch_labels
from gridmap.rebalance.solver import Rebalancer

__all__ = [
    "Rebalancer",
    "RebalanceResult",
    "Reason",
    "REASON_CODES",
    "STATUSES",
    "API_OPTIONS",
    "from_scratch_labels",
    "band_violations",
]
