"""What a plan gives back: the change list, boundaries, the audit trail and the exported files.

:class:`PlanOutputs` gives :class:`gridmap.plans.Plan` its outputs: the change list against
the as-is assignment (:meth:`~PlanOutputs.changes`, Chinese headers in
:data:`CHANGE_COLUMNS_ZH`), the dissolved community boundaries, the journal as a table, and
:meth:`~PlanOutputs.export`, which writes the files a planner files — all together or not at
all (:func:`gridmap._atomic.staged_dir`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from geopandas import GeoDataFrame

from gridmap import edits as _edits
from gridmap._atomic import staged_dir
from gridmap.io.gpkg import write_gpkg
from gridmap.io.shapefile import write_shapefile
from gridmap.io.styles import size_style
from gridmap.plans.evaluation import PlanEvaluation
from gridmap.rules import load_profile

__all__ = ["PlanOutputs", "CHANGE_COLUMNS_ZH"]

#: Chinese headers of the change list (unit, from, to, 户数)
CHANGE_COLUMNS_ZH = {
    "unit_id": "单元编码",
    "unit_name": "单元名称",
    "from_community": "原社区编码",
    "from_name": "原社区名称",
    "to_community": "新社区编码",
    "to_name": "新社区名称",
    "households": "户数",
}


class PlanOutputs(PlanEvaluation):
    """Change list, boundaries, audit trail and exports of a plan.

    A base of :class:`gridmap.plans.Plan`.
    """

    def changes_zh(self) -> pd.DataFrame:
        """:meth:`changes` with Chinese headers (单元编码, 原社区编码, 新社区编码, 户数 …)."""
        return self.changes().rename(columns=CHANGE_COLUMNS_ZH)

    def contiguity(self) -> pd.DataFrame:
        """Communities in more than one piece (see :func:`gridmap.edits.check_contiguity`)."""
        return _edits.check_contiguity(self._labels, self.graph)

    def enclaves(self) -> pd.DataFrame:
        """Communities wholly surrounded by another (see :func:`gridmap.edits.enclaves`)."""
        return _edits.enclaves(
            self._labels, self.graph, geometry=self.units.geometry, tolerance=self._tolerance
        )

    def dissolve(
        self,
        *,
        base: bool = False,
        min_households: int | None = None,
        max_households: int | None = None,
    ) -> GeoDataFrame:
        """The plan's community boundaries.

        Units dissolved per community, with :meth:`communities` (a community that holds no unit,
        only households outside every unit, has no geometry).
        """
        labels = self.units["community_id"] if base else self._labels
        g = GeoDataFrame(
            {"community_id": labels.to_numpy()},
            geometry=self.units.geometry.to_numpy(),
            crs=self.units.crs,
        )
        geoms = g.dissolve(by="community_id").geometry
        t = self.communities(
            base=base, min_households=min_households, max_households=max_households
        )
        return GeoDataFrame(t, geometry=geoms.reindex(t.index).to_numpy(), crs=self.units.crs)

    def audit(self) -> pd.DataFrame:
        """The journal as a table: ``seq, time, author, op, params, units, comment``."""
        rows = [
            {
                "seq": e["seq"],
                "time": e["time"],
                "author": e["author"],
                "op": e["op"],
                "params": json.dumps(e["params"], ensure_ascii=False),
                "units": len(e["changes"]),
                "comment": e["comment"],
            }
            for e in self.journal
        ]
        return pd.DataFrame(
            rows, columns=["seq", "time", "author", "op", "params", "units", "comment"]
        )

    def replay(self, upto: int | None = None) -> pd.Series:
        """The assignment after journal entries ``0 … upto-1`` (all by default), from the base."""
        labels = self.units["community_id"].copy()
        for e in self.journal[:upto]:
            labels = _edits.apply_changes(labels, [tuple(c) for c in e["changes"]])
        return labels

    def export(
        self,
        out: str | os.PathLike,
        *,
        encoding: str = "utf-8",
        profile=None,
        formats: Sequence[str] = ("gpkg", "shp", "csv", "xlsx"),
        min_households: int | None = None,
        max_households: int | None = None,
    ) -> dict[str, Path]:
        """Write the files a planner files; all appear together or not at all.

        ``communities.gpkg`` and ``communities.shp`` (dissolved boundaries; the
        Shapefile in ``encoding``, e.g. ``"gbk"`` for older GIS, with a ``.cpg``),
        ``findings.csv`` (rules re-run on the plan), ``changes.csv`` / ``changes.xlsx``
        (单元编码, 原社区, 新社区, 户数 …) and ``plan.json`` (KPIs). ``profile`` (default
        :attr:`profile`) and ``min_households`` / ``max_households`` override the plan's
        profile and band explicitly.
        """
        saved = self._profile
        if profile is not None:
            self._profile = load_profile(profile)
        try:
            with staged_dir(out) as (stage, written):
                comm = self.dissolve(min_households=min_households, max_households=max_households)
                layer = comm.reset_index()[
                    ["community_id", "name", "households", "units", "pieces", "status", "geometry"]
                ]
                style = size_style("status", label_field="name")
                if "gpkg" in formats:
                    write_gpkg(
                        stage / "communities.gpkg",
                        {"communities": layer},
                        styles={"communities": style},
                    )
                if "shp" in formats:
                    shp = layer.rename(columns={"community_id": "comm_id"})
                    write_shapefile(shp, stage / "communities.shp", encoding=encoding, style=style)
                if "csv" in formats:
                    prof = self._profile_for(min_households, max_households)
                    self.findings(prof).to_csv(
                        stage / "findings.csv", index=False, encoding="utf-8-sig"
                    )
                    self.changes_zh().to_csv(
                        stage / "changes.csv", index=False, encoding="utf-8-sig"
                    )
                if "xlsx" in formats:
                    self.changes_zh().to_excel(
                        stage / "changes.xlsx", index=False, sheet_name="调整清单"
                    )
                summary = {
                    "plan": self.name,
                    "plan_id": self.plan_id,
                    "author": self.author,
                    **self.kpis(min_households=min_households, max_households=max_households),
                }
                (stage / "plan.json").write_text(
                    json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
                )
        finally:
            self._profile = saved
        return written
