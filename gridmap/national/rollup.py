"""Roll-ups: a check's communities summed per 街道, 区县, 市 or 省 by their administrative code.

The 12-digit community code nests the levels: its first 2 digits are the province, 4 the city,
6 the district, 9 the street. :func:`rollup` reads a check's output folder (``communities.csv``,
``grids.csv``, ``findings.csv``, ``summary.json``, ``result.gpkg``, as written by
``gridmap check`` on one machine or on Dask) and returns one row per unit of the level:

* ``communities``, ``communities_in_band`` / ``too_small`` / ``too_large`` /
  ``size_not_assessed`` (the size status of the one evaluation) and the community status counts
  (``fail``, ``warning``, ``pass``, ``not_assessed``);
* ``households``, ``grids``, ``coordinators``, ``coordinators_required`` and
  ``coordinators_short`` (per grid, what is missing, summed; communities without grids count
  their own shortfall);
* ``floor_area_short_m2``: the gaps of the failing ``floor_area`` rules; communities short;
* ``coverage:{rule}``: the household-weighted share covered, per coverage rule;
* ``rules_not_assessed``: rule findings that could not be assessed (missing data).

:func:`write_rollup` writes it as CSV, XLSX and GeoParquet (units dissolved from the
communities' polygons).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path
from gridmap.national.levels import LEVELS
from gridmap.rules import load_profile

__all__ = ["rollup", "write_rollup", "LEVELS", "read_check_dir"]

_STATUS = ("fail", "warning", "pass", "not_assessed")
_SIZE = {"pass": "communities_in_band", "too_small": "too_small", "too_large": "too_large"}


def read_check_dir(folder: str | os.PathLike) -> dict[str, pd.DataFrame | dict]:
    """The tables of a check's output folder: communities, grids (None), findings, summary."""
    folder = Path(folder)
    missing = [n for n in ("communities.csv", "findings.csv") if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} 不是检查结果文件夹（缺少 {', '.join(missing)}）/ not a check output folder"
        )
    ids = {"community_id": str, "grid_id": str, "unit_id": str}
    out: dict[str, pd.DataFrame | dict] = {
        "communities": pd.read_csv(folder / "communities.csv", dtype=ids, encoding="utf-8-sig"),
        "findings": pd.read_csv(folder / "findings.csv", dtype=ids, encoding="utf-8-sig"),
    }
    if (folder / "grids.csv").is_file():
        out["grids"] = pd.read_csv(folder / "grids.csv", dtype=ids, encoding="utf-8-sig")
    if (folder / "summary.json").is_file():
        out["summary"] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return out


def _level_key(codes: pd.Series, level: str) -> pd.Series:
    if level not in LEVELS:
        raise ValueError(f"level={level!r}: use one of {', '.join(LEVELS)}")
    codes = codes.astype(str)
    bad = ~codes.str.fullmatch(r"\d{12}")
    if bad.any():
        raise ValueError(
            f"社区编码不是 12 位行政区划代码，无法按{level}汇总（例如 {codes[bad].iloc[0]!r}）"
            f" / community codes must be 12-digit codes to roll up by {level}"
        )
    return codes.str[: LEVELS[level]]


def _grid_shortfall(grids: pd.DataFrame | None, comms: pd.DataFrame) -> pd.Series:
    """Coordinators missing per community: per grid when there are grids, else per community."""
    own = (comms["coordinators_required"] - comms["coordinators"]).clip(lower=0).fillna(0)
    short = pd.Series(own.to_numpy(dtype=float), index=comms["community_id"])
    if grids is None or not len(grids) or "coordinators_required" not in grids.columns:
        return short
    g = grids[grids["community_id"].notna()]
    per = (g["coordinators_required"] - g["coordinators"]).clip(lower=0).fillna(0)
    by_comm = per.groupby(g["community_id"].to_numpy()).sum()
    gridded = short.index.isin(by_comm.index)
    short[gridded] = by_comm.reindex(short.index[gridded]).to_numpy()
    return short


