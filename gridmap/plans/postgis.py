"""The PostGIS plan store: a city's planners share plans in one PostgreSQL database.

A workspace ``postgresql://user@host:5432/db?schema=gridmap`` (any libpq URL; ``schema``
defaults to ``gridmap``) holds the same three tables as the GeoPackage workspace — ``plans``,
``assignments`` (geometry in a PostGIS column, in the study's CRS) and ``edit_journal`` —
created and migrated by gridmap (:data:`MIGRATIONS`, recorded in ``schema_version``).

Concurrent editing without lost updates:

- each plan row has a ``version``; a save locks **only that row** (``SELECT … FOR UPDATE``),
  compares the stored version and journal with the ones the copy started from and refuses a
  stale save with :class:`~gridmap.plans.PlanConflict` (naming the units the other planner
  changed) — no table locks, so planners on other plans never wait;
- the journal is append-only in the database: a trigger refuses ``UPDATE``, ``DELETE`` and
  ``TRUNCATE``; each row records the author, the edit's time, the comment, and the server's
  own ``recorded_at`` and ``db_user``;
- a save is one transaction: a process killed mid-save leaves the last committed plan.

A CRS PostGIS knows by an EPSG code is stored under that SRID; another (a city's own
coordinate system such as Suzhou's 2000SZ) is registered in ``spatial_ref_sys`` under an SRID
of gridmap's range (910000–997999) derived from its WKT, or kept with SRID 0 when the account
may not register it. The plan row keeps the full WKT either way, and reading uses it.

psycopg (``pip install 'gridmap[postgis]'``) is needed only for PostGIS workspaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
from gridmap.plans.workspace import WorkspaceError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MIGRATIONS",
    "DatabaseError",
    "PostGISStore",
    "connection_parts",
    "is_database_url",
    "redact",
]

_SCHEMES = ("postgresql://", "postgres://")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: SRIDs gridmap registers custom CRSs under (PostGIS allows user SRIDs up to 998999)
_SRID_LOW, _SRID_SPAN = 910_000, 88_000

#: (version, statements): the schema as gridmap builds it, one step per version, never edited
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE plans (plan_id text PRIMARY KEY, name text NOT NULL UNIQUE,
            author text, created text, updated text, crs_wkt text, srid integer NOT NULL
            DEFAULT 0, unit_kind text, community_names text, digest text, units integer,
            journal_entries integer, community_offsets text, community_attrs text, profile text,
            graph text, version integer NOT NULL DEFAULT 0)""",
            """CREATE TABLE assignments (plan_id text NOT NULL REFERENCES plans (plan_id),
            ordinal integer NOT NULL, unit_id text NOT NULL, base_community_id text,
            community_id text, households bigint, unit_name text,
            coordinators double precision, geom geometry, PRIMARY KEY (plan_id, unit_id))""",
            "CREATE INDEX assignments_order ON assignments (plan_id, ordinal)",
            "CREATE INDEX assignments_geom ON assignments USING gist (geom)",
            """CREATE TABLE edit_journal (id bigserial PRIMARY KEY, plan_id text NOT NULL
            REFERENCES plans (plan_id), seq integer NOT NULL, time text NOT NULL, author text,
            op text NOT NULL, params json, changes json, comment text,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            db_user text NOT NULL DEFAULT current_user, UNIQUE (plan_id, seq))""",
            """CREATE FUNCTION edit_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'edit_journal is append-only (% refused)', TG_OP; END $$""",
            """CREATE TRIGGER edit_journal_append_only BEFORE UPDATE OR DELETE ON edit_journal
            FOR EACH ROW EXECUTE FUNCTION edit_journal_append_only()""",
            """CREATE TRIGGER edit_journal_no_truncate BEFORE TRUNCATE ON edit_journal
            FOR EACH STATEMENT EXECUTE FUNCTION edit_journal_append_only()""",
            "REVOKE UPDATE, DELETE, TRUNCATE ON edit_journal FROM PUBLIC",
        ),
    ),
    (
        2,
        (
            """CREATE TABLE plan_drafts (key text PRIMARY KEY, "user" text NOT NULL,
            plan_id text NOT NULL, name text, author text, created text, saved integer NOT NULL,
            unsaved integer NOT NULL, stored integer NOT NULL, profile text,
            journal text NOT NULL, updated text NOT NULL)""",
            """CREATE TABLE plan_draft_secret (id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
            secret bytea NOT NULL)""",
        ),
    ),
    (3, ("ALTER TABLE plans ADD COLUMN parent text",)),  # sub-plans: the plan they came from
    (
        4,  # the dashboard's accounts (salted scrypt hashes) and login sessions (token digests)
        (
            """CREATE TABLE gridmap_users (name text PRIMARY KEY, role text NOT NULL,
            password_hash text NOT NULL, created text NOT NULL, updated text NOT NULL)""",
            """CREATE TABLE gridmap_sessions (digest text PRIMARY KEY, name text NOT NULL,
            created double precision NOT NULL, last_seen double precision NOT NULL)""",
        ),
    ),
)
_LATEST = MIGRATIONS[-1][0]
#: schemas this process has seen at the latest version (no migration query on every connect)
_MIGRATED: set[tuple[str, str]] = set()


