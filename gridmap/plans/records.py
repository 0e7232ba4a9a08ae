"""What every plan store writes and reads: the row values, the digest, the conflict.

A store (:mod:`gridmap.plans.geopackage`, :mod:`gridmap.plans.postgis`) writes a plan as
its plan row (:func:`plan_values`), one row per unit (:func:`assignment_values`) and the
journal entries it does not hold yet (:func:`journal_values`); it reads them back into the
record :func:`make_record` builds, verified against the digest. :class:`PlanConflict` is the
refusal of a save made on a stale version, with the units each side changed.

A plan's profile is stored as a reference :func:`profile_from_ref` loads again: a built-in's
name, else the path of its file, with an explicit band override
(:meth:`gridmap.rules.Profile.with_band`) kept as ``[min–max]`` after it, as in the
profile's id (``national[1200–3000]``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame
from pyproj import CRS
from scipy import sparse

from gridmap.adjacency import adjacency_from_pairs
from gridmap.plans.state import PlanState
from gridmap.rules import Profile, load_profile

__all__ = [
    "PLAN_COLUMNS",
    "LIST_COLUMNS",
    "OnStale",
    "PlanConflict",
    "assignment_values",
    "changed_units",
    "conflict_from",
    "digest",
    "is_stale",
    "journal_entry",
    "journal_values",
    "make_record",
    "plan_values",
    "profile_from_ref",
    "profile_ref",
]

#: a band override after a profile reference: ``national[1200–3000]``
_BAND = re.compile(r"^(?P<ref>.+)\[(?P<min>[^\[\]–]*)–(?P<max>[^\[\]–]*)\]$")
#: the plan row's columns, in the order of :func:`plan_values`
PLAN_COLUMNS = (
    "plan_id", "name", "author", "created", "updated", "crs_wkt", "unit_kind",
    "community_names", "digest", "units", "journal_entries", "community_offsets",
    "community_attrs", "profile", "graph", "version", "parent",
)  # fmt: skip
#: a save's answer to a stale version: given the entries stored meanwhile and the stored version,
#: re-apply the copy's own edits on them (True), or refuse (False: they touch the same units)
OnStale = Callable[[list[dict], int], bool]
#: what :func:`gridmap.plans.list_plans` returns
LIST_COLUMNS = ["plan_id", "name", "author", "created", "updated", "units", "journal_entries"]


def digest(labels: pd.Series) -> str:
    """SHA-256 of the sorted ``(unit, community)`` pairs: the stored assignment's checksum."""
    pairs = sorted(zip(labels.index.astype(str), labels.astype(str), strict=True))
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()


def profile_ref(profile: Profile) -> str:
    """What :func:`profile_from_ref` needs to load the profile again.

    A built-in's name, else the path of its file, followed by a band override of
    :meth:`~gridmap.rules.Profile.with_band`.

    Examples
    --------
    >>> from gridmap.rules import load_profile
    >>> profile_ref(load_profile("national").with_band(min=1200))
    'national[1200–3000]'
    """
    bands: list[str] = []
    pid = profile.id
    while (m := _BAND.match(pid)) is not None:  # with_band of with_band: one suffix each
        bands.insert(0, pid[len(m["ref"]) :])
        pid = m["ref"]
    if not profile.path or profile.path.startswith("gridmap/profiles/"):
        return profile.id
    return str(Path(profile.path).resolve()) + "".join(bands)


def profile_from_ref(ref: str) -> Profile:
    """Load the profile :func:`profile_ref` names, band override included.

    Examples
    --------
    >>> p = profile_from_ref("national[1200–3000]")
    >>> p.id, p.size_band().min, p.size_band().max
    ('national[1200–3000]', 1200, 3000)
    """
    m = _BAND.match(ref)
    if m is None:
        return load_profile(ref)
    return profile_from_ref(m["ref"]).with_band(min=_number(m["min"]), max=_number(m["max"]))


def _number(text: str) -> float | None:
    """``"1200"`` → 1200, ``"1200.5"`` → 1200.5, ``"None"`` → None (a band without that end)."""
    if text in ("None", ""):
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def _graph_json(graph: Any) -> str:
    """The unit adjacency as ``[[i, j], …]`` (positions in the stored unit order, i < j).

    A reloaded plan edits with the adjacency it was made with (the planning adjacency needs the
    community polygons, which the workspace does not hold).
    """
    i, j = sparse.triu(sparse.csr_array(graph), k=1).nonzero()
    return json.dumps(np.column_stack([i, j]).tolist())


