"""Walking network: noding, components, snapping onto edges, exact multi-source distances.

The network is built once from a line layer (:func:`build_network`) and is then
read-only: a :class:`Network` holds the node coordinates, the edges (end nodes,
length, geometry), the component of every node and a symmetric CSR graph.

* **Noding** (:mod:`~gridmap.network.build`). Real street layers have long lines
  that cross without a shared vertex. Lines whose intersection is anything but
  shared end points are noded with :func:`shapely.node` (only those lines, so
  clean layers cost little). Bridges and tunnels must not be joined to the
  streets they pass over: give ``level_column`` (e.g. OSM ``layer``) and lines
  of different levels are only connected where they share an end point.
* **Components.** Every connected component is reported; ``components="largest"``
  drops all but the largest.
* **Gaps.** Dead ends that stop within :data:`GAP_REPORT_M` of another street
  without touching it (undershoots in digitised centrelines) are listed in
  ``Network.gaps``; ``close_gaps_m`` connects those up to that distance.
* **Snapping** (:mod:`~gridmap.network.snap`). A point is snapped to the nearest
  point *on an edge* (not the nearest node); the edge is split virtually, so its
  distance to both end nodes is exact. Points farther than ``max_snap_m`` from
  every edge are not snapped and are reported. Large batches use a grid index
  of the edge segments, built once per network (:mod:`~gridmap.network._snapindex`,
  read by :mod:`~gridmap.network._snapgrid`; both loops compiled with Numba on
  first use, which ``import gridmap.network`` does not load), small ones the
  STRtree; both give the same answer (ties: the lowest edge id).
* **Distances** (:mod:`~gridmap.network.route`). :func:`network_distance` runs
  one multi-source Dijkstra (:func:`scipy.sparse.csgraph.dijkstra` with
  ``min_only=True`` and ``limit``) from all sources at once;
  :func:`dijkstra_groups` (:mod:`~gridmap.network.parallel`) runs one per source
  group (facility type), in forked worker processes on large networks. Sources
  enter as virtual nodes with one-way edges to both ends of their edge, so the
  result is exact, including source and target on the same edge. The snap legs
  (point → edge) are part of the distance, so a network distance is never
  shorter than the straight line (up to the 1 mm node tolerance: end points
  that close are one node).
* **Isochrones** (:mod:`~gridmap.network.isochrones`): the street pieces reachable
  within a radius of a source, and their buffered union (a service area).
* **Walking speed** (:mod:`~gridmap.network.speed`): minutes ↔ metres.

Modules depend on each other in this order: ``speed``, ``graph`` (the
:class:`Network` and its CSR graph) ← ``build``; ``_jit`` (Numba) ← ``_snapindex`` ←
``_snapgrid`` ← ``snap`` ← ``route`` ← ``parallel``, ``isochrones``.

>>> from geopandas import GeoSeries
>>> from shapely import LineString, Point
>>> lines = GeoSeries([LineString([(0, 0), (200, 0)]), LineString([(100, -50), (100, 50)])],
...                   crs=4549)
>>> net = build_network(lines)
>>> net.n_nodes, net.n_edges  # the crossing at (100, 0) was noded
(5, 4)
>>> d, src = network_distance(net, GeoSeries([Point(0, 0)], crs=4549),
...                           GeoSeries([Point(100, 50)], crs=4549))
>>> float(d[0])
150.0
"""

from gridmap.network.build import GAP_REPORT_M, build_network, find_gaps, node_lines
from gridmap.network.graph import Network
from gridmap.network.isochrones import reachable_pieces, service_areas
from gridmap.network.parallel import dijkstra_groups
from gridmap.network.route import (
    augmented_graph,
    dijkstra_from,
    network_distance,
    node_distances,
    target_distances,
)
from gridmap.network.snap import Snap, prepare_snapping, snap_points
from gridmap.network.speed import WALK_KMH, metres_for_minutes, minutes_for_metres

__all__ = [
    "Network",
    "Snap",
    "build_network",
    "node_lines",
    "find_gaps",
    "GAP_REPORT_M",
    "snap_points",
    "prepare_snapping",
    "network_distance",
    "node_distances",
    "reachable_pieces",
    "service_areas",
    "augmented_graph",
    "dijkstra_from",
    "dijkstra_groups",
    "target_distances",
    "metres_for_minutes",
    "minutes_for_metres",
    "WALK_KMH",
]
