"""One partition of a national check: read its window, run gridmap's check, keep what it owns.

:func:`check_partition` is what a Dask worker runs. It is the single-machine check
(:func:`gridmap.read_study` then :func:`gridmap.check`) on a window of the data, in the
partition's own metric CRS, the CGCS2000 3° Gauss-Krüger zone of the centre of its communities.
The window is chosen so that every unit the partition owns is decided exactly as on the
whole data:

1. grids meeting the partition's extent (grown by :data:`HALO_DEG`): every grid that can be
   assigned to one of its communities, or that lies in no community near it;
2. the window ``E``: that extent grown to those grids' boxes; every grid and community meeting
   ``E`` is read, so each grid above is weighed against every community it overlaps, and a
   household point in ``E`` sees every grid and community that covers it;
3. households in ``E``, and those of a halo around it that are homed to the partition
   (:meth:`~gridmap.national.PartitionPlan.home`: in no community, nearest its extent);
   facilities in ``E`` + the largest coverage reach, so a household's coverage flag sees
   every facility within the radius;
4. the street network (``network``, for walking-distance coverage) in ``E`` + the same reach:
   a walk of length ≤ d from a household never leaves the disc of radius d around it, so every
   street on a walk the check measures (up to ``search_factor`` × the radius, plus
   ``max_snap_m`` at either end to the street a household or facility is snapped to) is read,
   and each household's distances are those of the whole network.

Rows are then kept by the ownership rules of :mod:`gridmap.national.partition` and returned in
longitude/latitude (EPSG:4490), with the partition's CRS recorded.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from geopandas import GeoDataFrame

from gridmap._errors import Problem
from gridmap.check import check
from gridmap.coverage import measure_coverage, specs_from_profile
from gridmap.crs import crs_label, gk_zone_crs
from gridmap.national.partition import PartitionPlan
from gridmap.national.source import LONLAT, Box, NationalSource
from gridmap.qa import assignment_qa, community_attr_qa
from gridmap.rules import load_profile
from gridmap.study import read_study

__all__ = ["check_partition", "PartitionOutput", "HALO_DEG", "partition_crs"]

#: halo around a partition's extent (degrees, ≈ 2 km): grids and records in no community
HALO_DEG = 0.02
_M_PER_DEG = 110_574.0
#: the findings on a grid's 所属社区, decided again against the country's names and codes
_ATTR_RULES = ("qa.grid.community_unknown", "qa.grid.community_mismatch")


@dataclass
class PartitionOutput:
    """What one partition hands back to the national result (all in EPSG:4490).

    Attributes
    ----------
    key, crs
        The partition and the metric CRS it was checked in.
    communities, grids
        The owned units with their metrics and status (as :class:`gridmap.CheckResult`).
    findings
        Findings on owned units; the study-level household rows of the owned records.
    households
        The owned household records summed by state: ``households``, ``records``,
        ``in_grid``, ``in_community`` (one row per state).
    problems
        Input problems of the partition's study.
    gap_lonlat
        The longitude/latitude centre of each owned gap finding (``qa.community.gap``), in
        the order of those rows in ``findings`` (:func:`~gridmap.national.combine` numbers
        the gaps of the whole by it).
    stats
        Rows read per layer, seconds, CPU seconds of the worker process meanwhile (``cpu_s``:
        the work itself, where ``seconds`` also holds waiting for a shared core), worker host
        and process.
    """

    key: str
    crs: str
    epsg: int | None
    communities: GeoDataFrame
    grids: GeoDataFrame | None
    findings: pd.DataFrame
    households: pd.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    gap_lonlat: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    stats: dict[str, Any] = field(default_factory=dict)


def partition_crs(plan: PartitionPlan, key: str) -> Any:
    """The metric CRS of a partition: the GK zone of its extent's centre longitude."""
    x0, _, x1, _ = plan.extents[key]
    return gk_zone_crs((x0 + x1) / 2)


def _grow(box: Box, dx: float, dy: float | None = None) -> Box:
    dy = dx if dy is None else dy
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy)


def _union(box: Box, gdf: GeoDataFrame | None) -> Box:
    if gdf is None or not len(gdf):
        return box
    b = gdf.to_crs(LONLAT).total_bounds if gdf.crs is not None else gdf.total_bounds
    return (min(box[0], b[0]), min(box[1], b[1]), max(box[2], b[2]), max(box[3], b[3]))


def _reach_m(spec: Any) -> float:
    """How far from a household a coverage spec looks (metres): step 4 of the module docstring."""
    if spec.mode != "network":
        return float(spec.radius_m)
    # the check runs measure_coverage with its defaults: read them, so the window follows them
    defaults = inspect.signature(measure_coverage).parameters
    search = float(defaults["search_factor"].default)
    snap = float(defaults["max_snap_m"].default)
    return search * float(spec.radius_m) + 2 * snap


