"""The dashboard's data provider: gridmap results in the shapes the pages draw.

The provider owns one :class:`gridmap.Study` and computes a
:class:`gridmap.CheckResult` per rule profile on first use (cached, thread-safe:
several browser tabs may ask for different profiles at once). Geometry is
serialised once per level as GeoJSON in WGS84 (gzip-compressed bytes, served by a
plain HTTP route and cached by the browser); everything after that travels as
small per-feature arrays aligned with the GeoJSON feature ids (``0..n-1``).

Per-zoom simplification happens in the browser: MapLibre's GeoJSON source tiles
the data with geojson-vt, which simplifies every zoom level's tiles on its worker.
The provider only drops sub-metre vertices (digitising noise) before sending.

The pages never touch gridmap directly; tests use a provider on the demo district.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.util
import json
import math
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from dashboards.i18n import t

__all__ = ["DashboardProvider", "MapValues", "class_breaks", "format_value", "percent_flags", "STATUS_COLORS", "LEVELS"]

LEVELS = ("community", "grid")
STATUS_ORDER = ("pass", "warning", "fail", "not_assessed")
STATUS_COLORS = {"pass": "#1a9850", "warning": "#f4a582", "fail": "#d73027", "not_assessed": "#bababa"}
NODATA = "#e0e0e0"
SEQUENTIAL = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]
GAP_ZERO = "#d9f0d3"
GAP_SEQ = ["#fcbba1", "#fb6a4a", "#cb181d", "#67000d"]
COVER_SEQ = ["#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850"]
METRICS = ("households", "coordinator_gap", "floor_area_gap", "coverage_share")
COVER_BREAKS = [0.2, 0.4, 0.6, 0.8, 1.0]


def class_breaks(values: np.ndarray | pd.Series, k: int = 5) -> list[float]:
    """Upper class edges (ascending, unique, ``k`` or fewer) from quantiles, rounded to 2 significant digits.

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


