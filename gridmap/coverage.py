"""Service-radius coverage per facility type: straight line and walking network.

For every household record and facility type, the distance to the nearest
facility is measured two ways:

* **straight line**: exact Euclidean distance with a KD-tree
  (:class:`scipy.spatial.cKDTree`, ``distance_upper_bound``); no buffer polygons,
  so there is no polygonisation error;
* **walking network**: exact network distance (:mod:`gridmap.network`: households
  and facilities snapped onto edges, multi-source Dijkstra with a distance limit).

A household is covered when its distance is ≤ the radius (300 m is covered at
300 m). Distances beyond ``search_factor`` × the largest radius of a type are not
searched and come out as NaN ("farther than that"). Households that cannot be
snapped to the network (farther than ``max_snap_m`` from any street) count as
not covered on the network and are reported — never a silent pass.

**Without a network**, a walking-distance spec cannot be measured, but the
straight line is a lower bound of every walk (a walk is a polyline from the
household to the facility; the network is only shorter by its 1 mm node
tolerance, see :mod:`gridmap.network`). So the share of households within the
radius *in a straight line* is an **upper bound** of the walking share: it is
reported per household (``covered_bound:{spec}``: could be covered) and per unit
(``covered_bound:{spec}``, ``coverage_bound:{spec}``), while ``covered:`` /
``coverage:`` stay missing (not assessed). A unit whose bound is already below
the rule's share fails (:func:`gridmap.rules.evaluate`); the others stay not assessed.

``policy="any"`` counts every facility; ``policy="own"`` counts only the
facilities inside the household's own community (districts that assign service
responsibility by community).

Coverage is aggregated to grids and communities (households covered / total,
share), uncovered households are binned into hexagon or square cells (gap
layer), and every facility gets a service-area polygon.

>>> import gridmap
>>> from gridmap import datasets
>>> study = gridmap.read_study(**datasets.demo_config())
>>> cov = measure_coverage(study, [CoverageSpec("kg", "kindergarten", 300, "straight")], service_areas=False)
>>> round(cov.summary()["kg"]["share"], 2)
0.6
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries
from scipy.spatial import cKDTree

from gridmap._errors import Problem
from gridmap.assign import apportion
from gridmap.network import (
    GAP_REPORT_M,
    WALK_KMH,
    Network,
    Snap,
    augmented_graph,
    build_network,
    dijkstra_from,
    dijkstra_groups,
    metres_for_minutes,
    service_areas,
    snap_points,
    target_distances,
)
from gridmap.osm import LEVEL

__all__ = [
    "CoverageSpec",
    "CoverageResult",
    "MODES",
    "POLICIES",
    "specs_from_profile",
    "straight_distance",
    "measure_coverage",
    "aggregate_coverage",
    "gap_cells",
    "service_areas",
]

MODES = ("straight", "network")
POLICIES = ("any", "own")
_TOL = 1e-6  # metres: a household at exactly the radius is covered
#: metres added to the radius for the straight-line upper bound: network end points within the
#: 1 mm node tolerance are merged, so a walk may undercut the straight line by a few millimetres
BOUND_SLACK_M = 0.01


@dataclass(frozen=True)
class CoverageSpec:
    """One coverage question: households within ``radius_m`` of a ``facility_type``.

    ``id`` names the columns (``covered:{id}``, ``coverage:{id}``); for a profile
    rule it is the rule id.

    Examples
    --------
    >>> CoverageSpec("kg", "kindergarten", 300).mode
    'straight'
    """

    id: str
    facility_type: str
    radius_m: float
    mode: str = "straight"
    min_share: float = 1.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"coverage mode must be one of {MODES}, not {self.mode!r}")
        if not self.radius_m > 0:
            raise ValueError(f"coverage radius must be positive, got {self.radius_m!r} ({self.id})")


def specs_from_profile(profile) -> list[CoverageSpec]:
    """The coverage questions of a profile's ``coverage`` rules.

    Examples
    --------
    >>> [s.id for s in specs_from_profile("national")]
    ['community.coverage.service_station']
    """
    from gridmap.rules import coverage_radius, load_profile

    profile = load_profile(profile)
    return [CoverageSpec(r.id, r.params["facility_type"], coverage_radius(r), r.params.get("mode", "straight"),
                         float(r.params.get("min_share", 1.0))) for r in profile.rules if r.kind == "coverage"]


def _xy(geoms) -> np.ndarray:
    g = np.asarray(geoms.values if isinstance(geoms, GeoSeries) else geoms)
    typ = shapely.get_type_id(g)
    if (typ != 0).any():
        g = np.where(typ == 0, g, shapely.centroid(g))
    return shapely.get_coordinates(g) if len(g) else np.empty((0, 2))


def straight_distance(targets_xy: np.ndarray, sources_xy: np.ndarray, *, limit: float = np.inf,
                      target_groups: np.ndarray | None = None, source_groups: np.ndarray | None = None):
    """Exact straight-line distance to the nearest source (KD-tree).

    Parameters
    ----------
    targets_xy, sources_xy : ndarray, shape (n, 2)
    limit : float, keyword-only
        Sources farther than this are not searched (distance ``inf``).
    target_groups, source_groups : ndarray, optional, keyword-only
        Group labels (e.g. community ids): a target only sees sources of its own group.

    Returns
    -------
    dist : ndarray (``inf`` when no source within ``limit``)
    nearest : ndarray of int (position in ``sources_xy``, -1 when none)

    Examples
    --------
    >>> d, i = straight_distance(np.array([[300.0, 0], [0, 301]]), np.array([[0.0, 0]]), limit=300)
    >>> d.tolist(), i.tolist()
    ([300.0, inf], [0, -1])
    """
    n = len(targets_xy)
    dist = np.full(n, np.inf)
    nearest = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(sources_xy) == 0:
        return dist, nearest
    bound = limit * (1 + 1e-12) + _TOL if np.isfinite(limit) else np.inf
    t_ok = np.isfinite(targets_xy).all(axis=1)  # no location (e.g. a grid without geometry): no distance
    s_ok = np.isfinite(sources_xy).all(axis=1)
    if target_groups is None:
        tv, sv = np.flatnonzero(t_ok), np.flatnonzero(s_ok)
        if len(tv) == 0 or len(sv) == 0:
            return dist, nearest
        d, i = cKDTree(sources_xy[sv]).query(targets_xy[tv], k=1, distance_upper_bound=bound)
        ok = np.isfinite(d) & (d <= bound)
        dist[tv[ok]], nearest[tv[ok]] = d[ok], sv[i[ok]]
        return dist, nearest
    tg = pd.Series(np.asarray(target_groups, dtype=object))
    sg = pd.Series(np.asarray(source_groups, dtype=object))
    t_pos, s_pos = np.flatnonzero(t_ok), np.flatnonzero(s_ok)
    src_by = sg[s_ok].groupby(sg[s_ok], sort=False).indices
    for key, rows in tg[t_ok].groupby(tg[t_ok], sort=False).indices.items():
        src = src_by.get(key)
        if src is None or pd.isna(key):
            continue
        rows, src = t_pos[rows], s_pos[src]
        d, i = cKDTree(sources_xy[src]).query(targets_xy[rows], k=1, distance_upper_bound=bound)
        ok = np.isfinite(d) & (d <= bound)
        dist[rows[ok]] = d[ok]
        nearest[rows[ok]] = src[i[ok]]
    return dist, nearest


@dataclass
class CoverageResult:
    """Coverage of households by facility types.

    Attributes
    ----------
    specs : list of CoverageSpec
    households : pandas.DataFrame
        One row per household record (× grid share): ``record``, ``grid_id``,
        ``community_id``, ``households``, ``snap_m``, ``snapped``, then per type
        and mode ``{mode}_m:{type}`` (distance, NaN beyond the search limit) and
        ``nearest_{mode}:{type}`` (facility id), then ``covered:{spec}`` (bool).
        A walking spec without a network has ``covered:{spec}`` missing and
        ``covered_bound:{spec}`` (True where the straight line is within the radius).
    grids, communities : pandas.DataFrame
        Per unit: ``households``, ``covered:{spec}``, ``coverage:{spec}`` (share 0–1);
        for a walking spec without a network these are missing and
        ``covered_bound:{spec}`` / ``coverage_bound:{spec}`` hold the straight-line
        upper bound of the covered households and of the share.
    gaps : GeoDataFrame or None
        Cells with ``households`` and ``uncovered:{spec}`` counts.
    service_areas : GeoDataFrame or None
        One polygon per facility and mode.
    network : Network or None
    problems : list of Problem
    """

    specs: list[CoverageSpec]
    households: pd.DataFrame
    grids: pd.DataFrame | None
    communities: pd.DataFrame | None
    gaps: GeoDataFrame | None = None
    service_areas: GeoDataFrame | None = None
    network: Network | None = None
    problems: list[Problem] = field(default_factory=list)
    policy: str = "any"
    timings: dict[str, float] = field(default_factory=dict)
    xy: np.ndarray | None = None
    unassessed: list[str] = field(default_factory=list)
    """Ids of walking specs without a network (their ``*_bound`` columns give the straight-line upper bound)."""

    def points(self, crs=None) -> GeoDataFrame:
        """The household table as points (for maps and the GeoPackage)."""
        xy = self.xy if self.xy is not None else np.empty((0, 2))
        return GeoDataFrame(self.households.copy(), geometry=shapely.points(xy) if len(xy) else [], crs=crs)

    def summary(self) -> dict:
        """Per spec: type, mode, radius, required share, households covered / total and share.

        A walking spec without a network has ``covered`` and ``share`` None (not
        assessed) and ``covered_bound`` / ``share_bound``: the straight-line upper
        bounds (``bound`` = ``"straight_line_upper"``); other specs have them None.
        """
        h = self.households
        total = float(h["households"].sum())
        out = {}
        for s in self.specs:
            row = {"facility_type": s.facility_type, "mode": s.mode, "radius_m": s.radius_m, "min_share": s.min_share,
                   "policy": self.policy, "households": int(total), "covered": None, "share": None,
                   "bound": None, "covered_bound": None, "share_bound": None}
            if s.id in self.unassessed:
                col = f"covered_bound:{s.id}"
                if col in h.columns:
                    cb = float(h.loc[h[col].to_numpy(dtype=bool), "households"].sum())
                    row.update(bound="straight_line_upper", covered_bound=int(cb),
                               share_bound=(cb / total) if total else None)
            else:
                cov = float(h.loc[h[f"covered:{s.id}"].to_numpy(dtype=bool), "households"].sum())
                row.update(covered=int(cov), share=(cov / total) if total else None)
            out[s.id] = row
        return out


def _household_rows(study, assignment: pd.DataFrame | None, grid_table: pd.DataFrame | None):
    """(rows table, xy per row) from the record-level assignment, or grid points when households are a grid attribute."""
    if assignment is not None and study.households is not None:
        hh_geom = study.households.geometry
        pos = study.households.index.get_indexer(assignment["record"].to_numpy())
        xy = _xy(hh_geom)[pos]
        rows = assignment[["record", "grid_id", "community_id", "households"]].reset_index(drop=True).copy()
        return rows, xy, "layer"
    if study.grids is not None and grid_table is not None and grid_table["households"].notna().any():
        g = grid_table[grid_table["households"].notna()]
        pos, xy = spread_points(study.grids.geometry.loc[g.index].to_numpy())
        counts = np.round(g["households"].to_numpy(dtype=float)).astype(np.int64)
        share = apportion(counts, pd.DataFrame({"part": pos, "zone": np.arange(len(pos)), "area": 1.0}))
        share = share[share["count"] > 0]
        part, zone = share["part"].to_numpy(), share["zone"].to_numpy()
        k = zone - np.searchsorted(pos, pos[zone])  # the point's number within its grid
        gid = g.index.astype(str).to_numpy()
        rows = pd.DataFrame({"record": [f"{a}#{b + 1}" for a, b in zip(gid[part], k, strict=True)],
                             "grid_id": gid[part],
                             "community_id": g["community_id"].astype("string").to_numpy()[part],
                             "households": share["count"].to_numpy()})
        return rows, xy[zone], "grid_attribute"
    return None, None, "none"


#: spacing (m) of the points a grid's household count is spread over when there is no household layer
SPREAD_M = 50.0
_SPREAD_MAX = 400  # points per grid at most (larger grids get a wider spacing)


def spread_points(grids: np.ndarray, spacing: float = SPREAD_M) -> tuple[np.ndarray, np.ndarray]:
    """Points spread evenly over each polygon: the centres of a square lattice inside it.

    At most ``_SPREAD_MAX`` per polygon (a wider spacing for large ones); a polygon
    too small or thin for any lattice point gets its representative point, a
    missing or empty one a NaN point. Within a polygon the points come in an
    order whose every prefix is spread over the whole polygon (golden-ratio
    order), so a count smaller than the number of points is not piled up on
    one side when it is split over them.

    Returns
    -------
    (ndarray of int, ndarray (n, 2))
        The polygon position of each point (sorted) and its coordinates.

    Examples
    --------
    >>> from shapely import box
    >>> pos, xy = spread_points(np.array([box(0, 0, 100, 100), box(0, 0, 10, 10)]))
    >>> pos.tolist(), xy.tolist()
    ([0, 0, 0, 0, 1], [[25.0, 25.0], [75.0, 25.0], [25.0, 75.0], [75.0, 75.0], [5.0, 5.0]])
    """
    grids = np.asarray(grids)
    n = len(grids)
    valid = ~(shapely.is_missing(grids) | shapely.is_empty(grids))
    vi = np.flatnonzero(valid)
    b = shapely.bounds(grids[vi])
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    step = np.maximum(spacing, np.sqrt(np.maximum(w * h, 0.0) / _SPREAD_MAX))
    nx = np.maximum(np.ceil(w / step), 1).astype(np.int64)
    ny = np.maximum(np.ceil(h / step), 1).astype(np.int64)
    cnt = nx * ny
    at = np.repeat(np.arange(len(vi)), cnt)
    k = np.arange(len(at)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    # lattice centred on the bounding box
    x = b[at, 0] + (w[at] - (nx[at] - 1) * step[at]) / 2 + (k // ny[at]) * step[at]
    y = b[at, 1] + (h[at] - (ny[at] - 1) * step[at]) / 2 + (k % ny[at]) * step[at]
    inside = shapely.contains_xy(grids[vi[at]], x, y)
    pos, xy, k = vi[at[inside]], np.column_stack([x[inside], y[inside]]), k[inside]
    # polygons without a lattice point: their representative point; missing/empty ones: NaN
    rest = np.setdiff1d(np.arange(n), pos)
    rest_xy = np.full((len(rest), 2), np.nan)
    ok = valid[rest]
    if ok.any():
        rest_xy[ok] = shapely.get_coordinates(shapely.point_on_surface(grids[rest[ok]]))
    pos, xy, k = np.concatenate([pos, rest]), np.vstack([xy, rest_xy]), np.concatenate([k, np.zeros(len(rest), dtype=np.int64)])
    order = np.lexsort(((k * 0.6180339887498949) % 1.0, pos))
    return pos[order], xy[order]


def measure_coverage(
    study,
    specs: list[CoverageSpec],
    *,
    assignment: pd.DataFrame | None = None,
    facility_assignment: pd.DataFrame | None = None,
    grid_table: pd.DataFrame | None = None,
    network: Network | None = None,
    policy: str = "any",
    max_snap_m: float = 200.0,
    search_factor: float = 2.0,
    level_column: str | None = None,
    node: bool = True,
    close_gaps_m: float = 0.0,
    components: str = "keep",
    cell_size: float = 250.0,
    cell_shape: str = "hex",
    service_areas: bool = True,
    service_buffer_m: float = 25.0,
) -> CoverageResult:
    """Coverage of a study's households by its facilities, for each spec.

    Parameters
    ----------
    study : Study
        Households, facilities (with ``facility_type``) and, for network specs, a network.
    specs : list of CoverageSpec
    assignment : DataFrame, optional, keyword-only
        Record-level household assignment (:func:`gridmap.assign.assign_households`);
        computed when not given.
    facility_assignment : DataFrame, optional, keyword-only
        Community of each facility (for ``policy="own"``); computed when not given.
    grid_table : DataFrame, optional, keyword-only
        Grid metrics: used when households are only a grid attribute.
    network : Network, optional, keyword-only
        Prebuilt network; otherwise built from ``study.network`` with ``node``,
        ``level_column``, ``components`` and ``close_gaps_m`` (see
        :func:`gridmap.network.build_network`).
    policy : {"any", "own"}, keyword-only
    max_snap_m : float, keyword-only
        Households/facilities farther from every street are not snapped (reported).
    search_factor : float, keyword-only
        Distances are measured up to this × the largest radius of the type.
    cell_size, cell_shape : keyword-only
        Gap layer cells: centre spacing in metres; ``"hex"`` or ``"square"``.
    service_areas : bool, keyword-only
        Build one service-area polygon per facility of the specs' types.
    service_buffer_m : float, keyword-only
        Half-width of the network service-area polygons around reachable streets.

    Returns
    -------
    CoverageResult
    """
    from gridmap.assign import assign_facilities, assign_households

    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, not {policy!r}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    problems: list[Problem] = []
    if assignment is None and study.households is not None:
        assignment = assign_households(study.households, study.grids, study.communities, None)
    rows, xy, source = _household_rows(study, assignment, grid_table)
    if rows is None:
        rows, xy = pd.DataFrame(columns=["record", "grid_id", "community_id", "households"]), np.empty((0, 2))
    if source == "grid_attribute":
        problems.append(Problem("info", "coverage.grid_points",
                                f"无户数图层：每个网格的户数按面积均匀分布到网格内间距约 {SPREAD_M:g} 米的点上计算覆盖率",
                                fix="提供楼栋/小区户数图层以逐栋计算覆盖率"))
    fac = study.facilities
    fac_types = fac["facility_type"].astype("string").to_numpy() if fac is not None and "facility_type" in fac.columns else np.array([], dtype=object)
    fac_xy = _xy(fac.geometry) if fac is not None else np.empty((0, 2))
    fac_ids = fac.index.astype(str).to_numpy() if fac is not None else np.array([], dtype=object)
    fac_comm = None
    hh_comm = None
    if policy == "own" and fac is not None:
        if facility_assignment is None:
            facility_assignment = assign_facilities(fac, study.grids, study.communities)
        fac_comm = facility_assignment["community_id"].astype(object).to_numpy()
        hh_comm = rows["community_id"].astype(object).to_numpy()

    out = rows.copy()
    need_net = any(s.mode == "network" for s in specs)
    net = network
    hsnap = fsnap = None
    if need_net and net is None and study.network is not None:
        t = time.perf_counter()
        if level_column is None and LEVEL in study.network.columns:  # an OSM extract: bridges and tunnels
            level_column = LEVEL
        net = build_network(study.network, node=node, level_column=level_column, components=components,
                            close_gaps_m=close_gaps_m)
        timings["network_build"] = time.perf_counter() - t
    bounded = [s for s in specs if s.mode == "network" and net is None]  # measured by the straight-line bound
    if bounded:
        problems.append(Problem(
            "warning", "coverage.no_network",
            f"未提供步行路网：{len(bounded)} 项按步行距离的覆盖率指标无法实测，改用直线距离给出上限"
            "（直线距离不会长于步行距离，步行覆盖率不会高于直线覆盖率）：上限已低于要求的单位判为不合规，其余未评估",
            fix="用 --network 提供道路中心线/步行路网线图层，以评估步行距离覆盖率"))
    by_type: dict[tuple[str, str], float] = {}
    for s in specs:
        key = (s.facility_type, s.mode)
        by_type[key] = max(by_type.get(key, 0.0), s.radius_m)
    for s in bounded:  # the straight-line distances that bound the walks from below
        key = (s.facility_type, "straight")
        by_type[key] = max(by_type.get(key, 0.0), s.radius_m)
    runs: dict[str, object] = {}
    if net is not None and need_net:
        t = time.perf_counter()
        fsnap = snap_points(net, fac_xy, max_snap_m=max_snap_m)
        graph, full = augmented_graph(net, fsnap)
        # one Dijkstra run per facility type, started before the households are snapped: on a
        # large network they run in worker processes meanwhile
        if fac_comm is None:
            net_types = [(ftype, radius * search_factor) for (ftype, mode), radius in by_type.items() if mode == "network"]
            started = dijkstra_groups(net, graph, [(np.flatnonzero((fac_types == f) & fsnap.ok), lim) for f, lim in net_types],
                                      all_sources=full)
            runs = {f: r for (f, _), r in zip(net_types, started, strict=True)}
        hsnap = snap_points(net, xy, max_snap_m=max_snap_m)  # each record once (its rows share its point)
        timings["snap"] = time.perf_counter() - t
        out["snap_m"] = hsnap.snap_m
        out["snapped"] = hsnap.ok
        problems += _network_problems(net, hsnap, fsnap, rows, fac_ids, max_snap_m)

    t = time.perf_counter()
    for (ftype, mode), radius in by_type.items():
        limit = radius * search_factor
        sel = fac_types == ftype
        dcol, ncol = f"{mode}_m:{ftype}", f"nearest_{mode}:{ftype}"
        if mode == "straight":
            src = np.flatnonzero(sel)
            d, i = straight_distance(xy, fac_xy[src], limit=limit, target_groups=hh_comm,
                                     source_groups=None if fac_comm is None else fac_comm[src])
            i = np.where(i >= 0, src[np.clip(i, 0, None)], -1) if len(src) else i
        else:
            if net is None:
                out[dcol] = np.nan
                out[ncol] = pd.array([pd.NA] * len(out), dtype="string")
                continue
            mask = sel & fsnap.ok
            if fac_comm is None:
                node_d, node_src = runs[ftype].result()
                d, i = target_distances(net, hsnap, fsnap, node_d, node_src, limit=limit, source_mask=mask)
            else:
                d = np.full(len(rows), np.inf)
                i = np.full(len(rows), -1, dtype=np.int64)
                fc = pd.Series(fac_comm)
                hc = pd.Series(hh_comm)
                for key, hrows in hc.groupby(hc, sort=False).indices.items():
                    m = mask & (fc == key).to_numpy()
                    if not m.any():
                        continue
                    node_d, node_src = dijkstra_from(net, graph, np.flatnonzero(m), limit=limit, all_sources=full)
                    dd, ii = target_distances(net, hsnap.subset(hrows), fsnap, node_d, node_src, limit=limit,
                                              source_mask=m)
                    d[hrows], i[hrows] = dd, ii
        out[dcol] = np.where(np.isfinite(d), d, np.nan)
        names = np.full(len(out), None, dtype=object)
        names[i >= 0] = fac_ids[i[i >= 0]]
        out[ncol] = pd.array(names, dtype="string")
    timings["distances"] = time.perf_counter() - t
    unassessed = [s.id for s in bounded]
    for s in specs:
        dist = out[f"{s.mode}_m:{s.facility_type}"].to_numpy(dtype=float)
        out[f"covered:{s.id}"] = np.nan_to_num(dist, nan=np.inf) <= s.radius_m + _TOL
    for s in bounded:  # could be covered: within the radius in a straight line
        dist = out[f"straight_m:{s.facility_type}"].to_numpy(dtype=float)
        out[f"covered_bound:{s.id}"] = np.nan_to_num(dist, nan=np.inf) <= s.radius_m + _TOL + BOUND_SLACK_M
    grids_agg, comm_agg = aggregate_coverage(out, specs)
    for sid in unassessed:  # no network: not measured, never a pass (the bound may still fail a unit)
        out[f"covered:{sid}"] = pd.array([pd.NA] * len(out), dtype="boolean")
        for agg in (grids_agg, comm_agg):
            agg[f"covered:{sid}"] = np.nan
            agg[f"coverage:{sid}"] = np.nan
    assessed = [s for s in specs if s.id not in unassessed]
    gaps = gap_cells(out, xy, assessed, crs=study.crs, size=cell_size, shape=cell_shape) if len(out) else None
    areas = None
    if service_areas and fac is not None and len(fac):
        t = time.perf_counter()
        areas = _service_areas(specs, fac, fac_types, fac_xy, net, fsnap, crs=study.crs, buffer_m=service_buffer_m)
        timings["service_areas"] = time.perf_counter() - t
    timings["coverage_total"] = time.perf_counter() - t0
    return CoverageResult(specs=list(specs), households=out, grids=grids_agg, communities=comm_agg, gaps=gaps,
                          service_areas=areas, network=net, problems=problems, policy=policy, timings=timings,
                          xy=xy, unassessed=unassessed)


def _network_problems(net: Network, hsnap: Snap, fsnap: Snap, rows: pd.DataFrame, fac_ids, max_snap_m) -> list[Problem]:
    out = []
    comps = net.components
    if len(comps) > 1:
        small = comps.iloc[1:]
        verb = "已删除" if comps["dropped"].any() else "保留（其上的住户只能到达同一片段内的设施）"
        out.append(Problem("warning", "network.components",
                           f"步行路网有 {len(comps)} 个互不连通的部分：最大部分 {int(comps.iloc[0]['nodes'])} 个节点；"
                           f"其余 {len(small)} 个共 {int(small['edges'].sum())} 条边、{small['length_m'].sum():,.0f} 米，{verb}",
                           fix="检查路网是否缺少连接段；或用 components='largest' 删除孤立片段",
                           extra={"components": comps.reset_index().to_dict("records")}))
    if net.noded:
        out.append(Problem("info", "network.noded", f"路网中 {net.noded} 条线在交叉处没有共同节点，已自动打断（noding）",
                           fix="无需处理 (noded automatically)；立交桥/隧道请用 level_column 指定层级列"))
    if net.gaps_closed:
        out.append(Problem("info", "network.gaps_closed",
                           f"路网中 {net.gaps_closed} 处道路端点差一点没接上另一条道路（未接上的路口），已自动连接",
                           fix="无需处理 (connected automatically, close_gaps_m)"))
    if len(net.gaps):
        g = net.gaps
        out.append(Problem("warning", "network.gaps",
                           f"路网中 {len(g)} 处道路端点距另一条道路不足 {GAP_REPORT_M:g} 米却没有相连（疑似未接上的路口，"
                           f"最近 {g['gap_m'].min():.3g} 米），经过这些缺口的步行距离可能被高估",
                           fix="核对路网数据；或用 --close-gaps 米数（如 3）自动连接不超过该距离的缺口",
                           extra={"gaps": g.round(2).head(1000).to_dict("records")}))
    far = ~hsnap.ok
    if far.any():
        n = int(rows.loc[far, "households"].sum())
        out.append(Problem("warning", "coverage.snap_far",
                           f"{int(far.sum())} 条户数记录（{n:,} 户）距最近道路超过 {max_snap_m:g} 米，无法接入步行路网，按路网计为未覆盖",
                           fix="补全路网，或调大最大接入距离 (max_snap_m / --max-snap)",
                           extra={"records": rows.loc[far, "record"].astype(str).tolist()[:1000]}))
    ffar = ~fsnap.ok
    if ffar.any():
        out.append(Problem("warning", "coverage.facility_snap_far",
                           f"{int(ffar.sum())} 个设施距最近道路超过 {max_snap_m:g} 米，按路网不计入覆盖",
                           fix="补全路网或核对设施位置", extra={"facilities": list(np.asarray(fac_ids)[ffar][:1000])}))
    return out


def aggregate_coverage(households: pd.DataFrame, specs: list[CoverageSpec]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households covered / total and share per grid and per community.

    Where the table has ``covered_bound:{spec}`` (a walking spec measured by its
    straight-line bound), ``covered_bound:{spec}`` and ``coverage_bound:{spec}``
    are aggregated the same way.

    Examples
    --------
    >>> h = pd.DataFrame({"grid_id": ["g1", "g1", "g2"], "community_id": ["c", "c", "c"],
    ...                   "households": [100, 300, 600], "covered:kg": [True, False, True]})
    >>> g, c = aggregate_coverage(h, [CoverageSpec("kg", "kindergarten", 300)])
    >>> g["coverage:kg"].tolist(), c["coverage:kg"].tolist()
    ([0.25, 1.0], [0.7])
    """
    w = households["households"].astype("float64").to_numpy()
    cols = {"households": w}
    pairs = []  # (covered households column, share column)
    for s in specs:
        pairs.append((f"covered:{s.id}", f"coverage:{s.id}"))
        if f"covered_bound:{s.id}" in households.columns:
            pairs.append((f"covered_bound:{s.id}", f"coverage_bound:{s.id}"))
    for col, _ in pairs:
        cols[col] = w * households[col].to_numpy(dtype=bool)
    frame = pd.DataFrame(cols)
    res = []
    for key in ("grid_id", "community_id"):
        grp = frame.groupby(households[key].astype("string").to_numpy(), dropna=True).sum()
        for col, share in pairs:
            grp[share] = grp[col] / grp["households"].where(grp["households"] > 0)
        grp.index.name = key
        res.append(grp)
    return res[0], res[1]


