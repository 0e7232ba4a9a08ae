"""Metrics per grid and per community from an assignment.

Pure functions: frames in, new frames out, indexed by unit id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap.columns import AREA_MEASURES
from gridmap.crs import area_m2

__all__ = ["grid_metrics", "community_metrics"]


def grid_metrics(
    grids: GeoDataFrame,
    households: pd.DataFrame | None,
    grid_assignment: pd.DataFrame,
    *,
    grid_area: np.ndarray | None = None,
) -> pd.DataFrame:
    """Households, coordinators, community and area of each grid.

    ``households`` is the record-level assignment (:func:`gridmap.assign.assign_households`),
    or None when household counts come from the grid attribute ``households``. ``grid_area``:
    each grid's area in m² when the caller has it (as :func:`gridmap.crs.area_m2` gives it).
    """
    out = pd.DataFrame(index=grids.index)
    out["name"] = grids["name"] if "name" in grids.columns else grids.index.astype(str)
    out["community_id"] = grid_assignment["community_geom"]
    out["community_attr"] = grids["community_id"] if "community_id" in grids.columns else pd.NA
    if households is not None:
        per = households.groupby("grid_id", observed=True)["households"].sum()
        per.index = per.index.astype(str)
        per = per.reindex(out.index.astype(str)).fillna(0)
        out["households"] = per.to_numpy().astype("float64")
        out["households_source"] = "layer"
    elif "households" in grids.columns:
        out["households"] = grids["households"].astype("float64")
        out["households_source"] = "attribute"
    else:
        out["households"] = np.nan
        out["households_source"] = "none"
    if "coordinators" in grids.columns:
        out["coordinators"] = grids["coordinators"].astype("float64")
    else:
        out["coordinators"] = np.nan
    if "population" in grids.columns:
        out["population"] = grids["population"].astype("float64")
    area = area_m2(grids).to_numpy() if grid_area is None else np.asarray(grid_area, dtype=float)
    out["area_km2"] = area / 1e6
    out["share_in_community"] = grid_assignment["share"]
    out["second_community"] = grid_assignment["second_community"]
    out["second_share"] = grid_assignment["second_share"]
    return out


def community_metrics(
    communities: GeoDataFrame,
    grid_table: pd.DataFrame | None,
    households: pd.DataFrame | None,
    facilities: GeoDataFrame | None,
    facility_assignment: pd.DataFrame | None,
    *,
    floor_area_types: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Households, grids, coordinators, floor area and facilities of each community.

    Parameters
    ----------
    floor_area_types
        ``{rule_id: [facility type keys]}`` of the profile's floor-area rules; each
        gets a column ``floor_area_m2:<rule_id>`` summing 建筑面积 (gross) of those types
        and, when the facilities carry 使用面积, a column ``usable_area_m2:<rule_id>``
        summing it (the rule reads the measure it names). A community whose
        facilities of those types all lack the measure gets NaN (not assessed), not 0.
    """
    ids = communities.index.astype(str)
    out = pd.DataFrame(index=communities.index)
    out["name"] = communities["name"] if "name" in communities.columns else ids
    if "street" in communities.columns:
        out["street"] = communities["street"]
    if households is not None:
        per = households.groupby("community_id", observed=True)["households"].sum()
        per.index = per.index.astype(str)
        out["households"] = per.reindex(ids).fillna(0).to_numpy().astype("float64")
    elif grid_table is not None and grid_table["households"].notna().any():
        per = grid_table.groupby("community_id")["households"].sum(min_count=1)
        out["households"] = per.reindex(ids).to_numpy().astype("float64")
    elif "households" in communities.columns:
        out["households"] = communities["households"].astype("float64")
    else:
        out["households"] = np.nan
    if grid_table is not None:
        g = grid_table.groupby("community_id")
        out["grids"] = g.size().reindex(ids).fillna(0).to_numpy().astype("int64")
        out["coordinators"] = g["coordinators"].sum(min_count=1).reindex(ids).to_numpy()
    else:
        out["grids"] = np.nan
        out["coordinators"] = np.nan
    skip = {"name", "street", "households", "geometry"}
    for col in communities.columns:
        if col not in skip and col not in out.columns and col != communities.geometry.name:
            out[col] = communities[col].to_numpy()
    out["area_km2"] = (area_m2(communities) / 1e6).to_numpy()
    if facilities is not None and facility_assignment is not None:
        fac = pd.DataFrame(
            {
                "community_id": facility_assignment["community_id"],
                "type": facilities["facility_type"],
            }
        )
        for measure in AREA_MEASURES.values():
            if measure in facilities.columns:
                fac[measure] = facilities[measure].astype("float64")
        fac = fac.dropna(subset=["community_id"])
        types = fac.groupby("community_id")["type"].agg(lambda s: tuple(sorted(set(s))))
        present = types.reindex(ids)
        out["facility_types"] = [t if isinstance(t, tuple) else () for t in present]
        count = fac.groupby("community_id").size().reindex(ids).fillna(0)
        out["facilities"] = count.astype("int64").to_numpy()
        for rule_id, keys in (floor_area_types or {}).items():
            for measure in AREA_MEASURES.values():
                if measure in fac.columns:
                    out[f"{measure}:{rule_id}"] = _area_sum(fac, keys, measure, ids)
    return out


def _area_sum(fac: pd.DataFrame, keys: list[str], measure: str, ids: pd.Index) -> np.ndarray:
    """Per community: the sum of ``measure`` over its facilities of types ``keys``.

    No such facility at all: 0 m² (a real shortfall); such facilities without the measure: NaN.
    """
    sub = fac[fac["type"].isin(keys)]
    total = sub.groupby("community_id")[measure].sum(min_count=1).reindex(ids)
    has_any = sub.groupby("community_id").size().reindex(ids).fillna(0) > 0
    return np.where(has_any.to_numpy(), total.to_numpy(), 0.0)
