"""Who is asking: the one place callbacks and the provider learn the user and their role.

On a loopback server without accounts, everyone is the local planner, an editor (zero set-up).
On a shared server the login layer (``dashboards.auth``) stores the logged-in user for the
request with :func:`set_current_user`; callbacks read it with :func:`current_user` and never
take a user name from the browser. :func:`current_session_key` is a stable, non-secret id of the
request's server-issued login session (for keeping one planner's drafts apart from another's).

>>> from flask import Flask
>>> with Flask(__name__).test_request_context():
...     current_user()
User(name='local', role='editor')
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context

__all__ = [
    "ROLES",
    "LOCAL_USER",
    "User",
    "current_user",
    "set_current_user",
    "current_session_key",
    "set_current_session_key",
]

#: viewer: look and export; editor: also edit and save plans; admin: also manage accounts
ROLES: tuple[str, ...] = ("viewer", "editor", "admin")


@dataclass(frozen=True)
class User:
    """A user of the dashboard.

    Attributes
    ----------
    name
        The login name (the author recorded in a plan's journal).
    role
        One of :data:`ROLES`.
    """

    name: str
    role: str

    @property
    def can_edit(self) -> bool:
        """Whether this user may edit and save plans."""
        return self.role in ("editor", "admin")


#: the user of a loopback server without accounts
LOCAL_USER = User("local", "editor")


def set_current_user(user: User | None) -> None:
    """Store the authenticated user of the current request (None: nobody logged in)."""
    g.gridmap_user = user


def current_user() -> User | None:
    """The user of the current request.

    Returns
    -------
    User or None
        The user the login layer stored; :data:`LOCAL_USER` when no login layer ran
        (loopback, no accounts) or outside a request; None when a login layer ran and
        nobody is logged in.
    """
    if not has_request_context() or "gridmap_user" not in g:
        return LOCAL_USER
    user = g.gridmap_user
    return user if isinstance(user, User) else None


def set_current_session_key(key: str | None) -> None:
    """Store the id of the current request's login session (None: no session)."""
    g.gridmap_session_key = key


def current_session_key() -> str | None:
    """The id of the current request's server-issued login session.

    Returns
    -------
    str or None
        Derived from the session cookie (never the cookie itself), the same for every request
        of one login; ``"proxy:NAME"`` in reverse-proxy mode; None without a login session
        (loopback without accounts, or outside a request).
    """
    if not has_request_context():
        return None
    key = g.get("gridmap_session_key")
    return key if isinstance(key, str) else None
