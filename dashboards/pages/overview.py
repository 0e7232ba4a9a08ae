"""概览 Overview: KPIs, the map of overall status, results per rule, the worst offenders."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html, no_update

from dashboards.components import legend, map_view, register_map
from dashboards.i18n import t
from dashboards.ids import ID, map_ids
from dashboards.pages._common import map_payload, refused
from dashboards.provider import DashboardProvider, RejectedInput
from gridmap.labels import STATUS_COLORS

PAGE = "overview"


def layout(provider: DashboardProvider, lang: str, query: dict | None = None) -> html.Div:
    """The page: KPI cards, the status map, results per rule, the worst communities."""
    return html.Div(
        [
            html.Div(id=ID.OV_KPIS, className="gm-kpis"),
            html.Div(
                [
                    html.Div(
                        [
                            html.H3(t("ov.map", lang)),
                            map_view(
                                PAGE,
                                basemap=provider.basemap,
                                attribution=provider.basemap_attribution,
                                height="460px",
                            ),
                            html.Div(id=ID.OV_LEGEND),
                        ],
                        className="gm-col gm-col-map",
                    ),
                    html.Div(
                        [
                            html.H3(t("ov.chart", lang)),
                            dcc.Graph(
                                id=ID.OV_CHART,
                                config={"displayModeBar": False},
                                style={"minHeight": "460px"},
                            ),
                        ],
                        className="gm-col",
                    ),
                ],
                className="gm-row",
            ),
            html.H3(t("ov.worst", lang)),
            html.Div(id=ID.OV_WORST),
        ],
        className="gm-page",
        id="page-overview",
    )


def kpi_cards(k: dict, lang: str) -> list:
    """The headline cards of :meth:`DashboardProvider.kpis` (未评估 where nothing was assessed)."""
    cov = k.get("coverage")
    if cov:
        cov_value = " · ".join(f"{v:.0%}" for v in list(cov.values())[:2])
        cov_note = "；".join(f"{label} {v:.0%}" for label, v in cov.items())
    else:
        cov_value, cov_note = t("kpi.coverage.none", lang), t("kpi.coverage.note", lang)
    cards = [
        (
            "communities",
            f"{k['pass']}/{k['communities']}",
            t(
                "kpi.communities.note",
                lang,
                fail=k["fail"],
                warning=k["warning"],
                na=k["not_assessed"],
            ),
        ),
        (
            "households",
            f"{k['households']:,}",
            t("kpi.households.note", lang, n=f"{k['unassigned']:,}"),
        ),
        _grids_card(k, lang),
        _size_card(k, lang),
        ("coverage", cov_value, cov_note),
    ]
    return [
        html.Div(
            [
                html.Div(t(f"kpi.{key}", lang), className="gm-kpi-label"),
                html.Div(value, className="gm-kpi-value", id=f"kpi-{key}"),
                html.Div(note, className="gm-kpi-note"),
            ],
            className="gm-kpi",
        )
        for key, value, note in cards
    ]


def _grids_card(k: dict, lang: str) -> tuple[str, str, str]:
    """Grids short of coordinators: 未评估 when no grid could be assessed (never 0)."""
    if k["grids_short"] is None:
        if not k["grids"]:
            note = t("kpi.grids_short.nogrids", lang)
        elif not k.get("grids_na"):
            note = t("kpi.grids_short.norule", lang)
        else:
            note = t("kpi.grids_short.na", lang, na=k["grids_na"])
        return "grids_short", t("kpi.na", lang), note
    key = "kpi.grids_short.partial" if k.get("grids_na") else "kpi.grids_short.note"
    note = t(key, lang, n=k["grids"], gap=k["coordinator_gap"], na=k.get("grids_na"))
    return "grids_short", f"{k['grids_short']}", note


def _size_card(k: dict, lang: str) -> tuple[str, str, str]:
    """Communities out of the profile's household band: 未评估 when not assessable."""
    if k.get("band") is None:
        return "size", t("kpi.na", lang), t("kpi.size.none", lang)
    if k["size_small"] is None:
        return "size", t("kpi.na", lang), t("kpi.size.na", lang)
    key = "kpi.size.partial" if k["size_na"] else "kpi.size.note"
    return (
        "size",
        f"{k['size_small'] + k['size_large']}",
        t(key, lang, small=k["size_small"], large=k["size_large"], band=k["band"], na=k["size_na"]),
    )


