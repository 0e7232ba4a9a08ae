"""Plans: an assignment of units to communities, its edit journal, and its storage.

A :class:`Plan` starts from the as-is assignment of units (grids by default;
小区/blocks where given) to communities and records every edit in an
**append-only journal** (time, author, op, params, changes, comment). Undo and
redo are journal entries too, so any plan can be replayed and audited. KPIs are
kept per community and updated only for the communities an edit touches, so a
dashboard can drive a plan interactively.

Plans live in the workspace GeoPackage (any ``.gpkg``; created when missing) in
three attribute tables registered in ``gpkg_contents``:

``plans``
    one row per plan: id, name, author, times, CRS, unit kind, digest.
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

import datetime as _dt
import hashlib
import json
import os
import sqlite3
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
from gridmap._atomic import atomic_path, staged_dir
from gridmap.edits import EditResult

__all__ = ["Plan", "load_plan", "list_plans", "CHANGE_COLUMNS_ZH", "DEFAULT_MIN", "DEFAULT_MAX"]

DEFAULT_MIN, DEFAULT_MAX = 1000, 3000
#: Chinese headers of the change list (unit, from, to, 户数)
CHANGE_COLUMNS_ZH = {
    "unit_id": "单元编码", "unit_name": "单元名称", "from_community": "原社区编码",
    "from_name": "原社区名称", "to_community": "新社区编码", "to_name": "新社区名称", "households": "户数",
}
_UNIT_ZH = {"grids": "网格", "blocks": "小区", "buildings": "楼栋"}

#: test hook: called inside the save transaction just before COMMIT
_before_commit = None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _digest(labels: pd.Series) -> str:
    pairs = sorted(zip(labels.index.astype(str), labels.astype(str), strict=True))
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()


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
        ``old_estate``), indexed by community id; a sparse community is exempt
        from the minimum.

    Notes
    -----
    Units without a community cannot be planned; :meth:`from_check` leaves them
    out and lists them in ``excluded``.
    """

    def __init__(self, units: GeoDataFrame, *, name: str = "方案", author: str = "",
                 community_names: dict | None = None, graph: sparse.csr_array | None = None,
                 unit_kind: str = "grids", plan_id: str | None = None, tolerance: float = 1.0,
                 community_offsets: dict | None = None, community_attrs: pd.DataFrame | None = None) -> None:
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
        units["households"] = pd.to_numeric(units["households"], errors="coerce").fillna(0).astype("int64")
        self.units = units
        self.name = name
        self.author = author
        self.plan_id = plan_id or uuid.uuid4().hex[:12]
        self.unit_kind = unit_kind
        self.community_names = {str(k): str(v) for k, v in (community_names or {}).items()}
        self.offsets = {str(k): int(v) for k, v in (community_offsets or {}).items() if int(v)}
        attrs = community_attrs if community_attrs is not None else pd.DataFrame(index=pd.Index([], dtype=object))
        self.community_attrs = attrs.set_axis(attrs.index.astype(str), axis=0)
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
        self._stats = self._labels.groupby(self._labels).size().to_frame("units")
        self._stats["households"] = self.units.groupby("community_id")["households"].sum()
        for cid, extra in self.offsets.items():
            if cid in self._stats.index:
                self._stats.loc[cid, "households"] += extra
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
        keep = [c for c in ("street", "sparse", "old_estate") if c in result.communities.columns]
        kwargs.setdefault("community_attrs", pd.DataFrame(result.communities[keep]))
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

    def _entry(self, op, params, changes, author, comment) -> dict:
        return {"seq": len(self.journal), "time": _now(), "author": author or self.author, "op": op,
                "params": params, "changes": [list(c) for c in changes], "comment": comment}

    def _change(self, changes) -> None:
        """Apply changes and update only the touched communities' KPIs."""
        self._labels = _edits.apply_changes(self._labels, changes)
        pos = self._labels.index.get_indexer([c[0] for c in changes])
        for (_, old, new), p in zip(changes, pos, strict=True):
            h = int(self._hh[p])
            for cid, sign in ((old, -1), (new, 1)):
                if cid not in self._stats.index:
                    self._stats.loc[cid] = [0, 0]
                self._stats.loc[cid, "units"] += sign
                self._stats.loc[cid, "households"] += sign * h
        self._stats = self._stats[self._stats["units"] > 0]
        touched = _touched(changes)
        for cid in touched:
            members = np.flatnonzero((self._labels == cid).to_numpy())
            if len(members):
                self._pieces.loc[cid] = len(_edits._components(members, self.graph))
            elif cid in self._pieces.index:
                self._pieces = self._pieces.drop(cid)

    # ------------------------------------------------------------------ evaluation
    def communities(self, *, min_households: int = DEFAULT_MIN, max_households: int = DEFAULT_MAX) -> pd.DataFrame:
        """Per community: ``name``, ``households``, ``units``, ``pieces``, ``status``
        (``pass`` / ``too_small`` / ``too_large``) and ``contiguous``."""
        t = self._stats.copy().sort_index()
        t.index.name = "community_id"
        t.insert(0, "name", [self.community_name(c) for c in t.index])
        t["pieces"] = self._pieces.reindex(t.index).fillna(1).astype("int64")
        t["contiguous"] = t["pieces"] == 1
        small = (t["households"] < min_households) & ~t.index.isin(self.exempt_min())
        t["status"] = np.where(small, "too_small",
                               np.where(t["households"] > max_households, "too_large", "pass"))
        return t

    def exempt_min(self) -> list[str]:
        """Communities exempt from the minimum (flag ``sparse``, 居民分散)."""
        if "sparse" not in self.community_attrs.columns:
            return []
        flag = self.community_attrs["sparse"]
        return sorted(flag.index[flag.fillna(False).astype(bool)].astype(str))

    def kpis(self, *, min_households: int = DEFAULT_MIN, max_households: int = DEFAULT_MAX) -> dict:
        """Headline numbers for a dashboard: communities in/out of the band, moves, contiguity."""
        t = self.communities(min_households=min_households, max_households=max_households)
        ch = self.changes()
        return {
            "communities": int(len(t)), "in_band": int((t.status == "pass").sum()),
            "too_small": int((t.status == "too_small").sum()), "too_large": int((t.status == "too_large").sum()),
            "non_contiguous": int((~t.contiguous).sum()), "units_moved": int(len(ch)),
            "households_moved": int(ch["households"].sum()) if len(ch) else 0,
            "households_total": int(self._hh.sum()) + sum(self.offsets.values()), "edits": len(self.journal),
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

    def dissolve(self, *, min_households: int = DEFAULT_MIN, max_households: int = DEFAULT_MAX) -> GeoDataFrame:
        """The plan's community boundaries: units dissolved per community, with KPIs."""
        g = GeoDataFrame({"community_id": self._labels.to_numpy()}, geometry=self.units.geometry.to_numpy(),
                         crs=self.units.crs)
        geoms = g.dissolve(by="community_id").geometry
        t = self.communities(min_households=min_households, max_households=max_households)
        return GeoDataFrame(t, geometry=geoms.reindex(t.index).to_numpy(), crs=self.units.crs)

    def findings(self, profile="national", *, lang: str = "zh") -> pd.DataFrame:
        """Re-run gridmap's rules (:mod:`gridmap.metrics`, :mod:`gridmap.rules`) on the plan.

        Community-level rules see the new communities (households, grids,
        coordinators summed over their units); non-contiguous communities add a
        ``plan.contiguity`` finding.
        """
        from gridmap.metrics import community_metrics
        from gridmap.rules import FINDING_COLUMNS, evaluate, load_profile, required_coordinators

        prof = load_profile(profile)
        comm = self.dissolve()[["name", "geometry"]]
        extra_cols = [c for c in self.community_attrs.columns if c not in comm.columns]
        if extra_cols:
            attrs = self.community_attrs[extra_cols].reindex(comm.index)
            for col in extra_cols:
                comm[col] = attrs[col].to_numpy()
        grid_table = pd.DataFrame({"community_id": self._labels.to_numpy(),
                                   "households": self.units["households"].astype("float64").to_numpy(),
                                   "coordinators": (self.units["coordinators"].astype("float64").to_numpy()
                                                    if "coordinators" in self.units.columns else np.nan)},
                                  index=self.units.index)
        table = community_metrics(comm, grid_table, None, None, None)
        table["households"] = table["households"] + pd.Series(self.offsets, dtype="float64").reindex(table.index).fillna(0)
        rule = prof.first("coordinators", "grid")
        if rule is not None:
            grid_table["coordinators_required"] = required_coordinators(grid_table["households"], rule)
            req = grid_table.groupby("community_id")["coordinators_required"].sum(min_count=1)
            table["coordinators_required"] = req.reindex(table.index.astype(str)).to_numpy()
        found = evaluate(table, prof, level="community", lang=lang)
        extra = self.contiguity()
        if len(extra):
            rows = pd.DataFrame({
                "level": "community", "unit_id": extra["community_id"],
                "unit_name": [self.community_name(c) for c in extra["community_id"]],
                "rule_id": "plan.contiguity", "value": extra["pieces"].astype(float), "threshold": "1",
                "status": "fail", "gap": (extra["pieces"] - 1).astype(float), "message": extra["message"],
                "source": "gridmap 方案检查：社区应为连续的一片", "severity": "error", "rule_title": "社区连续性",
            })
            found = pd.concat([found, rows[FINDING_COLUMNS]], ignore_index=True)
        return found

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
    def export(self, out: str | os.PathLike, *, encoding: str = "utf-8", profile="national",
               formats: Sequence[str] = ("gpkg", "shp", "csv", "xlsx"), min_households: int = DEFAULT_MIN,
               max_households: int = DEFAULT_MAX) -> dict[str, Path]:
        """Write the files a planner files; all appear together or not at all.

        ``communities.gpkg`` and ``communities.shp`` (dissolved boundaries; the
        Shapefile in ``encoding``, e.g. ``"gbk"`` for older GIS, with a ``.cpg``),
        ``findings.csv`` (rules re-run on the plan), ``changes.csv`` / ``changes.xlsx``
        (单元编码, 原社区, 新社区, 户数 …) and ``plan.json`` (KPIs).
        """
        with staged_dir(out) as (stage, written):
            comm = self.dissolve(min_households=min_households, max_households=max_households)
            layer = comm.reset_index()[["community_id", "name", "households", "units", "pieces", "status", "geometry"]]
            if "gpkg" in formats:
                layer.to_file(stage / "communities.gpkg", layer="communities", driver="GPKG")
            if "shp" in formats:
                shp = layer.rename(columns={"community_id": "comm_id"})
                shp.to_file(stage / "communities.shp", driver="ESRI Shapefile", encoding=encoding)
            if "csv" in formats:
                self.findings(profile).to_csv(stage / "findings.csv", index=False, encoding="utf-8-sig")
                self.changes_zh().to_csv(stage / "changes.csv", index=False, encoding="utf-8-sig")
            if "xlsx" in formats:
                self.changes_zh().to_excel(stage / "changes.xlsx", index=False, sheet_name="调整清单")
            summary = {"plan": self.name, "plan_id": self.plan_id, "author": self.author,
                       **self.kpis(min_households=min_households, max_households=max_households)}
            (stage / "plan.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        return written

    # ------------------------------------------------------------------ storage
    def save(self, workspace: str | os.PathLike) -> Path:
        """Save the plan into the workspace GeoPackage atomically (one transaction).

        New journal entries are appended; entries already stored are never
        rewritten. Raises ``ValueError`` when the stored plan has entries this
        object does not know (someone else saved meanwhile) or the name is taken.
        """
        path = Path(workspace)
        _ensure_gpkg(path)
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                _ensure_tables(con)
                other = con.execute("SELECT plan_id FROM plans WHERE name = ? AND plan_id != ?",
                                    (self.name, self.plan_id)).fetchone()
                if other:
                    raise ValueError(f"方案名 {self.name!r} 已被另一个方案使用 (plan {other[0]}); choose another name")
                stored = con.execute("SELECT COUNT(*) FROM edit_journal WHERE plan_id = ?", (self.plan_id,)).fetchone()[0]
                if stored != self._saved:
                    raise ValueError(f"plan {self.name!r} was saved elsewhere meanwhile ({stored} journal entries "
                                     f"stored, this copy knows {self._saved}); load it again")
                now = _now()
                con.execute("DELETE FROM plans WHERE plan_id = ?", (self.plan_id,))
                con.execute(
                    "INSERT INTO plans (plan_id, name, author, created, updated, crs_wkt, unit_kind, "
                    "community_names, digest, units, journal_entries, community_offsets, community_attrs) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (self.plan_id, self.name, self.author, self.created, now,
                     self.units.crs.to_wkt() if self.units.crs is not None else None, self.unit_kind,
                     json.dumps(self.community_names, ensure_ascii=False), _digest(self._labels),
                     len(self.units), len(self.journal), json.dumps(self.offsets, ensure_ascii=False),
                     self.community_attrs.to_json(orient="split", force_ascii=False)))
                con.execute("DELETE FROM assignments WHERE plan_id = ?", (self.plan_id,))
                u = self.units
                wkb = shapely.to_wkb(np.asarray(u.geometry.values))
                names = u["name"].astype(str).tolist() if "name" in u.columns else [None] * len(u)
                coords = (u["coordinators"].astype("float64").where(u["coordinators"].notna(), None).tolist()
                          if "coordinators" in u.columns else [None] * len(u))
                con.executemany(
                    "INSERT INTO assignments (plan_id, unit_id, base_community_id, community_id, households, "
                    "unit_name, coordinators, geom_wkb) VALUES (?,?,?,?,?,?,?,?)",
                    zip([self.plan_id] * len(u), u.index.tolist(), u["community_id"].tolist(),
                        self._labels.astype(str).tolist(), u["households"].astype(int).tolist(), names, coords,
                        wkb, strict=True))
                con.executemany(
                    "INSERT INTO edit_journal (plan_id, seq, time, author, op, params, changes, comment) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    [(self.plan_id, e["seq"], e["time"], e["author"], e["op"],
                      json.dumps(e["params"], ensure_ascii=False), json.dumps(e["changes"], ensure_ascii=False),
                      e["comment"]) for e in self.journal[self._saved:]])
                con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name IN "
                            "('plans', 'assignments', 'edit_journal')", (now.replace("+00:00", "Z"),))
                if _before_commit is not None:
                    _before_commit()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()
        self._saved = len(self.journal)
        return path