def _cells(xy: np.ndarray, size: float, shape: str):
    """Cell key (i, j) and the polygon of each key, for hexagons (pointy top) or squares."""
    if shape == "square":
        ij = np.floor(xy / size).astype(np.int64)
        return ij, lambda k: shapely.box(k[:, 0] * size, k[:, 1] * size, (k[:, 0] + 1) * size, (k[:, 1] + 1) * size)
    if shape != "hex":
        raise ValueError(f"cell shape must be 'hex' or 'square', not {shape!r}")
    r = size / np.sqrt(3.0)  # circumradius; size = distance across flats = centre spacing
    q = (np.sqrt(3.0) / 3.0 * xy[:, 0] - xy[:, 1] / 3.0) / r
    rr = (2.0 / 3.0 * xy[:, 1]) / r
    x, z = q, rr
    y = -x - z
    rx, ry, rz = np.round(x), np.round(y), np.round(z)
    dx, dy, dz = np.abs(rx - x), np.abs(ry - y), np.abs(rz - z)
    fix_x = (dx > dy) & (dx > dz)
    fix_y = ~fix_x & (dy > dz)
    rx = np.where(fix_x, -ry - rz, rx)
    rz = np.where(~fix_x & ~fix_y, -rx - ry, rz)
    ij = np.stack([rx, rz], axis=1).astype(np.int64)

    def poly(k):
        cx = r * np.sqrt(3.0) * (k[:, 0] + k[:, 1] / 2.0)
        cy = r * 1.5 * k[:, 1]
        ang = np.deg2rad(np.arange(6) * 60.0 + 30.0)
        ring = np.stack([cx[:, None] + r * np.cos(ang)[None, :], cy[:, None] + r * np.sin(ang)[None, :]], axis=2)
        return shapely.polygons(ring)

    return ij, poly


