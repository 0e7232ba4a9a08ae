"""Synthetic households on real boundaries: run gridmap on your geometry before counts arrive.

Real boundary files (such as the Suzhou Industrial Park communities and grids)
often come without household counts. :func:`synthetic_households` places
building points with 户数 inside each community — part of them inside the
community's grids, the rest in its ungridded land, as in real districts where
grids do not tile the communities — with community totals spread around a
typical size so that some communities fall outside the band. The result is
deterministic for a given ``seed`` (same input → same points, run after run).

It is for trials, tests and benchmarks only: the numbers are not data.

Examples
--------
>>> import gridmap
>>> from gridmap import datasets
>>> study = gridmap.read_study(**datasets.demo_config())
>>> hh = synthetic_households(study.communities, study.grids, seed=1)
>>> int(hh["households"].sum()) == int(hh.groupby("source_community")["households"].sum().sum())
True
>>> bool((hh["households"] >= 1).all())
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

__all__ = ["synthetic_households"]


def _sample(geom, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform points (n × 2) inside ``geom`` by rejection from its bounds."""
    if n == 0:
        return np.empty((0, 2))
    x0, y0, x1, y1 = geom.bounds
    shapely.prepare(geom)
    out: list[np.ndarray] = []
    have = 0
    fill = max(geom.area / max((x1 - x0) * (y1 - y0), 1e-12), 1e-3)
    for _ in range(200):
        m = int((n - have) / fill * 1.3) + 16
        xy = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        xy = xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]
        out.append(xy)
        have += len(xy)
        if have >= n:
            break
    xy = np.concatenate(out)[:n]
    if len(xy) < n:  # slivers: fall back to points on the surface
        pt = shapely.point_on_surface(geom)
        xy = np.vstack([xy, np.repeat([[pt.x, pt.y]], n - len(xy), axis=0)])
    return xy


def synthetic_households(
    communities: GeoDataFrame,
    grids: GeoDataFrame | None = None,
    *,
    seed: int = 0,
    mean: float = 2000.0,
    spread: float = 0.45,
    in_grids: float = 0.5,
    building_mean: float = 60.0,
) -> GeoDataFrame:
    """Building points with ``households`` inside the communities (deterministic for ``seed``).

    Parameters
    ----------
    communities
        Community polygons in a metric CRS, indexed by id.
    grids
        Grid polygons (optional): a share ``in_grids`` of each community's buildings is
        placed inside the part of the community its grids cover, the rest in the part
        they do not cover (so households outside every grid occur as in real data).
    seed
        Random seed; the same seed gives the same points.
    mean, spread
        Community totals are lognormal around ``mean`` 户 with log-sd ``spread``
        (0.45: roughly a quarter of the communities outside 1000–3000).
    building_mean
        Mean households per building.

    Returns
    -------
    geopandas.GeoDataFrame
        ``building_id``, ``households`` (≥ 1), ``source_community`` (the community the
        point was generated in; gridmap assigns by geometry, not by this column), points
        in the communities' CRS.
    """
    if not 0 <= in_grids <= 1:
        raise ValueError(f"in_grids must be within 0–1, got {in_grids}")
    comms = communities[communities.geometry.notna() & ~communities.geometry.is_empty]
    comms = comms.loc[sorted(comms.index, key=str)]
    covered = None
    if grids is not None and len(grids):
        covered = shapely.union_all(shapely.make_valid(np.asarray(grids.geometry.dropna().values)))
    streams = np.random.SeedSequence(seed).spawn(len(comms))
    xy_parts, hh_parts, src_parts = [], [], []
    for cid, geom, stream in zip(comms.index, comms.geometry.values, streams, strict=True):
        rng = np.random.default_rng(stream)
        geom = shapely.make_valid(geom)
        total = max(1, int(round(rng.lognormal(np.log(mean), spread))))
        k = max(1, min(total, int(round(total / building_mean))))
        counts = 1 + rng.multinomial(total - k, rng.dirichlet(np.full(k, 2.0)))
        inside = shapely.intersection(geom, covered) if covered is not None else None
        outside = shapely.difference(geom, covered) if covered is not None else geom
        n_in = int(round(k * in_grids)) if inside is not None and inside.area > 1.0 else 0
        if outside.area <= 1.0:
            n_in = k
        xy = np.vstack(
            [
                _sample(inside, n_in, rng) if n_in else np.empty((0, 2)),
                _sample(outside if k - n_in else geom, k - n_in, rng),
            ]
        )
        xy_parts.append(xy)
        hh_parts.append(counts)
        src_parts.append(np.full(k, str(cid), dtype=object))
    xy = np.vstack(xy_parts) if xy_parts else np.empty((0, 2))
    n = len(xy)
    households = np.concatenate(hh_parts).astype("int64") if n else np.empty(0, "int64")
    source = np.concatenate(src_parts) if n else np.empty(0, object)
    return GeoDataFrame(
        {
            "building_id": [f"B{i:06d}" for i in range(n)],
            "households": households,
            "source_community": source,
        },
        geometry=shapely.points(xy) if n else [],
        crs=communities.crs,
        index=pd.RangeIndex(n),
    )
