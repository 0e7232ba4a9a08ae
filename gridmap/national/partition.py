"""Partitions of a national check: which communities each owns, and who owns everything else.

Communities nest inside administrative units, so the natural partition is the administrative
code: the first 6 digits of the 12-digit community code (区县, ``by="district"``) or the first 9
(街道, ``by="street"``). Data without codes falls back to a spatial raster of the communities'
centres (``by="spatial"``); ``by="auto"`` takes districts when every community has a 12-digit
code and the raster otherwise. ``auto`` also merges districts: each district (in code order)
joins the partition before it while that holds fewer than :data:`AUTO_TARGET` communities and
lies in the same city (so a partition holds at least that many, up to that plus one district,
unless its city has fewer). Each partition pays a fixed cost (measured: ~0.75 CPU s of
reading its window, validating it in :func:`gridmap.read_study` and running the rules on its
tables, against ~3.7 ms per community of 2,000 户 in the check itself), so a partition of 200
communities spends as much on that as on its work; at 1,000 the Dask run costs ~1.2× the
single-machine check's CPU seconds.

Each row of the result belongs to exactly one partition (so nothing is counted twice):

* a community to the partition of its code (or its centre's cell);
* a grid to the partition of the community gridmap assigns it to (largest overlap, the rule
  of :func:`gridmap.assign.assign_grids`), wherever the grid is stored;
* a household record to the partition of its community;
* anything in no community (a grid outside every community, an unassigned household, a
  facility outside every community, a gap between communities) to the partition whose
  extent (the box of its own communities) contains its location, the first in key order,
  else the nearest extent: :meth:`PartitionPlan.home`. A partition reads
  :data:`gridmap.national.HALO_DEG` around its extent, so such rows farther than that from
  every extent are not read by any partition.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridmap.national.levels import PARTITION_BY
from gridmap.national.source import Box

__all__ = ["PartitionPlan", "plan_partitions", "PARTITION_BY"]

_PREFIX = {"district": 6, "street": 9}
#: communities per partition aimed at by the spatial raster
SPATIAL_TARGET = 400
#: communities per partition that ``by="auto"`` merges small districts up to
AUTO_TARGET = 1000


@dataclass(frozen=True)
class PartitionPlan:
    """The partitions of a national check.

    Attributes
    ----------
    by
        ``"district"``, ``"street"`` or ``"spatial"`` (what ``auto`` resolved to).
    extents
        Per partition key (sorted): the longitude/latitude box of its own communities.
    counts
        Communities per partition.
    cell
        Raster cell size in degrees (``by="spatial"`` only).
    groups
        District code → partition key, where districts were merged (``by="auto"``;
        a merged partition is keyed ``"<first district>-<last district>"``).
    """

    by: str
    extents: dict[str, Box]
    counts: dict[str, int]
    cell: float = 0.0
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """The partition keys, sorted."""
        return list(self.extents)

    def key_of(self, codes: pd.Series, centres: np.ndarray | None = None) -> pd.Series:
        """The partition key of communities from their codes (or lon/lat centres when spatial)."""
        if self.by == "spatial":
            assert centres is not None
            return pd.Series(_cells(centres, self.cell), index=codes.index)
        prefix = codes.astype(str).str[: _PREFIX[self.by]]
        return prefix.map(self.groups).fillna(prefix) if self.groups else prefix

    def home(self, lonlat: np.ndarray) -> np.ndarray:
        """The partition of locations in no community (n × 2 lon/lat): see the module docstring."""
        keys = self.keys
        boxes = np.array([self.extents[k] for k in keys], dtype=float)
        if len(lonlat) == 0:
            return np.array([], dtype=object)
        x, y = lonlat[:, 0:1], lonlat[:, 1:2]
        dx = np.maximum(np.maximum(boxes[:, 0] - x, 0), x - boxes[:, 2])
        dy = np.maximum(np.maximum(boxes[:, 1] - y, 0), y - boxes[:, 3])
        dist = np.hypot(dx, dy)  # 0 inside: argmin takes the first containing box in key order
        return np.asarray(keys, dtype=object)[np.argmin(dist, axis=1)]


def _cells(centres: np.ndarray, cell: float) -> np.ndarray:
    """Raster cell names (``"sE12000N3000"``) of lon/lat points for a cell size in degrees."""
    ix = np.floor(centres[:, 0] / cell).astype(int)
    iy = np.floor(centres[:, 1] / cell).astype(int)
    return np.array([f"s{a:+06d}{b:+05d}" for a, b in zip(ix, iy, strict=True)], dtype=object)


def _merge_districts(districts: pd.Series, target: int) -> dict[str, str]:
    """District → partition key: consecutive districts of a city merged up to ``target``."""
    sizes = districts.value_counts().sort_index()
    runs: list[list[str]] = []
    size = 0
    for code, n in sizes.items():
        code = str(code)
        if runs and runs[-1][0][:4] == code[:4] and size < target:
            runs[-1].append(code)
            size += int(n)
        else:
            runs.append([code])
            size = int(n)
    return {
        code: run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs for code in run
    }


def plan_partitions(
    index: pd.DataFrame, by: str = "auto", *, target: int = AUTO_TARGET
) -> PartitionPlan:
    """Group the communities into partitions.

    Parameters
    ----------
    index
        :meth:`gridmap.national.NationalSource.community_index`: ``code`` and lon/lat boxes.
    by
        One of :data:`PARTITION_BY`.
    target
        Communities per partition that ``auto`` merges small districts of one city up to
        (1: no merging).

    Returns
    -------
    PartitionPlan

    Raises
    ------
    ValueError
        For an unknown ``by``, or ``district``/``street`` on communities without 12-digit codes.
    """
    if by not in PARTITION_BY:
        raise ValueError(f"partition_by={by!r}: use one of {', '.join(PARTITION_BY)}")
    codes = index["code"]
    coded = (
        codes.notna().all()
        and codes.astype(str).map(lambda c: bool(re.fullmatch(r"\d{12}", c))).all()
    )
    merge = by == "auto" and coded and target > 1
    if by == "auto":
        by = "district" if coded else "spatial"
    if by in _PREFIX and not coded:
        bad = codes[~codes.astype(str).str.fullmatch(r"\d{12}").fillna(False)].astype(str).head(3)
        raise ValueError(
            f"partition_by={by!r} needs a 12-digit community code on every community "
            f"(e.g. {', '.join(bad)} is not one); use partition_by='spatial'"
        )
    centres = np.column_stack(
        [(index["minx"] + index["maxx"]) / 2, (index["miny"] + index["maxy"]) / 2]
    )
    cell = 0.0
    if by == "spatial":
        n_cells = max(1, len(index) // SPATIAL_TARGET)
        w = float(index["maxx"].max() - index["minx"].min())
        h = float(index["maxy"].max() - index["miny"].min())
        cell = max(math.sqrt(max(w * h, 1e-12) / n_cells), 1e-3)
        keys = pd.Series(_cells(centres, cell), index=index.index)
    groups: dict[str, str] = {}
    if by != "spatial":
        keys = codes.astype(str).str[: _PREFIX[by]]
        if merge:
            groups = _merge_districts(keys, target)
            keys = keys.map(groups)
    boxes = index.assign(key=keys.to_numpy()).groupby("key", sort=True)
    agg = boxes.agg(
        minx=("minx", "min"), miny=("miny", "min"), maxx=("maxx", "max"), maxy=("maxy", "max")
    )
    extents = {
        str(k): (float(r.minx), float(r.miny), float(r.maxx), float(r.maxy))
        for k, r in agg.iterrows()
    }
    counts = {str(k): int(n) for k, n in boxes.size().items()}
    return PartitionPlan(by=by, extents=extents, counts=counts, cell=cell, groups=groups)
