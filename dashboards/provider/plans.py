"""Plan sessions of the 边界调整 Plans page: a plan per browser tab, edits, save/load, rebalance.

The plan lives on the server, one per tab: :class:`PlanStore` keeps a
:class:`PlanSession` per session id (a random id the tab holds in ``sessionStorage``),
so several tabs never share a plan. A button of the page becomes one
:class:`PlanRequest`; :meth:`PlanStore.act` applies it and says what to show in a
:class:`PlanOutcome`. Edits are :class:`gridmap.plans.Plan`'s own (move, create,
split, merge, undo, redo); the rebalancer runs through the provider
(:meth:`DashboardProvider.rebalance`), its result is shown first and applied on request.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from dashboards.i18n import t
from dashboards.provider.plan_session import PlanSession, community_colors
from dashboards.provider.plan_views import PlanView, SelectionView, plan_view, selection_view
from gridmap.plans import list_plans, load_plan
from gridmap.rebalance import RebalanceResult

__all__ = [
    "EDITS",
    "PlanOutcome",
    "PlanRequest",
    "PlanStore",
    "export_gpkg",
    "export_xlsx",
    "run_edit",
]

#: The actions :func:`run_edit` applies; :meth:`PlanStore.act` adds save, load and reset.
EDITS = ("move", "create", "split", "merge", "undo", "redo", "rebalance", "apply")


class PlanSource(Protocol):
    """What the store needs of its provider (:class:`DashboardProvider`)."""

    def plan(self, profile: str | None = None, *, name: str = "方案", graph: Any = None) -> Any:
        """A plan of the as-is assignment under ``profile``."""

    def use_profile(self, plan: Any, profile: str | None = None) -> None:
        """Evaluate ``plan`` under ``profile``."""

    def plans_workspace(self) -> Path:
        """The GeoPackage plans are saved to."""

    def rebalance(self, plan: Any, *, time_limit: float = 10.0) -> RebalanceResult:
        """Run the rebalancer on ``plan``."""


@dataclass(frozen=True)
class PlanRequest:
    """One button of the Plans page with what its controls hold.

    ``action`` is one of :data:`EDITS`, ``"save"``, ``"load"`` or ``"reset"``.
    """

    action: str
    selection: list[str] = field(default_factory=list)  #: selected grid ids
    target: str | None = None  #: community to move the selection to
    community: str | None = None  #: community to split
    k: int | None = 2  #: into how many
    communities: list[str] | None = None  #: communities to merge
    time_limit: float | None = 10.0  #: seconds for the rebalancer
    name: str | None = None  #: save under this name
    saved: str | None = None  #: load this saved plan
    profile: str | None = None  #: the app's profile
    lang: str = "zh"


@dataclass(frozen=True)
class PlanOutcome:
    """What the page shows after a :class:`PlanRequest`.

    ``tone`` says how ``lines`` read: ``"text"`` (one plain line), ``"error"`` (one line,
    in red), ``"ok"`` (the plan changed: a line each) or ``"refused"`` (nothing changed).
    """

    lines: list[str]
    tone: str
    refresh: bool = True  #: the plan or the saved plans may differ: draw the page again
    in_rebalance_box: bool = False  #: lines belong under the rebalancer, not the message line
    clear_rebalance: bool = False  #: empty the rebalancer's result
    clear_selection: bool = False
    name: str | None = None  #: new text of the name box (None: leave it)


class PlanStore:
    """Plans per session id (least recently used dropped beyond ``max_sessions``); thread-safe.

    Every plan shares the unit adjacency of one template plan (computed once per store).

    Parameters
    ----------
    provider
        The :class:`DashboardProvider` (as-is plans, profiles, workspace, rebalancer).
    max_sessions
        How many tabs' plans to keep.
    """

    def __init__(self, provider: PlanSource, max_sessions: int = 32) -> None:
        self.provider = provider
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, PlanSession] = OrderedDict()
        self._lock = threading.RLock()
        self._template: Any = None
        self._colors: dict[str, int] = {}

    def template(self) -> Any:
        """The as-is plan whose adjacency and colours every session starts from (made once)."""
        with self._lock:
            if self._template is None:
                self._template = self.provider.plan(name="现状")
                self._colors = community_colors(self._template)
            return self._template

    def new_plan(self, name: str | None = None, profile: str | None = None) -> Any:
        """A fresh plan of the as-is assignment (a random name when None)."""
        tpl = self.template()
        return self.provider.plan(
            profile, name=name or f"方案 {uuid.uuid4().hex[:4]}", graph=tpl.graph
        )

    def get(self, sid: str | None, profile: str | None = None) -> PlanSession:
        """The session's plan (made from the as-is assignment on first use).

        Evaluated under ``profile`` (the app's profile selector); left as it is when None.
        """
        sid = str(sid or "anonymous")
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                self._sessions.move_to_end(sid)
        if session is None:
            plan = self.new_plan(profile=profile)
            session = PlanSession(plan, self._colors)
            with self._lock:
                session = self._sessions.setdefault(sid, session)
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
        if profile is not None:
            with session.lock:
                self.provider.use_profile(session.plan, profile)
        return session

    def reset(self, sid: str, profile: str | None = None) -> PlanSession:
        """Start the session afresh from the as-is assignment."""
        s = self.get(sid, profile)
        with s.lock:
            s.plan, s.pending = self.new_plan(profile=profile), None
        return s

    def load(self, sid: str, name: str, profile: str | None = None) -> PlanSession:
        """Replace the session's plan by a saved one (by name or id) from the workspace."""
        tpl = self.template()
        plan = load_plan(self.provider.plans_workspace(), name, graph=tpl.graph)
        if not plan.units.index.equals(tpl.units.index):  # another unit set: its own adjacency
            plan = load_plan(self.provider.plans_workspace(), name)
        s = self.get(sid, profile)
        with s.lock:
            if profile is not None:
                self.provider.use_profile(plan, profile)
            s.plan, s.pending = plan, None
        return s

    def saved(self) -> pd.DataFrame:
        """The plans saved in the workspace (:func:`gridmap.plans.list_plans`)."""
        return list_plans(self.provider.plans_workspace())

    def __len__(self) -> int:
        return len(self._sessions)

    # ------------------------------------------------------------------ what the page asks
    def act(self, sid: str, request: PlanRequest) -> PlanOutcome:
        """Apply one button of the page to the session's plan and say what to show."""
        lang = request.lang
        session = self.get(sid, request.profile)
        if request.action == "save":
            return self._save(session, request.name, lang)
        if request.action == "load":
            return self._load(sid, request, lang)
        if request.action == "reset":
            self.reset(sid, request.profile)
            return PlanOutcome(
                [t("pl.reset.ok", lang)],
                "text",
                clear_rebalance=True,
                clear_selection=True,
                name="",
            )
        changed, lines = run_edit(
            session,
            request.action,
            selection=request.selection,
            target=request.target,
            community=request.community,
            k=request.k,
            communities=request.communities,
            time_limit=request.time_limit,
            lang=lang,
            provider=self.provider,
        )
        return PlanOutcome(
            lines,
            "ok" if changed else "refused",
            in_rebalance_box=request.action == "rebalance",
            clear_rebalance=request.action == "apply",
            clear_selection=changed and request.action in ("move", "create"),
        )

    def _save(self, session: PlanSession, name: str | None, lang: str) -> PlanOutcome:
        with session.lock:
            try:
                if name:
                    session.plan.name = str(name).strip()
                path = session.plan.save(self.provider.plans_workspace())
            except ValueError as exc:
                return PlanOutcome([str(exc)], "error")
            plan_name = session.plan.name
        return PlanOutcome(
            [t("pl.saved.ok", lang, name=plan_name, path=path)], "text", name=plan_name
        )

    def _load(self, sid: str, request: PlanRequest, lang: str) -> PlanOutcome:
        if not request.saved:
            return PlanOutcome([t("pl.need.saved", lang)], "text", refresh=False)
        try:
            s = self.load(sid, request.saved, request.profile)
        except (KeyError, ValueError) as exc:
            return PlanOutcome([str(exc)], "error")
        return PlanOutcome(
            [t("pl.loaded", lang, name=s.plan.name, n=len(s.plan.journal))],
            "text",
            clear_rebalance=True,
            clear_selection=True,
            name=s.plan.name,
        )

    def view(
        self,
        sid: str,
        grid_ids: pd.Index,
        url: str,
        *,
        profile: str | None = None,
        mode: str = "community",
        lang: str = "zh",
    ) -> PlanView:
        """What the page draws of the session's plan (see :func:`plan_view`)."""
        session = self.get(sid, profile)
        saved = self.saved()["name"].astype(str).tolist()
        return plan_view(
            session,
            grid_ids,
            url,
            saved=saved,
            workspace=self.provider.plans_workspace(),
            mode=mode,
            lang=lang,
        )

    def selection(self, sid: str, units: list[str]) -> SelectionView:
        """The selected units of the session's plan (its profile does not matter here)."""
        return selection_view(self.get(sid), units)

    def export(self, sid: str, fmt: str, profile: str | None = None) -> tuple[bytes, str]:
        """(bytes, file name) of the session's plan: ``"xlsx"`` changes, ``"gpkg"`` communities."""
        session = self.get(sid, profile)
        with session.lock:
            plan = session.plan
            stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in plan.name) or "plan"
            if fmt == "xlsx":
                return export_xlsx(plan), f"{stem}-changes.xlsx"
            return export_gpkg(plan), f"{stem}-communities.gpkg"


