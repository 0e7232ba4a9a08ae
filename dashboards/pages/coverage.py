"""服务覆盖 Coverage: facility type, radius, straight line or walking network; gaps on the map.

Coverage is computed by :func:`gridmap.coverage.measure_coverage` for the chosen
question (cached per type/radius/mode); where that is unavailable the page shows
where the facilities are and says that coverage is not computed.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, dcc, html, no_update

from dashboards.components import legend, register_map
from dashboards.i18n import dropdown_labels, t
from dashboards.ids import ID, map_ids
from dashboards.pages._common import borders_url, geo_url, map_page, refused, with_tiles
from dashboards.provider import DashboardProvider, RejectedInput

PAGE = "coverage"


def layout(provider: DashboardProvider, lang: str, query: dict | None = None) -> html.Div:
    """The page: the coverage question, the map of covered shares and gaps, the figures."""
    types = provider.facility_types(lang)
    default, radius, mode = provider.default_coverage()
    controls = html.Div(
        [
            html.Label(t("cv.type", lang)),
            dcc.Dropdown(
                labels=dropdown_labels(lang),
                placeholder=t("dd.select", lang),
                id=ID.CV_TYPE,
                options=types,
                value=default,
                clearable=False,
                style={"minWidth": "220px"},
                persistence=True,
                persistence_type="session",
            ),
            html.Label(t("cv.radius", lang)),
            dcc.Input(
                id=ID.CV_RADIUS,
                type="number",
                value=radius,
                min=50,
                max=5000,
                step=50,
                debounce=True,
                style={"width": "120px"},
            ),
            html.Label(t("cv.method", lang)),
            dcc.RadioItems(
                id=ID.CV_METHOD,
                value=mode,
                inline=True,
                options=[
                    {"value": "straight", "label": t("cv.method.euclidean", lang)},
                    {"value": "network", "label": t("cv.method.network", lang)},
                ],
            ),
        ],
        className="gm-controls",
    )
    return map_page(
        provider,
        PAGE,
        controls,
        legend_id=ID.CV_LEGEND,
        detail_id=ID.CV_STATS,
        note_id=ID.CV_NOTE,
    )


def register(app: Any, provider: DashboardProvider) -> None:
    """Wire the page's callback: one coverage question → map, note, figures, legend."""
    ids = map_ids(PAGE)
    register_map(app, PAGE)

    @app.callback(
        Output(ids.values, "data"),
        Output(ID.CV_NOTE, "children"),
        Output(ID.CV_STATS, "children"),
        Output(ID.CV_LEGEND, "children"),
        Input(ID.CV_TYPE, "value"),
        Input(ID.CV_RADIUS, "value"),
        Input(ID.CV_METHOD, "value"),
        Input(ID.PROFILE, "value"),
        Input(ID.LANG, "value"),
    )
    def _update(ftype, radius, method, profile, lang):
        lang = "en" if lang == "en" else "zh"
        try:
            provider.profile_id(profile)
            if ftype is None and not provider.facility_types():
                view: dict = {"available": False, "reason": "none"}  # no facilities at all
            else:
                view = provider.coverage(ftype, radius, method or "straight")
        except RejectedInput as exc:
            return no_update, refused(exc, lang), no_update, no_update
        values = provider.coverage_values(view, lang)
        payload = values.payload(
            geo_url(app, provider, "community"),
            version=f"cov|{ftype}|{view.get('radius_m')}|{view.get('mode')}",
        )
        payload["borders"] = borders_url(app, provider)
        n_fac = provider.facility_count(ftype)
        if n_fac:
            payload["points"] = {"url": geo_url(app, provider, "facility"), "type": ftype}
        payload["gaps"] = view.get("gaps")
        with_tiles(app, provider, payload)  # the map adds its sources without asking first
        if view.get("available"):
            note = ""
        elif view.get("reason") == "error":
            note = t("cv.failed", lang, err=view.get("error", ""))
        else:
            note = t("cv.none", lang)
        figures = [(t("cv.facilities", lang), f"{n_fac:,}", "cv-n-facilities")]
        if view.get("available"):
            share = view.get("share")
            figures += [
                (t("cv.share", lang), "—" if share is None else f"{share:.1%}", "cv-share"),
                (
                    t("cv.uncovered", lang),
                    f"{view['uncovered']:,} / {view['households']:,}",
                    "cv-uncovered",
                ),
                (t("cv.gaps", lang), f"{view['gap_cells']:,}", "cv-gaps"),
            ]
        stats = html.Dl(
            [x for label, value, cid in figures for x in (html.Dt(label), html.Dd(value, id=cid))],
            className="gm-figures",
        )
        items = [{"color": "#2166ac", "label": t("cv.facilities", lang), "count": n_fac}]
        if view.get("gaps"):
            items.append(
                {"color": "#762a83", "label": t("cv.gaps", lang), "count": view["gap_cells"]}
            )
        items += payload["legend"] if view.get("available") else []
        return payload, note, stats, legend(items)
