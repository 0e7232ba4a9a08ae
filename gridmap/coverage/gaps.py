"""The gap layer: uncovered households binned into hexagon or square cells.

By default no count of the layer comes from fewer than
:data:`~gridmap.coverage.privacy.MIN_BUILDINGS` household records: short cells are
merged with their nearest neighbours (:mod:`~gridmap.coverage.privacy`).
``household_level=True`` gives the raw cells.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap.coverage.privacy import (
    MIN_BUILDINGS,
    contributing_records,
    merge_small_cells,
    record_ids,
)
from gridmap.coverage.spec import CoverageSpec

__all__ = ["gap_cells"]


def _cells(
    xy: np.ndarray, size: float, shape: str
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Cell key (i, j) and the polygon of each key, for hexagons (pointy top) or squares."""
    if shape == "square":
        ij = np.floor(xy / size).astype(np.int64)
        return ij, lambda k: shapely.box(
            k[:, 0] * size, k[:, 1] * size, (k[:, 0] + 1) * size, (k[:, 1] + 1) * size
        )
    if shape != "hex":
        raise ValueError(f"cell shape must be 'hex' or 'square', not {shape!r}")
    r = size / np.sqrt(3.0)  # circumradius; size = distance across flats = centre spacing
    q = (np.sqrt(3.0) / 3.0 * xy[:, 0] - xy[:, 1] / 3.0) / r
    rr = (2.0 / 3.0 * xy[:, 1]) / r
    x, z = q, rr
    y = -x - z
    rx, ry, rz = np.round(x), np.round(y), np.round(z)
    dx, dy, dz = np.abs(rx - x), np.abs(ry - y), np.abs(rz - z)
    fix_x = (dx > dy) & (dx > dz)
    fix_y = ~fix_x & (dy > dz)
    rx = np.where(fix_x, -ry - rz, rx)
    rz = np.where(~fix_x & ~fix_y, -rx - ry, rz)
    ij = np.stack([rx, rz], axis=1).astype(np.int64)

    def poly(k: np.ndarray) -> np.ndarray:
        cx = r * np.sqrt(3.0) * (k[:, 0] + k[:, 1] / 2.0)
        cy = r * 1.5 * k[:, 1]
        ang = np.deg2rad(np.arange(6) * 60.0 + 30.0)
        ring = np.stack(
            [cx[:, None] + r * np.cos(ang)[None, :], cy[:, None] + r * np.sin(ang)[None, :]], axis=2
        )
        return shapely.polygons(ring)

    return ij, poly