def format_value(x, *, pct: bool = False) -> str:
    """A finding's value or gap as text: "—" when missing, ``51%`` when ``pct``, else ``1,234`` or ``12.35``.

    Examples
    --------
    >>> format_value(0.51, pct=True), format_value(1.0, pct=True), format_value(0.5649, pct=True)
    ('51%', '100%', '56%')
    >>> format_value(0.997, pct=True), format_value(0.0004, pct=True)
    ('99.7%', '0.0%')
    >>> format_value(1234.0), format_value(2.345), format_value(None), format_value(float("nan"), pct=True)
    ('1,234', '2.35', '—', '—')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "—"
    if pct:  # whole percent like the thresholds (≥60%), but never rounded onto 0% or 100%
        p = x * 100
        near_edge = round(p) in (0, 100) and abs(p - round(p)) > 1e-6
        return f"{p:.1f}%" if near_edge else f"{p:.0f}%"
    return f"{int(round(x)):,}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def percent_flags(rule) -> tuple[bool, bool]:
    """(value is a share, gap is a share) of a rule: unit "%" (also a unitless ratio), or kind coverage.

    Coverage rules measure a share of households but their gap counts households, so
    only the value is a percentage there; ``range``/``ratio`` rules in "%" have both.
    """
    unit = rule.unit
    if rule.kind == "ratio" and not unit and float(rule.params.get("scale", 1)) == 1:
        unit = "%"  # as gridmap.rules renders the threshold (≥10%)
    if rule.kind == "coverage":
        return True, False
    return unit == "%", unit == "%"


def _fmt(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}"
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:.2f}"


def _binned(level: str, vals: np.ndarray, breaks: list[float], palette: list[str], lang: str,
            *, pct: bool = False) -> MapValues:
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
            "url": geo_url, "level": self.level, "version": version,
            "c": self.classes.tolist(),
            "v": [None if math.isnan(x) else x for x in vals.tolist()],
            "palette": self.palette, "nodata": NODATA, "labels": self.labels, "legend": self.legend,
        }


class DashboardProvider:
    """Compliance results of one study for the dashboard.

    Parameters
    ----------
    study
        A :class:`gridmap.Study`.
    profile
        Default profile (the study's when None).
    basemap
        Optional raster tile URL template (``{z}/{x}/{y}``); no basemap by default.
    max_profiles
        How many profiles' results to keep (least recently used are dropped).
    workspace
        The GeoPackage the 边界调整 Plans page saves plans to; None: a ``plans.gpkg`` in a
        temporary directory, made on first use (the demo). :meth:`from_config` defaults it to
        ``plans.gpkg`` next to the study config.
    """

    def __init__(self, study, *, profile: str | None = None, basemap: str | None = None,
                 basemap_attribution: str = "", max_profiles: int = 6, workspace: str | os.PathLike | None = None):
        self.study = study
        self.default_profile = profile or study.profile or "national"
        self.basemap = basemap
        self.basemap_attribution = basemap_attribution
        self.key = hashlib.sha1(f"{study.name}|{id(study)}".encode()).hexdigest()[:10]
        self._max = max_profiles
        self._results: OrderedDict[str, Any] = OrderedDict()
        self._findings: dict[tuple[str, str], pd.DataFrame] = {}
        self._lock = threading.RLock()
        self._key_locks: dict[Any, threading.Lock] = {}
        self._geo: dict[str, bytes] = {}
        self._wgs: dict[str, Any] = {}
        self._coverage: dict[tuple, dict] = {}
        self._network = None
        self.workspace = None if workspace is None else Path(workspace)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: str | None = None, **kwargs) -> DashboardProvider:
        """Read the study of a ``gridmap.toml`` (the demo district when None).

        A ``[dashboard]`` table may set ``basemap`` (tile URL), ``basemap_attribution`` and
        ``workspace`` (the plans GeoPackage, relative to the config; default ``plans.gpkg`` next to it).
        """
        import gridmap
        from gridmap import datasets

        if config is None:
            study = gridmap.read_study(**datasets.demo_config())
            return cls(study, **kwargs)
        from gridmap._toml import tomllib

        with open(config, "rb") as fh:
            extra = tomllib.load(fh).get("dashboard", {})
        kwargs.setdefault("basemap", extra.get("basemap"))
        kwargs.setdefault("basemap_attribution", extra.get("basemap_attribution", ""))
        kwargs.setdefault("workspace", Path(config).resolve().parent / extra.get("workspace", "plans.gpkg"))
        return cls(gridmap.read_study(**gridmap.load_config(config)), **kwargs)

    def _key_lock(self, key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def plans_workspace(self) -> Path:
        """The plans GeoPackage (a temporary one is made on first use when none is configured)."""
        with self._lock:
            if self.workspace is None:
                self.workspace = Path(tempfile.mkdtemp(prefix="gridmap-plans-")) / "plans.gpkg"
            return self.workspace

    # ------------------------------------------------------------------ results
    def profiles(self, lang: str = "zh") -> list[dict]:
        from gridmap.rules import list_profiles, load_profile

        names = list_profiles()
        if self.default_profile not in names:
            names.insert(0, self.default_profile)
        out = []
        for name in names:
            p = load_profile(name)
            out.append({"value": name, "label": f"{name} · {p.title_en if lang == 'en' else p.title_zh}"})
        return out

    def result(self, profile: str | None = None):
        """The :class:`gridmap.CheckResult` under ``profile`` (computed once, then cached)."""
        import gridmap

        profile = profile or self.default_profile
        with self._lock:
            if profile in self._results:
                self._results.move_to_end(profile)
                return self._results[profile]
        with self._key_lock(("result", profile)):
            with self._lock:
                if profile in self._results:
                    return self._results[profile]
            res = gridmap.check(self.study, profile=profile)
            with self._lock:
                self._results[profile] = res
                while len(self._results) > self._max:
                    old, _ = self._results.popitem(last=False)
                    for k in [k for k in self._findings if k[0] == old]:
                        del self._findings[k]
            return res

    def has_level(self, level: str) -> bool:
        return level == "community" or self.study.grids is not None

    def units(self, level: str, profile: str | None = None) -> pd.DataFrame:
        res = self.result(profile)
        return res.communities if level == "community" else res.grids

    def ids(self, level: str) -> pd.Index:
        """Unit ids in feature order (feature ``i`` of the level's GeoJSON is ``ids(level)[i]``)."""
        layer = self.study.communities if level == "community" else self.study.grids
        return layer.index.astype(str)

    def findings(self, profile: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Every finding, messages and rule titles in ``lang`` (English re-evaluates the rules only)."""
        from gridmap.evaluation import evaluate_units

        res = self.result(profile)
        key = (res.profile.id if profile is None else profile, lang)
        with self._lock:
            if key in self._findings:
                return self._findings[key]
        if lang == "zh":
            f = res.findings
        else:
            frames = [evaluate_units(pd.DataFrame(res.communities.drop(columns="geometry")), res.profile,
                                     level="community", lang="en").findings]
            if res.grids is not None:
                frames.append(evaluate_units(pd.DataFrame(res.grids.drop(columns="geometry")), res.profile,
                                             level="grid", lang="en").findings)
            qa = res.findings[res.findings["rule_id"].str.startswith("qa.")]
            f = pd.concat([*frames, qa], ignore_index=True)[res.findings.columns]
        f = f.reset_index(drop=True)
        with self._lock:
            self._findings[key] = f
        return f

    # ------------------------------------------------------------------ geometry
    def wgs84(self, level: str):
        """The level's geometry in WGS84 (feature order), sub-metre vertices dropped."""
        with self._key_lock(("wgs", level)):
            if level not in self._wgs:
                if level == "facility":
                    layer = self.result().facilities
                else:
                    layer = self.study.communities if level == "community" else self.study.grids
                geom = layer.geometry
                if level != "facility":
                    geom = geom.simplify(0.5, preserve_topology=True)
                self._wgs[level] = geom.to_crs(4326)
            return self._wgs[level]

    def geojson(self, level: str) -> bytes:
        """Gzip-compressed GeoJSON of a level: ``id`` = feature index, properties ``n`` (name) and ``u`` (unit id)."""
        with self._key_lock(("geo", level)):
            if level not in self._geo:
                self._geo[level] = gzip.compress(self._geojson_text(level).encode("utf-8"), compresslevel=5)
            return self._geo[level]

    def _geojson_text(self, level: str) -> str:
        geom = self.wgs84(level)
        coords = shapely.transform(geom.to_numpy(), lambda xy: np.round(xy, 6))
        texts = shapely.to_geojson(coords)
        if level == "facility":
            fac = self.result().facilities
            names = fac["name"].astype(str).tolist()
            extra = [json.dumps({"t": str(x)}, ensure_ascii=False)[1:-1] for x in fac["facility_type"]]
            uids = fac.index.astype(str).tolist()
        else:
            layer = self.study.communities if level == "community" else self.study.grids
            names = (layer["name"] if "name" in layer.columns else pd.Series(layer.index)).astype(str).tolist()
            uids = self.ids(level).tolist()
            extra = [""] * len(names)
        parts = []
        for i, (g, n, u, e) in enumerate(zip(texts, names, uids, extra, strict=True)):
            props = json.dumps({"n": n, "u": u}, ensure_ascii=False)
            if e:
                props = props[:-1] + "," + e + "}"
            parts.append(f'{{"type":"Feature","id":{i},"properties":{props},"geometry":{g}}}')
        return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"

    def bounds(self, level: str, uid: str | None = None) -> list[float]:
        """[west, south, east, north] of one unit (or the whole level) in WGS84."""
        geom = self.wgs84(level)
        if uid is not None:
            pos = self.ids(level).get_indexer([str(uid)])[0]
            if pos < 0:
                raise KeyError(f"no {level} with id {uid!r}")
            return [float(x) for x in geom.iloc[pos].bounds]
        return [float(x) for x in geom.total_bounds]

    # ------------------------------------------------------------------ map values
    def color_options(self, level: str, profile: str | None = None, lang: str = "zh") -> list[dict]:
        """Colour-by choices: overall status, one per rule of the level, the metrics available."""
        res = self.result(profile)
        opts = [{"value": "status", "label": t("cm.opt.status", lang)}]
        for r in res.profile.rules:
            if r.level == level:
                opts.append({"value": f"rule:{r.id}", "label": f"{t('cm.group.rule', lang)} · {r.title(lang)}"})
        units = self.units(level, profile)
        for m in METRICS:
            if m == "floor_area_gap" and level != "community":
                continue
            if m == "coverage_share":
                for col in [c for c in units.columns if str(c).startswith("coverage:")]:
                    rid = col.split(":", 1)[1]
                    title = next((r.title(lang) for r in res.profile.rules if r.id == rid), rid)
                    opts.append({"value": f"metric:{col}", "label": f"{t('cm.group.metric', lang)} · "
                                 f"{t('metric.coverage_share', lang)} · {title}"})
                continue
            opts.append({"value": f"metric:{m}", "label": f"{t('cm.group.metric', lang)} · {t('metric.' + m, lang)}"})
        return opts

    def metric(self, level: str, name: str, profile: str | None = None) -> pd.Series:
        units = self.units(level, profile)
        if name == "households":
            return pd.to_numeric(units["households"], errors="coerce")
        if name == "coordinator_gap":
            gap = units["coordinators_required"] - pd.to_numeric(units["coordinators"], errors="coerce")
            return gap.clip(lower=0)
        if name == "floor_area_gap":
            res = self.result(profile)
            rule = res.profile.first("floor_area", level)
            if rule is None:
                return pd.Series(np.nan, index=units.index)
            f = res.findings[res.findings["rule_id"] == rule.id].set_index("unit_id")["gap"]
            return pd.to_numeric(f, errors="coerce").reindex(units.index.astype(str)).set_axis(units.index)
        if name in units.columns:
            return pd.to_numeric(units[name], errors="coerce")
        return pd.Series(np.nan, index=units.index)

    def map_values(self, level: str, mode: str = "status", profile: str | None = None,
                   lang: str = "zh") -> MapValues:
        """Classes, hover values and legend for colouring ``level`` by ``mode``.

        ``mode`` is ``"status"``, ``"rule:<rule id>"`` or ``"metric:<name>"``.
        """
        units = self.units(level, profile)
        n = len(units)
        if mode == "status" or mode.startswith("rule:"):
            if mode == "status":
                status = units["status"].astype(str).to_numpy()
            else:
                rid = mode.split(":", 1)[1]
                f = self.result(profile).findings
                f = f[(f["rule_id"] == rid) & (f["level"] == level)].set_index("unit_id")
                status = f["status"].reindex(units.index.astype(str)).fillna("not_assessed").astype(str).to_numpy()
                values = pd.to_numeric(f["value"], errors="coerce").reindex(units.index.astype(str)).to_numpy(dtype="float64")
            order = [s for s in STATUS_ORDER if mode == "status" or s != "warning"]
            lut = {s: i for i, s in enumerate(order)}
            classes = np.array([lut.get(s, len(order) - 1) for s in status], dtype="int64")
            labels = [t(f"status.{s}", lang) for s in order]
            legend = [{"color": STATUS_COLORS[s], "label": labels[i], "count": int((classes == i).sum())}
                      for i, s in enumerate(order)]
            vals = np.full(n, np.nan) if mode == "status" else values
            return MapValues(level, classes, vals, [STATUS_COLORS[s] for s in order], legend, labels)
        name = mode.split(":", 1)[1]
        vals = self.metric(level, name, profile).to_numpy(dtype="float64")
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

    def coverage_values(self, view: dict, lang: str = "zh") -> MapValues:
        """Communities coloured by the covered share of a :meth:`coverage` view (no data when not computed)."""
        n = len(self.ids("community"))
        shares = view["shares"] if view.get("available") else np.full(n, np.nan)
        return _binned("community", np.asarray(shares, dtype="float64"), COVER_BREAKS, COVER_SEQ, lang, pct=True)

    # ------------------------------------------------------------------ summaries
    def kpis(self, profile: str | None = None, lang: str = "zh") -> dict:
        """Headline figures of the check (:func:`gridmap.evaluation.rule_summary` and the size status).

        A figure nothing could be assessed for is None (shown as 未评估 / "not assessed", never 0):
        ``grids_short`` / ``coordinator_gap`` without coordinator counts, ``size_*`` without
        households or without a band in the profile.
        """
        from gridmap.evaluation import rule_summary, size_counts

        res = self.result(profile)
        s = res.summary()
        cs = s["communities_status"]
        out = {"communities": s["communities"], "pass": cs.get("pass", 0), "warning": cs.get("warning", 0),
               "fail": cs.get("fail", 0), "not_assessed": cs.get("not_assessed", 0),
               "households": s["households_total"], "unassigned": s["households_unassigned"],
               "grids": s["grids"], "grids_short": None, "coordinator_gap": None, "grids_na": 0}
        rule = res.profile.first("coordinators", "grid")
        if res.grids is not None and rule is not None:
            rs = rule_summary(res.findings, rule.id)
            out["grids_short"], out["grids_na"] = rs["fail"], rs["not_assessed"]
            out["coordinator_gap"] = None if rs["gap"] is None else int(round(rs["gap"]))
        band = res.profile.size_band()
        sc = size_counts(res)
        assessed = band is not None and sc["not_assessed"] < len(res.communities)
        out["band"] = band.label(lang) if band is not None else None
        out["size_small"] = sc["too_small"] if assessed else None
        out["size_large"] = sc["too_large"] if assessed else None
        out["size_in_band"] = sc["pass"] if assessed else None
        out["size_na"] = sc["not_assessed"]
        out["coverage"] = self.coverage_shares(profile, lang)
        return out

    # ------------------------------------------------------------------ plans
    def plan(self, profile: str | None = None, *, name: str = "方案", graph=None):
        """A :class:`gridmap.plans.Plan` of the as-is assignment under ``profile`` (its band and rules)."""
        from gridmap.plans import Plan

        return Plan.from_check(self.result(profile), name=name, graph=graph)

    def use_profile(self, plan, profile: str | None = None) -> None:
        """Evaluate ``plan`` under ``profile`` (with that profile's check figures), when it is not already."""
        res = self.result(profile)
        if plan.profile.id != res.profile.id:
            plan.set_profile(res.profile, community_attrs=res.communities)

    def rebalance(self, plan, *, time_limit: float = 10.0):
        """Run the rebalancer on ``plan`` towards its profile's band (the pages never call the solver).

        Returns the solved :class:`gridmap.rebalance.Rebalancer`; raises ``ValueError`` when the
        plan's profile has no household band.
        """
        from gridmap.rebalance import Rebalancer

        band = plan.band
        if band is None:
            raise ValueError(f"profile {plan.profile.id!r} has no household band")
        return Rebalancer.from_plan(plan, min_households=band.lower, max_households=band.upper,
                                    time_limit=float(time_limit)).solve()

    def worst(self, profile: str | None = None, lang: str = "zh", n: int = 10) -> pd.DataFrame:
        """Communities with the most failed rules (error severity first), then the biggest size gap."""
        f = self.findings(profile, lang)
        f = f[(f["level"] == "community") & (f["status"] == "fail") & ~f["rule_id"].str.startswith("qa.")]
        if not len(f):
            return pd.DataFrame(columns=["unit_id", "unit_name", "fails", "errors", "worst"])
        f = f.assign(err=(f["severity"] == "error").astype(int))
        g = f.sort_values(["err", "gap"], ascending=False).groupby("unit_id", sort=False)
        table = pd.DataFrame({"unit_name": g["unit_name"].first(), "fails": g.size(), "errors": g["err"].sum(),
                              "worst": g["rule_title"].first() + ("：" if lang == "zh" else ": ") + g["message"].first()})
        table = table.sort_values(["errors", "fails"], ascending=False).head(n).reset_index()
        return table

    def rule_counts(self, profile: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Per rule: pass / fail / not_assessed counts and the rule title, in profile order."""
        f = self.findings(profile, lang)
        f = f[~f["rule_id"].str.startswith("qa.")]
        counts = f.groupby(["rule_id", "status"]).size().unstack(fill_value=0)
        for s in ("pass", "fail", "not_assessed"):
            if s not in counts.columns:
                counts[s] = 0
        titles = f.drop_duplicates("rule_id").set_index("rule_id")["rule_title"]
        order = [r.id for r in self.result(profile).profile.rules if r.id in counts.index]
        out = counts.loc[order, ["pass", "fail", "not_assessed"]].copy()
        out["title"] = titles.reindex(out.index).to_numpy()
        return out

    def unit_detail(self, level: str, uid: str, profile: str | None = None, lang: str = "zh") -> dict:
        """Everything about one unit: its figures and every finding with threshold and citation (failures first)."""
        units = self.units(level, profile)
        row = units.loc[units.index.astype(str) == str(uid)]
        if not len(row):
            raise KeyError(f"no {level} with id {uid!r}")
        row = row.iloc[0]
        figures = {}
        for col in ("households", "grids", "coordinators", "coordinators_required", "population", "staff", "area_km2"):
            if col in row.index and pd.notna(row[col]):
                figures[col] = float(row[col])
        f = self.findings(profile, lang)
        f = f[(f["level"] == level) & (f["unit_id"] == str(uid))]
        rank = f["status"].map({"fail": 0, "not_assessed": 1, "pass": 2}).fillna(1)
        f = f.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")  # problems first
        f = self.with_value_text(f, profile)
        return {"level": level, "unit_id": str(uid), "name": str(row.get("name", uid)), "status": str(row["status"]),
                "figures": figures, "findings": f.to_dict("records")}

    def value_formats(self, profile: str | None = None) -> dict[str, tuple[bool, bool]]:
        """``{rule id: (value is a share, gap is a share)}`` of the profile's rules (see :func:`percent_flags`)."""
        return {r.id: percent_flags(r) for r in self.result(profile).profile.rules}

    def with_value_text(self, f: pd.DataFrame, profile: str | None = None) -> pd.DataFrame:
        """``f`` (findings) plus ``value_text`` and ``gap_text``: shares as percentages (0.51 → 51%)."""
        flags = self.value_formats(profile)
        vp = f["rule_id"].map(lambda r: flags.get(r, (False, False))[0]).astype(bool)
        gp = f["rule_id"].map(lambda r: flags.get(r, (False, False))[1]).astype(bool)
        return f.assign(value_text=[format_value(v, pct=p) for v, p in zip(f["value"], vp, strict=True)],
                        gap_text=[format_value(v, pct=p) for v, p in zip(f["gap"], gp, strict=True)])

    # ------------------------------------------------------------------ coverage
    def facility_types(self, lang: str = "zh") -> list[dict]:
        from gridmap.facilities import type_label

        fac = self.result().facilities
        if fac is None:
            return []
        types = fac["facility_type"].value_counts().index.tolist()
        return [{"value": x, "label": type_label(x, lang=lang)} for x in types]

    def facility_count(self, facility_type: str | None) -> int:
        fac = self.result().facilities
        return 0 if fac is None else int((fac["facility_type"] == facility_type).sum())

    @staticmethod
    def coverage_module():
        """``gridmap.coverage`` when this gridmap has it, else None."""
        if importlib.util.find_spec("gridmap.coverage") is None:
            return None
        return importlib.import_module("gridmap.coverage")

    def coverage_shares(self, profile: str | None = None, lang: str = "zh") -> dict | None:
        """Share of households covered per coverage rule of the profile, or None while not computed."""
        cov = getattr(self.result(profile), "coverage_result", None)
        if cov is None:
            return None
        from gridmap.facilities import type_label

        out = {}
        try:
            summary = cov.summary()
        except Exception:  # noqa: BLE001 - coverage is optional: the KPI then says "not computed"
            return None
        for s in summary.values():
            if s.get("share") is None:
                continue
            label = f"{type_label(s['facility_type'], lang=lang)} {s['radius_m']:.0f} m"
            out[label] = float(s["share"])
        return out or None

    def default_coverage(self) -> tuple[str | None, float, str]:
        """(facility type, radius, mode) of the default profile's first coverage rule, else a clinic at 1 km."""
        mod = self.coverage_module()
        types = {o["value"] for o in self.facility_types()}
        try:
            spec = next(s for s in mod.specs_from_profile(self.default_profile) if s.facility_type in types)
            return spec.facility_type, float(spec.radius_m), spec.mode
        except Exception:  # noqa: BLE001 - no coverage module or rule: a sensible default question
            first = next(iter(sorted(types)), None)
            return ("health_station" if "health_station" in types else first), 1000.0, "straight"

    def coverage(self, facility_type: str, radius: float, method: str = "straight") -> dict:
        """Coverage of households by one facility type within ``radius`` metres (cached per question).

        Returns ``{"available": False, "reason": ...}`` when this gridmap cannot
        compute coverage, else ``available``, ``shares`` (per community, feature order),
        ``share``, ``households``, ``uncovered`` and ``gaps`` (WGS84 GeoJSON of the cells
        holding uncovered households, with property ``n`` = uncovered count).
        """
        mod = self.coverage_module()
        if mod is None or not hasattr(mod, "measure_coverage"):
            return {"available": False, "reason": "missing"}
        mode = "network" if method == "network" else "straight"
        key = ("coverage", facility_type, round(float(radius), 1), mode)
        with self._key_lock(key):
            with self._lock:
                if key in self._coverage:
                    return self._coverage[key]
            try:
                view = self._measure(mod, facility_type, float(radius), mode)
            except Exception as exc:  # noqa: BLE001 - shown on the page, never a crash
                view = {"available": False, "reason": "error", "error": f"{type(exc).__name__}: {exc}"}
            with self._lock:
                self._coverage[key] = view
            return view

    def _measure(self, mod, facility_type: str, radius: float, mode: str) -> dict:
        res = self.result()
        spec = mod.CoverageSpec("view", facility_type, radius, mode)
        base = getattr(res, "coverage_result", None)
        network = self._network or (base.network if base is not None else None)
        grid_table = None if res.grids is None else pd.DataFrame(res.grids.drop(columns="geometry"))
        cov = mod.measure_coverage(self.study, [spec], assignment=res.households, grid_table=grid_table,
                                   network=network, service_areas=False)
        if cov.network is not None:
            self._network = cov.network
        if "view" in getattr(cov, "unassessed", []):
            return {"available": False, "reason": "error", "error": "; ".join(p.message for p in cov.problems)}
        summary = cov.summary()["view"]
        comm = cov.communities
        shares = comm["coverage:view"].reindex(self.ids("community")).to_numpy(dtype="float64") \
            if comm is not None else np.full(len(self.ids("community")), np.nan)
        gaps = None
        if cov.gaps is not None and len(cov.gaps):
            g = cov.gaps[cov.gaps["uncovered:view"] > 0]
            g = g.set_crs(self.study.crs, allow_override=True) if g.crs is None else g
            g = g.to_crs(4326)
            gaps = {"type": "FeatureCollection", "features": [
                {"type": "Feature", "id": i, "properties": {"n": int(n)},
                 "geometry": json.loads(shapely.to_geojson(shapely.transform(geom, lambda xy: np.round(xy, 6))))}
                for i, (n, geom) in enumerate(zip(g["uncovered:view"], g.geometry, strict=True))]}
        total = summary.get("households") or 0
        covered = summary.get("covered") or 0
        return {"available": True, "shares": shares, "share": summary.get("share"), "households": int(total),
                "uncovered": int(total - covered), "gaps": gaps, "gap_cells": 0 if gaps is None else len(gaps["features"])}
