"""What a check found: :class:`CheckResult`, its summary and its contract tables."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from geopandas import GeoDataFrame

from gridmap._errors import Problem
from gridmap.check.outputs import write_result_dir, write_result_gpkg
from gridmap.check.tables import COMMUNITY_COLUMNS, GRID_COLUMNS, units_table
from gridmap.coverage import CoverageResult
from gridmap.crs import crs_label
from gridmap.evaluation import size_counts
from gridmap.rules import Profile
from gridmap.study import Study

__all__ = ["CheckResult"]


@dataclass
class CheckResult:
    """What a check found.

    Attributes
    ----------
    communities, grids
        One row per unit with metrics and overall ``status`` (``fail`` when a rule of
        severity error fails, ``warning`` when only warnings fail, ``pass``, or
        ``not_assessed`` when no rule could be assessed), indexed by id, with geometry.
    findings
        One row per unit × rule plus QA findings (``rule_id`` starting ``qa.``).
    households
        The record-level household assignment (None without a households layer).
    coverage_result
        The :class:`gridmap.coverage.CoverageResult` of the check (None when the
        profile has no coverage rule or the data do not allow it): per-household
        distances, gap cells, service areas, the network and its report. The
        reports draw their coverage tables and gap maps from it.
    coverage
        Its per-household table (read-only, ``coverage_result.households``):
        distances to the nearest facility of each type (straight line and network)
        and ``covered:{rule}`` flags; written as ``coverage.csv`` with ``household_level=True``.
    """

    study: Study
    profile: Profile
    communities: GeoDataFrame
    grids: GeoDataFrame | None
    findings: pd.DataFrame
    households: pd.DataFrame | None
    facilities: GeoDataFrame | None
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    coverage_result: CoverageResult | None = None

    @property
    def coverage(self) -> pd.DataFrame | None:
        """Per household record: nearest-facility distances and ``covered:{rule}`` flags."""
        return None if self.coverage_result is None else self.coverage_result.households

    def explore(self, **kwargs: Any) -> Any:
        """An interactive map of the check (folium), offline: see :func:`gridmap.maps.explore_check`.

        Communities by status, grids, facilities and coverage gaps, with tooltips naming each
        failing rule, its value and citation, a layer control and a legend. In a notebook the
        map shows inline; ``result.explore().save("地图.html")`` writes a page that needs no
        internet.

        Parameters
        ----------
        **kwargs
            Passed to :func:`gridmap.maps.explore_check` (``grids=``, ``gaps=``, ``height=``, …).

        Returns
        -------
        folium.Map
        """
        # the maps live in the outputs layer above this module: looked up by name at call time
        # (like pandas' plotting backends), so gridmap.check never imports gridmap.maps
        import importlib

        return importlib.import_module("gridmap.maps.explore").explore_check(self, **kwargs)

    def with_coverage(self, coverage: CoverageResult | None) -> CheckResult:
        """Return this result reporting ``coverage`` (e.g. of :func:`gridmap.coverage.measure_coverage`).

        Parameters
        ----------
        coverage
            Coverage results to report instead of the check's own; None keeps them.

        Returns
        -------
        CheckResult
            ``self`` when ``coverage`` is None or already the result's, else a shallow copy.
        """
        if coverage is None or coverage is self.coverage_result:
            return self
        return replace(self, coverage_result=coverage)

    def summary(self) -> dict:
        """The machine-readable summary (``gridmap check --json``)."""
        f = self.findings
        rules = f[~f["rule_id"].str.startswith("qa.")]
        per_rule = {
            rid: {s: int(n) for s, n in g["status"].value_counts().items()}
            for rid, g in rules.groupby("rule_id", sort=False)
        }
        qa = {
            rid: int(len(g))
            for rid, g in f[f["rule_id"].str.startswith("qa.")].groupby("rule_id", sort=False)
        }
        total = _households_total(self)
        assigned = float(self.communities["households"].fillna(0).sum())
        comm_status = self.communities["status"].value_counts().to_dict()
        out = {
            "study": self.study.name,
            "profile": self.profile.id,
            "crs": crs_label(self.study.crs),
            "communities": int(len(self.communities)),
            "communities_status": {k: int(v) for k, v in comm_status.items()},
            "communities_size": _size_summary(self),
            "grids": int(len(self.grids)) if self.grids is not None else 0,
            "grids_status": (
                {k: int(v) for k, v in self.grids["status"].value_counts().items()}
                if self.grids is not None
                else {}
            ),
            "households_total": int(total),
            "households_assigned": int(assigned),
            "households_unassigned": int(round(total - assigned)),
            "rules": per_rule,
            "qa": qa,
            "problems": {
                s: sum(p.severity == s for p in self.problems) for s in ("error", "warning", "info")
            },
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if self.coverage_result is not None:
            out["coverage"] = self.coverage_result.summary()
        return out

    # ------------------------------------------------------------------ outputs
    def communities_table(self) -> pd.DataFrame:
        """``communities.csv``: one row per community, id first, without geometry."""
        return units_table(self.communities, "community_id", COMMUNITY_COLUMNS)

    def grids_table(self) -> pd.DataFrame | None:
        """``grids.csv``: one row per grid, id first, without geometry (None without grids)."""
        return None if self.grids is None else units_table(self.grids, "grid_id", GRID_COLUMNS)

    def to_gpkg(
        self,
        path: str | os.PathLike,
        *,
        layers: Iterable[str] | None = None,
        append: bool = False,
        geometry_types: Mapping[str, str] | None = None,
    ) -> Path:
        """Write communities, grids, facilities and findings to a GeoPackage (atomically).

        GeoPackage 1.2 with the units' default style (by ``status``, the report's palette and
        Chinese legend) in ``layer_styles`` (:func:`gridmap.io.gpkg.write_gpkg`); field names
        valid in every GIS (:func:`gridmap.io.gpkg.field_name`: ``covered:rule.id`` →
        ``covered__rule_id``).

        Parameters
        ----------
        path
            The ``.gpkg`` file.
        layers
            Only these layers (of :data:`gridmap.check.outputs.GPKG_LAYERS`); default all.
        append
            Add the rows to the layers already in ``path`` instead of replacing the file: a
            result too large for memory written chunk by chunk (each chunk a ``CheckResult``
            of some rows), into a file the caller makes atomic. The first chunk fixes each
            layer's fields, and its geometry type unless ``geometry_types`` gives it.
        geometry_types
            ``layer name -> geometry type`` of the whole layer (``"MultiPolygon"`` when any
            of its rows is one), for chunks that may not show it.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        return write_result_gpkg(
            self, path, layers=layers, append=append, geometry_types=geometry_types
        )

    def to_dir(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write the contract outputs into ``out``; all files appear together or not at all.

        ``communities.csv``, ``grids.csv``, ``findings.csv``, ``problems.csv``,
        ``summary.json``, ``result.gpkg``; ``coverage.csv`` (one row per household record) and
        the ``coverage_households`` layer only when coverage was measured with
        ``household_level=True`` (``--household-level``): no default output shows one
        building's households. CSVs are UTF-8 with BOM so Excel opens the
        Chinese text correctly.
        """
        return write_result_dir(self, out)


def _size_summary(result: CheckResult) -> dict:
    """The band of the profile and communities per size status (None when the profile has no band)."""
    band = result.profile.size_band()
    if band is None:
        return {"band": None}
    return {
        "band": [band.min, band.max],
        "exempt_min_if": band.exempt_min_if,
        **size_counts(result),
    }


def _households_total(result: CheckResult) -> float:
    """All households read.

    The records, else the grids' counts (grids outside every community included), else the
    communities' counts.
    """
    if result.households is not None:
        return float(result.households["households"].sum())
    grids = result.grids
    if grids is not None and "households" in grids.columns and grids["households"].notna().any():
        return max(
            float(grids["households"].fillna(0).sum()),
            float(result.communities["households"].fillna(0).sum()),
        )
    return float(result.communities["households"].fillna(0).sum())
