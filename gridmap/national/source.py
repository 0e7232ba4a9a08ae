"""Where a national check reads its layers: hive-partitioned GeoParquet datasets or files.

A layer is a folder of GeoParquet files (``communities/province=33/city=3301/district=330101/
part-0.parquet``, the layout a national data platform hands over), one GeoParquet file, or any
file :func:`gridmap.io.read_layer` reads (read whole, then cut to the window asked for). Reads
are windowed by a longitude/latitude box: GeoParquet files written with a ``bbox`` covering
column (GeoParquet 1.1) skip every row group outside it, and a dataset folder's files are
first picked by the box of each file (:meth:`NationalSource.file_boxes`, from the files'
row-group statistics, read once per source), so a partition opens the files of its own
district and a halo around it, never the country's.

The hive folder keys (``province=…``) say where a row is stored, not what it is: they are
dropped from the rows read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import shapely
from geopandas import GeoDataFrame

from gridmap._errors import InputError, Problem
from gridmap.columns import ALIASES
from gridmap.io import read_layer

__all__ = ["NationalSource", "Box", "LAYERS"]

#: the layers a national check reads, in the order of :func:`gridmap.read_study`
LAYERS = ("communities", "grids", "households", "facilities", "network")
#: ``(minx, miny, maxx, maxy)`` in degrees (CGCS2000 / WGS84 longitude and latitude)
Box = tuple[float, float, float, float]
LONLAT = "EPSG:4490"


def _is_parquet(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in (".parquet", ".geoparquet")


def _hive_keys(path: Path, first: Path) -> list[str]:
    """The ``key=value`` folder names (``province``, ``city``, …) of a dataset's first file."""
    parts = first.relative_to(path).parts[:-1]
    return [p.split("=", 1)[0] for p in parts if "=" in p]