def is_database_url(workspace: object) -> bool:
    """True when ``workspace`` names a PostgreSQL database rather than a GeoPackage file.

    Examples
    --------
    >>> is_database_url("postgresql://planner@db.example/city?schema=gridmap")
    True
    >>> is_database_url("plans.gpkg")
    False
    """
    return isinstance(workspace, str) and workspace.startswith(_SCHEMES)


def connection_parts(url: str) -> tuple[str, str]:
    """The libpq URL without gridmap's ``schema`` parameter, and the schema (default ``gridmap``).

    Examples
    --------
    >>> connection_parts("postgresql://u@h/db?schema=plans_2026&sslmode=require")
    ('postgresql://u@h/db?sslmode=require', 'plans_2026')
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in query if k == "schema"]
    schema = schemas[-1] if schemas else "gridmap"
    if not _IDENT.match(schema):
        raise ValueError(
            f"工作区的 schema 名 {schema!r} 无效：只能用字母、数字和下划线 "
            f"(workspace schema {schema!r}: letters, digits and _ only, not starting with a digit)"
        )
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def redact(url: str) -> str:
    """``url`` without its password, for messages.

    Examples
    --------
    >>> redact("postgresql://planner:s3cret@db/city?schema=g")
    'postgresql://planner:***@db/city?schema=g'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class DatabaseError(WorkspaceError):
    """The PostGIS workspace could not be reached or written (a :class:`WorkspaceError`).

    ``reason`` is ``"unreachable"`` (server down, wrong address or password), ``"permission"``
    (the account may not create or write the tables) or ``"other"``; nothing was written.
    """

    def __init__(self, url: str, reason: str, detail: str) -> None:
        super().__init__(redact(url), reason, detail)
        where = redact(url)
        if reason == "unreachable":
            text = (
                f"无法连接方案数据库 {where}：请检查地址、端口、用户名和密码，以及服务器是否在运行。"
                f" (cannot connect to the plans database {where}: {detail})"
            )
        elif reason == "permission":
            text = (
                f"数据库账户没有权限写入方案数据库 {where}：请数据库管理员授予建表和写入权限。"
                f" (the database account may not write the plans workspace {where}: {detail})"
            )
        else:
            text = f"方案数据库 {where} 出错，本次没有写入 (plans database {where}: {detail})"
        self.args = (text,)

    def __str__(self) -> str:
        return str(self.args[0])


def _psycopg() -> Any:
    # optional dependency: imported only when a PostGIS workspace is used
    try:
        import psycopg
    except ImportError as exc:
        raise ImportError(
            "PostGIS 工作区需要 psycopg：pip install 'gridmap[postgis]' "
            "(a PostGIS workspace needs psycopg: pip install 'gridmap[postgis]')"
        ) from exc
    return psycopg


