"""The result of a coverage run (:class:`CoverageResult`) and its sums per grid and community."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap._errors import Problem
from gridmap.coverage.spec import CoverageSpec
from gridmap.network import Network

__all__ = ["CoverageResult", "aggregate_coverage"]


@dataclass
class CoverageResult:
    """Coverage of households by facility types.

    Attributes
    ----------
    specs : list of CoverageSpec
    households : pandas.DataFrame
        One row per household record (× grid share): ``record``, ``grid_id``,
        ``community_id``, ``households``, ``snap_m``, ``snapped``, then per type
        and mode ``{mode}_m:{type}`` (distance, NaN beyond the search limit) and
        ``nearest_{mode}:{type}`` (facility id), then ``covered:{spec}`` (bool).
        A walking spec without a network has ``covered:{spec}`` missing and
        ``covered_bound:{spec}`` (True where the straight line is within the radius).
    grids, communities : pandas.DataFrame
        Per unit: ``households``, ``covered:{spec}``, ``coverage:{spec}`` (share 0–1);
        for a walking spec without a network these are missing and
        ``covered_bound:{spec}`` / ``coverage_bound:{spec}`` hold the straight-line
        upper bound of the covered households and of the share.
    gaps : GeoDataFrame or None
        Cells with ``households`` and ``uncovered:{spec}`` counts.
    service_areas : GeoDataFrame or None
        One polygon per facility and mode.
    network : Network or None
        The walking network used (None without walking specs or a network).
    problems : list of Problem
    policy : {"any", "own"}
        Which facilities counted: any, or those of the household's own community.
    timings : dict of str to float
        Seconds per stage (``network_build``, ``snap``, ``distances``, …).
    xy : ndarray, shape (n, 2), or None
        The location of each household row.
    unassessed : list of str
        Ids of walking specs without a network (their ``*_bound`` columns give the
        straight-line upper bound).
    household_level : bool
        Whether the run was asked for household-level detail
        (``measure_coverage(household_level=True)``): raw gap cells, and ``households``
        (one row per record) may be written out. False: the gap cells keep every count
        to at least k buildings, and ``households`` is for computing only.
    """

    specs: list[CoverageSpec]
    households: pd.DataFrame
    grids: pd.DataFrame | None
    communities: pd.DataFrame | None
    gaps: GeoDataFrame | None = None
    service_areas: GeoDataFrame | None = None
    network: Network | None = None
    problems: list[Problem] = field(default_factory=list)
    policy: str = "any"
    timings: dict[str, float] = field(default_factory=dict)
    xy: np.ndarray | None = None
    unassessed: list[str] = field(default_factory=list)
    household_level: bool = False

    def points(self, crs: object = None) -> GeoDataFrame:
        """The household table as points (for maps and the GeoPackage)."""
        xy = self.xy if self.xy is not None else np.empty((0, 2))
        return GeoDataFrame(
            self.households.copy(), geometry=shapely.points(xy) if len(xy) else [], crs=crs
        )

    def summary(self) -> dict[str, dict]:
        """Per spec: type, mode, radius, required share, households covered / total and share.

        A walking spec without a network has ``covered`` and ``share`` None (not
        assessed) and ``covered_bound`` / ``share_bound``: the straight-line upper
        bounds (``bound`` = ``"straight_line_upper"``); other specs have them None.
        """
        h = self.households
        total = float(h["households"].sum())
        out = {}
        for s in self.specs:
            row = {
                "facility_type": s.facility_type,
                "mode": s.mode,
                "radius_m": s.radius_m,
                "min_share": s.min_share,
                "policy": self.policy,
                "households": int(total),
                "covered": None,
                "share": None,
                "bound": None,
                "covered_bound": None,
                "share_bound": None,
            }
            if s.id in self.unassessed:
                col = f"covered_bound:{s.id}"
                if col in h.columns:
                    cb = float(h.loc[h[col].to_numpy(dtype=bool), "households"].sum())
                    row.update(
                        bound="straight_line_upper",
                        covered_bound=int(cb),
                        share_bound=(cb / total) if total else None,
                    )
            else:
                cov = float(h.loc[h[f"covered:{s.id}"].to_numpy(dtype=bool), "households"].sum())
                row.update(covered=int(cov), share=(cov / total) if total else None)
            out[s.id] = row
        return out


def aggregate_coverage(
    households: pd.DataFrame, specs: list[CoverageSpec]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households covered / total and share per grid and per community.

    Where the table has ``covered_bound:{spec}`` (a walking spec measured by its
    straight-line bound), ``covered_bound:{spec}`` and ``coverage_bound:{spec}``
    are aggregated the same way.

    Examples
    --------
    >>> h = pd.DataFrame({"grid_id": ["g1", "g1", "g2"], "community_id": ["c", "c", "c"],
    ...                   "households": [100, 300, 600], "covered:kg": [True, False, True]})
    >>> g, c = aggregate_coverage(h, [CoverageSpec("kg", "kindergarten", 300)])
    >>> g["coverage:kg"].tolist(), c["coverage:kg"].tolist()
    ([0.25, 1.0], [0.7])
    """
    w = households["households"].astype("float64").to_numpy()
    cols = {"households": w}
    pairs = []  # (covered households column, share column)
    for s in specs:
        pairs.append((f"covered:{s.id}", f"coverage:{s.id}"))
        if f"covered_bound:{s.id}" in households.columns:
            pairs.append((f"covered_bound:{s.id}", f"coverage_bound:{s.id}"))
    for col, _ in pairs:
        cols[col] = w * households[col].to_numpy(dtype=bool)
    frame = pd.DataFrame(cols)
    res = []
    for key in ("grid_id", "community_id"):
        grp = frame.groupby(households[key].astype("string").to_numpy(), dropna=True).sum()
        for col, share in pairs:
            grp[share] = grp[col] / grp["households"].where(grp["households"] > 0)
        grp.index.name = key
        res.append(grp)
    return res[0], res[1]
