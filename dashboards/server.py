"""Serving the dashboard to an intranet: waitress, a Host allow-list, limits, headers, login.

**Why waitress** (not gunicorn): it is pure Python and runs on Windows, which many street
offices use, as well as on Linux; it serves from a thread pool in *one* process, so the
provider's in-memory results, map geometry and plan sessions are shared by every request, as
the dashboard assumes (gunicorn forks worker processes — each would hold its own copy of the
study and its own plan sessions — and does not run on Windows). Waitress buffers each request
before the app sees it and refuses bodies over ``max_request_body_size``, so a slow or huge
upload cannot tie up a worker thread.

:func:`protect` hardens a Dash app for any server (waitress here; the Flask development server
in tests and the benchmark's baseline); :func:`serve` runs it on waitress after
:func:`refusal` found nothing wrong with the settings.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from dash import Dash
from flask import Response, g, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from dashboards.auth import (
    LOGIN_CSS_PATH,
    LOGIN_PATH,
    LOGOUT_PATH,
    AuthSettings,
    Gate,
    register_login,
)
from dashboards.identity import set_current_session_key, set_current_user
from dashboards.ids import FONT_URLS, ID, PAGES
from gridmap.study import read_toml

__all__ = [
    "MAX_BODY",
    "MAX_THREADS",
    "DEFAULT_THREADS",
    "EDIT_TRIGGERS",
    "ServeSettings",
    "is_loopback",
    "allowed_hosts",
    "refusal",
    "settings_from_config",
    "content_security_policy",
    "protect",
    "serve",
]

#: the largest request body accepted (bytes); larger ones get 413
MAX_BODY = 2 * 1024 * 1024
#: the components whose clicks change a plan: refused (403) for users who cannot edit
EDIT_TRIGGERS = frozenset(
    {
        ID.PL_MOVE,
        ID.PL_CREATE,
        ID.PL_SPLIT,
        ID.PL_MERGE,
        ID.PL_UNDO,
        ID.PL_REDO,
        ID.PL_RB_RUN,
        ID.PL_RB_APPLY,
        ID.PL_SAVE,
        ID.PL_RESET,
    }
)
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = ("0.0.0.0", "::", "")
_OPEN_PATHS = (LOGIN_PATH, LOGOUT_PATH, LOGIN_CSS_PATH, *FONT_URLS)
_UPDATE_PATH = "/_dash-update-component"
#: requests that take no turn of :class:`Admission`: static files and map tiles (cheap, and a
#: page's first map needs them while callbacks hold the turns)
_UNGATED_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_gridmap/tiles/", "/_favicon")


#: waitress worker threads by default: a street office's planners at once (20) and a few more;
#: of them :data:`DEFAULT_RUNNING` run the app at once (:class:`Admission`).
DEFAULT_THREADS = 24
#: requests running the app at once by default; the others wait for a turn in order of arrival
#: (:class:`Admission`). bench_serve, 20 users, noisy shared 2-core machine, same runs: with all
#: 24 threads running the slowest callback's p50 was 224–312 ms and the plan edits' p95
#: 518–845 ms; with 2 running, 130–160 ms and 213–227 ms (the light callbacks' p50 rose from
#: 34–64 ms to 107–123 ms: every request now waits its turn instead of sharing the processor).
DEFAULT_RUNNING = 2
#: seconds a request waits for its turn at most, then runs anyway (:class:`Admission`)
PATIENCE = 1.0


@dataclass(frozen=True)
class ServeSettings:
    """Where and how the dashboard is served.

    Attributes
    ----------
    host, port
        The address to listen on (loopback by default: this machine only).
    allowed_hosts
        Extra names the ``Host`` header may carry (the server's intranet name, say); loopback
        names, the bound address and, when bound to all addresses, this machine's names and
        addresses are always allowed.
    max_body
        The largest request body in bytes.
    auth
        How requests authenticate.
    threads
        Waitress worker threads: requests accepted at once (the rest wait in waitress's
        queue).
    running
        Of those, how many run the app at once (:class:`Admission`): the others wait for a
        turn in order of arrival. Static files and map tiles take no turn.
    """

    host: str = "127.0.0.1"
    port: int = 8050
    allowed_hosts: tuple[str, ...] = ()
    max_body: int = MAX_BODY
    auth: AuthSettings = field(default_factory=AuthSettings)
    threads: int = DEFAULT_THREADS
    running: int = DEFAULT_RUNNING


class Admission:
    """At most ``n`` requests run at once; the others wait for a turn in order of arrival.

    Every request is Python work under one lock (the GIL). Twenty requests run side by side
    share the processor, so each takes as long as all of them together, and a plan edit's
    short disk write waits for the lock after every system call; run two at a time in order
    of arrival, each waits for the ones before it and then runs at full speed. A request waits
    ``patience`` seconds at most, then runs anyway: a turn held by a request that itself waits
    (for a tab's plan, for the solver) delays the others by that much at most, never blocks
    them. Static files (Dash's bundles, ``/assets/``) and map tiles take no turn: a page and
    its map load while the turns are busy with callbacks.

    Parameters
    ----------
    n
        Requests running at once.
    patience
        Seconds a request waits for its turn at most.

    Examples
    --------
    >>> gate = Admission(1, patience=0.01)
    >>> gate.enter(), gate.enter()  # the second waits 10 ms, then runs without a turn
    (True, False)
    >>> gate.leave()
    """

    def __init__(self, n: int, patience: float = PATIENCE) -> None:
        self.n, self.patience = max(1, int(n)), patience
        self._lock = threading.Lock()
        self._free = self.n
        self._waiting: deque[threading.Lock] = deque()

    def enter(self) -> bool:
        """Wait for a turn (``patience`` seconds at most); whether one was taken."""
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return True
            ticket = threading.Lock()
            ticket.acquire()
            self._waiting.append(ticket)
        if ticket.acquire(timeout=self.patience):
            return True  # handed over by leave()
        with self._lock:
            try:
                self._waiting.remove(ticket)
            except ValueError:  # handed over between the timeout and now: it is ours
                return True
        return False

    def leave(self) -> None:
        """Give the turn back: to the request waiting longest, else free."""
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._free += 1

    def install(self, app: Dash) -> None:
        """Take a turn before each request of ``app``'s server (after its checks), give it back after.

        The time waited is in ``flask.g.gridmap_queued`` (seconds).
        """
        server = app.server

        @server.before_request
        def _turn() -> None:
            if request.path.startswith(_UNGATED_PREFIXES):
                return  # no turn taken (teardown gives back none)
            t0 = time.perf_counter()
            g.gridmap_turn = self.enter()
            g.gridmap_queued = time.perf_counter() - t0

        @server.teardown_request
        def _done(_exc: BaseException | None) -> None:
            if g.pop("gridmap_turn", False):
                self.leave()


#: the most worker threads ``threads`` may ask for (every request is Python work under one lock)
MAX_THREADS = 64


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.strip("[]").lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _machine_names() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        infos = []
    names.update(str(info[4][0]) for info in infos)
    return {n.lower() for n in names if n}


def allowed_hosts(settings: ServeSettings) -> frozenset[str]:
    """The names a request's ``Host`` header may carry (without port), lower case."""
    names = set(_LOOPBACK_NAMES) | {h.lower() for h in settings.allowed_hosts}
    if settings.host in _WILDCARDS:
        names |= _machine_names()
    else:
        names.add(settings.host.strip("[]").lower())
    return frozenset(names)


def settings_from_config(
    config: str | os.PathLike[str] | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    allowed: tuple[str, ...] = (),
    threads: int | None = None,
) -> ServeSettings:
    """Serving settings from a study config's ``[dashboard]`` table and the given address.

    Parameters
    ----------
    config
        A ``gridmap.toml`` (None: defaults). Its ``[dashboard]`` table may set ``auth``
        (``"accounts"``, the default, or ``"proxy"``), ``auth_header``, ``trusted_proxies``
        (list of addresses), ``allowed_hosts`` (list of names), ``threads`` and ``running``
        (:class:`ServeSettings`).
    host, port
        The address to listen on.
    allowed
        Host names allowed besides the config's.
    threads
        Worker threads (default: the config's ``threads``, else :data:`DEFAULT_THREADS`).

    Raises
    ------
    ValueError
        On an unknown ``auth`` mode, proxy mode without ``trusted_proxies``, or ``threads``
        or ``running`` not a whole number from 1 to :data:`MAX_THREADS`.
    """
    table = read_toml(Path(config)).get("dashboard", {}) if config else {}
    auth = AuthSettings(
        mode=str(table.get("auth", "accounts")),
        header=str(table.get("auth_header", "X-Remote-User")),
        trusted_proxies=tuple(str(a) for a in table.get("trusted_proxies", ())),
    )
    hosts = tuple(str(h) for h in table.get("allowed_hosts", ())) + tuple(allowed)
    n = table.get("threads", DEFAULT_THREADS) if threads is None else threads
    running = table.get("running", DEFAULT_RUNNING)
    for key, value in (("threads", n), ("running", running)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THREADS:
            raise ValueError(f"{key} must be a whole number from 1 to {MAX_THREADS}, got {value!r}")
    return ServeSettings(
        host=host, port=port, allowed_hosts=hosts, auth=auth, threads=n, running=running
    )


def refusal(settings: ServeSettings, *, has_accounts: bool, debug: bool = False) -> str | None:
    """Why these settings must not be served, or None.

    Parameters
    ----------
    settings
        The address and authentication mode.
    has_accounts
        Whether the workspace has accounts (:meth:`dashboards.auth.AccountStore.has_accounts`).
    debug
        Whether Dash's debug mode is asked for.

    Returns
    -------
    str or None
        ``"debug_off_loopback"`` (debug mode exposes a code console: loopback only),
        ``"no_accounts"`` (an address other machines reach, but no account in the workspace
        and no proxy authentication), or None.
    """
    if is_loopback(settings.host):
        return None
    if debug:
        return "debug_off_loopback"
    if settings.auth.mode == "accounts" and not has_accounts:
        return "no_accounts"
    return None


def content_security_policy(app: Dash, basemap: str | None = None) -> str:
    """The dashboard's Content-Security-Policy.

    Scripts only from the server (Dash's inline renderer call by its hash), no framing, no
    plug-ins; map tiles also from the basemap's origin when one is set.
    """
    tiles = ""
    if basemap:
        parts = urlsplit(basemap.replace("{", "").replace("}", ""))
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    hashes = " ".join(app.csp_hashes())
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tiles}; connect-src 'self'{tiles}; "
        "worker-src 'self' blob:; child-src blob:; font-src 'self' data:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def _deny(status: int, message: str) -> Response:
    body = json.dumps({"error": message}, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json")


def _host_name(host: str) -> str:
    host = host.lower()
    if host.startswith("["):  # [::1]:8050
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _envelope(app: Dash) -> dict | None:
    """The body of a callback request when it names a registered callback in Dash's shape."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("output") not in app.callback_map:
        return None
    lists = ("inputs", "changedPropIds")
    ok = all(isinstance(body.get(k), list) for k in lists) and isinstance(
        body.get("state", []), list
    )
    return body if ok else None


def _edits(body: dict) -> bool:
    """Whether a callback request asks to change a plan."""
    return any(
        isinstance(p, str) and p.partition(".")[0] in EDIT_TRIGGERS for p in body["changedPropIds"]
    )


def protect(
    app: Dash,
    settings: ServeSettings,
    gate: Gate,
    *,
    basemap: str | None = None,
) -> None:
    """Harden ``app`` in place: every request checked before Dash sees it, headers on every answer.

    - ``Host`` not in :func:`allowed_hosts` → 400 (DNS rebinding);
    - a body over ``settings.max_body`` → 413; a cross-site ``Origin`` on a POST → 403;
    - the user identified by ``gate`` and stored for callbacks
      (:func:`dashboards.identity.set_current_user`); when a login is required and missing, a
      page request is sent to the login page and any other request gets 401;
    - a callback request not in Dash's shape or naming no registered callback → 400;
    - a plan edit (:data:`EDIT_TRIGGERS`) by a user who cannot edit → 403;
    - security headers: CSP (:func:`content_security_policy`), ``X-Frame-Options``,
      ``X-Content-Type-Options``, ``Referrer-Policy``, ``Cross-Origin-Opener-Policy``.

    Parameters
    ----------
    app
        The dashboard (:func:`dashboards.app.create_app`).
    settings
        Host names allowed, body limit.
    gate
        Who the request is.
    basemap
        The basemap tile URL, whose origin the CSP allows.
    """
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = settings.max_body
    hosts = allowed_hosts(settings)
    register_login(server, gate)
    csp: list[str] = []  # computed on the first answer: every callback is registered by then

    @server.before_request
    def _guard() -> BaseResponse | None:
        if _host_name(request.host) not in hosts:
            return _deny(
                400,
                "此服务器不接受这个主机名 / this server does not answer to this host name "
                "(its administrator can allow it: allowed_hosts)",
            )
        if (request.content_length or 0) > settings.max_body:
            return _deny(413, f"request body over {settings.max_body} bytes")
        origin = request.headers.get("Origin")
        if request.method == "POST" and origin and _host_name(urlsplit(origin).netloc) not in hosts:
            return _deny(403, "cross-site request")
        user, key = gate.identify(request)
        set_current_user(user)
        set_current_session_key(key)
        if request.path in _OPEN_PATHS:
            return None
        if user is None:
            if request.method == "GET" and request.path in PAGES.values():
                return redirect(f"{LOGIN_PATH}?{urlencode({'next': request.path})}", code=303)
            return _deny(401, "login required")
        if request.path == _UPDATE_PATH and request.method == "POST":
            body = _envelope(app)
            if body is None:
                return _deny(400, "not a callback request of this dashboard")
            if not user.can_edit and _edits(body):
                return _deny(403, "this account may look and export, not edit plans")
        return None

    @server.after_request
    def _headers(resp: Response) -> Response:
        if not csp:
            csp.append(content_security_policy(app, basemap))
        resp.headers.setdefault("Content-Security-Policy", csp[0])
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return resp


def serve(app: Dash, settings: ServeSettings) -> None:
    """Serve a :func:`protect`-ed app with waitress until interrupted.

    Parameters
    ----------
    app
        The dashboard.
    settings
        Address, body limit, threads, requests running at once (:class:`Admission`).
    """
    # waitress is needed only when serving (the CLI's `serve`); not by the library or tests
    import waitress

    Admission(settings.running).install(app)
    waitress.serve(
        app.server,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        max_request_body_size=settings.max_body,
        # keep X-Forwarded-Proto: the login layer believes it only from `trusted_proxies`
        # (Secure cookies behind an https proxy); nothing else reads forwarded headers
        clear_untrusted_proxy_headers=False,
        ident="gridmap",
    )
