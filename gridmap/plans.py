"""Plans: an assignment of units to communities, its edit journal, and its storage.

A :class:`Plan` starts from the as-is assignment of units (grids by default;
小区/blocks where given) to communities and records every edit in an
**append-only journal** (time, author, op, params, changes, comment). Undo and
redo are journal entries too, so any plan can be replayed and audited. KPIs are
kept per community and updated only for the communities an edit touches, so a
dashboard can drive a plan interactively.

A plan is evaluated under a rule **profile** (``Plan(..., profile=...)``;
:meth:`Plan.from_check` takes the check's): the household band and its
exemption (:attr:`Plan.band`) and every community rule come from it, and
:meth:`Plan.kpis`, :meth:`Plan.communities` and :meth:`Plan.findings` run the
check's own evaluation (:func:`gridmap.evaluation.evaluate_units`) on the plan's
communities — households outside every unit included — so an unedited plan
reports exactly what the check reports.

Plans live in the workspace GeoPackage (any ``.gpkg``; created when missing) in
three attribute tables registered in ``gpkg_contents``:

``plans``
    one row per plan: id, name, author, times, CRS, unit kind, digest, rule profile.
``assignments``
    one row per plan × unit: base and current community, households, WKB geometry.
``edit_journal``
    one row per journal entry; rows are only ever appended.

:meth:`Plan.save` writes all three in **one SQLite transaction**: a process
killed mid-save leaves the last saved plan intact (SQLite's rollback journal),
and :func:`load_plan` verifies the stored assignment against its digest and
against a replay of the journal.

Examples
--------
>>> import gridmap, gridmap.datasets, tempfile, os
>>> result = gridmap.check(gridmap.read_study(**gridmap.datasets.demo_config()))
>>> plan = Plan.from_check(result, name="调整方案一", author="张三")
>>> plan.band
SizeBand(min=1000, max=3000, exempt_min_if='sparse', rule_id='community.size')
>>> plan.kpis()["too_large"], plan.kpis()["too_small"]
(6, 4)
>>> edit = plan.move(["330106001001002"], "330106001002", comment="试移")
>>> edit.ok, plan.kpis()["units_moved"]
(True, 1)
>>> _ = plan.undo()
>>> plan.kpis()["units_moved"]
0
>>> ws = os.path.join(tempfile.mkdtemp(), "workspace.gpkg")
>>> _ = plan.save(ws)
>>> load_plan(ws, "调整方案一").audit()["op"].tolist()
['move', 'undo']
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame
from scipy import sparse

from gridmap import adjacency as _adjacency
from gridmap import edits as _edits
from gridmap._atomic import staged_dir
from gridmap._workspace import _now, list_plans, read_plan, save_plan
from gridmap.edits import EditResult
from gridmap.evaluation import Evaluation, add_required_coordinators, evaluate_units
from gridmap.rules import (
    FINDING_COLUMNS,
    Profile,
    SizeBand,
    exempt_flags,
    load_profile,
)

__all__ = ["Plan", "load_plan", "list_plans", "CHANGE_COLUMNS_ZH"]

#: community columns a plan recomputes from its units (the rest are the community's own attributes)
_DERIVED = ("name", "households", "grids", "coordinators", "coordinators_required", "status", "size_status",
            "units", "geometry")
#: community figures that depend on its territory: known for as-is communities, not assessed once
#: the plan changes which units a community holds (until a check is run on the new boundaries)
_TERRITORIAL = ("facility_types", "facilities", "floor_area_m2:", "coverage:", "covered:", "coverage_bound:", "covered_bound:", "area_km2", "population")
#: Chinese headers of the change list (unit, from, to, 户数)
CHANGE_COLUMNS_ZH = {
    "unit_id": "单元编码", "unit_name": "单元名称", "from_community": "原社区编码",
    "from_name": "原社区名称", "to_community": "新社区编码", "to_name": "新社区名称", "households": "户数",
}
_UNIT_ZH = {"grids": "网格", "blocks": "小区", "buildings": "楼栋"}

#: test hook: called inside the save transaction just before COMMIT
_before_commit = None


class Plan:
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
    Units without a community cannot be planned; :meth:`from_check` leaves them
    out and lists them in ``excluded``.
    """

    def __init__(self, units: GeoDataFrame, *, name: str = "方案", author: str = "",
                 community_names: dict | None = None, graph: sparse.csr_array | None = None,
                 unit_kind: str = "grids", plan_id: str | None = None, tolerance: float = 1.0,
                 community_offsets: dict | None = None, community_attrs: pd.DataFrame | None = None,
                 profile: str | Profile = "national") -> None:
        missing = [c for c in ("community_id", "households") if c not in units.columns]
        if missing:
            raise ValueError(f"units lack columns {missing}; a plan needs community_id and households per unit")
        if units["community_id"].isna().any():
            bad = units.index[units["community_id"].isna()][:5].tolist()
            raise ValueError(f"units without a community cannot be planned (e.g. {bad}); drop or assign them first")
        units = units.copy()
        units.index = units.index.astype(str)
        units.index.name = "unit_id"
        units["community_id"] = units["community_id"].astype(str).astype(object)
        hh = pd.to_numeric(units["households"], errors="coerce")
        self._hh_float = hh.astype("float64").to_numpy()  # NaN = unknown (not assessed, never 0)
        units["households"] = hh.fillna(0).astype("int64")
        self.units = units
        self.name = name
        self.author = author
        self.plan_id = plan_id or uuid.uuid4().hex[:12]
        self.unit_kind = unit_kind
        self.community_names = {str(k): str(v) for k, v in (community_names or {}).items()}
        self.offsets = {str(k): int(v) for k, v in (community_offsets or {}).items() if int(v)}
        self.community_attrs = community_attrs if community_attrs is not None else pd.DataFrame(index=pd.Index([], dtype=object))
        self._profile = load_profile(profile)
        self._version = 0
        self._cache: dict = {}
        self.created = _now()
        self.excluded: list[str] = []
        self._graph = graph
        self._tolerance = tolerance
        self._labels = units["community_id"].copy()
        self.journal: list[dict] = []
        self._saved = 0
        self._undo: list[int] = []
        self._redo: list[int] = []
        self._hh = self.units["households"].to_numpy()
        self._pieces = _edits.community_pieces(self._labels, self.graph) if len(units) else pd.Series(dtype=int)

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
            raise ValueError("the check has no grids layer; build a Plan from units with Plan(units, ...)")
        g = result.grids
        cols = [c for c in ("name", "community_id", "households", "coordinators") if c in g.columns]
        units = g[cols + [g.geometry.name]].copy()
        excluded = units.index[units["community_id"].isna()].astype(str).tolist()
        units = units[units["community_id"].notna()]
        names = result.communities["name"].astype(str).to_dict() if "name" in result.communities.columns else {}
        in_units = units.groupby("community_id")["households"].sum()
        comm_hh = result.communities["households"].fillna(0)
        offsets = (comm_hh.reindex(in_units.index.astype(str)).fillna(0) - in_units.to_numpy()).round().astype(int)
        kwargs.setdefault("community_offsets", offsets[offsets != 0].to_dict())
        keep = [c for c in result.communities.columns if c not in ("name", "status", "size_status", result.communities.geometry.name)]
        kwargs.setdefault("community_attrs", pd.DataFrame(result.communities[keep]))
        kwargs.setdefault("profile", result.profile)
        if "graph" not in kwargs and len(units):
            # grids rarely tile their communities: each grid stands for its share of its
            # community's ungridded land (gridmap.adjacency.planning_adjacency)
            kwargs["graph"] = _adjacency.planning_adjacency(units, result.communities)
        plan = cls(units, name=name, author=author, community_names=names, **kwargs)
        plan.excluded = excluded
        return plan

    # ------------------------------------------------------------------ state
    @property
    def graph(self) -> sparse.csr_array:
        """The unit adjacency (positional like ``units``): the one given (``from_check``: the
        planning adjacency), else grids that touch (:func:`gridmap.adjacency.unit_adjacency`)."""
        if self._graph is None:
            self._graph = _edits.unit_adjacency(self.units, tolerance=self._tolerance,
                                                min_shared=min(3 * self._tolerance, 20.0))
        return self._graph

    @property
    def labels(self) -> pd.Series:
        """The current community of each unit (a copy)."""
        return self._labels.copy()

    @property
    def base(self) -> pd.Series:
        """The as-is community of each unit."""
        return self.units["community_id"].copy()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def dirty(self) -> bool:
        """True when the journal has entries not yet saved."""
        return len(self.journal) > self._saved

    def coords(self) -> np.ndarray:
        """Representative point of each unit (n × 2), for compactness."""
        pts = shapely.point_on_surface(np.asarray(self.units.geometry.values))
        return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])

    def community_name(self, cid: str) -> str:
        return self.community_names.get(str(cid), str(cid))

    # ------------------------------------------------------------------ edits
    def move(self, units: Sequence[str], to: str, *, author: str = "", comment: str = "",
             allow_islands: bool = False) -> EditResult:
        """Move units to a neighbouring community (see :func:`gridmap.edits.move_units`); applied when ok."""
        return self.apply(_edits.move_units(self._labels, units, to, graph=self.graph, allow_islands=allow_islands),
                          author=author, comment=comment)

    def split(self, community: str, k: int = 2, *, author: str = "", comment: str = "",
              new_ids: Sequence[str] | None = None) -> EditResult:
        """Split a community into ``k`` contiguous parts of balanced households."""
        return self.apply(_edits.split_community(self._labels, community, k, graph=self.graph,
                                                 households=self.units["households"], coords=self.coords(),
                                                 new_ids=new_ids), author=author, comment=comment)

    def merge(self, communities: Sequence[str], *, into: str | None = None, author: str = "",
              comment: str = "") -> EditResult:
        """Merge communities (contiguous together) into one."""
        return self.apply(_edits.merge_communities(self._labels, communities, graph=self.graph, into=into),
                          author=author, comment=comment)

    def create(self, units: Sequence[str], *, new_id: str | None = None, author: str = "",
               comment: str = "") -> EditResult:
        """Make a new community from the selected (contiguous) units."""
        return self.apply(_edits.new_community(self._labels, units, graph=self.graph, new_id=new_id),
                          author=author, comment=comment)

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
        return EditResult("undo", {"undoes": seq}, changes, _touched(changes))

    def redo(self, *, author: str = "", comment: str = "") -> EditResult | None:
        """Redo the last undone edit; None when nothing to redo."""
        if not self._redo:
            return None
        seq = self._redo.pop()
        changes = tuple(tuple(c) for c in self.journal[seq]["changes"])
        self._change(changes)
        self.journal.append(self._entry("redo", {"redoes": seq}, changes, author, comment))
        self._undo.append(seq)
        return EditResult("redo", {"redoes": seq}, changes, _touched(changes))

    def save(self, workspace: str | os.PathLike) -> Path:
        """Save the plan (and its profile) into the workspace GeoPackage atomically (one transaction).

        New journal entries are appended; entries already stored are never
        rewritten. Raises ``ValueError`` when the stored plan has entries this
        object does not know (someone else saved meanwhile) or the name is taken.
        See :mod:`gridmap._workspace`.
        """
        return save_plan(self, workspace, before_commit=_before_commit)

    def _entry(self, op, params, changes, author, comment) -> dict:
        return {"seq": len(self.journal), "time": _now(), "author": author or self.author, "op": op,
                "params": params, "changes": [list(c) for c in changes], "comment": comment}

    def _change(self, changes) -> None:
        """Apply changes and update only the touched communities' KPIs."""
        self._labels = _edits.apply_changes(self._labels, changes)
        self._version += 1
        touched = _touched(changes)
        for cid in touched:
            members = np.flatnonzero((self._labels == cid).to_numpy())
            if len(members):
                self._pieces.loc[cid] = len(_edits.connected_parts(members, self.graph))
            elif cid in self._pieces.index:
                self._pieces = self._pieces.drop(cid)

    # ------------------------------------------------------------------ evaluation
    @property
    def profile(self) -> Profile:
        """The rule profile the plan is evaluated under (set it to re-evaluate under another)."""
        return self._profile

    @profile.setter
    def profile(self, profile: str | Profile) -> None:
        self._profile = load_profile(profile)
        self._version += 1

    @property
    def band(self) -> SizeBand | None:
        """The household band of :attr:`profile` (:meth:`gridmap.rules.Profile.size_band`), None when it has none."""
        return self._profile.size_band()

    def set_profile(self, profile: str | Profile, *, community_attrs: pd.DataFrame | None = None) -> None:
        """Evaluate the plan under another profile, with that profile's check figures per community
        (``community_attrs``, e.g. the communities of a check under ``profile``) when given."""
        if community_attrs is not None:
            self.community_attrs = community_attrs
        self.profile = profile

    @property
    def community_attrs(self) -> pd.DataFrame:
        """The communities' own attributes and the check's figures, indexed by community id (text)."""
        return self._attrs

    @community_attrs.setter
    def community_attrs(self, frame: pd.DataFrame) -> None:
        frame = pd.DataFrame(frame)
        frame = frame.drop(columns=[c for c in frame.columns if str(frame[c].dtype) == "geometry"])
        self._attrs = frame.set_axis(frame.index.astype(str), axis=0)
        self._attrs_gen = getattr(self, "_attrs_gen", 0) + 1

    def _remainders(self) -> pd.Series:
        """Households per community outside every unit: the offsets, plus the whole size of the
        communities that hold no unit at all (known from ``community_attrs``)."""
        rem = pd.Series(self.offsets, dtype="float64")
        attrs = self.community_attrs
        if "households" in attrs.columns:
            unitless = attrs.index[~attrs.index.isin(self.units["community_id"].unique())]
            extra = pd.to_numeric(attrs.loc[unitless, "households"], errors="coerce")
            rem = pd.concat([rem, extra[~extra.index.isin(rem.index)]])
        return rem

    def _touched_since_base(self, labels: pd.Series) -> set[str]:
        base = self.units["community_id"]
        moved = base.to_numpy() != labels.to_numpy()
        return set(base[moved]) | set(labels[moved])

    def _table(self, labels: pd.Series, profile: Profile) -> pd.DataFrame:
        """The community metrics of an assignment, in the shape :func:`gridmap.check` evaluates:
        unit sums plus the fixed remainders, and the community's own attributes (figures that
        depend on the territory are kept for as-is communities only)."""
        coords = (pd.to_numeric(self.units["coordinators"], errors="coerce").to_numpy(dtype="float64")
                  if "coordinators" in self.units.columns else np.full(len(self.units), np.nan))
        per_unit = pd.DataFrame({"community_id": labels.to_numpy(), "households": self._hh_float,
                                 "coordinators": coords}, index=self.units.index)
        g = per_unit.groupby("community_id")
        t = pd.DataFrame({"units": g.size(), "households": g["households"].sum(min_count=1),
                          "coordinators": g["coordinators"].sum(min_count=1)})
        rem = self._remainders()
        keep = rem[(rem.fillna(0) != 0) | ~rem.index.isin(self.units["community_id"].unique())]
        t = t.reindex(t.index.union(keep.index))
        t["units"] = t["units"].fillna(0).astype("int64")
        extra = rem.reindex(t.index)
        t["households"] = t["households"].add(extra, fill_value=0).where(t["households"].notna() | extra.notna())
        t = t.sort_index()
        t.index.name = "community_id"
        add_required_coordinators(per_unit, t, profile)  # as the check does
        t.insert(0, "name", [self.community_name(c) for c in t.index])
        if self.unit_kind == "grids":
            t["grids"] = t["units"]
        attrs = self.community_attrs
        cols = [c for c in attrs.columns if c not in _DERIVED]
        if cols:
            joined = attrs[cols].reindex(t.index)
            changed = t.index.isin(sorted(self._touched_since_base(labels)))
            for c in cols:
                col = joined[c]
                if changed.any() and str(c).startswith(_TERRITORIAL):
                    col = col.astype(object).where(~changed, np.nan)
                t[c] = col.to_numpy()
        return t

    def _evaluate(self, *, base: bool = False, lang: str = "zh", profile: Profile | None = None) -> tuple:
        """(community table, :class:`~gridmap.evaluation.Evaluation`) of the current (or as-is) assignment."""
        profile = profile or self._profile
        key = (self._version if not base else -1, self._attrs_gen, base, lang, profile.id, id(profile))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        labels = self.units["community_id"] if base else self._labels
        table = self._table(labels, profile)
        ev = evaluate_units(table, profile, level="community", lang=lang)
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[key] = (table, ev)
        return table, ev

    def _profile_for(self, min_households, max_households) -> Profile:
        """The plan's profile, or a copy with an explicit band override (:meth:`Profile.with_band`)."""
        if min_households is None and max_households is None:
            return self._profile
        return self._profile.with_band(min=min_households, max=max_households)

    def evaluation(self, *, base: bool = False, lang: str = "zh") -> Evaluation:
        """The :func:`gridmap.evaluation.evaluate_units` result of the plan's communities (or the as-is ones)."""
        return self._evaluate(base=base, lang=lang)[1]

    def communities(self, *, base: bool = False, min_households: int | None = None,
                    max_households: int | None = None) -> pd.DataFrame:
        """Per community: ``name``, ``households`` (remainders outside units included), ``units``,
        ``pieces``, ``contiguous``, ``status`` (the size status against :attr:`band`: ``pass`` /
        ``too_small`` / ``too_large`` / ``not_assessed``) and ``rules_status`` (overall status of
        every rule of the profile, as :func:`gridmap.check` gives it).

        ``base=True`` evaluates the as-is assignment. ``min_households`` / ``max_households``
        override the profile's band explicitly (the band's rule is re-run with them too).
        """
        table, ev = self._evaluate(base=base, profile=self._profile_for(min_households, max_households))
        t = table[["name", "households", "units"]].copy()
        pieces = self._base_pieces() if base else self._pieces
        t["pieces"] = pieces.reindex(t.index).fillna(0).astype("int64")
        t["contiguous"] = t["pieces"] <= 1
        t["status"] = ev.size.reindex(t.index).to_numpy()
        t["rules_status"] = ev.status.reindex(t.index).to_numpy()
        return t

    def _base_pieces(self) -> pd.Series:
        if "base_pieces" not in self._cache:
            base = self.units["community_id"]
            self._cache["base_pieces"] = _edits.community_pieces(base, self.graph) if len(base) else pd.Series(dtype=int)
        return self._cache["base_pieces"]

    def exempt_min(self) -> list[str]:
        """Communities exempt from the band's minimum: those flagged by the band's ``exempt_min_if``
        column (e.g. ``sparse`` 居民分散 under ``national``); none when the profile has no exemption."""
        band = self.band
        if band is None or not band.exempt_min_if:
            return []
        flag = exempt_flags(self.community_attrs, band.exempt_min_if)
        return sorted(flag.index[flag.to_numpy()].astype(str))

    def kpis(self, *, base: bool = False, min_households: int | None = None,
             max_households: int | None = None) -> dict:
        """Headline numbers: communities per size status against :attr:`band` (``in_band``,
        ``too_small``, ``too_large``, ``size_not_assessed``; None when the profile has no band),
        overall rule status (``rules_fail`` …), moves and contiguity."""
        t = self.communities(base=base, min_households=min_households, max_households=max_households)
        size = t["status"].value_counts()
        rules = t["rules_status"].value_counts()
        band = self._profile_for(min_households, max_households).size_band()
        has_band = band is not None
        ch = self.changes() if not base else self.changes().iloc[:0]
        hh = t["households"]
        return {
            "profile": self._profile.id,
            "band": [band.min, band.max] if has_band else None,
            "exempt_min_if": band.exempt_min_if if has_band else None,
            "communities": int(len(t)),
            "in_band": int(size.get("pass", 0)) if has_band else None,
            "too_small": int(size.get("too_small", 0)) if has_band else None,
            "too_large": int(size.get("too_large", 0)) if has_band else None,
            "size_not_assessed": int(size.get("not_assessed", 0)),
            **{f"rules_{s}": int(rules.get(s, 0)) for s in ("pass", "warning", "fail", "not_assessed")},
            "non_contiguous": int((~t.contiguous).sum()), "units_moved": int(len(ch)),
            "households_moved": int(ch["households"].sum()) if len(ch) else 0,
            "households_total": int(hh.fillna(0).sum()) if hh.notna().any() else None,
            "edits": len(self.journal),
        }

    def changes(self) -> pd.DataFrame:
        """The change list against the as-is plan: ``unit_id, unit_name, from_community, from_name,
        to_community, to_name, households`` (:meth:`changes_zh` for Chinese headers)."""
        base, cur = self.units["community_id"], self._labels
        moved = base.index[base.to_numpy() != cur.to_numpy()]
        names = self.units["name"] if "name" in self.units.columns else pd.Series(self.units.index, index=self.units.index)
        return pd.DataFrame({
            "unit_id": moved.astype(str), "unit_name": names.reindex(moved).astype(str).to_numpy(),
            "from_community": base.reindex(moved).to_numpy(),
            "from_name": [self.community_name(c) for c in base.reindex(moved)],
            "to_community": cur.reindex(moved).to_numpy(),
            "to_name": [self.community_name(c) for c in cur.reindex(moved)],
            "households": self.units["households"].reindex(moved).to_numpy(),
        })

    def changes_zh(self) -> pd.DataFrame:
        """:meth:`changes` with Chinese headers (单元编码, 原社区编码, 新社区编码, 户数 …)."""
        return self.changes().rename(columns=CHANGE_COLUMNS_ZH)

    def contiguity(self) -> pd.DataFrame:
        """Communities in more than one piece (see :func:`gridmap.edits.check_contiguity`)."""
        return _edits.check_contiguity(self._labels, self.graph)

    def enclaves(self) -> pd.DataFrame:
        """Communities wholly surrounded by another (see :func:`gridmap.edits.enclaves`)."""
        return _edits.enclaves(self._labels, self.graph, geometry=self.units.geometry, tolerance=self._tolerance)

    def dissolve(self, *, base: bool = False, min_households: int | None = None,
                 max_households: int | None = None) -> GeoDataFrame:
        """The plan's community boundaries: units dissolved per community, with :meth:`communities`
        (a community that holds no unit, only households outside every unit, has no geometry)."""
        labels = self.units["community_id"] if base else self._labels
        g = GeoDataFrame({"community_id": labels.to_numpy()}, geometry=self.units.geometry.to_numpy(),
                         crs=self.units.crs)
        geoms = g.dissolve(by="community_id").geometry
        t = self.communities(base=base, min_households=min_households, max_households=max_households)
        return GeoDataFrame(t, geometry=geoms.reindex(t.index).to_numpy(), crs=self.units.crs)

    def findings(self, profile=None, *, lang: str = "zh", base: bool = False) -> pd.DataFrame:
        """The community rules of the profile (:func:`gridmap.evaluation.evaluate_units`, the check's
        evaluation) on the plan's communities.

        Households, grids, coordinators and required coordinators are summed over each
        community's units plus its remainder outside them; a community the plan changed keeps
        its own attributes (staff, flags, …) but figures that depend on its territory
        (facilities, coverage, population) are not assessed until a check runs on the new
        boundaries. Non-contiguous communities add a ``plan.contiguity`` finding. ``profile``
        (default: :attr:`profile`) evaluates under another profile explicitly.
        """
        prof = self._profile if profile is None else load_profile(profile)
        table, ev = self._evaluate(base=base, lang=lang, profile=prof)
        found = ev.findings
        changed = sorted(self._touched_since_base(self._labels)) if not base else []
        if changed and len(found):
            terr = {r.id for r in prof.rules if any(str(c).startswith(_TERRITORIAL) for c in r.inputs())}
            terr |= {r.id for r in prof.rules if r.kind in ("facilities", "floor_area", "coverage")}
            m = found["unit_id"].isin(changed) & found["rule_id"].isin(terr) & (found["status"] == "not_assessed")
            if m.any():
                found = found.copy()
                found.loc[m, "message"] = ("未评估：方案调整了该社区的范围，请按新边界重新检查" if lang == "zh"
                                           else "not assessed: the plan changed this community's territory; re-run the check on the new boundaries")
        extra = _edits.check_contiguity(self.units["community_id"] if base else self._labels, self.graph)
        if len(extra):
            rows = pd.DataFrame({
                "level": "community", "unit_id": extra["community_id"],
                "unit_name": [self.community_name(c) for c in extra["community_id"]],
                "rule_id": "plan.contiguity", "value": extra["pieces"].astype(float), "threshold": "1",
                "status": "fail", "gap": (extra["pieces"] - 1).astype(float), "message": extra["message"],
                "source": "gridmap 方案检查：社区应为连续的一片", "severity": "error", "rule_title": "社区连续性",
            })
            found = pd.concat([found, rows[FINDING_COLUMNS]], ignore_index=True)
        return found.reset_index(drop=True)

    def audit(self) -> pd.DataFrame:
        """The journal as a table: ``seq, time, author, op, params, units, comment``."""
        rows = [{"seq": e["seq"], "time": e["time"], "author": e["author"], "op": e["op"],
                 "params": json.dumps(e["params"], ensure_ascii=False), "units": len(e["changes"]),
                 "comment": e["comment"]} for e in self.journal]
        return pd.DataFrame(rows, columns=["seq", "time", "author", "op", "params", "units", "comment"])

    def replay(self, upto: int | None = None) -> pd.Series:
        """The assignment after journal entries ``0 … upto-1`` (all by default), from the base."""
        labels = self.units["community_id"].copy()
        for e in self.journal[:upto]:
            labels = _edits.apply_changes(labels, [tuple(c) for c in e["changes"]])
        return labels

    # ------------------------------------------------------------------ outputs
    def export(self, out: str | os.PathLike, *, encoding: str = "utf-8", profile=None,
               formats: Sequence[str] = ("gpkg", "shp", "csv", "xlsx"), min_households: int | None = None,
               max_households: int | None = None) -> dict[str, Path]:
        """Write the files a planner files; all appear together or not at all.

        ``communities.gpkg`` and ``communities.shp`` (dissolved boundaries; the
        Shapefile in ``encoding``, e.g. ``"gbk"`` for older GIS, with a ``.cpg``),
        ``findings.csv`` (rules re-run on the plan), ``changes.csv`` / ``changes.xlsx``
        (单元编码, 原社区, 新社区, 户数 …) and ``plan.json`` (KPIs). ``profile`` (default
        :attr:`profile`) and ``min_households`` / ``max_households`` override the plan's
        profile and band explicitly.
        """
        saved = self._profile
        if profile is not None:
            self._profile = load_profile(profile)
        try:
            with staged_dir(out) as (stage, written):
                comm = self.dissolve(min_households=min_households, max_households=max_households)
                layer = comm.reset_index()[["community_id", "name", "households", "units", "pieces", "status", "geometry"]]
                if "gpkg" in formats:
                    layer.to_file(stage / "communities.gpkg", layer="communities", driver="GPKG")
                if "shp" in formats:
                    shp = layer.rename(columns={"community_id": "comm_id"})
                    shp.to_file(stage / "communities.shp", driver="ESRI Shapefile", encoding=encoding)
                if "csv" in formats:
                    prof = self._profile_for(min_households, max_households)
                    self.findings(prof).to_csv(stage / "findings.csv", index=False, encoding="utf-8-sig")
                    self.changes_zh().to_csv(stage / "changes.csv", index=False, encoding="utf-8-sig")
                if "xlsx" in formats:
                    self.changes_zh().to_excel(stage / "changes.xlsx", index=False, sheet_name="调整清单")
                summary = {"plan": self.name, "plan_id": self.plan_id, "author": self.author,
                           **self.kpis(min_households=min_households, max_households=max_households)}
                (stage / "plan.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        finally:
            self._profile = saved
        return written

def _touched(changes) -> tuple[str, ...]:
    return tuple(sorted({c[1] for c in changes} | {c[2] for c in changes}))


def load_plan(workspace: str | os.PathLike, plan: str, *, graph=None, profile=None) -> Plan:
    """Load a saved plan by name or id, verifying its digest and replaying its journal.

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
    name = rec["name"]
    if profile is None:
        try:
            profile = load_profile(rec["profile"] or "national")
        except ValueError as exc:
            raise ValueError(f"方案 {name!r} 保存时使用的规则配置 {rec['profile']!r} 无法加载：{exc}；"
                             f"pass load_plan(..., profile=...) to evaluate it under another profile") from exc
    p = Plan(rec["units"], name=name, author=rec["author"], community_names=rec["community_names"],
             unit_kind=rec["unit_kind"], plan_id=rec["plan_id"], community_offsets=rec["community_offsets"],
             community_attrs=rec["community_attrs"], profile=profile,
             graph=graph if graph is not None else rec["graph"])
    p.created = rec["created"]
    for entry in rec["journal"]:
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
    if not p._labels.astype(str).equals(rec["labels"].astype(str)):
        raise ValueError(f"方案 {name!r}：日志重放结果与存储的归属不一致 (journal replay does not match the stored assignment)")
    p._saved = len(p.journal)
    return p

