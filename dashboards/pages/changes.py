"""预测与对比 Forecast & compare: a year slider over the forecast, and a comparison mode.

**Forecast**: the communities coloured by their status in the year chosen on the slider (the
check re-run as the study's residential projects fill up), with the violations first seen
that year. **Compare**: today's check against a forecast year or a saved plan; units coloured
by their kind of change (moved grids stand out) and the change table. The callbacks are thin:
everything comes from :class:`dashboards.provider.changes.ChangeViews` (``provider.changes``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from dash import Input, Output, dcc, html, no_update

from dashboards.components import legend, register_map
from dashboards.i18n import dropdown_labels, t
from dashboards.ids import ID, map_ids
from dashboards.messages import without_paths
from dashboards.pages._common import borders_url, geo_url, map_page, refused
from dashboards.provider import DashboardProvider, RejectedInput

PAGE = "changes"
#: columns of the violations list
VIOLATION_COLUMNS = ("level", "unit_id", "name", "rule_title", "households", "message")


def _slider(years: list[int]) -> dcc.Slider:
    return dcc.Slider(
        id=ID.CH_YEAR,
        min=years[0] if years else 0,
        max=years[-1] if years else 1,
        step=1,
        value=years[0] if years else None,
        marks={y: str(y) for y in years},
        included=False,
    )


def layout(provider: DashboardProvider, lang: str, query: dict | None = None) -> html.Div:
    """The page: mode, year slider or comparison target, the map, the list."""
    views = provider.changes
    years = views.years()
    targets = views.targets(lang)
    controls = html.Div(
        [
            html.Label(t("ch.mode", lang)),
            dcc.RadioItems(
                id=ID.CH_MODE,
                value="forecast",
                inline=True,
                options=[
                    {"value": "forecast", "label": t("ch.mode.forecast", lang)},
                    {"value": "compare", "label": t("ch.mode.compare", lang)},
                ],
            ),
            html.Div(
                [html.Label(t("ch.year", lang)), html.Div(_slider(years), className="gm-slider")],
                id=ID.CH_YEAR_BOX,
                className="gm-controls",
            ),
            html.Div(
                [
                    html.Label(t("ch.target", lang)),
                    dcc.Dropdown(
                        id=ID.CH_TARGET,
                        labels=dropdown_labels(lang),
                        placeholder=t("dd.select", lang),
                        options=targets,
                        value=targets[0]["value"] if targets else None,
                        clearable=False,
                        style={"minWidth": "240px"},
                    ),
                    html.Label(t("ch.level", lang)),
                    dcc.RadioItems(
                        id=ID.CH_LEVEL,
                        value="grid" if provider.has_level("grid") else "community",
                        inline=True,
                        options=[
                            {"value": lv, "label": t(f"ch.level.{lv}", lang)}
                            for lv in ("community", "grid")
                            if provider.has_level(lv)
                        ],
                    ),
                ],
                id=ID.CH_TARGET_BOX,
                className="gm-controls",
                style={"display": "none"},
            ),
        ],
        className="gm-controls",
    )
    return map_page(
        provider,
        PAGE,
        controls,
        legend_id=ID.CH_LEGEND,
        detail=[html.H3(id=ID.CH_HEADLINE), html.Div(id=ID.CH_TABLE)],
        note_id=ID.CH_NOTE,
    )


def _table(df: pd.DataFrame, lang: str, table_id: str) -> html.Table:
    head = html.Tr([html.Th(t(f"ch.col.{c}", lang)) for c in df.columns])
    rows = [
        html.Tr([html.Td(_cell(v)) for v in row], className="gm-change-row")
        for row in df.itertuples(index=False)
    ]
    return html.Table(
        [html.Thead(head), html.Tbody(rows)], id=table_id, className="gm-table gm-change-table"
    )


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{v:,.0f}"
    return str(v)


def _forecast(app: Any, provider: DashboardProvider, year: Any, profile: Any, lang: str) -> tuple:
    views = provider.changes
    pid = provider.profile_id(profile)
    if views.projection(pid) is None:
        err = views.forecast_error()
        note = (
            t("ch.projects_error", lang, err=without_paths(err))
            if err
            else t("ch.no_projects", lang)
        )
        return no_update, note, "", "", []
    values = views.forecast_values(year, lang, pid)
    y = views.year(year)
    payload = values.payload(
        geo_url(app, provider, "community"), version=f"forecast|{pid}|{y}|{lang}"
    )
    payload["borders"] = borders_url(app, provider)
    v = views.forecast_violations(y, lang, pid)
    key = "ch.today" if y == views.base_year else "ch.first_in"
    headline = t(key, lang, year=y, n=len(v))
    body: list = (
        [_table(v[list(VIOLATION_COLUMNS)], lang, "ch-violations")]
        if len(v)
        else [html.P(t("ch.none_new", lang), id="ch-violations")]
    )
    counts = views.forecast_counts(pid)
    row = counts[counts["year"] == y]
    if len(row):
        r = row.iloc[0]
        figures = [
            (t("ch.households", lang), f"{int(r['households']):,}"),
            (t("ch.fail", lang), f"{int(r['fail']):,}"),
            (t("ch.new", lang), f"{int(r['new']):,}"),
        ]
        band = provider.result(pid).profile.size_band()  # the band the forecast's check used
        if band is not None:
            text = t("pl.band.value", lang, band=band.label(lang), profile=pid)
            figures.append((t("pl.band", lang), text))
        body.insert(
            0,
            html.Dl(
                [x for label, value in figures for x in (html.Dt(label), html.Dd(value))],
                className="gm-figures",
                id="ch-figures",
            ),
        )
    return payload, "", legend(payload["legend"]), headline, body


def _compare(
    app: Any, provider: DashboardProvider, target: Any, level: Any, profile: Any, lang: str
) -> tuple:
    views = provider.changes
    if not views.targets(lang):
        return no_update, t("ch.no_targets", lang), "", "", []
    lv = provider.level(level)
    pid = provider.profile_id(profile)
    comparison = views.comparison(target, pid)
    values = views.change_values(comparison, lv, lang)
    payload = values.payload(
        geo_url(app, provider, lv), version=f"compare|{pid}|{target}|{lv}|{lang}"
    )
    payload["borders"] = borders_url(app, provider)
    table = views.change_table(comparison, lang)
    headline = t("ch.changed", lang, n=len(comparison.changed()))
    body = (
        [_table(table, lang, "ch-changes")] if len(table) else [html.P(t("ch.unchanged_all", lang))]
    )
    return payload, "", legend(payload["legend"]), headline, body


def register(app: Any, provider: DashboardProvider) -> None:
    """Wire the page: mode switch; year or target → map, legend, list."""
    ids = map_ids(PAGE)
    register_map(app, PAGE)
    # the forecast view of a (profile, year, language): a projection never changes once made,
    # so moving the slider back, or another planner on the same year, builds nothing again
    forecasts: dict[tuple, tuple] = {}

    @app.callback(
        Output(ID.CH_YEAR_BOX, "style"),
        Output(ID.CH_TARGET_BOX, "style"),
        Input(ID.CH_MODE, "value"),
    )
    def _mode(mode):
        hidden = {"display": "none"}
        return (hidden, {}) if mode == "compare" else ({}, hidden)

    @app.callback(
        Output(ids.values, "data"),
        Output(ID.CH_NOTE, "children"),
        Output(ID.CH_LEGEND, "children"),
        Output(ID.CH_HEADLINE, "children"),
        Output(ID.CH_TABLE, "children"),
        Input(ID.CH_MODE, "value"),
        Input(ID.CH_YEAR, "value"),
        Input(ID.CH_TARGET, "value"),
        Input(ID.CH_LEVEL, "value"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
    )
    def _update(mode, year, target, level, profile, lang):
        lang = "en" if lang == "en" else "zh"
        try:
            if mode == "compare":
                return _compare(app, provider, target, level, profile, lang)
            key = (provider.profile_id(profile), year, lang)
            if key not in forecasts:
                shown = _forecast(app, provider, year, profile, lang)
                if shown[0] is no_update:  # no forecast (yet): ask again next time
                    return shown
                forecasts[key] = shown
            return forecasts[key]
        except RejectedInput as exc:
            return no_update, refused(exc, lang), no_update, no_update, no_update
        except (ValueError, OSError) as exc:  # a saved plan that cannot be read or re-checked
            return no_update, t("ch.failed", lang, err=without_paths(str(exc))), "", "", []
