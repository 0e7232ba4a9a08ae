"""Plan sessions of the 边界调整 Plans page: a plan per user and browser tab, kept as a draft.

The plan lives on the server, one per tab: :class:`PlanStore` keeps a :class:`PlanSession`
per tab id the server issued when it drew the page (:meth:`PlanStore.issue`, signed for the
logged-in user, :class:`TabKeys`), so tabs and people never share a plan and an id the browser
makes up opens nothing. Every change is written to the workspace as the tab's draft
(:mod:`gridmap.plans.drafts`): a plan dropped from memory (beyond ``max_sessions``) or lost
with a server restart is restored from it, and the page says so ("已恢复 … 的草稿"). At most
``max_drafts_per_user`` tabs per user (``max_drafts`` in all) hold unsaved edits; another is
refused with a message, nobody's work is evicted.

A button of the page becomes one :class:`PlanRequest`; :meth:`PlanStore.act` checks the user
(:func:`dashboards.identity.current_user`: viewers look and export, editors also edit and
save; every edit is journalled with the user's name), range-checks the numbers, applies it and
says what to show in a :class:`PlanOutcome`. Two editors saving the same plan: the second gets
the conflict in the page (who saved, when, how many units) and keeps their version, which is
saved as a new plan when they save it under a new name.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from flask import has_request_context

from dashboards.i18n import t
from dashboards.identity import User, current_user
from dashboards.provider import plan_sharing
from dashboards.provider.listings import WorkspaceListings
from dashboards.provider.plan_requests import (
    NUMBERS,
    PlanOutcome,
    PlanRequest,
    checked_number,
    conflict_outcome,
    id_list,
    refusal,
    text_value,
    with_lines,
    workspace_message,
)
from dashboards.provider.plan_session import (
    EDITS,
    PlanSession,
    TabKeys,
    TabRefused,
    community_colors,
    run_edit,
)
from dashboards.provider.plan_views import (
    PlanView,
    SelectionView,
    export_gpkg,
    export_xlsx,
    plan_view,
    selection_view,
)
from gridmap.lru import BoundedLRU
from gridmap.plans import (
    EvaluationCache,
    PlanConflict,
    WorkspaceError,
    load_plan,
)
from gridmap.plans.drafts import (
    DraftLimit,
    draft_secret,
    drop_draft,
    reserve_draft,
    restore_draft,
    write_draft,
)
from gridmap.plans.state import now
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

#: Actions only editors may ask for.
EDITOR_ACTIONS = (*EDITS, "save", "rebase")


class PlanSource(Protocol):
    """What the store needs of its provider (:class:`DashboardProvider`)."""

    def plan(self, profile: str | None = None, *, name: str = "方案", graph: Any = None) -> Any:
        """A plan of the as-is assignment under ``profile``."""

    def use_profile(self, plan: Any, profile: str | None = None) -> None:
        """Evaluate ``plan`` under ``profile``."""

    def plans_workspace(self) -> Path | str:
        """The workspace plans are saved to (a GeoPackage path or a PostGIS URL)."""

    def rebalance(self, plan: Any, *, time_limit: float = 10.0) -> RebalanceResult:
        """Run the rebalancer on ``plan``."""


def _in_use(key: str, session: PlanSession) -> bool:
    """Whether another thread holds the session's lock (a session in use stays in memory)."""
    if not session.lock.acquire(blocking=False):
        return True
    session.lock.release()
    return False


