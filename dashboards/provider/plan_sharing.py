"""Plans shared by several planners: someone else saved the tab's plan; rebase onto theirs.

Used by :class:`dashboards.provider.plans.PlanStore` on a shared workspace (a PostGIS database,
or a GeoPackage on a shared disk): :func:`news` is the line telling a tab that another planner
saved its plan since the tab loaded or saved it; :func:`rebase` brings their edits into the
tab's plan and re-applies the tab's own (:meth:`gridmap.plans.Plan.rebase`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gridmap.plans import Plan, PlanConflict, WorkspaceError
from gridmap.plans.postgis import is_database_url, redact
from gridmap.plans.storage import read_journal

__all__ = ["WORDS", "news", "place", "rebase"]

#: the lines of this module (zh, en)
WORDS = {
    "news": (
        "方案“{name}”已由 {who} 于 {when} 保存（{n} 步编辑，改动 {units} 个网格）："
        "可重新载入，或点“合并”把您的编辑重放在其上。",
        "Plan “{name}” was saved by {who} at {when} ({n} edits, {units} grids changed): reload "
        "it, or rebase to re-apply your edits on theirs.",
    ),
    "rebased": (
        "已合并他人保存的 {n} 步编辑，您的编辑已重放在其上；请保存。",
        "Merged {n} edits saved by others; your edits are re-applied on them: save now.",
    ),
    "overlap": (
        "不能合并：双方都改动了网格 {units}；请另存为新方案。",
        "Cannot rebase: both changed grids {units}; save your version under a new name.",
    ),
    "rebasable": (
        "双方改动的网格不同：可点“合并”把您的编辑重放在其版本上后再保存。",
        "The edits touch different grids: rebase to re-apply yours on theirs, then save.",
    ),
}


def word(key: str, lang: str, **values: Any) -> str:
    """The line ``key`` of :data:`WORDS` in ``lang``."""
    return WORDS[key][1 if lang == "en" else 0].format(**values)


def place(workspace: str | os.PathLike[str]) -> str:
    """The workspace as the page names it: the file's name, or the database URL without password.

    >>> place("/srv/plans/plans.gpkg"), place("postgresql://u:pw@db/city?schema=g")
    ('plans.gpkg', 'postgresql://u:***@db/city?schema=g')
    """
    return redact(str(workspace)) if is_database_url(workspace) else Path(workspace).name


def news(plan: Plan, workspace: str | os.PathLike[str], lang: str) -> str | None:
    """A line when someone else saved ``plan`` since this copy was loaded or saved, else None."""
    if not plan.version:
        return None  # never saved: nobody else can have saved it
    try:
        newer, version = read_journal(workspace, plan.plan_id, since=plan._saved)
    except (KeyError, ValueError, WorkspaceError):
        return None
    if version == plan.version:
        return None
    who = "、".join(dict.fromkeys(e["author"] or "?" for e in newer)) or "?"
    when = newer[-1]["time"][:16].replace("T", " ") if newer else "?"
    units = len({c[0] for e in newer for c in e["changes"]})
    return word("news", lang, name=plan.name, who=who, when=when, n=len(newer), units=units)


def rebase(plan: Plan, workspace: str | os.PathLike[str], lang: str) -> tuple[bool, str]:
    """Rebase ``plan`` on its saved version in place: (done, the line to show)."""
    before = plan._saved
    try:
        plan.rebase(workspace)
    except PlanConflict as exc:
        return False, word("overlap", lang, units=", ".join(exc.overlap[:10]))
    except (KeyError, ValueError, WorkspaceError) as exc:
        return False, str(exc).strip("'\"")
    return True, word("rebased", lang, n=plan._saved - before)