def _attrs_from_json(text):
    if not text:
        return None
    import io

    frame = pd.read_json(io.StringIO(text), orient="split", dtype=False)
    frame.index = frame.index.astype(str)
    return frame


def _touched(changes) -> tuple[str, ...]:
    return tuple(sorted({c[1] for c in changes} | {c[2] for c in changes}))


# --------------------------------------------------------------------------- workspace


_GPKG_CORE = """
PRAGMA application_id = 1196444487;
PRAGMA user_version = 10400;
CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
  description TEXT);
INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL);
INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL);
INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326,
  'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]',
  NULL);
CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
  identifier TEXT UNIQUE, description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
"""

_TABLES = {
    "plans": "CREATE TABLE IF NOT EXISTS plans (fid INTEGER PRIMARY KEY AUTOINCREMENT, plan_id TEXT NOT NULL UNIQUE, "
             "name TEXT NOT NULL UNIQUE, author TEXT, created TEXT, updated TEXT, crs_wkt TEXT, unit_kind TEXT, "
             "community_names TEXT, digest TEXT, units INTEGER, journal_entries INTEGER, "
             "community_offsets TEXT, community_attrs TEXT)",
    "assignments": "CREATE TABLE IF NOT EXISTS assignments (fid INTEGER PRIMARY KEY AUTOINCREMENT, plan_id TEXT NOT NULL, "
                   "unit_id TEXT NOT NULL, base_community_id TEXT, community_id TEXT, households INTEGER, "
                   "unit_name TEXT, coordinators REAL, geom_wkb BLOB, UNIQUE (plan_id, unit_id))",
    "edit_journal": "CREATE TABLE IF NOT EXISTS edit_journal (fid INTEGER PRIMARY KEY AUTOINCREMENT, plan_id TEXT NOT NULL, "
                    "seq INTEGER NOT NULL, time TEXT NOT NULL, author TEXT, op TEXT NOT NULL, params TEXT, "
                    "changes TEXT, comment TEXT, UNIQUE (plan_id, seq))",
}
_DESCRIPTIONS = {"plans": "gridmap 调整方案 (plans)", "assignments": "gridmap 方案单元归属 (plan assignments)",
                 "edit_journal": "gridmap 编辑日志，只追加 (append-only edit journal)"}


