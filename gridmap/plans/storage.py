"""The plans workspace: a GeoPackage holding plans, their unit assignments and the edit journal.

Three attribute tables registered in ``gpkg_contents`` (any GIS lists them):
``plans`` (one row per plan, with its rule profile), ``assignments`` (plan × unit)
and ``edit_journal`` (append-only, enforced by triggers). :func:`save_plan` writes
a plan in one SQLite transaction; :func:`read_plan` reads its parts back, verified against
the digest, and :func:`gridmap.plans.load_plan` replays the journal. Workspaces written
before a column existed stay loadable.

A plan's profile is stored as a reference :func:`profile_from_ref` loads again: a built-in's
name, else the path of its file, with an explicit band override
(:meth:`gridmap.rules.Profile.with_band`) kept as ``[min–max]`` after it, as in the
profile's id (``national[1200–3000]``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame
from pyproj import CRS
from scipy import sparse

from gridmap.adjacency import adjacency_from_pairs
from gridmap.plans.state import PlanState, now
from gridmap.plans.workspace import (
    connect_read,
    ensure_workspace,
    register_table,
    write_transaction,
)
from gridmap.rules import Profile, load_profile

__all__ = [
    "PlanConflict",
    "ensure_workspace",
    "list_plans",
    "read_plan",
    "save_plan",
    "profile_ref",
    "profile_from_ref",
]

#: a band override after a profile reference: ``national[1200–3000]``
_BAND = re.compile(r"^(?P<ref>.+)\[(?P<min>[^\[\]–]*)–(?P<max>[^\[\]–]*)\]$")


def _digest(labels: pd.Series) -> str:
    pairs = sorted(zip(labels.index.astype(str), labels.astype(str), strict=True))
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()


def _attrs_from_json(text):
    if not text:
        return None
    frame = pd.read_json(io.StringIO(text), orient="split", dtype=False, convert_axes=False)
    frame.index = frame.index.astype(str)
    return frame


def profile_ref(profile: Profile) -> str:
    """What :func:`profile_from_ref` needs to load the profile again.

    A built-in's name, else the path of its file, followed by a band override of
    :meth:`~gridmap.rules.Profile.with_band`.

    Examples
    --------
    >>> from gridmap.rules import load_profile
    >>> profile_ref(load_profile("national").with_band(min=1200))
    'national[1200–3000]'
    """
    bands: list[str] = []
    pid = profile.id
    while (m := _BAND.match(pid)) is not None:  # with_band of with_band: one suffix each
        bands.insert(0, pid[len(m["ref"]) :])
        pid = m["ref"]
    if not profile.path or profile.path.startswith("gridmap/profiles/"):
        return profile.id
    return str(Path(profile.path).resolve()) + "".join(bands)


def profile_from_ref(ref: str) -> Profile:
    """Load the profile :func:`profile_ref` names, band override included.

    Examples
    --------
    >>> p = profile_from_ref("national[1200–3000]")
    >>> p.id, p.size_band().min, p.size_band().max
    ('national[1200–3000]', 1200, 3000)
    """
    m = _BAND.match(ref)
    if m is None:
        return load_profile(ref)
    return profile_from_ref(m["ref"]).with_band(min=_number(m["min"]), max=_number(m["max"]))


def _number(text: str) -> float | None:
    """``"1200"`` → 1200, ``"1200.5"`` → 1200.5, ``"None"`` → None (a band without that end)."""
    if text in ("None", ""):
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def _graph_json(graph) -> str:
    """The unit adjacency as ``[[i, j], …]`` (positions in the stored unit order, i < j).

    A reloaded plan edits with the adjacency it was made with (the planning adjacency needs the
    community polygons, which the workspace does not hold).
    """
    i, j = sparse.triu(sparse.csr_array(graph), k=1).nonzero()
    return json.dumps(np.column_stack([i, j]).tolist())


def _graph_from_json(text: str | None, n: int) -> sparse.csr_array | None:
    """The stored adjacency, or None (plans saved before it was stored: rebuilt from the units)."""
    if not text:
        return None
    pairs = np.asarray(json.loads(text), dtype=np.int64).reshape(-1, 2)
    if len(pairs) and pairs.max() >= n:
        return None
    return adjacency_from_pairs(pairs[:, 0], pairs[:, 1], n)


def save_plan(
    plan: PlanState,
    workspace: str | os.PathLike,
    *,
    before_commit: Callable[[], object] | None = None,
) -> Path:
    """Write ``plan`` into the workspace GeoPackage in one transaction.

    See :meth:`gridmap.plans.Plan.save`; ``before_commit`` is called just before COMMIT.
    """
    path = Path(workspace)
    with write_transaction(path) as con:
        _ensure_tables(con)
        _check_unsaved(con, plan)
        stamp = now()
        _write_plan_row(con, plan, stamp)
        _write_assignments(con, plan)
        _append_journal(con, plan)
        con.execute(
            "UPDATE gpkg_contents SET last_change = ? WHERE table_name IN "
            "('plans', 'assignments', 'edit_journal')",
            (stamp.replace("+00:00", "Z"),),
        )
        if before_commit is not None:
            before_commit()
    plan._saved = len(plan.journal)
    return path


class PlanConflict(ValueError):
    """The plan was saved by someone else since this copy was loaded; nothing was written.

    Nothing is lost: the copy is unchanged and can be saved under a new name
    (:meth:`gridmap.plans.Plan.save_as`).

    Attributes
    ----------
    plan
        The plan's name in the workspace.
    authors
        Who saved the edits this copy does not know, in order of their first edit.
    saved_at
        When the stored plan was last saved (ISO 8601, UTC).
    entries
        How many journal entries were stored meanwhile.
    units
        How many units those entries changed.
    """

    def __init__(self, plan: str, authors: list[str], saved_at: str, entries: int, units: int):
        self.plan, self.authors, self.saved_at = plan, authors, saved_at
        self.entries, self.units = entries, units
        who = "、".join(authors) or "?"
        super().__init__(
            f"方案“{plan}”在您载入之后已由 {who} 于 {saved_at} 保存"
            f"（{entries} 步编辑，改动 {units} 个单元）；本次没有保存，您的版本仍在："
            f"请用新名称另存 (plan {plan!r} was saved by {', '.join(authors) or '?'} at "
            f"{saved_at} since this copy was loaded: {entries} edits changing {units} units; "
            "nothing was written and this copy is intact: save it under a new name with "
            "Plan.save_as(workspace, name))"
        )


def _check_unsaved(con: sqlite3.Connection, plan: PlanState) -> None:
    """Refuse a name another plan has, or a plan saved elsewhere since this copy was loaded."""
    other = con.execute(
        "SELECT plan_id FROM plans WHERE name = ? AND plan_id != ?", (plan.name, plan.plan_id)
    ).fetchone()
    if other:
        raise ValueError(
            f"方案名 {plan.name!r} 已被另一个方案使用 (plan {other[0]}); choose another name"
        )
    stored = con.execute(
        "SELECT COUNT(*) FROM edit_journal WHERE plan_id = ?", (plan.plan_id,)
    ).fetchone()[0]
    if stored != plan._saved:
        raise _conflict(con, plan)


def _conflict(con: sqlite3.Connection, plan: PlanState) -> PlanConflict:
    """What was stored of ``plan`` that this copy does not know."""
    name, updated = con.execute(
        "SELECT name, updated FROM plans WHERE plan_id = ?", (plan.plan_id,)
    ).fetchone() or (plan.name, "?")
    rows = con.execute(
        "SELECT author, changes FROM edit_journal WHERE plan_id = ? AND seq >= ? ORDER BY seq",
        (plan.plan_id, plan._saved),
    ).fetchall()
    authors = list(dict.fromkeys(a or "?" for a, _ in rows))
    units = {c[0] for _, changes in rows for c in json.loads(changes or "[]")}
    return PlanConflict(name, authors, updated, len(rows), len(units))


def _write_plan_row(con: sqlite3.Connection, plan: PlanState, stamp: str) -> None:
    """The plan's row of ``plans`` (replaced)."""
    con.execute("DELETE FROM plans WHERE plan_id = ?", (plan.plan_id,))
    con.execute(
        "INSERT INTO plans (plan_id, name, author, created, updated, crs_wkt, unit_kind, "
        "community_names, digest, units, journal_entries, community_offsets, community_attrs, "
        "profile, graph) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            plan.plan_id,
            plan.name,
            plan.author,
            plan.created,
            stamp,
            plan.units.crs.to_wkt() if plan.units.crs is not None else None,
            plan.unit_kind,
            json.dumps(plan.community_names, ensure_ascii=False),
            _digest(plan._labels),
            len(plan.units),
            len(plan.journal),
            json.dumps(plan.offsets, ensure_ascii=False),
            plan.community_attrs.to_json(orient="split", force_ascii=False, default_handler=str),
            profile_ref(plan.profile),
            _graph_json(plan.graph),
        ),
    )


