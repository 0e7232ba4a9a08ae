"""The 预测与对比 Forecast & compare page's data: the check per future year, and what changed.

:class:`ChangeViews` answers two questions of one study, each computed once and cached:

- **Forecast** (:mod:`gridmap.change.projection`): the study's residential projects (the
  ``[study] projects`` layer of the config; the demo's ``在建项目``) fill up year by year from
  the current year; per year, the communities' status and the violations first seen that year.
- **Comparison** (:mod:`gridmap.change.compare`): today's check (under the chosen profile)
  against a forecast year or a plan saved in the workspace; the units that changed, coloured by
  the kind of change, and the change table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from dashboards.i18n import t
from dashboards.provider.inputs import RejectedInput, choice
from dashboards.provider.map_values import NODATA, MapValues, map_values
from dashboards.provider.results import KeyedLocks
from gridmap import check, datasets
from gridmap.change import (
    CHANGE_KINDS,
    FORECAST_SPAN,
    Projection,
    Ramp,
    compare,
    config_projects,
    forecast_years,
    project,
    read_projects,
    snapshot_of,
)
from gridmap.plans import list_plans, load_plan

__all__ = ["ChangeViews", "projects_source", "CHANGE_COLORS", "FORECAST_SPAN"]
#: change kind → colour (Okabe–Ito; unchanged units light grey)
CHANGE_COLORS = {
    "added": "#009e73",
    "removed": "#000000",
    "recoded": "#56b4e9",
    "redrawn": "#cc79a7",
    "reassigned": "#d55e00",
    "modified": "#e69f00",
    "unchanged": "#eeeeee",
}
#: columns of the change table the page shows
TABLE_COLUMNS = (
    "level",
    "unit_id",
    "name",
    "change",
    "community_old",
    "community_new",
    "households_old",
    "households_new",
    "status_old",
    "status_new",
)


def projects_source(config: str | None) -> str | None:
    """The projects layer of a study: ``[study] projects`` of ``config`` (relative to it).

    Without a config: the demo's ``在建项目`` layer. None when the config names none.
    """
    if config is None:
        return f"{datasets.get_path('demo')}:{datasets.PROJECTS_LAYER}"
    return config_projects(config)


class ChangeViews:
    """Forecast and comparison views of a dashboard provider's study (cached per profile).

    Parameters
    ----------
    provider
        The :class:`~dashboards.provider.DashboardProvider` (its study, check results per
        profile, community ids and plans workspace).
    projects
        The projects layer (``file.gpkg:图层`` or a path); None: no forecast.
    base_year
        The year of today's data (default: the current year).
    """

    def __init__(self, provider: Any, projects: str | None, base_year: int | None = None) -> None:
        self.provider = provider
        self.projects = projects
        self.base_year = base_year or dt.date.today().year
        self.ramp = Ramp.linear(3)
        self._lock = threading.Lock()
        self._locks = KeyedLocks()  # one projection per profile at a time, never two
        self._layer: GeoDataFrame | None = None
        self._projections: dict[str, Projection] = {}
        self._error: str | None = None
        self._plan_results: dict[tuple[str, int, str], Any] = {}
        #: what the forecast view shows, per (what, profile, year, language): a projection is
        #: computed once and never changes, so switching years or pages recomputes nothing
        self._shown: dict[tuple, Any] = {}

    def _once(self, key: tuple, compute: Any) -> Any:
        """``compute()`` the first time ``key`` is asked for, the kept value afterwards."""
        with self._lock:
            if key in self._shown:
                return self._shown[key]
        value = compute()
        with self._lock:
            return self._shown.setdefault(key, value)

    # ------------------------------------------------------------------ forecast
    def _projects(self) -> GeoDataFrame | None:
        """The projects layer, read once (None without one or when it cannot be read)."""
        with self._lock:
            if self._layer is None and self._error is None and self.projects:
                try:
                    self._layer = read_projects(self.projects)
                except (ValueError, OSError) as exc:  # InputError is a ValueError
                    self._error = str(exc)
            return self._layer

    def projection(self, profile: object = None) -> Projection | None:
        """The forecast under ``profile`` (a browser value; None: the default), computed once.

        The check of every year uses that profile's rules (its household band among them),
        and the base year is the page's own check under it. None without projects or when
        they cannot be read (see :meth:`forecast_error`).

        Raises
        ------
        RejectedInput
            For a profile not offered.
        """
        pid = self.provider.profile_id(profile)
        projects = self._projects()
        if projects is None:
            return None
        with self._locks(pid):
            if pid not in self._projections:
                today = self.provider.result(pid)
                try:
                    self._projections[pid] = project(
                        self.provider.study,
                        projects,
                        self.years(),
                        base_year=self.base_year,
                        ramp=self.ramp,
                        profile=today.profile,
                        today=today,
                    )
                except (ValueError, OSError) as exc:
                    with self._lock:
                        self._error = str(exc)
                    return None
            return self._projections[pid]

    def forecast_error(self) -> str | None:
        """Why there is no forecast (the projects could not be read), else None."""
        self._projects()
        return self._error

    def years(self) -> list[int]:
        """The forecast years, today first, until every project is full (at most 10 years)."""
        projects = self._projects()
        if projects is None:
            return []
        return forecast_years(projects, self.base_year, self.ramp, span=FORECAST_SPAN)

    def year(self, value: object) -> int:
        """A forecast year of a browser value.

        Raises
        ------
        RejectedInput
            For anything but one of :meth:`years`.
        """
        allowed = {str(y): y for y in self.years()}
        return allowed[
            choice(str(value) if isinstance(value, int) else value, allowed, what="what.year")
        ]

    def _required(self, profile: object) -> Projection:
        pr = self.projection(profile)
        if pr is None:
            raise RejectedInput("input.choice", what="what.year")
        return pr

    def forecast_values(self, year: object, lang: str = "zh", profile: object = None) -> MapValues:
        """Communities coloured by their overall status in ``year`` under ``profile``."""
        pr = self._required(profile)
        y = self.year(year)
        key = ("values", self.provider.profile_id(profile), y, lang)
        return self._once(key, lambda: map_values(pr.results[y], "community", "status", lang))

    def forecast_violations(
        self, year: object, lang: str = "zh", profile: object = None
    ) -> pd.DataFrame:
        """The violations first seen in ``year`` (today: those failing today) under ``profile``.

        Columns ``level`` (translated), ``unit_id``, ``name``, ``rule_title``, ``value``,
        ``message``, ``households`` (the unit's households that year).
        """
        y = self.year(year)
        pr = self._required(profile)
        key = ("violations", self.provider.profile_id(profile), y, lang)
        return self._once(key, lambda: self._violations(pr, key[1], y, lang)).copy()

    def _violations(self, pr: Projection, pid: str, y: int, lang: str) -> pd.DataFrame:
        v = self._once(("all violations", pid), pr.violations)
        v = v[v["first_year"] == y]
        hh = {
            "community": pr.households("communities")[y],
            "grid": pr.households("grids").get(y, pd.Series(dtype=float)),
        }
        out = v.assign(
            households=[
                hh[lv].get(uid, np.nan) for lv, uid in zip(v["level"], v["unit_id"], strict=True)
            ],
            level=v["level"].map(lambda lv: t(f"ch.level.{lv}", lang)),
        )
        cols = ["level", "unit_id", "name", "rule_title", "households", "message"]
        return out[cols].reset_index(drop=True)

    def forecast_counts(self, profile: object = None) -> pd.DataFrame:
        """Per forecast year under ``profile``: total households, communities failing, new violations."""
        pr = self.projection(profile)
        if pr is None:
            return pd.DataFrame(columns=["year", "households", "fail", "new"])
        key = ("counts", self.provider.profile_id(profile))
        return self._once(key, lambda: self._counts(pr)).copy()

    def _counts(self, pr: Projection) -> pd.DataFrame:
        s = pr.summary()["years"]
        return pd.DataFrame(
            [
                {
                    "year": int(y),
                    "households": v["households_total"],
                    "fail": v["communities_status"].get("fail", 0),
                    "new": v["new_violations"],
                }
                for y, v in s.items()
                if int(y) in self.years()
            ]
        )

    # ------------------------------------------------------------------ comparison
    def targets(self, lang: str = "zh") -> list[dict]:
        """What today's check can be compared with: forecast years, then saved plans."""
        opts = [
            {"value": f"year:{y}", "label": t("ch.target.year", lang, year=y)}
            for y in self.years()[1:]
        ]
        for name in self._plan_names():
            opts.append({"value": f"plan:{name}", "label": t("ch.target.plan", lang, name=name)})
        return opts

    def _plan_names(self) -> list[str]:
        ws = self.provider.workspace
        if ws is None or not Path(ws).exists():
            return []
        try:
            return [str(n) for n in list_plans(ws)["name"]]
        except (OSError, ValueError):
            return []

    def _plan_result(self, name: str, profile: str | None) -> Any:
        """The check of the study with the communities a saved plan draws (cached by version)."""
        pid = self.provider.profile_id(profile)
        plan = load_plan(self.provider.plans_workspace(), name)
        key = (name, plan.version, pid)
        with self._lock:
            if key not in self._plan_results:
                study = self.provider.study
                boundaries = plan.dissolve()
                attrs = study.communities.drop(columns=["name", "geometry"], errors="ignore")
                comm = boundaries[["name"]].join(attrs, how="left")
                comm = comm.set_geometry(boundaries.geometry)
                comm.attrs = study.communities.attrs
                self._plan_results[key] = check(
                    dataclasses.replace(study, communities=comm), self.provider.result(pid).profile
                )
            return self._plan_results[key]

    def comparison(self, target: object, profile: str | None = None) -> Any:
        """Today's check against ``target`` (a value of :meth:`targets`): a :class:`Comparison`.

        Raises
        ------
        RejectedInput
            For a target not offered.
        """
        value = choice(target, [o["value"] for o in self.targets()], what="what.target")
        kind, _, name = value.partition(":")
        today = self.provider.result(profile)
        if kind == "year":
            pr = self._required(profile)
            after = pr.results[int(name)]
        else:
            after = self._plan_result(name, profile)
        return compare(snapshot_of(today), snapshot_of(after))

    def change_values(self, comparison: Any, level: str, lang: str = "zh") -> MapValues:
        """Units of ``level`` (``"community"``/``"grid"``) coloured by their kind of change."""
        ids = self.provider.ids(level)
        units = comparison.units[
            comparison.units["level"] == ("communities" if level == "community" else "grids")
        ]
        kind = units.drop_duplicates("unit_id").set_index("unit_id")["change"]
        kinds = list(CHANGE_KINDS)
        per = kind.reindex(ids.astype(str))
        classes = np.array(
            [kinds.index(k) if isinstance(k, str) else -1 for k in per], dtype="int64"
        )
        palette = [CHANGE_COLORS[k] for k in kinds]
        legend = [
            {
                "color": CHANGE_COLORS[k],
                "label": t(f"ch.kind.{k}", lang),
                "count": int((classes == i).sum()),
            }
            for i, k in enumerate(kinds)
            if (classes == i).any()
        ]
        if (classes < 0).any():
            legend.append(
                {
                    "color": NODATA,
                    "label": t("status.nodata", lang),
                    "count": int((classes < 0).sum()),
                }
            )
        labels = [t(f"ch.kind.{k}", lang) for k in kinds]
        return MapValues(level, classes, np.full(len(ids), np.nan), palette, legend, labels)

    def change_table(self, comparison: Any, lang: str = "zh", limit: int = 500) -> pd.DataFrame:
        """The changed units (communities first), kinds and levels translated; at most ``limit``."""
        changed = pd.DataFrame(comparison.changed().drop(columns="geometry"))
        cols = [c for c in TABLE_COLUMNS if c in changed.columns]
        out = changed[cols].head(limit).copy()
        out["change"] = out["change"].map(lambda k: t(f"ch.kind.{k}", lang))
        out["level"] = out["level"].map(lambda lv: t(f"ch.level.{lv}", lang))
        for side in ("old", "new"):
            col = f"status_{side}"
            if col in out.columns:
                out[col] = out[col].map(
                    lambda s: t(f"status.{s}", lang) if isinstance(s, str) else ""
                )
        return out.astype(object).where(out.notna(), "")
