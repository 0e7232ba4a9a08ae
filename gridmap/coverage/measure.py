"""``measure_coverage``: each household's distance to the nearest facility per type, and covered.

The stages, in order: the household rows (:mod:`~gridmap.coverage.households`),
the facilities, the walking network when a spec needs it
(:mod:`~gridmap.coverage.walking`), the distances per facility type and mode
(straight line: :mod:`~gridmap.coverage.straight`), the covered flags and the
straight-line bound of walking specs without a network
(:mod:`~gridmap.coverage.bound`), the sums per grid and community, the gap
cells and the service areas.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap._errors import Problem
from gridmap.assign import assign_facilities, assign_households
from gridmap.coverage.areas import facility_service_areas
from gridmap.coverage.bound import add_bound_columns, mark_unassessed, no_network_problem
from gridmap.coverage.gaps import gap_cells
from gridmap.coverage.households import SPREAD_M, household_rows
from gridmap.coverage.privacy import MIN_BUILDINGS
from gridmap.coverage.result import CoverageResult, aggregate_coverage
from gridmap.coverage.spec import _TOL, POLICIES, CoverageSpec
from gridmap.coverage.straight import point_xy, straight_distance
from gridmap.coverage.walking import WalkingDistances, network_problems, study_network
from gridmap.network import Network

__all__ = ["measure_coverage"]


def measure_coverage(
    study: Any,
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
    min_buildings: int = MIN_BUILDINGS,
    household_level: bool = False,
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
    level_column, node, close_gaps_m, components : keyword-only
        How the network is built from ``study.network`` (see above).
    cell_size, cell_shape : keyword-only
        Gap layer cells: centre spacing in metres; ``"hex"`` or ``"square"``.
    service_areas : bool, keyword-only
        Build one service-area polygon per facility of the specs' types.
    service_buffer_m : float, keyword-only
        Half-width of the network service-area polygons around reachable streets.
    min_buildings : int, keyword-only
        Fewest household records (buildings) a count of the gap layer may come from;
        shorter cells are merged with their neighbours (:mod:`~gridmap.coverage.privacy`).
    household_level : bool, keyword-only
        True: gap cells as they are, counts of single buildings included, and the
        result marked as household-level (its per-record table may be written out).
        Off by default: only for work inside the office, never for publication.

    Returns
    -------
    CoverageResult
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, not {policy!r}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    problems: list[Problem] = []
    if assignment is None and study.households is not None:
        assignment = assign_households(study.households, study.grids, study.communities, None)
    rows, xy, source = household_rows(study, assignment, grid_table)
    if source == "grid_attribute":
        problems.append(
            Problem(
                "info",
                "coverage.grid_points",
                "无户数图层：每个网格的户数按面积均匀分布到网格内间距约 "
                f"{SPREAD_M:g} 米的点上计算覆盖率",
                fix="提供楼栋/小区户数图层以逐栋计算覆盖率",
            )
        )
    fac = _Facilities.of(study, policy, facility_assignment, rows)

    out = rows.copy()
    need_net = any(s.mode == "network" for s in specs)
    net = network
    if need_net and net is None and study.network is not None:
        t = time.perf_counter()
        net = study_network(
            study.network,
            node=node,
            level_column=level_column,
            components=components,
            close_gaps_m=close_gaps_m,
        )
        timings["network_build"] = time.perf_counter() - t
    # walking specs without a network: measured by the straight-line bound
    bounded = [s for s in specs if s.mode == "network" and net is None]
    if bounded:
        problems.append(no_network_problem(len(bounded)))
    by_type = _radius_by_type(specs, bounded)
    walks = None
    if net is not None and need_net:
        t = time.perf_counter()
        walks = _start_walks(
            net, fac, xy, by_type, search_factor=search_factor, max_snap_m=max_snap_m
        )
        timings["snap"] = time.perf_counter() - t
        out["snap_m"] = walks.households.snap_m
        out["snapped"] = walks.households.ok
        problems += network_problems(
            net, walks.households, walks.facilities, rows, fac.ids, max_snap_m
        )

    t = time.perf_counter()
    for (ftype, mode), radius in by_type.items():
        _add_distances(out, xy, fac, ftype, mode, radius * search_factor, walks)
    timings["distances"] = time.perf_counter() - t
    unassessed = [s.id for s in bounded]
    grids_agg, comm_agg = _covered_and_sums(out, specs, bounded)
    assessed = [s for s in specs if s.id not in unassessed]
    gaps = (
        gap_cells(
            out,
            xy,
            assessed,
            crs=study.crs,
            size=cell_size,
            shape=cell_shape,
            min_buildings=min_buildings,
            household_level=household_level,
        )
        if len(out)
        else None
    )
    areas = None
    if service_areas and fac.table is not None and len(fac.table):
        t = time.perf_counter()
        areas = facility_service_areas(
            specs,
            fac.table,
            fac.types,
            fac.xy,
            net,
            None if walks is None else walks.facilities,
            crs=study.crs,
            buffer_m=service_buffer_m,
        )
        timings["service_areas"] = time.perf_counter() - t
    timings["coverage_total"] = time.perf_counter() - t0
    return CoverageResult(
        specs=list(specs),
        households=out,
        grids=grids_agg,
        communities=comm_agg,
        gaps=gaps,
        service_areas=areas,
        network=net,
        problems=problems,
        policy=policy,
        timings=timings,
        xy=xy,
        unassessed=unassessed,
        household_level=household_level,
    )


@dataclass(frozen=True)
class _Facilities:
    """The study's facilities as arrays: type, location, id, and community (``policy="own"``)."""

    table: GeoDataFrame | None
    types: np.ndarray
    xy: np.ndarray
    ids: np.ndarray
    community: np.ndarray | None = None
    household_community: np.ndarray | None = None

    @classmethod
    def of(
        cls, study: Any, policy: str, facility_assignment: pd.DataFrame | None, rows: pd.DataFrame
    ) -> _Facilities:
        fac = study.facilities
        if fac is None:
            return cls(
                None, np.array([], dtype=object), np.empty((0, 2)), np.array([], dtype=object)
            )
        types = (
            fac["facility_type"].astype("string").to_numpy()
            if "facility_type" in fac.columns
            else np.array([], dtype=object)
        )
        own = cls(fac, types, point_xy(fac.geometry), fac.index.astype(str).to_numpy())
        if policy != "own":
            return own
        if facility_assignment is None:
            facility_assignment = assign_facilities(fac, study.grids, study.communities)
        return cls(
            fac,
            own.types,
            own.xy,
            own.ids,
            facility_assignment["community_id"].astype(object).to_numpy(),
            rows["community_id"].astype(object).to_numpy(),
        )