def _write_assignments(con: sqlite3.Connection, plan: PlanState) -> None:
    """The plan's rows of ``assignments``: base and current community, households, geometry."""
    con.execute("DELETE FROM assignments WHERE plan_id = ?", (plan.plan_id,))
    u = plan.units
    wkb = shapely.to_wkb(np.asarray(u.geometry.values))
    names = u["name"].astype(str).tolist() if "name" in u.columns else [None] * len(u)
    coords = (
        u["coordinators"].astype("float64").where(u["coordinators"].notna(), None).tolist()
        if "coordinators" in u.columns
        else [None] * len(u)
    )
    households = [None if np.isnan(h) else int(h) for h in plan._hh_float]
    con.executemany(
        "INSERT INTO assignments (plan_id, unit_id, base_community_id, community_id, households, "
        "unit_name, coordinators, geom_wkb) VALUES (?,?,?,?,?,?,?,?)",
        zip(
            [plan.plan_id] * len(u),
            u.index.tolist(),
            u["community_id"].tolist(),
            plan._labels.astype(str).tolist(),
            households,
            names,
            coords,
            wkb,
            strict=True,
        ),
    )


def _append_journal(con: sqlite3.Connection, plan: PlanState) -> None:
    """The journal entries not yet stored (entries already stored are never rewritten)."""
    con.executemany(
        "INSERT INTO edit_journal (plan_id, seq, time, author, op, params, changes, comment) "
        "VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                plan.plan_id,
                e["seq"],
                e["time"],
                e["author"],
                e["op"],
                json.dumps(e["params"], ensure_ascii=False),
                json.dumps(e["changes"], ensure_ascii=False),
                e["comment"],
            )
            for e in plan.journal[plan._saved :]
        ],
    )


