"""The workspace GeoPackage itself: created race-free, written in one transaction, errors worded.

Every writer goes through :func:`write_transaction`: it opens the file (SQLite creates it when
absent), takes SQLite's write lock (``BEGIN IMMEDIATE``), lays down the GeoPackage core tables
when the file is still empty, and commits once. Creating the workspace is therefore part of the
first save's own transaction: two first saves into a workspace that does not exist yet (two
processes, or two threads) are serialised by SQLite's lock, the second sees the first's
GeoPackage and adds to it, and a process killed mid-save leaves the last committed state
(SQLite's rollback journal).

A full disk, a read-only disk or missing permissions raise :class:`WorkspaceError` (an
:class:`gridmap._atomic.OutputError`, so the CLI words it and exits 2) naming the workspace (``reason`` ``"no_space"``, ``"read_only"``, ``"permission"``), never
SQLite's "cannot rollback - no transaction is active" (SQLite has already rolled back itself
when the disk filled up).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from gridmap._atomic import OutputError, output_error
from gridmap.io.gpkg import GPKG_USER_VERSION

__all__ = [
    "WorkspaceError",
    "connect_read",
    "ensure_workspace",
    "register_table",
    "write_transaction",
]

#: the GeoPackage core (application id, version, the required tables), one statement a line
_GPKG_CORE = (
    "PRAGMA application_id = 1196444487",
    f"PRAGMA user_version = {GPKG_USER_VERSION}",  # GeoPackage 1.2: GDAL 3.6 reads it quietly
    """CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
  description TEXT)""",
    """INSERT INTO gpkg_spatial_ref_sys
  VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL)""",
    """INSERT INTO gpkg_spatial_ref_sys
  VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL)""",
    """INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326,
  'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]',
  NULL)""",
    """CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
  identifier TEXT UNIQUE, description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name))""",
)


class WorkspaceError(OutputError):
    """The workspace could not be written (an :class:`gridmap._atomic.OutputError`).

    ``reason`` is ``"no_space"``, ``"read_only"``, ``"permission"`` or ``"other"``; nothing
    was written and the plans saved before are intact.
    """


_NO_SPACE = ("database or disk is full", "no space left", "disk quota")
_CANNOT_WRITE = ("readonly database", "unable to open database file", "read-only file system")


def _workspace_error(exc: BaseException, path: Path) -> OutputError | None:
    """``exc`` (SQLite's or the OS's) as an :class:`OutputError` about the workspace, or None."""
    if isinstance(exc, OSError):
        return output_error(exc, path)
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc).lower()
    if any(t in text for t in _NO_SPACE) or ("disk i/o" in text and _disk_full(path)):
        return OutputError(path, "no_space", str(exc))
    if not any(t in text for t in _CANNOT_WRITE):
        return None
    if _read_only_disk(path):
        return OutputError(path, "read_only", str(exc))
    writable = os.access(path, os.W_OK) if path.exists() else True
    if not (writable and os.access(_existing_parent(path), os.W_OK)):
        return OutputError(path, "permission", str(exc))
    return OutputError(path, "other", str(exc))


def _existing_parent(path: Path) -> Path:
    folder = Path(os.path.abspath(path)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _disk_full(path: Path) -> bool:
    try:
        return os.statvfs(_existing_parent(path)).f_bavail == 0
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False


def _read_only_disk(path: Path) -> bool:
    try:
        return bool(os.statvfs(_existing_parent(path)).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back when a transaction is still open (SQLite ends it itself on a full disk)."""
    if con.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")


def _ensure_core(con: sqlite3.Connection) -> None:
    """Lay down the GeoPackage core in an empty database (inside the caller's transaction).

    A database that already holds tables is left as it is (an older workspace, or any SQLite
    file the user chose: the plan tables are added to it).
    """
    if con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        return
    for statement in _GPKG_CORE:
        con.execute(statement)


@contextlib.contextmanager
def write_transaction(workspace: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """Yield a connection inside one write transaction on the workspace; commit on success.

    The workspace (and its folder) is created when absent, inside the same transaction.

    Raises
    ------
    WorkspaceError
        When the disk is full or read-only, or writing there is not permitted.
    ValueError
        When the file is not a SQLite database (not a GeoPackage).
    """
    path = Path(workspace)
    con = None
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        _ensure_core(con)
        yield con
        con.execute("COMMIT")
    except BaseException as exc:
        if con is not None:
            _rollback(con)
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            raise ValueError(
                f"工作区 {path.name} 不是 GeoPackage（SQLite）文件：请换一个文件名 "
                f"(the workspace {path.name} is not a GeoPackage / SQLite file)"
            ) from exc
        err = _workspace_error(exc, path) if isinstance(exc, Exception) else None
        if err is None or isinstance(exc, WorkspaceError):
            raise
        raise WorkspaceError(path, err.reason, err.detail) from exc
    finally:
        if con is not None:
            con.close()


def ensure_workspace(path: str | os.PathLike[str]) -> None:
    """Create the workspace GeoPackage at ``path`` unless it exists (plans, users, drafts live in it).

    Race-free: creation happens under SQLite's write lock (:func:`write_transaction`).

    Examples
    --------
    >>> import sqlite3, tempfile, pathlib
    >>> ws = pathlib.Path(tempfile.mkdtemp()) / "new" / "ws.gpkg"
    >>> ensure_workspace(ws)
    >>> sqlite3.connect(ws).execute("PRAGMA application_id").fetchone()
    (1196444487,)
    """
    with write_transaction(path):
        pass


def register_table(con: sqlite3.Connection, table: str, description: str) -> None:
    """List an attribute table in ``gpkg_contents`` (when the workspace is a GeoPackage)."""
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_contents'").fetchone():
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
            "VALUES (?, 'attributes', ?, ?)",
            (table, table, description),
        )


def connect_read(path: Path) -> sqlite3.Connection:
    """Open a workspace for reading.

    Read-write when allowed, so SQLite rolls back the hot journal a process killed mid-save
    leaves behind (a read-only connection cannot).
    """
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return sqlite3.connect(path, timeout=30)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
