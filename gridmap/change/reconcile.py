"""多网合一: how several departments' grid layers agree, and one unified grid proposed from them.

:func:`reconcile` takes one :class:`gridmap.CheckResult` per grid layer (the same communities,
each layer checked as the grids of the study: its units, households and 所属社区 come from the
one check) and reports, for every ordered pair of layers (A, B), each unit of A's **relation**
to B:

``same``       one unit of B covers the same ground (intersection over union ≥ ``same_iou``);
``within``     ≥ 95 % of it lies in one unit of B (B is coarser there);
``contains``   it holds several units of B wholly (B is finer there);
``straddles``  it spans parts of several units of B;
``orphan``     less than 5 % of it is covered by B at all.

**Disagreements**: ``code`` (the same unit, different codes), ``community`` (the same or a
nested unit said to belong to different communities in 所属社区; names and codes both
resolved to community ids), ``code_conflict`` (one code naming different places). **Gaps**:
ground of one layer no unit of the other covers; **overlaps**: ground two units of the same
layer both claim (a unit of a layer claiming another unit's ground is a finding of its own).
The proposed unified grid is :func:`gridmap.change.unify.unify`'s, with a change table mapping
every old unit of every layer to the unified units it ends up in.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap._atomic import staged_dir
from gridmap.change._match import overlaps
from gridmap.change._write import write_csv, write_layers, write_xlsx, zh
from gridmap.change.unify import unify
from gridmap.check import CheckResult

__all__ = ["Reconciliation", "reconcile", "summary_sheet", "RELATIONS", "RECONCILE_HEADERS_ZH"]

RELATIONS = ("same", "within", "contains", "straddles", "orphan")
RELATION_ZH = {
    "same": "一致",
    "within": "被包含",
    "contains": "包含",
    "straddles": "交叉",
    "orphan": "无对应",
}
KIND_ZH = {"code": "编码不一致", "community": "所属社区不一致", "code_conflict": "同码异地"}
CHANGE_ZH = {
    "kept": "保留",
    "clipped": "按社区边界裁切",
    "recoded": "重新编码",
    "split": "拆分",
    "finer": "采用更细网格",
    "filled": "补齐空白",
    "merged": "并入",
    "dropped": "未采用",
}
#: the labels of the 概要 sheet (:func:`summary_sheet`)
SUMMARY_ZH = {
    "layers": "图层",
    "disagreements": "不一致",
    "gaps": "缝隙（处）",
    "gap_area_m2": "缝隙面积(平方米)",
    "overlaps": "图层内重叠（处）",
    "unified_units": "统一网格：单元数",
    "unified": "统一网格",
}
SUMMARY_EN = {
    "layers": "layers",
    "disagreements": "disagreements",
    "gaps": "gaps",
    "gap_area_m2": "gap area (m²)",
    "overlaps": "overlaps within a layer",
    "unified_units": "unified grid: units",
    "unified": "unified grid",
}
RECONCILE_HEADERS_ZH = {
    "layer_a": "图层A",
    "unit_a": "A单元编码",
    "layer_b": "图层B",
    "relation": "关系",
    "units_b": "B对应单元",
    "best_b": "B最佳对应",
    "iou": "重合度",
    "covered": "被B覆盖比例",
    "kind": "类型",
    "unit_b": "B单元编码",
    "value_a": "A取值",
    "value_b": "B取值",
    "layer": "图层",
    "unit_id": "单元编码",
    "other_id": "另一单元",
    "area_m2": "面积(平方米)",
    "covered_by": "有覆盖的图层",
    "missing_in": "缺失的图层",
    "old_id": "原编码",
    "new_ids": "新编码",
    "change": "变化",
    "grid_id": "网格编码",
    "name": "名称",
    "community_id": "所属社区",
    "source_layer": "来源图层",
    "source_ids": "来源单元",
}


@dataclass
class Reconciliation:
    """What :func:`reconcile` found, and the unified grid it proposes.

    Attributes
    ----------
    relations
        One row per (layer A, unit of A, layer B): ``relation`` (:data:`RELATIONS`),
        ``units_b``, ``best_b``, ``iou``, ``covered`` (share of the unit B covers).
    disagreements
        ``kind`` (code / community / code_conflict), the two layers and units, both values.
    gaps, overlaps
        GeoDataFrames: ground only one layer covers (``covered_by``, ``missing_in``); ground two
        units of one layer both claim (``layer``, ``unit_id``, ``other_id``).
    unified
        The proposed grid (:func:`gridmap.change.unify.unify`).
    changes
        Old unit of each layer → the unified units holding ≥ 5 % of it (``new_ids``, ``change``).
    """

    relations: pd.DataFrame
    disagreements: pd.DataFrame
    gaps: GeoDataFrame
    overlaps: GeoDataFrame
    unified: GeoDataFrame
    changes: pd.DataFrame
    layers: list[str]

    def summary(self) -> dict[str, Any]:
        """Per pair: units per relation; disagreements per kind; gaps, overlaps, unified size."""
        pairs = {}
        for (a, b), g in self.relations.groupby(["layer_a", "layer_b"], sort=False):
            vc = g["relation"].value_counts()
            pairs[f"{a}→{b}"] = {r: int(vc.get(r, 0)) for r in RELATIONS}
        vc = self.disagreements["kind"].value_counts()
        return {
            "layers": self.layers,
            "relations": pairs,
            "disagreements": {k: int(vc.get(k, 0)) for k in KIND_ZH},
            "gaps": int(len(self.gaps)),
            "gap_area_m2": round(float(self.gaps["area_m2"].sum()), 1) if len(self.gaps) else 0.0,
            "overlaps": int(len(self.overlaps)),
            "unified_units": int(len(self.unified)),
            "unified_changes": {
                k: int(v) for k, v in self.unified["change"].value_counts().items()
            },
        }

    def to_dir(self, out: str | os.PathLike, *, lang: str = "zh") -> dict[str, Path]:
        """Write ``reconcile.xlsx`` (Chinese headers), ``unified.gpkg``, ``changes.csv``, ``reconcile.json``.

        ``unified.gpkg`` holds the layers ``unified`` (the proposal), ``gaps``, ``overlaps``.

        Parameters
        ----------
        out
            The output folder (this run's files replace an earlier run's together).
        lang
            ``"zh"`` or ``"en"``: the words of the 概要 sheet (the summary of
            :meth:`summary`, one labelled row per figure; the values are the same).

        Returns
        -------
        dict
            File name → path of every file written.
        """
        rel = self.relations.assign(relation=self.relations["relation"].map(RELATION_ZH))
        dis = self.disagreements.assign(kind=self.disagreements["kind"].map(KIND_ZH))
        changes = self.changes.assign(change=self.changes["change"].map(CHANGE_ZH))
        unified = self.unified.reset_index()
        uni_t = unified.assign(change=unified["change"].map(CHANGE_ZH))
        with staged_dir(out) as (stage, written):
            write_xlsx(
                {
                    "概要": summary_sheet(self.summary(), lang=lang),
                    "嵌套关系": zh(rel, RECONCILE_HEADERS_ZH),
                    "不一致": zh(dis, RECONCILE_HEADERS_ZH),
                    "缝隙": zh(self.gaps, RECONCILE_HEADERS_ZH),
                    "重叠": zh(self.overlaps, RECONCILE_HEADERS_ZH),
                    "统一网格": zh(uni_t, RECONCILE_HEADERS_ZH),
                    "新旧对照": zh(changes, RECONCILE_HEADERS_ZH),
                },
                stage / "reconcile.xlsx",
            )
            write_csv(zh(changes, RECONCILE_HEADERS_ZH), stage / "changes.csv")
            write_csv(zh(dis, RECONCILE_HEADERS_ZH), stage / "disagreements.csv")
            write_layers(
                {"unified": unified, "gaps": self.gaps, "overlaps": self.overlaps},
                stage / "unified.gpkg",
            )
            (stage / "reconcile.json").write_text(
                json.dumps(self.summary(), ensure_ascii=False, indent=2), encoding="utf-8"
            )
        return written


def summary_sheet(summary: Mapping[str, Any], *, lang: str = "zh") -> pd.DataFrame:
    """The 概要 sheet: each figure of :meth:`Reconciliation.summary` on a labelled row.

    Parameters
    ----------
    summary
        :meth:`Reconciliation.summary`.
    lang
        ``"zh"`` (项目, 数值; Chinese labels) or ``"en"`` (item, value; English labels).

    Returns
    -------
    pandas.DataFrame
        Two columns, the label and the value, in the order of the summary.

    Examples
    --------
    >>> s = {"layers": ["民政", "城管"], "relations": {"民政→城管": {"same": 3, "within": 1}},
    ...      "disagreements": {"code": 1}, "gaps": 2, "gap_area_m2": 10.5, "overlaps": 0,
    ...      "unified_units": 4, "unified_changes": {"kept": 4}}
    >>> summary_sheet(s).values.tolist()[:3]
    [['图层', '民政、城管'], ['民政→城管：一致', 3], ['民政→城管：被包含', 1]]
    >>> summary_sheet(s, lang="en").values.tolist()[-2:]
    [['unified grid: units', 4], ['unified grid: kept', 4]]
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang={lang!r}: use 'zh' or 'en'")
    zh = lang == "zh"
    words = SUMMARY_ZH if zh else SUMMARY_EN
    sep = "：" if zh else ": "
    rows: list[tuple[str, Any]] = [(words["layers"], "、".join(map(str, summary["layers"])))]
    for pair, counts in summary["relations"].items():
        rows += [(f"{pair}{sep}{RELATION_ZH[r] if zh else r}", n) for r, n in counts.items()]
    rows += [
        (f"{words['disagreements']}{sep}{KIND_ZH[k] if zh else k}", n)
        for k, n in summary["disagreements"].items()
    ]
    rows += [(words[k], summary[k]) for k in ("gaps", "gap_area_m2", "overlaps", "unified_units")]
    rows += [
        (f"{words['unified']}{sep}{CHANGE_ZH.get(k, k) if zh else k}", n)
        for k, n in summary["unified_changes"].items()
    ]
    return pd.DataFrame(rows, columns=["项目", "数值"] if zh else ["item", "value"])


