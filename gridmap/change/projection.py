"""Projection: today's check re-run for future years as residential projects fill up.

:func:`project` places every project the way the check places households (a point in a grid
belongs to the grid, and the grid to the community it overlaps most — the grid → community
rule of :mod:`gridmap.assign`; a polygon wholly to the grid it overlaps most), adds the
households that will have arrived by each year (:func:`gridmap.change.projects.arrivals`,
following the occupancy :class:`~gridmap.change.projects.Ramp`) and runs the same
:func:`gridmap.check` on the study of that year. The base year is today's check itself.

Where the households come from decides where the arrivals go: appended to the households
layer as one record per project (placed inside its grid); without that layer, added to the
grids' ``households`` attribute; without grids, to the communities' ``households``.

**Predicted violations** are the rule findings that fail in some year, each with the first
year it fails (``new`` when it does not fail today): which communities leave the household
band when, which grids need another coordinator when, which facility rules fall short.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame

from gridmap._atomic import staged_dir
from gridmap._errors import Problem
from gridmap.assign import assign_grids, assign_households
from gridmap.change._write import write_csv, write_layers, write_xlsx
from gridmap.change.projects import Ramp, arrivals
from gridmap.check import CheckResult, check
from gridmap.rules import FAIL
from gridmap.study import Study

__all__ = ["Projection", "project", "place_projects", "parse_years", "VIOLATION_HEADERS_ZH"]

VIOLATION_HEADERS_ZH = {
    "level": "层级",
    "unit_id": "单元编码",
    "name": "名称",
    "rule_id": "规则编码",
    "rule_title": "规则",
    "first_year": "首次违规年份",
    "new": "新增违规",
    "value": "该年数值",
    "message": "说明",
}


def parse_years(text: str | int | Iterable[int]) -> list[int]:
    """``2028`` / ``"2028"`` / ``"2026-2030"`` / ``[2026, 2028]`` → sorted distinct years.

    Examples
    --------
    >>> parse_years("2026-2028"), parse_years(2030)
    ([2026, 2027, 2028], [2030])
    """
    if isinstance(text, int):
        return [text]
    if isinstance(text, str):
        parts = text.replace("–", "-").replace("~", "-").split("-")
        try:
            nums = [int(p.strip()) for p in parts]
        except ValueError:
            nums = []
        if len(nums) == 1:
            return nums
        if len(nums) == 2 and nums[0] <= nums[1] and nums[1] - nums[0] <= 50:
            return list(range(nums[0], nums[1] + 1))
        raise ValueError(f"years= must be a year or a range like 2026-2030 (got {text!r})")
    return sorted({int(y) for y in text})


def place_projects(projects: GeoDataFrame, study: Study) -> GeoDataFrame:
    """Each project's grid and community by the check's own assignment, and a point to place it.

    Returns ``projects`` (in the study's CRS) with ``grid_id``, ``community_id`` (NA when
    none) and ``point``: inside the project and its grid (the representative point of their
    intersection), so a household record there lands in that grid.
    """
    p = projects.to_crs(study.crs) if projects.crs is not None else projects.set_crs(study.crs)
    grids, communities = study.grids, study.communities
    has_grids = grids is not None and len(grids) > 0
    grid_comm = assign_grids(grids, communities)["community_geom"] if has_grids else None
    counted = p.assign(households=p["planned_households"])
    placed = assign_households(
        counted, grids if has_grids else None, communities, grid_comm, method="largest"
    )
    placed = placed.set_index("record")
    out = p.copy()
    out["grid_id"] = placed["grid_id"].astype("string").reindex(p.index).to_numpy()
    out["community_id"] = placed["community_id"].astype("string").reindex(p.index).to_numpy()
    geoms = np.asarray(p.geometry.values)
    point = shapely.point_on_surface(geoms)
    if has_grids and grids is not None:
        gid = out["grid_id"]
        inside = gid.notna().to_numpy()
        if inside.any():
            gg = np.asarray(grids.geometry.reindex(gid[inside].astype(str)).values)
            part = shapely.intersection(geoms[inside], gg)
            ok = ~shapely.is_empty(part)
            point[np.flatnonzero(inside)[ok]] = shapely.point_on_surface(part[ok])
    out["point"] = point
    return out


def _with_arrivals(study: Study, placed: GeoDataFrame, added: np.ndarray) -> Study:
    """The study of a year: ``added`` households per project put where the check will count them."""
    arriving = added > 0
    if not arriving.any():
        return study
    if study.households is not None:
        hh = study.households
        start = int(pd.to_numeric(pd.Series(hh.index), errors="coerce").max(skipna=True) or 0) + 1
        extra = GeoDataFrame(
            {"households": added[arriving].astype("float64"), "name": placed["name"][arriving]},
            geometry=placed["point"][arriving].to_numpy(),
            crs=study.crs,
            index=pd.RangeIndex(start, start + int(arriving.sum())),
        )
        new = pd.concat(
            [hh, extra[[c for c in extra.columns if c in hh.columns or c == "geometry"]]]
        )
        new = GeoDataFrame(new, geometry=hh.geometry.name, crs=study.crs)
        new.attrs = hh.attrs
        return replace(study, households=new)
    if study.grids is not None and "households" in study.grids.columns:
        g = study.grids.copy()
        per = pd.Series(added, index=placed["grid_id"].astype(object)).groupby(level=0).sum()
        g["households"] = g["households"] + per.reindex(g.index.astype(str)).fillna(0).to_numpy()
        g.attrs = study.grids.attrs
        return replace(study, grids=g)
    c = study.communities.copy()
    per = pd.Series(added, index=placed["community_id"].astype(object)).groupby(level=0).sum()
    if "households" in c.columns:
        c["households"] = c["households"] + per.reindex(c.index.astype(str)).fillna(0).to_numpy()
    c.attrs = study.communities.attrs
    return replace(study, communities=c)


@dataclass
class Projection:
    """The check year by year as projects fill up.

    Attributes
    ----------
    base_year
        The year of today's data (its check is ``results[base_year]``).
    results
        One :class:`gridmap.CheckResult` per year (base year first).
    projects
        The projects placed (``grid_id``, ``community_id``) with their arrivals per year
        (columns ``arrivals_<year>``).
    ramp
        The occupancy ramp used.
    problems
        Projects whose households cannot be counted: outside every grid and community, or
        outside every grid when grid households are an attribute.
    """

    base_year: int
    results: dict[int, CheckResult]
    projects: GeoDataFrame
    ramp: Ramp
    problems: list[Problem] = field(default_factory=list)

    @property
    def years(self) -> list[int]:
        """The years computed, base year first."""
        return list(self.results)

    def households(self, level: str = "communities") -> pd.DataFrame:
        """Households per unit (rows) and year (columns) at ``"communities"`` or ``"grids"``."""
        cols = {}
        for year, r in self.results.items():
            units = r.communities if level == "communities" else r.grids
            if units is None:
                return pd.DataFrame()
            cols[year] = pd.to_numeric(units["households"], errors="coerce")
        return pd.DataFrame(cols)

    def violations(self) -> pd.DataFrame:
        """Each failing (unit, rule) with the first year it fails (``new``: not failing today)."""
        frames = []
        for year, r in self.results.items():
            f = r.findings
            f = f[(f["status"] == FAIL) & ~f["rule_id"].astype(str).str.startswith("qa.")]
            frames.append(f.assign(year=year))
        cols = [
            "level",
            "unit_id",
            "name",
            "rule_id",
            "rule_title",
            "first_year",
            "new",
            "value",
            "message",
        ]
        if not frames or not any(len(f) for f in frames):
            return pd.DataFrame(columns=cols)
        allf = pd.concat(frames, ignore_index=True).sort_values("year", kind="stable")
        first = allf.drop_duplicates(["level", "unit_id", "rule_id"]).rename(
            columns={"year": "first_year", "unit_name": "name"}
        )
        first["new"] = first["first_year"] > self.base_year
        return first[[c for c in cols if c in first.columns]].reset_index(drop=True)

    def violation_layer(self, level: str = "communities") -> GeoDataFrame:
        """Units of the last year with households per year and first violation years.

        ``first_violation_year`` counts any rule; ``first_new_violation_year`` and ``new_rules``
        only violations not found today.
        """
        last = self.results[self.years[-1]]
        units = last.communities if level == "communities" else last.grids
        assert units is not None
        hh = self.households(level)
        v = self.violations()
        v = v[v["level"] == ("community" if level == "communities" else "grid")]
        first = v.groupby("unit_id")["first_year"].min()
        new = v[v["new"]]
        first_new = new.groupby("unit_id")["first_year"].min()
        new_rules = new.groupby("unit_id")["rule_id"].agg(lambda s: "、".join(dict.fromkeys(s)))
        ids = units.index.astype(str)
        out = GeoDataFrame(
            {
                "name": units["name"].to_numpy() if "name" in units.columns else ids,
                **({"community_id": units["community_id"].to_numpy()} if level == "grids" else {}),
                **{f"households_{y}": hh[y].to_numpy() for y in hh.columns},
                "first_violation_year": first.reindex(ids).to_numpy(),
                "first_new_violation_year": first_new.reindex(ids).to_numpy(),
                "new_rules": new_rules.reindex(ids).to_numpy(),
                "status_last_year": units["status"].to_numpy(),
            },
            geometry=units.geometry.to_numpy(),
            crs=units.crs,
            index=pd.Index(ids, name="community_id" if level == "communities" else "grid_id"),
        )
        return out

    def summary(self) -> dict[str, Any]:
        """Per year: households, communities out of band, grids failing; violations first seen."""
        v = self.violations()
        years = {}
        for year, r in self.results.items():
            s = r.summary()
            years[str(year)] = {
                "households_total": s["households_total"],
                "communities_size": {
                    k: s["communities_size"].get(k)
                    for k in ("pass", "too_small", "too_large", "not_assessed")
                    if k in s["communities_size"]
                },
                "communities_status": s["communities_status"],
                "grids_status": s["grids_status"],
                "new_violations": int(((v["first_year"] == year) & v["new"]).sum())
                if len(v)
                else 0,
            }
        return {
            "base_year": self.base_year,
            "ramp": list(self.ramp.fractions),
            "projects": int(len(self.projects)),
            "planned_households": int(self.projects["planned_households"].sum()),
            "years": years,
            "predicted_violations": int(v["new"].sum()) if len(v) else 0,
        }

    def to_dir(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write each year's check outputs in ``out/<year>/`` and the projection tables in ``out``.

        ``projection.json``, ``households_by_year.csv`` (communities and grids),
        ``predicted_violations.csv`` / ``.xlsx`` (Chinese headers) and ``projection.gpkg``
        (layers ``communities``, ``grids`` with the first violation year, ``projects``).
        """
        v = self.violations()
        v_zh = v.assign(
            level=v["level"].map({"community": "社区", "grid": "网格"}),
            new=v["new"].map({True: "是", False: "否"}),
        ).rename(columns=VIOLATION_HEADERS_ZH)
        comm_hh = self.households("communities").rename_axis("community_id").reset_index()
        grid_hh = self.households("grids")
        projects = self.projects.drop(columns="point").reset_index()
        with staged_dir(out) as (stage, written):
            for year, r in self.results.items():
                r.to_dir(stage / str(year))
            write_csv(v_zh, stage / "predicted_violations.csv")
            sheets = {"预测违规": v_zh, "社区户数": comm_hh}
            if len(grid_hh):
                sheets["网格户数"] = grid_hh.rename_axis("grid_id").reset_index()
            sheets["项目"] = pd.DataFrame(projects.drop(columns="geometry"))
            write_xlsx(sheets, stage / "predicted_violations.xlsx")
            write_csv(comm_hh, stage / "households_by_year.csv")
            layers = {"communities": self.violation_layer("communities"), "projects": projects}
            if len(grid_hh):
                layers["grids"] = self.violation_layer("grids")
            write_layers(
                {k: v.reset_index() if k != "projects" else v for k, v in layers.items()},
                stage / "projection.gpkg",
            )
            (stage / "projection.json").write_text(
                json.dumps(self.summary(), ensure_ascii=False, indent=2), encoding="utf-8"
            )
        return written


