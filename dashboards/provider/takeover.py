"""Take over another tab's draft: a planner who closed a tab finds its plan in a new one.

Each browser tab keeps its plan as a draft in the workspace (:mod:`gridmap.plans.drafts`,
keyed by user and tab). A closed tab's draft would wait there, unreachable, and count against
the user's draft limit. :func:`other_drafts` lists the user's drafts of other tabs;
:func:`take_over` moves one into the asking tab (this tab's draft replaced, the other one
removed) and says so. Only the user's own drafts, only into a tab without unsaved edits.
The drafts are listed by :func:`gridmap.plans.drafts.unsaved_drafts` (GeoPackage or PostGIS),
kept until the workspace changes (:class:`~dashboards.provider.listings.WorkspaceListings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.i18n import t
from dashboards.messages import without_paths
from dashboards.provider.plan_session import TabRefused
from dashboards.provider.plans import PlanOutcome, PlanStore, workspace_message
from gridmap.plans import WorkspaceError
from gridmap.plans.drafts import drop_draft, restore_draft, write_draft

__all__ = ["OtherDraft", "other_drafts", "take_over"]


@dataclass(frozen=True)
class OtherDraft:
    """A draft of another tab of the same user."""

    key: str  #: the tab's draft key (user/tab)
    name: str  #: the plan's name
    unsaved: int  #: edits not saved to the workspace
    updated: str  #: when the draft was last written (UTC, ISO)

    @property
    def when(self) -> str:
        """When it was last written, to the minute (UTC)."""
        return self.updated[:16].replace("T", " ")

    def label(self, lang: str) -> str:
        """``方案 · 3 步未保存 · 2026-11-29 16:40``."""
        return t("pl.takeover.option", lang, name=self.name or "—", n=self.unsaved, when=self.when)


def _listed(sessions: PlanStore, user: str, own: str) -> list[OtherDraft]:
    rows = sessions.listings.drafts(user, own)
    return [OtherDraft(str(k), str(n or ""), int(u), str(w)) for k, n, u, w in rows]


def other_drafts(sessions: PlanStore, token: object) -> list[OtherDraft]:
    """The asking user's drafts with unsaved edits in other tabs (newest first).

    Raises
    ------
    TabRefused
        When ``token`` is not a tab issued to the user asking.
    """
    key, user = sessions._open(token)
    return _listed(sessions, user.name, key)


def take_over(
    sessions: PlanStore, token: object, other: object, *, profile: str | None, lang: str
) -> PlanOutcome:
    """Move the draft ``other`` (a key from :func:`other_drafts`) into tab ``token``.

    Refused with a message (nothing changed): a key not among the user's other drafts, a tab
    with unsaved edits of its own, a viewer, a workspace that cannot be written.
    """
    try:
        key, user = sessions._open(token)
    except TabRefused as exc:
        return PlanOutcome([t(f"pl.tab.{exc.reason}", lang)], "error", refresh=False)
    if not user.can_edit:
        return PlanOutcome([t("pl.viewer", lang, user=user.name)], "error", refresh=False)
    drafts = {d.key: d for d in _listed(sessions, user.name, key)}
    draft = drafts.get(other) if isinstance(other, str) else None
    if draft is None:
        return PlanOutcome([t("pl.takeover.none", lang)], "error", refresh=False)
    session = sessions.get(token, profile)
    workspace = sessions.provider.plans_workspace()
    with session.lock:
        if session.plan.dirty:
            return PlanOutcome([t("pl.takeover.dirty", lang)], "error", refresh=False)
        try:
            found = restore_draft(
                workspace, draft.key, user.name, fresh=lambda: sessions.new_plan(profile=profile)
            )
            if found is None:
                return PlanOutcome([t("pl.takeover.none", lang)], "error", refresh=False)
            plan = found[0]
            write_draft(workspace, key, user.name, plan, max_total=sessions.max_drafts)
            drop_draft(workspace, draft.key)
        except WorkspaceError as exc:
            why = workspace_message(exc, lang)
            return PlanOutcome([t("pl.takeover.failed", lang, why=why)], "error", refresh=False)
        except OSError as exc:
            why = without_paths(str(exc))
            return PlanOutcome([t("pl.takeover.failed", lang, why=why)], "error", refresh=False)
        if profile is not None:
            sessions.provider.use_profile(plan, profile)
        session.plan, session.pending = plan, None
    with sessions._lock:  # the other tab, if still open here, starts over rather than fork
        sessions._sessions.pop(draft.key, None)
    return PlanOutcome(
        [t("pl.takeover.done", lang, name=draft.name, n=draft.unsaved, when=draft.when)],
        "ok",
        clear_rebalance=True,
        clear_selection=True,
        name=plan.name,
    )