# ---------------------------------------------------------------------- edits
def run_edit(
    session: PlanSession,
    action: str | None,
    *,
    selection: list[str],
    target: str | None = None,
    community: str | None = None,
    k: int | None = 2,
    communities: list[str] | None = None,
    time_limit: float | None = 10.0,
    lang: str = "zh",
    provider: PlanSource | None = None,
) -> tuple[bool, list[str]]:
    """Apply one action (one of :data:`EDITS`) to the session's plan.

    Parameters
    ----------
    session
        The tab's plan.
    action
        ``move`` / ``create`` (the selection), ``split`` (``community`` into ``k``),
        ``merge`` (``communities``), ``undo``, ``redo``, ``rebalance`` (propose) or
        ``apply`` (the proposal).
    selection, target, community, k, communities
        What the action works on.
    time_limit
        Seconds for the rebalancer.
    lang
        Language of the message lines.
    provider
        Runs the rebalancer (:meth:`DashboardProvider.rebalance`); without it nothing runs.

    Returns
    -------
    tuple
        (whether the plan changed, message lines).
    """
    plan = session.plan
    with session.lock:
        if action in ("move", "create") and not selection:
            return False, [t("pl.need.selection", lang)]
        if action == "rebalance":
            if provider is None:
                return False, [t("pl.nothing", lang)]
            return False, _rebalance(session, provider, time_limit, lang)
        if action == "apply":
            return _apply(session, lang)
        need = _missing(action, target, community, communities)
        if need:
            return False, [t(need, lang)]
        if action == "move":
            res = plan.move(selection, str(target))
        elif action == "create":
            res = plan.create(selection)
        elif action == "split":
            res = plan.split(str(community), int(k or 2))
        elif action == "merge":
            res = plan.merge([str(c) for c in communities or ()])
        elif action == "undo":
            res = plan.undo()
        elif action == "redo":
            res = plan.redo()
        else:
            return False, [t("pl.nothing", lang)]
        if res is None:
            return False, [t("pl.nothing", lang)]
        op = t(f"pl.op.{res.op}", lang)
        if not res.ok:
            return False, [t("pl.refused", lang, op=op), *res.reasons]
        session.pending = None
        return True, [t("pl.done", lang, op=op, n=len(res.changes)), *res.warnings]