def _relations(a: GeoDataFrame, b: GeoDataFrame, same_iou: float) -> pd.DataFrame:
    """Each unit of ``a`` against ``b``: relation, units of b it meets, best match, cover share."""
    pairs = overlaps(a.geometry, b.geometry)
    b_ids = b.index.astype(str).to_numpy()
    rows = []
    by_a = dict(tuple(pairs.groupby("a"))) if len(pairs) else {}
    for pos, uid in enumerate(a.index.astype(str)):
        p = by_a.get(pos)
        if p is None or p["share_a"].sum() < 0.05:
            rows.append((uid, "orphan", "", "", 0.0, float(0 if p is None else p["share_a"].sum())))
            continue
        best = p.loc[p["iou"].idxmax()]
        covered = float(min(p["share_a"].sum(), 1.0))
        wholly = p[p["share_b"] >= 0.95]
        if best["iou"] >= same_iou:
            rel = "same"
        elif p["share_a"].max() >= 0.95:
            rel = "within"
        elif len(wholly) >= 2 and wholly["share_a"].sum() >= 0.9:
            rel = "contains"
        else:
            rel = "straddles"
        meets = ";".join(b_ids[p.sort_values("area", ascending=False)["b"].to_numpy()])
        rows.append((uid, rel, meets, b_ids[int(best["b"])], float(best["iou"]), covered))
    df = pd.DataFrame(rows, columns=["unit_a", "relation", "units_b", "best_b", "iou", "covered"])
    df["iou"] = df["iou"].round(4)
    df["covered"] = df["covered"].round(4)
    return df


