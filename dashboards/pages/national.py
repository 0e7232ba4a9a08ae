"""全国 / National page: a national result drawn from vector tiles, coloured by feature state.

Configured by ``[dashboard] national = "FOLDER"`` (a ``gridmap check --engine dask`` output):
the districts' roll-ups at low zoom, communities from zoom 8, grids from zoom 12, each a layer
of :meth:`gridmap.tiles.TileSet.from_check_dir` served at ``/tiles/<layer>/…``. The colour-by
dropdown sends one class per feature per layer (a string of digits: millions of grids in a few
megabytes) and the browser sets feature state on the features of the tiles it has loaded
(``assets/gridmap_national.js``); clicking a unit shows its figures.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import numpy as np
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, dcc, html

from dashboards.i18n import dropdown_labels, t
from dashboards.ids import ID
from dashboards.provider.map_values import NODATA, SEQUENTIAL, class_breaks
from gridmap.labels import STATUS_COLORS, STATUS_ORDER
from gridmap.tiles import MIN_ZOOM, TileSet

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10
    from enum import Enum

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


__all__ = ["NationalPage", "NationalID", "PATH", "MODES"]

PATH = "/national"
#: colour-by modes, in the dropdown's order
MODES = ("status", "households", "coordinator_gap", "fail_share")
#: each layer, the zooms at which the page shows it (grids from their tiles' first zoom)
_SHOWN = {"rollup": (0, MIN_ZOOM["communities"]), "communities": (MIN_ZOOM["communities"], 24)}
_GAP_ZERO = "#d9f0d3"


class NationalID(StrEnum):
    """The national page's component ids (prefix ``na``)."""

    COLOR_BY = "na-color-by"
    LEGEND = "na-legend"
    DETAIL = "na-detail"
    MAP = "gm-map-national"
    VALUES = "gm-map-national-values"
    CLICK = "gm-map-national-click"
    DONE = "gm-map-national-done"


def _classes_text(classes: np.ndarray) -> str:
    """Classes 0–9 as the digits of one string, no data as ``/`` (the browser's codes)."""
    return (np.asarray(classes, dtype=np.int64) + 48).astype(np.uint8).tobytes().decode("ascii")


def _gap(table: pd.DataFrame) -> np.ndarray:
    if "coordinators_required" not in table or "coordinators" not in table:
        return np.full(len(table), np.nan)
    need = pd.to_numeric(table["coordinators_required"], errors="coerce")
    have = pd.to_numeric(table["coordinators"], errors="coerce")
    return (need - have).clip(lower=0).to_numpy(dtype="float64")


def _numeric(table: pd.DataFrame, mode: str) -> np.ndarray:
    if mode == "coordinator_gap":
        return _gap(table)
    if mode not in table:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[mode], errors="coerce").to_numpy(dtype="float64")


def _status_layer(table: pd.DataFrame, lang: str) -> dict[str, Any]:
    status = table["status"].astype(str) if "status" in table else pd.Series("", index=table.index)
    pos = {s: i for i, s in enumerate(STATUS_ORDER)}
    classes = status.map(pos).fillna(-1).astype(int).to_numpy()
    legend = [
        {
            "color": STATUS_COLORS[s],
            "label": t(f"status.{s}", lang),
            "count": int((classes == i).sum()),
        }
        for i, s in enumerate(STATUS_ORDER)
    ]
    return {
        "classes": classes,
        "palette": [STATUS_COLORS[s] for s in STATUS_ORDER],
        "legend": legend,
    }