def _ensure_gpkg(path: Path) -> None:
    if path.exists():
        return
    with atomic_path(path, suffix=".gpkg") as tmp:
        con = sqlite3.connect(tmp)
        con.executescript(_GPKG_CORE)
        con.commit()
        con.close()


def _ensure_tables(con: sqlite3.Connection) -> None:
    has_contents = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_contents'").fetchone()
    for table, ddl in _TABLES.items():
        con.execute(ddl)
        if has_contents:
            con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                        "VALUES (?, 'attributes', ?, ?)", (table, table, _DESCRIPTIONS[table]))
    con.execute("CREATE TRIGGER IF NOT EXISTS edit_journal_append_only_u BEFORE UPDATE ON edit_journal "
                "BEGIN SELECT RAISE(ABORT, 'edit_journal is append-only'); END")
    con.execute("CREATE TRIGGER IF NOT EXISTS edit_journal_append_only_d BEFORE DELETE ON edit_journal "
                "BEGIN SELECT RAISE(ABORT, 'edit_journal is append-only'); END")


def _connect_read(path: Path) -> sqlite3.Connection:
    """Open for reading; read-write when allowed, so SQLite rolls back the hot journal
    a process killed mid-save leaves behind (a read-only connection cannot)."""
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return sqlite3.connect(path, timeout=30)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def list_plans(workspace: str | os.PathLike) -> pd.DataFrame:
    """The plans saved in a workspace: ``plan_id, name, author, created, updated, units, journal_entries``."""
    cols = ["plan_id", "name", "author", "created", "updated", "units", "journal_entries"]
    path = Path(workspace)
    if not path.exists():
        return pd.DataFrame(columns=cols)
    con = _connect_read(path)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'plans'").fetchone():
            return pd.DataFrame(columns=cols)
        return pd.read_sql_query(f"SELECT {', '.join(cols)} FROM plans ORDER BY updated", con)
    finally:
        con.close()