def _coverage_margin(profile: Any, lat: float) -> tuple[float, float]:
    """The largest coverage reach of the profile in degrees (longitude, latitude)."""
    radius = max((_reach_m(s) for s in specs_from_profile(profile)), default=0.0)
    dy = radius / _M_PER_DEG
    return dy / max(math.cos(math.radians(min(abs(lat), 80.0))), 0.1), dy


def _read_window(
    source: NationalSource, plan: PartitionPlan, key: str, profile: Any
) -> dict[str, GeoDataFrame]:
    """The layers of the partition's window (steps 1–3 of the module docstring)."""
    own = plan.extents[key]
    layers: dict[str, GeoDataFrame] = {}
    window = own
    if "grids" in source.layers:
        window = _union(own, source.read("grids", _grow(own, HALO_DEG)))
        layers["grids"] = source.read("grids", window)
    layers["communities"] = source.read("communities", window)
    if "households" in source.layers:
        hh = source.read("households", _grow(window, HALO_DEG))
        layers["households"] = _drop_foreign_halo(hh, window, plan, key)
    mx, my = _coverage_margin(profile, max(abs(window[1]), abs(window[3])))
    for kind in ("facilities", "network"):
        if kind in source.layers:
            layers[kind] = source.read(kind, _grow(window, mx + HALO_DEG, my + HALO_DEG))
    return layers


def _drop_foreign_halo(
    hh: GeoDataFrame, window: Box, plan: PartitionPlan, key: str
) -> GeoDataFrame:
    """The household records of the window, and those of its halo this partition may own.

    Every unit the partition owns lies inside the window, so a record outside it counts only
    when it is in no community and homed here (:meth:`PartitionPlan.home`); the others (in a
    neighbour's communities) would be assigned and measured for nothing — 15–25 % more
    records in a partition of 100–200 communities.
    """
    if not len(hh):
        return hh
    b = shapely.bounds(np.asarray((hh.to_crs(LONLAT) if hh.crs is not None else hh).geometry))
    inside = (
        (b[:, 0] <= window[2])
        & (b[:, 2] >= window[0])
        & (b[:, 1] <= window[3])
        & (b[:, 3] >= window[1])
    )
    if inside.all():
        return hh
    keep = inside.copy()
    outside = np.flatnonzero(~inside)
    keep[outside[plan.home(_lonlat_points(hh.iloc[outside])) == key]] = True
    return hh[keep].reset_index(drop=True)


def _lonlat_points(gdf: GeoDataFrame) -> np.ndarray:
    pts = shapely.point_on_surface(np.asarray(gdf.to_crs(LONLAT).geometry.values))
    return shapely.get_coordinates(pts) if len(pts) else np.empty((0, 2))


