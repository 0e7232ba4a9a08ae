"""Who a request is: a login session's account, a trusted proxy's header, or the local planner.

Two modes (``[dashboard] auth``):

``"accounts"`` (default)
    Accounts in the workspace (:class:`~dashboards.auth.accounts.AccountStore`). With none, the
    server is the zero-setup loopback one and everyone is the local editor; once one exists,
    every request needs a login session (:class:`~dashboards.auth.sessions.SessionStore`).
``"proxy"``
    A reverse proxy with single sign-on puts the user name in a header (``auth_header``,
    default ``X-Remote-User``). The header is believed **only** on requests whose peer address
    is one of ``trusted_proxies``; anything else is not logged in. The role is the account's
    when the workspace has one of that name, else ``viewer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Request

from dashboards.auth.accounts import AccountStore
from dashboards.auth.sessions import COOKIE, SessionStore
from dashboards.identity import LOCAL_USER, User

__all__ = ["MODES", "AuthSettings", "Gate"]

#: the authentication modes
MODES = ("accounts", "proxy")


@dataclass(frozen=True)
class AuthSettings:
    """How requests authenticate (``[dashboard]`` keys ``auth``, ``auth_header``, ``trusted_proxies``).

    Attributes
    ----------
    mode
        One of :data:`MODES`.
    header
        The proxy's user header (proxy mode).
    trusted_proxies
        Peer addresses whose header is believed (proxy mode; required there).
    """

    mode: str = "accounts"
    header: str = "X-Remote-User"
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"auth={self.mode!r}: one of {', '.join(MODES)}")
        if self.mode == "proxy" and not self.trusted_proxies:
            raise ValueError('auth="proxy" needs trusted_proxies (the proxy\'s addresses)')


class Gate:
    """Identifies the user of a request.

    Parameters
    ----------
    settings
        The authentication mode.
    accounts
        The workspace's accounts.
    sessions
        The login sessions.
    """

    def __init__(self, settings: AuthSettings, accounts: AccountStore, sessions: SessionStore):
        self.settings = settings
        self.accounts = accounts
        self.sessions = sessions

    @property
    def proxy(self) -> bool:
        """Whether users come from a trusted proxy's header."""
        return self.settings.mode == "proxy"

    def login_required(self) -> bool:
        """Whether requests need a login (proxy mode, or any account in the workspace)."""
        return self.proxy or self.accounts.has_accounts()

    def trusted_peer(self, request: Request) -> bool:
        """Whether the request comes straight from a configured proxy."""
        return request.remote_addr in self.settings.trusted_proxies

    def identify(self, request: Request) -> tuple[User | None, str | None]:
        """The request's user and a stable, non-secret id of its login session.

        Returns
        -------
        tuple
            The user (:data:`~dashboards.identity.LOCAL_USER` when no login is required, None
            when nobody is logged in) and the session id (None without a session).
        """
        if self.proxy:
            sso = request.headers.get(self.settings.header, "").strip()
            if not sso or not self.trusted_peer(request):
                return None, None
            return self.accounts.user(sso) or User(sso, "viewer"), f"proxy:{sso}"
        token = request.cookies.get(COOKIE)
        name = self.sessions.resolve(token)
        key = None if name is None or token is None else self.sessions.public_key(token)
        if not self.accounts.has_accounts():
            return LOCAL_USER, key
        user = None if name is None else self.accounts.user(name)
        return (user, key) if user is not None else (None, None)