class PlanStore:
    """Plans per user and tab, kept as drafts in the workspace; thread-safe.

    Every plan shares the unit adjacency of one template plan (computed once per store).

    Parameters
    ----------
    provider
        The :class:`DashboardProvider` (as-is plans, profiles, workspace, rebalancer).
    max_sessions
        How many tabs' plans to keep in memory (the least recently used beyond it are dropped
        from memory and restored from their drafts when asked for again).
    max_drafts, max_drafts_per_user
        How many tabs may hold unsaved edits, in all and per user.
    evaluations
        How many plan evaluations every tab shares (:class:`gridmap.plans.EvaluationCache`,
        by content: undo, redo, a fresh tab and another user's plan in the same state are
        not evaluated again).
    work
        Held while a plan evaluates a state not evaluated before (every plan's
        :attr:`~gridmap.plans.Plan.turn`) and while a plan is built from the workspace (a
        draft restored, a saved plan loaded, an export): e.g. :class:`gridmap.plans.Turns`
        letting a few threads at once do so. Drawing or editing a state already evaluated takes
        no turn, nor does writing a draft or a plan or reading a listing (waiting on the disk
        or on another writer takes no turn from other planners). Always the innermost lock: a
        tab's lock is taken before it, never while holding it. None: no limit.

    Attributes
    ----------
    listings
        The workspace's saved plans and drafts as the page lists them, read again only when
        the workspace changed (:class:`WorkspaceListings`).
    """

    def __init__(
        self,
        provider: PlanSource,
        max_sessions: int = 32,
        *,
        max_drafts: int = 200,
        max_drafts_per_user: int = 20,
        evaluations: int = 64,
        work: contextlib.AbstractContextManager | None = None,
    ) -> None:
        self.provider = provider
        self.work = work if work is not None else contextlib.nullcontext()
        self.listings = WorkspaceListings(provider.plans_workspace)
        self.evaluations = EvaluationCache(size=evaluations)
        self.max_sessions = max_sessions
        self.max_drafts = max_drafts
        self.max_drafts_per_user = max_drafts_per_user
        self._lock = threading.RLock()
        # beyond max_sessions the least recently used idle sessions are dropped (drafts stay)
        self._sessions: BoundedLRU[str, PlanSession] = BoundedLRU(
            max_sessions, pinned=_in_use, lock=self._lock
        )
        self._template: Any = None
        self._colors: dict[str, int] = {}
        self._keys = TabKeys(self._secret)

    def _secret(self) -> bytes:
        """The workspace's signing key; a key of this process when the workspace is unwritable."""
        try:
            return draft_secret(self.provider.plans_workspace())
        except (WorkspaceError, ValueError):
            return secrets.token_bytes(32)

    def template(self) -> Any:
        """The as-is plan whose adjacency and colours every session starts from (made once)."""
        with self._lock:
            if self._template is None:
                self._template = self.provider.plan(name="现状")
                self._template.evaluations = self.evaluations
                self._template.turn = self.work
                self._colors = community_colors(self._template)
            return self._template

    def new_plan(
        self, name: str | None = None, profile: str | None = None, author: str = ""
    ) -> Any:
        """A fresh plan of the as-is assignment (a random name when None).

        Under the template's profile, a copy of the template with its own id, name, author
        and time (a tab's first request: building it from the check cost 0.1–0.2 s of the
        processor on the demo); under another profile, built from that profile's check.
        """
        tpl = self.template()
        name = name or f"方案 {uuid.uuid4().hex[:4]}"
        if profile is not None and profile != tpl.profile.id:
            plan = self.provider.plan(profile, name=name, graph=tpl.graph)
        else:
            plan = copy.deepcopy(tpl, {id(tpl.graph): tpl.graph})  # the adjacency is shared
            plan.plan_id, plan.name, plan.created = uuid.uuid4().hex[:12], name, now()
        plan.author = author
        plan.evaluations = self.evaluations
        plan.turn = self.work
        return plan

    # ------------------------------------------------------------------ tabs and sessions
    def issue(self) -> str:
        """A new tab id for the user asking ("" when nobody is logged in)."""
        user = current_user()
        return "" if user is None else self._keys.issue(user.name)

    def _open(self, token: object) -> tuple[str, User]:
        """(memory key, user) of a tab id; :class:`TabRefused` when it opens nothing."""
        user = current_user()
        if user is None:
            raise TabRefused("login")
        if not has_request_context():  # Python code (tools, tests), not a browser: ids as given
            if not isinstance(token, str) or not token:
                raise TabRefused("invalid")
            return f"{user.name}/py:{token}", user
        return f"{user.name}/{self._keys.open(token, user.name)}", user

    def get(self, token: object, profile: str | None = None) -> PlanSession:
        """The tab's plan: in memory, else restored from its draft, else the as-is assignment.

        Evaluated under ``profile`` (the app's profile selector); left as it is when None.

        Outside a request (Python code, not a browser) any non-empty string names a tab.

        Raises
        ------
        TabRefused
            When ``token`` was not issued by this server to the user asking.
        """
        key, user = self._open(token)
        return self._session(key, user, profile)

    def _session(self, key: str, user: User, profile: str | None) -> PlanSession:
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions.setdefault(key, self._restore(key, user, profile))
        if profile is not None:
            with session.lock:
                self.provider.use_profile(session.plan, profile)
        return session

    def _restore(self, key: str, user: User, profile: str | None) -> PlanSession:
        self.template()
        try:
            with self.work:  # the journal replayed: processor work
                found = restore_draft(
                    self.provider.plans_workspace(),
                    key,
                    user.name,
                    fresh=lambda: self.new_plan(profile=profile),
                )
        except (WorkspaceError, ValueError, KeyError):
            found = None
        if found is None:
            return PlanSession(self.new_plan(profile=profile, author=user.name), self._colors)
        plan, draft = found
        plan.evaluations, plan.turn = self.evaluations, self.work
        session = PlanSession(plan, self._colors)
        when = draft.updated[:16].replace("T", " ")
        session.notice = ("pl.draft.restored", draft.name, when, str(draft.unsaved))
        return session

    def _persist(self, key: str, user: User, session: PlanSession, lang: str) -> list[str]:
        """Write the tab's draft; a line saying why it could not be written, else none.

        Under the tab's lock (its drafts are written in the order of its edits), not under
        :attr:`work`.
        """
        try:
            with session.lock:
                stamps = write_draft(
                    self.provider.plans_workspace(),
                    key,
                    user.name,
                    session.plan,
                    max_total=self.max_drafts,
                )
            self.listings.drafts_written(stamps)
        except WorkspaceError as exc:
            return [t("pl.draft.unwritten", lang, why=workspace_message(exc, lang))]
        except ValueError as exc:
            return [t("pl.draft.unwritten", lang, why=str(exc))]
        return []

    def reset(self, token: object, profile: str | None = None) -> PlanSession:
        """Start the tab afresh from the as-is assignment (its draft is removed)."""
        key, user = self._open(token)
        s = self._session(key, user, profile)
        with s.lock:
            with self.work:
                fresh = self.new_plan(profile=profile, author=user.name)
            s.plan, s.pending = fresh, None
            try:
                drop_draft(self.provider.plans_workspace(), key)
            except (WorkspaceError, ValueError):
                pass  # nothing to drop where nothing could be written
        return s

    def load(self, token: object, name: str, profile: str | None = None) -> PlanSession:
        """Replace the tab's plan by a saved one (by name or id) from the workspace."""
        key, user = self._open(token)
        tpl = self.template()
        with self.work:  # a plan built from the workspace: processor work
            plan = load_plan(self.provider.plans_workspace(), name, graph=tpl.graph)
            if not plan.units.index.equals(tpl.units.index):  # another unit set: own adjacency
                plan = load_plan(self.provider.plans_workspace(), name)
        plan.evaluations, plan.turn = self.evaluations, self.work
        s = self._session(key, user, profile)
        with s.lock:
            if profile is not None:
                self.provider.use_profile(plan, profile)
            s.plan, s.pending = plan, None
            self._persist(key, user, s, "zh")
        return s

    def saved(self) -> pd.DataFrame:
        """The plans saved in the workspace (:func:`gridmap.plans.list_plans`)."""
        return self.listings.saved()

    def __len__(self) -> int:
        return len(self._sessions)

    # ------------------------------------------------------------------ what the page asks
    def act(self, token: object, request: PlanRequest) -> PlanOutcome:
        """Apply one button of the page to the tab's plan and say what to show.

        Refused with a message (nothing changed): a tab id not issued to the user asking,
        a viewer asking to edit or save, a number out of range, no room for another draft.
        """
        lang = request.lang if request.lang in ("zh", "en") else "zh"
        try:
            key, user = self._open(token)
        except TabRefused as exc:
            return refusal(f"pl.tab.{exc.reason}", lang)
        action = request.action
        if action in EDITOR_ACTIONS and not user.can_edit:
            return refusal("pl.viewer", lang, user=user.name)
        numbers = self._numbers(request, lang)
        if isinstance(numbers, PlanOutcome):
            return numbers
        profile = text_value(request.profile)
        session = self._session(key, user, profile)
        if action == "load":
            return self._load(token, request, lang)
        if action == "reload":  # the tab's plan as saved now (another planner's save included)
            return self._load(token, replace(request, saved=session.plan.plan_id), lang)
        if action == "reset":
            self.reset(token, profile)
            return PlanOutcome(
                [t("pl.reset.ok", lang)],
                "text",
                clear_rebalance=True,
                clear_selection=True,
                name="",
            )
        if action == "save":
            out = self._save(session, text_value(request.name), lang)
            return with_lines(out, self._persist(key, user, session, lang))
        if action == "rebase":  # take what others saved meanwhile, re-apply the tab's edits
            with session.lock, self.work:
                done, line = plan_sharing.rebase(
                    session.plan, self.provider.plans_workspace(), lang
                )
            out = PlanOutcome([line], "ok" if done else "error", refresh=done)
            return with_lines(out, self._persist(key, user, session, lang) if done else [])
        if action not in EDITS:
            return refusal("pl.nothing", lang)
        if action != "rebalance" and not session.plan.dirty:
            refused = self._reserve(key, user, lang)
            if refused is not None:
                return refused
        # an edit takes a turn only to evaluate its new state (the plan's turn); the
        # rebalancer's seconds are in C++ (they take no turn from other planners)
        changed, lines = run_edit(
            session,
            action,
            selection=id_list(request.selection),
            target=text_value(request.target),
            community=text_value(request.community),
            k=int(numbers.get("k", 2)),
            communities=id_list(request.communities),
            time_limit=numbers.get("time_limit", 10.0),
            lang=lang,
            provider=self.provider,
            author=user.name,
        )
        if changed:
            lines += self._persist(key, user, session, lang)
        return PlanOutcome(
            lines,
            "ok" if changed else "refused",
            in_rebalance_box=action == "rebalance",
            clear_rebalance=action == "apply",
            clear_selection=changed and action in ("move", "create"),
        )

    def _numbers(self, request: PlanRequest, lang: str) -> dict[str, float] | PlanOutcome:
        """The numbers the action uses, range-checked (:data:`NUMBERS`), or the refusal."""
        used = {"split": "k", "rebalance": "time_limit"}.get(request.action)
        if used is None:
            return {}
        low, high, whole = NUMBERS[used]
        value = checked_number(getattr(request, used), low, high, whole)
        if value is None:
            return refusal(f"pl.bad.{used}", lang, low=low, high=high)
        return {used: value}

    def _reserve(self, key: str, user: User, lang: str) -> PlanOutcome | None:
        """Room for the tab's plan to get unsaved edits, or the refusal to show."""
        try:
            reserve_draft(
                self.provider.plans_workspace(),
                key,
                user.name,
                max_per_user=self.max_drafts_per_user,
                max_total=self.max_drafts,
            )
        except DraftLimit as exc:
            which = "pl.draft.full.user" if exc.per_user else "pl.draft.full.all"
            return refusal(which, lang, n=exc.limit)
        except (WorkspaceError, ValueError):
            return None  # the edit goes ahead; writing its draft reports the workspace's state
        return None

    def _save(self, session: PlanSession, name: str | None, lang: str) -> PlanOutcome:
        workspace = self.provider.plans_workspace()
        with session.lock:
            plan = session.plan
            before, wanted = plan.name, (name or "").strip() or plan.name
            try:
                plan.name = wanted
                try:
                    plan.save(workspace)
                    key = "pl.saved.ok"
                except PlanConflict as conflict:
                    plan.name = before
                    if wanted == conflict.plan:
                        return conflict_outcome(conflict, lang)
                    plan.save_as(workspace, wanted)
                    key = "pl.saved.as"
            except WorkspaceError as exc:
                plan.name = before
                return PlanOutcome([workspace_message(exc, lang)], "error", refresh=False)
            except ValueError as exc:
                plan.name = before
                return PlanOutcome([str(exc)], "error", refresh=False)
            saved = plan.name
        where = plan_sharing.place(workspace)
        return PlanOutcome([t(key, lang, name=saved, path=where)], "text", name=saved)

    def news(self, token: object, lang: str = "zh") -> str | None:
        """A line when another planner saved the tab's plan since the tab loaded or saved it."""
        session = self.get(token)
        return plan_sharing.news(session.plan, self.provider.plans_workspace(), lang)

    def _load(self, token: object, request: PlanRequest, lang: str) -> PlanOutcome:
        saved = text_value(request.saved)
        if not saved:
            return PlanOutcome([t("pl.need.saved", lang)], "text", refresh=False)
        try:
            s = self.load(token, saved, text_value(request.profile))
        except (KeyError, ValueError) as exc:
            return PlanOutcome([str(exc).strip("'\"")], "error")
        except WorkspaceError as exc:
            return PlanOutcome([workspace_message(exc, lang)], "error", refresh=False)
        return PlanOutcome(
            [t("pl.loaded", lang, name=s.plan.name, n=len(s.plan.journal))],
            "text",
            clear_rebalance=True,
            clear_selection=True,
            name=s.plan.name,
        )

    def view(
        self,
        token: object,
        grid_ids: pd.Index,
        url: str,
        *,
        profile: str | None = None,
        mode: str = "community",
        lang: str = "zh",
    ) -> PlanView:
        """What the page draws of the tab's plan (see :func:`plan_view`).

        Raises
        ------
        TabRefused
            When ``token`` was not issued to the user asking (:meth:`issue` a new one).
        """
        self._open(token)  # a tab refused reads nothing
        saved = self.saved()["name"].astype(str).tolist()
        user = current_user()
        session = self.get(token, profile)  # a new state evaluated takes a turn (plan.turn)
        notice = session.take_notice()
        return plan_view(
            session,
            grid_ids,
            url,
            saved=saved,
            workspace=self.provider.plans_workspace(),
            mode=mode,
            lang=lang,
            notice=None
            if notice is None
            else t(notice[0], lang, name=notice[1], when=notice[2], n=notice[3]),
            read_only=user is None or not user.can_edit,
        )

    def selection(self, token: object, units: list[str]) -> SelectionView:
        """The selected units of the tab's plan (its profile does not matter here)."""
        return selection_view(self.get(token), id_list(units))

    def export(self, token: object, fmt: str, profile: str | None = None) -> tuple[bytes, str]:
        """(bytes, file name) of the tab's plan: ``"xlsx"`` changes, ``"gpkg"`` communities."""
        session = self.get(token, profile)
        with session.lock, self.work:
            plan = session.plan
            stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in plan.name) or "plan"
            if fmt == "xlsx":
                return export_xlsx(plan), f"{stem}-changes.xlsx"
            return export_gpkg(plan), f"{stem}-communities.gpkg"
