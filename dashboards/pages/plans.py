"""边界调整 Plans: edit a plan of grids → communities on the map, watch the KPIs, rebalance, save.

The plan lives on the server, one per user and browser tab, behind the provider
(:attr:`DashboardProvider.plan_sessions`), kept as a draft in the workspace; the tab holds
only the tab id the server issued when it drew the page (in a ``sessionStorage``
``dcc.Store``; an id the server did not issue to this user is replaced by a new one) and its
selection. Callbacks are thin: they read the controls, make one provider call and draw what
it returns; refusals (a viewer editing, a number out of range, a save conflict, a full or
read-only workspace) are messages in the page.

The map shows grids coloured by their community in the plan (or by whether the
community is within the household band); clicking grids selects them (outlined).
The band, its exemption and every KPI come from the plan under the profile chosen
at the top of the app: the same figures as the overview, ``gridmap check`` and the
reports. Edits: move the selection to a neighbouring community, make a new community
of it, split a community into k, merge communities; undo/redo; the rebalancer's
result is shown first and applied on request. The as-is map and a KPI table sit below
for comparison. Plans are saved to (and loaded from) the provider's workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update

from dashboards.components import map_view, register_map
from dashboards.i18n import dropdown_labels, t
from dashboards.ids import ID, map_ids
from dashboards.pages._common import borders_url, geo_url, refused
from dashboards.pages._plan_parts import (
    changes,
    kpi_cards,
    legend_div,
    news_box,
    register_news,
    table,
)
from dashboards.provider import (
    DashboardProvider,
    PlanOutcome,
    PlanRequest,
    PlanView,
    RejectedInput,
)
from dashboards.provider.plan_session import TabRefused
from gridmap.plans.postgis import is_database_url, redact

__all__ = ["layout", "register"]

PAGE = "plans"
BASE = "plans-base"
EMPTY_SELECTION: dict[str, list] = {"units": [], "index": []}
#: button -> the action it asks the provider for
ACTIONS = {
    ID.PL_MOVE: "move",
    ID.PL_CREATE: "create",
    ID.PL_SPLIT: "split",
    ID.PL_MERGE: "merge",
    ID.PL_UNDO: "undo",
    ID.PL_REDO: "redo",
    ID.PL_RB_RUN: "rebalance",
    ID.PL_RB_APPLY: "apply",
    ID.PL_SAVE: "save",
    ID.PL_LOAD: "load",
    ID.PL_RESET: "reset",
    ID.PL_TAKEOVER: "takeover",
    ID.PL_RELOAD: "reload",
    ID.PL_REBASE: "rebase",
}


# ---------------------------------------------------------------------- drawing


def toggle_selection(selection: dict | None, click: dict) -> dict:
    """The selection with the clicked grid added, or removed when it was selected."""
    units = list((selection or {}).get("units", []))
    index = list((selection or {}).get("index", []))
    uid = str(click["unit_id"])
    if uid in units:
        i = units.index(uid)
        units.pop(i)
        index.pop(i)
    else:
        units.append(uid)
        index.append(int(click["index"]))
    return {"units": units, "index": index}


def _message(out: PlanOutcome) -> Any:
    if out.tone == "text":
        return out.lines[0]
    if out.tone == "error":
        return html.Div(out.lines[0], className="gm-error")
    if out.tone == "ok" and not out.in_rebalance_box:  # done, then warnings (band, islands)
        head, *warnings = out.lines
        return html.Div(
            [html.Div(head, className="gm-ok")]
            + [html.Div(w, className="gm-warn") for w in warnings]
        )
    return html.Div(
        [html.Div(x) for x in out.lines], className="gm-ok" if out.tone == "ok" else "gm-error"
    )


def _login_needed(lang: str) -> dict:
    """The render callback's answer when nobody is logged in: the message, nothing drawn."""
    keys = (
        *("plan_map", "base_map", "kpis", "legend", "base_legend", "compare", "changes"),
        *("no_undo", "no_redo", "no_apply", "split", "merge", "saved", "workspace", "band", "sid"),
        "drafts",
    )
    out: dict[str, Any] = dict.fromkeys(keys, no_update)
    out["message"] = html.Div(t("pl.tab.login", lang), className="gm-error")
    return out


