"""The straight-line upper bound of walking coverage, for walking specs without a network.

The straight line is a lower bound of every walk (a walk is a polyline from the
household to the facility; the network is only shorter by its 1 mm node
tolerance, see :mod:`gridmap.network`). So the share of households within the
radius *in a straight line* is an **upper bound** of the walking share: it is
reported per household (``covered_bound:{spec}``: could be covered) and per
unit (``covered_bound:{spec}``, ``coverage_bound:{spec}``), while ``covered:`` /
``coverage:`` stay missing (not assessed). A unit whose bound is already below
the rule's share fails (:func:`gridmap.rules.evaluate`); the others stay not assessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap._errors import Problem
from gridmap.coverage.spec import _TOL, CoverageSpec

__all__ = ["BOUND_SLACK_M", "no_network_problem", "add_bound_columns", "mark_unassessed"]

#: metres added to the radius for the straight-line upper bound: network end points within the
#: 1 mm node tolerance are merged, so a walk may undercut the straight line by a few millimetres
BOUND_SLACK_M = 0.01


def no_network_problem(n_specs: int) -> Problem:
    """The warning that ``n_specs`` walking specs are bounded, not measured."""
    return Problem(
        "warning",
        "coverage.no_network",
        f"未提供步行路网：{n_specs} 项按步行距离的覆盖率指标无法实测，改用直线距离给出上限"
        "（直线距离不会长于步行距离，步行覆盖率不会高于直线覆盖率）：上限已低于要求的单位判为不合规，"
        "其余未评估",
        fix="用 network= 提供道路中心线/步行路网线图层，以评估步行距离覆盖率",
        param="network",
    )


def add_bound_columns(households: pd.DataFrame, bounded: list[CoverageSpec]) -> None:
    """Add ``covered_bound:{spec}`` (within the radius in a straight line) for each bounded spec."""
    for s in bounded:
        dist = households[f"straight_m:{s.facility_type}"].to_numpy(dtype=float)
        households[f"covered_bound:{s.id}"] = (
            np.nan_to_num(dist, nan=np.inf) <= s.radius_m + _TOL + BOUND_SLACK_M
        )


def mark_unassessed(
    households: pd.DataFrame, units: list[pd.DataFrame], unassessed: list[str]
) -> None:
    """Set ``covered:`` (and the units' ``coverage:``) of specs not measured to missing.

    Not measured is never a pass; the bound may still fail a unit.
    """
    for sid in unassessed:
        households[f"covered:{sid}"] = pd.array([pd.NA] * len(households), dtype="boolean")
        for agg in units:
            agg[f"covered:{sid}"] = np.nan
            agg[f"coverage:{sid}"] = np.nan
