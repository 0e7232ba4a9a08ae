"""Change across time and across layers: snapshot comparison, projection, grid-layer reconciliation.

- :mod:`~gridmap.change.snapshot`: a check output read back (:func:`read_snapshot`), or a
  :class:`gridmap.CheckResult` taken as one (:func:`snapshot_of`);
- :mod:`~gridmap.change.compare`: what changed between two snapshots (:func:`compare`);
- :mod:`~gridmap.change.projects`: residential projects (:func:`read_projects`, the layer a
  config names: :func:`config_projects`), the occupancy :class:`Ramp` and the default years
  (:func:`forecast_years`);
- :mod:`~gridmap.change.projection`: the check re-run year by year as projects fill up
  (:func:`project`, :class:`Projection` with its predicted violations);
- :mod:`~gridmap.change.reconcile`: how several grid layers agree (多网合一) and
  :mod:`~gridmap.change.unify`: the unified grid proposed from them (:func:`reconcile`,
  :class:`Reconciliation`, :func:`unify`).

The features share the matching of units of two layers by geometry (``_match``) and the
writing of Chinese-headed tables, XLSX workbooks and GeoPackages (``_write``).
"""

from gridmap.change.compare import (
    CHANGE_KINDS,
    CHANGE_ZH,
    COMPARE_HEADERS_ZH,
    LEVEL_ZH,
    Comparison,
    compare,
)
from gridmap.change.projection import Projection, parse_years, place_projects, project
from gridmap.change.projects import (
    FORECAST_SPAN,
    PROJECT_ALIASES,
    Ramp,
    arrivals,
    config_projects,
    forecast_years,
    read_projects,
)
from gridmap.change.reconcile import RELATIONS, Reconciliation, reconcile
from gridmap.change.snapshot import Snapshot, read_snapshot, snapshot_of
from gridmap.change.unify import unify

__all__ = [
    "CHANGE_KINDS",
    "CHANGE_ZH",
    "FORECAST_SPAN",
    "LEVEL_ZH",
    "PROJECT_ALIASES",
    "Projection",
    "RELATIONS",
    "Ramp",
    "Reconciliation",
    "arrivals",
    "config_projects",
    "forecast_years",
    "parse_years",
    "place_projects",
    "project",
    "read_projects",
    "reconcile",
    "unify",
    "COMPARE_HEADERS_ZH",
    "Comparison",
    "Snapshot",
    "compare",
    "read_snapshot",
    "snapshot_of",
]
