"""Vector tiles (Mapbox Vector Tile, MVT) of a check's result, for maps at national scale.

A national result has millions of grids: no browser draws them as one GeoJSON. :class:`TileSet`
cuts the result into ``z/x/y`` tiles (Web Mercator, the scheme MapLibre and every web map
read), each holding only what is visible at that zoom:

* ``rollup``: the communities dissolved per 区县 (first 6 digits of the 12-digit code) with
  the roll-up figures (communities, failing, in the size band), at every zoom;
* ``communities`` from zoom :data:`MIN_ZOOM` ``["communities"]``, ``grids`` from
  :data:`MIN_ZOOM` ``["grids"]`` (below it a tile of that layer is empty: a province's grids
  never go to the browser at once).

Geometries are simplified once per zoom (to a quarter of a screen pixel at that zoom) and
cached, clipped to the tile (plus a small buffer so strokes join across tiles) and encoded
with ``mapbox-vector-tile``. Every feature carries ``code`` (its id) and ``status``, so the
map can recolour by feature state without fetching tiles again.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

__all__ = ["TileSet", "MIN_ZOOM", "TILE_LAYERS", "tile_bounds"]

#: the layers of a tile set, and the lowest zoom at which each has features
MIN_ZOOM = {"rollup": 0, "communities": 8, "grids": 12}
TILE_LAYERS = tuple(MIN_ZOOM)
#: tile coordinates per side (the MVT default)
EXTENT = 4096
#: tile buffer, in tile coordinates (strokes join across tile edges)
_BUFFER = 64
_R = 6378137.0  # Web Mercator sphere
_MAX_LAT = 85.0511287798066
_MAX_ZOOM = 24


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A tile's box in Web Mercator metres (EPSG:3857): ``(minx, miny, maxx, maxy)``.

    Examples
    --------
    >>> [round(v) for v in tile_bounds(0, 0, 0)]
    [-20037508, -20037508, 20037508, 20037508]
    """
    size = 2 * math.pi * _R / 2**z
    minx = -math.pi * _R + x * size
    maxy = math.pi * _R - y * size
    return (minx, maxy - size, minx + size, maxy)


def _to_mercator(coords: np.ndarray) -> np.ndarray:
    lon = coords[:, 0]
    lat = np.clip(coords[:, 1], -_MAX_LAT, _MAX_LAT)
    x = np.radians(lon) * _R
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _R
    return np.column_stack([x, y])


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
    return out