def gap_cells(households: pd.DataFrame, xy: np.ndarray, specs: list[CoverageSpec], *, crs=None,
              size: float = 250.0, shape: str = "hex") -> GeoDataFrame:
    """Uncovered households per spec binned into hexagon or square cells.

    Parameters
    ----------
    households : DataFrame
        Rows with ``households`` and ``covered:{spec}`` columns.
    xy : ndarray, shape (n, 2)
        The location of each row.
    size : float, keyword-only
        Centre spacing in metres (across flats for hexagons, side for squares).
    shape : {"hex", "square"}, keyword-only

    Returns
    -------
    GeoDataFrame
        Cells holding households: ``cell_id``, ``households``, ``uncovered:{spec}``.

    Examples
    --------
    >>> h = pd.DataFrame({"households": [10, 20, 5], "covered:kg": [False, True, False]})
    >>> xy = np.array([[10.0, 10], [20, 20], [990, 10]])
    >>> cells = gap_cells(h, xy, [CoverageSpec("kg", "kindergarten", 300)], size=500, shape="square")
    >>> cells[["cell_id", "households", "uncovered:kg"]].values.tolist()
    [['0_0', 30, 10], ['1_0', 5, 5]]
    """
    if size <= 0:
        raise ValueError(f"cell size must be positive, got {size}")
    located = np.isfinite(xy).all(axis=1)  # rows without a location (a grid without geometry) have no cell
    households, xy = households[located], xy[located]
    ij, poly = _cells(xy, float(size), shape)
    keys, inv = np.unique(ij, axis=0, return_inverse=True)
    inv = inv.ravel()
    w = households["households"].to_numpy(dtype="float64")
    data = {"cell_id": [f"{a}_{b}" for a, b in keys], "households": np.bincount(inv, weights=w, minlength=len(keys))}
    for s in specs:
        unc = w * ~households[f"covered:{s.id}"].to_numpy(dtype=bool)
        data[f"uncovered:{s.id}"] = np.bincount(inv, weights=unc, minlength=len(keys))
    frame = pd.DataFrame(data)
    for c in frame.columns[1:]:
        if (frame[c] % 1 == 0).all():
            frame[c] = frame[c].astype(np.int64)
    return GeoDataFrame(frame, geometry=poly(keys), crs=crs)


