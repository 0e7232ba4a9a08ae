"""One auth table (accounts, login sessions) in a workspace of either kind.

The accounts (``gridmap_users``) and the login sessions (``gridmap_sessions``) live next to
the plans: in the workspace GeoPackage (created with the first row, each table registered in
``gpkg_contents`` as an attribute table), or in the workspace schema of a PostGIS database
(tables made by :data:`gridmap.plans.postgis.MIGRATIONS`, reached through
:meth:`gridmap.plans.postgis.PostGISStore.connect`). :class:`AuthTable` runs the same SQL on
both: statements are written with ``?`` placeholders and ``INSERT … ON CONFLICT (…) DO UPDATE``,
which SQLite and PostgreSQL both understand.

>>> import tempfile, pathlib
>>> ddl = "CREATE TABLE IF NOT EXISTS notes (k TEXT PRIMARY KEY, v TEXT)"
>>> table = AuthTable(pathlib.Path(tempfile.mkdtemp()) / "ws.gpkg", "notes", ddl, "notes")
>>> table.exists()
False
>>> table.write("INSERT INTO notes (k, v) VALUES (?, ?)", ("a", "b"))
1
>>> table.read("SELECT v FROM notes WHERE k = ?", ("a",))
[('b',)]
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from gridmap.plans.postgis import PostGISStore, is_database_url
from gridmap.plans.storage import as_workspace, ensure_workspace
from gridmap.plans.workspace import register_table

__all__ = ["AuthTable"]


class AuthTable:
    """A table of the workspace that only gridmap's dashboard reads and writes.

    Parameters
    ----------
    workspace
        The plans GeoPackage, or a ``postgresql://…?schema=…`` URL.
    table
        The table's name.
    ddl
        ``CREATE TABLE IF NOT EXISTS …`` for a GeoPackage (PostGIS: the migration made it).
    description
        Its ``gpkg_contents`` description.
    """

    def __init__(
        self, workspace: str | os.PathLike[str], table: str, ddl: str, description: str
    ) -> None:
        self.workspace: Path | str = as_workspace(workspace)
        self.table = table
        self._ddl = ddl
        self._description = description
        self._store = PostGISStore(str(workspace)) if is_database_url(str(workspace)) else None
        self._made = False

    @property
    def location(self) -> str:
        """The workspace as messages name it (a database URL without its password)."""
        return self._store.location if self._store else str(self.workspace)

    def exists(self) -> bool:
        """Whether the table is there (nothing is created)."""
        if self._store is not None:
            with self._store.connect(create=False) as con:
                name = f'"{self._store.schema}".{self.table}'
                row = con.execute("SELECT to_regclass(%s)", (name,)).fetchone()
                return bool(row and row[0] is not None)
        if not Path(self.workspace).exists():
            return False
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(self._sqlite(sql, (self.table,), write=False)[0])

    def read(self, sql: str, args: tuple = ()) -> list[tuple]:
        """The rows of a query (the table must exist: check :meth:`exists`)."""
        if self._store is not None:
            with self._store.connect(create=False) as con:
                return con.execute(_pg(sql), args).fetchall()
        return self._sqlite(sql, args, write=False)[0]

    def write(self, sql: str, args: tuple = ()) -> int:
        """Run one change in its own transaction (creating the table first); rows changed."""
        if self._store is not None:
            with self._store.connect() as con, con.transaction():
                return con.execute(_pg(sql), args).rowcount
        return self._sqlite(sql, args, write=True)[1]

    def _sqlite(self, sql: str, args: tuple, *, write: bool) -> tuple[list[tuple], int]:
        if write and not self._made:
            ensure_workspace(self.workspace)
        con = sqlite3.connect(self.workspace, timeout=30)
        try:
            with con:
                if write and not self._made:
                    con.execute(self._ddl)
                    register_table(con, self.table, self._description)
                    self._made = True
                cursor = con.execute(sql, args)
                return cursor.fetchall(), cursor.rowcount
        finally:
            con.close()


def _pg(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` placeholders for SQLite's ``?``."""
    return sql.replace("?", "%s")