def _community_of(result: CheckResult) -> pd.Series:
    """所属社区 of each grid as a community id (the attribute by id or name; else by geometry)."""
    grids = result.grids
    assert grids is not None
    comm = result.study.communities
    ids = comm.index.astype(str)
    by_name = (
        dict(zip(comm["name"].astype(str), ids, strict=False)) if "name" in comm.columns else {}
    )
    attr = grids["community_attr"].astype("string") if "community_attr" in grids.columns else None
    out = grids["community_id"].astype("string").copy()
    if attr is not None:
        known = set(ids)
        resolved = attr.map(
            lambda v: v if v in known else by_name.get(str(v), pd.NA), na_action="ignore"
        )
        out = resolved.astype("string").fillna(out)
    out.index = grids.index.astype(str)
    return out


def _disagreements(
    name_a: str,
    name_b: str,
    rel: pd.DataFrame,
    comm_a: pd.Series,
    comm_b: pd.Series,
    a: GeoDataFrame,
    b: GeoDataFrame,
) -> list[dict]:
    rows: list[dict] = []
    for r in rel.itertuples():
        if r.relation == "same" and r.unit_a != r.best_b:
            rows.append(
                {
                    "kind": "code",
                    "layer_a": name_a,
                    "unit_a": r.unit_a,
                    "layer_b": name_b,
                    "unit_b": r.best_b,
                    "value_a": r.unit_a,
                    "value_b": r.best_b,
                }
            )
        if r.relation in ("same", "within"):
            ca, cb = comm_a.get(r.unit_a), comm_b.get(r.best_b)
            if pd.notna(ca) and pd.notna(cb) and ca != cb:
                rows.append(
                    {
                        "kind": "community",
                        "layer_a": name_a,
                        "unit_a": r.unit_a,
                        "layer_b": name_b,
                        "unit_b": r.best_b,
                        "value_a": ca,
                        "value_b": cb,
                    }
                )
    common = sorted(set(a.index.astype(str)) & set(b.index.astype(str)))
    if common:
        ga = a.geometry.set_axis(a.index.astype(str)).reindex(common)
        gb = b.geometry.set_axis(b.index.astype(str)).reindex(common)
        inter = shapely.area(shapely.intersection(np.asarray(ga.values), np.asarray(gb.values)))
        union = shapely.area(shapely.union(np.asarray(ga.values), np.asarray(gb.values)))
        for code, i, u in zip(common, inter, union, strict=True):
            if u > 0 and i / u < 0.5:
                rows.append(
                    {
                        "kind": "code_conflict",
                        "layer_a": name_a,
                        "unit_a": code,
                        "layer_b": name_b,
                        "unit_b": code,
                        "value_a": code,
                        "value_b": code,
                    }
                )
    return rows