def wrap_label(text: str, width: int = 24, lines: int = 2) -> str:
    """A rule title in at most ``lines`` lines of about ``width`` columns (CJK counts 2).

    Chinese breaks anywhere, English at spaces; what does not fit in ``lines`` lines ends
    in "…".

    Examples
    --------
    >>> wrap_label("Community size 1000-3000 households", width=16)
    'Community size<br>1000-3000…'
    >>> wrap_label("社区工作和公益性服务用房 每百户不少于20 m²")
    '社区工作和公益性服务用房<br> 每百户不少于20 m²'
    """
    out, line, used = [], "", 0
    cjk = any(ord(ch) > 0x2E80 for ch in text)
    words = list(text) if cjk else text.split(" ")
    joiner = "" if cjk else " "
    for word in words:
        w = sum(2 if ord(ch) > 0x2E80 else 1 for ch in word)
        if line and used + w + len(joiner) > width:
            out.append(line)
            line, used = word, w
        else:
            line, used = (
                (line + joiner + word if line else word),
                used + w + (len(joiner) if line else 0),
            )
    out.append(line)
    if len(out) > lines:
        out = out[: lines - 1] + [out[lines - 1] + "…"]
    return "<br>".join(out)


def rule_chart(counts: pd.DataFrame, lang: str) -> go.Figure:
    """Bars per rule: the share of its units passing / failing / not assessed.

    Shares, not counts, so community rules (tens of units) and grid rules (hundreds) read on
    one axis; the hover gives the counts (:meth:`DashboardProvider.rule_counts`).
    """
    titles = [wrap_label(x) for x in counts["title"]]
    total = counts[["pass", "fail", "not_assessed"]].sum(axis=1).clip(lower=1)
    fig = go.Figure()
    for status in ("pass", "fail", "not_assessed"):
        key = f"status.{status}"
        fig.add_bar(
            y=titles,
            x=(counts[status] / total * 100).round(1),
            name=t(key, lang),
            orientation="h",
            marker_color=STATUS_COLORS[status],
            customdata=list(zip(counts["title"], counts[status], total, strict=True)),
            hovertemplate="%{customdata[0]}<br>"
            + t(key, lang)
            + "：%{customdata[1]} / %{customdata[2]}（%{x}%）<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        height=max(460, 34 * len(titles) + 110),  # two-line titles need ~34 px per rule
        margin={"l": 10, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": -0.08},
        yaxis={"autorange": "reversed", "automargin": True, "tickfont": {"size": 11}},
        xaxis={"range": [0, 100], "ticksuffix": "%", "title": {"text": t("ov.share", lang)}},
        plot_bgcolor="white",
        font={"family": "Gridmap Noto Sans SC, Noto Sans CJK SC, Microsoft YaHei, sans-serif"},
    )
    return fig


def worst_table(df: pd.DataFrame, lang: str) -> html.Table:
    """The worst communities (:meth:`DashboardProvider.worst`) as a table."""
    cols = [
        ("unit_name", "col.name"),
        ("errors", "col.errors"),  # the table's order: serious failures first, then all
        ("fails", "col.fails"),
        ("worst", "col.worst"),
    ]
    head = html.Thead(html.Tr([html.Th(t(k, lang)) for _, k in cols]))
    body = html.Tbody(
        [html.Tr([html.Td(str(row[c])) for c, _ in cols]) for row in df.to_dict("records")]
    )
    return html.Table([head, body], className="gm-table", id="ov-worst-table")


def register(app: Any, provider: DashboardProvider) -> None:
    """Wire the page's callback: everything follows the profile and the language."""
    ids = map_ids(PAGE)
    register_map(app, PAGE)

    @app.callback(
        Output(ID.OV_KPIS, "children"),
        Output(ID.OV_CHART, "figure"),
        Output(ID.OV_WORST, "children"),
        Output(ids.values, "data"),
        Output(ID.OV_LEGEND, "children"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
    )
    def _update(profile, lang):
        try:
            profile = provider.profile_id(profile)
        except RejectedInput as exc:
            return refused(exc, lang), no_update, no_update, no_update, []
        lang = "en" if lang == "en" else "zh"
        # the page of a profile's check never changes: built once, then only sent (kept while
        # the profile's result is; nothing here modifies it)
        return provider.derived(
            profile, ("overview.page", lang), lambda: _page(profile, lang), shared=True
        )

    def _page(profile: str, lang: str) -> tuple:
        k = provider.kpis(profile, lang)
        payload = map_payload(app, provider, "community", "status", profile, lang)
        chart = rule_chart(provider.rule_counts(profile, lang), lang).to_plotly_json()
        worst = worst_table(provider.worst(profile, lang), lang)
        return kpi_cards(k, lang), chart, worst, payload, legend(payload["legend"])
