"""Topology and attribute QA: the data problems a planner must see next to the rule findings.

Each function returns findings rows (the :data:`gridmap.rules.FINDING_COLUMNS` frame) with
``rule_id`` starting ``qa.`` and status ``fail``:

- :mod:`~gridmap.qa.topology`: community overlaps and gaps (with areas), grids overlapping
  other grids of the same layer, units drawn as several parts (:func:`community_topology`,
  :func:`grid_overlaps`, :func:`multipart`);
- :mod:`~gridmap.qa.grids`: grids outside every community or straddling two, grids whose
  所属社区 disagrees with their geometry, grid codes whose 12-digit prefix disagrees with the
  containing community (CJ/T 349-2010) (:func:`grid_qa`, :func:`community_attr_qa`);
- :mod:`~gridmap.qa.assignment`: households or facilities that could not be placed
  (:func:`assignment_qa`), and the count of each QA rule's findings (:func:`qa_counts`).

The findings about households (:data:`HOUSEHOLD_RULES`) carry their number of households in
``value`` (a grid outside every community: the grid's households; households outside every
grid: their total), so the console, summary.json and reports all read one number.
"""

from gridmap.qa.assignment import HOUSEHOLD_RULES, assignment_qa, qa_counts
from gridmap.qa.grids import STRADDLE_SHARE, community_attr_qa, community_lookup, grid_qa
from gridmap.qa.topology import (
    GAP_DECIMALS,
    MIN_AREA_M2,
    community_topology,
    grid_overlaps,
    multipart,
    number_gaps,
)

__all__ = [
    "GAP_DECIMALS",
    "HOUSEHOLD_RULES",
    "MIN_AREA_M2",
    "STRADDLE_SHARE",
    "assignment_qa",
    "community_attr_qa",
    "community_lookup",
    "community_topology",
    "grid_overlaps",
    "grid_qa",
    "multipart",
    "number_gaps",
    "qa_counts",
]
