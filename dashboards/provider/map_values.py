"""What a map recolours: a class per feature, a hover value, the palette and the legend.

Status colours and their order are gridmap's own (:mod:`gridmap.labels`); the
sequential ramps for metrics are the dashboard's. Everything here is a function of a
:class:`gridmap.CheckResult` (or a coverage view), so the provider only caches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dashboards.i18n import t
from gridmap.labels import STATUS_COLORS, STATUS_ORDER

__all__ = [
    "MapValues",
    "class_breaks",
    "color_options",
    "coverage_values",
    "map_values",
    "metric",
    "units_of",
]

NODATA = "#e0e0e0"
SEQUENTIAL = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]
GAP_ZERO = "#d9f0d3"
GAP_SEQ = ["#fcbba1", "#fb6a4a", "#cb181d", "#67000d"]
COVER_SEQ = ["#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850"]
METRICS = ("households", "coordinator_gap", "floor_area_gap", "coverage_share")
COVER_BREAKS = [0.2, 0.4, 0.6, 0.8, 1.0]


@dataclass
class MapValues:
    """What a map needs to recolour: a class per feature, the value for hover, the legend."""

    level: str
    classes: np.ndarray  # int, -1 = no data
    values: np.ndarray  # float (NaN = none) for hover; status modes: NaN
    palette: list[str]
    legend: list[dict]  # {"color", "label", "count"}
    labels: list[str] = field(default_factory=list)  # hover label per class (categorical modes)

    def payload(self, geo_url: str, version: Any = None) -> dict:
        """JSON for the map's values store (only numbers travel, not geometry)."""
        vals = np.where(np.isfinite(self.values), np.round(self.values, 2), np.nan)
        return {
            "url": geo_url,
            "level": self.level,
            "version": version,
            "c": self.classes.tolist(),
            "v": [None if math.isnan(x) else x for x in vals.tolist()],
            "palette": self.palette,
            "nodata": NODATA,
            "labels": self.labels,
            "legend": self.legend,
        }


def class_breaks(values: np.ndarray | pd.Series, k: int = 5) -> list[float]:
    """Upper class edges (ascending, unique, ``k`` or fewer) from quantiles, 2 significant digits.

    Parameters
    ----------
    values
        The numbers to classify (NaN and infinities ignored).
    k
        Most classes.

    Returns
    -------
    list of float
        The upper edges; the last one holds the maximum. Empty without finite values.

    Examples
    --------
    >>> class_breaks(np.arange(1, 101), k=4)
    [26.0, 50.0, 75.0, 100.0]
    >>> class_breaks(np.array([np.nan, 3.0, 3.0]))
    [3.0]
    >>> class_breaks(np.array([np.nan]))
    []
    """
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v)]
    if not len(v):
        return []
    qs = np.quantile(v, np.linspace(0, 1, k + 1)[1:])
    out: list[float] = []
    for q in qs:
        r = _round_sig(float(q))
        if not out or r > out[-1]:
            out.append(r)
    if out[-1] < v.max():  # the top edge holds the maximum, so every value falls in a class
        out[-1] = float(v.max())
    return out


def _round_sig(x: float, sig: int = 2) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return float(round(x, sig - 1 - int(math.floor(math.log10(abs(x))))))


def _classify(values: np.ndarray, breaks: list[float]) -> np.ndarray:
    cls = np.searchsorted(np.asarray(breaks), values, side="left").astype("int64")
    cls[~np.isfinite(values)] = -1
    return cls


def _fmt(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}"
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:.2f}"


def _binned(
    level: str,
    vals: np.ndarray,
    breaks: list[float],
    palette: list[str],
    lang: str,
    *,
    pct: bool = False,
) -> MapValues:
    fmt = (lambda x: f"{x:.0%}") if pct else _fmt
    classes = _classify(vals, breaks)
    legend, lo = [], None
    for i, b in enumerate(breaks):
        if lo is None:
            label = f"≤ {fmt(b)}" if b != 0 else "0"
        else:
            label = f"{fmt(lo)} – {fmt(b)}"
        legend.append({"color": palette[i], "label": label, "count": int((classes == i).sum())})
        lo = b
    nodata = int((classes < 0).sum())
    if nodata:
        legend.append({"color": NODATA, "label": t("status.nodata", lang), "count": nodata})
    return MapValues(level, classes, vals, palette, legend)


def units_of(result: Any, level: str) -> Any:
    """The result's table of ``level`` (``"community"`` or ``"grid"``)."""
    return result.communities if level == "community" else result.grids


