"""The detail panel of one unit: its figures and every finding with threshold and citation."""

from __future__ import annotations

from dash import html

from dashboards.i18n import t
from dashboards.provider import format_value
from gridmap.labels import STATUS_COLORS

__all__ = ["detail_panel"]

_FIGURES = {
    "households": ("户数", "households"),
    "grids": ("网格数", "grids"),
    "coordinators": ("网格员", "coordinators"),
    "coordinators_required": ("应配网格员", "coordinators required"),
    "population": ("常住人口", "population"),
    "staff": ("专职工作人员", "staff"),
    "area_km2": ("面积 km²", "area km²"),
}


def _num(x) -> str:
    return format_value(x)


def detail_panel(detail: dict | None, lang: str = "zh") -> html.Div:
    """The panel of one unit (:meth:`DashboardProvider.unit_detail`), a hint when None.

    Parameters
    ----------
    detail
        The unit's figures and findings, or None before a unit is clicked.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    dash.html.Div
        Name and status badge, the figures, then a card per finding.
    """
    if not detail:
        return html.Div(t("cm.detail.empty", lang), className="gm-detail gm-muted")
    status = detail["status"]
    head = html.Div(
        [
            html.H3(detail["name"], className="gm-detail-name"),
            html.Span(
                t(f"status.{status}", lang),
                className="gm-badge",
                style={"background": STATUS_COLORS.get(status, "#999")},
            ),
            html.Div(
                f"{t('level.' + detail['level'], lang)} · {detail['unit_id']}", className="gm-muted"
            ),
        ]
    )
    figs = html.Dl(
        [
            item
            for key, v in detail["figures"].items()
            for item in (
                html.Dt(_FIGURES.get(key, (key, key))[1 if lang == "en" else 0]),
                html.Dd(_num(v)),
            )
        ],
        className="gm-figures",
    )
    cards = []
    for f in detail["findings"]:
        st = f["status"]
        cards.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(
                                t(f"status.{st}", lang),
                                className="gm-badge",
                                style={"background": STATUS_COLORS.get(st, "#999")},
                            ),
                            html.B(f["rule_title"]),
                        ],
                        className="gm-finding-head",
                    ),
                    html.Div(
                        [
                            html.Span(
                                f"{t('detail.value', lang)}: "
                                f"{f.get('value_text') or _num(f['value'])}"
                            ),
                            html.Span(f"{t('detail.threshold', lang)}: {f['threshold'] or '—'}"),
                            html.Span(
                                f"{t('detail.gap', lang)}: {f.get('gap_text') or _num(f['gap'])}"
                            ),
                        ],
                        className="gm-finding-nums",
                    ),
                    html.Div(f["message"], className="gm-finding-msg"),
                    html.Div(
                        [
                            html.Span(t("detail.source", lang) + "：", className="gm-muted"),
                            html.Cite(f["source"]),
                        ],
                        className="gm-finding-source",
                    ),
                ],
                className=f"gm-finding gm-{st}",
                **{"data-rule": f["rule_id"]},
            )
        )
    return html.Div([head, html.H4(t("detail.metrics", lang)), figs, *cards], className="gm-detail")