def _notice(view: PlanView, renewed: bool, lang: str) -> Any:
    """What the message line says after drawing: a new session, a restored draft, or nothing."""
    if renewed:
        return html.Div(t("pl.tab.renewed", lang), className="gm-error")
    return no_update if view.notice is None else view.notice


def _workspace_name(workspace: Path | str | None) -> str:
    """The workspace as the page names it: a file's name, a database URL without its password."""
    if workspace is None:
        return "…"
    if isinstance(workspace, str) and is_database_url(workspace):
        return redact(workspace)
    return Path(workspace).name


def _button(id_: str, label: str, **kw: Any) -> html.Button:
    return html.Button(label, id=id_, n_clicks=0, className="gm-button", **kw)


# ---------------------------------------------------------------------- layout
def _tools(provider: DashboardProvider, lang: str) -> html.Div:
    box = {
        "display": "flex",
        "gap": "6px",
        "alignItems": "center",
        "flexWrap": "wrap",
        "margin": "4px 0",
    }
    return html.Div(
        [
            html.Div(t("pl.hint", lang), className="gm-muted"),
            html.Div(id=ID.PL_SEL_INFO, className="gm-note"),
            html.Div(
                [
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id=ID.PL_MOVE_TO,
                        placeholder=t("pl.move_to", lang),
                        style={"minWidth": "220px"},
                    ),
                    _button(ID.PL_MOVE, t("pl.move", lang)),
                    _button(ID.PL_CREATE, t("pl.create", lang)),
                    _button(ID.PL_CLEAR, t("pl.clear", lang)),
                ],
                style=box,
            ),
            html.Div(
                [
                    html.Label(t("pl.split", lang)),
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id=ID.PL_SPLIT_COMM,
                        placeholder=t("dd.select", lang),
                        style={"minWidth": "180px"},
                    ),
                    dcc.Input(
                        id=ID.PL_SPLIT_K,
                        type="number",
                        min=2,
                        max=8,
                        step=1,
                        value=2,
                        style={"width": "48px"},
                    ),
                    html.Span(t("pl.split.k", lang)),
                    _button(ID.PL_SPLIT, t("pl.split.go", lang)),
                ],
                style=box,
            ),
            html.Div(
                [
                    html.Label(t("pl.merge", lang)),
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id=ID.PL_MERGE_COMMS,
                        multi=True,
                        placeholder=t("dd.select", lang),
                        style={"minWidth": "260px"},
                    ),
                    _button(ID.PL_MERGE, t("pl.merge.go", lang)),
                ],
                style=box,
            ),
            html.Div(
                [
                    _button(ID.PL_UNDO, "↶ " + t("pl.undo", lang)),
                    _button(ID.PL_REDO, "↷ " + t("pl.redo", lang)),
                    _button(ID.PL_RESET, t("pl.reset", lang)),
                ],
                style=box,
            ),
            html.Div(id=ID.PL_MESSAGE, className="gm-plan-message"),
            *news_box(lang),
            html.H4(t("pl.rb", lang)),
            html.Div(
                [html.Label(t("pl.band", lang)), html.Span(id=ID.PL_BAND, className="gm-note")],
                style=box,
            ),
            html.Div(
                [
                    html.Label(t("pl.rb.time", lang)),
                    dcc.Input(
                        id=ID.PL_RB_TIME,
                        type="number",
                        value=10,
                        min=1,
                        max=300,
                        step=1,
                        style={"width": "56px"},
                    ),
                    _button(ID.PL_RB_RUN, t("pl.rb.run", lang)),
                    _button(ID.PL_RB_APPLY, t("pl.rb.apply", lang), disabled=True),
                ],
                style=box,
            ),
            dcc.Loading(html.Div(id=ID.PL_RB_RESULT, className="gm-muted"), type="dot"),
            html.H4(t("pl.save", lang)),
            html.Div(
                [
                    dcc.Input(
                        id=ID.PL_NAME,
                        type="text",
                        placeholder=t("pl.name", lang),
                        style={"width": "160px"},
                    ),
                    _button(ID.PL_SAVE, t("pl.save", lang)),
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id=ID.PL_SAVED,
                        placeholder=t("pl.saved", lang),
                        style={"minWidth": "180px"},
                    ),
                    _button(ID.PL_LOAD, t("pl.load", lang)),
                ],
                style=box,
            ),
            html.Div(
                [
                    html.Label(t("pl.takeover", lang), htmlFor=str(ID.PL_DRAFTS)),
                    dcc.Dropdown(
                        labels=dropdown_labels(lang),
                        id=ID.PL_DRAFTS,
                        placeholder=t("dd.select", lang),
                        style={"minWidth": "260px"},
                    ),
                    _button(ID.PL_TAKEOVER, t("pl.takeover.button", lang)),
                ],
                style=box,
                id="pl-takeover-box",
            ),
            html.Div(
                t(
                    "pl.workspace",
                    lang,
                    path=_workspace_name(provider.workspace),
                ),
                id=ID.PL_WORKSPACE,
                className="gm-muted",
            ),
            html.Div(
                [
                    _button(ID.PL_EXPORT_XLSX, t("pl.export.xlsx", lang)),
                    _button(ID.PL_EXPORT_GPKG, t("pl.export.gpkg", lang)),
                    dcc.Download(id=ID.PL_DOWNLOAD),
                ],
                style=box,
            ),
        ],
        className="gm-col gm-col-detail",
    )


