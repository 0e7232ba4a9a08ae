"""One browser tab's plan: its server-issued tab id, the plan, its colours, its edits.

A tab id is issued by the server (:meth:`TabKeys.issue`, when the page is drawn) and signed
for the user it was issued to: a callback's id is accepted only when the signature holds and
the user is the one asking (:meth:`TabKeys.open`). An id the browser makes up (null, "",
"anonymous", another person's id) never opens a plan.

Communities are coloured from a small qualitative palette so that neighbours never
share a colour; new communities (made by an edit) get a colour on first sight.
:func:`run_edit` applies one button of the page (move, create, split, merge, undo, redo,
rebalance, apply) to the tab's plan, journalled under the editing user's name.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from itsdangerous import BadSignature, URLSafeSerializer

from dashboards.i18n import t
from gridmap.edits import community_adjacency

__all__ = [
    "EDITS",
    "PALETTE",
    "PlanSession",
    "TabKeys",
    "TabRefused",
    "community_colors",
    "pick_color",
    "run_edit",
]

#: The actions :func:`run_edit` applies (the Plans page adds save, load and reset).
EDITS = ("move", "create", "split", "merge", "undo", "redo", "rebalance", "apply")

#: Community colours (ColorBrewer Set3, reordered).
PALETTE = [
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#a6cee3",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
]


def pick_color(colors: Mapping[str, int | None], neighbours: Iterable[str]) -> int:
    """The least used palette colour that no neighbour has (colours spread over the palette).

    Parameters
    ----------
    colors
        The palette index of each community coloured so far.
    neighbours
        The communities next to the one to colour.

    Returns
    -------
    int
        An index into :data:`PALETTE`.
    """
    used = {colors.get(n) for n in neighbours}
    counts = np.bincount([c for c in colors.values() if c is not None], minlength=len(PALETTE))
    free = [i for i in range(len(PALETTE)) if i not in used] or list(range(len(PALETTE)))
    return min(free, key=lambda i: (counts[i], i))


def community_colors(plan: Any) -> dict[str, int]:
    """A palette index per community of ``plan``: greedy colouring, busiest communities first."""
    adj = community_adjacency(plan.labels, plan.graph)
    colors: dict[str, int] = {}
    for cid in sorted(adj, key=lambda c: (-len(adj[c]), c)):
        colors[cid] = pick_color(colors, adj[cid])
    return colors


class PlanSession:
    """One tab's plan, its community colours and the rebalancer result waiting to be applied.

    Parameters
    ----------
    plan
        A :class:`gridmap.plans.Plan`.
    colors
        Palette index per community (copied).

    Attributes
    ----------
    pending
        ``(journal length when computed, EditResult)`` of the last rebalancer run, or None.
    lock
        Held while the plan is read or changed (one tab can send several requests at once).
    notice
        ``(message key, name, time, edits)`` of a draft restored into this session, shown once.
    """

    def __init__(self, plan: Any, colors: dict[str, int]) -> None:
        self.plan = plan
        self.colors = dict(colors)
        self.pending: tuple[int, Any] | None = None
        self._proposal: tuple[Any, Any] | None = None  #: (edit, the plan with it applied)
        self.lock = threading.RLock()
        self.notice: tuple[str, ...] | None = None  #: message key and values, shown once

    def take_notice(self) -> tuple[str, ...] | None:
        """The notice to show once (a restored draft), then forgotten."""
        with self.lock:
            notice, self.notice = self.notice, None
            return notice

    def color_of(self, cid: str) -> int:
        """A palette index for a community, unlike its neighbours' (new ones get one now)."""
        if cid not in self.colors:
            adj = community_adjacency(self.plan.labels, self.plan.graph)
            self.colors[cid] = pick_color(self.colors, adj.get(cid, ()))
        return self.colors[cid]

    def pending_edit(self) -> Any:
        """The rebalancer's edit when it still applies to the plan as it is, else None."""
        if self.pending is None or self.pending[0] != len(self.plan.journal):
            return None
        return self.pending[1]

    def proposed_plan(self) -> Any:
        """The plan as the rebalancer's pending edit would make it (a copy), else None.

        Drawn on the map before the planner applies the edit; the tab's plan itself (and its
        journal) is untouched. Built once per proposal.
        """
        with self.lock:
            edit = self.pending_edit()
            if edit is None:
                self._proposal = None
                return None
            if self._proposal is None or self._proposal[0] is not edit:
                preview = copy.deepcopy(self.plan)
                preview.apply(edit)
                self._proposal = (edit, preview)
            return self._proposal[1]


