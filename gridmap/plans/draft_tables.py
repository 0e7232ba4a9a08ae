"""Where drafts are kept: the ``plan_drafts`` table of a GeoPackage or a PostGIS workspace.

:func:`draft_table` picks the implementation from the workspace (as
:func:`gridmap.plans.storage.open_store` does for plans); :mod:`gridmap.plans.drafts` holds
the policy and rebuilds plans from what these tables return. Both keep the same rows; the
GeoPackage serialises writers with SQLite's write lock, PostGIS with row upserts and, for the
count a reservation checks, a transaction-scoped advisory lock (no table lock).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path
from typing import Protocol

from gridmap.plans.postgis import PostGISStore, is_database_url
from gridmap.plans.state import now
from gridmap.plans.storage import workspace_stamp
from gridmap.plans.workspace import connect_read, register_table, write_transaction

__all__ = ["DraftLimit", "DraftTable", "draft_table", "DRAFT_COLUMNS"]

#: the columns of a draft row, in the order :meth:`DraftTable.write` takes them
DRAFT_COLUMNS = (
    "key", "user", "plan_id", "name", "author", "created", "saved", "unsaved", "stored",
    "profile", "journal", "updated",
)  # fmt: skip
#: what :meth:`DraftTable.read` returns, in order
_READ = ("plan_id", "name", "author", "created", "saved", "unsaved", "stored", "journal", "updated")

#: a user's other drafts with unsaved edits, newest first (``?`` placeholders)
_UNSAVED = (
    'SELECT key, name, unsaved, updated FROM plan_drafts WHERE "user" = ? AND key != ? '
    "AND plan_id != '' AND unsaved > 0 ORDER BY updated DESC"
)

#: which of the tables a draft write needs exist
_PRESENT = "SELECT name FROM sqlite_master WHERE name IN ('plan_drafts', 'plans')"
#: a draft row (:data:`DRAFT_COLUMNS`); ``stored`` (the 9th) is whether its plan is saved
_UPSERT = (
    "INSERT OR REPLACE INTO plan_drafts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
    "EXISTS (SELECT 1 FROM plans WHERE plan_id = ?3), ?10, ?11, ?12)"
)
#: the same in a workspace without saved plans
_UPSERT_NO_PLANS = (
    "INSERT OR REPLACE INTO plan_drafts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?10, ?11, ?12)"
)

_DDL = (
    "CREATE TABLE IF NOT EXISTS plan_drafts (key TEXT PRIMARY KEY, user TEXT NOT NULL, "
    "plan_id TEXT NOT NULL, name TEXT, author TEXT, created TEXT, saved INTEGER NOT NULL, "
    "unsaved INTEGER NOT NULL, stored INTEGER NOT NULL, profile TEXT, journal TEXT NOT NULL, "
    "updated TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS plan_draft_secret (secret BLOB NOT NULL)",
)


class DraftLimit(Exception):
    """No room for another draft with unsaved edits; nothing was changed.

    ``per_user`` says which limit (the user's own or the workspace's), ``limit`` its value.
    """

    def __init__(self, user: str, limit: int, *, per_user: bool):
        self.user, self.limit, self.per_user = user, limit, per_user
        scope = f"user {user!r} has" if per_user else "the workspace holds"
        super().__init__(
            f"{scope} {limit} drafts with unsaved edits already: save or start over one first"
        )


def _check_room(user: str, mine: int, total: int, max_per_user: int, max_total: int) -> None:
    if mine >= max_per_user:
        raise DraftLimit(user, max_per_user, per_user=True)
    if total >= max_total:
        raise DraftLimit(user, max_total, per_user=False)


def _only_change(before: tuple | None, after: tuple | None, rows: list[list]) -> tuple | None:
    """``(before, after, written)`` when one transaction separates the two stamps, else None.

    ``written``: the ``(key, user)`` of every draft ``rows`` wrote.

    SQLite's file change counter (rollback-journal mode) advances by one per committed write
    transaction; a ``-wal`` file (more stamp fields) keeps it still, so nothing is known there.
    """
    if before is None or after is None or len(before) != 4 or len(after) != 4:
        return None
    counter = int.from_bytes(before[3], "big"), int.from_bytes(after[3], "big")
    if counter[1] != counter[0] + 1:
        return None
    return before, after, tuple((str(r[0]), str(r[1])) for r in rows)


class DraftTable(Protocol):
    """The draft rows of one workspace."""

    def secret(self) -> bytes:
        """The workspace's random key for signing tab ids (made once, race-free)."""
        ...

    def reserve(self, key: str, user: str, *, max_per_user: int, max_total: int) -> None:
        """Mark tab ``key``'s draft as having unsaved edits, or raise :class:`DraftLimit`."""
        ...

    def write(self, rows: list[list], *, max_total: int) -> tuple | None:
        """Upsert drafts (:data:`DRAFT_COLUMNS`, ``stored`` filled in) in one transaction.

        Clean drafts beyond ``max_total`` are pruned in the same transaction. Returns the
        workspace's stamps (:func:`gridmap.plans.storage.workspace_stamp`) before and after it
        and the ``(key, user)`` of the drafts written, when this transaction is known to be the
        only change between the stamps, else None.
        """
        ...

    def drop(self, key: str) -> None:
        """Forget tab ``key``'s draft."""
        ...

    def read(self, key: str, user: str) -> dict | None:
        """Tab ``key``'s draft of ``user`` (plan_id … updated), None when there is none."""
        ...

    def unsaved(self, user: str, besides: str) -> list[tuple]:
        """``(key, name, unsaved, updated)`` of ``user``'s other drafts with unsaved edits."""
        ...