def rollup(tables: dict, level: str) -> pd.DataFrame:
    """One row per unit of ``level`` summing a check's communities (see the module docstring).

    Parameters
    ----------
    tables
        :func:`read_check_dir` of a check's output folder.
    level
        ``"street"``, ``"district"``, ``"city"`` or ``"province"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by the unit's code prefix (``code``), sorted.
    """
    comms = tables["communities"].copy()
    findings = tables["findings"]
    comms["code"] = _level_key(comms["community_id"], level)
    profile = load_profile((tables.get("summary") or {}).get("profile", "national"))
    groups = comms.groupby("code", sort=True)
    out = pd.DataFrame({"communities": groups.size()})
    if level == "street" and "street" in comms.columns:
        out.insert(0, "street_name", groups["street"].first())
    size = comms.get("size_status", pd.Series("not_assessed", index=comms.index))
    for value, col in _SIZE.items():
        out[col] = (size == value).groupby(comms["code"]).sum()
    out["size_not_assessed"] = (~size.isin(list(_SIZE))).groupby(comms["code"]).sum()
    for status in _STATUS:
        out[f"status_{status}"] = (comms["status"] == status).groupby(comms["code"]).sum()
    for col in ("households", "grids", "coordinators", "coordinators_required"):
        if col in comms.columns:
            out[col] = pd.to_numeric(comms[col], errors="coerce").groupby(comms["code"]).sum()
    if "coordinators_required" in comms.columns:
        short = _grid_shortfall(tables.get("grids"), comms)
        out["coordinators_short"] = short.groupby(comms["code"].to_numpy()).sum()
    floor_rules = [r.id for r in profile.rules if r.kind == "floor_area"]
    floor = findings[findings["rule_id"].isin(floor_rules) & (findings["status"] == "fail")]
    floor_code = _level_key(floor["unit_id"], level) if len(floor) else floor["unit_id"]
    gaps = pd.to_numeric(floor["gap"], errors="coerce").groupby(floor_code.to_numpy())
    out["floor_area_short_m2"] = gaps.sum().reindex(out.index).fillna(0.0).round(1)
    out["communities_floor_area_short"] = gaps.size().reindex(out.index).fillna(0).astype(int)
    hh = pd.to_numeric(comms.get("households"), errors="coerce").fillna(0)
    for col in [c for c in comms.columns if c.startswith("coverage:")]:
        share = pd.to_numeric(comms[col], errors="coerce")
        weight = hh.where(share.notna(), 0.0)
        num = (share.fillna(0) * weight).groupby(comms["code"]).sum()
        den = weight.groupby(comms["code"]).sum()
        out[col] = (num / den.replace(0, np.nan)).round(4)
    rules = findings[
        ~findings["rule_id"].str.startswith("qa.") & (findings["level"] == "community")
    ]
    na = rules[rules["status"] == "not_assessed"]
    na_code = _level_key(na["unit_id"], level) if len(na) else na["unit_id"]
    out["rules_not_assessed"] = na.groupby(na_code.to_numpy()).size().reindex(out.index).fillna(0)
    out = out.fillna(0)
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]) and (out[col] % 1 == 0).all():
            if not col.startswith("coverage:"):
                out[col] = out[col].astype("int64")
    out.index.name = "code"
    return out


def _dissolved(folder: Path, table: pd.DataFrame, level: str) -> GeoDataFrame | None:
    """The table with each unit's polygon, dissolved from ``result.gpkg``'s communities."""
    gpkg = folder / "result.gpkg"
    if not gpkg.is_file():
        return None
    comms = pyogrio.read_dataframe(gpkg, layer="communities", columns=["community_id"])
    comms["code"] = _level_key(comms["community_id"], level)
    shapes = comms[["code", "geometry"]].dissolve(by="code")
    return GeoDataFrame(table.join(shapes), geometry="geometry", crs=comms.crs)


def write_rollup(
    folder: str | os.PathLike, level: str, out: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Roll a check's output folder up to ``level`` and write CSV, XLSX and GeoParquet.

    Parameters
    ----------
    folder
        The check's output folder.
    level
        One of :data:`LEVELS`.
    out
        Where to write (default: ``folder``); files ``rollup_{level}.csv|xlsx|parquet``.

    Returns
    -------
    dict
        File name → path written.
    """
    folder = Path(folder)
    target = Path(out) if out is not None else folder
    target.mkdir(parents=True, exist_ok=True)
    table = rollup(read_check_dir(folder), level)
    written: dict[str, Path] = {}
    csv = target / f"rollup_{level}.csv"
    with atomic_path(csv, suffix=".csv") as tmp:
        table.reset_index().to_csv(tmp, index=False, encoding="utf-8-sig")
    written[csv.name] = csv
    xlsx = target / f"rollup_{level}.xlsx"
    with atomic_path(xlsx, suffix=".xlsx") as tmp:
        table.reset_index().to_excel(tmp, index=False, sheet_name=level, engine="xlsxwriter")
    written[xlsx.name] = xlsx
    shapes = _dissolved(folder, table, level)
    if shapes is not None:
        parquet = target / f"rollup_{level}.parquet"
        with atomic_path(parquet, suffix=".parquet") as tmp:
            shapes.reset_index().to_parquet(tmp, index=False, write_covering_bbox=True)
        written[parquet.name] = parquet
    return written
