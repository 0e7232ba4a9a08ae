"""The one GeoPackage writer: version 1.2, legacy R-tree triggers, styles in ``layer_styles``.

Every GeoPackage gridmap writes goes through :func:`write_gpkg`:

- **GeoPackage 1.2** (``VERSION=1.2``), chosen on purpose: the GDAL inside pyogrio's wheel
  (3.12) writes 1.4 by default, which GDAL 3.6 / QGIS 3.22 (Debian 12, the versions common
  on government intranet machines) open with the warning "v1.4.0 may only be partially
  supported", and whose spatial-index triggers (``update6``/``update7``) GDAL 3.6's
  validator rejects (requirement 75). 1.2 holds everything gridmap writes (features,
  attribute tables, the R-tree extension) and GDAL then writes the ``update1``/``update3``
  triggers every reader knows.
- **Default styles** (:mod:`gridmap.io.styles`): a ``layer_styles`` table as QGIS writes it
  (registered in ``gpkg_contents`` as an attribute table), one default style per styled
  layer with its QML and SLD, so QGIS draws the layer with the report's palette when it
  opens it.
- ``gpkg_contents.last_change`` in the form the specification asks for
  (``YYYY-MM-DDTHH:MM:SS.sssZ``), pinned when ``last_change`` is given (reproducible files).
- **One flush to disk**, not one per transaction: SQLite's ``synchronous`` is off while the
  layers are written (SQLite's own locking and journal still keep the file consistent if the
  process dies) and the file is synced once before :func:`write_gpkg` returns, so a write that
  returned is on disk (with ``sync=False`` the caller syncs it, :func:`sync_file`). A check's
  ``result.gpkg`` took ~50 syncs before, each a wait on the disk.
- **64 KiB pages** (:data:`PAGE_SIZE`) in a file it creates, not SQLite's 4 KiB: SQLite writes
  the file page by page, so a city's 70 MB ``result.gpkg`` took 17,000 writes to the kernel;
  now about 1,000 (the same rows; any SQLite reads either size).

Layers are added to ``path`` (a layer of the same name is replaced); the caller makes the
write atomic (:func:`gridmap._atomic.atomic_path`).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pyogrio

from gridmap.io.styles import LayerStyle

__all__ = [
    "GPKG_USER_VERSION",
    "GPKG_VERSION",
    "PAGE_SIZE",
    "field_name",
    "sync_file",
    "write_gpkg",
]

#: The GeoPackage version written (see the module docstring for why not 1.4).
GPKG_VERSION = "1.2"
#: ``PRAGMA user_version`` of that version, for GeoPackages created with plain SQL.
GPKG_USER_VERSION = 10200
#: SQLite page size (bytes) of the GeoPackages :func:`write_gpkg` creates (module docstring)
PAGE_SIZE = 65536

_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),
  f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
  useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME
)"""


def field_name(name: object) -> str:
    """A column name every GIS accepts as a field name (GeoPackage, Shapefile, ArcGIS).

    Letters (Chinese included), digits and ``_`` only, not starting with a digit: ``:``
    (between a measure and the rule it belongs to) becomes ``__``, any other character
    (the dots of a rule id) ``_``. The rule id itself stays in the findings' ``rule_id``.

    Parameters
    ----------
    name
        A column name.

    Returns
    -------
    str
        The field name.

    Examples
    --------
    >>> field_name("covered:community.coverage.service_station")
    'covered__community_coverage_service_station'
    >>> field_name("户数"), field_name("2020人口")
    ('户数', 'f_2020人口')
    """
    text = re.sub(r"[^\w]", "_", str(name).replace(":", "__"), flags=re.UNICODE)
    return f"f_{text}" if text[:1].isdigit() else text