def _binned_layer(values: np.ndarray, mode: str, lang: str) -> dict[str, Any]:
    """Quantile classes; for a shortfall 0 is its own class (nothing short)."""
    zero_class = mode == "coordinator_gap"
    rest = values[values > 0] if zero_class else values
    breaks = class_breaks(rest, k=4 if zero_class else 5)
    if zero_class:
        palette = [_GAP_ZERO, *SEQUENTIAL[1 : 1 + len(breaks)]]
    else:
        palette = SEQUENTIAL[: len(breaks)]
    classes = np.searchsorted(np.asarray(breaks), values, side="left").astype(np.int64)
    if zero_class:
        classes = np.where(values > 0, classes + 1, 0)
    classes[~np.isfinite(values)] = -1
    pct = mode == "fail_share"
    labels = [t("na.gap.none", lang)] if zero_class else []
    lo = None
    for b in breaks:
        text = f"{b:.0%}" if pct else f"{b:,.0f}" if b >= 10 else f"{b:g}"
        labels.append(f"≤ {text}" if lo is None else f"{lo} – {text}")
        lo = text
    legend = [
        {"color": c, "label": lab, "count": int((classes == i).sum())}
        for i, (c, lab) in enumerate(zip(palette, labels, strict=True))
    ]
    if (classes < 0).any():
        legend.append(
            {"color": NODATA, "label": t("status.nodata", lang), "count": int((classes < 0).sum())}
        )
    return {"classes": classes, "palette": palette, "legend": legend}