class TabRefused(Exception):
    """A callback's tab id opens no plan.

    ``reason`` is ``"login"`` (nobody logged in) or ``"invalid"`` (not issued by this server
    for this user).
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class TabKeys:
    """Tab ids the server issues, signed for their user (``itsdangerous``, Flask's signer).

    Parameters
    ----------
    secret
        Called once, on first use: the signing key (kept in the workspace, so ids stay valid
        when the server restarts and a tab's draft can be restored).
    """

    def __init__(self, secret: Callable[[], bytes]) -> None:
        self._secret = secret
        self._signer: URLSafeSerializer | None = None
        self._lock = threading.Lock()

    def _sign(self) -> URLSafeSerializer:
        with self._lock:
            if self._signer is None:
                self._signer = URLSafeSerializer(self._secret(), salt="gridmap.plans-tab")
            return self._signer

    def issue(self, user: str) -> str:
        """A new tab id for ``user``."""
        return str(self._sign().dumps([user, uuid.uuid4().hex]))

    def open(self, token: object, user: str) -> str:
        """The tab's key (its random part) when ``token`` was issued to ``user``.

        Raises
        ------
        TabRefused
            Otherwise.
        """
        if not isinstance(token, str) or not token or len(token) > 200:
            raise TabRefused("invalid")
        try:
            owner, tab = self._sign().loads(token)
        except (BadSignature, TypeError, ValueError) as exc:
            raise TabRefused("invalid") from exc
        if owner != user or not isinstance(tab, str):
            raise TabRefused("invalid")
        return tab


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
    provider: Any = None,
    author: str = "",
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
    author
        Who is editing: the journal's author of the edit.

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
            return _apply(session, lang, author)
        need = _missing(action, target, community, communities)
        if need:
            return False, [t(need, lang)]
        if action == "move":
            res = plan.move(selection, str(target), author=author)
        elif action == "create":
            res = plan.create(selection, author=author)
        elif action == "split":
            res = plan.split(str(community), int(k or 2), author=author)
        elif action == "merge":
            res = plan.merge([str(c) for c in communities or ()], author=author)
        elif action == "undo":
            res = plan.undo(author=author)
        elif action == "redo":
            res = plan.redo(author=author)
        else:
            return False, [t("pl.nothing", lang)]
        if res is None:
            return False, [t("pl.nothing", lang)]
        op = t(f"pl.op.{res.op}", lang)
        if not res.ok:
            return False, [t("pl.refused", lang, op=op), *(named(r, plan) for r in res.reasons)]
        session.pending = None
        return True, [
            t("pl.done", lang, op=op, n=len(res.changes)),
            *(named(w, plan) for w in res.warnings),
            *band_warnings(plan, res.touched, lang),
        ]


#: a community or unit code inside a message of gridmap.edits (6 digits or more)
_CODE = re.compile(r"(?<![\d])\d{6,}(?![\d])")


def named(text: str, plan: Any) -> str:
    """A message with community and unit codes shown as names: ``保俶社区（330106001010）``.

    Codes that are neither a community nor a unit of ``plan`` stay as they are.
    """
    names = plan.units["name"] if "name" in plan.units.columns else None
    communities = set(plan.labels) | set(plan.base)

    def one(m: re.Match) -> str:
        code = m.group(0)
        if code in communities:
            name = plan.community_name(code)
        elif names is not None and code in names.index:
            name = str(names[code])
        else:
            return code
        return code if name == code else f"{name}（{code}）"

    return _CODE.sub(one, text)


def band_warnings(plan: Any, touched: Iterable[str], lang: str) -> list[str]:
    """A warning per community an edit left outside the household band (the plan's profile)."""
    band = plan.band
    touched = [c for c in touched if c]
    if band is None or not touched:
        return []
    table = plan.communities()
    out = []
    for cid in touched:
        if cid not in table.index or table.at[cid, "status"] not in ("too_small", "too_large"):
            continue
        out.append(
            t(
                f"pl.warn.{table.at[cid, 'status']}",
                lang,
                name=table.at[cid, "name"],
                hh=f"{int(table.at[cid, 'households']):,}",
                band=band.label(lang),
            )
        )
    return out


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


def _apply(session: PlanSession, lang: str, author: str) -> tuple[bool, list[str]]:
    edit = session.pending_edit()
    if edit is None:
        session.pending = None
        return False, [t("pl.rb.stale", lang)]
    res = session.plan.apply(edit, author=author)
    session.pending = None
    return True, [t("pl.rb.applied", lang, n=len(res.changes))]


def _rebalance(
    session: PlanSession, provider: Any, time_limit: float | None, lang: str
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
        *(named(x, plan) for x in rb.text(lang, options=options)),
    ]
