"""What a button of the Plans page asks and what the page shows back, and the checks between.

:class:`PlanRequest` is one button with what its controls hold, as the browser sent them;
:class:`PlanOutcome` is what the page shows after it. The helpers turn browser values into
safe ones (numbers range-checked against :data:`NUMBERS`, id lists, text) and word refusals,
workspace errors and save conflicts without the server's paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dashboards.i18n import t
from dashboards.provider import plan_sharing
from gridmap.plans import PlanConflict, WorkspaceError

__all__ = [
    "NUMBERS",
    "PlanOutcome",
    "PlanRequest",
    "checked_number",
    "conflict_outcome",
    "id_list",
    "refusal",
    "text_value",
    "with_lines",
    "workspace_message",
]

#: Range of the numbers the page sends: (low, high, whole numbers only).
NUMBERS = {"k": (2, 8, True), "time_limit": (1, 300, False)}


@dataclass(frozen=True)
class PlanRequest:
    """One button of the Plans page with what its controls hold (as the browser sent them).

    ``action`` is one of :data:`EDITS`, ``"save"``, ``"load"``, ``"reload"`` (the tab's plan
    as saved now), ``"rebase"`` (re-apply the tab's edits on what others saved) or ``"reset"``.
    """

    action: str
    selection: list[str] = field(default_factory=list)  #: selected grid ids
    target: str | None = None  #: community to move the selection to
    community: str | None = None  #: community to split
    k: Any = 2  #: into how many (checked against :data:`NUMBERS`)
    communities: list[str] | None = None  #: communities to merge
    time_limit: Any = 10.0  #: seconds for the rebalancer (checked against :data:`NUMBERS`)
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


def refusal(key: str, lang: str, **values: Any) -> PlanOutcome:
    """One red line ``key`` of :mod:`dashboards.i18n`; nothing changed, nothing to redraw."""
    return PlanOutcome([t(key, lang, **values)], "error", refresh=False)


def checked_number(value: Any, low: float, high: float, whole: bool) -> float | int | None:
    """``value`` as a number within ``[low, high]`` (a whole one when ``whole``), else None.

    >>> checked_number("3", 2, 8, True), checked_number("abc", 2, 8, True)
    (3, None)
    >>> checked_number(float("nan"), 1, 300, False), checked_number(1e9, 1, 300, False)
    (None, None)
    """
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or not low <= number <= high:
        return None
    if whole:
        return int(number) if number.is_integer() else None
    return number


def id_list(value: Any) -> list[str]:
    """A list of ids from the browser (anything else: empty)."""
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if isinstance(v, (str, int)) and not isinstance(v, bool)]


def text_value(value: Any) -> str | None:
    """A non-empty string from the browser, else None."""
    return value if isinstance(value, str) and value else None


def workspace_message(exc: WorkspaceError, lang: str) -> str:
    """Why the workspace cannot be written, without the server's paths."""
    known = ("no_space", "read_only", "permission")
    return t(f"pl.ws.{exc.reason if exc.reason in known else 'other'}", lang)


def with_lines(out: PlanOutcome, lines: list[str]) -> PlanOutcome:
    """``out`` with further lines (a draft that could not be written)."""
    if not lines:
        return out
    return PlanOutcome(out.lines + lines, "error", refresh=out.refresh, name=out.name)


def conflict_outcome(conflict: PlanConflict, lang: str) -> PlanOutcome:
    """The page's line for a save refused as stale: who saved, when, what (and rebase or not)."""
    who = "、".join(conflict.authors) or "?"
    when = conflict.saved_at[:16].replace("T", " ")
    line = t(
        "pl.conflict",
        lang,
        name=conflict.plan,
        who=who,
        when=when,
        n=conflict.entries,
        units=conflict.units,
    )
    if conflict.rebasable:  # different grids: the tab can take theirs and keep its own
        line += " " + plan_sharing.word("rebasable", lang)
    return PlanOutcome([line], "error", refresh=False)
