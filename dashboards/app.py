"""The Dash app: ``create_app(config)`` builds a fresh app (nothing is created at import time).

>>> from dashboards.app import create_app   # doctest: +SKIP
>>> create_app(None).run(port=8050)         # the demo district  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, dcc, html
from flask import Response, abort, request, send_file

from dashboards.auth import LOGOUT_PATH
from dashboards.i18n import dropdown_labels, t
from dashboards.identity import current_session_key, current_user
from dashboards.ids import FONT_URLS, ID, PAGES
from dashboards.pages import PAGE_MODULES, compliance_map
from dashboards.pages import national as national_page
from dashboards.provider import LEVELS, DashboardProvider
from dashboards.provider.config import national_folder
from dashboards.tiles import register_study_tiles, register_tiles
from gridmap import fonts
from gridmap.labels import STATUS_COLORS
from gridmap.tiles import TileSet

__all__ = ["create_app", "status_css"]

ASSETS = Path(__file__).resolve().parent / "assets"
#: the header's user name and logout button (shown on a server with logins)
USER_ID = "gm-user"
#: assets the index page loads itself, before Dash's scripts, in this order (see _IndexDash)
_FIRST_SCRIPTS = ("vendor/maplibre-gl.js", "gridmap_map.js")
#: pages whose index page carries their first map: path → its ``<script>`` (None: none now)
_FIRST_MAPS: dict[str, Callable[[DashboardProvider, dict], str | None]] = {
    PAGES["map"]: compliance_map.first_map,
}


class _IndexDash(Dash):
    """Dash whose index page runs MapLibre and the map's script first, with a page's first map.

    Dash would run them after its own scripts (React, its renderer, every component library):
    the first map would start only once Dash has booted. Here the map page's index carries its
    first map (:func:`dashboards.components.first_map_script`), which MapLibre's workers load
    while Dash boots.
    """

    provider: DashboardProvider

    def interpolate_index(
        self,
        metas: str = "",
        title: str = "",
        css: str = "",
        config: str = "",
        scripts: str = "",
        app_entry: str = "",
        favicon: str = "",
        renderer: str = "",
    ) -> str:
        first = "".join(
            f'<script src="{self.get_asset_url(name)}?m={(ASSETS / name).stat().st_mtime}"></script>'
            for name in _FIRST_SCRIPTS
        )
        make = _FIRST_MAPS.get(request.path)
        if make is not None:
            query = {k: v[-1] for k, v in request.args.lists()}
            first = (make(self.provider, query) or "") + first
        return super().interpolate_index(
            metas=metas,
            title=title,
            css=css,
            config=config,
            scripts=first + scripts,
            app_entry=app_entry,
            favicon=favicon,
            renderer=renderer,
        )


def status_css() -> str:
    """The status colours (:data:`gridmap.labels.STATUS_COLORS`) as CSS variables.

    ``gridmap.css`` names them (``var(--gm-status-fail)`` …), so the page and the maps share
    one palette.

    >>> status_css().startswith(":root { --gm-status-pass: #009e73;")
    True
    """
    names = " ".join(f"--gm-status-{k.replace('_', '-')}: {v};" for k, v in STATUS_COLORS.items())
    return f":root {{ {names} }}"


def _header(provider: DashboardProvider) -> html.Header:
    return html.Header(
        [
            html.Div(
                [
                    html.Div(t("app.title"), id=ID.TITLE, className="gm-title"),
                    html.Div(provider.study.name, id=ID.SUBTITLE, className="gm-subtitle"),
                ]
            ),
            html.Nav(id=ID.NAV, className="gm-nav"),
            html.Div(
                [
                    html.Label(t("app.profile"), id=ID.PROFILE_LABEL, htmlFor=str(ID.PROFILE)),
                    dcc.Dropdown(
                        id=ID.PROFILE,
                        labels=dropdown_labels("zh"),
                        placeholder=t("dd.select"),
                        options=provider.profiles(),
                        value=provider.default_profile,
                        clearable=False,
                        persistence=True,
                        persistence_type="session",
                        style={"minWidth": "260px"},
                    ),
                    dcc.RadioItems(
                        id=ID.LANG,
                        options=[
                            {"value": "zh", "label": "中文"},
                            {"value": "en", "label": "English"},
                        ],
                        value="zh",
                        inline=True,
                        persistence=True,
                        persistence_type="session",
                        className="gm-lang",
                    ),
                    html.Div(
                        id=USER_ID,
                        className="gm-user",
                        style={"display": "flex", "gap": "8px", "alignItems": "center"},
                    ),
                ],
                className="gm-header-controls",
            ),
        ],
        className="gm-header",
    )


def _nav(pathname: str | None, lang: str, *, national: bool = False) -> list:
    pages = dict(PAGES, national=national_page.PATH) if national else PAGES
    return [
        dcc.Link(
            t(f"nav.{key}", lang),
            href=path,
            id=f"nav-{key}",
            className="gm-nav-link" + (" gm-active" if (pathname or "/") == path else ""),
        )
        for key, path in pages.items()
    ]


def _national(app: Dash, folder: str | os.PathLike | None) -> national_page.NationalPage | None:
    """The national page of ``[dashboard] national`` (its tiles served), or None without one."""
    if folder is None:
        return None
    try:
        tiles = TileSet.from_check_dir(folder)
    except (OSError, ValueError, KeyError) as exc:  # a message on the page, not a traceback
        return national_page.NationalPage(None, folder, error=str(exc))
    register_tiles(app.server, tiles)
    return national_page.NationalPage(tiles, folder, tile_prefix=app.get_relative_path("/tiles"))


def _user_badge(lang: str) -> list:
    """Who is logged in and a logout button; nothing on a loopback server without logins."""
    user, key = current_user(), current_session_key()
    if user is None or key is None:
        return []
    role = {
        "viewer": ("只读", "viewer"),
        "editor": ("编辑", "editor"),
        "admin": ("管理员", "admin"),
    }
    badge = html.Span(f"{user.name} · {role.get(user.role, (user.role,) * 2)[lang == 'en']}")
    if key.startswith("proxy:"):  # single sign-on: the proxy logs out
        return [badge]
    logout = html.Button("退出" if lang == "zh" else "Log out", type="submit", id="gm-logout")
    form = html.Form(
        [logout],
        action=f"{LOGOUT_PATH}?lang={lang}",
        method="POST",
        className="gm-logout",
        style={"margin": 0},
    )
    return [badge, form]


def create_app(
    config: str | DashboardProvider | None = None,
    *,
    basemap: str | None = None,
    national: str | os.PathLike | None = None,
) -> Dash:
    """Build the dashboard for a study.

    Parameters
    ----------
    config
        A ``gridmap.toml`` path, a ready :class:`~dashboards.provider.DashboardProvider`,
        or None for the demo district.
    basemap
        Optional raster tile URL template (overrides the config's ``[dashboard] basemap``).
        Tiles in GCJ-02 (Amap, Tencent) are offset by hundreds of metres from CGCS2000 data.
    national
        A national result folder (``gridmap check --engine dask`` output) for the 全国 page;
        overrides the config's ``[dashboard] national``.
    """
    if isinstance(config, DashboardProvider):
        provider = config
    else:
        provider = DashboardProvider.from_config(config)
    if basemap is not None:
        provider.basemap = basemap
    app = _IndexDash(
        __name__,
        assets_folder=str(ASSETS),
        assets_ignore="|".join(f"^{re.escape(Path(n).name)}$" for n in _FIRST_SCRIPTS),
        suppress_callback_exceptions=True,
        title=t("app.title"),
        update_title="",
        serve_locally=True,
    )
    app.provider = provider
    app.index_string = app.index_string.replace(
        "{%css%}", "{%css%}\n        <style>" + status_css() + "</style>", 1
    )
    app.layout = html.Div(
        [
            dcc.Location(id=ID.URL),
            _header(provider),
            html.Div(t("basemap.warning"), className="gm-note") if provider.basemap else None,
            html.Main(id=ID.PAGE),
        ],
        className="gm-app",
    )

    @app.server.route("/assets/fonts/<name>")
    def _font(name: str):
        bold = FONT_URLS.get(f"/assets/fonts/{name}")
        if bold is None:
            abort(404)
        return send_file(fonts.font_path(bold=bold), mimetype="font/ttf", max_age=86400 * 30)

    @app.server.route("/_gridmap/geo/<key>/<level>.geojson")
    def _geometry(key: str, level: str):
        known = level in (*LEVELS, "facility") and provider.has_level(level)
        if key != provider.key or not known:
            abort(404)
        etag = f'"{provider.key}-{level}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304)
        resp = Response(provider.geojson(level), mimetype="application/geo+json")
        resp.headers.update(
            {"Content-Encoding": "gzip", "ETag": etag, "Cache-Control": "private, max-age=86400"}
        )
        return resp

    register_study_tiles(app.server, provider)
    if national is None and isinstance(config, (str, os.PathLike)):
        national = national_folder(config)
    nat = _national(app, national)

    @app.callback(
        Output(ID.PAGE, "children"),
        Output(ID.NAV, "children"),
        Output(ID.TITLE, "children"),
        Output(ID.PROFILE_LABEL, "children"),
        Output(ID.PROFILE, "options"),
        Output(ID.PROFILE, "labels"),
        Output(USER_ID, "children"),
        Input(ID.URL, "pathname"),
        Input(ID.LANG, "value"),
        State(ID.URL, "search"),
    )
    def _route(pathname, lang, search):
        lang = lang or "zh"
        key = next((k for k, p in PAGES.items() if p == (pathname or "/")), "overview")
        query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
        if nat is not None and pathname == national_page.PATH:
            page = nat.layout(lang)
        else:
            page = PAGE_MODULES[key].layout(provider, lang, query=query)
        return (
            page,
            _nav(pathname, lang, national=nat is not None),
            t("app.title", lang),
            t("app.profile", lang),
            provider.profiles(lang),
            dropdown_labels(lang),
            _user_badge(lang),
        )

    for module in PAGE_MODULES.values():
        module.register(app, provider)
    if nat is not None:
        nat.register(app)
    return app
