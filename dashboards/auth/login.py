"""The login and logout pages: plain HTML forms, no script, no external asset.

``GET /_gridmap/login`` shows the form (Chinese; ``?lang=en`` English), ``POST`` checks the
password and sets the session cookie (HttpOnly, SameSite=Strict, Secure behind https) before
redirecting to the page asked for; ``POST /_gridmap/logout`` ends the session. Repeated wrong
passwords for one name lock it for a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from html import escape
from urllib.parse import urlencode

from flask import Flask, Request, Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from dashboards.auth.gate import Gate
from dashboards.auth.sessions import COOKIE
from dashboards.ids import PAGES

__all__ = ["LOGIN_PATH", "LOGOUT_PATH", "LOGIN_CSS_PATH", "Throttle", "register_login", "safe_next"]

LOGIN_PATH = "/_gridmap/login"
LOGOUT_PATH = "/_gridmap/logout"
LOGIN_CSS_PATH = "/_gridmap/login.css"

_TEXT = {
    "zh": {
        "title": "登录 · 网格化管理 合规地图",
        "heading": "网格化管理 合规地图",
        "name": "账户",
        "password": "密码",
        "submit": "登录",
        "other": "English",
        "bad": "账户或密码不正确。",
        "locked": "尝试次数过多，请一分钟后再试。",
        "out": "已退出登录。",
    },
    "en": {
        "title": "Log in · Grid management compliance map",
        "heading": "Grid management compliance map",
        "name": "Account",
        "password": "Password",
        "submit": "Log in",
        "other": "中文",
        "bad": "Wrong account name or password.",
        "locked": "Too many attempts: try again in a minute.",
        "out": "Logged out.",
    },
}

_CSS = """
@font-face{font-family:"Gridmap Noto Sans SC";src:url("/assets/fonts/NotoSansSC-gridmap.ttf")}
body{font-family:"Gridmap Noto Sans SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f4f6f8;margin:0}
main{max-width:340px;margin:12vh auto;background:#fff;padding:28px 32px;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:20px;margin:0 0 20px}label{display:block;margin:12px 0 4px;font-size:14px}
input{width:100%;box-sizing:border-box;padding:8px;font-size:15px}
button{margin-top:18px;width:100%;padding:9px;font-size:15px;background:#1f6feb;color:#fff;
border:0;border-radius:4px;cursor:pointer}
.msg{color:#b42318;font-size:14px}.lang{float:right;font-size:13px}
"""


def safe_next(value: str | None) -> str:
    """The page to go to after login: one of the dashboard's pages, else the overview."""
    return value if value is not None and value in PAGES.values() else "/"


def _page(lang: str, *, message: str = "", next_url: str = "/") -> str:
    t = _TEXT[lang]
    other = "en" if lang == "zh" else "zh"
    switch = f"{LOGIN_PATH}?{urlencode({'lang': other, 'next': next_url})}"
    note = f'<p class="msg" role="alert">{escape(message)}</p>' if message else ""
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t["title"]}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="{LOGIN_CSS_PATH}"></head>
<body><main><a class="lang" href="{escape(switch)}">{t["other"]}</a>
<h1>{t["heading"]}</h1>{note}
<form method="post" action="{LOGIN_PATH}">
<input type="hidden" name="next" value="{escape(next_url)}">
<input type="hidden" name="lang" value="{lang}">
<label for="name">{t["name"]}</label>
<input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">{t["password"]}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{t["submit"]}</button>
</form></main></body></html>"""


class Throttle:
    """Locks an account name for ``lock`` seconds after ``failures`` wrong passwords.

    Parameters
    ----------
    failures
        Wrong passwords allowed within ``window`` seconds.
    window, lock
        Seconds.
    clock
        Time source.
    """

    def __init__(
        self,
        failures: int = 5,
        window: float = 300,
        lock: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures, self.window, self.lock = failures, window, lock
        self._clock = clock
        self._guard = threading.Lock()
        self._seen: dict[str, list[float]] = {}

    def blocked(self, name: str) -> bool:
        """Whether ``name`` is locked now."""
        now = self._clock()
        with self._guard:
            times = [t for t in self._seen.get(name, []) if now - t < self.window]
            self._seen[name] = times
            return len(times) >= self.failures and now - times[-1] < self.lock

    def failed(self, name: str) -> None:
        """Count a wrong password for ``name`` (names kept at most 10,000)."""
        with self._guard:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen.setdefault(name, []).append(self._clock())

    def succeeded(self, name: str) -> None:
        """Forget the failures of ``name``."""
        with self._guard:
            self._seen.pop(name, None)


def _secure(req: Request, gate: Gate) -> bool:
    forwarded = req.headers.get("X-Forwarded-Proto", "").lower() == "https"
    return req.is_secure or (forwarded and gate.trusted_peer(req))


def _html(body: str, status: int = 200) -> Response:
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def register_login(server: Flask, gate: Gate, throttle: Throttle | None = None) -> None:
    """Add the login, logout and login-stylesheet routes to the app's Flask ``server``.

    Parameters
    ----------
    server
        The Dash app's Flask server.
    gate
        Who may log in (its accounts) and where sessions live.
    throttle
        Wrong-password lock (a fresh :class:`Throttle` by default).
    """
    throttle = throttle or Throttle()

    @server.route(LOGIN_CSS_PATH)
    def _login_css() -> Response:
        return Response(_CSS, mimetype="text/css")

    @server.route(LOGIN_PATH, methods=["GET", "POST"])
    def _login() -> BaseResponse:
        lang = "en" if request.values.get("lang") == "en" else "zh"
        next_url = safe_next(request.values.get("next"))
        if request.method == "GET":
            message = _TEXT[lang]["out"] if request.args.get("out") else ""
            return _html(_page(lang, message=message, next_url=next_url))
        name = request.form.get("name", "").strip()[:64]
        password = request.form.get("password", "")[:1024]
        if throttle.blocked(name):
            return _html(_page(lang, message=_TEXT[lang]["locked"], next_url=next_url), 429)
        user = gate.accounts.authenticate(name, password)
        if user is None:
            throttle.failed(name)
            return _html(_page(lang, message=_TEXT[lang]["bad"], next_url=next_url))
        throttle.succeeded(name)
        gate.sessions.drop(request.cookies.get(COOKIE))
        resp = redirect(next_url, code=303)
        resp.set_cookie(
            COOKIE,
            gate.sessions.create(user.name),
            httponly=True,
            samesite="Strict",
            secure=_secure(request, gate),
            path="/",
        )
        return resp

    @server.route(LOGOUT_PATH, methods=["POST"])
    def _logout() -> BaseResponse:
        gate.sessions.drop(request.cookies.get(COOKIE))
        lang = "en" if request.values.get("lang") == "en" else "zh"
        resp = redirect(f"{LOGIN_PATH}?{urlencode({'lang': lang, 'out': 1})}", code=303)
        resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
        return resp
