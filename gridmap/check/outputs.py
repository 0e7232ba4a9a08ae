"""The writers of a check's contract files: the CSV tables, ``summary.json``, ``result.gpkg``.

:meth:`gridmap.check.CheckResult.to_dir` and :meth:`~gridmap.check.CheckResult.to_gpkg`
call these; every file is written through :mod:`gridmap._atomic`, so it appears complete or
not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyogrio
import shapely
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path, staged_dir
from gridmap.check.tables import coverage_table, gpkg_safe, gpkg_units, problems_table
from gridmap.io.csv_out import write_csv
from gridmap.io.gpkg import field_name, write_gpkg
from gridmap.io.styles import LayerStyle, gap_style, status_style
from gridmap.rules import FINDING_COLUMNS

if TYPE_CHECKING:
    from gridmap.check.result import CheckResult

__all__ = ["GPKG_LAYERS", "csv_tables", "gpkg_layers", "write_result_dir", "write_result_gpkg"]

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
        return write_gpkg(path, frames, styles=styles, options=options)
    with atomic_path(path, suffix=".gpkg") as tmp:
        write_gpkg(tmp, frames, styles=styles, options=options)
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
        for name, frame in csv_tables(result).items():
            write_csv(frame, stage / name)  # = to_csv(index=False, encoding="utf-8-sig")
        (stage / "summary.json").write_text(
            json.dumps(result.summary(), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        result.to_gpkg(stage / "result.gpkg")
    return written
