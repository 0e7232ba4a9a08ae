"""The dashboard's data provider: the one object the pages' callbacks talk to.

:class:`DashboardProvider` owns one :class:`gridmap.Study` and hands out gridmap's
results in the shapes the pages draw. It holds the caches (check results per
profile, geometry, coverage questions, plan sessions) and delegates the work to the
modules of this package; the pages never touch gridmap directly.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

import gridmap
from dashboards.provider import coverage_views, map_values, summaries
from dashboards.provider.changes import ChangeViews, projects_source
from dashboards.provider.config import dashboard_settings
from dashboards.provider.coverage_views import CoverageViews
from dashboards.provider.geometry import LEVELS, GeometryCache, layer_ids
from dashboards.provider.inputs import RADIUS, choice, lang_of, number
from dashboards.provider.map_values import MapValues
from dashboards.provider.plan_session import TabRefused
from dashboards.provider.plan_views import PlanView, SelectionView
from dashboards.provider.plans import (
    PlanOutcome,
    PlanRequest,
    PlanStore,
)
from dashboards.provider.profiles import ProfileChoices
from dashboards.provider.results import ResultCache
from dashboards.provider.takeover import other_drafts, take_over
from gridmap import datasets
from gridmap.plans import Plan, Turns, WorkspaceError, as_workspace
from gridmap.rebalance import RebalanceResult
from gridmap.rules import Profile

__all__ = ["DashboardProvider"]

T = TypeVar("T")


class DashboardProvider:
    """Compliance results of one study for the dashboard.

    Parameters
    ----------
    study
        A :class:`gridmap.Study`.
    profile
        Default profile (the study's when None): a built-in name, a path or a
        :class:`~gridmap.rules.Profile`, from the server's side only.
    profiles
        More profiles the browser may choose (names, paths or profiles); the built-in
        ones and the default are always offered. Browsers name profiles by id only
        (:class:`~dashboards.provider.profiles.ProfileChoices`).
    basemap
        Optional raster tile URL template (``{z}/{x}/{y}``); no basemap by default.
    basemap_attribution
        The basemap's attribution text.
    max_profiles
        How many profiles' results to keep (least recently used are dropped).
    workspace
        The GeoPackage the 边界调整 Plans page saves plans to; None: a ``plans.gpkg`` in a
        temporary directory, made on first use (the demo). :meth:`from_config` defaults it
        to ``plans.gpkg`` next to the study config.
    projects
        The residential projects layer of the forecast page (``file.gpkg:图层``); None: none.
    plan_workers
        How many requests may compute on plans at once (:class:`gridmap.plans.Turns`):
        evaluating a plan state not evaluated before, restoring a draft, loading a plan, an
        export. The others wait their turn without taking the processor from the read-only
        pages, so many planners editing at once do not slow every map and table down. Drawing
        or editing a state already evaluated takes no turn, nor does writing a draft or a plan
        to the workspace (it waits on the disk, not the processor). Each request still runs to
        its end in its own thread: a save that answered success is stored.

    Attributes
    ----------
    default_profile
        The id of the default profile (what the profile dropdown starts with).
    plan_sessions
        The Plans page's plan per browser tab (:class:`PlanStore`).
    changes
        The Forecast & compare page's views (:class:`~dashboards.provider.changes.ChangeViews`).
    """

    def __init__(
        self,
        study: Any,
        *,
        profile: str | os.PathLike | Profile | None = None,
        profiles: tuple[str | os.PathLike | Profile, ...] = (),
        basemap: str | None = None,
        basemap_attribution: str = "",
        max_profiles: int = 6,
        workspace: str | os.PathLike | None = None,
        projects: str | None = None,
        plan_workers: int = 2,
    ) -> None:
        self.study = study
        self.profile_choices = ProfileChoices(profile or study.profile or "national", profiles)
        self.default_profile = self.profile_choices.default_id
        self.basemap = basemap
        self.basemap_attribution = basemap_attribution
        self.key = hashlib.sha1(f"{study.name}|{id(study)}".encode()).hexdigest()[:10]
        # a postgresql:// URL stays a str (Path would drop a '/')
        self.workspace = None if workspace is None else as_workspace(workspace)
        self._lock = threading.Lock()
        self._ids: dict[str, tuple[Any, pd.Index]] = {}  #: per level: (layer, its ids)
        self._results = ResultCache(study, self.profile_choices, max_profiles)
        self._geometry = GeometryCache(study, lambda: self.result().facilities)
        self._coverage = CoverageViews(study, self.result, self.ids("community"))
        self._plan_work = Turns(plan_workers)
        self.plan_sessions = PlanStore(self, work=self._plan_work)
        self.changes = ChangeViews(self, projects)

    @classmethod
    def from_config(cls, config: str | None = None, **kwargs: Any) -> DashboardProvider:
        """Read the study of a ``gridmap.toml`` (the demo district when None).

        A ``[dashboard]`` table may set ``basemap`` (tile URL), ``basemap_attribution``,
        ``workspace`` (the plans GeoPackage, relative to the config; default ``plans.gpkg``
        next to it) and ``profiles`` (more rule profiles to offer: built-in names or TOML
        paths relative to the config); keywords override it.
        """
        kwargs.setdefault("projects", projects_source(config))
        if config is None:
            return cls(gridmap.read_study(**datasets.demo_config()), **kwargs)
        for key, value in dashboard_settings(config).items():
            kwargs.setdefault(key, value)
        return cls(gridmap.read_study(**gridmap.load_config(config)), **kwargs)

    def plans_workspace(self) -> Path | str:
        """The plans workspace: a GeoPackage path or a PostGIS URL.

        A temporary GeoPackage is made on first use when none is configured.
        """
        with self._lock:
            if self.workspace is None:
                self.workspace = Path(tempfile.mkdtemp(prefix="gridmap-plans-")) / "plans.gpkg"
            return self.workspace

    # ------------------------------------------------------------------ results
    def profiles(self, lang: str = "zh") -> list[dict]:
        """The rule profiles as dropdown options (by id, the default one first)."""
        return self.profile_choices.options(lang_of(lang))

    def profile_id(self, value: object) -> str:
        """The profile id of a browser value (None: the default).

        Raises
        ------
        RejectedInput
            For anything but an offered id (a path is never read).
        """
        return self.profile_choices.id_of(value)

    def level(self, value: object) -> str:
        """A level the study has (``"community"``, or ``"grid"`` with grids); None: community.

        Raises
        ------
        RejectedInput
            For any other value.
        """
        if value is None:
            return "community"
        return choice(value, [lv for lv in LEVELS if self.has_level(lv)], what="what.level")

    def result(self, profile: str | None = None) -> Any:
        """The :class:`gridmap.CheckResult` under ``profile`` (computed once, then cached)."""
        return self._results.result(profile)

    def findings(self, profile: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Every finding, messages and rule titles in ``lang`` (English re-evaluates the rules)."""
        return self._results.findings(profile, lang)

    def has_level(self, level: str) -> bool:
        """Whether the study has ``level`` (communities always; grids and facilities when given)."""
        if level == "facility":
            return self.study.facilities is not None
        return level == "community" or (level == "grid" and self.study.grids is not None)

    def units(self, level: str, profile: str | None = None) -> pd.DataFrame:
        """The check's table of ``level`` (``"community"`` or ``"grid"``) under ``profile``."""
        return map_values.units_of(self.result(profile), level)

    def ids(self, level: str) -> pd.Index:
        """Unit ids in feature order (feature ``i`` of the level's GeoJSON is ``ids(level)[i]``).

        Kept per layer (an index is immutable): most callbacks ask for them.
        """
        layer = self.study.communities if level == "community" else self.study.grids
        held = self._ids.get(level)
        if held is None or held[0] is not layer:  # the layer itself: its id is not reused
            held = self._ids[level] = (layer, layer_ids(layer))
        return held[1]

    # ------------------------------------------------------------------ geometry
    def wgs84(self, level: str) -> Any:
        """The level's geometry in WGS84 (feature order), sub-metre vertices dropped."""
        return self._geometry.wgs84(level)

    def geojson(self, level: str) -> bytes:
        """Gzip-compressed GeoJSON of a level: ``id`` = feature index, ``n`` name, ``u`` unit id."""
        return self._geometry.geojson(level)

    def bounds(self, level: str, uid: str | None = None) -> list[float]:
        """[west, south, east, north] of one unit (or the whole level) in WGS84."""
        return self._geometry.bounds(level, uid)

    # ------------------------------------------------------------------ map values
    def color_options(self, level: str, profile: str | None = None, lang: str = "zh") -> list[dict]:
        """Colour-by choices: overall status, one per rule of the level, the metrics available."""
        lang = lang_of(lang)
        return self.derived(
            profile,
            ("color_options", level, lang),
            lambda: map_values.color_options(self.result(profile), level, lang),
        )

    def metric(self, level: str, name: str, profile: str | None = None) -> pd.Series:
        """One metric per unit of ``level`` (see :func:`map_values.metric`)."""
        return map_values.metric(self.result(profile), level, name)

    def map_values(
        self, level: str, mode: str = "status", profile: str | None = None, lang: str = "zh"
    ) -> MapValues:
        """Classes, hover values and legend for colouring ``level`` by ``mode``.

        ``mode`` is ``"status"``, ``"rule:<rule id>"`` or ``"metric:<name>"``.
        """
        lang = lang_of(lang)
        return self.derived(
            profile,
            ("map_values", level, mode, lang),
            lambda: map_values.map_values(self.result(profile), level, mode, lang),
        )

    def coverage_values(self, view: dict, lang: str = "zh") -> MapValues:
        """Communities coloured by the covered share of a :meth:`coverage` view."""
        return map_values.coverage_values(view, len(self.ids("community")), lang)

    # ------------------------------------------------------------------ summaries
    def kpis(self, profile: str | None = None, lang: str = "zh") -> dict:
        """Headline figures of the check (see :func:`summaries.kpis`) and coverage shares."""
        lang = lang_of(lang)

        def compute() -> dict:
            out = summaries.kpis(self.result(profile), lang)
            out["coverage"] = self.coverage_shares(profile, lang)
            return out

        return self.derived(profile, ("kpis", lang), compute)

    def worst(self, profile: str | None = None, lang: str = "zh", n: int = 10) -> pd.DataFrame:
        """Communities with the most failed rules (error severity first), then the biggest gap."""
        lang = lang_of(lang)
        return self.derived(
            profile,
            ("worst", lang, n),
            lambda: summaries.worst(self.findings(profile, lang), lang, n),
        )

    def rule_counts(self, profile: str | None = None, lang: str = "zh") -> pd.DataFrame:
        """Per rule: pass / fail / not_assessed counts and the rule title, in profile order."""
        lang = lang_of(lang)
        return self.derived(
            profile,
            ("rule_counts", lang),
            lambda: summaries.rule_counts(
                self.findings(profile, lang), self.result(profile).profile
            ),
        )

    def unit_detail(
        self, level: str, uid: str, profile: str | None = None, lang: str = "zh"
    ) -> dict:
        """Everything about one unit: its figures and every finding (failures first).

        Raises
        ------
        KeyError
            When ``level`` has no unit ``uid`` (nothing is kept for it).
        """
        lang = lang_of(lang)
        return self.derived(
            profile,
            ("unit_detail", level, str(uid), lang),
            lambda: summaries.unit_detail(
                self.units(level, profile),
                self.findings(profile, lang),
                self.result(profile).profile,
                level,
                uid,
            ),
        )

    def value_formats(self, profile: str | None = None) -> dict[str, tuple[bool, bool]]:
        """``{rule id: (value is a share, gap is a share)}`` of the profile's rules."""
        return summaries.value_formats(self.result(profile).profile)

    def with_value_text(self, f: pd.DataFrame, profile: str | None = None) -> pd.DataFrame:
        """``f`` (findings) plus ``value_text`` and ``gap_text``: shares as percentages."""
        return summaries.with_value_text(f, self.result(profile).profile)

    def derived(
        self, profile: str | None, key: Hashable, compute: Callable[[], T], *, shared: bool = False
    ) -> T:
        """A value the pages derive from the result under ``profile``, computed once (a copy).

        ``key`` names what is derived and every argument it depends on besides the profile;
        kept while the profile's result is; ``shared`` hands out the kept value itself to
        callers that only read it (see :meth:`ResultCache.derived`).
        """
        return self._results.derived(profile, key, compute, shared=shared)

    # ------------------------------------------------------------------ coverage
    def facility_types(self, lang: str = "zh") -> list[dict]:
        """The facility types of the study as dropdown options, most frequent first."""
        lang = lang_of(lang)
        options = self.derived(
            None,
            ("facility_types", lang),
            lambda: coverage_views.facility_types(self.result(), lang),
            shared=True,
        )
        return [dict(o) for o in options]

    def facility_type(self, value: object) -> str:
        """A facility type of the study (from :meth:`facility_types`).

        Raises
        ------
        RejectedInput
            For any other value.
        """
        return choice(value, [o["value"] for o in self.facility_types()], what="what.facility_type")

    def facility_count(self, facility_type: str | None) -> int:
        """How many facilities of ``facility_type`` the study has."""

        def counts() -> dict:
            fac = self.result().facilities
            return {} if fac is None else fac["facility_type"].value_counts().to_dict()

        return int(
            self.derived(None, ("facility_counts",), counts, shared=True).get(facility_type, 0)
        )

    def coverage_shares(self, profile: str | None = None, lang: str = "zh") -> dict | None:
        """Share of households covered per coverage rule of the profile, or None."""
        return coverage_views.coverage_shares(self.result(profile), lang)

    def default_coverage(self) -> tuple[str | None, float, str]:
        """(type, radius, mode) of the default profile's first coverage rule, else 1 km."""
        types = {o["value"] for o in self.facility_types()}
        return coverage_views.default_coverage(self.profile_choices.get(None), types)

    def coverage(self, facility_type: object, radius: object, method: object = "straight") -> dict:
        """Coverage of households by one facility type within ``radius`` metres (cached).

        The browser's values are checked first: a facility type of the study, a radius
        in :data:`~dashboards.provider.inputs.RADIUS` (metres, rounded to 1 m) and
        ``"straight"`` or ``"network"``. See :meth:`CoverageViews.coverage` for the
        view's keys.

        Raises
        ------
        RejectedInput
            For a value outside those.
        """
        ftype = self.facility_type(facility_type)
        metres = float(round(number(radius, RADIUS)))
        mode = choice(method, ("straight", "network"), what="what.method")
        return self._coverage.coverage(ftype, metres, mode)

    # ------------------------------------------------------------------ plans
    def plan(self, profile: str | None = None, *, name: str = "方案", graph: Any = None) -> Plan:
        """A :class:`gridmap.plans.Plan` of the as-is assignment under ``profile``."""
        return Plan.from_check(self.result(profile), name=name, graph=graph)

    def use_profile(self, plan: Plan, profile: str | None = None) -> None:
        """Evaluate ``plan`` under ``profile`` (with that profile's check figures) if it is not."""
        res = self.result(profile)
        if plan.profile.id != res.profile.id:
            plan.set_profile(res.profile, community_attrs=res.communities)

    def rebalance(self, plan: Plan, *, time_limit: float = 10.0) -> RebalanceResult:
        """Propose moves that bring ``plan`` into its profile's band (:meth:`Plan.rebalance`).

        The one place the dashboard calls the solver; nothing is applied.

        Raises
        ------
        ValueError
            When the plan's profile has no household band.
        """
        return plan.rebalance(time_limit=float(time_limit))

    def plan_action(self, sid: str, request: PlanRequest) -> PlanOutcome:
        """Apply one button of the Plans page to tab ``sid``'s plan (see :meth:`PlanStore.act`)."""
        return self.plan_sessions.act(sid, request)  # takes its turns (plan_workers) itself

    def plan_view(
        self,
        sid: str,
        url: str,
        *,
        profile: str | None = None,
        mode: str = "community",
        lang: str = "zh",
    ) -> PlanView:
        """What the Plans page draws of tab ``sid``'s plan (grid geometry served at ``url``)."""
        ids = self.ids("grid")
        return self.plan_sessions.view(sid, ids, url, profile=profile, mode=mode, lang=lang)

    def plan_drafts(self, sid: str, lang: str = "zh") -> list[dict]:
        """The user's drafts of other tabs as dropdown options (see :func:`other_drafts`)."""
        try:
            drafts = other_drafts(self.plan_sessions, sid)
        except (TabRefused, WorkspaceError):
            return []
        return [{"value": d.key, "label": d.label(lang)} for d in drafts]

    def plan_takeover(
        self, sid: str, other: object, *, profile: str | None = None, lang: str = "zh"
    ) -> PlanOutcome:
        """Move the user's draft ``other`` into tab ``sid`` (see :func:`take_over`)."""
        pid = self.profile_id(profile)
        return take_over(self.plan_sessions, sid, other, profile=pid, lang=lang)

    def plan_selection(self, sid: str, units: list[str]) -> SelectionView:
        """The units selected in tab ``sid``: households, names, neighbouring communities."""
        return self.plan_sessions.selection(sid, units)

    def plan_export(self, sid: str, fmt: str, profile: str | None = None) -> tuple[bytes, str]:
        """(bytes, file name) of tab ``sid``'s plan as ``"xlsx"`` (changes) or ``"gpkg"``."""
        return self.plan_sessions.export(sid, fmt, profile)  # takes its turn itself