def _start_walks(
    net: Network,
    fac: _Facilities,
    xy: np.ndarray,
    by_type: dict[tuple[str, str], float],
    *,
    search_factor: float,
    max_snap_m: float,
) -> WalkingDistances:
    """Snap facilities and households; start one Dijkstra per walking type (policy "any")."""
    limits = [
        (ftype, radius * search_factor)
        for (ftype, mode), radius in by_type.items()
        if mode == "network"
    ]
    return WalkingDistances.start(
        net, fac.xy, fac.types, xy, limits, max_snap_m=max_snap_m, per_type=fac.community is None
    )


def _covered_and_sums(
    out: pd.DataFrame, specs: list[CoverageSpec], bounded: list[CoverageSpec]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add ``covered:`` (and the bounds) per spec; sum them per grid and community.

    Bounded specs are then marked not assessed (missing), in the households and the sums.
    """
    for s in specs:
        dist = out[f"{s.mode}_m:{s.facility_type}"].to_numpy(dtype=float)
        out[f"covered:{s.id}"] = np.nan_to_num(dist, nan=np.inf) <= s.radius_m + _TOL
    add_bound_columns(out, bounded)
    grids_agg, comm_agg = aggregate_coverage(out, specs)
    mark_unassessed(out, [grids_agg, comm_agg], [s.id for s in bounded])
    return grids_agg, comm_agg


def _radius_by_type(
    specs: list[CoverageSpec], bounded: list[CoverageSpec]
) -> dict[tuple[str, str], float]:
    """The largest radius per (facility type, mode); bounded specs also need the straight line."""
    by_type: dict[tuple[str, str], float] = {}
    for s in specs:
        key = (s.facility_type, s.mode)
        by_type[key] = max(by_type.get(key, 0.0), s.radius_m)
    for s in bounded:  # the straight-line distances that bound the walks from below
        key = (s.facility_type, "straight")
        by_type[key] = max(by_type.get(key, 0.0), s.radius_m)
    return by_type


def _add_distances(
    out: pd.DataFrame,
    xy: np.ndarray,
    fac: _Facilities,
    ftype: str,
    mode: str,
    limit: float,
    walks: WalkingDistances | None,
) -> None:
    """Add ``{mode}_m:{type}`` (distance, NaN beyond ``limit``) and ``nearest_{mode}:{type}``."""
    sel = fac.types == ftype
    dcol, ncol = f"{mode}_m:{ftype}", f"nearest_{mode}:{ftype}"
    if mode == "straight":
        src = np.flatnonzero(sel)
        groups = None if fac.community is None else fac.community[src]
        d, i = straight_distance(
            xy,
            fac.xy[src],
            limit=limit,
            target_groups=fac.household_community,
            source_groups=groups,
        )
        i = np.where(i >= 0, src[np.clip(i, 0, None)], -1) if len(src) else i
    elif walks is None:
        out[dcol] = np.nan
        out[ncol] = pd.array([pd.NA] * len(out), dtype="string")
        return
    else:
        d, i = walks.distances(
            ftype,
            sel,
            limit,
            facility_groups=fac.community,
            household_groups=fac.household_community,
        )
    out[dcol] = np.where(np.isfinite(d), d, np.nan)
    names = np.full(len(out), None, dtype=object)
    names[i >= 0] = fac.ids[i[i >= 0]]
    out[ncol] = pd.array(names, dtype="string")
