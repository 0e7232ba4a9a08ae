"""The national result as files: partitioned GeoParquet and one GeoPackage per province.

:func:`write_partitioned` writes the communities and grids (with their metrics and status)
as hive-partitioned GeoParquet in longitude/latitude, one file per district, the layout the
input came in (``communities/province=33/city=3301/district=330101/part-0.parquet``), with a
``bbox`` covering column so that a map or a later roll-up reads one region without the rest.
:func:`write_province_gpkgs` writes ``provinces/{code}.gpkg`` per province through
:meth:`gridmap.CheckResult.to_gpkg` (the layers of a single-machine ``result.gpkg``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path
from gridmap.check import CheckResult

__all__ = ["write_partitioned", "write_province_gpkgs"]


def _code(units: GeoDataFrame, column: str | None) -> pd.Series:
    ids = units[column] if column else units.index.to_series()
    return ids.astype(str)


def write_partitioned(result: CheckResult, folder: Path) -> dict[str, Path]:
    """Communities and grids as hive-partitioned GeoParquet under ``folder`` (per district).

    Units whose code is not a 12-digit administrative code (grids outside every community:
    their community's code is unknown) are filed under ``district=unknown``.
    """
    written: dict[str, Path] = {}
    layers = {"communities": (result.communities, None), "grids": (result.grids, "community_id")}
    for kind, (units, code_col) in layers.items():
        if units is None:
            continue
        table = units.rename_axis(f"{kind[:-1]}_id" if kind == "grids" else "community_id")
        table = table.reset_index()
        code = _code(units, code_col).fillna("").to_numpy()
        district = (
            pd.Series(code).str[:6].where(pd.Series(code).str.fullmatch(r"\d{12,}"), "unknown")
        )
        for key, part in table.groupby(district.to_numpy(), sort=True):
            where = (
                Path("district=unknown")
                if key == "unknown"
                else Path(f"province={key[:2]}", f"city={key[:4]}", f"district={key}")
            )
            path = folder / kind / where / "part-0.parquet"
            with atomic_path(path, suffix=".parquet") as tmp:
                GeoDataFrame(part, geometry=units.geometry.name, crs=units.crs).to_parquet(
                    tmp, index=False, write_covering_bbox=True
                )
        written[kind] = folder / kind
    return written


def write_province_gpkgs(result: CheckResult, folder: Path) -> dict[str, Path]:
    """One GeoPackage per province (``{folder}/{code}.gpkg``) with the result's layers."""
    written: dict[str, Path] = {}
    province = result.communities.index.astype(str).str[:2]
    findings_unit = result.findings["unit_id"].astype(str).str[:2]
    for code in sorted(set(province)):
        comms = result.communities[province == code]
        grids = None
        if result.grids is not None:
            grids = result.grids[result.grids["community_id"].astype(str).str[:2] == code]
        part = replace(
            result,
            communities=comms,
            grids=grids,
            findings=result.findings[findings_unit == code],
            coverage_result=None,
        )
        path = folder / f"{code}.gpkg"
        written[path.name] = part.to_gpkg(path)
    return written
