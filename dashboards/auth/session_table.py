"""Login sessions kept in the workspace, so a server restart does not log everyone out.

A table ``gridmap_sessions`` in the workspace GeoPackage holds, per session, the SHA-256 of
its token (never the token), the account name, when it began and when it was last used.
:class:`~dashboards.auth.sessions.SessionStore` keeps its sessions in memory and writes
through to this table; after a restart it finds a browser's session here.

All storage goes through :func:`workspace_sessions` and the five methods of
:class:`SessionTable`, so the sessions can move with the workspace (to PostGIS, say)
by changing this module only.

>>> import tempfile, pathlib
>>> table = workspace_sessions(pathlib.Path(tempfile.mkdtemp()) / "plans.gpkg")
>>> table.save("ab12", "wang", 100.0)
>>> table.load("ab12")
('wang', 100.0, 100.0)
>>> table.delete("ab12"); table.load("ab12") is None
True
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from gridmap.plans.storage import ensure_workspace

__all__ = ["TABLE", "SessionTable", "workspace_sessions"]

#: the sessions table in the workspace GeoPackage
TABLE = "gridmap_sessions"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (digest TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "created REAL NOT NULL, last_seen REAL NOT NULL)"
)


class SessionTable:
    """The sessions table of one workspace GeoPackage (created with the first session).

    Parameters
    ----------
    workspace
        The plans GeoPackage.
    """

    def __init__(self, workspace: str | os.PathLike[str]) -> None:
        self.workspace = Path(workspace)
        self._lock = threading.Lock()
        self._ready = False

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            if not self._ready:
                ensure_workspace(self.workspace)
            con = sqlite3.connect(self.workspace, timeout=30)
            try:
                with con:
                    if not self._ready:
                        con.execute(_DDL)
                        con.execute(
                            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, "
                            "identifier, description) VALUES (?, 'attributes', ?, ?)",
                            (TABLE, TABLE, "gridmap 登录会话 (login sessions, hashed tokens)"),
                        )
                        self._ready = True
                    return con.execute(sql, args).fetchall()
            finally:
                con.close()

    def save(self, digest: str, name: str, now: float) -> None:
        """Record a new session (its token's digest) for account ``name``, begun ``now``."""
        self._run(
            f"INSERT OR REPLACE INTO {TABLE} (digest, name, created, last_seen) VALUES (?, ?, ?, ?)",
            (digest, name, now, now),
        )

    def load(self, digest: str) -> tuple[str, float, float] | None:
        """``(name, created, last_seen)`` of a recorded session, else None."""
        rows = self._run(
            f"SELECT name, created, last_seen FROM {TABLE} WHERE digest = ?", (digest,)
        )
        return (str(rows[0][0]), float(rows[0][1]), float(rows[0][2])) if rows else None

    def touch(self, digest: str, now: float) -> None:
        """Mark a session used at ``now``."""
        self._run(f"UPDATE {TABLE} SET last_seen = ? WHERE digest = ?", (now, digest))

    def delete(self, digest: str) -> None:
        """Forget a session (logout, expiry)."""
        self._run(f"DELETE FROM {TABLE} WHERE digest = ?", (digest,))

    def purge(self, *, idle_before: float, created_before: float) -> None:
        """Forget every session idle since ``idle_before`` or begun before ``created_before``."""
        self._run(
            f"DELETE FROM {TABLE} WHERE last_seen < ? OR created < ?",
            (idle_before, created_before),
        )


def workspace_sessions(workspace: str | os.PathLike[str]) -> SessionTable:
    """The login sessions stored with a workspace (the one place that says where).

    Parameters
    ----------
    workspace
        The plans GeoPackage the accounts live in.

    Returns
    -------
    SessionTable
        Its sessions table.
    """
    return SessionTable(workspace)
