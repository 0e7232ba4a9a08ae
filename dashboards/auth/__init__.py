"""Who may use a shared dashboard: accounts, login sessions, the login page, proxy sign-on.

- :mod:`~dashboards.auth.accounts`: accounts with hashed passwords in the workspace — its
  GeoPackage or its PostGIS schema (:class:`AccountStore`; ``gridmap users add|remove|list``);
  :mod:`~dashboards.auth.tables` runs their SQL on either store;
- :mod:`~dashboards.auth.sessions`: server-issued session tokens (:class:`SessionStore`), kept
  in the workspace by :mod:`~dashboards.auth.session_table` (:func:`workspace_sessions`) so a
  restart does not log anyone out;
- :mod:`~dashboards.auth.gate`: who a request is — a session's account, a trusted reverse
  proxy's header, or the local planner (:class:`Gate`, :class:`AuthSettings`);
- :mod:`~dashboards.auth.login`: the login and logout pages (:func:`register_login`).

Callbacks never use this package: they read the user with
:func:`dashboards.identity.current_user`, which :func:`dashboards.server.protect` sets per request.
"""

from dashboards.auth.accounts import MIN_PASSWORD, Account, AccountError, AccountStore
from dashboards.auth.gate import MODES, AuthSettings, Gate
from dashboards.auth.login import (
    LOGIN_CSS_PATH,
    LOGIN_PATH,
    LOGOUT_PATH,
    Throttle,
    register_login,
)
from dashboards.auth.session_table import workspace_sessions
from dashboards.auth.sessions import COOKIE, SessionStore

__all__ = [
    "MIN_PASSWORD",
    "Account",
    "AccountError",
    "AccountStore",
    "MODES",
    "AuthSettings",
    "Gate",
    "LOGIN_CSS_PATH",
    "LOGIN_PATH",
    "LOGOUT_PATH",
    "Throttle",
    "register_login",
    "COOKIE",
    "SessionStore",
    "workspace_sessions",
]
