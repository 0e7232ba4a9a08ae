"""The layers of a national result's tile set (issue #17): roll-ups, communities, grids.

A ``gridmap check --engine dask --out FOLDER`` result keeps its communities and grids in
``FOLDER/national/`` (partitioned GeoParquet). :func:`read_national` reads them,
:func:`national_layers` makes the three layers a national map shows (the communities
dissolved per 区县 with their roll-up figures, the communities, the grids) and
:func:`source_files` lists the files they come from, so a prepared tile set stored beside the
result (:mod:`gridmap.tiles.store`) knows when the result has changed.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

__all__ = ["MIN_ZOOM", "national_layers", "read_national", "source_files"]

#: the layers of a national tile set, and the lowest zoom at which each has features
MIN_ZOOM = {"rollup": 0, "communities": 8, "grids": 12}
#: properties of a national set's features, when the result has them
_NATIONAL_PROPERTIES = (
    "name",
    "status",
    "size_status",
    "households",
    "coordinators",
    "coordinators_required",
    "communities",
    "fail",
    "in_band",
    "fail_share",
    "community_id",
)
_KINDS = ("communities", "grids")


def national_layers(
    communities: GeoDataFrame, grids: GeoDataFrame | None = None
) -> dict[str, GeoDataFrame]:
    """``rollup`` per 区县, ``communities`` and (with grids) ``grids``, each with ``code``.

    Parameters
    ----------
    communities
        The checked communities (index = community code).
    grids
        The checked grids (index = grid code), or None.
    """
    comms = communities.to_crs("EPSG:4326") if communities.crs else communities.copy()
    comms.index = comms.index.astype(str)
    layers = {
        "rollup": _national_table(_rollup_units(comms)),
        "communities": _national_table(comms),
    }
    if grids is not None:
        layers["grids"] = _national_table(grids)
    return layers


def read_national(folder: str | os.PathLike) -> tuple[GeoDataFrame, GeoDataFrame | None]:
    """The communities and grids (None without) of a national result folder.

    Raises
    ------
    FileNotFoundError
        When the folder holds no ``national/communities``.
    """
    root = Path(folder) / "national"
    if not (root / "communities").exists():
        raise FileNotFoundError(
            f"{folder} 中没有 national/communities（全国检查的结果）/ no national result"
        )

    def read(kind: str) -> GeoDataFrame:
        gdf = gpd.read_parquet(root / kind)
        drop = [c for c in ("province", "city", "district") if c in gdf.columns]
        return gdf.drop(columns=drop)

    comms = read("communities")
    id_col = "community_id" if "community_id" in comms.columns else comms.columns[0]
    comms = comms.set_index(id_col)
    grids = None
    if (root / "grids").exists():
        grids = read("grids")
        if "grid_id" in grids.columns:
            grids = grids.set_index("grid_id")
    return comms, grids


def source_files(folder: str | os.PathLike) -> list[Path]:
    """The files a national tile set is made from, sorted.

    Every file under ``national/communities`` and ``national/grids``.
    """
    root = Path(folder) / "national"
    return sorted(
        p
        for kind in _KINDS
        if (root / kind).exists()
        for p in (root / kind).rglob("*")
        if p.is_file()
    )


def _rollup_units(communities: GeoDataFrame) -> GeoDataFrame:
    """Communities dissolved per district code, with their counts."""
    codes = communities.index.to_series().astype(str)
    key = codes.str[:6].where(codes.str.fullmatch(r"\d{12}"), "unknown")
    status = communities.get("status", pd.Series("", index=communities.index)).astype(str)
    size = communities.get("size_status", pd.Series("", index=communities.index)).astype(str)
    table = pd.DataFrame(
        {
            "key": key.to_numpy(),
            "fail": (status == "fail").to_numpy(),
            "in_band": (size == "pass").to_numpy(),
            "households": pd.to_numeric(communities.get("households"), errors="coerce")
            if "households" in communities
            else np.nan,
        }
    )
    agg = table.groupby("key", sort=True).agg(
        communities=("fail", "size"),
        fail=("fail", "sum"),
        in_band=("in_band", "sum"),
        households=("households", "sum"),
    )
    geoms = [
        shapely.union_all(np.asarray(communities.geometry.values)[(key == k).to_numpy()])
        for k in agg.index
    ]
    share = agg["fail"] / agg["communities"]
    sums = {
        col: pd.to_numeric(communities[col], errors="coerce").groupby(key.to_numpy()).sum()
        for col in ("coordinators", "coordinators_required")
        if col in communities.columns
    }
    out = GeoDataFrame(
        {
            "name": agg.index.to_numpy(),
            "status": np.where(agg["fail"] > 0, "fail", "pass"),
            "communities": agg["communities"].astype(int).to_numpy(),
            "fail": agg["fail"].astype(int).to_numpy(),
            "in_band": agg["in_band"].astype(int).to_numpy(),
            "fail_share": share.round(4).to_numpy(),
            "households": agg["households"].round(0).to_numpy(),
        },
        geometry=geoms,
        crs=communities.crs,
        index=pd.Index(agg.index.astype(str), name="code"),
    )
    for col, total in sums.items():
        out[col] = total.reindex(agg.index).round(1).to_numpy()
    return out


def _national_table(units: GeoDataFrame) -> GeoDataFrame:
    """The national properties a layer has, plus ``code`` (its index as text)."""
    keep = [c for c in _NATIONAL_PROPERTIES if c in units.columns]
    out = GeoDataFrame(units[keep].copy(), geometry=units.geometry.values, crs=units.crs)
    out["code"] = units.index.astype(str)
    return out
