"""Server-issued login sessions: an unguessable token in a cookie, bound to one account.

The browser holds only the token (``secrets.token_urlsafe``, 256 bits); the server keeps the
SHA-256 of it with the account name, so the table alone cannot be replayed. Sessions end on
logout, after ``idle`` seconds without a request, or when the account is removed. The store
is bounded: when full, the least recently used session ends (its user logs in again).

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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["COOKIE", "SessionStore"]

#: the session cookie's name
COOKIE = "gridmap_session"


@dataclass
class _Session:
    name: str
    last_seen: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Login sessions in memory (one server process; waitress serves with threads).

    Parameters
    ----------
    idle
        Seconds without a request after which a session ends (default 8 hours).
    max_sessions
        Sessions kept at most; beyond, the least recently used one ends.
    clock
        Time source (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        idle: float = 8 * 3600,
        max_sessions: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle = idle
        self.max_sessions = max_sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, name: str) -> str:
        """Start a session for account ``name``; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[_digest(token)] = _Session(name, self._clock())
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return token

    def resolve(self, token: str | None) -> str | None:
        """The account name of a live session (and mark it used); None for any other token."""
        if not token or len(token) > 128:
            return None
        key = _digest(token)
        now = self._clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if now - session.last_seen > self.idle:
                del self._sessions[key]
                return None
            session.last_seen = now
            self._sessions.move_to_end(key)
            return session.name

    def drop(self, token: str | None) -> None:
        """End the session of ``token`` (logout); unknown tokens are ignored."""
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    @staticmethod
    def public_key(token: str) -> str:
        """A stable id of the session that reveals nothing of the token (for plan drafts)."""
        return _digest("gridmap-session-key:" + token)[:32]