def write_gpkg(
    path: str | os.PathLike,
    layers: Mapping[str, Any],
    *,
    styles: Mapping[str, LayerStyle] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    last_change: str | _dt.datetime | None = None,
    sync: bool = True,
) -> Path:
    """Write (Geo)DataFrames as layers of a GeoPackage 1.2, with default styles.

    Parameters
    ----------
    path
        The ``.gpkg`` file; created, or added to when it exists (same-named layers replaced).
    layers
        ``layer name -> GeoDataFrame`` (or DataFrame: an attribute table), written in order.
    styles
        ``layer name -> style`` (:func:`gridmap.io.styles.status_style`, ...): stored in
        ``layer_styles`` as the layer's default style.
    options
        ``layer name -> keyword arguments`` for :func:`pyogrio.write_dataframe`
        (e.g. ``geometry_type``, ``promote_to_multi``, ``layer_options``).
    last_change
        Time recorded in ``gpkg_contents.last_change`` for every table (default: now);
        give one for reproducible bytes.
    sync
        Flush the file to disk before returning (default). False for a file written in many
        calls (chunks appended): the writer calls :func:`sync_file` once when it is done.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import geopandas, shapely, tempfile
    >>> from gridmap.io.styles import status_style
    >>> gdf = geopandas.GeoDataFrame(
    ...     {"status": ["pass"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4547
    ... )
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = write_gpkg(folder / "x.gpkg", {"units": gdf}, styles={"units": status_style()})
    >>> [name for name, _ in pyogrio.list_layers(path)]
    ['units', 'layer_styles']
    """
    path = Path(path)
    stamp = _gpkg_time(last_change)
    config = {"OGR_CURRENT_DATE": stamp, "OGR_SQLITE_SYNCHRONOUS": "OFF"}
    old = {key: pyogrio.get_gdal_config_option(key) for key in [*config, "OGR_SQLITE_PRAGMA"]}
    # pragmas the caller set stay in force, the page size first (it counts only in a new file)
    config["OGR_SQLITE_PRAGMA"] = ",".join(
        [
            f"page_size={PAGE_SIZE}",
            *([old["OGR_SQLITE_PRAGMA"]] if old["OGR_SQLITE_PRAGMA"] else []),
        ]
    )
    pyogrio.set_gdal_config_options(config)
    existed = path.exists()  # rows may be appended to its layers (``append`` in ``options``)
    try:
        for name, frame in layers.items():
            kwargs = dict((options or {}).get(name, {}))
            dataset_options = {"VERSION": GPKG_VERSION, **kwargs.pop("dataset_options", {})}
            pyogrio.write_dataframe(
                frame,
                path,
                layer=name,
                driver="GPKG",
                dataset_options=dataset_options,
                **kwargs,
            )
        if styles:  # update_time only when pinned: the styles of two runs stay equal
            _write_styles(path, layers, styles, stamp, stamp if last_change else None)
        elif existed:  # layers added to a styled file: its styles stay listed after them
            with closing(sqlite3.connect(path)) as db, db:
                _styles_last(db)
    finally:
        pyogrio.set_gdal_config_options(old)
    if sync:
        sync_file(path)
    return path


def sync_file(path: str | os.PathLike) -> None:
    """Flush the file ``path`` to disk (the one sync of :func:`write_gpkg`).

    Parameters
    ----------
    path
        A file written with SQLite's ``synchronous`` off (:func:`write_gpkg`).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _gpkg_time(when: str | _dt.datetime | None) -> str:
    """``when`` (default now, UTC) as GeoPackage's ``YYYY-MM-DDTHH:MM:SS.sssZ``."""
    if when is None:
        moment = _dt.datetime.now(_dt.timezone.utc)
    elif isinstance(when, str):
        moment = _dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    else:
        moment = when
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _write_styles(
    path: Path,
    layers: Mapping[str, Any],
    styles: Mapping[str, LayerStyle],
    stamp: str,
    update_time: str | None,
) -> None:
    """One default style per styled layer in ``layer_styles`` (as QGIS stores it)."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA synchronous = OFF")  # write_gpkg syncs the file once at the end
        db.execute(_STYLES_DDL)
        if not _styles_last(db):
            db.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                "'QGIS 默认样式 / default layer styles', ?)",
                (stamp,),
            )
        for name, style in styles.items():
            frame = layers.get(name)
            geometry = getattr(getattr(frame, "geometry", None), "name", "geom")
            column = _geometry_column(db, name) or ("geom" if geometry == "geometry" else geometry)
            db.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (name,))
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'gridmap', '', ?)",
                (name, column, style.name, style.qml(), style.sld(name), style.name, update_time),
            )


def _styles_last(db: sqlite3.Connection) -> bool:
    """Register ``layer_styles`` after every layer in ``gpkg_contents``; False if it is not there.

    A GIS lists a GeoPackage's tables in ``gpkg_contents`` order: written at once, the styles
    come after the layers, and so they do when a file's layers are written chunk by chunk.
    """
    row = db.execute("SELECT * FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    if row is None:
        return False
    db.execute("DELETE FROM gpkg_contents WHERE table_name = 'layer_styles'")
    db.execute(f"INSERT INTO gpkg_contents VALUES ({', '.join('?' * len(row))})", row)
    return True


def _geometry_column(db: sqlite3.Connection, table: str) -> str | None:
    row = db.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
    ).fetchone()
    return None if row is None else str(row[0])
