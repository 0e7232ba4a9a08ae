"""Drafts: the dashboard's plans in progress, kept in the workspace per user and browser tab.

A draft is what a tab's plan is made of — its id, name, how much of its journal is saved and
the journal itself — in the table ``plan_drafts`` of the workspace GeoPackage, written after
every change. :func:`restore_draft` rebuilds the plan (from its saved version when it has one,
else from the as-is assignment) and replays the journal, so a plan in progress survives the
server dropping it from memory and the server's restart.

Policy (bounded, nothing evicted): a draft with **unsaved edits** is removed only by its own
tab (saving keeps it as a clean draft; starting over removes it). At most ``max_per_user``
unsaved drafts per user and ``max_total`` in all: :func:`reserve_draft` refuses another with
:class:`DraftLimit` before the edit is made. Drafts without unsaved edits (their plan is in the
workspace) are pruned oldest first beyond ``max_total``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gridmap.plans.plan import Plan, plan_from_record, replay
from gridmap.plans.state import now
from gridmap.plans.storage import read_plan
from gridmap.plans.workspace import connect_read, register_table, write_transaction

__all__ = [
    "Draft",
    "DraftLimit",
    "draft_secret",
    "drop_draft",
    "reserve_draft",
    "restore_draft",
    "write_draft",
]

_DDL = (
    "CREATE TABLE IF NOT EXISTS plan_drafts (key TEXT PRIMARY KEY, user TEXT NOT NULL, "
    "plan_id TEXT NOT NULL, name TEXT, author TEXT, created TEXT, saved INTEGER NOT NULL, "
    "unsaved INTEGER NOT NULL, stored INTEGER NOT NULL, profile TEXT, journal TEXT NOT NULL, "
    "updated TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS plan_draft_secret (secret BLOB NOT NULL)",
)


@dataclass(frozen=True)
class Draft:
    """What a restored draft was: plan name, unsaved edits, when it was last written (UTC)."""

    name: str
    unsaved: int
    updated: str


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


def _tables(con: sqlite3.Connection) -> None:
    for ddl in _DDL:
        con.execute(ddl)
    register_table(con, "plan_drafts", "gridmap 未保存的方案草稿 (unsaved plan drafts)")


def draft_secret(workspace: str | os.PathLike[str]) -> bytes:
    """The workspace's random key for signing tab ids (made once, race-free)."""
    with write_transaction(workspace) as con:
        _tables(con)
        row = con.execute("SELECT secret FROM plan_draft_secret").fetchone()
        if row is None:
            row = (secrets.token_bytes(32),)
            con.execute("INSERT INTO plan_draft_secret VALUES (?)", row)
        return bytes(row[0])


def reserve_draft(
    workspace: str | os.PathLike[str], key: str, user: str, *, max_per_user: int, max_total: int
) -> None:
    """Make room for tab ``key``'s plan to get unsaved edits, or raise :class:`DraftLimit`."""
    with write_transaction(workspace) as con:
        _tables(con)
        row = con.execute("SELECT unsaved FROM plan_drafts WHERE key = ?", (key,)).fetchone()
        if row is not None and row[0]:
            return
        mine, total = con.execute(
            "SELECT COALESCE(SUM(user = ?), 0), COUNT(*) FROM plan_drafts "
            "WHERE unsaved > 0 AND key != ?",
            (user, key),
        ).fetchone()
        if mine >= max_per_user:
            raise DraftLimit(user, max_per_user, per_user=True)
        if total >= max_total:
            raise DraftLimit(user, max_total, per_user=False)
        con.execute(
            "INSERT INTO plan_drafts (key, user, plan_id, saved, unsaved, stored, journal, "
            "updated) VALUES (?, ?, '', 0, 1, 0, '[]', ?) ON CONFLICT (key) DO UPDATE SET "
            "unsaved = 1",
            (key, user, now()),
        )


def write_draft(
    workspace: str | os.PathLike[str],
    key: str,
    user: str,
    plan: Plan,
    *,
    max_total: int,
) -> None:
    """Keep tab ``key``'s plan as it is now; prune clean drafts beyond ``max_total``."""
    row = [
        key,
        user,
        plan.plan_id,
        plan.name,
        plan.author,
        plan.created,
        plan._saved,
        len(plan.journal) - plan._saved,
        0,  # stored: the plan has a saved version (its units are the draft's base)
        plan.profile.id,
        json.dumps(plan.journal, ensure_ascii=False, default=str),
        now(),
    ]
    with write_transaction(workspace) as con:
        _tables(con)
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'plans'").fetchone():
            found = con.execute("SELECT 1 FROM plans WHERE plan_id = ?", (plan.plan_id,))
            row[8] = int(found.fetchone() is not None)
        con.execute("INSERT OR REPLACE INTO plan_drafts VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
        con.execute(
            "DELETE FROM plan_drafts WHERE unsaved = 0 AND key IN (SELECT key FROM plan_drafts "
            "WHERE unsaved = 0 ORDER BY updated DESC LIMIT -1 OFFSET ?)",
            (max_total,),
        )


def drop_draft(workspace: str | os.PathLike[str], key: str) -> None:
    """Forget tab ``key``'s draft (the tab starts over)."""
    with write_transaction(workspace) as con:
        _tables(con)
        con.execute("DELETE FROM plan_drafts WHERE key = ?", (key,))


def restore_draft(
    workspace: str | os.PathLike[str],
    key: str,
    user: str,
    *,
    fresh: Callable[[], Plan],
) -> tuple[Plan, Draft] | None:
    """Tab ``key``'s plan rebuilt from its draft, or None when it has none (or not ``user``'s).

    ``fresh`` makes an as-is plan: the base of a plan never saved, and the adjacency a saved
    plan of the same units reuses.
    """
    path = Path(workspace)
    if not path.exists():
        return None
    con = connect_read(path)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'plan_drafts'").fetchone():
            return None
        row = con.execute(
            "SELECT plan_id, name, author, created, saved, unsaved, stored, journal, updated "
            "FROM plan_drafts WHERE key = ? AND user = ? AND plan_id != ''",
            (key, user),
        ).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    plan_id, name, author, created, saved, unsaved, stored, journal, updated = row
    plan = _base(path, plan_id, bool(stored), fresh)
    plan.plan_id, plan.name, plan.author, plan.created = plan_id, name, author or "", created
    replay(plan, json.loads(journal))
    plan._saved = int(saved)
    return plan, Draft(name or "", int(unsaved), updated)


def _base(path: Path, plan_id: str, stored: bool, fresh: Callable[[], Plan]) -> Plan:
    """The plan a draft's journal applies to: its saved version's units, else the as-is plan."""
    template = fresh()
    if not stored:
        return template
    try:
        rec = read_plan(path, plan_id)
    except KeyError:  # no longer in the workspace: the journal applies to the as-is plan
        return template
    same = rec["units"].index.equals(template.units.index)
    return plan_from_record(rec, graph=template.graph if same else None)
