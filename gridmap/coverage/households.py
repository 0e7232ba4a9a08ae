"""The households coverage is measured for: one row per household record, with its location.

From the record-level assignment of a household layer (each record × grid
share), or, when households are only a grid attribute, spread evenly over each
grid (:func:`spread_points`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridmap.assign import apportion
from gridmap.coverage.straight import point_xy

__all__ = ["household_rows", "spread_points", "SPREAD_M", "SPREAD_MAX", "HOUSEHOLD_COLUMNS"]

#: spacing (m) of the points a grid's household count is spread over when there is no household
#: layer
SPREAD_M = 50.0
#: points per grid at most (larger grids get a wider spacing)
SPREAD_MAX = 400
#: the first columns of the household table
HOUSEHOLD_COLUMNS = ["record", "grid_id", "community_id", "households"]


def household_rows(
    study: Any, assignment: pd.DataFrame | None, grid_table: pd.DataFrame | None
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The household rows, their locations, and where they came from.

    Returns
    -------
    rows : DataFrame
        ``record``, ``grid_id``, ``community_id``, ``households`` (empty when the
        study has no households).
    xy : ndarray, shape (n, 2)
    source : {"layer", "grid_attribute", "none"}
        The household layer (record-level assignment), grid points (households
        as a grid attribute), or none.
    """
    if assignment is not None and study.households is not None:
        hh_geom = study.households.geometry
        pos = study.households.index.get_indexer(assignment["record"].to_numpy())
        xy = point_xy(hh_geom)[pos]
        rows = assignment[HOUSEHOLD_COLUMNS].reset_index(drop=True).copy()
        return rows, xy, "layer"
    if (
        study.grids is not None
        and grid_table is not None
        and grid_table["households"].notna().any()
    ):
        return (*_grid_points(study.grids, grid_table), "grid_attribute")
    return pd.DataFrame(columns=HOUSEHOLD_COLUMNS), np.empty((0, 2)), "none"


def _grid_points(grids: Any, grid_table: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Each grid's household count spread over points inside it (one row per used point)."""
    g = grid_table[grid_table["households"].notna()]
    pos, xy = spread_points(grids.geometry.loc[g.index].to_numpy())
    counts = np.round(g["households"].to_numpy(dtype=float)).astype(np.int64)
    share = apportion(counts, pd.DataFrame({"part": pos, "zone": np.arange(len(pos)), "area": 1.0}))
    share = share[share["count"] > 0]
    part, zone = share["part"].to_numpy(), share["zone"].to_numpy()
    k = zone - np.searchsorted(pos, pos[zone])  # the point's number within its grid
    gid = g.index.astype(str).to_numpy()
    rows = pd.DataFrame(
        {
            "record": [f"{a}#{b + 1}" for a, b in zip(gid[part], k, strict=True)],
            "grid_id": gid[part],
            "community_id": g["community_id"].astype("string").to_numpy()[part],
            "households": share["count"].to_numpy(),
        }
    )
    return rows, xy[zone]


def spread_points(grids: np.ndarray, spacing: float = SPREAD_M) -> tuple[np.ndarray, np.ndarray]:
    """Points spread evenly over each polygon: the centres of a square lattice inside it.

    At most ``SPREAD_MAX`` per polygon (a wider spacing for large ones); a polygon
    too small or thin for any lattice point gets its representative point, a
    missing or empty one a NaN point. Within a polygon the points come in an
    order whose every prefix is spread over the whole polygon (golden-ratio
    order), so a count smaller than the number of points is not piled up on
    one side when it is split over them.

    Returns
    -------
    (ndarray of int, ndarray (n, 2))
        The polygon position of each point (sorted) and its coordinates.

    Examples
    --------
    >>> from shapely import box
    >>> pos, xy = spread_points(np.array([box(0, 0, 100, 100), box(0, 0, 10, 10)]))
    >>> pos.tolist(), xy.tolist()
    ([0, 0, 0, 0, 1], [[25.0, 25.0], [75.0, 25.0], [25.0, 75.0], [75.0, 75.0], [5.0, 5.0]])
    """
    grids = np.asarray(grids)
    n = len(grids)
    valid = ~(shapely.is_missing(grids) | shapely.is_empty(grids))
    vi = np.flatnonzero(valid)
    b = shapely.bounds(grids[vi])
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    step = np.maximum(spacing, np.sqrt(np.maximum(w * h, 0.0) / SPREAD_MAX))
    nx = np.maximum(np.ceil(w / step), 1).astype(np.int64)
    ny = np.maximum(np.ceil(h / step), 1).astype(np.int64)
    cnt = nx * ny
    at = np.repeat(np.arange(len(vi)), cnt)
    k = np.arange(len(at)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    # lattice centred on the bounding box
    x = b[at, 0] + (w[at] - (nx[at] - 1) * step[at]) / 2 + (k // ny[at]) * step[at]
    y = b[at, 1] + (h[at] - (ny[at] - 1) * step[at]) / 2 + (k % ny[at]) * step[at]
    inside = shapely.contains_xy(grids[vi[at]], x, y)
    pos, xy, k = vi[at[inside]], np.column_stack([x[inside], y[inside]]), k[inside]
    # polygons without a lattice point: their representative point; missing/empty ones: NaN
    rest = np.setdiff1d(np.arange(n), pos)
    rest_xy = np.full((len(rest), 2), np.nan)
    ok = valid[rest]
    if ok.any():
        rest_xy[ok] = shapely.get_coordinates(shapely.point_on_surface(grids[rest[ok]]))
    pos, xy = np.concatenate([pos, rest]), np.vstack([xy, rest_xy])
    k = np.concatenate([k, np.zeros(len(rest), dtype=np.int64)])
    order = np.lexsort(((k * 0.6180339887498949) % 1.0, pos))
    return pos[order], xy[order]
