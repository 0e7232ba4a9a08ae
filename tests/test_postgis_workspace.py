"""A ``postgresql://`` workspace everywhere a workspace is accepted, accounts and logins included.

The CLI (``gridmap rebalance --workspace``, ``gridmap users``), the config's ``[dashboard]
workspace``, the dashboard's accounts and login sessions: the same calls on a GeoPackage and on
PostGIS (the ``workspace`` fixture), against a real server (tests/pg_fixtures.py).
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3

import pytest
from pg_fixtures import psycopg
from test_serve import _save_body, _tab_for

from dashboards.auth import AccountError, AccountStore, Gate, SessionStore, workspace_sessions
from dashboards.auth.login import LOGIN_PATH
from dashboards.identity import User
from dashboards.pages import plans as plans_page
from dashboards.provider import DashboardProvider
from dashboards.provider.config import dashboard_settings
from dashboards.testing import callback_body, serve_in_thread
from gridmap import datasets
from gridmap.cli import main
from gridmap.plans import as_workspace, list_plans, load_plan
from gridmap.plans.postgis import connection_parts, is_database_url

PASSWORD = "correct horse battery"


def rows(ws, sql: str) -> list[tuple]:
    """Rows of ``sql`` read straight from the workspace's database (not through gridmap)."""
    if is_database_url(ws):
        dsn, schema = connection_parts(str(ws))
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f'SET search_path TO "{schema}", public')
            return con.execute(sql).fetchall()
    with sqlite3.connect(ws) as con:
        return con.execute(sql).fetchall()


def test_as_workspace_keeps_database_urls():
    url = "postgresql://planner@db.example/city?schema=gridmap"
    assert as_workspace(url) == url and as_workspace("postgres://u@h/d") == "postgres://u@h/d"
    assert as_workspace("plans.gpkg").name == "plans.gpkg"


def test_accounts_on_both_stores(workspace):
    store = AccountStore(workspace)
    assert store.list() == [] and not store.has_accounts()
    assert store.authenticate("王编辑", PASSWORD) is None  # no table yet: nothing created
    store.add("王编辑", PASSWORD, role="editor")
    store.add("viewer1", PASSWORD, role="viewer")
    with pytest.raises(AccountError, match="exists"):
        store.add("viewer1", PASSWORD, role="editor")
    store.add("viewer1", PASSWORD + "!", role="editor", replace=True)
    assert [(a.name, a.role) for a in store.list()] == [("viewer1", "editor"), ("王编辑", "editor")]
    assert store.authenticate("王编辑", PASSWORD).role == "editor"
    assert store.authenticate("王编辑", "wrong password") is None
    assert store.authenticate("viewer1", PASSWORD) is None  # the replaced password
    hashes = [h for (h,) in rows(workspace, "SELECT password_hash FROM gridmap_users")]
    assert len(hashes) == 2 and all(h.startswith("scrypt:") and PASSWORD not in h for h in hashes)
    store.remove("viewer1")
    with pytest.raises(AccountError, match="no account"):
        store.remove("viewer1")
    assert AccountStore(workspace).user("viewer1") is None  # another process sees it gone
    assert AccountStore(workspace).user("王编辑").role == "editor"
    assert "secret" not in store.location


def test_login_sessions_survive_a_restart_on_both_stores(workspace):
    now = [1_000.25]
    first = SessionStore(
        idle=100, max_age=1_000, clock=lambda: now[0], table=workspace_sessions(workspace)
    )
    assert workspace_sessions(workspace).load("nothing") is None
    a, b = first.create("王编辑"), first.create("viewer1")
    restarted = SessionStore(
        idle=100, max_age=1_000, clock=lambda: now[0], table=workspace_sessions(workspace)
    )
    now[0] += 50
    assert restarted.resolve(a) == "王编辑" and restarted.resolve(b) == "viewer1"
    stored = rows(workspace, "SELECT digest, name, created FROM gridmap_sessions")
    assert {n for _, n, _ in stored} == {"王编辑", "viewer1"}
    assert all(len(d) == 64 and a not in d and b not in d for d, _, _ in stored)
    assert {c for _, _, c in stored} == {1_000.25}  # exact times (PostGIS: double precision)
    restarted.drop(b)
    assert (
        SessionStore(table=workspace_sessions(workspace), clock=lambda: now[0]).resolve(b) is None
    )
    now[0] += 200
    assert (
        SessionStore(idle=100, clock=lambda: now[0], table=workspace_sessions(workspace)).resolve(a)
        is None
    )


def test_users_cli_on_postgis(pg_workspace, monkeypatch, capsys):
    ws = pg_workspace
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    args = ["users", "add", "张三", "--role", "editor", "--password-stdin", "--workspace", ws]
    assert main(args) == 0
    assert main(["users", "list", "--workspace", ws]) == 0
    assert "张三\teditor" in capsys.readouterr().out
    assert rows(ws, "SELECT name, role FROM gridmap_users") == [("张三", "editor")]
    assert main(["users", "remove", "张三", "--workspace", ws]) == 0
    assert main(["users", "remove", "张三", "--workspace", ws]) == 2
    assert main(["users", "list", "--workspace", ws]) == 0
    assert "no accounts in postgresql://" in capsys.readouterr().err


