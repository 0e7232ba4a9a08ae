"""Compare two snapshots: which units were added, removed, recoded, redrawn or reassigned.

Units are matched **by code** first (the same ``community_id`` / ``grid_id`` in both); codes
left over on either side are then matched **by geometry** (mutual best intersection over union
≥ ``match_iou``): such a pair is one unit given a new code (``recoded``). A matched unit whose
shape changed (IoU < ``same_iou``) is ``redrawn``; a grid now in another community is
``reassigned``; a unit whose households or status changed is ``modified``; the rest are
``unchanged``. Unmatched units are ``removed`` / ``added``.

Per matched unit the table carries households, status and size status before and after, and for
communities with a ``population`` the household size (persons per household) before and after:
limits set in households and limits set in people drift apart as households shrink.

A **threshold crossing** is a community whose size status (in band / too small / too large,
from the check's one evaluation) or overall status changed, or a grid whose required number of
coordinators changed.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> from gridmap.change import Snapshot, compare
>>> def snap(cells):
...     return Snapshot(gpd.GeoDataFrame({"households": [h for _, _, h in cells]},
...         geometry=[g for _, g, _ in cells], crs=4549,
...         index=pd.Index([i for i, _, _ in cells], name="community_id")))
>>> old = snap([("A", box(0, 0, 10, 10), 1200), ("B", box(10, 0, 20, 10), 900)])
>>> new = snap([("A", box(0, 0, 12, 10), 1300), ("C", box(10, 0, 20, 10), 900)])
>>> compare(old, new).units[["unit_id", "change", "households_delta"]].values.tolist()
[['A', 'redrawn', 100], ['C', 'recoded', 0]]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap._atomic import staged_dir
from gridmap.change._match import iou_of, mutual_best, overlaps
from gridmap.change._write import write_csv, write_layers, write_xlsx, zh
from gridmap.change.snapshot import Snapshot

__all__ = ["compare", "Comparison", "CHANGE_KINDS", "CHANGE_ZH", "LEVEL_ZH", "COMPARE_HEADERS_ZH"]

#: change kinds, most telling first (a unit gets the first that applies)
CHANGE_KINDS = ("added", "removed", "recoded", "redrawn", "reassigned", "modified", "unchanged")
CHANGE_ZH = {
    "added": "新增",
    "removed": "撤销",
    "recoded": "改编码",
    "redrawn": "边界调整",
    "reassigned": "改属社区",
    "modified": "户数/状态变化",
    "unchanged": "未变",
}
#: Chinese headers of the change tables
COMPARE_HEADERS_ZH = {
    "level": "层级",
    "unit_id": "单元编码",
    "name": "名称",
    "change": "变化类型",
    "old_id": "原编码",
    "new_id": "新编码",
    "iou": "重合度",
    "community_old": "原所属社区",
    "community_new": "现所属社区",
    "households_old": "原户数",
    "households_new": "现户数",
    "households_delta": "户数变化",
    "status_old": "原状态",
    "status_new": "现状态",
    "size_status_old": "原规模状态",
    "size_status_new": "现规模状态",
    "coordinators_required_old": "原需网格员",
    "coordinators_required_new": "现需网格员",
    "population_old": "原人口",
    "population_new": "现人口",
    "household_size_old": "原户均人口",
    "household_size_new": "现户均人口",
    "household_size_delta": "户均人口变化",
    "threshold": "阈值",
    "old": "原",
    "new": "现",
}
LEVEL_ZH = {"communities": "社区", "grids": "网格"}
THRESHOLD_ZH = {
    "size_status": "社区规模区间",
    "status": "合规状态",
    "coordinators_required": "所需网格员数",
}
#: per level, the attributes compared before/after
ATTRS = {
    "communities": ("households", "status", "size_status", "population", "coordinators_required"),
    "grids": ("community_id", "households", "status", "coordinators_required"),
}


@dataclass
class Comparison:
    """What changed between two snapshots.

    Attributes
    ----------
    units
        One row per unit of either snapshot and level (``level``, ``unit_id``, ``change``, the
        before/after columns), with geometry (the new shape; the old one for removed units).
    thresholds
        One row per threshold crossed: ``level``, ``unit_id``, ``name``, ``threshold``, ``old``,
        ``new``.
    old, new
        The snapshots compared.
    """

    units: GeoDataFrame
    thresholds: pd.DataFrame
    old: Snapshot
    new: Snapshot

    def changed(self, level: str | None = None) -> GeoDataFrame:
        """The units that changed (all levels, or ``"communities"`` / ``"grids"``)."""
        u = self.units[self.units["change"] != "unchanged"]
        return u if level is None else u[u["level"] == level]

    def summary(self) -> dict[str, Any]:
        """Counts per level and change kind, households and household size before and after."""
        out: dict[str, Any] = {"old": self.old.source, "new": self.new.source}
        for level in ("communities", "grids"):
            u = self.units[self.units["level"] == level]
            vc = u["change"].value_counts()
            out[level] = {k: int(vc.get(k, 0)) for k in CHANGE_KINDS}
        out["changed"] = int((self.units["change"] != "unchanged").sum())
        out["thresholds_crossed"] = int(len(self.thresholds))
        comm = self.units[self.units["level"] == "communities"]
        for side in ("old", "new"):
            hh = pd.to_numeric(comm[f"households_{side}"], errors="coerce")
            out[f"households_{side}"] = int(hh.fillna(0).sum())
            pop = pd.to_numeric(comm.get(f"population_{side}"), errors="coerce")
            known = hh.notna() & (pop.notna() if pop is not None else False)
            out[f"household_size_{side}"] = (
                round(float(pop[known].sum() / hh[known].sum()), 3)
                if pop is not None and known.any() and hh[known].sum() > 0
                else None
            )
        return out

    def to_dir(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write ``changes.csv`` / ``thresholds.csv`` / ``changes.xlsx`` / ``changes.gpkg`` / ``compare.json``.

        The tables and layers hold the changed units only (Chinese headers in the tables);
        all files appear together or not at all.
        """
        changed = self.changed()
        table = _zh_table(changed)
        thresholds = self.thresholds.assign(
            level=self.thresholds["level"].map(LEVEL_ZH),
            threshold=self.thresholds["threshold"].map(THRESHOLD_ZH),
        ).rename(columns=COMPARE_HEADERS_ZH)
        summary = self.summary()
        with staged_dir(out) as (stage, written):
            write_csv(table, stage / "changes.csv")
            write_csv(thresholds, stage / "thresholds.csv")
            write_xlsx(
                {
                    "概要": _summary_sheet(summary),
                    "社区变化": _zh_table(changed[changed["level"] == "communities"]),
                    "网格变化": _zh_table(changed[changed["level"] == "grids"]),
                    "跨越阈值": thresholds,
                },
                stage / "changes.xlsx",
            )
            layers = {
                level: changed[changed["level"] == level].drop(columns="level")
                for level in ("communities", "grids")
            }
            if changed.geometry.notna().any():
                write_layers(
                    {k: v[v.geometry.notna()] for k, v in layers.items()}, stage / "changes.gpkg"
                )
            (stage / "compare.json").write_text(
                json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
            )
        return written