class NationalPage:
    """The national page of one tile set (or the message why there is none).

    Parameters
    ----------
    tiles
        The national result's tiles, or None.
    folder
        The configured folder (shown on the page).
    error
        Why the folder could not be opened, when it could not.
    tile_prefix
        Where the tiles are served (``app.get_relative_path("/tiles")``).
    """

    def __init__(
        self,
        tiles: TileSet | None,
        folder: str | os.PathLike,
        *,
        error: str | None = None,
        tile_prefix: str = "/tiles",
    ) -> None:
        self.tiles = tiles
        self.folder = str(folder)
        self.error = error
        self.tile_prefix = tile_prefix

    def meta(self) -> dict[str, Any]:
        """The map's layers (name, zooms shown, feature count, tile address) and bounds."""
        assert self.tiles is not None
        layers = []
        for name in self.tiles.layers:
            lo, hi = _SHOWN.get(name, (self.tiles.min_zoom(name), 24))
            if name == "communities" and "grids" in self.tiles.layers:
                hi = MIN_ZOOM["grids"]
            layers.append(
                {
                    "name": name,
                    "minzoom": lo,
                    "maxzoom": hi,
                    "tilesMin": self.tiles.min_zoom(name),
                    "count": self.tiles.count(name),
                    "tiles": f"{self.tile_prefix}/{name}/{{z}}/{{x}}/{{y}}.pbf",
                }
            )
        return {"layers": layers, "bounds": list(self.tiles.bounds("rollup"))}

    def values(self, mode: str, lang: str = "zh") -> dict[str, Any]:
        """The values store: per layer the class string, palette and legend of ``mode``."""
        assert self.tiles is not None
        if mode not in MODES:
            mode = "status"
        out: dict[str, Any] = {
            "mode": mode,
            "version": f"{mode}|{lang}",
            "nodata": NODATA,
            "layers": {},
        }
        for name in self.tiles.layers:
            table = self.tiles.table(name)
            if mode == "status":
                part = _status_layer(table, lang)
            else:
                part = _binned_layer(_numeric(table, mode), mode, lang)
            out["layers"][name] = {
                "c": _classes_text(part["classes"]),
                "palette": part["palette"],
                "legend": part["legend"],
            }
        return out

    def layout(self, lang: str = "zh") -> html.Div:
        """The page: colour-by, the map with its legend, and the clicked unit's figures."""
        if self.tiles is None:
            text = t("na.error", lang).format(folder=self.folder, err=self.error or "")
            return html.Div(html.Div(text, className="gm-note gm-refused", role="alert"))
        options = [{"value": m, "label": t(f"na.mode.{m}", lang)} for m in MODES]
        controls = html.Div(
            [
                html.Label(t("cm.color_by", lang), htmlFor=str(NationalID.COLOR_BY)),
                dcc.Dropdown(
                    id=NationalID.COLOR_BY,
                    labels=dropdown_labels(lang),
                    placeholder=t("dd.select", lang),
                    options=options,
                    value="status",
                    clearable=False,
                    style={"minWidth": "260px"},
                ),
                html.Span(t("na.hint", lang), className="gm-muted"),
            ],
            className="gm-controls",
        )
        meta = self.meta()
        counts = {x["name"]: x["count"] for x in meta["layers"]}
        summary = t("na.summary", lang).format(
            districts=counts.get("rollup", 0),
            communities=counts.get("communities", 0),
            grids=counts.get("grids", 0),
            folder=self.folder,
        )
        data: dict[str, Any] = {"data-meta": json.dumps(meta), "data-lang": lang}
        map_div = html.Div(id=NationalID.MAP, className="gm-map", style={"height": "620px"}, **data)
        body = html.Div(
            [
                html.Div(
                    [map_div, html.Div(id=NationalID.LEGEND)],
                    className="gm-col gm-col-map",
                ),
                html.Div(
                    t("na.detail.empty", lang),
                    id=NationalID.DETAIL,
                    className="gm-col gm-col-detail",
                ),
            ],
            className="gm-row",
        )
        stores = [dcc.Store(id=i) for i in (NationalID.VALUES, NationalID.CLICK, NationalID.DONE)]
        return html.Div(
            [html.P(summary, className="gm-muted"), controls, body, *stores],
            className="gm-page",
            id="page-national",
        )

    def detail(self, click: dict | None, lang: str = "zh") -> Any:
        """The figures of the clicked unit (``{"layer", "index"}``)."""
        if self.tiles is None or not click or click.get("layer") not in self.tiles.layers:
            return t("na.detail.empty", lang)
        table = self.tiles.table(click["layer"])
        index = click.get("index")
        if not isinstance(index, int) or not 0 <= index < len(table):
            return t("na.detail.empty", lang)
        row = table.iloc[index]
        title = str(row.get("name", row.get("code", "")))
        rows = []
        for col in (
            "code",
            "status",
            "households",
            "coordinators",
            "coordinators_required",
            "communities",
            "fail",
            "in_band",
            "fail_share",
            "size_status",
            "community_id",
        ):
            if col not in row.index or pd.isna(row[col]):
                continue
            value = row[col]
            if col in ("status", "size_status"):
                value = t(f"status.{value}", lang) if col == "status" else value
            elif col == "fail_share":
                value = f"{float(value):.0%}"
            elif isinstance(value, (float, np.floating)):
                value = f"{float(value):,.0f}"
            rows += [html.Dt(t(f"na.col.{col}", lang)), html.Dd(str(value))]
        layer = t(f"na.layer.{click['layer']}", lang)
        return html.Div(
            [
                html.H3(title, className="gm-detail-name"),
                html.Div(layer, className="gm-muted"),
                html.Dl(rows, className="gm-figures"),
            ]
        )

    def register(self, app: Any) -> None:
        """The colour-by, click and clientside render callbacks."""

        @app.callback(
            Output(NationalID.VALUES, "data"),
            Input(NationalID.COLOR_BY, "value"),
            State(ID.LANG, "value"),
        )
        def _values(mode, lang):
            return self.values(str(mode or "status"), lang or "zh")

        @app.callback(
            Output(NationalID.LEGEND, "children"),
            Input(NationalID.VALUES, "data"),
            State(ID.LANG, "value"),
        )
        def _legend(values, lang):
            return _legend_block(values, lang or "zh")

        @app.callback(
            Output(NationalID.DETAIL, "children"),
            Input(NationalID.CLICK, "data"),
            State(ID.LANG, "value"),
        )
        def _detail(click, lang):
            return self.detail(click, lang or "zh")

        app.clientside_callback(
            ClientsideFunction(namespace="gridmap_national", function_name="render"),
            Output(NationalID.DONE, "data"),
            Input(NationalID.VALUES, "data"),
            State(NationalID.MAP, "id"),
        )


def _legend_block(values: dict | None, lang: str) -> list:
    if not values:
        return []
    out: list = []
    for name, part in values["layers"].items():
        items = [
            html.Span(
                [
                    html.Span(className="gm-swatch", style={"background": e["color"]}),
                    e["label"],
                    html.Span(f"{e['count']:,}", className="gm-legend-count"),
                ],
                className="gm-legend-row",
            )
            for e in part["legend"]
        ]
        title = html.Span(t(f"na.layer.{name}", lang), className="gm-legend-title")
        out.append(html.Div([title, *items], className="gm-legend", **{"data-layer": name}))
    return out