# --------------------------------------------------------------------------- workspace


_TABLES = {
    "plans": "CREATE TABLE IF NOT EXISTS plans (fid INTEGER PRIMARY KEY AUTOINCREMENT, "
    "plan_id TEXT NOT NULL UNIQUE, "
    "name TEXT NOT NULL UNIQUE, author TEXT, created TEXT, updated TEXT, crs_wkt TEXT, "
    "unit_kind TEXT, "
    "community_names TEXT, digest TEXT, units INTEGER, journal_entries INTEGER, "
    "community_offsets TEXT, community_attrs TEXT, profile TEXT, graph TEXT)",
    "assignments": "CREATE TABLE IF NOT EXISTS assignments (fid INTEGER PRIMARY KEY AUTOINCREMENT, "
    "plan_id TEXT NOT NULL, "
    "unit_id TEXT NOT NULL, base_community_id TEXT, community_id TEXT, "
    "households INTEGER, "
    "unit_name TEXT, coordinators REAL, geom_wkb BLOB, UNIQUE (plan_id, unit_id))",
    "edit_journal": "CREATE TABLE IF NOT EXISTS edit_journal (fid INTEGER PRIMARY KEY "
    "AUTOINCREMENT, plan_id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, time TEXT NOT NULL, author TEXT, op TEXT NOT NULL, "
    "params TEXT, "
    "changes TEXT, comment TEXT, UNIQUE (plan_id, seq))",
}
#: columns added after the first release: (table, column, type), added to older workspaces on save
_ADDED = (("plans", "profile", "TEXT"), ("plans", "graph", "TEXT"))
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
    con.execute(
        "CREATE TRIGGER IF NOT EXISTS edit_journal_append_only_u "
        "BEFORE UPDATE ON edit_journal "
        "BEGIN SELECT RAISE(ABORT, 'edit_journal is append-only'); END"
    )
    con.execute(
        "CREATE TRIGGER IF NOT EXISTS edit_journal_append_only_d "
        "BEFORE DELETE ON edit_journal "
        "BEGIN SELECT RAISE(ABORT, 'edit_journal is append-only'); END"
    )


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info({table})")}