def _zh_table(units: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame(units.drop(columns="geometry"))
    df["level"] = df["level"].map(LEVEL_ZH)
    df["change"] = df["change"].map(CHANGE_ZH)
    if len(df):  # columns that say nothing at this level (e.g. a community's community)
        df = df.dropna(axis=1, how="all")
    return zh(df, COMPARE_HEADERS_ZH)


def _summary_sheet(summary: dict[str, Any]) -> pd.DataFrame:
    rows = [("原结果", summary["old"]), ("现结果", summary["new"])]
    for level in ("communities", "grids"):
        rows += [(f"{LEVEL_ZH[level]}：{CHANGE_ZH[k]}", summary[level][k]) for k in CHANGE_KINDS]
    rows += [
        ("跨越阈值", summary["thresholds_crossed"]),
        ("原总户数", summary["households_old"]),
        ("现总户数", summary["households_new"]),
        ("原户均人口", summary["household_size_old"]),
        ("现户均人口", summary["household_size_new"]),
    ]
    return pd.DataFrame(rows, columns=["项目", "数值"])


def _pairs(
    old: GeoDataFrame, new: GeoDataFrame, *, match_iou: float
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Matched (old id, new id) pairs by code then by geometry; the unmatched ids of each side."""
    common = [i for i in old.index if i in set(new.index)]
    pairs = [(i, i) for i in common]
    rest_old = old.loc[~old.index.isin(common)]
    rest_new = new.loc[~new.index.isin(common)]
    if len(rest_old) and len(rest_new) and old.crs is not None:
        best = mutual_best(overlaps(rest_old.geometry, rest_new.geometry), min_iou=match_iou)
        pairs += [
            (str(rest_old.index[a]), str(rest_new.index[b]))
            for a, b in zip(best["a"], best["b"], strict=True)
        ]
    matched_old = {a for a, _ in pairs}
    matched_new = {b for _, b in pairs}
    removed = [i for i in old.index if i not in matched_old]
    added = [i for i in new.index if i not in matched_new]
    return pairs, removed, added


def _values(units: GeoDataFrame, ids: list[str], attr: str) -> np.ndarray:
    if attr not in units.columns:
        return np.full(len(ids), np.nan, dtype=object)
    return units[attr].reindex(ids).to_numpy(dtype=object)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sa, sb = pd.Series(a, dtype=object), pd.Series(b, dtype=object)
    na_a, na_b = sa.isna().to_numpy(), sb.isna().to_numpy()
    num_a, num_b = pd.to_numeric(sa, errors="coerce"), pd.to_numeric(sb, errors="coerce")
    numeric = num_a.notna().to_numpy() & num_b.notna().to_numpy()
    same_num = np.isclose(num_a.fillna(0).to_numpy(), num_b.fillna(0).to_numpy(), rtol=0, atol=1e-9)
    same_text = sa.astype(str).to_numpy() == sb.astype(str).to_numpy()
    same = np.where(numeric, same_num, same_text) | (na_a & na_b)
    return ~same


def _before_after(
    df: pd.DataFrame,
    old: GeoDataFrame,
    new: GeoDataFrame,
    level: str,
    o_list: list[str],
    n_list: list[str],
    n_pairs: int,
) -> dict[str, np.ndarray]:
    """Add the before/after columns of the level's attributes to ``df``; which changed per row.

    Rows of ``df``: the ``n_pairs`` matched units, then the removed, then the added ones.
    """
    n_removed = len(o_list) - n_pairs
    attrs_changed: dict[str, np.ndarray] = {}
    for attr in ATTRS[level]:
        ov = np.full(len(df), None, dtype=object)
        nv = np.full(len(df), None, dtype=object)
        ov[: len(o_list)] = _values(old, o_list, attr)
        values_new = _values(new, n_list, attr)
        nv[:n_pairs] = values_new[:n_pairs]
        nv[n_pairs + n_removed :] = values_new[n_pairs:]
        key = "community" if attr == "community_id" else attr
        df[f"{key}_old"], df[f"{key}_new"] = ov, nv
        attrs_changed[attr] = _differs(ov, nv)
        attrs_changed[attr][n_pairs:] = False
    for col in ("households", "population", "coordinators_required"):
        if f"{col}_old" in df.columns:
            for side in ("old", "new"):
                df[f"{col}_{side}"] = pd.to_numeric(df[f"{col}_{side}"], errors="coerce")
    df["households_delta"] = df["households_new"] - df["households_old"]
    if level == "communities":
        for side in ("old", "new"):
            with np.errstate(divide="ignore", invalid="ignore"):
                hh = df[f"households_{side}"].where(df[f"households_{side}"] > 0)
                df[f"household_size_{side}"] = (df[f"population_{side}"] / hh).round(3)
        df["household_size_delta"] = (df["household_size_new"] - df["household_size_old"]).round(3)
    return attrs_changed


def _level_changes(
    old: GeoDataFrame, new: GeoDataFrame, level: str, *, match_iou: float, same_iou: float
) -> GeoDataFrame:
    pairs, removed, added = _pairs(old, new, match_iou=match_iou)
    o_ids = [a for a, _ in pairs] + removed + [None] * len(added)
    n_ids = [b for _, b in pairs] + [None] * len(removed) + added
    o_list = [i for i in o_ids if i is not None]
    n_list = [i for i in n_ids if i is not None]
    n_pairs = len(pairs)
    o_pos = {i: k for k, i in enumerate(o_list)}
    n_pos = {i: k for k, i in enumerate(n_list)}
    df = pd.DataFrame(
        {
            "level": level,
            "unit_id": [n if n is not None else o for o, n in zip(o_ids, n_ids, strict=True)],
            "old_id": pd.array(o_ids, dtype="string"),
            "new_id": pd.array(n_ids, dtype="string"),
        }
    )
    name_new = _values(new, n_list, "name")
    name_old = _values(old, o_list, "name")
    df["name"] = [
        name_new[n_pos[n]] if n is not None else name_old[o_pos[str(o)]]
        for o, n in zip(o_ids, n_ids, strict=True)
    ]
    geom_old = old.geometry.reindex(o_list)
    geom_new = new.geometry.reindex(n_list)
    iou = np.full(len(df), np.nan)
    iou[:n_pairs] = iou_of(
        geom_old.iloc[:n_pairs].reset_index(drop=True),
        geom_new.iloc[:n_pairs].reset_index(drop=True),
    )
    df["iou"] = np.round(iou, 4)
    flags = np.zeros(len(df), dtype=bool)
    attrs_changed = _before_after(df, old, new, level, o_list, n_list, n_pairs)
    redrawn = np.nan_to_num(iou, nan=1.0) < same_iou
    redrawn[n_pairs:] = False
    recoded = np.array(
        [o is not None and n is not None and o != n for o, n in zip(o_ids, n_ids, strict=True)]
    )
    reassigned = attrs_changed.get("community_id", flags)
    modified = np.zeros(len(df), dtype=bool)
    for attr in ("households", "status", "size_status", "population"):
        if attr in attrs_changed:
            modified |= attrs_changed[attr]
    change = np.select(
        [
            np.array([o is None for o in o_ids]),
            np.array([n is None for n in n_ids]),
            recoded,
            redrawn,
            reassigned,
            modified,
        ],
        list(CHANGE_KINDS[:-1]),
        default="unchanged",
    )
    df.insert(2, "change", change)
    geometry = [
        geom_new.iloc[n_pos[n]] if n is not None else geom_old.iloc[o_pos[str(o)]]
        for o, n in zip(o_ids, n_ids, strict=True)
    ]
    return GeoDataFrame(df, geometry=geometry, crs=new.crs or old.crs)


def _thresholds(units: pd.DataFrame) -> pd.DataFrame:
    rows = []
    checks = {
        "communities": ("size_status", "status"),
        "grids": ("coordinators_required",),
    }
    matched = units[units["old_id"].notna() & units["new_id"].notna()]
    for level, attrs in checks.items():
        u = matched[matched["level"] == level]
        for attr in attrs:
            if f"{attr}_old" not in u.columns:
                continue
            moved = _differs(u[f"{attr}_old"].to_numpy(object), u[f"{attr}_new"].to_numpy(object))
            both = u[f"{attr}_old"].notna().to_numpy() & u[f"{attr}_new"].notna().to_numpy()
            for _, r in u[moved & both].iterrows():
                rows.append(
                    {
                        "level": level,
                        "unit_id": r["unit_id"],
                        "name": r["name"],
                        "threshold": attr,
                        "old": r[f"{attr}_old"],
                        "new": r[f"{attr}_new"],
                    }
                )
    return pd.DataFrame(rows, columns=["level", "unit_id", "name", "threshold", "old", "new"])


def compare(
    old: Snapshot, new: Snapshot, *, match_iou: float = 0.5, same_iou: float = 0.999
) -> Comparison:
    """Compare two snapshots (module docs).

    Parameters
    ----------
    old, new
        From :func:`gridmap.change.read_snapshot` or :func:`gridmap.change.snapshot_of`.
    match_iou
        Units of different codes are one unit recoded when they are each other's best match
        with at least this intersection over union.
    same_iou
        A matched unit whose shapes overlap less than this (IoU) is ``redrawn``.

    Returns
    -------
    Comparison
    """
    if not 0 < match_iou <= 1 or not 0 < same_iou <= 1:
        raise ValueError(
            f"match_iou= and same_iou= must be in (0, 1] (got {match_iou}, {same_iou})"
        )
    frames = []
    for level in ("communities", "grids"):
        a, b = old.level(level), new.level(level)
        if a is None and b is None:
            continue
        ref = b if b is not None else a
        assert ref is not None
        empty = GeoDataFrame(geometry=[], crs=ref.crs)
        a = a if a is not None else empty
        b = b if b is not None else empty
        if a.crs is not None and b.crs is not None and not a.crs.equals(b.crs):
            b = b.to_crs(a.crs)
        frames.append(_level_changes(a, b, level, match_iou=match_iou, same_iou=same_iou))
    units = GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    return Comparison(units=units, thresholds=_thresholds(units), old=old, new=new)
