"""The compliance check: assign, measure, evaluate, and write the contract outputs.

>>> import gridmap
>>> from gridmap import datasets
>>> study = gridmap.read_study(**datasets.demo_config())
>>> result = gridmap.check(study, profile="national")
>>> failing = result.findings.query("status == 'fail' and rule_id == 'community.size'")
>>> len(failing)
10
>>> failing.message.iloc[0]
'超出上限 399 户'
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap._atomic import atomic_path, staged_dir
from gridmap._errors import Problem
from gridmap.assign import (
    GridShares,
    assign_facilities,
    assign_grids,
    assign_households,
    grid_shares,
)
from gridmap.coverage import CoverageResult, measure_coverage, specs_from_profile
from gridmap.crs import crs_label
from gridmap.evaluation import add_required_coordinators, evaluate_units, size_counts
from gridmap.facilities import type_label
from gridmap.io.csv_out import write_csv
from gridmap.io.gpkg import field_name, write_gpkg
from gridmap.io.styles import gap_style, status_style
from gridmap.metrics import community_metrics, grid_metrics
from gridmap.qa import assignment_qa, community_topology, grid_overlaps, grid_qa
from gridmap.rules import FINDING_COLUMNS, Profile, load_profile
from gridmap.study import Study

__all__ = ["check", "CheckResult"]

COMMUNITY_COLUMNS = [
    "community_id",
    "name",
    "households",
    "grids",
    "coordinators",
    "coordinators_required",
    "status",
]
GRID_COLUMNS = [
    "grid_id",
    "community_id",
    "households",
    "coordinators",
    "coordinators_required",
    "status",
]


@dataclass
class CheckResult:
    """What a check found.

    Attributes
    ----------
    communities, grids
        One row per unit with metrics and overall ``status`` (``fail`` when a rule of
        severity error fails, ``warning`` when only warnings fail, ``pass``, or
        ``not_assessed`` when no rule could be assessed), indexed by id, with geometry.
    findings
        One row per unit × rule plus QA findings (``rule_id`` starting ``qa.``).
    households
        The record-level household assignment (None without a households layer).
    coverage_result
        The :class:`gridmap.coverage.CoverageResult` of the check (None when the
        profile has no coverage rule or the data do not allow it): per-household
        distances, gap cells, service areas, the network and its report. The
        reports draw their coverage tables and gap maps from it.
    coverage
        Its per-household table (read-only, ``coverage_result.households``):
        distances to the nearest facility of each type (straight line and network)
        and ``covered:{rule}`` flags; written as ``coverage.csv`` with ``household_level=True``.
    """

    study: Study
    profile: Profile
    communities: GeoDataFrame
    grids: GeoDataFrame | None
    findings: pd.DataFrame
    households: pd.DataFrame | None
    facilities: GeoDataFrame | None
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    coverage_result: CoverageResult | None = None

    @property
    def coverage(self) -> pd.DataFrame | None:
        """Per household record: nearest-facility distances and ``covered:{rule}`` flags."""
        return None if self.coverage_result is None else self.coverage_result.households

    def explore(self, **kwargs: Any) -> Any:
        """An interactive map of the check (folium), offline: see :func:`gridmap.maps.explore_check`.

        Communities by status, grids, facilities and coverage gaps, with tooltips naming each
        failing rule, its value and citation, a layer control and a legend. In a notebook the
        map shows inline; ``result.explore().save("地图.html")`` writes a page that needs no
        internet.

        Parameters
        ----------
        **kwargs
            Passed to :func:`gridmap.maps.explore_check` (``grids=``, ``gaps=``, ``height=``, …).

        Returns
        -------
        folium.Map
        """
        # the maps live in the outputs layer above this module: looked up by name at call time
        # (like pandas' plotting backends), so gridmap.check never imports gridmap.maps
        import importlib

        return importlib.import_module("gridmap.maps.explore").explore_check(self, **kwargs)

    def with_coverage(self, coverage: CoverageResult | None) -> CheckResult:
        """Return this result reporting ``coverage`` (e.g. of :func:`gridmap.coverage.measure_coverage`).

        Parameters
        ----------
        coverage
            Coverage results to report instead of the check's own; None keeps them.

        Returns
        -------
        CheckResult
            ``self`` when ``coverage`` is None or already the result's, else a shallow copy.
        """
        if coverage is None or coverage is self.coverage_result:
            return self
        return replace(self, coverage_result=coverage)

    def summary(self) -> dict:
        """The machine-readable summary (``gridmap check --json``)."""
        f = self.findings
        rules = f[~f["rule_id"].str.startswith("qa.")]
        per_rule = {
            rid: {s: int(n) for s, n in g["status"].value_counts().items()}
            for rid, g in rules.groupby("rule_id", sort=False)
        }
        qa = {
            rid: int(len(g))
            for rid, g in f[f["rule_id"].str.startswith("qa.")].groupby("rule_id", sort=False)
        }
        total = _households_total(self)
        assigned = float(self.communities["households"].fillna(0).sum())
        comm_status = self.communities["status"].value_counts().to_dict()
        out = {
            "study": self.study.name,
            "profile": self.profile.id,
            "crs": crs_label(self.study.crs),
            "communities": int(len(self.communities)),
            "communities_status": {k: int(v) for k, v in comm_status.items()},
            "communities_size": _size_summary(self),
            "grids": int(len(self.grids)) if self.grids is not None else 0,
            "grids_status": (
                {k: int(v) for k, v in self.grids["status"].value_counts().items()}
                if self.grids is not None
                else {}
            ),
            "households_total": int(total),
            "households_assigned": int(assigned),
            "households_unassigned": int(round(total - assigned)),
            "rules": per_rule,
            "qa": qa,
            "problems": {
                s: sum(p.severity == s for p in self.problems) for s in ("error", "warning", "info")
            },
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if self.coverage_result is not None:
            out["coverage"] = self.coverage_result.summary()
        return out

    # ------------------------------------------------------------------ outputs
    def communities_table(self) -> pd.DataFrame:
        """``communities.csv``: one row per community, id first, without geometry."""
        return _table(self.communities, "community_id", COMMUNITY_COLUMNS)

    def grids_table(self) -> pd.DataFrame | None:
        """``grids.csv``: one row per grid, id first, without geometry (None without grids)."""
        return None if self.grids is None else _table(self.grids, "grid_id", GRID_COLUMNS)

    def to_gpkg(self, path: str | os.PathLike) -> Path:
        """Write communities, grids, facilities and findings to a GeoPackage (atomically).

        GeoPackage 1.2 with the units' default style (by ``status``, the report's palette and
        Chinese legend) in ``layer_styles`` (:func:`gridmap.io.gpkg.write_gpkg`); field names
        valid in every GIS (:func:`gridmap.io.gpkg.field_name`: ``covered:rule.id`` →
        ``covered__rule_id``).
        """
        path = Path(path)
        layers = {"communities": _gpkg_layer(self.communities, "community_id")}
        styles = {"communities": status_style("status", label_field="name")}
        if self.grids is not None:
            layers["grids"] = _gpkg_layer(self.grids, "grid_id")
            styles["grids"] = status_style("status", label_field="name")
        if self.facilities is not None:
            layers["facilities"] = _gpkg_layer(self.facilities, "facility_id")
        findings = self.findings.copy()
        findings["value"] = pd.to_numeric(findings["value"], errors="coerce")
        layers["findings"] = GeoDataFrame(findings)
        cov = self.coverage_result
        if cov is not None:
            if cov.household_level:  # one row per building: only when asked for (privacy)
                layers["coverage_households"] = _gpkg_safe(cov.points(self.study.crs))
            if cov.gaps is not None and len(cov.gaps):
                layers["coverage_gaps"] = _gpkg_safe(cov.gaps)
                styles["coverage_gaps"] = gap_style()
            if cov.service_areas is not None and len(cov.service_areas):
                layers["service_areas"] = _gpkg_safe(cov.service_areas)
            if cov.network is not None and len(cov.network.gaps):  # dead ends short of a street
                g = cov.network.gaps
                layers["network_gaps"] = GeoDataFrame(
                    {"gap_m": g["gap_m"].round(3)},
                    geometry=shapely.points(g[["x", "y"]].to_numpy()),
                    crs=self.study.crs,
                )
        for frame in layers.values():
            geometry = frame.geometry.name if "geometry" in frame.columns else None
            frame.columns = [c if c == geometry else field_name(c) for c in frame.columns]
        # through Arrow: 2-4x faster than feature by feature, the same fields and values
        options = {name: {"use_arrow": True} for name in layers}
        with atomic_path(path, suffix=".gpkg") as tmp:
            write_gpkg(tmp, layers, styles=styles, options=options)
        return path

    def to_dir(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write the contract outputs into ``out``; all files appear together or not at all.

        ``communities.csv``, ``grids.csv``, ``findings.csv``, ``problems.csv``,
        ``summary.json``, ``result.gpkg``; ``coverage.csv`` (one row per household record) and
        the ``coverage_households`` layer only when coverage was measured with
        ``household_level=True`` (``--household-level``): no default output shows one
        building's households. CSVs are UTF-8 with BOM so Excel opens the
        Chinese text correctly.
        """
        with staged_dir(out) as (stage, written):
            files = {
                "communities.csv": self.communities_table(),
                "findings.csv": self.findings[FINDING_COLUMNS],
            }
            if self.grids is not None:
                files["grids.csv"] = self.grids_table()
            cov = self.coverage_result
            if cov is not None and cov.household_level:  # per building: only when asked for
                files["coverage.csv"] = _coverage_csv(cov.households)
            files["problems.csv"] = pd.DataFrame(
                [p.to_dict() for p in self.problems],
                columns=[
                    "severity",
                    "code",
                    "message",
                    "fix",
                    "file",
                    "layer",
                    "column",
                    "row",
                    "extra",
                ],
            ).drop(columns="extra")
            for name, frame in files.items():
                write_csv(frame, stage / name)  # = to_csv(index=False, encoding="utf-8-sig")
            (stage / "summary.json").write_text(
                json.dumps(self.summary(), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            self.to_gpkg(stage / "result.gpkg")
        return written


def _size_summary(result: CheckResult) -> dict:
    """The band of the profile and communities per size status (None when the profile has no band)."""
    band = result.profile.size_band()
    if band is None:
        return {"band": None}
    return {
        "band": [band.min, band.max],
        "exempt_min_if": band.exempt_min_if,
        **size_counts(result),
    }


def _households_total(result: CheckResult) -> float:
    """All households read.

    The records, else the grids' counts (grids outside every community included), else the
    communities' counts.
    """
    if result.households is not None:
        return float(result.households["households"].sum())
    grids = result.grids
    if grids is not None and "households" in grids.columns and grids["households"].notna().any():
        return max(
            float(grids["households"].fillna(0).sum()),
            float(result.communities["households"].fillna(0).sum()),
        )
    return float(result.communities["households"].fillna(0).sum())


def _facility_labels(df: pd.DataFrame) -> pd.DataFrame:
    """The ``facility_types`` tuples of keys as Chinese names joined by 、 (for CSV and GeoPackage)."""
    if "facility_types" in df.columns:
        df["facility_types"] = df["facility_types"].map(
            lambda v: "、".join(type_label(t) for t in v) if isinstance(v, tuple) else v
        )
    return df


def _table(units: GeoDataFrame, id_name: str, first: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(units.drop(columns=units.geometry.name))
    df.insert(0, id_name, units.index.astype(str))
    df = _facility_labels(df.reset_index(drop=True))
    for col in df.columns:
        if pd.api.types.is_float_dtype(df[col]):
            values = df[col].dropna()
            if len(values) and (values % 1 == 0).all():
                df[col] = df[col].astype("Int64")
            else:
                df[col] = df[col].round(4)
    rest = [c for c in df.columns if c not in first]
    return df[[c for c in first if c in df.columns] + rest]


def _gpkg_layer(units: GeoDataFrame, id_name: str) -> GeoDataFrame:
    df = _facility_labels(units.copy()).rename_axis(id_name).reset_index()
    df[id_name] = df[id_name].astype(str)
    return _gpkg_safe(df)


def _gpkg_safe(gdf: GeoDataFrame) -> GeoDataFrame:
    """Column types and names GDAL's GeoPackage writer takes.

    Text with None for missing (Arrow-backed text as it is: missing values are Arrow nulls,
    written as NULL the same way), nullable booleans as numbers, ``:`` in names as ``__``.
    """
    df = gdf.copy()
    for col in df.columns:
        if col == df.geometry.name:
            continue
        dtype = df[col].dtype
        if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
            continue  # handed to GDAL's Arrow writer without a round trip through objects
        if str(dtype) in ("string", "object", "category"):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
        elif str(dtype) == "boolean":
            df[col] = df[col].astype("float64")
    df.columns = [str(c).replace(":", "__") for c in df.columns]
    return df


def _coverage_csv(table: pd.DataFrame) -> pd.DataFrame:
    df = table.copy()
    for col in df.columns:
        if col.startswith(("straight_m:", "network_m:", "snap_m")):
            df[col] = df[col].round(2)
    return df


def _topology_in_background(
    communities: GeoDataFrame, grids: GeoDataFrame | None
) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame | None, float]]:
    """Topology QA on two threads of its own; call the result to wait for it (and its time).

    :func:`gridmap.qa.community_topology` and :func:`gridmap.qa.grid_overlaps` are GEOS work
    that releases the GIL and needs only the polygons: they run while the assignment does, and
    the thread done first shares the grid pairs' DE-9IM tests, so both cores work on them once
    the assignment waits. On unprepared copies of the geometries: the assignment prepares the
    polygons, and GEOS builds a prepared geometry's indexes lazily, not thread-safe.
    """

    def own(units: GeoDataFrame) -> GeoDataFrame:
        geometry = units.geometry
        copies = shapely.from_wkb(shapely.to_wkb(np.asarray(geometry.values)))
        return GeoDataFrame(
            units.drop(columns=geometry.name),
            geometry=GeoSeries(copies, index=units.index, crs=units.crs),
        )

    own_communities = own(communities)
    own_grids = own(grids) if grids is not None and len(grids) else None
    t = time.perf_counter()
    pool = ThreadPoolExecutor(2, thread_name_prefix="gridmap-topology")
    topology = pool.submit(community_topology, own_communities)
    overlaps = (
        pool.submit(grid_overlaps, own_grids, executor=pool) if own_grids is not None else None
    )
    ended: list[float] = []  # when each task ended, not when the caller asked
    for task in [topology] + ([overlaps] if overlaps is not None else []):
        task.add_done_callback(lambda _: ended.append(time.perf_counter()))

    def result() -> tuple[pd.DataFrame, pd.DataFrame | None, float]:
        try:
            found = topology.result(), None if overlaps is None else overlaps.result()
        finally:
            pool.shutdown(wait=False)  # its threads end with their tasks
        return *found, max(ended) - t

    return result


def _grid_shares_in_background(study: Study) -> Future[tuple[GridShares, float]] | None:
    """The households' grids (:func:`gridmap.assign.grid_shares`) on a thread of its own.

    The point-in-polygon step needs only the households and the grids, so it runs while
    :func:`gridmap.assign.assign_grids` intersects grids with communities (GEOS releases the
    GIL: both cores work). Only this thread prepares the grids; the grid step of the main
    thread reads them without preparing them. None without a households layer.
    """
    households, grids = study.households, study.grids
    if households is None:
        return None
    method = study.households_method

    def timed() -> tuple[GridShares, float]:
        t = time.perf_counter()
        return grid_shares(households, grids, method=method), time.perf_counter() - t

    pool = ThreadPoolExecutor(1, thread_name_prefix="gridmap-households")
    future = pool.submit(timed)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future


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
    communities, grids = study.communities, study.grids
    topology = _topology_in_background(communities, grids)
    shares = _grid_shares_in_background(study)

    # ------------------------------------------------------------ assignment
    if grids is not None and len(grids):
        grid_assign = assign_grids(grids, communities)
    else:
        grid_assign = None
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
    timings["assign"] = time.perf_counter() - t0

    # ------------------------------------------------------------ metrics
    t1 = time.perf_counter()
    grid_table = grid_metrics(grids, hh, grid_assign) if grid_assign is not None else None
    floor_types = {
        r.id: list(r.params.get("facility_types", []))
        for r in profile.rules
        if r.kind == "floor_area"
    }
    comm_table = community_metrics(
        communities, grid_table, hh, study.facilities, fac_assign, floor_area_types=floor_types
    )
    add_required_coordinators(grid_table, comm_table, profile)
    timings["metrics"] = time.perf_counter() - t1

    # ------------------------------------------------------------ coverage
    t3 = time.perf_counter()
    options = dict(coverage or {})
    specs = specs_from_profile(profile) + list(options.pop("specs", []))
    cov = None
    has_households = hh is not None or (
        grid_table is not None and grid_table["households"].notna().any()
    )
    if (
        specs
        and has_households
        and study.facilities is not None
        and "facility_type" in study.facilities.columns
    ):
        cov = measure_coverage(
            study,
            specs,
            assignment=hh,
            facility_assignment=fac_assign,
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
    timings["coverage"] = time.perf_counter() - t3

    # ------------------------------------------------------------ rules + QA
    t2 = time.perf_counter()
    comm_eval = evaluate_units(comm_table, profile, level="community", lang=lang)
    frames = [comm_eval.findings]
    comm_table["status"] = comm_eval.status
    comm_table["size_status"] = comm_eval.size
    if grid_table is not None:
        grid_eval = evaluate_units(grid_table, profile, level="grid", lang=lang)
        frames.append(grid_eval.findings)
        grid_table["status"] = grid_eval.status
    rule_findings = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    timings["evaluate"] = time.perf_counter() - t2
    qa_topology, grid_overlap_rows, timings["topology"] = topology()
    qa = [qa_topology]
    if grid_table is not None:
        qa.append(grid_qa(grids, grid_table, communities, overlaps=grid_overlap_rows))
    qa.append(assignment_qa(hh, grids is not None, fac_assign, study.facilities))
    findings = pd.concat([rule_findings, *[q for q in qa if len(q)]], ignore_index=True)[
        FINDING_COLUMNS
    ]
    timings["rules"] = time.perf_counter() - t2
    timings["qa"] = timings["rules"] - timings["evaluate"]
    timings["check_total"] = time.perf_counter() - t0

    comm_gdf = GeoDataFrame(comm_table, geometry=communities.geometry, crs=study.crs)
    comm_gdf.index.name = "community_id"
    grid_gdf = None
    if grid_table is not None and grids is not None:
        grid_gdf = GeoDataFrame(grid_table, geometry=grids.geometry, crs=study.crs)
        grid_gdf.index.name = "grid_id"
    fac = None
    if study.facilities is not None and fac_assign is not None:
        fac = study.facilities.copy()
        fac["community_id"] = fac_assign["community_id"]
        fac["grid_id"] = fac_assign["grid_id"]
    return CheckResult(
        study=study,
        profile=profile,
        communities=comm_gdf,
        grids=grid_gdf,
        findings=findings,
        households=hh,
        facilities=fac,
        problems=list(study.problems) + (cov.problems if cov else []),
        timings=timings,
        coverage_result=cov,
    )
