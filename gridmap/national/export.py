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


def district_codes(codes: pd.Series | pd.Index) -> pd.Series:
    """The ``national/`` district folder of units from their codes (``"unknown"``: no 12-digit code).

    Units whose code is not a 12-digit administrative code (grids outside every community:
    their community's code is unknown) are filed under ``district=unknown``.
    """
    text = pd.Series(codes).astype(str).fillna("").reset_index(drop=True)
    text = text.where(pd.Series(codes).notna().to_numpy(), "")
    return text.str[:6].where(text.str.fullmatch(r"\d{12,}"), "unknown")


def write_district(part: GeoDataFrame, kind: str, district: str, folder: Path) -> Path:
    """One district's rows of ``kind`` (id column first) as ``{folder}/{kind}/…/part-0.parquet``."""
    where = (
        Path("district=unknown")
        if district == "unknown"
        else Path(f"province={district[:2]}", f"city={district[:4]}", f"district={district}")
    )
    path = folder / kind / where / "part-0.parquet"
    with atomic_path(path, suffix=".parquet") as tmp:
        part.to_parquet(tmp, index=False, write_covering_bbox=True)
    return path


def id_table(units: GeoDataFrame, kind: str) -> GeoDataFrame:
    """``units`` with their id as the first column (``community_id``/``grid_id``)."""
    table = units.rename_axis("grid_id" if kind == "grids" else "community_id").reset_index()
    return GeoDataFrame(table, geometry=units.geometry.name, crs=units.crs)


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
        table = id_table(units, kind)
        codes = units[code_col] if code_col else units.index
        district = district_codes(codes)
        for key, part in table.groupby(district.to_numpy(), sort=True):
            write_district(part, kind, str(key), folder)
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
