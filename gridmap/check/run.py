"""The check as named stages with their timings: assign, metrics, coverage, rules and QA.

:func:`check` reads as the pipeline: each stage is a function of its own here, timed into
:attr:`gridmap.check.CheckResult.timings`; the topology QA and the households' grids run on
threads of their own alongside the assignment (:mod:`gridmap.check._background`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap._gcpause import gc_paused
from gridmap.assign import assign_facilities, assign_grids, assign_households
from gridmap.check._background import grid_shares_in_background, topology_in_background
from gridmap.check.result import CheckResult
from gridmap.coverage import CoverageResult, measure_coverage, specs_from_profile
from gridmap.evaluation import add_required_coordinators, evaluate_units
from gridmap.metrics import community_metrics, grid_metrics
from gridmap.qa import assignment_qa, grid_qa
from gridmap.rules import FINDING_COLUMNS, Profile, load_profile
from gridmap.study import Study

__all__ = ["check"]


@dataclass
class _Assignment:
    """The assignment stage's tables (each None when its layer is absent)."""

    grids: pd.DataFrame | None
    households: pd.DataFrame | None
    facilities: pd.DataFrame | None
    grid_area: np.ndarray | None  #: each grid's area (m²), computed once for both stages


@gc_paused()
def check(
    study: Study,
    profile: str | Profile | None = None,
    *,
    lang: str = "zh",
    coverage: dict | None = None,
) -> CheckResult:
    """Run the compliance check on a study.

    Parameters
    ----------
    study
        From :func:`gridmap.read_study`.
    profile
        Profile name or path (default: the study's, normally ``"national"``).
    lang
        Language of finding messages: ``"zh"`` (default) or ``"en"``.
    coverage
        Options of :func:`gridmap.coverage.measure_coverage` (``policy``,
        ``max_snap_m``, ``cell_size``, ``cell_shape``, ``service_areas``, …) and
        ``specs``: extra :class:`~gridmap.coverage.CoverageSpec` to measure besides
        the profile's coverage rules.

    Returns
    -------
    CheckResult
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    profile = load_profile(profile or study.profile)
    topology = topology_in_background(study.communities, study.grids)
    assigned = _assign(study, timings, t0)
    timings["assign"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    grid_table, comm_table = _metrics(study, profile, assigned)
    timings["metrics"] = time.perf_counter() - t1

    t3 = time.perf_counter()
    cov = _coverage(study, profile, assigned, grid_table, comm_table, coverage)
    timings["coverage"] = time.perf_counter() - t3

    t2 = time.perf_counter()
    rule_findings = _evaluate(profile, grid_table, comm_table, lang)
    timings["evaluate"] = time.perf_counter() - t2
    qa_topology, grid_overlap_rows, timings["topology"] = topology()
    qa = [qa_topology]
    if grid_table is not None:
        qa.append(grid_qa(study.grids, grid_table, study.communities, overlaps=grid_overlap_rows))
    qa.append(
        assignment_qa(
            assigned.households, study.grids is not None, assigned.facilities, study.facilities
        )
    )
    findings = pd.concat([rule_findings, *[q for q in qa if len(q)]], ignore_index=True)[
        FINDING_COLUMNS
    ]
    timings["rules"] = time.perf_counter() - t2
    timings["qa"] = timings["rules"] - timings["evaluate"]
    timings["check_total"] = time.perf_counter() - t0
    return _result(study, profile, assigned, grid_table, comm_table, findings, cov, timings)


def _assign(study: Study, timings: dict[str, float], t0: float) -> _Assignment:
    """Grids → communities here, households → grids on a thread meanwhile, then facilities."""
    communities, grids = study.communities, study.grids
    shares = grid_shares_in_background(study)
    grid_area = grid_assign = None
    if grids is not None and len(grids):
        grid_area = shapely.area(np.asarray(grids.geometry.values))
        grid_assign = assign_grids(grids, communities, grid_area=grid_area)
    timings["assign_grids"] = time.perf_counter() - t0
    hh = None
    if shares is not None and study.households is not None:
        found, timings["assign_households"] = shares.result()
        t_hh = time.perf_counter()
        grid_comm = grid_assign["community_geom"] if grid_assign is not None else None
        hh = assign_households(
            study.households,
            grids,
            communities,
            grid_comm,
            method=study.households_method,
            shares=found,
        )
        # its own work: the grid step on its thread, then the communities here
        timings["assign_households"] += time.perf_counter() - t_hh
    else:
        timings["assign_households"] = 0.0
    fac_assign = (
        assign_facilities(study.facilities, grids, communities)
        if study.facilities is not None
        else None
    )
    return _Assignment(grid_assign, hh, fac_assign, grid_area)


def _metrics(
    study: Study, profile: Profile, assigned: _Assignment
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The grid table (None without grids) and the community table, with required coordinators."""
    grid_table = (
        grid_metrics(study.grids, assigned.households, assigned.grids, grid_area=assigned.grid_area)
        if assigned.grids is not None
        else None
    )
    floor_types = {
        r.id: list(r.params.get("facility_types", []))
        for r in profile.rules
        if r.kind == "floor_area"
    }
    comm_table = community_metrics(
        study.communities,
        grid_table,
        assigned.households,
        study.facilities,
        assigned.facilities,
        floor_area_types=floor_types,
    )
    add_required_coordinators(grid_table, comm_table, profile)
    return grid_table, comm_table