def _text_array(values: Any) -> pa.Array | None:
    """``values`` as an Arrow text array (no copy for Arrow-backed text); None: not all text."""
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if pa.types.is_null(arr.type):
        return arr.cast(pa.large_string())
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def _isin(values: pd.Series | pd.Index, ids: Any) -> np.ndarray:
    """``values.isin(ids)`` for text, as one hash lookup in Arrow.

    pandas' ``isin`` on Arrow-backed text makes a Python scalar of every id (0.1 s for 20 000
    findings against 2 000 ids; this takes a millisecond). Values or ids that are not all
    text go through pandas.
    """
    arr, wanted = _text_array(values), _text_array(ids)
    if arr is None or wanted is None:
        return np.asarray(pd.Series(np.asarray(values, dtype=object)).isin(list(ids)))
    if not len(wanted):
        return np.zeros(len(arr), dtype=bool)
    found = pc.is_in(arr, value_set=wanted.cast(arr.type))
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _owned_communities(result: Any, plan: PartitionPlan, key: str) -> pd.Index:
    comms = result.communities
    centres = None
    if plan.by == "spatial":
        b = comms.to_crs(LONLAT).geometry.bounds
        centres = np.column_stack([(b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2])
    keys = plan.key_of(comms.index.to_series().astype(str), centres)
    return comms.index[(keys == key).to_numpy()]


def _owned_grids(result: Any, plan: PartitionPlan, key: str, comms: pd.Index) -> pd.Index:
    grids = result.grids
    cid = grids["community_id"]
    mine = _isin(cid, comms)
    none = cid.isna().to_numpy()
    if none.any():
        home = plan.home(_lonlat_points(grids[none]))
        mine[np.flatnonzero(none)[home == key]] = True
    return grids.index[mine]


def _owned_households(result: Any, plan: PartitionPlan, key: str, comms: pd.Index) -> pd.DataFrame:
    hh = result.households
    mine = _isin(hh["community_id"], comms)
    none = hh["community_id"].isna().to_numpy()
    if none.any():
        points = result.study.households.loc[hh.index[none]]
        mine[np.flatnonzero(none)[plan.home(_lonlat_points(points)) == key]] = True
    return hh[mine]


def _household_states(hh: pd.DataFrame) -> pd.DataFrame:
    """Owned household records summed by state (in a grid / in a community)."""
    state = pd.DataFrame(
        {
            "in_grid": hh["grid_id"].notna().to_numpy(),
            "in_community": hh["community_id"].notna().to_numpy(),
            "households": hh["households"].to_numpy(dtype=float),
        }
    )
    out = state.groupby(["in_grid", "in_community"], as_index=False).agg(
        households=("households", "sum"), records=("households", "size")
    )
    return out


def _gap_lonlat(findings: pd.DataFrame, crs: Any) -> np.ndarray:
    """The longitude/latitude of each gap finding's centre ``(x, y)`` in the partition's CRS."""
    xy = np.array(
        [
            [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", str(n))[:2]]
            for n in findings["unit_name"]
        ],
        dtype=float,
    ).reshape(-1, 2)
    if not len(xy):
        return np.empty((0, 2))
    return shapely.get_coordinates(
        GeoDataFrame(geometry=shapely.points(xy), crs=crs).to_crs(LONLAT).geometry.values
    )


def _owned_findings(
    result: Any,
    plan: PartitionPlan,
    key: str,
    comms: pd.Index,
    grids: pd.Index,
    hh: Any,
    lookup: dict[str, Any] | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The findings on what the partition owns, and the lon/lat centres of its own gaps."""
    f = result.findings
    level, unit = f["level"], f["unit_id"].astype(str)
    keep = (level == "community") & _isin(unit, comms.astype(str))
    keep |= (level == "grid") & _isin(unit, grids.astype(str))
    attr = None
    if lookup is not None and result.grids is not None:
        # a 所属社区 name is unique or ambiguous in the country, not in this window
        keep &= ~f["rule_id"].isin(_ATTR_RULES)
        attr = community_attr_qa(result.grids.loc[grids], result.communities, lookup)
    fac = level == "facility"
    if fac.any() and result.facilities is not None:
        located = result.facilities.loc[_isin(result.facilities.index.astype(str), unit[fac])]
        home = pd.Series(plan.home(_lonlat_points(located)), index=located.index.astype(str))
        keep |= fac & unit.map(home).eq(key)
    gaps = (f["rule_id"] == "qa.community.gap").to_numpy()
    lonlat = _gap_lonlat(f[gaps], result.study.crs)
    mine = plan.home(lonlat) == key
    keep[gaps] = mine
    parts = [f[keep.to_numpy()]]
    if attr is not None and len(attr):
        parts.append(attr[f.columns])
    if hh is not None:  # the study-level household rows, of the owned records only
        parts.append(assignment_qa(hh, result.grids is not None, None, None))
    return pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True), lonlat[mine]


def check_partition(
    source: NationalSource,
    plan: PartitionPlan,
    key: str,
    *,
    profile: str = "national",
    lang: str = "zh",
    study_options: dict[str, Any] | None = None,
    lookup: dict[str, Any] | None = None,
) -> PartitionOutput:
    """Check one partition with gridmap's check and return the rows it owns.

    Parameters
    ----------
    source
        Where the layers are.
    plan
        The partitions (:func:`gridmap.national.plan_partitions`).
    key
        The partition to check.
    profile, lang
        As :func:`gridmap.check`.
    study_options
        Further keywords of :func:`gridmap.read_study` (``mapping``, ``households_method``,
        ``facilities_crs``, ``households_crs``, ``name``).
    lookup
        What a grid's 所属社区 text resolves to over the whole country
        (:func:`gridmap.qa.community_lookup`); None: resolved within the window.

    Returns
    -------
    PartitionOutput
    """
    t0, cpu0 = time.perf_counter(), time.process_time()
    prof = load_profile(profile)
    metric = partition_crs(plan, key)
    layers = _read_window(source, plan, key, prof)
    study = read_study(
        **layers, metric=metric, crs=source.crs, profile=profile, **(study_options or {})
    )
    result = check(study, prof, lang=lang)
    comms = _owned_communities(result, plan, key)
    grids = _owned_grids(result, plan, key, comms) if result.grids is not None else pd.Index([])
    hh = _owned_households(result, plan, key, comms) if result.households is not None else None
    findings, gap_lonlat = _owned_findings(result, plan, key, comms, grids, hh, lookup)
    return PartitionOutput(
        key=key,
        crs=crs_label(metric),
        epsg=metric.to_epsg(),
        communities=result.communities.loc[comms].to_crs(LONLAT),
        grids=None if result.grids is None else result.grids.loc[grids].to_crs(LONLAT),
        findings=findings,
        households=None if hh is None else _household_states(hh),
        problems=list(result.problems),
        gap_lonlat=gap_lonlat,
        stats={
            **{f"read_{k}": len(v) for k, v in layers.items()},
            "seconds": time.perf_counter() - t0,
            "cpu_s": time.process_time() - cpu0,
            "worker": f"{socket.gethostname()}:{os.getpid()}",
        },
    )
