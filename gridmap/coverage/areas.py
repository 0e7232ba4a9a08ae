"""Service-area polygons of facilities: radius circles (straight line) and network isochrones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries

from gridmap.coverage.spec import CoverageSpec
from gridmap.network import Network, Snap, service_areas

__all__ = ["facility_service_areas"]


def facility_service_areas(
    specs: list[CoverageSpec],
    facilities: GeoDataFrame,
    types: np.ndarray,
    xy: np.ndarray,
    net: Network | None,
    snap: Snap | None,
    *,
    crs: object,
    buffer_m: float,
) -> GeoDataFrame:
    """One service-area polygon per facility and mode, at the largest radius of its type.

    Straight line: a circle; walking: the network isochrone
    (:func:`gridmap.network.service_areas`, streets buffered by ``buffer_m``).
    Walking specs without a network get none.

    Parameters
    ----------
    specs : list of CoverageSpec
    facilities : GeoDataFrame
        Ids from the index, ``name`` when present.
    types, xy : ndarray
        Facility type and location of each facility.
    net, snap : Network and the facilities' Snap, or None
    crs : keyword-only
    buffer_m : float, keyword-only

    Returns
    -------
    GeoDataFrame
        ``facility_id``, ``name``, ``facility_type``, ``mode``, ``radius_m``.
    """
    radius: dict[tuple[str, str], float] = {}
    for s in specs:
        if s.mode == "network" and net is None:
            continue
        key = (s.facility_type, s.mode)
        radius[key] = max(radius.get(key, 0.0), s.radius_m)
    recs, geoms = [], []
    ids = facilities.index.astype(str).to_numpy()
    names = facilities["name"].astype("string").to_numpy() if "name" in facilities.columns else ids
    for (ftype, mode), r in radius.items():
        pos = np.flatnonzero(types == ftype)
        if not len(pos):
            continue
        if mode == "straight":
            g = shapely.buffer(shapely.points(xy[pos]), r, quad_segs=16)
        else:
            assert net is not None and snap is not None  # walking specs without a network: skipped
            g = service_areas(net, snap, pos, radius=r, buffer_m=buffer_m)
        geoms.append(g)
        recs.append(
            pd.DataFrame(
                {
                    "facility_id": ids[pos],
                    "name": names[pos],
                    "facility_type": ftype,
                    "mode": mode,
                    "radius_m": r,
                }
            )
        )
    if not recs:
        return GeoDataFrame(
            {"facility_id": [], "name": [], "facility_type": [], "mode": [], "radius_m": []},
            geometry=GeoSeries([], crs=crs),
            crs=crs,
        )
    return GeoDataFrame(pd.concat(recs, ignore_index=True), geometry=np.concatenate(geoms), crs=crs)
