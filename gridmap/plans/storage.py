"""Where plans are kept: the store interface and the one function choosing a store.

A workspace is a GeoPackage path (``plans.gpkg``: :class:`~gridmap.plans.geopackage.GeoPackageStore`,
the zero-setup default) or a PostgreSQL URL (``postgresql://user@host/db?schema=gridmap``:
:class:`~gridmap.plans.postgis.PostGISStore`, shared by a city's planners). Both implement
:class:`PlanStore` with the same behaviour — one transaction per save, the journal append-only
in the database, the digest and replay checks on load, :class:`PlanConflict` for a save made
on a stale version — and :func:`open_store` picks one from the workspace. The functions below
(:func:`save_plan`, :func:`read_plan`, :func:`list_plans`, :func:`ensure_workspace`) take
either kind of workspace.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pandas as pd

from gridmap.plans.geopackage import GeoPackageStore
from gridmap.plans.postgis import PostGISStore, is_database_url
from gridmap.plans.records import OnStale, PlanConflict, profile_from_ref, profile_ref
from gridmap.plans.state import PlanState

__all__ = [
    "PlanConflict",
    "PlanStore",
    "Workspace",
    "as_workspace",
    "ensure_workspace",
    "list_plans",
    "open_store",
    "read_journal",
    "read_plan",
    "save_plan",
    "profile_ref",
    "profile_from_ref",
    "workspace_stamp",
]

#: a workspace: a GeoPackage path, or a ``postgresql://`` URL (a string)
Workspace = str | os.PathLike[str]


class PlanStore(Protocol):
    """What a plan store does (:class:`GeoPackageStore`, :class:`PostGISStore`)."""

    @property
    def location(self) -> str:
        """The workspace as messages name it."""
        ...

    def ensure(self) -> None:
        """Create the workspace (tables, schema) unless it exists; race-free."""
        ...

    def save(
        self,
        plan: PlanState,
        *,
        before_commit: Callable[[], object] | None = None,
        on_stale: OnStale | None = None,
    ) -> int:
        """Write ``plan`` in one transaction; the stored plan's new version.

        A stale copy is rebased under the lock by ``on_stale`` when given and possible, else
        refused with :class:`PlanConflict`.
        """
        ...

    def read(self, plan: str) -> dict:
        """The stored parts of a plan by name or id, verified against its digest."""
        ...

    def plans(self) -> pd.DataFrame:
        """The saved plans, oldest first."""
        ...

    def journal_since(self, plan: str, since: int) -> tuple[list[dict], int]:
        """The journal entries of a plan from number ``since`` on, and its stored version."""
        ...


def as_workspace(workspace: Workspace) -> Path | str:
    """The workspace a user named: a ``postgresql://`` URL unchanged, anything else a Path.

    ``Path("postgresql://u@h/db")`` would drop one ``/``; take workspaces from the command
    line or a config through this.

    Examples
    --------
    >>> as_workspace("postgresql://planner@db.example/city?schema=gridmap")
    'postgresql://planner@db.example/city?schema=gridmap'
    >>> as_workspace("plans.gpkg").name
    'plans.gpkg'
    """
    return str(workspace) if is_database_url(str(workspace)) else Path(workspace)


def open_store(workspace: Workspace) -> PlanStore:
    """The store a workspace names: PostGIS for a ``postgresql://`` URL, else a GeoPackage.

    Examples
    --------
    >>> type(open_store("plans.gpkg")).__name__
    'GeoPackageStore'
    >>> type(open_store("postgresql://planner@db.example/city?schema=gridmap")).__name__
    'PostGISStore'
    """
    if is_database_url(workspace):
        return PostGISStore(str(workspace))
    if str(workspace).startswith(("postgresql:", "postgres:")):
        raise ValueError(
            f"工作区 {workspace!s} 像是数据库地址但格式不对：应为 postgresql://用户@主机/库?schema=名 "
            "(a PostGIS workspace is a URL string postgresql://user@host/db?schema=name; "
            "pass it as a str, not a pathlib.Path, which drops one '/')"
        )
    return GeoPackageStore(workspace)


def save_plan(
    plan: PlanState,
    workspace: Workspace,
    *,
    before_commit: Callable[[], object] | None = None,
    on_stale: OnStale | None = None,
) -> Path | str:
    """Write ``plan`` into the workspace in one transaction; the workspace (path or URL).

    See :meth:`gridmap.plans.Plan.save`; ``before_commit`` is called just before COMMIT,
    ``on_stale`` rebases a stale copy under the lock (see :class:`PlanStore`).
    """
    store = open_store(workspace)
    version = store.save(plan, before_commit=before_commit, on_stale=on_stale)
    plan._saved = len(plan.journal)
    plan._stored_version = version
    return Path(workspace) if isinstance(store, GeoPackageStore) else str(workspace)


def read_plan(workspace: Workspace, plan: str) -> dict:
    """The stored parts of a plan (by name or id), its assignment verified against its digest.

    Returns ``plan_id, name, author, created, unit_kind, units`` (GeoDataFrame of the base
    assignment), ``labels`` (the stored current assignment), ``community_names``,
    ``community_offsets``, ``community_attrs``, ``profile`` (the saved reference, or None),
    ``graph`` (the saved adjacency, or None), ``version`` and ``journal`` (entries in order);
    :func:`gridmap.plans.load_plan` turns them into a :class:`~gridmap.plans.Plan`.

    Raises
    ------
    KeyError
        Listing the saved plans, when there is no such plan.
    ValueError
        When the stored assignment does not match its digest.
    """
    return open_store(workspace).read(plan)


def read_journal(workspace: Workspace, plan: str, *, since: int = 0) -> tuple[list[dict], int]:
    """A saved plan's journal entries from number ``since`` on, and its version (no geometry).

    Raises
    ------
    KeyError
        When there is no such plan.
    """
    return open_store(workspace).journal_since(plan, since)


def list_plans(workspace: Workspace) -> pd.DataFrame:
    """The plans saved in a workspace (GeoPackage path or PostGIS URL).

    ``plan_id, name, author, created, updated, units, journal_entries``, oldest first.
    """
    return open_store(workspace).plans()


def ensure_workspace(workspace: Workspace) -> None:
    """Create the workspace unless it exists (race-free): the GeoPackage, or the schema."""
    open_store(workspace).ensure()


def workspace_stamp(workspace: Workspace) -> tuple | None:
    """Something cheap that changes with every write to a GeoPackage workspace; None otherwise.

    The file's identity, size and modification time and SQLite's file change counter (bytes
    24–27 of the header, advanced by every committed write transaction in rollback-journal
    mode), and the same of a ``-wal`` file next to it. Read without taking SQLite's lock, so a
    listing kept under a stamp is read again after a write by any process (another server on
    the same workspace, the CLI). ``None`` for a PostGIS workspace (no stamp without a round
    trip to the database: read it every time) and for a workspace not yet created.

    Read the stamp *before* what it guards: the content read afterwards is at least as new.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ws = pathlib.Path(tempfile.mkdtemp()) / "ws.gpkg"
    >>> workspace_stamp(ws) is None
    True
    >>> ensure_workspace(ws)
    >>> workspace_stamp(ws) == workspace_stamp(ws)
    True
    """
    if is_database_url(workspace):
        return None
    path = Path(workspace)
    try:  # few system calls: a draft write under load waits for the interpreter after each
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        header = os.read(fd, 28)
    except OSError:
        return None
    finally:
        os.close(fd)
    stamp: tuple = (st.st_ino, st.st_size, st.st_mtime_ns, header[24:28])
    try:
        wal = os.stat(f"{path}-wal")
    except OSError:
        return stamp
    return (*stamp, wal.st_size, wal.st_mtime_ns)
