"""Serving a shared dashboard: refusals, Host allow-list, size limit, headers, login and roles.

The HTTP tests run the real production server (waitress) on 127.0.0.1 in a thread, with the
demo dashboard hardened by :func:`dashboards.server.protect` and two accounts in a workspace.
Nothing is ever bound to an address other machines reach.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import flask
import pytest
import requests

from dashboards.app import create_app
from dashboards.auth import (
    COOKIE,
    LOGIN_PATH,
    LOGOUT_PATH,
    AccountError,
    AccountStore,
    AuthSettings,
    Gate,
    SessionStore,
    Throttle,
    register_login,
)
from dashboards.auth.login import safe_next
from dashboards.identity import LOCAL_USER, User, current_user, set_current_user
from dashboards.provider import DashboardProvider
from dashboards.server import (
    DEFAULT_THREADS,
    ServeSettings,
    allowed_hosts,
    is_loopback,
    protect,
    refusal,
    settings_from_config,
)
from dashboards.testing import callback_body, waitress_in_thread
from gridmap.cli import main

PASSWORD = "correct horse battery"


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> DashboardProvider:
    ws = tmp_path_factory.mktemp("serve") / "plans.gpkg"
    return DashboardProvider.from_config(None, workspace=ws)


@pytest.fixture(scope="module")
def accounts(provider) -> AccountStore:
    store = AccountStore(provider.plans_workspace())
    store.add("viewer1", PASSWORD, role="viewer")
    store.add("王编辑", PASSWORD, role="editor")
    return store


@pytest.fixture(scope="module")
def base_url(provider, accounts):
    """The hardened demo dashboard on waitress, 127.0.0.1, a free port."""
    pytest.importorskip("waitress")
    app = create_app(provider)
    settings = ServeSettings(host="127.0.0.1", port=0)
    protect(app, settings, Gate(settings.auth, accounts, SessionStore()))
    with waitress_in_thread(app, threads=4, max_request_body_size=settings.max_body) as url:
        yield url


@pytest.fixture(scope="module")
def deps(base_url) -> list[dict]:
    s = login(base_url, "viewer1")
    return s.get(base_url + "/_dash-dependencies", timeout=30).json()


def login(base_url: str, name: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    r = s.post(
        base_url + LOGIN_PATH,
        data={"name": name, "password": password, "next": "/"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303, r.text
    return s


# ----------------------------------------------------------------------------- refusals
def test_refuses_wildcard_without_accounts(tmp_path, capsys):
    ws = tmp_path / "plans.gpkg"
    rc = main(["serve", "--host", "0.0.0.0", "--port", "1", "--workspace", str(ws)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "gridmap users add" in err and "0.0.0.0" in err
    assert not ws.exists()  # refused before anything was created


def test_refuses_demo_on_lan_address(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--host", "192.0.2.10", "--port", "1"]) == 2
    assert "gridmap users add" in capsys.readouterr().err
    assert not (tmp_path / "gridmap-demo").exists()  # refused before anything was written


def test_debug_refused_off_loopback_even_with_accounts(tmp_path, capsys):
    ws = tmp_path / "plans.gpkg"
    AccountStore(ws).add("admin", PASSWORD, role="admin")
    rc = main(["serve", "--host", "0.0.0.0", "--debug", "--port", "1", "--workspace", str(ws)])
    assert rc == 2
    assert "--debug" in capsys.readouterr().err


def test_gridmap_serve_subprocess_with_accounts(tmp_path):
    """The real command: waitress on 127.0.0.1, login required once the workspace has accounts."""
    ws = tmp_path / "plans.gpkg"
    AccountStore(ws).add("li", PASSWORD, role="viewer")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "gridmap.cli", "serve", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([*cmd, "--workspace", str(ws)], env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                r = requests.get(url + "/", allow_redirects=False, timeout=5)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.5)
        assert r.status_code == 303 and r.headers["Server"] == "gridmap"
        assert (
            requests.get(url + "/", headers={"Host": "evil.example"}, timeout=5).status_code == 400
        )
        s = login(url, "li")
        assert s.get(url + "/_dash-layout", timeout=30).status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "login required" in err.decode()


def test_refusal_rules():
    lan, local = ServeSettings(host="0.0.0.0"), ServeSettings(host="127.0.0.1")
    assert refusal(local, has_accounts=False, debug=True) is None  # zero set-up on loopback
    assert refusal(lan, has_accounts=False) == "no_accounts"
    assert refusal(lan, has_accounts=True) is None
    assert refusal(lan, has_accounts=True, debug=True) == "debug_off_loopback"
    proxy = ServeSettings(
        host="10.0.0.5", auth=AuthSettings("proxy", trusted_proxies=("10.0.0.1",))
    )
    assert refusal(proxy, has_accounts=False) is None
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("gridmap.example")


def test_proxy_mode_needs_trusted_proxies(tmp_path):
    with pytest.raises(ValueError, match="trusted_proxies"):
        AuthSettings("proxy")
    with pytest.raises(ValueError, match="auth="):
        AuthSettings("ldap")
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(
        '[dashboard]\nauth = "proxy"\nauth_header = "X-SSO-User"\n'
        'trusted_proxies = ["10.1.1.1"]\nallowed_hosts = ["gridmap.jd.local"]\n',
        encoding="utf-8",
    )
    s = settings_from_config(cfg, host="0.0.0.0", allowed=("extra.local",))
    assert s.auth == AuthSettings("proxy", "X-SSO-User", ("10.1.1.1",))
    assert {"gridmap.jd.local", "extra.local", "localhost"} <= allowed_hosts(s)


def test_worker_threads_from_the_config_or_the_caller_within_bounds(tmp_path):
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text("[dashboard]\nthreads = 12\n", encoding="utf-8")
    assert settings_from_config(None).threads == DEFAULT_THREADS == 24
    assert settings_from_config(cfg).threads == 12
    assert settings_from_config(cfg, threads=3).threads == 3
    for bad in (0, 65, True, "8"):
        with pytest.raises(ValueError, match="threads must be a whole number from 1 to 64"):
            settings_from_config(None, threads=bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- accounts
def test_accounts_hashed_listed_removed(tmp_path):
    store = AccountStore(tmp_path / "plans.gpkg")
    assert store.list() == [] and not store.has_accounts()
    store.add("li", PASSWORD, role="editor")
    with sqlite3.connect(store.workspace) as con:
        (digest,) = con.execute("SELECT password_hash FROM gridmap_users").fetchone()
        registered = con.execute(
            "SELECT 1 FROM gpkg_contents WHERE table_name = 'gridmap_users'"
        ).fetchone()
    assert PASSWORD not in digest and digest.startswith("scrypt:") and registered
    assert store.authenticate("li", PASSWORD) == User("li", "editor")
    assert store.authenticate("li", "wrong password") is None
    assert store.authenticate("nobody", PASSWORD) is None
    with pytest.raises(AccountError, match="exists"):
        store.add("li", PASSWORD, role="viewer")
    store.add("li", PASSWORD, role="viewer", replace=True)
    assert [(a.name, a.role) for a in store.list()] == [("li", "viewer")]
    store.remove("li")
    assert store.user("li") is None and not store.has_accounts()
    with pytest.raises(AccountError, match="no account"):
        store.remove("li")


@pytest.mark.parametrize(
    ("name", "password", "role", "match"),
    [
        ("a b", PASSWORD, "editor", "invalid account name"),
        ("", PASSWORD, "editor", "invalid account name"),
        ("ok", "short", "editor", "too short"),
        ("ok", PASSWORD, "boss", "unknown role"),
    ],
)
def test_bad_accounts_refused(tmp_path, name, password, role, match):
    with pytest.raises(AccountError, match=match):
        AccountStore(tmp_path / "plans.gpkg").add(name, password, role=role)


def test_users_cli(tmp_path, monkeypatch, capsys):
    ws = str(tmp_path / "plans.gpkg")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        main(["users", "add", "张三", "--role", "editor", "--password-stdin", "--workspace", ws])
        == 0
    )
    assert main(["users", "list", "--workspace", ws]) == 0
    assert "张三\teditor" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "x", "--password-stdin", "--workspace", ws]) == 2
    assert "too short" in capsys.readouterr().err
    assert main(["users", "remove", "张三", "--workspace", ws]) == 0
    assert main(["users", "remove", "张三", "--workspace", ws]) == 2
    monkeypatch.chdir(tmp_path)
    assert main(["users", "list"]) == 2
    assert "--workspace" in capsys.readouterr().err


def test_sessions_expire_and_are_bounded():
    now = [0.0]
    store = SessionStore(idle=10, max_sessions=2, clock=lambda: now[0])
    a, b = store.create("a"), store.create("b")
    assert store.resolve(a) == "a" and store.resolve("forged") is None and store.resolve("") is None
    store.create("c")  # evicts the least recently used: b
    assert store.resolve(b) is None and store.resolve(a) == "a"
    now[0] = 11
    assert store.resolve(a) is None
    assert len(a) >= 40 and SessionStore.public_key(a) != a


def test_sessions_survive_a_restart_hashed_and_expiring(tmp_path):
    """Sessions written to the workspace: a new store (a restarted server) knows the token, the
    table holds only its SHA-256, and idle, too-old and logged-out sessions end there too."""
    import sqlite3

    from dashboards.auth import workspace_sessions

    ws = tmp_path / "plans.gpkg"
    now = [1_000.0]
    first = SessionStore(
        idle=100, max_age=1_000, clock=lambda: now[0], table=workspace_sessions(ws)
    )
    a, b = first.create("王编辑"), first.create("viewer1")
    restarted = SessionStore(
        idle=100, max_age=1_000, clock=lambda: now[0], table=workspace_sessions(ws)
    )
    now[0] += 50
    assert restarted.resolve(a) == "王编辑" and restarted.resolve(b) == "viewer1"
    assert restarted.resolve("forged-token") is None
    rows = sqlite3.connect(ws).execute("SELECT digest, name FROM gridmap_sessions").fetchall()
    assert {n for _, n in rows} == {"王编辑", "viewer1"}
    assert all(a not in d and b not in d and len(d) == 64 for d, _ in rows)
    restarted.drop(b)  # logout ends it for every process
    assert SessionStore(table=workspace_sessions(ws), clock=lambda: now[0]).resolve(b) is None
    now[0] += 140  # the table last saw a at login (uses within TOUCH_EVERY are not written)
    again = SessionStore(
        idle=100, max_age=1_000, clock=lambda: now[0], table=workspace_sessions(ws)
    )
    assert again.resolve(a) is None  # idle beyond 100 s as the table knows it
    c = again.create("王编辑")
    for _ in range(12):  # busy, but a login lasts max_age at most
        now[0] += 90
        assert again.resolve(c) in ("王编辑", None)
    assert again.resolve(c) is None
    left = sqlite3.connect(ws).execute("SELECT count(*) FROM gridmap_sessions").fetchone()[0]
    assert left <= 1


def test_throttle_locks_after_failures():
    now = [0.0]
    t = Throttle(failures=3, window=60, lock=30, clock=lambda: now[0])
    for _ in range(3):
        assert not t.blocked("x")
        t.failed("x")
    assert t.blocked("x") and not t.blocked("y")
    now[0] = 31
    assert not t.blocked("x")


def test_safe_next_only_dashboard_pages():
    assert safe_next("/map") == "/map"
    for bad in ("//evil.example", "https://evil.example/", "/_dash-layout", None, "map"):
        assert safe_next(bad) == "/"


def test_proxy_gate_trusts_header_only_from_proxy(accounts):
    from flask import Flask

    gate = Gate(AuthSettings("proxy", "X-Remote-User", ("10.0.0.1",)), accounts, SessionStore())
    app = Flask(__name__)
    hdr = {"X-Remote-User": "王编辑"}
    with app.test_request_context(headers=hdr, environ_base={"REMOTE_ADDR": "10.0.0.1"}) as c:
        assert gate.identify(c.request) == (User("王编辑", "editor"), "proxy:王编辑")
    with app.test_request_context(
        headers={"X-Remote-User": "sso-only"}, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    ) as c:
        assert gate.identify(c.request)[0] == User("sso-only", "viewer")
    with app.test_request_context(headers=hdr, environ_base={"REMOTE_ADDR": "10.0.0.9"}) as c:
        assert gate.identify(c.request) == (None, None)
    assert gate.login_required()


# ----------------------------------------------------------------------------- HTTP
def test_forged_host_gets_400(base_url):
    r = requests.get(base_url + "/", headers={"Host": "evil.example"}, timeout=30)
    assert r.status_code == 400
    r = requests.get(base_url + LOGIN_PATH, headers={"Host": "localhost:1234"}, timeout=30)
    assert r.status_code == 200


def test_huge_body_gets_413(base_url):
    body = b"x" * (3 * 1024 * 1024)
    r = requests.post(base_url + "/_dash-update-component", data=body, timeout=60)
    assert r.status_code == 413
    chunked = requests.post(base_url + LOGIN_PATH, data=iter([body[: 1 << 20]] * 3), timeout=60)
    assert chunked.status_code == 413


def test_security_headers(base_url):
    for path in ("/", LOGIN_PATH, "/_dash-layout"):
        h = requests.get(base_url + path, allow_redirects=False, timeout=30).headers
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"


def test_login_required_when_accounts_exist(base_url):
    r = requests.get(base_url + "/map", allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith(LOGIN_PATH)
    for path in ("/_dash-layout", "/_dash-dependencies", "/assets/gridmap.css"):
        assert requests.get(base_url + path, timeout=30).status_code == 401
    r = requests.post(base_url + "/_dash-update-component", json={}, timeout=30)
    assert r.status_code == 401
    forged = requests.get(base_url + "/_dash-layout", cookies={COOKIE: "anonymous"}, timeout=30)
    assert forged.status_code == 401
    page = requests.get(base_url + LOGIN_PATH, timeout=30)
    assert page.status_code == 200 and "登录" in page.text and "<script" not in page.text
    assert "Log in" in requests.get(base_url + LOGIN_PATH + "?lang=en", timeout=30).text


def test_wrong_password_and_cookie_flags(base_url):
    r = requests.post(
        base_url + LOGIN_PATH, data={"name": "viewer1", "password": "nope"}, timeout=30
    )
    assert r.status_code == 200 and "不正确" in r.text and COOKIE not in r.cookies
    r = requests.post(
        base_url + LOGIN_PATH,
        data={"name": "viewer1", "password": PASSWORD, "next": "//evil.example"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


def test_secure_cookie_only_behind_a_trusted_https_proxy(accounts):
    from flask import Flask

    app = Flask(__name__)
    gate = Gate(AuthSettings(trusted_proxies=("10.0.0.1",)), accounts, SessionStore())
    register_login(app, gate)
    client = app.test_client()
    form = {"name": "viewer1", "password": PASSWORD}
    https = {"X-Forwarded-Proto": "https"}
    for peer, secure in (("10.0.0.1", True), ("10.0.0.9", False)):
        r = client.post(LOGIN_PATH, data=form, headers=https, environ_base={"REMOTE_ADDR": peer})
        assert ("Secure" in r.headers["Set-Cookie"]) is secure


def test_callbacks_see_the_logged_in_user(base_url, deps):
    s = login(base_url, "王编辑")
    body = callback_body(deps, "gm-url.pathname", {"gm-url.pathname": "/", "gm-lang.value": "en"})
    r = s.post(base_url + "/_dash-update-component", json=body, timeout=60)
    assert r.status_code == 200, r.text[:500]
    badge = json.dumps(r.json()["response"]["gm-user"]["children"], ensure_ascii=False)
    assert "王编辑 · editor" in badge and "Log out" in badge


def _tab_for(provider: DashboardProvider, user: User) -> str:
    """A plan tab id the server would issue to ``user`` (what the Plans page's layout carries)."""
    with flask.Flask(__name__).test_request_context():
        set_current_user(user)
        return provider.plan_sessions.issue()


def _save_body(deps: list[dict], name: str, tab: str) -> dict:
    values = {f"{k}.n_clicks": 0 for k in ("pl-move", "pl-create", "pl-split", "pl-merge")}
    values |= {
        "pl-save.n_clicks": 1,
        "pl-session.data": tab,
        "pl-name.value": name,
        "gm-profile.value": "national",
        "pl-rb-time.value": 10,
        "pl-split-k.value": 2,
        "pl-rev.data": 0,
        "gm-lang.value": "zh",
    }
    return callback_body(deps, "pl-save.n_clicks", values)


def test_viewer_cannot_save_a_plan(base_url, deps, provider):
    viewer, editor = login(base_url, "viewer1"), login(base_url, "王编辑")
    body = _save_body(deps, "v", _tab_for(provider, User("viewer1", "viewer")))
    r = viewer.post(base_url + "/_dash-update-component", json=body, timeout=60)
    assert r.status_code == 403
    body = _save_body(deps, "e", _tab_for(provider, User("王编辑", "editor")))
    r = editor.post(base_url + "/_dash-update-component", json=body, timeout=120)
    assert r.status_code == 200, r.text[:500]
    from gridmap.plans import list_plans

    assert list(list_plans(provider.plans_workspace())["name"]) == ["e"]


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"{}", b"[]", b'{"output": "x.y", "inputs": [], "changedPropIds": []}'],
)
def test_malformed_callback_requests_get_400(base_url, body):
    s = login(base_url, "王编辑")
    r = s.post(
        base_url + "/_dash-update-component",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 400


def test_cross_site_post_refused(base_url):
    s = login(base_url, "王编辑")
    r = s.post(
        base_url + "/_dash-update-component",
        json={},
        headers={"Origin": "http://evil.example"},
        timeout=30,
    )
    assert r.status_code == 403


def test_logout_ends_the_session(base_url):
    s = login(base_url, "viewer1")
    token = s.cookies[COOKIE]
    assert s.get(base_url + "/_dash-layout", timeout=30).status_code == 200
    r = s.post(base_url + LOGOUT_PATH, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and LOGIN_PATH in r.headers["Location"]
    replay = requests.get(base_url + "/_dash-layout", cookies={COOKIE: token}, timeout=30)
    assert replay.status_code == 401


def test_loopback_without_accounts_needs_no_login(provider, tmp_path):
    app = create_app(provider)
    settings = ServeSettings()
    protect(app, settings, Gate(settings.auth, AccountStore(tmp_path / "p.gpkg"), SessionStore()))
    seen = []

    @app.server.route("/_test/who")
    def _who():
        seen.append(current_user())
        return "ok"

    client = app.server.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    assert client.get("/_test/who", headers={"Host": "localhost"}).status_code == 200
    assert seen == [LOCAL_USER]
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400


def test_bundled_font_served_without_login(base_url):
    """The login page and the dashboard name the bundled CJK font: open, cached, nothing else."""
    from dashboards.ids import FONT_URLS
    from gridmap import fonts

    for url, bold in FONT_URLS.items():
        r = requests.get(base_url + url, timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("font/ttf")
        assert r.content == fonts.font_path(bold=bold).read_bytes()
        assert "max-age" in r.headers.get("Cache-Control", "")
    assert requests.get(base_url + "/assets/fonts/OFL.txt", timeout=30).status_code in (401, 404)
    assert requests.get(base_url + "/assets/gridmap.css", timeout=30).status_code == 401
    login_css = requests.get(base_url + "/_gridmap/login.css", timeout=30).text
    assert next(iter(FONT_URLS)) in login_css
