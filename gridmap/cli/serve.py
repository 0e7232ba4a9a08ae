"""``gridmap serve``: the dashboard on a port (the demo district when no config is given).

The dashboard itself lives in the ``dashboards`` package (Dash, vendored MapLibre GL JS);
nothing is fetched from the internet. It is served by waitress (:mod:`dashboards.server` says
why): on 127.0.0.1 with no set-up and no login; on an address other machines reach only once
the workspace has accounts (``gridmap users add``) or ``[dashboard] auth = "proxy"`` is set.
``--debug`` (Dash's development server with its code console) is refused off loopback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from gridmap.cli.demo import write_demo_workspace

__all__ = ["run", "warm", "add_serve_parser"]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _named(workspace: Path | str) -> str:
    """The workspace as a message shows it: a database URL without its password."""
    # lazy: gridmap.plans loads pandas/geopandas; only a refused `serve` names the workspace
    from gridmap.plans.postgis import redact

    return redact(workspace) if isinstance(workspace, str) else str(workspace)


def _refusal_text(reason: str, host: str, workspace: Path | str | None) -> str:
    if reason == "debug_off_loopback":
        return (
            "拒绝：--debug 只能用于 127.0.0.1（调试模式会暴露代码控制台）。"
            " (refused: --debug exposes a code console; use it only with --host 127.0.0.1)"
        )
    where = f"--workspace {_named(workspace)}" if workspace else "--workspace plans.gpkg"
    return (
        f"拒绝在 {host} 上无登录提供服务：其他计算机可以访问。请先创建账户，例如\n"
        f"  gridmap users add 张三 --role editor {where}\n"
        f'（或在单点登录反向代理后设置 [dashboard] auth = "proxy" 与 trusted_proxies），'
        f"或只在本机使用 --host 127.0.0.1。\n"
        f"(refused: {host} is reachable from other machines and no login is configured. "
        f"Add an account first: gridmap users add NAME --role editor {where}; "
        f'or set [dashboard] auth = "proxy" behind a single-sign-on proxy; '
        f"or serve on 127.0.0.1.)"
    )


def run(
    config: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8050,
    debug: bool = False,
    *,
    workspace: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
    threads: int | None = None,
) -> int:
    """Check the serving settings, load the study, and serve the dashboard until interrupted.

    Parameters
    ----------
    config
        A ``gridmap.toml``; None serves the bundled demo district (synthetic data).
    host, port
        Where to listen; the default only accepts connections from this machine.
    debug
        Dash debug mode (Flask's development server, hot reload, dev tools): loopback only.
    workspace
        The plans workspace (accounts, plans): a GeoPackage or a ``postgresql://`` URL;
        default: the config's.
    allowed_hosts
        Extra names the ``Host`` header may carry.
    threads
        Worker threads of waitress (default: the config's ``[dashboard] threads``, else 24);
        of them, ``[dashboard] running`` (default 2) run at once, the others wait in order.

    Returns
    -------
    int
        2 when the settings are refused (message printed), else 0 after the server stopped.
    """
    # heavy: Dash, plotly and the dashboard load only when serving, not for every CLI command
    from dashboards import server as web  # (same reason)
    from dashboards.app import create_app  # (same reason)
    from dashboards.auth import (  # (same reason)
        AccountStore,
        Gate,
        SessionStore,
        workspace_sessions,
    )
    from dashboards.provider import DashboardProvider  # (same reason)
    from dashboards.provider.config import dashboard_settings  # (same reason)

    settings = web.settings_from_config(
        config, host=host, port=port, allowed=allowed_hosts, threads=threads
    )
    from gridmap.plans import as_workspace  # (same reason)

    ws = as_workspace(workspace) if workspace else None  # a postgresql:// URL stays a str
    if ws is None and config:
        ws = as_workspace(dashboard_settings(config)["workspace"])
    has_accounts = ws is not None and AccountStore(ws).has_accounts()
    reason = web.refusal(settings, has_accounts=has_accounts, debug=debug)
    if reason:
        _say(_refusal_text(reason, host, ws))
        return 2
    if config is None:  # the demo: a workspace folder, so its plans outlive the server
        config = _demo_config()
    t0 = time.perf_counter()
    what = config or "演示数据 demo district (synthetic)"
    _say(f"正在读取研究区 / loading study: {what} …")
    provider = DashboardProvider.from_config(config, **({"workspace": ws} if ws else {}))
    app = create_app(provider)
    warm(provider, t0, tiles=app.server.extensions.get("gridmap_study_tiles"))
    if (nat := app.server.extensions.get("gridmap_national_tiles")) is not None:  # 全国 page
        _say(f"  全国地图瓦片 / national map tiles: {nat.origin} ({' · '.join(nat.layers)})")
    home = provider.plans_workspace()  # accounts and login sessions (these survive a restart)
    gate = Gate(settings.auth, AccountStore(home), SessionStore(table=workspace_sessions(home)))
    web.protect(app, settings, gate, basemap=provider.basemap)
    login = (
        "登录 / login required" if gate.login_required() else "无需登录 / no login (this machine)"
    )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    _say(f"仪表盘 / dashboard: http://{shown}:{port}/   {login}   (Ctrl+C 退出 / to stop)")
    if not web.is_loopback(host):
        names = ", ".join(sorted(web.allowed_hosts(settings)))
        _say(f"  允许的主机名 / Host names answered: {names} (more: --allowed-host NAME)")
    if debug:
        app.run(host=host, port=port, debug=True)
    else:
        web.serve(app, settings)
    return 0


#: where ``gridmap serve`` without a config keeps the demo (as ``gridmap demo`` does)
DEMO_FOLDER = Path("gridmap-demo")


def _demo_config() -> str | None:
    """The demo's ``gridmap.toml`` in :data:`DEMO_FOLDER` (plans saved beside it), or None.

    A planner's edited files there are kept (:func:`gridmap.cli.demo.write_demo_workspace`);
    when the folder cannot be written, the demo runs from the package with plans in a
    temporary folder, and says so.
    """
    try:
        config, kept = write_demo_workspace(DEMO_FOLDER)
    except OSError as exc:
        _say(
            f"注意：无法写入 {DEMO_FOLDER}（{exc.strerror or exc}），方案将保存在临时文件夹，"
            f"重启后丢失 / note: cannot write {DEMO_FOLDER}; plans go to a temporary folder "
            "and are lost on restart"
        )
        return None
    for note in kept:
        _say(note.text("zh") + " / " + note.text("en"))
    _say(
        f"演示工作区 / demo workspace: {config.parent.resolve()} "
        f"(方案保存在 / plans saved in {config.parent / 'plans.gpkg'})"
    )
    return str(config)


def warm(provider: Any, t0: float, tiles: Any = None) -> None:
    """Check, prepare map geometry and the forecast before the first request (with progress).

    Everything the first visit of a page would otherwise wait for: the check under the
    default profile, the map's vector tiles of the whole-study view and, when the study has residential projects, the
    forecast of the 预测与对比 page (the check per year).

    Parameters
    ----------
    provider
        The :class:`dashboards.provider.DashboardProvider` about to be served.
    t0
        :func:`time.perf_counter` when loading started (for the timings shown).
    tiles
        The app's :class:`dashboards.tiles.StudyTiles` (``app.server.extensions``), if any.
    """
    study = provider.study
    n_grids = len(study.grids) if study.grids is not None else 0
    _say(
        f"  已读取 / read: {len(study.communities):,} 社区 communities, {n_grids:,} 网格 grids "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    _say(f"正在检查 / checking against profile {provider.default_profile} …")
    provider.result()
    if tiles is not None:
        _say("正在准备地图 / preparing map tiles …")
        tiles.warm()
    views = provider.changes
    if views.projects:  # the 预测与对比 page's forecast: the check per year as projects fill up
        years = views.years()
        if years:
            _say(f"正在预测 / forecasting {years[0]}–{years[-1]} as projects fill up …")
        if views.projection() is None:
            _say(f"  预测不可用 / no forecast: {views.forecast_error()}")
    _say(f"  就绪 / ready in {time.perf_counter() - t0:.1f} s")
    if provider.basemap:
        _say(
            "注意 / note: GCJ-02 底图（高德/腾讯）与 CGCS2000 数据错开数百米 / "
            "GCJ-02 basemap tiles are offset "
            "by hundreds of metres from CGCS2000 data."
        )


def add_serve_parser(sub) -> None:
    """Register ``gridmap serve [CONFIG.toml] [--host] [--port] [--workspace] [--allowed-host] [--debug]``.

    Parameters
    ----------
    sub
        The subparsers object of an :class:`argparse.ArgumentParser`.
    """
    p = sub.add_parser("serve", help="dashboard: compliance maps in the browser (offline)")
    p.add_argument(
        "config",
        nargs="?",
        help="study configuration file (gridmap.toml); default: the demo district",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; any other address "
        "needs accounts: gridmap users add)",
    )
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument(
        "--workspace",
        help="plans and accounts: a GeoPackage or postgresql://user@host/db?schema=NAME "
        "(default: the config's)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name browsers use to reach this server (Host header), e.g. gridmap.jd.local",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="requests accepted at once (default: [dashboard] threads of the config, else 24); "
        "[dashboard] running of them (default 2) run at a time, the others wait in order",
    )
    p.add_argument("--debug", action="store_true", help="Dash debug mode (127.0.0.1 only)")

    def _cmd(args) -> int:
        return run(
            args.config,
            host=args.host,
            port=args.port,
            debug=args.debug,
            workspace=args.workspace,
            allowed_hosts=tuple(args.allowed_host),
            threads=args.threads,
        )

    p.set_defaults(func=_cmd)