def _service_areas(specs, fac, fac_types, fac_xy, net, fsnap, *, crs, buffer_m) -> GeoDataFrame:
    radius: dict[tuple[str, str], float] = {}
    for s in specs:
        if s.mode == "network" and net is None:
            continue
        radius[(s.facility_type, s.mode)] = max(radius.get((s.facility_type, s.mode), 0.0), s.radius_m)
    recs, geoms = [], []
    ids = fac.index.astype(str).to_numpy()
    names = fac["name"].astype("string").to_numpy() if "name" in fac.columns else ids
    for (ftype, mode), r in radius.items():
        pos = np.flatnonzero(fac_types == ftype)
        if not len(pos):
            continue
        if mode == "straight":
            g = shapely.buffer(shapely.points(fac_xy[pos]), r, quad_segs=16)
        else:
            g = service_areas(net, fsnap, pos, radius=r, buffer_m=buffer_m)
        geoms.append(g)
        recs.append(pd.DataFrame({"facility_id": ids[pos], "name": names[pos], "facility_type": ftype,
                                  "mode": mode, "radius_m": r}))
    if not recs:
        return GeoDataFrame({"facility_id": [], "name": [], "facility_type": [], "mode": [], "radius_m": []},
                            geometry=GeoSeries([], crs=crs), crs=crs)
    return GeoDataFrame(pd.concat(recs, ignore_index=True), geometry=np.concatenate(geoms), crs=crs)