class PostGISStore:
    """Plans in a schema of a PostGIS database (see the module docstring).

    Parameters
    ----------
    url
        ``postgresql://user@host:port/db?schema=name`` (a libpq URL; ``schema`` is gridmap's).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.dsn, self.schema = connection_parts(url)

    @property
    def location(self) -> str:
        """The workspace as messages name it (password hidden)."""
        return redact(self.url)

    # ------------------------------------------------------------------ connections
    @contextlib.contextmanager
    def connect(self, *, create: bool = True) -> Iterator[psycopg.Connection]:
        """An autocommit connection on the workspace schema (migrated first when ``create``).

        Work that must be atomic runs in ``with con.transaction():``.
        """
        pg = _psycopg()
        timeout = int(os.environ.get("PGCONNECT_TIMEOUT", 10))
        try:
            con = pg.connect(self.dsn, autocommit=True, connect_timeout=timeout)
        except pg.OperationalError as exc:
            raise DatabaseError(self.url, "unreachable", str(exc).strip()) from exc
        try:
            con.execute(f'SET search_path TO "{self.schema}", public')
            if create:
                self._migrate(con)
            yield con
        except pg.errors.InsufficientPrivilege as exc:
            raise DatabaseError(self.url, "permission", str(exc).strip()) from exc
        except pg.OperationalError as exc:
            raise DatabaseError(self.url, "other", str(exc).strip()) from exc
        finally:
            con.close()

    def _migrate(self, con: psycopg.Connection) -> None:
        """Bring the schema to the latest version, under a lock held only while migrating."""
        key = (self.dsn, self.schema)
        if key in _MIGRATED or self._version(con) == _LATEST:
            _MIGRATED.add(key)
            return
        with con.transaction():
            # a transaction-scoped advisory lock: two first users do not both create the schema
            # or the extension (no table is locked; released at COMMIT, migrations are rare)
            con.execute("SELECT pg_advisory_xact_lock(hashtext('gridmap:migrate'))")
            if not con.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
                con.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                "applied timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in con.execute("SELECT version FROM schema_version")}
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    con.execute(statement)
                con.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        _MIGRATED.add(key)

    def _version(self, con: psycopg.Connection) -> int | None:
        """The schema's migration version, None when it has no gridmap tables yet."""
        table = f'"{self.schema}".schema_version'
        if _scalar(con, "SELECT to_regclass(%s)", (table,)) is None:
            return None
        return _scalar(con, f"SELECT max(version) FROM {table}")

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection | None]:
        """A read-only connection seeing one snapshot; None when the schema has no plans yet."""
        pg = _psycopg()
        with self.connect(create=False) as con:
            con.isolation_level = pg.IsolationLevel.REPEATABLE_READ
            con.read_only = True
            with con.transaction():
                yield con if self._version(con) else None

    def ensure(self) -> None:
        """Create (or migrate) the workspace schema."""
        with self.connect():
            pass

    # ------------------------------------------------------------------ save
    def save(
        self,
        plan: PlanState,
        *,
        before_commit: Callable[[], object] | None = None,
        on_stale: OnStale | None = None,
    ) -> int:
        """Write ``plan`` in one transaction, locking only its row; the new version.

        Two first saves of one plan at once: the second waits for the first's row, then is
        checked against it like any later save.
        """
        pg = _psycopg()
        try:
            return self._save(plan, before_commit, on_stale)
        except pg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "plans_pkey":
                raise _name_taken(plan.name, "") from exc
        return self._save(plan, before_commit, on_stale)

    def _save(
        self,
        plan: PlanState,
        before_commit: Callable[[], object] | None,
        on_stale: OnStale | None,
    ) -> int:
        # the row's values (digest, adjacency, …) before the lock: it is held only to write
        values = dict(zip(PLAN_COLUMNS, plan_values(plan, now(), 0), strict=True))
        with self.connect() as con, con.transaction():
            labels_before = plan._version
            stored = self._lock_row(con, plan, on_stale)
            if plan._version != labels_before:  # rebased under the lock: the row anew
                values = dict(zip(PLAN_COLUMNS, plan_values(plan, now(), 0), strict=True))
            version = (stored["version"] if stored else 0) + 1
            srid = self._srid(con, plan)
            values.update(version=version, srid=srid, updated=now())
            if stored is None:
                self._insert_plan(con, values)
            else:
                sets = ", ".join(f"{c} = %({c})s" for c in values if c != "plan_id")
                con.execute(f"UPDATE plans SET {sets} WHERE plan_id = %(plan_id)s", values)
            if plan._stored_version and stored and stored["units"] == len(plan.units):
                self._update_labels(con, plan)
            else:
                self._copy_assignments(con, plan, srid)
            with con.cursor() as cur:
                cur.executemany(
                    "INSERT INTO edit_journal (plan_id, seq, time, author, op, params, changes, "
                    "comment) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    journal_values(plan),
                )
            if before_commit is not None:
                before_commit()
        return version

    def _lock_row(
        self, con: psycopg.Connection, plan: PlanState, on_stale: OnStale | None
    ) -> dict | None:
        """The stored plan row, locked for this transaction; refuse a taken name or a stale copy.

        A stale copy is rebased by ``on_stale`` when given and possible, else refused.
        """
        other = con.execute(
            "SELECT plan_id FROM plans WHERE name = %s AND plan_id != %s",
            (plan.name, plan.plan_id),
        ).fetchone()
        if other:
            raise _name_taken(plan.name, other[0])
        row = con.execute(
            "SELECT name, updated, version, units FROM plans WHERE plan_id = %s FOR UPDATE",
            (plan.plan_id,),
        ).fetchone()
        if row is None:
            return None
        stored = dict(zip(("name", "updated", "version", "units"), row, strict=True))
        entries = _scalar(
            con, "SELECT count(*) FROM edit_journal WHERE plan_id = %s", (plan.plan_id,)
        )
        if is_stale(plan, entries, stored["version"]):
            rows = con.execute(
                "SELECT seq, time, author, op, params::text, changes::text, comment "
                "FROM edit_journal WHERE plan_id = %s AND seq >= %s ORDER BY seq",
                (plan.plan_id, plan._saved),
            ).fetchall()
            theirs = [journal_entry(*r) for r in rows]
            if on_stale is None or not on_stale(theirs, stored["version"]):
                raise conflict_from(
                    plan, stored["name"], stored["updated"], stored["version"], theirs
                )
        return stored

    @staticmethod
    def _insert_plan(con: psycopg.Connection, values: dict) -> None:
        cols = list(values)
        con.execute(
            f"INSERT INTO plans ({', '.join(cols)}) VALUES ({', '.join(f'%({c})s' for c in cols)})",
            values,
        )

    @staticmethod
    def _update_labels(con: psycopg.Connection, plan: PlanState) -> None:
        """Only the units this copy's new journal entries changed (the rest is stored already)."""
        units = changed_units(plan.journal[plan._saved :])
        if not units:
            return
        labels = plan._labels.reindex(units).astype(str).tolist()
        con.execute(
            "UPDATE assignments a SET community_id = v.c FROM unnest(%s::text[], %s::text[]) "
            "AS v(u, c) WHERE a.plan_id = %s AND a.unit_id = v.u",
            (units, labels, plan.plan_id),
        )

    @staticmethod
    def _copy_assignments(con: psycopg.Connection, plan: PlanState, srid: int) -> None:
        """All the plan's units (COPY: a 60 000-unit plan in well under a second)."""
        con.execute("DELETE FROM assignments WHERE plan_id = %s", (plan.plan_id,))
        geoms = shapely.set_srid(np.asarray(plan.units.geometry.values), srid)
        ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
        values = assignment_values(plan)
        with con.cursor() as cur:
            with cur.copy(
                "COPY assignments (plan_id, ordinal, unit_id, base_community_id, community_id, "
                "households, unit_name, coordinators, geom) FROM STDIN"
            ) as copy:
                for i, row in enumerate(zip(*values.values(), ewkb, strict=True)):
                    copy.write_row((plan.plan_id, i, *row))

    def _srid(self, con: psycopg.Connection, plan: PlanState) -> int:
        """The SRID of the plan's CRS in ``spatial_ref_sys`` (registered when custom), else 0."""
        crs = plan.units.crs
        if crs is None:
            return 0
        epsg = crs.to_epsg(min_confidence=100)
        if epsg is not None:
            if _scalar(con, "SELECT 1 FROM spatial_ref_sys WHERE srid = %s", (epsg,)):
                return int(epsg)
        wkt = crs.to_wkt()
        found = _scalar(
            con,
            "SELECT srid FROM spatial_ref_sys WHERE auth_name = 'gridmap' AND srtext = %s",
            (wkt,),
        )
        if found:
            return int(found)
        return self._register(con, wkt)

    @staticmethod
    def _register(con: psycopg.Connection, wkt: str) -> int:
        """Register a custom CRS; the same WKT gets the same SRID in every process (no lock)."""
        pg = _psycopg()
        start = int(hashlib.sha256(wkt.encode()).hexdigest(), 16) % _SRID_SPAN
        for step in range(64):
            srid = _SRID_LOW + (start + step) % _SRID_SPAN
            try:
                with con.transaction():  # a savepoint: a refused INSERT leaves the save going
                    con.execute(
                        "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, "
                        "proj4text) VALUES (%s, 'gridmap', %s, %s, '') ON CONFLICT (srid) "
                        "DO NOTHING",
                        (srid, srid, wkt),
                    )
            except pg.errors.InsufficientPrivilege:
                return 0  # the WKT stays with the plan (crs_wkt); geometry without SRID
            if _scalar(con, "SELECT srtext FROM spatial_ref_sys WHERE srid = %s", (srid,)) == wkt:
                return srid
        return 0

    # ------------------------------------------------------------------ read
    def plans(self) -> pd.DataFrame:
        """The saved plans (:func:`gridmap.plans.list_plans`)."""
        with self._snapshot() as con:
            if con is None:
                return pd.DataFrame(columns=LIST_COLUMNS)
            rows = con.execute(f"SELECT {', '.join(LIST_COLUMNS)} FROM plans ORDER BY updated")
            return pd.DataFrame(rows.fetchall(), columns=LIST_COLUMNS)

    def journal_since(self, plan: str, since: int) -> tuple[list[dict], int]:
        """See :func:`gridmap.plans.storage.read_journal`."""
        with self._snapshot() as con:
            row = (
                None
                if con is None
                else con.execute(
                    "SELECT plan_id, version FROM plans WHERE plan_id = %s OR name = %s",
                    (plan, plan),
                ).fetchone()
            )
            if con is None or row is None:
                raise KeyError(f"没有方案 {plan!r}")
            rows = con.execute(
                "SELECT seq, time, author, op, params::text, changes::text, comment "
                "FROM edit_journal WHERE plan_id = %s AND seq >= %s ORDER BY seq",
                (row[0], since),
            ).fetchall()
        return [journal_entry(*r) for r in rows], int(row[1])

    def read(self, plan: str) -> dict:
        """The stored parts of a plan by name or id, read in one snapshot, digest verified."""
        with self._snapshot() as con:
            if con is None:
                raise KeyError(f"工作区还没有方案 / workspace has no plans yet: {self.location}")
            found = con.execute(
                f"SELECT {', '.join(PLAN_COLUMNS)} FROM plans WHERE plan_id = %s OR name = %s",
                (plan, plan),
            ).fetchone()
            if found is None:
                names = [r[0] for r in con.execute("SELECT name FROM plans ORDER BY updated")]
                raise KeyError(f"没有方案 {plan!r}；已保存的方案：{', '.join(names) or '（无）'}")
            row = dict(zip(PLAN_COLUMNS, found, strict=True))
            cols = [
                "unit_id", "base_community_id", "community_id", "households", "unit_name",
                "coordinators", "geom_wkb",
            ]  # fmt: skip
            a = con.execute(
                f"SELECT {', '.join(cols[:-1])}, ST_AsBinary(geom) FROM assignments "
                "WHERE plan_id = %s ORDER BY ordinal",
                (row["plan_id"],),
            ).fetchall()
            j = con.execute(
                "SELECT seq, time, author, op, params::text, changes::text, comment "
                "FROM edit_journal WHERE plan_id = %s ORDER BY seq",
                (row["plan_id"],),
            ).fetchall()
        frame = pd.DataFrame(a, columns=cols)
        return make_record(row, frame, [journal_entry(*r) for r in j], self.location)


def _scalar(con: psycopg.Connection, sql: str, params: tuple = ()) -> Any:
    """The first column of the first row, None when there is no row."""
    row = con.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _name_taken(name: str, other: str) -> ValueError:
    return ValueError(
        f"方案名 {name!r} 已被另一个方案使用 (plan {other or '?'}); choose another name"
    )