def _graph_text(plan: PlanState) -> str:
    """:func:`_graph_json` of the plan's adjacency, computed once per adjacency (it never changes)."""
    graph = plan.graph
    cached = plan._cache.get("graph_json")
    if cached is None or cached[0] is not graph:
        cached = (graph, _graph_json(graph))
        plan._cache["graph_json"] = cached
    return cached[1]


def _graph_from_json(text: str | None, n: int) -> sparse.csr_array | None:
    """The stored adjacency, or None (plans saved before it was stored: rebuilt from the units)."""
    if not text:
        return None
    pairs = np.asarray(json.loads(text), dtype=np.int64).reshape(-1, 2)
    if len(pairs) and pairs.max() >= n:
        return None
    return adjacency_from_pairs(pairs[:, 0], pairs[:, 1], n)


def _attrs_from_json(text: str | None) -> pd.DataFrame | None:
    if not text:
        return None
    frame = pd.read_json(io.StringIO(text), orient="split", dtype=False, convert_axes=False)
    frame.index = frame.index.astype(str)
    return frame


def plan_values(plan: PlanState, stamp: str, version: int) -> tuple:
    """The plan row (:data:`PLAN_COLUMNS`) for a save at ``stamp`` making ``version``."""
    return (
        plan.plan_id,
        plan.name,
        plan.author,
        plan.created,
        stamp,
        plan.units.crs.to_wkt() if plan.units.crs is not None else None,
        plan.unit_kind,
        json.dumps(plan.community_names, ensure_ascii=False),
        digest(plan._labels),
        len(plan.units),
        len(plan.journal),
        json.dumps(plan.offsets, ensure_ascii=False),
        plan.community_attrs.to_json(orient="split", force_ascii=False, default_handler=str),
        profile_ref(plan.profile),
        _graph_text(plan),
        version,
        json.dumps(plan.parent, ensure_ascii=False) if plan.parent else None,
    )


def assignment_values(plan: PlanState) -> dict[str, list]:
    """Per unit, in order: id, base and current community, households, name, coordinators."""
    u = plan.units
    return {
        "unit_id": u.index.tolist(),
        "base_community_id": u["community_id"].tolist(),
        "community_id": plan._labels.astype(str).tolist(),
        "households": [None if np.isnan(h) else int(h) for h in plan._hh_float],
        "unit_name": u["name"].astype(str).tolist() if "name" in u.columns else [None] * len(u),
        "coordinators": (
            u["coordinators"].astype("float64").where(u["coordinators"].notna(), None).tolist()
            if "coordinators" in u.columns
            else [None] * len(u)
        ),
    }


def journal_values(plan: PlanState) -> list[tuple]:
    """``(plan_id, seq, time, author, op, params, changes, comment)`` of the unsaved entries."""
    return [
        (
            plan.plan_id,
            e["seq"],
            e["time"],
            e["author"],
            e["op"],
            json.dumps(e["params"], ensure_ascii=False),
            json.dumps(e["changes"], ensure_ascii=False),
            e["comment"],
        )
        for e in plan.journal[plan._saved :]
    ]


def journal_entry(
    seq: int, time: str, author: Any, op: str, params: Any, changes: Any, comment: Any
) -> dict:
    """One stored journal row as the entry :class:`gridmap.plans.Plan` keeps."""
    return {
        "seq": int(seq),
        "time": time,
        "author": author or "",
        "op": op,
        "params": json.loads(params or "{}"),
        "changes": json.loads(changes or "[]"),
        "comment": comment or "",
    }


def make_record(row: dict, assignments: pd.DataFrame, journal: list[dict], where: str) -> dict:
    """The record :func:`gridmap.plans.load_plan` turns into a plan, verified against the digest.

    ``row`` holds the plan row's columns, ``assignments`` one row per unit with ``geom_wkb``.

    Raises
    ------
    ValueError
        When the stored assignment does not match its digest.
    """
    a = assignments
    households = pd.to_numeric(a["households"], errors="coerce").to_numpy(dtype="float64")
    crs_wkt = row["crs_wkt"]
    units = GeoDataFrame(
        {
            "name": a["unit_name"].to_numpy(),
            "community_id": a["base_community_id"].to_numpy(),
            "households": households,
            "coordinators": pd.to_numeric(a["coordinators"]).astype("float64").to_numpy(),
        },
        geometry=shapely.from_wkb(a["geom_wkb"].map(bytes).to_numpy()),
        index=pd.Index(a["unit_id"], name="unit_id"),
        crs=CRS.from_wkt(crs_wkt) if crs_wkt else None,
    )
    stored = pd.Series(a["community_id"].to_numpy(), index=units.index, dtype=object)
    if digest(stored) != row["digest"]:
        raise ValueError(
            f"方案 {row['name']!r} 的存储内容与校验值不符 (digest mismatch): "
            f"the workspace {where} is damaged"
        )
    return {
        "plan_id": row["plan_id"],
        "name": row["name"],
        "author": row["author"] or "",
        "created": row["created"],
        "unit_kind": row["unit_kind"] or "grids",
        "units": units,
        "labels": stored,
        "community_names": json.loads(row["community_names"] or "{}"),
        "community_offsets": json.loads(row["community_offsets"] or "{}"),
        "community_attrs": _attrs_from_json(row["community_attrs"]),
        "profile": row.get("profile"),
        "graph": _graph_from_json(row.get("graph"), len(units)),
        "version": int(row.get("version") or 0),
        "parent": json.loads(row.get("parent") or "null"),
        "journal": journal,
    }


