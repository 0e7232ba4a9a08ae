"""Drafts: the dashboard's plans in progress, kept in the workspace per user and browser tab.

A draft is what a tab's plan is made of — its id, name, how much of its journal is saved and
the journal itself — in the table ``plan_drafts`` of the workspace (GeoPackage or PostGIS:
:mod:`gridmap.plans.draft_tables`), written after every change. :func:`restore_draft` rebuilds the plan (from its saved version when it has one,
else from the as-is assignment) and replays the journal, so a plan in progress survives the
server dropping it from memory and the server's restart.

Policy (bounded, nothing evicted): a draft with **unsaved edits** is removed only by its own
tab (saving keeps it as a clean draft; starting over removes it). At most ``max_per_user``
unsaved drafts per user and ``max_total`` in all: :func:`reserve_draft` refuses another with
:class:`DraftLimit` before the edit is made. Drafts without unsaved edits (their plan is in the
workspace) are pruned oldest first beyond ``max_total``.

Group commit: the drafts that several threads of one process write to one workspace at the
same time go into one transaction (:class:`_GroupCommit`), written by one of them while the
others wait for it; each :func:`write_draft` returns only once its draft is committed (or
raises what the transaction raised). Twenty planners editing at once then wait for one or two
commits, not for twenty in turn behind SQLite's lock; reservations and drops of this process
queue for the same writer's turn (in order, instead of in SQLite's growing busy sleeps).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gridmap.plans.draft_tables import DraftLimit, draft_table
from gridmap.plans.plan import Plan, plan_from_record, replay
from gridmap.plans.state import now
from gridmap.plans.storage import Workspace, read_plan

__all__ = [
    "Draft",
    "DraftLimit",
    "draft_secret",
    "unsaved_drafts",
    "drop_draft",
    "reserve_draft",
    "restore_draft",
    "write_draft",
]


@dataclass(frozen=True)
class Draft:
    """What a restored draft was: plan name, unsaved edits, when it was last written (UTC)."""

    name: str
    unsaved: int
    updated: str


def draft_secret(workspace: Workspace) -> bytes:
    """The workspace's random key for signing tab ids (made once, race-free)."""
    return draft_table(workspace).secret()


def reserve_draft(
    workspace: Workspace, key: str, user: str, *, max_per_user: int, max_total: int
) -> None:
    """Make room for tab ``key``'s plan to get unsaved edits, or raise :class:`DraftLimit`."""
    with _group(workspace).writing:
        draft_table(workspace).reserve(key, user, max_per_user=max_per_user, max_total=max_total)


def write_draft(
    workspace: Workspace,
    key: str,
    user: str,
    plan: Plan,
    *,
    max_total: int,
) -> tuple | None:
    """Keep tab ``key``'s plan as it is now; prune clean drafts beyond ``max_total``.

    Returns the workspace's stamps (:func:`gridmap.plans.storage.workspace_stamp`) before and
    after the transaction that wrote it and the ``(key, user)`` of every draft it wrote, when
    that was known to be the only change between the stamps (so what those drafts do not
    touch, e.g. the saved plans, is still as it was), else None.
    """
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
    return _group(workspace).write(row, max_total=max_total)