def load_plan(workspace: str | os.PathLike, plan: str, *, graph=None) -> Plan:
    """Load a saved plan by name or id, verifying its digest and replaying its journal.

    ``graph`` is the unit adjacency to reuse (e.g. of the as-is plan of the same
    units); by default it is computed from the geometry when first needed.

    Raises
    ------
    KeyError
        Listing the saved plans, when there is no such plan.
    ValueError
        When the stored assignment does not match its digest or its journal.
    """
    from pyproj import CRS

    path = Path(workspace)
    if not path.exists():
        raise KeyError(f"工作区不存在 / workspace not found: {path}")
    con = _connect_read(path)
    try:
        row = con.execute("SELECT plan_id, name, author, created, crs_wkt, unit_kind, community_names, digest, "
                          "community_offsets, community_attrs "
                          "FROM plans WHERE plan_id = ? OR name = ?", (plan, plan)).fetchone()
        if row is None:
            names = [r[0] for r in con.execute("SELECT name FROM plans ORDER BY updated")]
            raise KeyError(f"没有方案 {plan!r}；已保存的方案：{', '.join(names) or '（无）'}")
        plan_id, name, author, created, crs_wkt, unit_kind, cnames, digest, offsets, cattrs = row
        a = pd.read_sql_query("SELECT unit_id, base_community_id, community_id, households, unit_name, coordinators, "
                              "geom_wkb FROM assignments WHERE plan_id = ? ORDER BY fid", con, params=(plan_id,))
        j = pd.read_sql_query("SELECT seq, time, author, op, params, changes, comment FROM edit_journal "
                              "WHERE plan_id = ? ORDER BY seq", con, params=(plan_id,))
    finally:
        con.close()
    units = GeoDataFrame({"name": a["unit_name"].to_numpy(), "community_id": a["base_community_id"].to_numpy(),
                          "households": a["households"].to_numpy(), "coordinators": a["coordinators"].astype("float64").to_numpy()},
                         geometry=shapely.from_wkb(a["geom_wkb"].to_numpy()), index=pd.Index(a["unit_id"], name="unit_id"),
                         crs=CRS.from_wkt(crs_wkt) if crs_wkt else None)
    p = Plan(units, name=name, author=author or "", community_names=json.loads(cnames or "{}"),
             unit_kind=unit_kind or "grids", plan_id=plan_id, community_offsets=json.loads(offsets or "{}"),
             community_attrs=_attrs_from_json(cattrs), graph=graph)
    p.created = created
    stored = pd.Series(a["community_id"].to_numpy(), index=units.index, dtype=object)
    if _digest(stored) != digest:
        raise ValueError(f"方案 {name!r} 的存储内容与校验值不符 (digest mismatch): the workspace {path} is damaged")
    for r in j.itertuples(index=False):
        entry = {"seq": int(r.seq), "time": r.time, "author": r.author or "", "op": r.op,
                 "params": json.loads(r.params or "{}"), "changes": json.loads(r.changes or "[]"), "comment": r.comment or ""}
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
    if not p._labels.astype(str).equals(stored.astype(str)):
        raise ValueError(f"方案 {name!r}：日志重放结果与存储的归属不一致 (journal replay does not match the stored assignment)")
    p._saved = len(p.journal)
    return p
