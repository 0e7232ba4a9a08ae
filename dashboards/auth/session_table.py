"""Login sessions kept in the workspace, so a server restart does not log everyone out.

A table ``gridmap_sessions`` in the workspace (the GeoPackage, or the PostGIS workspace's
schema) holds, per session, the SHA-256 of its token (never the token), the account name,
when it began and when it was last used. :class:`~dashboards.auth.sessions.SessionStore`
keeps its sessions in memory and writes through to this table; after a restart it finds a
browser's session here.

All storage goes through :func:`workspace_sessions` and the five methods of
:class:`SessionTable` (SQL run by :class:`~dashboards.auth.tables.AuthTable` on either store).

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
import threading
from pathlib import Path

from dashboards.auth.tables import AuthTable

__all__ = ["TABLE", "SessionTable", "workspace_sessions"]

#: the sessions table in the workspace
TABLE = "gridmap_sessions"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (digest TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "created REAL NOT NULL, last_seen REAL NOT NULL)"
)


class SessionTable:
    """The sessions table of one workspace (created with the first session).

    Parameters
    ----------
    workspace
        The plans GeoPackage or a ``postgresql://`` URL.
    """

    def __init__(self, workspace: str | os.PathLike[str]) -> None:
        description = "gridmap 登录会话 (login sessions, hashed tokens)"
        self._table = AuthTable(workspace, TABLE, _DDL, description)
        self.workspace: Path | str = self._table.workspace
        self._lock = threading.Lock()
        self._ready = False

    def _run(self, sql: str, args: tuple = (), *, rows: bool = False) -> list[tuple]:
        with self._lock:
            if rows and not self._ready:
                if not self._table.exists():
                    return []
                self._ready = True
            if rows:
                return self._table.read(sql, args)
            self._table.write(sql, args)
            self._ready = True
            return []

    def save(self, digest: str, name: str, now: float) -> None:
        """Record a new session (its token's digest) for account ``name``, begun ``now``."""
        self._run(
            f"INSERT INTO {TABLE} (digest, name, created, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (digest) DO UPDATE SET name = excluded.name, "
            "created = excluded.created, last_seen = excluded.last_seen",
            (digest, name, now, now),
        )

    def load(self, digest: str) -> tuple[str, float, float] | None:
        """``(name, created, last_seen)`` of a recorded session, else None."""
        rows = self._run(
            f"SELECT name, created, last_seen FROM {TABLE} WHERE digest = ?", (digest,), rows=True
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
        The plans GeoPackage or ``postgresql://`` URL the accounts live in.

    Returns
    -------
    SessionTable
        Its sessions table.
    """
    return SessionTable(workspace)