class _GroupCommit:
    """Draft rows of one workspace written by whichever waiting thread comes first, together.

    A thread queues its row (a newer row of the same tab replaces a queued older one) and
    waits until the batch holding it is committed; when no batch is being written, it writes
    every queued row itself in one transaction.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        #: held by whoever writes drafts to the workspace in this process (a batch, a
        #: reservation, a drop): they queue here, in order, not in SQLite's busy sleeps
        self.writing = threading.Lock()
        self._cond = threading.Condition()
        self._queued: dict[str, tuple[list, int]] = {}
        self._next = 0  #: number of the batch being queued
        self._done = -1  #: number of the last batch written
        self._writing = False
        self._errors: dict[int, BaseException] = {}
        self._stamps: dict[int, tuple | None] = {}  #: per batch: its stamps (see write_draft)

    def write(self, row: list, *, max_total: int) -> tuple | None:
        with self._cond:
            self._queued[row[0]] = (row, max_total)
            mine = self._next
            while self._done < mine:
                if self._writing:
                    self._cond.wait()
                    continue
                batch, number = self._queued, self._next
                self._queued, self._next, self._writing = {}, self._next + 1, True
                self._cond.release()
                error: BaseException | None = None
                stamps = None
                try:
                    rows = [r for r, _ in batch.values()]
                    limit = min(m for _, m in batch.values())
                    with self.writing:
                        stamps = draft_table(self.workspace).write(rows, max_total=limit)
                except BaseException as exc:  # every writer of the batch raises it
                    error = exc
                finally:
                    self._cond.acquire()
                    self._writing, self._done = False, number
                    if error is not None:
                        self._errors[number] = error
                    self._stamps[number] = stamps
                    for old in [n for n in self._errors if n < number - 64]:
                        del self._errors[old]
                    for old in [n for n in self._stamps if n < number - 64]:
                        del self._stamps[old]
                    self._cond.notify_all()
            error = self._errors.get(mine)
            stamps = self._stamps.get(mine)
        if error is not None:
            raise error
        return stamps


_GROUPS: dict[str, _GroupCommit] = {}
_GROUPS_LOCK = threading.Lock()


def _group(workspace: Workspace) -> _GroupCommit:
    """The group commit of ``workspace`` in this process."""
    key = os.fspath(workspace)
    with _GROUPS_LOCK:
        if key not in _GROUPS:
            _GROUPS[key] = _GroupCommit(workspace)
        return _GROUPS[key]


def unsaved_drafts(workspace: Workspace, user: str, *, besides: str) -> list[tuple]:
    """``(key, name, unsaved, updated)`` of ``user``'s drafts with unsaved edits, newest first.

    Tab ``besides`` (the asking tab) is left out; drafts not yet holding a plan are too.
    """
    return draft_table(workspace).unsaved(user, besides)


def drop_draft(workspace: Workspace, key: str) -> None:
    """Forget tab ``key``'s draft (the tab starts over)."""
    with _group(workspace).writing:
        draft_table(workspace).drop(key)


def restore_draft(
    workspace: Workspace,
    key: str,
    user: str,
    *,
    fresh: Callable[[], Plan],
) -> tuple[Plan, Draft] | None:
    """Tab ``key``'s plan rebuilt from its draft, or None when it has none (or not ``user``'s).

    ``fresh`` makes an as-is plan: the base of a plan never saved, and the adjacency a saved
    plan of the same units reuses.
    """
    row = draft_table(workspace).read(key, user)
    if row is None:
        return None
    plan, version = _base(workspace, row["plan_id"], bool(row["stored"]), fresh)
    plan.plan_id, plan.name = row["plan_id"], row["name"]
    plan.author, plan.created = row["author"] or "", row["created"]
    replay(plan, json.loads(row["journal"]))
    plan._saved = int(row["saved"])
    if version is not None and version[1] == plan._saved:  # the stored plan is the draft's base
        plan._stored_version = version[0]
    return plan, Draft(row["name"] or "", int(row["unsaved"]), row["updated"])


def _base(
    workspace: Workspace, plan_id: str, stored: bool, fresh: Callable[[], Plan]
) -> tuple[Plan, tuple[int, int] | None]:
    """The plan a draft's journal applies to: its saved version's units, else the as-is plan.

    With the saved version's (version, journal length) when there is one.
    """
    template = fresh()
    if not stored:
        return template, None
    try:
        rec = read_plan(workspace, plan_id)
    except KeyError:  # no longer in the workspace: the journal applies to the as-is plan
        return template, None
    same = rec["units"].index.equals(template.units.index)
    base = plan_from_record(rec, graph=template.graph if same else None)
    return base, (rec["version"], len(rec["journal"]))