def gap_cells(
    households: pd.DataFrame,
    xy: np.ndarray,
    specs: list[CoverageSpec],
    *,
    crs=None,
    size: float = 250.0,
    shape: str = "hex",
    min_buildings: int = MIN_BUILDINGS,
    household_level: bool = False,
) -> GeoDataFrame:
    """Uncovered households per spec binned into hexagon or square cells.

    Every count (``households``, ``uncovered:{spec}``) comes from at least
    ``min_buildings`` household records or is 0: cells short of that are merged with
    the nearest cells (``cell_id`` ``"a_b+c_d"``, geometry the union of the cells;
    see :mod:`~gridmap.coverage.privacy`). ``attrs["privacy"]`` says what was done.

    Parameters
    ----------
    households : DataFrame
        Rows with ``households`` and ``covered:{spec}`` columns.
    xy : ndarray, shape (n, 2)
        The location of each row.
    size : float, keyword-only
        Centre spacing in metres (across flats for hexagons, side for squares).
    shape : {"hex", "square"}, keyword-only
    min_buildings : int, keyword-only
        Fewest household records (``record`` column, else rows) a count may come from.
    household_level : bool, keyword-only
        True: the raw cells, counts of single buildings included (only for internal use;
        never publish them).

    Returns
    -------
    GeoDataFrame
        Cells holding households: ``cell_id``, ``households``, ``uncovered:{spec}``;
        ``attrs["privacy"]``: ``household_level``, ``min_buildings``, ``merged_cells``
        (cells merged into others) and ``withheld`` (``{column: households}`` withheld
        because the whole layer has fewer than ``min_buildings`` records with them).

    Examples
    --------
    >>> h = pd.DataFrame({"households": [10, 20, 5], "covered:kg": [False, True, False]})
    >>> xy = np.array([[10.0, 10], [20, 20], [990, 10]])
    >>> kg = [CoverageSpec("kg", "kindergarten", 300)]
    >>> cells = gap_cells(h, xy, kg, size=500, shape="square", household_level=True)
    >>> cells[["cell_id", "households", "uncovered:kg"]].values.tolist()
    [['0_0', 30, 10], ['1_0', 5, 5]]
    >>> cells = gap_cells(h, xy, kg, size=500, shape="square", min_buildings=2)
    >>> cells[["cell_id", "households", "uncovered:kg"]].values.tolist()
    [['0_0+1_0', 35, 15]]
    """
    if size <= 0:
        raise ValueError(f"cell size must be positive, got {size}")
    # rows without a location (a grid without geometry) have no cell
    located = np.isfinite(xy).all(axis=1)
    households, xy = households[located], xy[located]
    ij, poly = _cells(xy, float(size), shape)
    keys, inv = np.unique(ij, axis=0, return_inverse=True)
    inv = inv.ravel()
    w = households["households"].to_numpy(dtype="float64")
    data = {
        "cell_id": [f"{a}_{b}" for a, b in keys],
        "households": np.bincount(inv, weights=w, minlength=len(keys)),
    }
    for s in specs:
        unc = w * ~households[f"covered:{s.id}"].to_numpy(dtype=bool)
        data[f"uncovered:{s.id}"] = np.bincount(inv, weights=unc, minlength=len(keys))
    frame = pd.DataFrame(data)
    geometry = poly(keys)
    privacy: dict = {"household_level": household_level, "min_buildings": int(min_buildings)}
    if not household_level:
        frame, geometry, privacy = _merged(
            frame, geometry, households, w, inv, specs, min_buildings, privacy
        )
    for c in frame.columns[1:]:
        if (frame[c] % 1 == 0).all():
            frame[c] = frame[c].astype(np.int64)
    out = GeoDataFrame(frame, geometry=geometry, crs=crs)
    out.attrs["privacy"] = privacy
    return out


def _merged(
    frame: pd.DataFrame,
    geometry: np.ndarray,
    households: pd.DataFrame,
    w: np.ndarray,
    inv: np.ndarray,
    specs: list[CoverageSpec],
    k: int,
    privacy: dict,
) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The cells merged so every count comes from ≥ ``k`` records (see :mod:`.privacy`)."""
    ids, n = record_ids(households), len(frame)
    weights = {"households": w}
    for s in specs:
        weights[f"uncovered:{s.id}"] = w * ~households[f"covered:{s.id}"].to_numpy(dtype=bool)
    per_col = {c: contributing_records(ids, v, inv, n) for c, v in weights.items()}
    records = [{c: per_col[c][i] for c in per_col} for i in range(n)]
    centres = shapely.get_coordinates(shapely.centroid(geometry))
    labels, withheld = merge_small_cells(records, centres, k=k)
    sums = frame.drop(columns="cell_id").groupby(labels, sort=True).sum()
    order = sums.index.to_numpy()
    hidden: dict[str, float] = {}
    for c, groups in withheld.items():
        rows = np.isin(order, groups)
        hidden[c] = float(sums.loc[rows, c].sum())
        sums.loc[rows, c] = 0
    names = pd.Series(frame["cell_id"].to_numpy()).groupby(labels, sort=True).agg("+".join)
    merged = pd.concat([names.rename("cell_id"), sums], axis=1).reset_index(drop=True)
    cells = pd.Series(np.arange(n)).groupby(labels, sort=True).indices  # group → its cells
    geoms = [
        shapely.union_all(geometry[cells[g]]) if len(cells[g]) > 1 else geometry[g] for g in order
    ]
    privacy.update(merged_cells=int(n - len(order)), withheld=hidden)
    return merged, np.asarray(geoms, dtype=object), privacy
