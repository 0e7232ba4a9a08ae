"""A snapshot: the communities and grids of one check output, read back for comparison.

``gridmap check --out DIR`` (:meth:`gridmap.CheckResult.to_dir`) writes ``result.gpkg`` (units
with geometry) and ``communities.csv`` / ``grids.csv``; :func:`read_snapshot` reads either
back (the GeoPackage when present: geometry lets units be matched by shape as well as by code).
A :class:`gridmap.CheckResult` in memory is a snapshot too (:func:`snapshot_of`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
from geopandas import GeoDataFrame, read_file

from gridmap._errors import InputError, Problem
from gridmap.check import CheckResult

__all__ = ["Snapshot", "read_snapshot", "snapshot_of"]

#: the id column of each level
ID = {"communities": "community_id", "grids": "grid_id"}


@dataclass
class Snapshot:
    """The units of one check output.

    Attributes
    ----------
    communities, grids
        Indexed by id (text); with geometry when read from ``result.gpkg`` (else ``geometry``
        is all missing). ``grids`` is None when the check had no grid layer.
    summary
        ``summary.json`` of the output ({} when absent).
    source
        Where it was read from.
    """

    communities: GeoDataFrame
    grids: GeoDataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def band(self) -> tuple[float, float] | None:
        """The household band the check used (None when unknown)."""
        band = (self.summary.get("communities_size") or {}).get("band")
        return (float(band[0]), float(band[1])) if band else None

    def level(self, name: str) -> GeoDataFrame | None:
        """``"communities"`` or ``"grids"``."""
        return self.communities if name == "communities" else self.grids


def _indexed(frame: pd.DataFrame, level: str, crs: Any = None) -> GeoDataFrame:
    id_col = ID[level]
    df = frame.copy()
    df[id_col] = df[id_col].astype(str)
    if "geometry" not in df.columns:
        df["geometry"] = None
    gdf = GeoDataFrame(df, geometry="geometry", crs=crs or getattr(frame, "crs", None))
    return gdf.set_index(id_col)


def snapshot_of(result: CheckResult) -> Snapshot:
    """A check result as a snapshot (what ``to_dir`` would write, without writing it)."""
    comm = result.communities.copy()
    comm.index = comm.index.astype(str)
    grids = None
    if result.grids is not None:
        grids = result.grids.copy()
        grids.index = grids.index.astype(str)
        grids["community_id"] = grids["community_id"].astype("string")
    return Snapshot(comm, grids, result.summary(), source=result.study.name)


def read_snapshot(path: str | os.PathLike, *, param: str = "path") -> Snapshot:
    """Read a check output folder (or its ``result.gpkg``).

    Parameters
    ----------
    path
        The ``out`` folder of a check, or the ``result.gpkg`` in it.
    param
        The parameter name to give in an error (e.g. ``"old"``).

    Raises
    ------
    InputError
        When neither ``result.gpkg`` nor ``communities.csv`` is there.
    """
    p = Path(path)
    folder = p.parent if p.suffix.lower() == ".gpkg" else p
    gpkg = p if p.suffix.lower() == ".gpkg" else p / "result.gpkg"
    summary_file = folder / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else {}
    if gpkg.exists():
        layers = {str(name) for name, _ in pyogrio.list_layers(gpkg)}
        if "communities" not in layers:
            raise InputError(_missing(p, param, f"{gpkg} 中没有 communities 图层"))
        comm = _indexed(read_file(gpkg, layer="communities"), "communities")
        grids = _indexed(read_file(gpkg, layer="grids"), "grids") if "grids" in layers else None
        return Snapshot(comm, grids, summary, source=str(gpkg))
    if (folder / "communities.csv").exists():
        comm = pd.read_csv(folder / "communities.csv", dtype={"community_id": str})
        grids_csv = folder / "grids.csv"
        grids = (
            _indexed(pd.read_csv(grids_csv, dtype={"grid_id": str, "community_id": str}), "grids")
            if grids_csv.exists()
            else None
        )
        return Snapshot(_indexed(comm, "communities"), grids, summary, source=str(folder))
    raise InputError(_missing(p, param, f"{p} 不是检查结果（没有 result.gpkg 或 communities.csv）"))


def _missing(path: Path, param: str, message: str) -> Problem:
    return Problem(
        "error",
        "compare.not_a_result",
        message + f" (not a check output: {path})",
        fix=f"{param}= 应为检查输出文件夹（含 result.gpkg），即 check 结果 to_dir() 写出的文件夹",
        file=str(path),
        param=param,
    )