def is_stale(plan: PlanState, stored_entries: int, stored_version: int | None) -> bool:
    """True when the stored plan moved on since ``plan`` was loaded (a save must be refused).

    The stored journal grew beyond the entries this copy knows, or (copies that know their
    base version) another save made a newer version.
    """
    if stored_entries != plan._saved:
        return True
    return bool(plan._stored_version) and int(stored_version or 0) != plan._stored_version


def changed_units(entries: Iterable[dict]) -> list[str]:
    """The units journal ``entries`` change, in order of first change."""
    return list(dict.fromkeys(str(c[0]) for e in entries for c in e["changes"]))


class PlanConflict(ValueError):
    """The plan was saved by someone else since this copy was loaded; nothing was written.

    Nothing is lost: the copy is unchanged. When both sides changed different units it can be
    rebased on the stored plan (:meth:`gridmap.plans.Plan.rebase`, then saved again); in any
    case it can be saved under a new name (:meth:`gridmap.plans.Plan.save_as`).

    Attributes
    ----------
    plan
        The plan's name in the workspace.
    authors
        Who saved the edits this copy does not know, in order of their first edit.
    saved_at
        When the stored plan was last saved (ISO 8601, UTC).
    entries
        How many journal entries were stored meanwhile.
    units
        How many units those entries changed.
    changed
        The units those entries changed (ids).
    mine
        The units this copy changed since it was loaded.
    overlap
        The units both changed: a rebase needs none.
    version, base
        The stored plan's version and the version this copy started from.
    """

    def __init__(
        self,
        plan: str,
        authors: list[str],
        saved_at: str,
        entries: int,
        changed: Sequence[str],
        *,
        mine: Sequence[str] = (),
        version: int = 0,
        base: int = 0,
    ):
        self.plan, self.authors, self.saved_at = plan, authors, saved_at
        self.entries, self.changed, self.mine = entries, tuple(changed), tuple(mine)
        self.units = len(self.changed)
        self.overlap = tuple(u for u in self.mine if u in set(self.changed))
        self.version, self.base = version, base
        who = "、".join(authors) or "?"
        shown = ", ".join(self.changed[:10]) + (" …" if len(self.changed) > 10 else "")
        if self.overlap:
            hint_zh = f"双方都改动了 {len(self.overlap)} 个单元，不能合并；请用新名称另存"
            hint_en = "both changed the same units: save it under a new name with Plan.save_as(workspace, name)"
        else:
            hint_zh = (
                "双方改动的单元不同，可在其版本上重放您的编辑 (rebase) 后再保存，或用新名称另存"
            )
            hint_en = (
                "the edits touch different units: Plan.rebase(workspace) re-applies yours on "
                "theirs, or save it under a new name with Plan.save_as(workspace, name)"
            )
        super().__init__(
            f"方案“{plan}”在您载入之后已由 {who} 于 {saved_at} 保存"
            f"（{entries} 步编辑，改动 {self.units} 个单元：{shown}）；本次没有保存，您的版本仍在："
            f"{hint_zh} (plan {plan!r} was saved by {', '.join(authors) or '?'} at "
            f"{saved_at} since this copy was loaded (version {base} → {version}): {entries} "
            f"edits changing {self.units} units ({shown}); nothing was written and this copy is "
            f"intact: {hint_en})"
        )

    @property
    def rebasable(self) -> bool:
        """True when the two sides changed different units (:meth:`gridmap.plans.Plan.rebase`)."""
        return not self.overlap


def conflict_from(
    plan: PlanState, name: str, updated: str, version: int, theirs: list[dict]
) -> PlanConflict:
    """The conflict of saving ``plan`` over a stored plan whose newer entries are ``theirs``."""
    authors = list(dict.fromkeys(e["author"] or "?" for e in theirs))
    return PlanConflict(
        name,
        authors,
        updated,
        len(theirs),
        changed_units(theirs),
        mine=changed_units(plan.journal[plan._saved :]),
        version=version,
        base=plan._stored_version,
    )
