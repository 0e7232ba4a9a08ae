"""What a check found: :class:`CheckResult`, its summary, and the writers of its contract files.

The CSV tables, ``summary.json`` and ``result.gpkg`` (:meth:`CheckResult.to_dir`,
:meth:`CheckResult.to_gpkg`); every file is written through :mod:`gridmap._atomic`, so it
appears complete or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import shapely
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path, staged_dir
from gridmap._errors import Problem
from gridmap._gcpause import gc_paused
from gridmap.check.tables import (
    COMMUNITY_COLUMNS,
    GRID_COLUMNS,
    coverage_table,
    gpkg_safe,
    gpkg_units,
    problems_table,
    units_table,
)
from gridmap.coverage import CoverageResult
from gridmap.crs import crs_label
from gridmap.evaluation import size_counts
from gridmap.io.csv_out import write_csv
from gridmap.io.gpkg import field_name, sync_file, write_gpkg
from gridmap.io.styles import LayerStyle, gap_style, status_style
from gridmap.rules import FINDING_COLUMNS, Profile
from gridmap.study import Study

__all__ = ["GPKG_LAYERS", "CheckResult"]


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
        return units_table(self.communities, "community_id", COMMUNITY_COLUMNS)

    def grids_table(self) -> pd.DataFrame | None:
        """``grids.csv``: one row per grid, id first, without geometry (None without grids)."""
        return None if self.grids is None else units_table(self.grids, "grid_id", GRID_COLUMNS)

    def to_gpkg(
        self,
        path: str | os.PathLike,
        *,
        layers: Iterable[str] | None = None,
        append: bool = False,
        geometry_types: Mapping[str, str] | None = None,
        sync: bool = True,
    ) -> Path:
        """Write communities, grids, facilities and findings to a GeoPackage (atomically).

        GeoPackage 1.2 with the units' default style (by ``status``, the report's palette and
        Chinese legend) in ``layer_styles`` (:func:`gridmap.io.gpkg.write_gpkg`); field names
        valid in every GIS (:func:`gridmap.io.gpkg.field_name`: ``covered:rule.id`` →
        ``covered__rule_id``).

        Parameters
        ----------
        path
            The ``.gpkg`` file.
        layers
            Only these layers (of :data:`GPKG_LAYERS`); default all.
        append
            Add the rows to the layers already in ``path`` instead of replacing the file: a
            result too large for memory written chunk by chunk (each chunk a ``CheckResult``
            of some rows), into a file the caller makes atomic. The first chunk fixes each
            layer's fields, and its geometry type unless ``geometry_types`` gives it.
        geometry_types
            ``layer name -> geometry type`` of the whole layer (``"MultiPolygon"`` when any
            of its rows is one), for chunks that may not show it.
        sync
            Flush the file to disk before returning (default). False: the caller flushes it
            (:func:`gridmap.io.gpkg.sync_file`), e.g. once after the last of many appended
            chunks, or while it writes other files. An existing file is always replaced by a
            flushed one.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        return write_result_gpkg(
            self, path, layers=layers, append=append, geometry_types=geometry_types, sync=sync
        )

    def to_dir(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write the contract outputs into ``out``; all files appear together or not at all.

        ``communities.csv``, ``grids.csv``, ``findings.csv``, ``problems.csv``,
        ``summary.json``, ``result.gpkg``; ``coverage.csv`` (one row per household record) and
        the ``coverage_households`` layer only when coverage was measured with
        ``household_level=True`` (``--household-level``): no default output shows one
        building's households. CSVs are UTF-8 with BOM so Excel opens the
        Chinese text correctly.
        """
        return write_result_dir(self, out)


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


#: the layers of ``result.gpkg``, in the order they are written (each only when the check has it)
GPKG_LAYERS = (
    "communities",
    "grids",
    "facilities",
    "findings",
    "coverage_households",
    "coverage_gaps",
    "service_areas",
    "network_gaps",
)


def gpkg_layers(result: CheckResult) -> tuple[dict[str, GeoDataFrame], dict[str, LayerStyle]]:
    """The layers of ``result.gpkg`` in their order, and the default style of the styled ones.

    Parameters
    ----------
    result
        A check.

    Returns
    -------
    layers, styles
        ``layer name -> frame`` (field names valid in every GIS) and ``layer name -> style``.
    """
    layers = {"communities": gpkg_units(result.communities, "community_id")}
    styles = {"communities": status_style("status", label_field="name")}
    if result.grids is not None:
        layers["grids"] = gpkg_units(result.grids, "grid_id")
        styles["grids"] = status_style("status", label_field="name")
    if result.facilities is not None:
        layers["facilities"] = gpkg_units(result.facilities, "facility_id")
    findings = result.findings.copy()
    findings["value"] = pd.to_numeric(findings["value"], errors="coerce")
    layers["findings"] = GeoDataFrame(findings)
    cov = result.coverage_result
    if cov is not None:
        if cov.household_level:  # one row per building: only when asked for (privacy)
            layers["coverage_households"] = gpkg_safe(cov.points(result.study.crs))
        if cov.gaps is not None and len(cov.gaps):
            layers["coverage_gaps"] = gpkg_safe(cov.gaps)
            styles["coverage_gaps"] = gap_style()
        if cov.service_areas is not None and len(cov.service_areas):
            layers["service_areas"] = gpkg_safe(cov.service_areas)
        if cov.network is not None and len(cov.network.gaps):  # dead ends short of a street
            g = cov.network.gaps
            layers["network_gaps"] = GeoDataFrame(
                {"gap_m": g["gap_m"].round(3)},
                geometry=shapely.points(g[["x", "y"]].to_numpy()),
                crs=result.study.crs,
            )
    for frame in layers.values():
        geometry = frame.geometry.name if "geometry" in frame.columns else None
        frame.columns = [c if c == geometry else field_name(c) for c in frame.columns]
    return layers, styles


def write_result_gpkg(
    result: CheckResult,
    path: str | os.PathLike,
    *,
    layers: Iterable[str] | None = None,
    append: bool = False,
    geometry_types: Mapping[str, str] | None = None,
    sync: bool = True,
) -> Path:
    """Write ``result``'s layers (:func:`gpkg_layers`) to the GeoPackage ``path``.

    Parameters
    ----------
    result
        A check.
    path
        The ``.gpkg`` file.
    layers
        Only these of :data:`GPKG_LAYERS` (those the result has); default all.
    append
        False: replace ``path`` atomically. True: add the rows to the layers already in
        ``path`` (a layer not there yet is created, the file too), in place — for a result
        written chunk by chunk into a file the caller makes atomic.
    geometry_types
        ``layer name -> geometry type`` of the whole layer (``"MultiPolygon"`` when any of
        its rows is one) where a chunk may not show it: the layer is declared so and single
        geometries are written as multi ones, as writing the whole at once does.
    sync
        Flush the file to disk before returning (default); False: the caller syncs it
        (:func:`gridmap.io.gpkg.sync_file`). An existing file is always replaced by a flushed
        one.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    frames, styles = gpkg_layers(result)
    if layers is not None:
        wanted = list(layers)
        unknown = [name for name in wanted if name not in GPKG_LAYERS]
        if unknown:
            raise ValueError(f"layers: unknown {unknown}; known: {list(GPKG_LAYERS)}")
        frames = {name: frame for name, frame in frames.items() if name in wanted}
        styles = {name: style for name, style in styles.items() if name in frames}
    # through Arrow: 2-4x faster than feature by feature, the same fields and values
    options: dict[str, dict[str, Any]] = {name: {"use_arrow": True} for name in frames}
    for name, kind in (geometry_types or {}).items():
        if name in options:
            options[name].update(geometry_type=kind, promote_to_multi=kind.startswith("Multi"))
    if append:
        there = {name for name, _ in pyogrio.list_layers(path)} if path.exists() else set()
        for name in frames.keys() & there:
            options[name]["append"] = True
        return write_gpkg(path, frames, styles=styles, options=options, sync=sync)
    # an existing file is only ever replaced by one already on disk (else a power cut right
    # after the rename could leave neither); a new file may be flushed later by the caller
    flush = sync or path.exists()
    with atomic_path(path, suffix=".gpkg") as tmp:
        write_gpkg(tmp, frames, styles=styles, options=options, sync=flush)
    return path


def csv_tables(result: CheckResult) -> dict[str, pd.DataFrame]:
    """The CSV files of the contract, ``file name -> table``, in the order they are written.

    Parameters
    ----------
    result
        A check.

    Returns
    -------
    dict
        ``communities.csv``, ``findings.csv``, ``grids.csv`` (with grids), ``coverage.csv``
        (household-level coverage only), ``problems.csv``.
    """
    files = {
        "communities.csv": result.communities_table(),
        "findings.csv": result.findings[FINDING_COLUMNS],
    }
    grids = result.grids_table()
    if grids is not None:
        files["grids.csv"] = grids
    cov = result.coverage_result
    if cov is not None and cov.household_level:  # per building: only when asked for
        files["coverage.csv"] = coverage_table(cov.households)
    files["problems.csv"] = problems_table(result.problems)
    return files


@gc_paused()
def write_result_dir(result: CheckResult, out: str | os.PathLike) -> dict[str, Path]:
    """Write the contract outputs of ``result`` into the folder ``out``, all together or none.

    Parameters
    ----------
    result
        A check.
    out
        The output folder (see :func:`gridmap._atomic.staged_dir`).

    Returns
    -------
    dict
        ``file name -> path`` of every file written.
    """
    with staged_dir(out) as (stage, written):
        # the GeoPackage first: its one flush to disk (no GIL held) runs on a thread of its own
        # while the CSVs are written, and has ended before anything is committed
        gpkg = result.to_gpkg(stage / "result.gpkg", sync=False)
        with ThreadPoolExecutor(1, thread_name_prefix="gridmap-sync") as pool:
            synced = pool.submit(sync_file, gpkg)
            for name, frame in csv_tables(result).items():
                write_csv(frame, stage / name)  # = to_csv(index=False, encoding="utf-8-sig")
            (stage / "summary.json").write_text(
                json.dumps(result.summary(), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            synced.result()
    return written
