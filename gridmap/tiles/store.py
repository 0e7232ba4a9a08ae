"""A prepared tile set kept on disk beside the national result it was made from.

Making a national tile set (reading the partitioned GeoParquet, dissolving the communities per
区县, projecting a million grids) takes tens of seconds; reading what it made takes a few. The
prepared layers are stored in ``FOLDER/national/.tiles/`` (a hidden folder: GeoParquet readers
of ``national/`` skip it):

* ``<layer>.parquet``: GeoParquet, one row per feature id: the features' properties and
  their Web Mercator polygons (EPSG:3857, WKB) in the column ``__mercator_wkb__`` and their
  bounding boxes (GeoParquet 1.1's ``bbox`` covering); QGIS and geopandas open it as a layer.
  A stored set is read without decoding a single polygon: tiles find their features by the
  boxes and decode only those;
* ``manifest.json``: the format, the key of the source files (their names, sizes and
  modification times), each layer's zooms and bounds, and each stored file's size and SHA-256.

A stored set is used only when its key matches the result's files now and every stored file
has the recorded size and hash, so a re-run check, a partial write or a damaged file means it
is made again. It is written to a temporary folder and renamed into place. Only this format is
read (Parquet and JSON, never pickle): the folder is the user's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap.tiles._layer import PreparedLayer

__all__ = ["FORMAT", "store_dir", "source_key", "load_layers", "save_layers"]

#: the stored format's name and version (part of the key: a new version makes it again)
FORMAT = "gridmap-tiles/1"
_GEOMETRY = "__mercator_wkb__"
_MANIFEST = "manifest.json"
#: GeoParquet's bounding-box covering column (``write_covering_bbox``) and its fields
_BBOX = "bbox"
_BBOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")


def store_dir(folder: str | os.PathLike) -> Path:
    """Where the prepared tile set of the national result in ``folder`` is kept."""
    return Path(folder) / "national" / ".tiles"


def source_key(files: list[Path], root: str | os.PathLike, extra: object = None) -> str:
    """A key of ``files`` (paths relative to ``root``, sizes, modification times) and ``extra``."""
    listing = []
    for p in files:
        st = p.stat()
        listing.append([p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    text = json.dumps([FORMAT, extra, listing], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_layers(target: Path, key: str, layers: Mapping[str, PreparedLayer]) -> None:
    """Write ``layers`` as the prepared set of ``key`` in ``target`` (replacing what is there).

    Raises
    ------
    OSError
        When the folder cannot be written (the caller goes on without a stored set).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex[:12]}")
    tmp.mkdir()
    try:
        entries: dict[str, dict] = {}
        for name, lay in layers.items():
            path = tmp / f"{name}.parquet"
            frame = GeoDataFrame(lay.table.copy())
            frame[_GEOMETRY] = GeoSeries(lay.mercator, index=frame.index, crs="EPSG:3857")
            frame = frame.set_geometry(_GEOMETRY)
            frame.to_parquet(path, index=False, write_covering_bbox=True)
            entries[name] = {
                "file": path.name,
                "size": path.stat().st_size,
                "sha256": _sha256(path),
                "min_zoom": lay.min_zoom,
                "bounds": list(lay.lonlat_bounds),
                "count": len(lay),
            }
        manifest = {"format": FORMAT, "key": key, "layers": entries}
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:12]}")
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_layers(target: Path, key: str) -> dict[str, PreparedLayer] | None:
    """The prepared layers stored in ``target`` for ``key``; None when absent, stale or damaged."""
    try:
        manifest = json.loads((target / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("key") != key:
            return None
        out = {}
        for name, entry in manifest["layers"].items():
            path = target / Path(str(entry["file"])).name
            if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
                return None
            table = pq.read_table(path)  # plain Parquet: WKB as bytes, the bbox covering
            wkb = table.column(_GEOMETRY)
            box = table.column(_BBOX).combine_chunks()
            bounds = np.column_stack(
                [box.field(k).to_numpy(zero_copy_only=False) for k in _BBOX_FIELDS]
            ).astype("float64")
            props = table.drop_columns([_GEOMETRY, _BBOX]).to_pandas()
            if not len(wkb) == len(props) == len(bounds) == entry["count"]:
                return None
            lonlat = tuple(float(v) for v in entry["bounds"])
            out[str(name)] = PreparedLayer(
                wkb,
                props,
                lonlat,  # type: ignore[arg-type]
                int(entry["min_zoom"]),
                bounds=bounds,
            )
        return out
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        pa.ArrowException,
        shapely.errors.GEOSException,
    ):
        return None
