"""The plan: how it changes — edits, undo / redo, the rebalancer — and how it is saved and loaded.

:class:`Plan` builds on :class:`~gridmap.plans.state.PlanState` (what it holds),
:class:`~gridmap.plans.evaluation.PlanEvaluation` (KPIs, findings) and
:class:`~gridmap.plans.outputs.PlanOutputs` (change list, exports). Every edit goes through
:meth:`Plan.apply` into the append-only journal; :func:`load_plan` replays the journal of a
saved plan (:mod:`gridmap.plans.storage`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gridmap import adjacency as _adjacency
from gridmap import edits as _edits
from gridmap.edits import EditResult
from gridmap.plans.merging import rebased_entries, undo_stacks
from gridmap.plans.outputs import PlanOutputs
from gridmap.plans.rebalancing import rebalance_plan, redraw_plan
from gridmap.plans.records import PlanConflict
from gridmap.plans.state import now, touched
from gridmap.plans.storage import (
    Workspace,
    profile_from_ref,
    read_journal,
    read_plan,
    save_plan,
)
from gridmap.rebalance import RebalanceResult

__all__ = ["Plan", "load_plan", "plan_from_record", "rebase", "rebase_on", "replay"]

#: test hook: called inside the save transaction just before COMMIT
_before_commit: Callable[[], object] | None = None


class Plan(PlanOutputs):
    """A redistricting plan: units, their base and current community, and the journal.

    Parameters
    ----------
    units
        One row per unit, indexed by unit id, with ``community_id`` (the as-is
        assignment), ``households`` and geometry in a metric CRS; optional
        ``name`` and ``coordinators``.
    name, author
        Plan name (unique in a workspace) and its author.
    community_names
        ``{community_id: 名称}`` for outputs.
    graph
        Unit adjacency (:func:`gridmap.edits.unit_adjacency`, computed when omitted).
    unit_kind
        ``"grids"`` (default), ``"blocks"`` or ``"buildings"``: wording of messages.
    community_offsets
        ``{community_id: 户数}`` counted in a community but in none of its units
        (households outside every grid); they stay with the community.
    community_attrs
        Community attributes the rules read (e.g. ``street``, ``sparse`` 居民分散,
        ``old_estate``) and the check's figures (staff, facilities, coverage, …),
        indexed by community id. Communities listed here without units are kept
        with their ``households`` as a fixed remainder.
    profile
        The rule profile (name, path or :class:`~gridmap.rules.Profile`; default
        ``"national"``): the household band, its exemption and every rule the
        plan's KPIs and findings apply (:attr:`band`).

    Notes
    -----
    What a plan is made of lives in four modules: its state (:mod:`gridmap.plans.state`), its
    evaluation (:mod:`gridmap.plans.evaluation`), its outputs (:mod:`gridmap.plans.outputs`)
    and, here, how it changes: edits, undo / redo, the rebalancer, saving.

    Units without a community cannot be planned; :meth:`from_check` leaves them
    out and lists them in ``excluded``.
    """

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_check(cls, result, *, name: str = "方案", author: str = "", **kwargs) -> Plan:
        """A plan of the grids of a :class:`gridmap.CheckResult`, as-is (community by geometry).

        Households the check counts in a community but in none of its grids become the
        community's fixed remainder (``offsets``), so plan totals equal the check's. The
        adjacency is :func:`gridmap.adjacency.planning_adjacency` over the check's community
        polygons: grids of neighbouring communities are neighbours where they face each other
        across the shared boundary, even when the grids themselves do not touch.
        """
        if result.grids is None:
            raise ValueError(
                "the check has no grids layer; build a Plan from units with Plan(units, ...)"
            )
        g = result.grids
        cols = [c for c in ("name", "community_id", "households", "coordinators") if c in g.columns]
        units = g[cols + [g.geometry.name]].copy()
        excluded = units.index[units["community_id"].isna()].astype(str).tolist()
        units = units[units["community_id"].notna()]
        comms = result.communities
        names = comms["name"].astype(str).to_dict() if "name" in comms.columns else {}
        in_units = units.groupby("community_id")["households"].sum()
        comm_hh = result.communities["households"].fillna(0)
        offsets = (
            (comm_hh.reindex(in_units.index.astype(str)).fillna(0) - in_units.to_numpy())
            .round()
            .astype(int)
        )
        kwargs.setdefault("community_offsets", offsets[offsets != 0].to_dict())
        keep = [
            c
            for c in comms.columns
            if c not in ("name", "status", "size_status", comms.geometry.name)
        ]
        kwargs.setdefault("community_attrs", pd.DataFrame(result.communities[keep]))
        kwargs.setdefault("profile", result.profile)
        if "graph" not in kwargs and len(units):
            # grids rarely tile their communities: each grid stands for its share of its
            # community's ungridded land (gridmap.adjacency.planning_adjacency)
            kwargs["graph"] = _adjacency.planning_adjacency(units, result.communities)
        plan = cls(units, name=name, author=author, community_names=names, **kwargs)
        plan.excluded = excluded
        return plan

    # ------------------------------------------------------------------ edits
    def move(
        self,
        units: Sequence[str],
        to: str,
        *,
        author: str = "",
        comment: str = "",
        allow_islands: bool = False,
    ) -> EditResult:
        """Move units to a neighbouring community; applied when ok.

        See :func:`gridmap.edits.move_units`.
        """
        return self.apply(
            _edits.move_units(
                self._labels, units, to, graph=self.graph, allow_islands=allow_islands
            ),
            author=author,
            comment=comment,
        )

    def split(
        self,
        community: str,
        k: int = 2,
        *,
        author: str = "",
        comment: str = "",
        new_ids: Sequence[str] | None = None,
    ) -> EditResult:
        """Split a community into ``k`` contiguous parts of balanced households."""
        return self.apply(
            _edits.split_community(
                self._labels,
                community,
                k,
                graph=self.graph,
                households=self.units["households"],
                coords=self.coords(),
                new_ids=new_ids,
            ),
            author=author,
            comment=comment,
        )

    def merge(
        self,
        communities: Sequence[str],
        *,
        into: str | None = None,
        author: str = "",
        comment: str = "",
    ) -> EditResult:
        """Merge communities (contiguous together) into one."""
        return self.apply(
            _edits.merge_communities(self._labels, communities, graph=self.graph, into=into),
            author=author,
            comment=comment,
        )

    def create(
        self,
        units: Sequence[str],
        *,
        new_id: str | None = None,
        author: str = "",
        comment: str = "",
    ) -> EditResult:
        """Make a new community from the selected (contiguous) units."""
        return self.apply(
            _edits.new_community(self._labels, units, graph=self.graph, new_id=new_id),
            author=author,
            comment=comment,
        )

    def apply(self, result: EditResult, *, author: str = "", comment: str = "") -> EditResult:
        """Apply an ``ok`` edit result and journal it; a refused one is returned untouched."""
        if not result.ok or not result.changes:
            return result
        self._change(result.changes)
        self.journal.append(self._entry(result.op, result.params, result.changes, author, comment))
        self._undo.append(len(self.journal) - 1)
        self._redo.clear()
        return result

    def undo(self, *, author: str = "", comment: str = "") -> EditResult | None:
        """Undo the last edit (journalled as an ``undo`` entry); None when nothing to undo."""
        if not self._undo:
            return None
        seq = self._undo.pop()
        changes = tuple((u, b, a) for u, a, b in reversed(self.journal[seq]["changes"]))
        self._change(changes)
        self.journal.append(self._entry("undo", {"undoes": seq}, changes, author, comment))
        self._redo.append(seq)
        return EditResult("undo", {"undoes": seq}, changes, touched(changes))

    def redo(self, *, author: str = "", comment: str = "") -> EditResult | None:
        """Redo the last undone edit; None when nothing to redo."""
        if not self._redo:
            return None
        seq = self._redo.pop()
        changes = tuple(tuple(c) for c in self.journal[seq]["changes"])
        self._change(changes)
        self.journal.append(self._entry("redo", {"redoes": seq}, changes, author, comment))
        self._undo.append(seq)
        return EditResult("redo", {"redoes": seq}, changes, touched(changes))

    def explore(self, **kwargs: Any) -> Any:
        """An interactive map of the plan (folium), offline: see :func:`gridmap.maps.explore_plan`.

        Communities by status, units, and the units the plan moved highlighted.

        Parameters
        ----------
        **kwargs
            Passed to :func:`gridmap.maps.explore_plan` (``base=``, ``height=``).

        Returns
        -------
        folium.Map
        """
        # the maps live in the outputs layer above this module: looked up by name at call time
        # (like pandas' plotting backends), so gridmap.plans never imports gridmap.maps
        import importlib

        return importlib.import_module("gridmap.maps.explore").explore_plan(self, **kwargs)

    @property
    def version(self) -> int:
        """The stored version this copy started from (0: never saved); each save adds one."""
        return self._stored_version

    def save(self, workspace: Workspace, *, rebase: bool = False) -> Path | str:
        """Save the plan (and its profile) into the workspace in one transaction.

        With ``rebase=True`` a copy others saved meanwhile is rebased in the same transaction
        (as :meth:`rebase`) when the edits touch different units, instead of being refused:
        what several planners on different communities of one plan want.

        ``workspace`` is a GeoPackage path or a ``postgresql://…?schema=…`` URL
        (:mod:`gridmap.plans.storage`). New journal entries are appended; entries already
        stored are never rewritten. The workspace is created when absent (race-free).

        Raises
        ------
        gridmap.plans.PlanConflict
            When someone else saved this plan since this copy was loaded (a ``ValueError``;
            nothing is written: :meth:`rebase` re-applies these edits on theirs when they
            touch other units, :meth:`save_as` keeps this version under a new name).
        ValueError
            When another plan has this name.
        OSError
            (:class:`gridmap._atomic.OutputError`) when the disk is full or read-only, or the
            database cannot be reached.
        """
        on_stale = (lambda newer, version: rebase_on(self, newer, version)) if rebase else None
        return save_plan(self, workspace, before_commit=_before_commit, on_stale=on_stale)

    def save_as(self, workspace: Workspace, name: str) -> Path | str:
        """Save this version as a new plan called ``name`` (a new plan id, the whole journal).

        What to do after a :class:`~gridmap.plans.PlanConflict`: both versions are kept.
        On failure the plan keeps its name and id.
        """
        before = (self.name, self.plan_id, self._saved, self._stored_version)
        self.name, self.plan_id = str(name), uuid.uuid4().hex[:12]
        self._saved, self._stored_version = 0, 0
        try:
            return self.save(workspace)
        except BaseException:
            self.name, self.plan_id, self._saved, self._stored_version = before
            raise

    def rebase(self, workspace: Workspace) -> Plan:
        """Bring in the edits saved since this copy was loaded, then re-apply its own (in place).

        After a :class:`~gridmap.plans.PlanConflict` whose ``rebasable`` is true (the other
        planners changed other units): ``plan.rebase(ws).save(ws)``. Only the journal entries
        saved meanwhile are read (no geometry), so it is quick on any size of plan. Returns
        the plan itself; nothing is saved.

        Raises
        ------
        gridmap.plans.PlanConflict
            When the stored plan changed units this copy changed too (nothing changed).
        """
        return rebase(self, workspace)

    def _entry(self, op, params, changes, author, comment) -> dict:
        return {
            "seq": len(self.journal),
            "time": now(),
            "author": author or self.author,
            "op": op,
            "params": params,
            "changes": [list(c) for c in changes],
            "comment": comment,
        }

    # ------------------------------------------------------------------ rebalancer
    def rebalance(
        self,
        *,
        min_households: int | None = None,
        max_households: int | None = None,
        hops: int = 2,
        locked: Iterable[str] = (),
        allow_split: bool = True,
        allow_dissolve: bool = True,
        local: bool = True,
        time_limit: float = 20.0,
        **options: Any,
    ) -> RebalanceResult:
        """Propose the fewest moves that bring every community into the band (nothing applied).

        Runs :class:`gridmap.rebalance.Rebalancer` on the current assignment with the plan's
        adjacency, households outside every unit (fixed remainders), exemptions and band.

        Parameters
        ----------
        min_households, max_households
            The band (default: the profile's, :attr:`band`).
        hops
            A unit may move only to a community within this many adjacency steps.
        locked
            Community or unit ids that must not change.
        allow_split, allow_dissolve
            Split an oversized / dissolve an undersized community when moves cannot fix it.
        local
            Solve by stages around the violations (default); False solves the whole map at once.
        time_limit
            Work budget in CP-SAT deterministic seconds: the same input gives the same plan.
        **options
            Further :class:`~gridmap.rebalance.Rebalancer` parameters (``ring``, ``depth`` …).

        Returns
        -------
        gridmap.rebalance.RebalanceResult
            ``status`` (``fixed``, ``partial``, ``infeasible``, ``budget_exhausted``,
            ``no_violations``), the reasons per community (codes, with text in zh / en) and
            the ``edit``: apply it with ``plan.apply(result.edit)``.

        Raises
        ------
        ValueError
            When the profile has no band and none is given, or an option is invalid.

        Examples
        --------
        >>> import geopandas as gpd
        >>> from shapely import box
        >>> units = gpd.GeoDataFrame({"community_id": list("AAAABB"), "households": [500] * 6},
        ...     geometry=[box(i, 0, i + 1, 1) for i in range(6)], crs=4549)
        >>> plan = Plan(units, name="strip", tolerance=0.01)
        >>> res = plan.rebalance(min_households=1200, max_households=1800)
        >>> res.status, res.units_moved, plan.apply(res.edit).ok, plan.kpis()["units_moved"]
        ('fixed', 1, True, 1)
        """
        return rebalance_plan(
            self,
            min_households=min_households,
            max_households=max_households,
            hops=hops,
            locked=locked,
            allow_split=allow_split,
            allow_dissolve=allow_dissolve,
            local=local,
            time_limit=time_limit,
            **options,
        )

    def redraw(
        self,
        *,
        target: int = 2000,
        min_households: int | None = None,
        max_households: int | None = None,
        hops: int = 2,
        locked: Iterable[str] = (),
        allow_split: bool = True,
        allow_dissolve: bool = True,
        local: bool = True,
        time_limit: float = 20.0,
        **options: Any,
    ) -> RebalanceResult:
        """Propose a plan drawn from nothing, repaired into the band (nothing applied).

        Contiguous communities of about ``target`` households
        (:func:`gridmap.rebalance.from_scratch_labels`), repaired into the band.

        Each new community takes the id of the current community it holds most households
        of, so households outside every unit stay with their community (a fixed remainder,
        counted in its size). Locked communities do not apply (every community is redrawn);
        locked units stay in theirs. The other parameters and the result are those of
        :meth:`rebalance`; the edit's op is ``"from_scratch"``.
        """
        return redraw_plan(
            self,
            target=target,
            min_households=min_households,
            max_households=max_households,
            hops=hops,
            locked=locked,
            allow_split=allow_split,
            allow_dissolve=allow_dissolve,
            local=local,
            time_limit=time_limit,
            **options,
        )


def load_plan(workspace: Workspace, plan: str, *, graph=None, profile=None) -> Plan:
    """Load a saved plan by name or id, verifying its digest and replaying its journal.

    ``workspace`` is a GeoPackage path or a ``postgresql://…?schema=…`` URL.

    ``graph`` is the unit adjacency to reuse (e.g. of the as-is plan of the same
    units); by default the adjacency saved with the plan (plans saved before it was
    stored: computed from the geometry when first needed).
    ``profile`` overrides the rule profile saved with the plan (plans saved before
    the profile was stored are evaluated under ``national``).

    Raises
    ------
    KeyError
        Listing the saved plans, when there is no such plan.
    ValueError
        When the stored assignment does not match its digest or its journal.
    """
    rec = read_plan(workspace, plan)
    p = plan_from_record(rec, graph=graph, profile=profile)
    replay(p, rec["journal"])
    if not p._labels.astype(str).equals(rec["labels"].astype(str)):
        raise ValueError(
            f"方案 {p.name!r}：日志重放结果与存储的归属不一致 "
            "(journal replay does not match the stored assignment)"
        )
    p._saved = len(p.journal)
    p._stored_version = rec.get("version", 0)
    return p


def plan_from_record(rec: dict, *, graph=None, profile=None) -> Plan:
    """The as-is plan of a :func:`~gridmap.plans.storage.read_plan` record (journal not replayed)."""
    name = rec["name"]
    if profile is None:
        try:
            profile = profile_from_ref(rec["profile"] or "national")
        except ValueError as exc:
            raise ValueError(
                f"方案 {name!r} 保存时使用的规则配置 {rec['profile']!r} 无法加载："
                f"{exc}；pass load_plan(..., profile=...) to evaluate it under "
                "another profile"
            ) from exc
    p = Plan(
        rec["units"],
        name=name,
        author=rec["author"],
        community_names=rec["community_names"],
        unit_kind=rec["unit_kind"],
        plan_id=rec["plan_id"],
        community_offsets=rec["community_offsets"],
        community_attrs=rec["community_attrs"],
        profile=profile,
        graph=graph if graph is not None else rec["graph"],
    )
    p.created = rec["created"]
    p.parent = rec.get("parent")
    return p


def replay(p: Plan, journal: list[dict]) -> None:
    """Apply journal entries (as stored) to ``p``, undo and redo stacks included."""
    for entry in journal:
        changes = tuple(tuple(c) for c in entry["changes"])
        if changes:
            p._change(changes)
        p.journal.append(entry)
        if entry["op"] == "undo":
            p._redo.append(p._undo.pop())
        elif entry["op"] == "redo":
            p._undo.append(p._redo.pop())
        else:
            p._undo.append(entry["seq"])
            p._redo.clear()


def rebase(mine: Plan, workspace: Workspace) -> Plan:
    """``mine`` with the stored entries it lacks and its own re-applied (see :meth:`Plan.rebase`)."""
    base = mine._saved
    newer, version = read_journal(workspace, mine.plan_id, since=max(base - 1, 0))
    if base and (not newer or newer[0]["time"] != mine.journal[base - 1]["time"]):
        raise ValueError(
            f"方案 {mine.name!r} 的存储版本不是本副本的来源，无法重放 "
            "(the stored plan is not the one this copy was loaded from: cannot rebase)"
        )
    newer = newer[1:] if base else newer
    _rebase(mine, newer, rebased_entries(mine.journal, base, newer, name=mine.name), version)
    return mine


def rebase_on(mine: Plan, newer: list[dict], version: int) -> bool:
    """Rebase ``mine`` on ``newer`` (the entries stored after its own) in place.

    False when they touch units ``mine`` changed (nothing changed then).
    """
    try:
        ours = rebased_entries(mine.journal, mine._saved, newer, name=mine.name)
    except PlanConflict:
        return False
    _rebase(mine, newer, ours, version)
    return True


def _rebase(mine: Plan, newer: list[dict], ours: list[dict], version: int) -> None:
    """Roll ``mine`` back to its loaded version, replay ``newer``, then ``ours``."""
    base = mine._saved
    for entry in reversed(mine.journal[base:]):
        if entry["changes"]:
            mine._change(tuple((u, b, a) for u, a, b in reversed(entry["changes"])))
    del mine.journal[base:]
    mine._undo, mine._redo = undo_stacks(mine.journal)
    replay(mine, newer)
    replay(mine, ours)
    mine._saved, mine._stored_version = base + len(newer), version