def layout(provider: DashboardProvider, lang: str, query: dict | None = None) -> html.Div:
    """The page: KPI cards, the plan's map with the editing tools, the as-is map and tables."""
    color = dcc.RadioItems(
        id=ID.PL_COLOR,
        value="community",
        inline=True,
        persistence=True,
        persistence_type="session",
        options=[
            {"value": "community", "label": t("pl.color.community", lang)},
            {"value": "status", "label": t("pl.color.status", lang)},
        ],
    )
    basemap: dict[str, Any] = {
        "basemap": provider.basemap,
        "attribution": provider.basemap_attribution,
    }
    return html.Div(
        [
            dcc.Store(
                id=ID.PL_SESSION, storage_type="session", data=provider.plan_sessions.issue()
            ),
            dcc.Store(id=ID.PL_REV, data=0),
            dcc.Store(id=ID.PL_SELECTION, data=EMPTY_SELECTION),
            dcc.Store(id=f"{map_ids(PAGE).div}-selected"),
            html.Div(id=ID.PL_KPIS, className="gm-kpis"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.H3(t("pl.map.plan", lang), style={"margin": "0 12px 0 0"}),
                                    html.Label(t("pl.color", lang)),
                                    color,
                                ],
                                className="gm-controls",
                            ),
                            map_view(PAGE, height="520px", **basemap),
                            html.Div(id=ID.PL_LEGEND),
                        ],
                        className="gm-col gm-col-map",
                    ),
                    _tools(provider, lang),
                ],
                className="gm-row",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.H3(t("pl.map.base", lang)),
                            map_view(BASE, height="380px", **basemap),
                            html.Div(id=ID.PL_BASE_LEGEND),
                        ],
                        className="gm-col gm-col-map",
                    ),
                    html.Div(
                        [
                            html.H3(t("pl.compare", lang)),
                            html.Div(id=ID.PL_COMPARE),
                            html.H3(t("pl.changes", lang)),
                            html.Div(id=ID.PL_CHANGES),
                        ],
                        className="gm-col gm-col-detail",
                    ),
                ],
                className="gm-row",
            ),
        ],
        className="gm-page",
        id="page-plans",
    )