@dataclass(frozen=True)
class NationalSource:
    """The layer locations of a national check and how to read them.

    Parameters
    ----------
    layers
        ``{"communities": path, "grids": path, …}``: dataset folders or files
        (``communities`` required).
    crs
        The CRS of layers that do not state one (as ``crs=`` of :func:`gridmap.read_study`).
    """

    layers: Mapping[str, str | Path]
    crs: Any = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if "communities" not in self.layers:
            raise InputError(
                [
                    Problem(
                        "error",
                        "layer.missing",
                        "缺少社区图层",
                        fix="用 communities= 指定社区边界数据集（文件夹或文件）",
                        param="communities",
                    )
                ]
            )
        for kind, path in self.layers.items():
            if kind not in LAYERS:
                raise ValueError(f"unknown layer {kind!r}; layers: {', '.join(LAYERS)}")
            if not Path(path).exists():
                raise InputError(
                    [
                        Problem(
                            "error",
                            "file.missing",
                            f"找不到{kind}数据：{path}",
                            fix="检查路径（数据集文件夹或 GeoParquet 文件）",
                            file=str(path),
                            param=kind,
                        )
                    ]
                )

    def kinds(self) -> list[str]:
        """The layers given, in reading order."""
        return [k for k in LAYERS if k in self.layers]

    def read(self, kind: str, bbox: Box | None = None) -> GeoDataFrame:
        """The rows of layer ``kind`` whose extent meets ``bbox`` (all rows without one).

        Parameters
        ----------
        kind
            A layer name of :data:`LAYERS`.
        bbox
            Longitude/latitude window; rows whose bounding box touches it are read.

        Returns
        -------
        geopandas.GeoDataFrame
            In the layer's own CRS, in storage order (files in path order, rows in file order).
        """
        path = Path(self.layers[kind])
        if _is_parquet(path):
            gdf = gpd.read_parquet(self._files(kind, path, bbox), bbox=bbox)
            drop = [k for k in self._hive_keys(kind, path) if k in gdf.columns]
            gdf = gdf.drop(columns=drop)
        else:
            gdf = self._whole(kind, path)
            if bbox is not None:
                box = shapely.box(*bbox)
                lonlat = gdf.to_crs(LONLAT) if gdf.crs is not None else gdf
                gdf = gdf[lonlat.geometry.intersects(box).to_numpy()]
        if gdf.crs is None and self.crs is not None:
            gdf = gdf.set_crs(self.crs)
        # keep what the reader found out (an OSM network's format: read_study filters its ways)
        gdf.attrs = {
            "source": {**(gdf.attrs.get("source") or {}), "file": str(path), "layer": kind}
        }
        return gdf.reset_index(drop=True)

    def file_boxes(self, kind: str) -> list[tuple[str, Box | None]]:
        """The files of a dataset folder layer, each with the longitude/latitude box of its rows.

        Read once per source from the row-group statistics of the files' ``bbox`` covering
        column (None for a file without them: it is always read); the hive folder keys with
        them, so a windowed read never walks the dataset's folders. A source sent to Dask
        workers carries the boxes it has read, so call this before sending it.

        Parameters
        ----------
        kind
            A layer name of :data:`LAYERS` whose path is a folder.

        Returns
        -------
        list of (str, tuple or None)
            ``(file, (minx, miny, maxx, maxy))`` in path order.
        """
        key = ("files", kind)
        if key not in self._cache:
            path = Path(self.layers[kind])
            files = sorted(path.rglob("*.parquet"))
            self._cache[key] = [(str(f), _file_box(f)) for f in files]
            self._cache["hive", kind] = _hive_keys(path, files[0]) if files else []
        return list(self._cache[key])

    def _hive_keys(self, kind: str, path: Path) -> list[str]:
        """The hive folder keys of a layer (none for a file), from its first file, once."""
        key = ("hive", kind)
        if key not in self._cache:
            self._cache[key] = _hive_keys(path, _first_file(path)) if path.is_dir() else []
        return list(self._cache[key])

    def _files(self, kind: str, path: Path, bbox: Box | None) -> Any:
        """What to open for a windowed read: the folder's files whose box meets ``bbox``."""
        if not path.is_dir() or bbox is None:
            return path
        boxes = self.file_boxes(kind)
        files = [f for f, b in boxes if b is None or _meets(b, bbox)]
        # no file meets the window: read the first with the window, for its columns (no rows)
        return (files or [boxes[0][0]]) if boxes else path

    def _whole(self, kind: str, path: Path) -> GeoDataFrame:
        """A non-Parquet layer read once per process (a small file: one city, a test)."""
        if kind not in self._cache:
            self._cache[kind] = read_layer(str(path), crs=self.crs)
        return self._cache[kind].copy()

    def community_index(self) -> pd.DataFrame:
        """Every community's code and longitude/latitude box, without reading its geometry.

        Returns
        -------
        pandas.DataFrame
            ``code`` (text; None when the layer has no code column), ``name`` (None when it
            has no name column) and ``minx``, ``miny``, ``maxx``, ``maxy`` per community, in
            storage order.
        """
        path = Path(self.layers["communities"])
        code_col = None
        if _is_parquet(path) and "bbox" in pq.read_schema(_first_file(path)).names:
            names = pq.read_schema(_first_file(path)).names
            code_col = _code_column(names)
            name_col = _column(names, "name")
            cols = ["bbox"] + [c for c in (code_col, name_col) if c]
            table = pq.read_table(path, columns=cols).to_pandas()
            box = pd.DataFrame(table["bbox"].tolist())
            out = pd.DataFrame(
                {
                    "code": table[code_col].astype(str) if code_col else None,
                    "name": table[name_col] if name_col else None,
                    "minx": box["xmin"],
                    "miny": box["ymin"],
                    "maxx": box["xmax"],
                    "maxy": box["ymax"],
                }
            )
            return out
        gdf = self.read("communities")
        code_col = _code_column([str(c) for c in gdf.columns])
        name_col = _column([str(c) for c in gdf.columns], "name")
        bounds = gdf.to_crs(LONLAT).geometry.bounds if gdf.crs is not None else gdf.bounds
        return pd.DataFrame(
            {
                "code": gdf[code_col].astype(str).to_numpy() if code_col else None,
                "name": gdf[name_col].to_numpy() if name_col else None,
                "minx": bounds["minx"].to_numpy(),
                "miny": bounds["miny"].to_numpy(),
                "maxx": bounds["maxx"].to_numpy(),
                "maxy": bounds["maxy"].to_numpy(),
            }
        )


def _meets(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _file_box(path: Path) -> Box | None:
    """The box of a GeoParquet file's rows from its ``bbox`` column statistics (None: unknown)."""
    meta = pq.ParquetFile(path).metadata
    cols = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    names = ("bbox.xmin", "bbox.ymin", "bbox.xmax", "bbox.ymax")
    if meta.num_row_groups == 0 or not all(n in cols for n in names):
        return None
    lo: list[float] = []
    hi: list[float] = []
    for n in names:
        stats = [meta.row_group(r).column(cols[n]).statistics for r in range(meta.num_row_groups)]
        if any(s is None or not s.has_min_max for s in stats):
            return None
        lo.append(min(float(s.min) for s in stats))
        hi.append(max(float(s.max) for s in stats))
    return (lo[0], lo[1], hi[2], hi[3])


def _first_file(path: Path) -> Path:
    if path.is_file():
        return path
    for f in sorted(path.rglob("*.parquet")):
        return f
    raise InputError(
        [
            Problem(
                "error",
                "file.empty",
                f"数据集文件夹中没有 GeoParquet 文件：{path}",
                fix="检查路径",
                file=str(path),
            )
        ]
    )


def _column(names: list[str], canonical: str) -> str | None:
    """The communities' ``canonical`` column among ``names`` (itself or a known alias)."""
    for name in (canonical, *ALIASES["communities"][canonical]):
        for have in names:
            if have.lower() == name.lower():
                return have
    return None


def _code_column(names: list[str]) -> str | None:
    """The communities' code column among ``names`` (canonical name or a known alias)."""
    return _column(names, "community_id")