def color_options(result: Any, level: str, lang: str = "zh") -> list[dict]:
    """Colour-by choices: overall status, one per rule of the level, the metrics available.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    level
        ``"community"`` or ``"grid"``.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    list of dict
        Dropdown options (``value``, ``label``); values as :func:`map_values` takes them.
    """
    opts = [{"value": "status", "label": t("cm.opt.status", lang)}]
    for r in result.profile.rules:
        if r.level == level:
            opts.append(
                {"value": f"rule:{r.id}", "label": f"{t('cm.group.rule', lang)} · {r.title(lang)}"}
            )
    units = units_of(result, level)
    group = t("cm.group.metric", lang)
    for m in METRICS:
        if m == "floor_area_gap" and level != "community":
            continue
        if m == "coverage_share":
            for col in [c for c in units.columns if str(c).startswith("coverage:")]:
                rid = col.split(":", 1)[1]
                title = next((r.title(lang) for r in result.profile.rules if r.id == rid), rid)
                opts.append(
                    {
                        "value": f"metric:{col}",
                        "label": f"{group} · {t('metric.coverage_share', lang)} · {title}",
                    }
                )
            continue
        opts.append({"value": f"metric:{m}", "label": f"{group} · {t('metric.' + m, lang)}"})
    return opts


def metric(result: Any, level: str, name: str) -> pd.Series:
    """One metric per unit of ``level`` (NaN where unknown), indexed like the result's units.

    ``name`` is a column of the units, or ``coordinator_gap`` (required minus present,
    never negative) or ``floor_area_gap`` (the floor-area rule's gap).
    """
    units = units_of(result, level)
    if name == "households":
        return pd.to_numeric(units["households"], errors="coerce")
    if name == "coordinator_gap":
        gap = units["coordinators_required"] - pd.to_numeric(units["coordinators"], errors="coerce")
        return gap.clip(lower=0)
    if name == "floor_area_gap":
        rule = result.profile.first("floor_area", level)
        if rule is None:
            return pd.Series(np.nan, index=units.index)
        f = result.findings[result.findings["rule_id"] == rule.id].set_index("unit_id")["gap"]
        gap = pd.to_numeric(f, errors="coerce").reindex(units.index.astype(str))
        return gap.set_axis(units.index)
    if name in units.columns:
        return pd.to_numeric(units[name], errors="coerce")
    return pd.Series(np.nan, index=units.index)


def _status_values(result: Any, level: str, mode: str, lang: str) -> MapValues:
    units = units_of(result, level)
    ids = units.index.astype(str)
    values = np.full(len(units), np.nan)
    if mode == "status":
        status = units["status"].astype(str).to_numpy()
    else:
        rid = mode.split(":", 1)[1]
        f = result.findings
        f = f[(f["rule_id"] == rid) & (f["level"] == level)].set_index("unit_id")
        status = f["status"].reindex(ids).fillna("not_assessed").astype(str).to_numpy()
        values = pd.to_numeric(f["value"], errors="coerce").reindex(ids).to_numpy(dtype="float64")
    order = [s for s in STATUS_ORDER if mode == "status" or s != "warning"]
    lut = {s: i for i, s in enumerate(order)}
    classes = np.array([lut.get(s, len(order) - 1) for s in status], dtype="int64")
    labels = [t(f"status.{s}", lang) for s in order]
    legend = [
        {"color": STATUS_COLORS[s], "label": labels[i], "count": int((classes == i).sum())}
        for i, s in enumerate(order)
    ]
    return MapValues(level, classes, values, [STATUS_COLORS[s] for s in order], legend, labels)


def map_values(result: Any, level: str, mode: str = "status", lang: str = "zh") -> MapValues:
    """Classes, hover values and legend for colouring ``level`` by ``mode``.

    Parameters
    ----------
    result
        A :class:`gridmap.CheckResult`.
    level
        ``"community"`` or ``"grid"``.
    mode
        ``"status"``, ``"rule:<rule id>"`` or ``"metric:<name>"`` (see :func:`metric`).
    lang
        Language of the legend.

    Returns
    -------
    MapValues
        One class per unit in feature order.
    """
    if mode == "status" or mode.startswith("rule:"):
        return _status_values(result, level, mode, lang)
    name = mode.split(":", 1)[1]
    vals = metric(result, level, name).to_numpy(dtype="float64")
    if name.endswith("_gap"):
        pos = vals[np.isfinite(vals) & (vals > 0)]
        breaks = [0.0] + class_breaks(pos, k=4)
        palette = [GAP_ZERO] + GAP_SEQ[: len(breaks) - 1]
    elif name.startswith("coverage"):
        breaks = COVER_BREAKS
        palette = COVER_SEQ
    else:
        breaks = class_breaks(vals, k=5)
        palette = SEQUENTIAL[: len(breaks)]
    return _binned(level, vals, breaks, palette, lang, pct=name.startswith("coverage"))


def coverage_values(view: dict, n: int, lang: str = "zh") -> MapValues:
    """``n`` communities coloured by the covered share of a coverage view (no data when absent)."""
    shares = view["shares"] if view.get("available") else np.full(n, np.nan)
    return _binned(
        "community", np.asarray(shares, dtype="float64"), COVER_BREAKS, COVER_SEQ, lang, pct=True
    )
