"""Coverage questions of the 服务覆盖 page: one facility type within a radius, answered once.

:class:`CoverageViews` measures a question with :func:`gridmap.coverage.measure_coverage`
(the walking network is built once and reused) and caches the answers of the most
recently asked questions (:data:`MAX_VIEWS`); a failure becomes a view saying why,
never a crash of the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import shapely

from dashboards.messages import without_paths
from dashboards.provider.results import KeyedLocks
from gridmap.coverage import CoverageSpec, measure_coverage, specs_from_profile
from gridmap.facilities import type_label
from gridmap.lru import BoundedLRU
from gridmap.rules import Profile

__all__ = ["MAX_VIEWS", "CoverageViews", "coverage_shares", "default_coverage", "facility_types"]

#: coverage answers kept (least recently asked dropped): one view holds a share per
#: community and the gap cells as GeoJSON (≈ 0.1–1 MB on a district), so 32 views stay
#: well under 50 MB however many radii browsers ask for
MAX_VIEWS = 32


def facility_types(result: Any, lang: str = "zh") -> list[dict]:
    """Dropdown options of the facility types present in ``result``, most frequent first."""
    fac = result.facilities
    if fac is None:
        return []
    types = fac["facility_type"].value_counts().index.tolist()
    return [{"value": x, "label": type_label(x, lang=lang)} for x in types]


def coverage_shares(result: Any, lang: str = "zh") -> dict[str, float] | None:
    """Share of households covered per coverage rule of the check, or None while not computed.

    Keys name the facility type and radius (``"卫生服务站 1000 m"``).
    """
    cov = getattr(result, "coverage_result", None)
    if cov is None:
        return None
    out = {}
    try:
        summary = cov.summary()
    except Exception:  # noqa: BLE001 - coverage is optional: the KPI then says "not computed"
        return None
    for s in summary.values():
        if s.get("share") is None:
            continue
        label = f"{type_label(s['facility_type'], lang=lang)} {s['radius_m']:.0f} m"
        out[label] = float(s["share"])
    return out or None


def default_coverage(profile: str | Profile, types: set[str]) -> tuple[str | None, float, str]:
    """(facility type, radius, mode) of ``profile``'s first coverage rule of one of ``types``.

    Without such a rule: a health station (else the first type) at 1 km in a straight line.
    """
    try:
        spec = next(s for s in specs_from_profile(profile) if s.facility_type in types)
        return spec.facility_type, float(spec.radius_m), spec.mode
    except Exception:  # noqa: BLE001 - no coverage rule: a sensible default question
        first = next(iter(sorted(types)), None)
        return ("health_station" if "health_station" in types else first), 1000.0, "straight"


class CoverageViews:
    """Answers to coverage questions on one study, cached per (type, radius, mode).

    Parameters
    ----------
    study
        A :class:`gridmap.Study`.
    result
        Returns the default check result (its assignment of households, its network).
    community_ids
        The community ids in feature order.
    max_views
        How many answers to keep (least recently asked dropped).
    """

    def __init__(
        self,
        study: Any,
        result: Callable[[], Any],
        community_ids: pd.Index,
        *,
        max_views: int = MAX_VIEWS,
    ) -> None:
        self.study = study
        self._result = result
        self._ids = community_ids
        self.max_views = max_views
        self._views: BoundedLRU[tuple, dict] = BoundedLRU(max_views)
        self._network: Any = None
        self._key_lock = KeyedLocks()

    def coverage(self, facility_type: str, radius: float, method: str = "straight") -> dict:
        """Coverage of households by one facility type within ``radius`` metres (cached).

        Returns ``{"available": False, "reason": "error", "error": ...}`` when it cannot be
        computed, else ``available``, ``shares`` (per community, feature order), ``share``,
        ``radius_m`` and ``mode`` (the question asked),
        ``households``, ``uncovered`` and ``gaps`` (WGS84 GeoJSON of the cells holding
        uncovered households, with property ``n`` = uncovered count) and ``gap_cells``.
        """
        mode = "network" if method == "network" else "straight"
        key = ("coverage", facility_type, round(float(radius), 1), mode)
        with self._key_lock(key):
            kept = self._views.get(key)
            if kept is not None:
                return kept
            try:
                view = self._measure(facility_type, float(radius), mode)
            except Exception as exc:  # noqa: BLE001 - shown on the page, never a crash
                view = {
                    "available": False,
                    "reason": "error",
                    "error": without_paths(f"{type(exc).__name__}: {exc}"),
                }
            view.update(radius_m=key[2], mode=mode)
            self._views.put(key, view)
            return view

    def __len__(self) -> int:
        """How many answers are cached."""
        return len(self._views)

    def _measure(self, facility_type: str, radius: float, mode: str) -> dict:
        res = self._result()
        spec = CoverageSpec("view", facility_type, radius, mode)
        base = getattr(res, "coverage_result", None)
        network = self._network or (base.network if base is not None else None)
        grid_table = None if res.grids is None else pd.DataFrame(res.grids.drop(columns="geometry"))
        cov = measure_coverage(
            self.study,
            [spec],
            assignment=res.households,
            grid_table=grid_table,
            network=network,
            service_areas=False,
        )
        if cov.network is not None:
            self._network = cov.network
        if "view" in getattr(cov, "unassessed", []):
            return {
                "available": False,
                "reason": "error",
                "error": without_paths("; ".join(p.message for p in cov.problems)),
            }
        summary = cov.summary()["view"]
        comm = cov.communities
        shares = (
            comm["coverage:view"].reindex(self._ids).to_numpy(dtype="float64")
            if comm is not None
            else np.full(len(self._ids), np.nan)
        )
        gaps = self._gap_cells(cov.gaps)
        total = summary.get("households") or 0
        covered = summary.get("covered") or 0
        return {
            "available": True,
            "shares": shares,
            "share": summary.get("share"),
            "households": int(total),
            "uncovered": int(total - covered),
            "gaps": gaps,
            "gap_cells": 0 if gaps is None else len(gaps["features"]),
        }

    def _gap_cells(self, cells: Any) -> dict | None:
        """The cells holding uncovered households as WGS84 GeoJSON (``n`` = uncovered), or None."""
        if cells is None or not len(cells):
            return None
        g = cells[cells["uncovered:view"] > 0]
        g = g.set_crs(self.study.crs, allow_override=True) if g.crs is None else g
        g = g.to_crs(4326)
        features = [
            {
                "type": "Feature",
                "id": i,
                "properties": {"n": int(n)},
                "geometry": json.loads(
                    shapely.to_geojson(shapely.transform(geom, lambda xy: np.round(xy, 6)))
                ),
            }
            for i, (n, geom) in enumerate(zip(g["uncovered:view"], g.geometry, strict=True))
        ]
        return {"type": "FeatureCollection", "features": features}