def list_plans(workspace: str | os.PathLike) -> pd.DataFrame:
    """The plans saved in a workspace.

    ``plan_id, name, author, created, updated, units, journal_entries``, oldest first.
    """
    cols = ["plan_id", "name", "author", "created", "updated", "units", "journal_entries"]
    path = Path(workspace)
    if not path.exists():
        return pd.DataFrame(columns=cols)
    con = connect_read(path)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'plans'").fetchone():
            return pd.DataFrame(columns=cols)
        return pd.read_sql_query(f"SELECT {', '.join(cols)} FROM plans ORDER BY updated", con)
    finally:
        con.close()


def read_plan(workspace: str | os.PathLike, plan: str) -> dict:
    """The stored parts of a plan (by name or id), its assignment verified against its digest.

    Returns ``plan_id, name, author, created, unit_kind, units`` (GeoDataFrame of the base
    assignment), ``labels`` (the stored current assignment), ``community_names``,
    ``community_offsets``, ``community_attrs``, ``profile`` (the saved reference, or None),
    ``graph`` (the saved adjacency, or None) and ``journal`` (entries in order);
    :func:`gridmap.plans.load_plan` turns them into a :class:`~gridmap.plans.Plan`.

    Raises
    ------
    KeyError
        Listing the saved plans, when there is no such plan.
    ValueError
        When the stored assignment does not match its digest.
    """
    path = Path(workspace)
    if not path.exists():
        raise KeyError(f"工作区不存在 / workspace not found: {path}")
    con = connect_read(path)
    try:
        cols = _columns(con, "plans")
        row = con.execute(
            "SELECT plan_id, name, author, created, crs_wkt, unit_kind, "
            "community_names, digest, community_offsets, community_attrs, "
            f"{'profile' if 'profile' in cols else 'NULL'}, "
            f"{'graph' if 'graph' in cols else 'NULL'} "
            "FROM plans WHERE plan_id = ? OR name = ?",
            (plan, plan),
        ).fetchone()
        if row is None:
            names = [r[0] for r in con.execute("SELECT name FROM plans ORDER BY updated")]
            raise KeyError(f"没有方案 {plan!r}；已保存的方案：{', '.join(names) or '（无）'}")
        (
            plan_id,
            name,
            author,
            created,
            crs_wkt,
            unit_kind,
            cnames,
            digest,
            offsets,
            cattrs,
            pref,
            gtext,
        ) = row
        a = pd.read_sql_query(
            "SELECT unit_id, base_community_id, community_id, households, "
            "unit_name, coordinators, geom_wkb FROM assignments "
            "WHERE plan_id = ? ORDER BY fid",
            con,
            params=(plan_id,),
        )
        j = pd.read_sql_query(
            "SELECT seq, time, author, op, params, changes, comment "
            "FROM edit_journal "
            "WHERE plan_id = ? ORDER BY seq",
            con,
            params=(plan_id,),
        )
    finally:
        con.close()
    households = pd.to_numeric(a["households"], errors="coerce").to_numpy(dtype="float64")
    units = GeoDataFrame(
        {
            "name": a["unit_name"].to_numpy(),
            "community_id": a["base_community_id"].to_numpy(),
            "households": households,
            "coordinators": a["coordinators"].astype("float64").to_numpy(),
        },
        geometry=shapely.from_wkb(a["geom_wkb"].to_numpy()),
        index=pd.Index(a["unit_id"], name="unit_id"),
        crs=CRS.from_wkt(crs_wkt) if crs_wkt else None,
    )
    stored = pd.Series(a["community_id"].to_numpy(), index=units.index, dtype=object)
    if _digest(stored) != digest:
        raise ValueError(
            f"方案 {name!r} 的存储内容与校验值不符 (digest mismatch): "
            f"the workspace {path} is damaged"
        )
    journal = [
        {
            "seq": int(r.seq),
            "time": r.time,
            "author": r.author or "",
            "op": r.op,
            "params": json.loads(r.params or "{}"),
            "changes": json.loads(r.changes or "[]"),
            "comment": r.comment or "",
        }
        for r in j.itertuples(index=False)
    ]
    return {
        "plan_id": plan_id,
        "name": name,
        "author": author or "",
        "created": created,
        "unit_kind": unit_kind or "grids",
        "units": units,
        "labels": stored,
        "community_names": json.loads(cnames or "{}"),
        "community_offsets": json.loads(offsets or "{}"),
        "community_attrs": _attrs_from_json(cattrs),
        "profile": pref,
        "graph": _graph_from_json(gtext, len(units)),
        "journal": journal,
    }
