"""The dashboard's data provider: gridmap results in the shapes the pages draw.

:class:`DashboardProvider` is the one object the pages' callbacks talk to; the pages
never touch gridmap directly. Tests use a provider on the demo district. Modules:

- ``core``: :class:`DashboardProvider` (owns the study and the caches below).
- ``results``: check results per profile and their findings per language.
- ``geometry``: each level once in WGS84 and as gzip-compressed GeoJSON.
- ``map_values``: classes, palettes and legends a map recolours with.
- ``summaries``: KPIs, worst communities, counts per rule, one unit's detail.
- ``formatting``: a finding's numbers as text.
- ``coverage_views``: coverage questions of the coverage page, answered once.
- ``plans``, ``plan_session``, ``plan_views``: the Plans page's plan per browser tab,
  its edits, save/load and rebalancing, and what the page shows of it.
- ``config``: the ``[dashboard]`` table of a ``gridmap.toml``.
- ``profiles``: the rule profiles a browser may choose, by id (never a path).
- ``inputs``: browser values checked against allow-lists and ranges
  (:class:`RejectedInput` names the message the page shows instead).
"""

from dashboards.provider.core import DashboardProvider
from dashboards.provider.formatting import format_value, percent_flags
from dashboards.provider.geometry import LEVELS
from dashboards.provider.inputs import RejectedInput
from dashboards.provider.map_values import MapValues, class_breaks
from dashboards.provider.plan_session import PlanSession
from dashboards.provider.plan_views import PlanView, SelectionView, compare_rows
from dashboards.provider.plans import (
    PlanOutcome,
    PlanRequest,
    PlanStore,
)
from dashboards.provider.summaries import filter_findings

__all__ = [
    "LEVELS",
    "DashboardProvider",
    "MapValues",
    "PlanOutcome",
    "PlanRequest",
    "PlanSession",
    "PlanStore",
    "PlanView",
    "RejectedInput",
    "SelectionView",
    "class_breaks",
    "compare_rows",
    "filter_findings",
    "format_value",
    "percent_flags",
]
