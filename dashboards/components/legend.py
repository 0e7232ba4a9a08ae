"""The map legend: a swatch, the class label and how many units fall in it."""

from __future__ import annotations

from dash import html

__all__ = ["legend"]


def legend(items: list[dict], title: str = "") -> html.Div:
    """A legend of ``items`` (``color``, ``label``, ``count``) under an optional ``title``."""
    rows = [
        html.Div(
            [
                html.Span(className="gm-swatch", style={"background": it["color"]}),
                html.Span(it["label"], className="gm-legend-label"),
                html.Span(f"{it['count']:,}", className="gm-legend-count"),
            ],
            className="gm-legend-row",
        )
        for it in items
    ]
    head = [html.Div(title, className="gm-legend-title")] if title else []
    return html.Div(head + rows, className="gm-legend")