def draft_table(workspace: str | os.PathLike[str]) -> DraftTable:
    """The drafts of a workspace: PostGIS for a ``postgresql://`` URL, else its GeoPackage."""
    if is_database_url(workspace):
        return PostGISDrafts(str(workspace))
    return GeoPackageDrafts(workspace)


class GeoPackageDrafts:
    """Drafts in the workspace GeoPackage (``plan_drafts``, registered in ``gpkg_contents``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @staticmethod
    def _tables(con: sqlite3.Connection) -> None:
        for ddl in _DDL:
            con.execute(ddl)
        register_table(con, "plan_drafts", "gridmap 未保存的方案草稿 (unsaved plan drafts)")

    def secret(self) -> bytes:
        """See :meth:`DraftTable.secret`."""
        with write_transaction(self.path) as con:
            self._tables(con)
            row = con.execute("SELECT secret FROM plan_draft_secret").fetchone()
            if row is None:
                row = (secrets.token_bytes(32),)
                con.execute("INSERT INTO plan_draft_secret VALUES (?)", row)
            return bytes(row[0])

    def reserve(self, key: str, user: str, *, max_per_user: int, max_total: int) -> None:
        """See :meth:`DraftTable.reserve`."""
        with write_transaction(self.path) as con:
            self._tables(con)
            row = con.execute("SELECT unsaved FROM plan_drafts WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0]:
                return
            mine, total = con.execute(
                "SELECT COALESCE(SUM(user = ?), 0), COUNT(*) FROM plan_drafts "
                "WHERE unsaved > 0 AND key != ?",
                (user, key),
            ).fetchone()
            _check_room(user, mine, total, max_per_user, max_total)
            con.execute(
                "INSERT INTO plan_drafts (key, user, plan_id, saved, unsaved, stored, journal, "
                "updated) VALUES (?, ?, '', 0, 1, 0, '[]', ?) ON CONFLICT (key) DO UPDATE SET "
                "unsaved = 1",
                (key, user, now()),
            )

    def write(self, rows: list[list], *, max_total: int) -> tuple | None:
        """See :meth:`DraftTable.write`.

        Few statements (each one lets other threads take the interpreter's lock, and under
        load each costs a wait for it): the tables are made only when absent, ``stored`` is
        looked up inside the upsert.
        """
        with write_transaction(self.path) as con:
            # no other writer can commit while this transaction holds SQLite's reserved lock
            before = workspace_stamp(self.path)
            present = {name for (name,) in con.execute(_PRESENT)}
            if "plan_drafts" not in present:
                self._tables(con)
            con.executemany(_UPSERT if "plans" in present else _UPSERT_NO_PLANS, rows)
            con.execute(
                "DELETE FROM plan_drafts WHERE unsaved = 0 AND key IN (SELECT key FROM "
                "plan_drafts WHERE unsaved = 0 ORDER BY updated DESC LIMIT -1 OFFSET ?)",
                (max_total,),
            )
        return _only_change(before, workspace_stamp(self.path), rows)

    def drop(self, key: str) -> None:
        """See :meth:`DraftTable.drop`."""
        with write_transaction(self.path) as con:
            self._tables(con)
            con.execute("DELETE FROM plan_drafts WHERE key = ?", (key,))

    def read(self, key: str, user: str) -> dict | None:
        """See :meth:`DraftTable.read`."""
        if not self.path.exists():
            return None
        con = connect_read(self.path)
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'plan_drafts'").fetchone():
                return None
            row = con.execute(
                f"SELECT {', '.join(_READ)} FROM plan_drafts "
                "WHERE key = ? AND user = ? AND plan_id != ''",
                (key, user),
            ).fetchone()
        finally:
            con.close()
        return None if row is None else dict(zip(_READ, row, strict=True))

    def unsaved(self, user: str, besides: str) -> list[tuple]:
        """See :meth:`DraftTable.unsaved`."""
        if not self.path.exists():
            return []
        con = connect_read(self.path)
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'plan_drafts'").fetchone():
                return []
            return con.execute(_UNSAVED, (user, besides)).fetchall()
        finally:
            con.close()


class PostGISDrafts:
    """Drafts in the PostGIS workspace's schema (tables of migration 2)."""

    def __init__(self, url: str) -> None:
        self.store = PostGISStore(url)

    def secret(self) -> bytes:
        """See :meth:`DraftTable.secret`."""
        with self.store.connect() as con, con.transaction():
            con.execute(
                "INSERT INTO plan_draft_secret (id, secret) VALUES (1, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (secrets.token_bytes(32),),
            )
            row = con.execute("SELECT secret FROM plan_draft_secret WHERE id = 1").fetchone()
            return bytes(row[0]) if row else b""

    def reserve(self, key: str, user: str, *, max_per_user: int, max_total: int) -> None:
        """See :meth:`DraftTable.reserve`."""
        with self.store.connect() as con, con.transaction():
            # the counts below must not change under us until COMMIT: one advisory lock per
            # schema for reservations (a tab's first edit), rows are never locked for long
            con.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"gridmap-drafts:{self.store.schema}",),
            )
            row = con.execute("SELECT unsaved FROM plan_drafts WHERE key = %s", (key,)).fetchone()
            if row is not None and row[0]:
                return
            counts = con.execute(
                'SELECT COALESCE(SUM(("user" = %s)::int), 0), COUNT(*) FROM plan_drafts '
                "WHERE unsaved > 0 AND key != %s",
                (user, key),
            ).fetchone()
            mine, total = counts if counts else (0, 0)
            _check_room(user, int(mine), int(total), max_per_user, max_total)
            con.execute(
                'INSERT INTO plan_drafts (key, "user", plan_id, saved, unsaved, stored, journal, '
                "updated) VALUES (%s, %s, '', 0, 1, 0, '[]', %s) ON CONFLICT (key) DO UPDATE SET "
                "unsaved = 1",
                (key, user, now()),
            )

    def write(self, rows: list[list], *, max_total: int) -> tuple | None:
        """See :meth:`DraftTable.write` (never known here: None)."""
        cols = ", ".join(f'"{c}"' for c in DRAFT_COLUMNS)
        sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in DRAFT_COLUMNS[1:])
        with self.store.connect() as con, con.transaction():
            for row in rows:
                found = con.execute("SELECT 1 FROM plans WHERE plan_id = %s", (row[2],))
                row[8] = int(found.fetchone() is not None)
                con.execute(
                    f"INSERT INTO plan_drafts ({cols}) VALUES ({', '.join(['%s'] * len(row))}) "
                    f"ON CONFLICT (key) DO UPDATE SET {sets}",
                    row,
                )
            con.execute(
                "DELETE FROM plan_drafts WHERE unsaved = 0 AND key IN (SELECT key FROM "
                "plan_drafts WHERE unsaved = 0 ORDER BY updated DESC OFFSET %s)",
                (max_total,),
            )

        return None

    def drop(self, key: str) -> None:
        """See :meth:`DraftTable.drop`."""
        with self.store.connect() as con:
            con.execute("DELETE FROM plan_drafts WHERE key = %s", (key,))

    def read(self, key: str, user: str) -> dict | None:
        """See :meth:`DraftTable.read`."""
        with self.store.connect() as con:
            row = con.execute(
                f"SELECT {', '.join(_READ)} FROM plan_drafts "
                "WHERE key = %s AND \"user\" = %s AND plan_id != ''",
                (key, user),
            ).fetchone()
        return None if row is None else dict(zip(_READ, row, strict=True))

    def unsaved(self, user: str, besides: str) -> list[tuple]:
        """See :meth:`DraftTable.unsaved`."""
        with self.store.connect() as con:
            return con.execute(_UNSAVED.replace("?", "%s"), (user, besides)).fetchall()