@pytest.fixture
def demo_config(tmp_path, pg_workspace):
    """The demo study with ``[dashboard] workspace = "postgresql://…"``."""
    shutil.copyfile(datasets.get_path("demo"), tmp_path / "demo.gpkg")
    text = datasets.demo_config_toml("demo.gpkg")
    text += f'\n[dashboard]\nworkspace = "{pg_workspace}"\n'
    config = tmp_path / "gridmap.toml"
    config.write_text(text, encoding="utf-8")
    return config


def test_rebalance_saves_into_a_postgis_workspace(tmp_path, pg_workspace, capsys):
    base = [
        "rebalance",
        str(tmp_path / "gridmap.toml"),
        "--time-limit",
        "2",
        "--plan-name",
        "街道方案",
        "--workspace",
        pg_workspace,
    ]
    shutil.copyfile(datasets.get_path("demo"), tmp_path / "demo.gpkg")
    (tmp_path / "gridmap.toml").write_text(datasets.demo_config_toml("demo.gpkg"), encoding="utf-8")
    assert main([*base, "--out", str(tmp_path / "out")]) == 0
    assert f"workspace {pg_workspace}" in capsys.readouterr().out
    assert list_plans(pg_workspace)["name"].tolist() == ["街道方案"]
    plan = load_plan(pg_workspace, "街道方案")
    assert plan.audit()["comment"].tolist()[-1] == "gridmap rebalance"
    assert not (tmp_path / "out" / "workspace.gpkg").exists()
    assert main([*base, "--out", str(tmp_path / "again")]) == 2  # the name is taken there
    assert "--plan-name" in capsys.readouterr().err


def test_dashboard_config_workspace_url_saves_plans_and_logs_in(demo_config, pg_workspace):
    """``[dashboard] workspace = "postgresql://…"``: plans, accounts and logins all go there."""
    requests = pytest.importorskip("requests")
    from dashboards.app import create_app
    from dashboards.server import ServeSettings, protect

    assert dashboard_settings(demo_config)["workspace"] == pg_workspace
    provider = DashboardProvider.from_config(str(demo_config))
    assert provider.plans_workspace() == pg_workspace
    provider.plan("national", name="仪表盘方案").save(provider.plans_workspace())
    assert "仪表盘方案" in list_plans(pg_workspace)["name"].tolist()
    assert f"工作区：{pg_workspace}" in str(plans_page.layout(provider, "zh"))

    accounts = AccountStore(provider.plans_workspace())
    accounts.add("王编辑", PASSWORD, role="editor")
    app = create_app(provider)
    settings = ServeSettings(host="127.0.0.1", port=0)
    sessions = SessionStore(table=workspace_sessions(provider.plans_workspace()))
    protect(app, settings, Gate(settings.auth, accounts, sessions))
    # werkzeug in a thread, shut down cleanly (waitress closed from another thread can raise
    # in its loop); the production server itself is tested in test_serve.py
    with serve_in_thread(app) as base:
        assert requests.get(base + "/plans", allow_redirects=False, timeout=30).status_code in (
            302,
            303,
        )
        s = requests.Session()
        form = {"name": "王编辑", "password": PASSWORD, "next": "/plans"}
        assert (
            s.post(base + LOGIN_PATH, data=form, allow_redirects=False, timeout=30).status_code
            == 303
        )
        assert s.get(base + "/plans", timeout=30).status_code == 200
        deps = s.get(base + "/_dash-dependencies", timeout=30).json()
        tab = _tab_for(provider, User("王编辑", "editor"))
        r = s.post(
            base + "/_dash-update-component", json=_save_body(deps, "网上方案", tab), timeout=120
        )
        assert r.status_code == 200, r.text[:500]
        values = {"pl-rev.data": 1, "pl-session.data": tab, "gm-lang.value": "zh"}
        render = [d for d in deps if "pl-kpis" in d["output"]]  # the page's render callback
        body = callback_body(render, "pl-rev.data", values | {"gm-profile.value": "national"})
        r = s.post(base + "/_dash-update-component", json=body, timeout=120)
        assert r.status_code == 200, r.text[:500]
        assert "postgresql://" in json.dumps(r.json()["response"], ensure_ascii=False)
        bad = {"name": "王编辑", "password": "wrong password", "next": "/"}
        assert (
            requests.post(
                base + LOGIN_PATH, data=bad, allow_redirects=False, timeout=30
            ).status_code
            != 303
        )
    assert [n for (n,) in rows(pg_workspace, "SELECT name FROM gridmap_sessions")] == ["王编辑"]
    assert "网上方案" in list_plans(pg_workspace)["name"].tolist()


@pytest.mark.skipif(psycopg is None, reason="needs psycopg (pip install 'gridmap[postgis]')")
@pytest.mark.parametrize("command", [["serve", "--host", "0.0.0.0"], ["users", "list"]])
def test_unreachable_database_workspace_is_worded_without_the_password(command, capsys):
    url = "postgresql://planner:s3cret@127.0.0.1:1/city?schema=gridmap"
    assert main([*command, "--workspace", url]) == 2
    err = capsys.readouterr().err
    assert "无法连接方案数据库" in err and "s3cret" not in err and "Traceback" not in err