def _missing(
    action: str | None, target: str | None, community: str | None, communities: list[str] | None
) -> str | None:
    """The message key of what ``action`` still needs, or None."""
    if action == "move" and not target:
        return "pl.need.target"
    if action == "split" and not community:
        return "pl.need.community"
    if action == "merge" and (not communities or len(communities) < 2):
        return "pl.need.two"
    return None


def _apply(session: PlanSession, lang: str) -> tuple[bool, list[str]]:
    edit = session.pending_edit()
    if edit is None:
        session.pending = None
        return False, [t("pl.rb.stale", lang)]
    res = session.plan.apply(edit)
    session.pending = None
    return True, [t("pl.rb.applied", lang, n=len(res.changes))]


def _rebalance(
    session: PlanSession, provider: PlanSource, time_limit: float | None, lang: str
) -> list[str]:
    plan = session.plan
    if plan.band is None:
        session.pending = None
        return [t("pl.band.none", lang, profile=plan.profile.id)]
    rb = provider.rebalance(plan, time_limit=float(time_limit or 10))
    if rb.status == "no_violations":
        session.pending = None
        return [t("pl.rb.none", lang)]
    session.pending = (len(plan.journal), rb.edit) if rb.edit.changes else None
    options = {o: t(f"pl.rb.opt.{o}", lang) for o in ("hops", "time_limit")}
    return [
        t(
            "pl.rb.result",
            lang,
            status=t(f"pl.rb.status.{rb.status}", lang),
            units=rb.units_moved,
            hh=rb.households_moved,
            left=rb.violations_after,
            s=rb.solver.seconds_,
        ),
        *rb.text(lang, options=options),
    ]


# ---------------------------------------------------------------------- exports
def _exported(plan: Any, fmt: str, name: str) -> bytes:
    """One file of :meth:`gridmap.plans.Plan.export`, as bytes (written to a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="gridmap-export-") as tmp:
        files = plan.export(tmp, formats=(fmt,))
        return Path(files[name]).read_bytes()


def export_xlsx(plan: Any) -> bytes:
    """The change list (单元编码, 原社区, 新社区, 户数 …) as XLSX."""
    return _exported(plan, "xlsx", "changes.xlsx")


def export_gpkg(plan: Any) -> bytes:
    """The plan's communities (dissolved grids) with their size status, as a GeoPackage."""
    return _exported(plan, "gpkg", "communities.gpkg")
