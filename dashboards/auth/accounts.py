"""Accounts of a shared dashboard, kept in the workspace (table ``gridmap_users``).

Passwords are stored only as salted scrypt hashes made by :mod:`werkzeug.security` (Flask's
own dependency; no hand-rolled crypto). The table sits next to the plans — in the workspace
GeoPackage (registered in ``gpkg_contents`` as an attribute table) or in the PostGIS
workspace's schema (:class:`~dashboards.auth.tables.AuthTable`) — so one workspace holds a
district's plans and who may edit them.

>>> import tempfile, pathlib
>>> store = AccountStore(pathlib.Path(tempfile.mkdtemp()) / "plans.gpkg")
>>> store.add("wang", "correct horse", role="editor")
>>> store.authenticate("wang", "correct horse")
User(name='wang', role='editor')
>>> store.authenticate("wang", "wrong") is None
True
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from dashboards.auth.tables import AuthTable
from dashboards.identity import ROLES, User

__all__ = ["TABLE", "MIN_PASSWORD", "Account", "AccountError", "AccountStore"]

#: the accounts table in the workspace
TABLE = "gridmap_users"
#: the shortest password accepted
MIN_PASSWORD = 8
_NAME = re.compile(r"^[\w.@-]{1,64}$")  # \w: letters of any script (Chinese names), digits, _
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
    "password_hash TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL)"
)
#: checked against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = generate_password_hash("gridmap-no-such-user")


class AccountError(ValueError):
    """A bad account request (unknown role, bad name, short password, unknown or existing user)."""


@dataclass(frozen=True)
class Account:
    """One account as listed (never the hash).

    Attributes
    ----------
    name, role
        The login name and one of :data:`dashboards.identity.ROLES`.
    created, updated
        ISO times (UTC).
    """

    name: str
    role: str
    created: str
    updated: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class AccountStore:
    """The accounts of one workspace.

    Parameters
    ----------
    workspace
        The plans GeoPackage (created by :meth:`add` when absent) or a ``postgresql://`` URL.
    ttl
        Seconds a looked-up role is trusted before the table is read again, so a removed
        account or a changed role takes effect within this time on a running server.
    """

    def __init__(self, workspace: str | os.PathLike[str], *, ttl: float = 5.0) -> None:
        description = "gridmap 仪表盘账户 (dashboard accounts, hashed passwords)"
        self._table = AuthTable(workspace, TABLE, _DDL, description)
        self.workspace: Path | str = self._table.workspace
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, User] = {}
        self._read_at = -float("inf")

    # ------------------------------------------------------------------ storage
    @property
    def location(self) -> str:
        """The workspace as messages name it (a database URL without its password)."""
        return self._table.location

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._table.read(sql, args)

    def _has_table(self) -> bool:
        return self._table.exists()

    def _write(self, sql: str, args: tuple) -> int:
        changed = self._table.write(sql, args)
        self._read_at = -float("inf")
        return changed

    # ------------------------------------------------------------------ changes
    def add(self, name: str, password: str, *, role: str, replace: bool = False) -> None:
        """Create an account (or, with ``replace=True``, set an existing one's password and role).

        Parameters
        ----------
        name
            Login name: 1–64 letters (any script), digits, ``_ . @ -``.
        password
            At least :data:`MIN_PASSWORD` characters; stored only as a salted scrypt hash.
        role
            One of :data:`dashboards.identity.ROLES`.
        replace
            Whether an existing account may be changed.

        Raises
        ------
        AccountError
            On a bad name, role or password, or an existing name without ``replace``.
        """
        if not _NAME.match(name or ""):
            raise AccountError(
                f"账户名无效 / invalid account name {name!r}: 1–64 letters, digits, _ . @ -"
            )
        if role not in ROLES:
            raise AccountError(f"未知角色 / unknown role {role!r}; roles: {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"密码太短 / password too short: at least {MIN_PASSWORD} characters")
        if not replace and any(a.name == name for a in self.list()):
            raise AccountError(f"账户已存在 / account {name!r} exists (replace=True changes it)")
        stamp = _now()
        self._write(
            f"INSERT INTO {TABLE} (name, role, password_hash, created, updated) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET role = excluded.role, "
            "password_hash = excluded.password_hash, updated = excluded.updated",
            (name, role, generate_password_hash(password), stamp, stamp),
        )

    def remove(self, name: str) -> None:
        """Delete an account (its open sessions end within ``ttl`` seconds).

        Raises
        ------
        AccountError
            When there is no such account.
        """
        if not self._has_table() or not self._write(f"DELETE FROM {TABLE} WHERE name = ?", (name,)):
            raise AccountError(f"没有这个账户 / no account {name!r}")

    # ------------------------------------------------------------------ reading
    def list(self) -> list[Account]:
        """Every account, by name."""
        if not self._has_table():
            return []
        rows = self._read(f"SELECT name, role, created, updated FROM {TABLE} ORDER BY name")
        return [Account(*row) for row in rows]

    def has_accounts(self) -> bool:
        """Whether any account exists (then every request needs a login)."""
        return bool(self._users())

    def _users(self) -> dict[str, User]:
        with self._lock:
            if time.monotonic() - self._read_at > self.ttl:
                self._cache = {a.name: User(a.name, a.role) for a in self.list()}
                self._read_at = time.monotonic()
            return self._cache

    def user(self, name: str) -> User | None:
        """The user of an existing account (None when removed), re-read every ``ttl`` seconds."""
        return self._users().get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when ``password`` is the account's; None otherwise (unknown name included)."""
        sql = f"SELECT role, password_hash FROM {TABLE} WHERE name = ?"
        rows = self._read(sql, (name,)) if self._has_table() else []
        if not rows:
            check_password_hash(_DUMMY_HASH, password)  # same cost as a wrong password
            return None
        role, digest = rows[0]
        return User(name, role) if check_password_hash(digest, password) else None