def _coverage(
    study: Study,
    profile: Profile,
    assigned: _Assignment,
    grid_table: pd.DataFrame | None,
    comm_table: pd.DataFrame,
    coverage: dict | None,
) -> CoverageResult | None:
    """Coverage of the profile's rules (and ``coverage["specs"]``), into the unit tables.

    None when there is nothing to measure: no coverage spec, no households or no typed
    facilities.
    """
    options = dict(coverage or {})
    specs = specs_from_profile(profile) + list(options.pop("specs", []))
    hh = assigned.households
    has_households = hh is not None or (
        grid_table is not None and grid_table["households"].notna().any()
    )
    if not (
        specs
        and has_households
        and study.facilities is not None
        and "facility_type" in study.facilities.columns
    ):
        return None
    cov = measure_coverage(
        study,
        specs,
        assignment=hh,
        facility_assignment=assigned.facilities,
        grid_table=grid_table,
        **options,
    )
    for table, agg in ((comm_table, cov.communities), (grid_table, cov.grids)):
        if table is None or agg is None:
            continue
        cols = [c for c in agg.columns if c != "households"]
        joined = agg[cols].reindex(table.index.astype(str))
        for c in cols:
            table[c] = joined[c].to_numpy()
    return cov


def _evaluate(
    profile: Profile, grid_table: pd.DataFrame | None, comm_table: pd.DataFrame, lang: str
) -> pd.DataFrame:
    """The rules' findings; each unit table gets its ``status`` (communities their ``size_status``)."""
    comm_eval = evaluate_units(comm_table, profile, level="community", lang=lang)
    frames = [comm_eval.findings]
    comm_table["status"] = comm_eval.status
    comm_table["size_status"] = comm_eval.size
    if grid_table is not None:
        grid_eval = evaluate_units(grid_table, profile, level="grid", lang=lang)
        frames.append(grid_eval.findings)
        grid_table["status"] = grid_eval.status
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def _result(
    study: Study,
    profile: Profile,
    assigned: _Assignment,
    grid_table: pd.DataFrame | None,
    comm_table: pd.DataFrame,
    findings: pd.DataFrame,
    cov: CoverageResult | None,
    timings: dict[str, float],
) -> CheckResult:
    """The tables as GeoDataFrames with the study's geometry, in a :class:`CheckResult`."""
    comm_gdf = GeoDataFrame(comm_table, geometry=study.communities.geometry, crs=study.crs)
    comm_gdf.index.name = "community_id"
    grid_gdf = None
    if grid_table is not None and study.grids is not None:
        grid_gdf = GeoDataFrame(grid_table, geometry=study.grids.geometry, crs=study.crs)
        grid_gdf.index.name = "grid_id"
    fac = None
    if study.facilities is not None and assigned.facilities is not None:
        fac = study.facilities.copy()
        fac["community_id"] = assigned.facilities["community_id"]
        fac["grid_id"] = assigned.facilities["grid_id"]
    return CheckResult(
        study=study,
        profile=profile,
        communities=comm_gdf,
        grids=grid_gdf,
        findings=findings,
        households=assigned.households,
        facilities=fac,
        problems=list(study.problems) + (cov.problems if cov else []),
        timings=timings,
        coverage_result=cov,
    )