def _gaps(layers: Mapping[str, GeoDataFrame], extent, min_area: float) -> list[dict]:
    cover = {
        n: shapely.union_all(np.asarray(g.geometry.values), grid_size=0.001)
        for n, g in layers.items()
    }
    rows = []
    for x, y in itertools.permutations(layers, 2):
        rest = shapely.difference(
            shapely.intersection(cover[x], extent, grid_size=0.001), cover[y], grid_size=0.001
        )
        for p in shapely.get_parts(rest):
            if p.area >= min_area and p.geom_type == "Polygon":
                rows.append(
                    {"covered_by": x, "missing_in": y, "area_m2": round(p.area, 1), "geometry": p}
                )
    return rows


def _overlaps(layers: Mapping[str, GeoDataFrame], min_area: float) -> list[dict]:
    rows = []
    for name, g in layers.items():
        p = overlaps(g.geometry, g.geometry)
        p = p[(p["a"] < p["b"]) & (p["area"] >= min_area)]
        geoms = np.asarray(g.geometry.values)
        ids = g.index.astype(str).to_numpy()
        for r in p.itertuples():
            rows.append(
                {
                    "layer": name,
                    "unit_id": ids[r.a],
                    "other_id": ids[r.b],
                    "area_m2": round(r.area, 1),
                    "geometry": shapely.intersection(geoms[r.a], geoms[r.b]),
                }
            )
    return rows


