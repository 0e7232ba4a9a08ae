"""Pieces the Plans page draws from a plan view: KPI cards, legends, tables, the change list.

And the news box: when another planner saved the plan a tab has open, the page says so
(polled every :data:`NEWS_EVERY_MS` and after every change) and offers 重新载入 (the plan as
saved now) or 合并我的修改 (re-apply the tab's edits on theirs), buttons of the page's
action callback.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html

from dashboards.components import legend
from dashboards.i18n import t
from dashboards.ids import ID
from dashboards.provider import DashboardProvider, PlanView
from dashboards.provider.plan_session import TabRefused

__all__ = [
    "NEWS_EVERY_MS",
    "in_band_card",
    "kpi_cards",
    "legend_div",
    "table",
    "changes",
    "proposal",
    "news_box",
    "register_news",
]

#: how often a tab asks whether another planner saved its plan (milliseconds)
NEWS_EVERY_MS = 5_000
_HIDDEN = {"display": "none"}
_SHOWN = {"display": "block"}


def news_box(lang: str) -> list[Any]:
    """The (hidden) news box with its two buttons, and the interval that polls for news."""
    buttons = [
        html.Button(t("pl.news.reload", lang), id=ID.PL_RELOAD, n_clicks=0, className="gm-btn"),
        html.Button(t("pl.news.rebase", lang), id=ID.PL_REBASE, n_clicks=0, className="gm-btn"),
    ]
    return [
        html.Div(
            [html.Div(id=ID.PL_NEWS_TEXT), html.Div(buttons, style={"marginTop": "6px"})],
            id=ID.PL_NEWS,
            className="gm-plan-message gm-plan-news",
            role="status",
            style=_HIDDEN,
        ),
        dcc.Interval(id=ID.PL_NEWS_POLL, interval=NEWS_EVERY_MS),
    ]


def register_news(app: Any, provider: DashboardProvider) -> None:
    """Show the news box while another planner's save of the tab's plan is not taken in."""

    @app.callback(
        Output(ID.PL_NEWS_TEXT, "children"),
        Output(ID.PL_NEWS, "style"),
        Input(ID.PL_NEWS_POLL, "n_intervals"),
        Input(ID.PL_REV, "data"),
        State(ID.PL_SESSION, "data"),
        State(ID.LANG, "value"),
    )
    def _news(_tick: int | None, _rev: int | None, sid: str | None, lang: str | None) -> tuple:
        try:
            line = provider.plan_sessions.news(sid, lang or "zh")
        except TabRefused:
            line = None
        return (line or "", _SHOWN if line else _HIDDEN)


def in_band_card(view: PlanView, lang: str) -> tuple[str, str, str]:
    k = view.kpis
    if k["in_band"] is None or k["size_not_assessed"] == k["communities"]:
        return (
            "in_band",
            t("pl.status.not_assessed", lang),
            t("pl.kpi.in_band.na", lang, profile=view.profile),
        )
    key = "pl.kpi.in_band.partial" if k["size_not_assessed"] else "pl.kpi.in_band.note"
    note = t(
        key,
        lang,
        small=k["too_small"],
        large=k["too_large"],
        na=k["size_not_assessed"],
        band=view.band,
        profile=view.profile,
    )
    return "in_band", f"{k['in_band']}/{k['communities']}", note


def kpi_cards(view: PlanView, lang: str) -> list:
    k = view.kpis
    total = "—" if k["households_total"] is None else f"{k['households_total']:,}"
    cards = [
        in_band_card(view, lang),
        ("units_moved", f"{k['units_moved']:,}", t("pl.kpi.units_moved.note", lang, n=k["edits"])),
        (
            "households_moved",
            f"{k['households_moved']:,}",
            t("pl.kpi.households_moved.note", lang, n=total),
        ),
        ("contiguity", f"{k['non_contiguous']}", t("pl.kpi.contiguity.note", lang)),
    ]
    return [
        html.Div(
            [
                html.Div(t(f"pl.kpi.{key}", lang), className="gm-kpi-label"),
                html.Div(value, className="gm-kpi-value", id=f"pl-kpi-{key}"),
                html.Div(note, className="gm-kpi-note"),
            ],
            className="gm-kpi",
        )
        for key, value, note in cards
    ]


def legend_div(items: list[dict], mode: str) -> html.Div:
    if mode == "status":
        return legend(items)
    return html.Div(
        " · ".join(f"{it['label']} {it['count']:,}" for it in items), className="gm-legend gm-muted"
    )


def table(head: list[str], rows: list, id_: str) -> html.Table:
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody([html.Tr([html.Td(str(c)) for c in r]) for r in rows]),
        ],
        className="gm-table",
        id=id_,
    )


def _change_head(lang: str) -> list[str]:
    return [
        t("pl.col.unit", lang),
        t("pl.col.from", lang),
        t("pl.col.to", lang),
        t("col.households", lang),
    ]


def proposal(view: PlanView, lang: str) -> list:
    """The rebalancer's pending proposal: what it moves and what it fixes, before 应用."""
    if not view.proposal:
        return []
    after = view.proposal_kpis or {}
    note = t(
        "pl.proposal.title",
        lang,
        n=len(view.proposal),
        before=view.kpis.get("in_band"),
        after=after.get("in_band"),
        total=view.kpis.get("communities"),
    )
    return [
        html.Div(note, className="gm-note gm-proposal", id="pl-proposal-note"),
        table(_change_head(lang), view.proposal, "pl-proposal-table"),
    ]


def changes(view: PlanView, lang: str) -> Any:
    """The proposal (when one waits) above the plan's change list against the as-is."""
    done = (
        table(_change_head(lang), view.changes, "pl-changes-table")
        if view.changes
        else html.Div(t("pl.changes.none", lang), className="gm-muted")
    )
    return html.Div([*proposal(view, lang), done])
