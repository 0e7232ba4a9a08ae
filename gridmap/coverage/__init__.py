"""Service-radius coverage per facility type: straight line and walking network.

For every household record and facility type, the distance to the nearest
facility is measured two ways:

* **straight line**: exact Euclidean distance with a KD-tree
  (:class:`scipy.spatial.cKDTree`, ``distance_upper_bound``); no buffer polygons,
  so there is no polygonisation error (:mod:`~gridmap.coverage.straight`);
* **walking network**: exact network distance (:mod:`gridmap.network`: households
  and facilities snapped onto edges, multi-source Dijkstra with a distance
  limit; :mod:`~gridmap.coverage.walking`).

A household is covered when its distance is ≤ the radius (300 m is covered at
300 m). Distances beyond ``search_factor`` × the largest radius of a type are not
searched and come out as NaN ("farther than that"). Households that cannot be
snapped to the network (farther than ``max_snap_m`` from any street) count as
not covered on the network and are reported — never a silent pass.

**Without a network**, a walking-distance spec cannot be measured, but the
straight line is a lower bound of every walk, so the straight-line share is an
upper bound of the walking share (:mod:`~gridmap.coverage.bound`):
``covered_bound:{spec}`` / ``coverage_bound:{spec}`` are reported while
``covered:`` / ``coverage:`` stay missing (not assessed). A unit whose bound is
already below the rule's share fails (:func:`gridmap.rules.evaluate`); the others
stay not assessed.

``policy="any"`` counts every facility; ``policy="own"`` counts only the
facilities inside the household's own community (districts that assign service
responsibility by community).

Coverage is aggregated to grids and communities (households covered / total,
share; :mod:`~gridmap.coverage.result`), uncovered households are binned into
hexagon or square cells (gap layer, :mod:`~gridmap.coverage.gaps`), and every
facility gets a service-area polygon (:mod:`~gridmap.coverage.areas`). No count of
the gap layer comes from fewer than :data:`MIN_BUILDINGS` (3) buildings: short cells
are merged with their neighbours (:mod:`~gridmap.coverage.privacy`) unless
``household_level=True`` is asked for.

Modules: ``spec`` (the questions) ← ``straight``, ``households``, ``result``,
``privacy`` ← ``gaps``, ``bound``, ``walking``, ``areas`` ← ``measure`` (:func:`measure_coverage`).

>>> import gridmap
>>> from gridmap import datasets
>>> study = gridmap.read_study(**datasets.demo_config())
>>> cov = measure_coverage(study, [CoverageSpec("kg", "kindergarten", 300, "straight")],
...                        service_areas=False)
>>> round(cov.summary()["kg"]["share"], 2)
0.6
"""

from gridmap.coverage.bound import BOUND_SLACK_M
from gridmap.coverage.gaps import gap_cells
from gridmap.coverage.households import SPREAD_M, spread_points
from gridmap.coverage.measure import measure_coverage
from gridmap.coverage.privacy import MIN_BUILDINGS, records_behind
from gridmap.coverage.result import CoverageResult, aggregate_coverage
from gridmap.coverage.spec import MODES, POLICIES, CoverageSpec, specs_for_types, specs_from_profile
from gridmap.coverage.straight import straight_distance
from gridmap.network import service_areas

__all__ = [
    "CoverageSpec",
    "CoverageResult",
    "MODES",
    "POLICIES",
    "BOUND_SLACK_M",
    "SPREAD_M",
    "specs_from_profile",
    "specs_for_types",
    "straight_distance",
    "spread_points",
    "measure_coverage",
    "aggregate_coverage",
    "gap_cells",
    "MIN_BUILDINGS",
    "records_behind",
    "service_areas",
]
