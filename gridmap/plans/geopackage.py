"""The GeoPackage plan store: plans, unit assignments and the journal in the workspace file.

Three attribute tables registered in ``gpkg_contents`` (any GIS lists them):
``plans`` (one row per plan, with its rule profile and version), ``assignments`` (plan × unit)
and ``edit_journal`` (append-only, enforced by triggers). :meth:`GeoPackageStore.save` writes
a plan in one SQLite transaction, holding SQLite's write lock (the workspace file is the unit of
locking); :meth:`GeoPackageStore.read` reads its parts back, verified against the digest.
Workspaces written before a column existed stay loadable.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gridmap.plans.records import (
    LIST_COLUMNS,
    PLAN_COLUMNS,
    OnStale,
    assignment_values,
    changed_units,
    conflict_from,
    is_stale,
    journal_entry,
    journal_values,
    make_record,
    plan_values,
)
from gridmap.plans.state import PlanState, now
from gridmap.plans.workspace import (
    connect_read,
    ensure_workspace,
    register_table,
    write_transaction,
)

__all__ = ["GeoPackageStore"]

_TABLES = {
    "plans": "CREATE TABLE IF NOT EXISTS plans (fid INTEGER PRIMARY KEY AUTOINCREMENT, "
    "plan_id TEXT NOT NULL UNIQUE, "
    "name TEXT NOT NULL UNIQUE, author TEXT, created TEXT, updated TEXT, crs_wkt TEXT, "
    "unit_kind TEXT, "
    "community_names TEXT, digest TEXT, units INTEGER, journal_entries INTEGER, "
    "community_offsets TEXT, community_attrs TEXT, profile TEXT, graph TEXT)",
    "assignments": "CREATE TABLE IF NOT EXISTS assignments (fid INTEGER PRIMARY KEY "
    "AUTOINCREMENT, plan_id TEXT NOT NULL, "
    "unit_id TEXT NOT NULL, base_community_id TEXT, community_id TEXT, households INTEGER, "
    "unit_name TEXT, coordinators REAL, geom_wkb BLOB, UNIQUE (plan_id, unit_id))",
    "edit_journal": "CREATE TABLE IF NOT EXISTS edit_journal (fid INTEGER PRIMARY KEY "
    "AUTOINCREMENT, plan_id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, time TEXT NOT NULL, author TEXT, op TEXT NOT NULL, "
    "params TEXT, "
    "changes TEXT, comment TEXT, UNIQUE (plan_id, seq))",
}
#: columns added after the first release: (table, column, type), added to older workspaces on save
_ADDED = (
    ("plans", "profile", "TEXT"),
    ("plans", "graph", "TEXT"),
    ("plans", "version", "INTEGER"),
    ("plans", "parent", "TEXT"),
)
_DESCRIPTIONS = {
    "plans": "gridmap 调整方案 (plans)",
    "assignments": "gridmap 方案单元归属 (plan assignments)",
    "edit_journal": "gridmap 编辑日志，只追加 (append-only edit journal)",
}


def _ensure_tables(con: sqlite3.Connection) -> None:
    for table, ddl in _TABLES.items():
        con.execute(ddl)
        register_table(con, table, _DESCRIPTIONS[table])
    for table, column, kind in _ADDED:
        if column not in _columns(con, table):
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    for event, suffix in (("UPDATE", "u"), ("DELETE", "d")):
        con.execute(
            f"CREATE TRIGGER IF NOT EXISTS edit_journal_append_only_{suffix} "
            f"BEFORE {event} ON edit_journal "
            "BEGIN SELECT RAISE(ABORT, 'edit_journal is append-only'); END"
        )


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info({table})")}


class GeoPackageStore:
    """Plans in a workspace GeoPackage (any ``.gpkg`` path; created when missing).

    Parameters
    ----------
    path
        The workspace file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def location(self) -> str:
        """The workspace as messages name it."""
        return str(self.path)

    def ensure(self) -> None:
        """Create the workspace GeoPackage unless it exists (race-free)."""
        ensure_workspace(self.path)

    def save(
        self,
        plan: PlanState,
        *,
        before_commit: Callable[[], object] | None = None,
        on_stale: OnStale | None = None,
    ) -> int:
        """Write ``plan`` in one transaction; the new version (see :func:`gridmap.plans.storage.save_plan`)."""
        values = list(plan_values(plan, now(), 0))  # before the lock: it is held only to write
        with write_transaction(self.path) as con:
            _ensure_tables(con)
            labels_before = plan._version
            stored, units = self._check_unsaved(con, plan, on_stale)
            if plan._version != labels_before:  # rebased under the lock: the row anew
                values = list(plan_values(plan, now(), 0))
            version, stamp = stored + 1, now()
            values[PLAN_COLUMNS.index("version")] = version
            values[PLAN_COLUMNS.index("updated")] = stamp
            con.execute("DELETE FROM plans WHERE plan_id = ?", (plan.plan_id,))
            con.execute(
                f"INSERT INTO plans ({', '.join(PLAN_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(PLAN_COLUMNS))})",
                values,
            )
            if plan._stored_version and units == len(plan.units):  # stored = this copy's base
                self._update_labels(con, plan)
            else:
                self._write_assignments(con, plan)
            con.executemany(
                "INSERT INTO edit_journal (plan_id, seq, time, author, op, params, changes, "
                "comment) VALUES (?,?,?,?,?,?,?,?)",
                journal_values(plan),
            )
            con.execute(
                "UPDATE gpkg_contents SET last_change = ? WHERE table_name IN "
                "('plans', 'assignments', 'edit_journal')",
                (stamp.replace("+00:00", "Z"),),
            )
            if before_commit is not None:
                before_commit()
        return version

    @staticmethod
    def _check_unsaved(
        con: sqlite3.Connection, plan: PlanState, on_stale: OnStale | None
    ) -> tuple[int, int | None]:
        """The stored version and unit count (None: not stored); refuse a taken name or a stale copy.

        A stale copy (a plan saved since this copy was loaded) is rebased by ``on_stale`` when
        given and possible, else refused.
        """
        other = con.execute(
            "SELECT plan_id FROM plans WHERE name = ? AND plan_id != ?", (plan.name, plan.plan_id)
        ).fetchone()
        if other:
            raise ValueError(
                f"方案名 {plan.name!r} 已被另一个方案使用 (plan {other[0]}); choose another name"
            )
        row = con.execute(
            "SELECT name, updated, COALESCE(version, 0), units FROM plans WHERE plan_id = ?",
            (plan.plan_id,),
        ).fetchone()
        stored = con.execute(
            "SELECT COUNT(*) FROM edit_journal WHERE plan_id = ?", (plan.plan_id,)
        ).fetchone()[0]
        version = int(row[2]) if row else 0
        if is_stale(plan, stored, version):
            name, updated = (row[0], row[1]) if row else (plan.name, "?")
            rows = con.execute(
                "SELECT seq, time, author, op, params, changes, comment FROM edit_journal "
                "WHERE plan_id = ? AND seq >= ? ORDER BY seq",
                (plan.plan_id, plan._saved),
            ).fetchall()
            theirs = [journal_entry(*r) for r in rows]
            if on_stale is None or not on_stale(theirs, version):
                raise conflict_from(plan, name, updated, version, theirs)
        return version, (row[3] if row else None)

    @staticmethod
    def _update_labels(con: sqlite3.Connection, plan: PlanState) -> None:
        """Only the units this copy's new journal entries changed (the rest is stored already)."""
        units = changed_units(plan.journal[plan._saved :])
        con.executemany(
            "UPDATE assignments SET community_id = ? WHERE plan_id = ? AND unit_id = ?",
            [(str(plan._labels[u]), plan.plan_id, u) for u in units],
        )

    @staticmethod
    def _write_assignments(con: sqlite3.Connection, plan: PlanState) -> None:
        """The plan's rows of ``assignments``: base and current community, households, geometry."""
        con.execute("DELETE FROM assignments WHERE plan_id = ?", (plan.plan_id,))
        values = assignment_values(plan)
        wkb = shapely.to_wkb(np.asarray(plan.units.geometry.values))
        con.executemany(
            "INSERT INTO assignments (plan_id, unit_id, base_community_id, community_id, "
            "households, unit_name, coordinators, geom_wkb) VALUES (?,?,?,?,?,?,?,?)",
            zip([plan.plan_id] * len(plan.units), *values.values(), wkb, strict=True),
        )

    def plans(self) -> pd.DataFrame:
        """The saved plans (:func:`gridmap.plans.list_plans`)."""
        if not self.path.exists():
            return pd.DataFrame(columns=LIST_COLUMNS)
        con = connect_read(self.path)
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'plans'").fetchone():
                return pd.DataFrame(columns=LIST_COLUMNS)
            return pd.read_sql_query(
                f"SELECT {', '.join(LIST_COLUMNS)} FROM plans ORDER BY updated", con
            )
        finally:
            con.close()

    def journal_since(self, plan: str, since: int) -> tuple[list[dict], int]:
        """See :func:`gridmap.plans.storage.read_journal`."""
        if not self.path.exists():
            raise KeyError(f"工作区不存在 / workspace not found: {self.path}")
        con = connect_read(self.path)
        try:
            con.execute("BEGIN")  # the version and the entries of one save
            select = "version" if "version" in _columns(con, "plans") else "0"
            row = con.execute(
                f"SELECT plan_id, COALESCE({select}, 0) FROM plans WHERE plan_id = ? OR name = ?",
                (plan, plan),
            ).fetchone()
            if row is None:
                raise KeyError(f"没有方案 {plan!r}")
            rows = con.execute(
                "SELECT seq, time, author, op, params, changes, comment FROM edit_journal "
                "WHERE plan_id = ? AND seq >= ? ORDER BY seq",
                (row[0], since),
            ).fetchall()
        finally:
            con.close()
        return [journal_entry(*r) for r in rows], int(row[1])

    def read(self, plan: str) -> dict:
        """The stored parts of a plan by name or id (:func:`gridmap.plans.storage.read_plan`)."""
        if not self.path.exists():
            raise KeyError(f"工作区不存在 / workspace not found: {self.path}")
        con = connect_read(self.path)
        try:
            # one read transaction: the plan row, its units and its journal from the same save
            # (a save committing between the reads would fail the replay check)
            con.execute("BEGIN")
            cols = _columns(con, "plans")
            select = [c if c in cols else f"NULL AS {c}" for c in PLAN_COLUMNS]
            cur = con.execute(
                f"SELECT {', '.join(select)} FROM plans WHERE plan_id = ? OR name = ?",
                (plan, plan),
            )
            found = cur.fetchone()
            if found is None:
                names = [r[0] for r in con.execute("SELECT name FROM plans ORDER BY updated")]
                raise KeyError(f"没有方案 {plan!r}；已保存的方案：{', '.join(names) or '（无）'}")
            row = dict(zip(PLAN_COLUMNS, found, strict=True))
            a = pd.read_sql_query(
                "SELECT unit_id, base_community_id, community_id, households, "
                "unit_name, coordinators, geom_wkb FROM assignments "
                "WHERE plan_id = ? ORDER BY fid",
                con,
                params=(row["plan_id"],),
            )
            j = con.execute(
                "SELECT seq, time, author, op, params, changes, comment FROM edit_journal "
                "WHERE plan_id = ? ORDER BY seq",
                (row["plan_id"],),
            ).fetchall()
        finally:
            con.close()
        return make_record(row, a, [journal_entry(*r) for r in j], str(self.path))