# ---------------------------------------------------------------------- callbacks
def register(app: Any, provider: DashboardProvider) -> None:
    """Wire the page's callbacks; plans live in ``provider.plan_sessions`` (``app.plan_store``)."""
    app.plan_store = provider.plan_sessions  # for tests and tools
    ids, base_ids = map_ids(PAGE), map_ids(BASE)
    register_map(app, PAGE)
    register_map(app, BASE)
    register_news(app, provider)
    app.clientside_callback(
        ClientsideFunction(namespace="gridmap", function_name="selection"),
        Output(f"{ids.div}-selected", "data"),
        Input(ID.PL_SELECTION, "data"),
        State(ids.div, "id"),
    )

    @app.callback(
        Output(ID.PL_SELECTION, "data"),
        Input(ids.click, "data"),
        Input(ID.PL_CLEAR, "n_clicks"),
        State(ID.PL_SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _select(click: dict | None, _clear: int, sel: dict | None) -> dict:
        if ctx.triggered_id == ID.PL_CLEAR or not click:
            return EMPTY_SELECTION
        return toggle_selection(sel, click)

    act_outputs = {
        "rev": Output(ID.PL_REV, "data"),
        "message": Output(ID.PL_MESSAGE, "children"),
        "rebalance": Output(ID.PL_RB_RESULT, "children"),
        "selection": Output(ID.PL_SELECTION, "data", allow_duplicate=True),
        "name": Output(ID.PL_NAME, "value"),
    }

    @app.callback(
        output=act_outputs,
        inputs={"clicks": [Input(k, "n_clicks") for k in ACTIONS]},
        state={
            "sid": State(ID.PL_SESSION, "data"),
            "sel": State(ID.PL_SELECTION, "data"),
            "target": State(ID.PL_MOVE_TO, "value"),
            "community": State(ID.PL_SPLIT_COMM, "value"),
            "k": State(ID.PL_SPLIT_K, "value"),
            "communities": State(ID.PL_MERGE_COMMS, "value"),
            "profile": State(ID.PROFILE, "value"),
            "seconds": State(ID.PL_RB_TIME, "value"),
            "name": State(ID.PL_NAME, "value"),
            "saved": State(ID.PL_SAVED, "value"),
            "draft": State(ID.PL_DRAFTS, "value"),
            "rev": State(ID.PL_REV, "data"),
            "lang": State(ID.LANG, "value"),
        },
        prevent_initial_call=True,
    )
    def _act(
        clicks: list,
        sid: str,
        sel: dict | None,
        target: str | None,
        community: str | None,
        k: int | None,
        communities: list[str] | None,
        profile: str | None,
        seconds: float | None,
        name: str | None,
        saved: str | None,
        draft: str | None,
        rev: int | None,
        lang: str | None,
    ) -> dict:
        request = PlanRequest(
            ACTIONS[ctx.triggered_id],
            selection=(sel or {}).get("units", []),
            target=target,
            community=community,
            k=k,
            communities=communities,
            time_limit=seconds,
            name=name,
            saved=saved,
            profile=profile,
            lang=lang or "zh",
        )
        try:
            if request.action == "takeover":  # another tab's draft into this one
                out = provider.plan_takeover(sid, draft, profile=profile, lang=lang or "zh")
            else:
                out = provider.plan_action(sid, request)
        except (
            RejectedInput
        ) as exc:  # a crafted value (e.g. a profile path): say so, change nothing
            return {**{k: no_update for k in act_outputs}, "message": refused(exc, lang)}
        msg = _message(out)
        return {
            "rev": (rev or 0) + 1 if out.refresh else no_update,
            "message": no_update if out.in_rebalance_box else msg,
            "rebalance": msg
            if out.in_rebalance_box
            else ("" if out.clear_rebalance else no_update),
            "selection": EMPTY_SELECTION if out.clear_selection else no_update,
            "name": no_update if out.name is None else out.name,
        }

    render_outputs = {
        "plan_map": Output(ids.values, "data"),
        "base_map": Output(base_ids.values, "data"),
        "kpis": Output(ID.PL_KPIS, "children"),
        "legend": Output(ID.PL_LEGEND, "children"),
        "base_legend": Output(ID.PL_BASE_LEGEND, "children"),
        "compare": Output(ID.PL_COMPARE, "children"),
        "changes": Output(ID.PL_CHANGES, "children"),
        "no_undo": Output(ID.PL_UNDO, "disabled"),
        "no_redo": Output(ID.PL_REDO, "disabled"),
        "no_apply": Output(ID.PL_RB_APPLY, "disabled"),
        "split": Output(ID.PL_SPLIT_COMM, "options"),
        "merge": Output(ID.PL_MERGE_COMMS, "options"),
        "saved": Output(ID.PL_SAVED, "options"),
        "workspace": Output(ID.PL_WORKSPACE, "children"),
        "band": Output(ID.PL_BAND, "children"),
        "message": Output(ID.PL_MESSAGE, "children", allow_duplicate=True),
        "sid": Output(ID.PL_SESSION, "data"),
        "drafts": Output(ID.PL_DRAFTS, "options"),
    }

    @app.callback(
        output=render_outputs,
        inputs={
            "_rev": Input(ID.PL_REV, "data"),
            "sid": Input(ID.PL_SESSION, "data"),
            "mode": Input(ID.PL_COLOR, "value"),
            "profile": Input(ID.PROFILE, "value"),
            "lang": Input(ID.LANG, "value"),
        },
        prevent_initial_call="initial_duplicate",
    )
    def _render(
        _rev: int, sid: str, mode: str | None, profile: str | None, lang: str | None
    ) -> dict:
        lang, mode = lang or "zh", mode or "community"
        url, fresh = geo_url(app, provider, "grid"), None
        try:
            try:
                view = provider.plan_view(sid, url, profile=profile or None, mode=mode, lang=lang)
            except TabRefused as exc:  # not issued to this user: draw a new tab's plan, say so
                fresh = provider.plan_sessions.issue() if exc.reason != "login" else ""
                if not fresh:
                    return _login_needed(lang)
                view = provider.plan_view(fresh, url, profile=profile or None, mode=mode, lang=lang)
        except RejectedInput as exc:  # a crafted profile or colouring: keep the page, say so
            return {**{k: no_update for k in render_outputs}, "message": refused(exc, lang)}
        head = [t("pl.compare.metric", lang), t("pl.map.base", lang), t("pl.map.plan", lang)]
        where = t("pl.workspace", lang, path=_workspace_name(view.workspace))
        borders = borders_url(app, provider)  # the as-is communities, heavier than grid lines
        return {
            "plan_map": {**view.plan_map, "borders": borders},
            "base_map": {**view.base_map, "borders": borders},
            "kpis": kpi_cards(view, lang),
            "legend": legend_div(view.plan_map["legend"], mode),
            "base_legend": legend_div(view.base_map["legend"], mode),
            "compare": table(head, view.compare, "pl-compare-table"),
            "changes": changes(view, lang),
            "no_undo": not view.can_undo,
            "no_redo": not view.can_redo,
            "no_apply": not view.pending,
            "split": view.communities,
            "merge": view.communities,
            "saved": [{"value": n, "label": n} for n in view.saved],
            "workspace": where + (" " + t("pl.readonly", lang) if view.read_only else ""),
            "band": view.band_text,
            "message": _notice(view, fresh is not None, lang),
            "sid": fresh or no_update,
            "drafts": provider.plan_drafts(fresh or sid, lang),
        }

    @app.callback(
        Output(ID.PL_SEL_INFO, "children"),
        Output(ID.PL_MOVE_TO, "options"),
        Output(ID.PL_MOVE_TO, "value"),
        Input(ID.PL_SELECTION, "data"),
        Input(ID.PL_REV, "data"),
        Input(ID.PL_SESSION, "data"),
        Input(ID.LANG, "value"),
        State(ID.PL_MOVE_TO, "value"),
    )
    def _selection(
        sel: dict | None, _rev: int, sid: str, lang: str | None, current: str | None
    ) -> tuple:
        lang = lang or "zh"
        units = (sel or {}).get("units", []) if isinstance(sel, dict) else []
        if not units:
            return t("pl.selection.none", lang), [], None
        try:
            view = provider.plan_selection(sid, units)
        except TabRefused as exc:
            return t(f"pl.tab.{exc.reason}", lang), [], None
        names = view.names
        shown = "、".join(names[:6]) + ("…" if len(names) > 6 else "")
        targets = [o["value"] for o in view.targets]
        value = current if current in targets else (targets[0] if len(targets) == 1 else None)
        info = t("pl.selection", lang, n=len(units), hh=view.households, names=shown)
        return info, view.targets, value

    @app.callback(
        Output(ID.PL_DOWNLOAD, "data"),
        Input(ID.PL_EXPORT_XLSX, "n_clicks"),
        Input(ID.PL_EXPORT_GPKG, "n_clicks"),
        State(ID.PL_SESSION, "data"),
        State(ID.PROFILE, "value"),
        prevent_initial_call=True,
    )
    def _export(_x: int, _g: int, sid: str, profile: str | None) -> Any:
        fmt = "xlsx" if ctx.triggered_id == ID.PL_EXPORT_XLSX else "gpkg"
        try:
            data, name = provider.plan_export(sid, fmt, profile)
        except (TabRefused, RejectedInput):
            return no_update
        return dcc.send_bytes(data, name)