def _changes(layers: Mapping[str, GeoDataFrame], unified: GeoDataFrame) -> pd.DataFrame:
    rows = []
    uids = unified.index.astype(str).to_numpy()
    for name, g in layers.items():
        p = overlaps(g.geometry, unified.geometry)
        by_a = dict(tuple(p.groupby("a"))) if len(p) else {}
        for pos, old in enumerate(g.index.astype(str)):
            q = by_a.get(pos)
            q = (
                q[q["share_a"] >= 0.05].sort_values("share_a", ascending=False)
                if q is not None
                else None
            )
            if q is None or not len(q):
                rows.append((name, old, "", "dropped"))
                continue
            new = uids[q["b"].to_numpy()]
            if len(new) > 1:
                change = "split"
            elif new[0] == old and q["iou"].iloc[0] >= 0.99:
                change = "kept"
            elif q["iou"].iloc[0] >= 0.99:
                change = "recoded"
            elif q["share_b"].iloc[0] < 0.95:
                change = "merged"
            else:
                change = "clipped"
            rows.append((name, old, ";".join(new), change))
    return pd.DataFrame(rows, columns=["layer", "old_id", "new_ids", "change"])


def reconcile(
    results: Mapping[str, CheckResult],
    *,
    same_iou: float = 0.9,
    max_households: float | None = 500,
    min_piece_m2: float = 2000.0,
    min_gap_m2: float = 100.0,
) -> Reconciliation:
    """Compare grid layers pairwise and propose one unified grid (module docs).

    Parameters
    ----------
    results
        ``{layer name: check result}``, each the check of the same communities with that layer
        as grids; the first is the reference of the unified grid.
    same_iou
        Units overlapping at least this much (intersection over union) are the same unit.
    max_households, min_piece_m2
        See :func:`gridmap.change.unify.unify`.
    min_gap_m2
        Gaps and overlaps smaller than this are digitising noise and not reported.
    """
    if len(results) < 2:
        raise ValueError(f"results= needs at least two grid layers (got {len(results)})")
    if any(r.grids is None for r in results.values()):
        raise ValueError("results= must be checks with a grid layer each")
    names = list(results)
    layers = {n: r.grids for n, r in results.items() if r.grids is not None}
    crs = layers[names[0]].crs
    layers = {n: (g if g.crs.equals(crs) else g.to_crs(crs)) for n, g in layers.items()}
    communities = results[names[0]].study.communities
    comm_attr = {n: _community_of(r) for n, r in results.items()}
    rel_frames, dis_rows = [], []
    for x, y in itertools.permutations(names, 2):
        rel = _relations(layers[x], layers[y], same_iou)
        rel_frames.append(rel.assign(layer_a=x, layer_b=y))
        if names.index(x) < names.index(y):
            dis_rows += _disagreements(x, y, rel, comm_attr[x], comm_attr[y], layers[x], layers[y])
    relations = pd.concat(rel_frames, ignore_index=True)[
        ["layer_a", "unit_a", "layer_b", "relation", "units_b", "best_b", "iou", "covered"]
    ]
    extent = shapely.union_all(np.asarray(communities.geometry.values), grid_size=0.001)
    extent = shapely.union(
        extent,
        shapely.union_all(
            [shapely.union_all(np.asarray(g.geometry.values)) for g in layers.values()]
        ),
        grid_size=0.001,
    )
    gaps = GeoDataFrame(
        _gaps(layers, extent, min_gap_m2),
        columns=["covered_by", "missing_in", "area_m2", "geometry"],
        geometry="geometry",
        crs=crs,
    )
    ovl = GeoDataFrame(
        _overlaps(layers, min_gap_m2),
        columns=["layer", "unit_id", "other_id", "area_m2", "geometry"],
        geometry="geometry",
        crs=crs,
    )
    households = {n: pd.to_numeric(g["households"], errors="coerce") for n, g in layers.items()}
    unified = unify(
        layers,
        communities,
        households=households,
        max_households=max_households,
        min_piece_m2=min_piece_m2,
    )
    return Reconciliation(
        relations=relations,
        disagreements=pd.DataFrame(
            dis_rows,
            columns=["kind", "layer_a", "unit_a", "layer_b", "unit_b", "value_a", "value_b"],
        ),
        gaps=gaps,
        overlaps=ovl,
        unified=unified,
        changes=_changes(layers, unified),
        layers=names,
    )
