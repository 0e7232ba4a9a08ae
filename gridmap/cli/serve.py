"""``gridmap serve``: the dashboard on a local port (the demo district when no config is given).

The dashboard itself lives in the ``dashboards`` package (Dash, vendored MapLibre
GL JS). Nothing is fetched from the internet.
"""

from __future__ import annotations

import sys
import time

__all__ = ["run", "add_serve_parser"]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(
    config: str | None = None, host: str = "127.0.0.1", port: int = 8050, debug: bool = False
) -> None:
    """Load the study (with progress messages), check it, and serve the dashboard until interrupted.

    Parameters
    ----------
    config
        A ``gridmap.toml``; None serves the bundled demo district (synthetic data).
    host, port
        Where to listen; the default only accepts connections from this machine.
    debug
        Dash debug mode (hot reload, dev tools).
    """
    # heavy: Dash, plotly and the dashboard load only when serving, not for every CLI command
    from dashboards.app import create_app
    from dashboards.provider import DashboardProvider  # (same reason)

    t0 = time.perf_counter()
    what = config or "演示数据 demo district (synthetic)"
    _say(f"正在读取研究区 / loading study: {what} …")
    provider = DashboardProvider.from_config(config)
    study = provider.study
    n_grids = len(study.grids) if study.grids is not None else 0
    _say(
        f"  已读取 / read: {len(study.communities):,} 社区 communities, {n_grids:,} 网格 grids "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    _say(f"正在检查 / checking against profile {provider.default_profile} …")
    provider.result()
    _say("正在准备地图 / preparing map geometry …")
    for level in ("community", "grid"):
        if provider.has_level(level):
            provider.geojson(level)
    _say(f"  就绪 / ready in {time.perf_counter() - t0:.1f} s")
    if provider.basemap:
        _say(
            "注意 / note: GCJ-02 底图（高德/腾讯）与 CGCS2000 数据错开数百米 / "
            "GCJ-02 basemap tiles are offset "
            "by hundreds of metres from CGCS2000 data."
        )
    app = create_app(provider)
    _say(f"仪表盘 / dashboard: http://{host}:{port}/   (Ctrl+C 退出 / to stop)")
    app.run(host=host, port=port, debug=debug)


def add_serve_parser(sub) -> None:
    """Register ``gridmap serve [CONFIG.toml] [--host] [--port] [--debug]`` on ``sub``.

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
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--debug", action="store_true", help="Dash debug mode")

    def _cmd(args) -> int:
        run(args.config, host=args.host, port=args.port, debug=args.debug)
        return 0

    p.set_defaults(func=_cmd)
