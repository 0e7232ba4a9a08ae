"""The check's units, findings and problems as the contract's tables (CSV and GeoPackage).

One place decides how a table looks on disk: the id first, whole numbers as integers, other
floats rounded to 4 decimals, facility types as Chinese names, missing text as NULL and field
names every GIS accepts.
"""

from __future__ import annotations

import pandas as pd
from geopandas import GeoDataFrame

from gridmap._errors import Problem
from gridmap.facilities import type_label

__all__ = [
    "COMMUNITY_COLUMNS",
    "GRID_COLUMNS",
    "PROBLEM_COLUMNS",
    "coverage_table",
    "gpkg_safe",
    "gpkg_units",
    "problems_table",
    "units_table",
]

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
#: ``problems.csv``'s columns (:meth:`gridmap.Problem.to_dict` without ``extra``)
PROBLEM_COLUMNS = ["severity", "code", "message", "fix", "file", "layer", "column", "row"]


def _facility_labels(df: pd.DataFrame) -> pd.DataFrame:
    """The ``facility_types`` tuples of keys as Chinese names joined by 、 (for CSV and GeoPackage)."""
    if "facility_types" in df.columns:
        df["facility_types"] = df["facility_types"].map(
            lambda v: "、".join(type_label(t) for t in v) if isinstance(v, tuple) else v
        )
    return df


def units_table(units: GeoDataFrame, id_name: str, first: list[str]) -> pd.DataFrame:
    """Units as a CSV table: ``id_name`` and the ``first`` columns first, without geometry.

    Parameters
    ----------
    units
        Communities or grids of a :class:`gridmap.check.CheckResult`, indexed by id.
    id_name
        The id column the index becomes.
    first
        The columns that lead (those present), the rest following in their order.

    Returns
    -------
    pandas.DataFrame
        Floats that are all whole numbers as ``Int64``, other floats rounded to 4 decimals.
    """
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


def gpkg_units(units: GeoDataFrame, id_name: str) -> GeoDataFrame:
    """Units as a GeoPackage layer: the index as the text column ``id_name``, then :func:`gpkg_safe`.

    Parameters
    ----------
    units
        Communities, grids or facilities, indexed by id.
    id_name
        The id column the index becomes.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame (``units`` is not changed).
    """
    df = _facility_labels(units.copy()).rename_axis(id_name).reset_index()
    df[id_name] = df[id_name].astype(str)
    return gpkg_safe(df)


def gpkg_safe(gdf: GeoDataFrame) -> GeoDataFrame:
    """Column types and names GDAL's GeoPackage writer takes.

    Text with None for missing (Arrow-backed text as it is: missing values are Arrow nulls,
    written as NULL the same way), nullable booleans as numbers, ``:`` in names as ``__``.

    Parameters
    ----------
    gdf
        A layer.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame (``gdf`` is not changed).
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


def coverage_table(table: pd.DataFrame) -> pd.DataFrame:
    """``coverage.csv``: the per-household coverage with distances rounded to centimetres.

    Parameters
    ----------
    table
        :attr:`gridmap.check.CheckResult.coverage`.

    Returns
    -------
    pandas.DataFrame
        A new frame.
    """
    df = table.copy()
    for col in df.columns:
        if col.startswith(("straight_m:", "network_m:", "snap_m")):
            df[col] = df[col].round(2)
    return df


def problems_table(problems: list[Problem]) -> pd.DataFrame:
    """``problems.csv``: one row per problem, :data:`PROBLEM_COLUMNS`.

    Parameters
    ----------
    problems
        The problems of the read and of the check.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.DataFrame([p.to_dict() for p in problems], columns=[*PROBLEM_COLUMNS, "extra"]).drop(
        columns="extra"
    )