def project(
    study: Study,
    projects: GeoDataFrame,
    years: str | int | Iterable[int],
    *,
    base_year: int,
    ramp: Ramp | None = None,
    profile: Any = None,
    lang: str = "zh",
    coverage: dict | None = None,
    today: CheckResult | None = None,
) -> Projection:
    """Run the check for each year as the projects fill up (module docs).

    What the years share is computed once: the base year's walking network and facility
    service areas serve every later year (only the households change).

    Parameters
    ----------
    study
        Today's study (its households are those of ``base_year``).
    projects
        From :func:`gridmap.change.read_projects`.
    years
        A year, a range ``"2026-2030"`` or a list; none before ``base_year``.
    base_year
        The year of today's data.
    ramp
        Occupancy ramp (default :meth:`Ramp.linear` over 3 years).
    profile, lang, coverage
        As for :func:`gridmap.check`.
    today
        Today's check of ``study`` under the same ``profile``, ``lang`` and ``coverage`` (e.g.
        the check a report or the dashboard already has): the base year's result, not
        computed again. Default: computed.

    Returns
    -------
    Projection
    """
    ramp = ramp or Ramp.linear(3)
    wanted = parse_years(years)
    if any(y < base_year for y in wanted):
        raise ValueError(f"years= must not be before base_year= {base_year} (got {wanted})")
    placed = place_projects(projects, study)
    problems = [
        Problem(
            "warning",
            "projects.outside",
            f"项目 {pid}（{row['name']}）不在任何网格或社区内，其住户未计入预测",
            fix="检查项目位置或坐标系",
            row=None,
        )
        for pid, row in placed.iterrows()
        if pd.isna(row["community_id"]) and pd.isna(row["grid_id"])
    ]
    by_grid_attribute = (
        study.households is None and study.grids is not None and "households" in study.grids
    )
    if by_grid_attribute:  # grid counts are attributes: a project outside every grid adds to none
        problems += [
            Problem(
                "warning",
                "projects.outside_grids",
                f"项目 {pid}（{row['name']}）不在任何网格内；网格户数取自属性，其住户未计入预测",
                fix="检查项目位置，或提供住户图层（households=）",
            )
            for pid, row in placed.iterrows()
            if pd.isna(row["grid_id"]) and pd.notna(row["community_id"])
        ]
    placed[f"arrivals_{base_year}"] = arrivals(placed, base_year, base_year=base_year, ramp=ramp)
    if today is None:  # nobody has arrived yet in the base year: today's study as it is
        today = check(study, profile, lang=lang, coverage=coverage)
    results: dict[int, CheckResult] = {base_year: today}
    later = _shared_coverage(today, coverage)
    for year in [y for y in wanted if y != base_year]:
        added = arrivals(placed, year, base_year=base_year, ramp=ramp)
        placed[f"arrivals_{year}"] = added
        results[year] = _with_base_areas(
            check(_with_arrivals(study, placed, added), profile, lang=lang, coverage=later), today
        )
    return Projection(base_year, results, placed, ramp, problems)


def _shared_coverage(today: CheckResult, coverage: dict | None) -> dict:
    """The coverage options of a later year: today's network, no service areas (they are today's).

    Facilities and streets do not change with the years, so neither does the walking network
    nor a facility's service area; only the households do.
    """
    options = dict(coverage or {})
    cov = today.coverage_result
    if cov is not None and cov.network is not None:
        options.setdefault("network", cov.network)
    if cov is not None and cov.service_areas is not None:
        options["service_areas"] = False
    return options


def _with_base_areas(result: CheckResult, today: CheckResult) -> CheckResult:
    """``result`` with today's facility service areas (computed once, the same every year)."""
    base, cov = today.coverage_result, result.coverage_result
    if base is None or cov is None or base.service_areas is None:
        return result
    return result.with_coverage(replace(cov, service_areas=base.service_areas))
