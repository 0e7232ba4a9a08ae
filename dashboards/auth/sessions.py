"""Server-issued login sessions: an unguessable token in a cookie, bound to one account.

The browser holds only the token (``secrets.token_urlsafe``, 256 bits); the server keeps the
SHA-256 of it with the account name, so the table alone cannot be replayed. Sessions end on
logout, after ``idle`` seconds without a request, ``max_age`` seconds after login, or when the
account is removed. The store is bounded: when full, the least recently used session ends (its
user logs in again). Given a ``table`` (:func:`~dashboards.auth.session_table.workspace_sessions`)
sessions are also kept in the workspace and survive a server restart.

>>> store = SessionStore()
>>> token = store.create("wang")
>>> store.resolve(token)
'wang'
>>> store.drop(token); store.resolve(token) is None
True
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dashboards.auth.session_table import SessionTable
from gridmap.lru import BoundedLRU

__all__ = ["COOKIE", "SessionStore"]

#: the session cookie's name
COOKIE = "gridmap_session"


@dataclass
class _Session:
    name: str
    last_seen: float
    created: float
    stored_at: float  #: when last_seen was last written to the table


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Login sessions in memory (one server process; waitress serves with threads).

    Parameters
    ----------
    idle
        Seconds without a request after which a session ends (default 8 hours).
    max_sessions
        Sessions kept in memory at most; beyond, the least recently used one ends.
    clock
        Time source, wall-clock seconds (tests pass a fake one).
    table
        Where sessions are also kept so they survive a restart (None: memory only).
    max_age
        Seconds after login a session ends however busy (default 7 days).
    """

    #: seconds between two writes of a session's last use to the table
    TOUCH_EVERY = 60.0

    def __init__(
        self,
        *,
        idle: float = 8 * 3600,
        max_sessions: int = 5000,
        clock: Callable[[], float] = time.time,
        table: SessionTable | None = None,
        max_age: float = 7 * 86400,
    ) -> None:
        self.idle = idle
        self.max_age = max_age
        self.max_sessions = max_sessions
        self.table = table
        self._clock = clock
        self._lock = threading.RLock()
        self._sessions: BoundedLRU[str, _Session] = BoundedLRU(max_sessions, lock=self._lock)

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, name: str) -> str:
        """Start a session for account ``name``; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        self._sessions.put(_digest(token), _Session(name, now, now, now))
        if self.table is not None:
            self.table.purge(idle_before=now - self.idle, created_before=now - self.max_age)
            self.table.save(_digest(token), name, now)
        return token

    def _stored(self, key: str) -> _Session | None:
        """A session from the table (after a restart, or beyond the memory bound)."""
        row = None if self.table is None else self.table.load(key)
        if row is None:
            return None
        name, created, last_seen = row
        return _Session(name, last_seen, created, last_seen)

    def resolve(self, token: str | None) -> str | None:
        """The account name of a live session (and mark it used); None for any other token."""
        if not token or len(token) > 128:
            return None
        key = _digest(token)
        now = self._clock()
        session = self._sessions.peek(key)
        if session is None:
            session = self._stored(key)
            if session is None:
                return None
            session = self._sessions.setdefault(key, session)
        if now - session.last_seen > self.idle or now - session.created > self.max_age:
            self.drop(token)
            return None
        with self._lock:
            session.last_seen = now
            self._sessions.get(key)  # now the most recently used
            write = now - session.stored_at >= self.TOUCH_EVERY
            if write:
                session.stored_at = now
        if write and self.table is not None:
            self.table.touch(key, now)
        return session.name

    def drop(self, token: str | None) -> None:
        """End the session of ``token`` (logout); unknown tokens are ignored."""
        if token:
            self._sessions.pop(_digest(token))
            if self.table is not None:
                self.table.delete(_digest(token))

    @staticmethod
    def public_key(token: str) -> str:
        """A stable id of the session that reveals nothing of the token (for plan drafts)."""
        return _digest("gridmap-session-key:" + token)[:32]