class TileSet:
    """MVT tiles of a check's communities and grids (longitude/latitude, any CRS accepted).

    Parameters
    ----------
    communities
        The checked communities (index = community code; ``name``, ``status``,
        ``size_status``, ``households`` are carried when present).
    grids
        The checked grids (index = grid code), or None.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> comms = gpd.GeoDataFrame({"status": ["fail"]}, geometry=[shapely.box(120, 31, 120.1, 31.1)],
    ...                          index=pd.Index(["320501001001"]), crs="EPSG:4326")
    >>> tiles = TileSet(comms)
    >>> len(tiles.tile("rollup", 0, 0, 0)) > 0, tiles.tile("communities", 0, 0, 0)
    (True, b'')
    """

    def __init__(self, communities: GeoDataFrame, grids: GeoDataFrame | None = None) -> None:
        comms = communities.to_crs("EPSG:4326") if communities.crs else communities
        comms = comms.copy()
        comms.index = comms.index.astype(str)
        units = {"rollup": _rollup_units(comms), "communities": comms}
        if grids is not None:
            g = grids.to_crs("EPSG:4326") if grids.crs else grids.copy()
            g.index = g.index.astype(str)
            units["grids"] = g
        self._units = units
        self._props = {k: self._properties(v) for k, v in units.items()}
        self._trees = {k: shapely.STRtree(np.asarray(v.geometry.values)) for k, v in units.items()}
        self._simplified: dict[tuple[str, int], np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_check_dir(cls, folder: str | os.PathLike) -> TileSet:
        """The tiles of a ``gridmap check --engine dask --out FOLDER`` result.

        Reads ``national/communities`` and ``national/grids`` (partitioned GeoParquet).

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
        return cls(comms, grids)

    @staticmethod
    def _properties(units: GeoDataFrame) -> list[dict[str, Any]]:
        keep = [
            c
            for c in (
                "name",
                "status",
                "size_status",
                "households",
                "communities",
                "fail",
                "in_band",
                "fail_share",
                "community_id",
            )
            if c in units.columns
        ]
        table = units[keep].astype(object).where(units[keep].notna(), None)
        rows = table.to_dict("records")
        for code, row in zip(units.index, rows, strict=True):
            row["code"] = str(code)
            for k, v in list(row.items()):
                if v is None:
                    del row[k]
                elif isinstance(v, np.generic):
                    row[k] = v.item()
                elif not isinstance(v, (str, int, float, bool)):
                    row[k] = str(v)
        return rows

    @property
    def layers(self) -> list[str]:
        """The layers this set has (``grids`` only with grids)."""
        return list(self._units)

    def geometries(self, layer: str, z: int) -> np.ndarray:
        """The layer's geometries simplified for zoom ``z`` (computed once per zoom)."""
        key = (layer, z)
        with self._lock:
            if key not in self._simplified:
                tol = 360.0 / 2**z / 256 / 4  # a quarter of a screen pixel, in degrees
                geoms = np.asarray(self._units[layer].geometry.values)
                self._simplified[key] = shapely.simplify(geoms, tol, preserve_topology=True)
            return self._simplified[key]

    def tile(self, layer: str, z: int, x: int, y: int) -> bytes:
        """The MVT bytes of one tile of ``layer`` (``b""`` when it has no features).

        Parameters
        ----------
        layer
            One of :attr:`layers`.
        z, x, y
            The tile (XYZ scheme, y down from the north).

        Raises
        ------
        KeyError
            For a layer this set does not have.
        ValueError
            For a tile outside the zoom's range.
        """
        # mapbox-vector-tile is an optional dependency, needed only when a tile is drawn
        import mapbox_vector_tile

        if layer not in self._units:
            raise KeyError(layer)
        if not (0 <= z <= _MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            raise ValueError(f"no tile {z}/{x}/{y}")
        if z < MIN_ZOOM[layer]:
            return b""
        bounds = tile_bounds(z, x, y)
        pad = (bounds[2] - bounds[0]) * _BUFFER / EXTENT
        clip = shapely.box(bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
        lonlat = shapely.transform(clip, _from_mercator)
        hits = np.sort(self._trees[layer].query(lonlat))
        if not len(hits):
            return b""
        geoms = shapely.transform(self.geometries(layer, z)[hits], _to_mercator)
        geoms = shapely.intersection(geoms, clip)
        # to tile coordinates (0…EXTENT, y down), as the encoder writes them
        scale = EXTENT / (bounds[2] - bounds[0])
        geoms = shapely.transform(
            geoms, lambda c: np.column_stack([(c[:, 0] - bounds[0]), (bounds[3] - c[:, 1])]) * scale
        )
        props = self._props[layer]
        features = [
            {"geometry": g, "properties": props[i], "id": int(i) + 1}
            for i, g in zip(hits, geoms, strict=True)
            if not g.is_empty
        ]
        if not features:
            return b""
        return bytes(
            mapbox_vector_tile.encode(
                [{"name": layer, "features": features}],
                default_options={"extents": EXTENT, "y_coord_down": True},
            )
        )


def _from_mercator(coords: np.ndarray) -> np.ndarray:
    lon = np.degrees(coords[:, 0] / _R)
    lat = np.degrees(2 * np.arctan(np.exp(coords[:, 1] / _R)) - np.pi / 2)
    return np.column_stack([lon, lat])
