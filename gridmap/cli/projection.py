"""``gridmap check … --projects F [--year 2028]``: the check for future years as projects fill up.

::

    gridmap check gridmap.toml --projects 在建项目.gpkg --year 2026-2030 --out forecast
    gridmap check gridmap.toml --projects 在建项目.gpkg --out forecast   # until every project is full
    gridmap check gridmap.toml --year 2028          # the projects of the config's [study] projects

Without ``--year`` the years run from the base year until every project is full (at most 10
years ahead, :func:`gridmap.change.forecast_years`), as in ``gridmap report``; without
``--projects`` the config's ``[study] projects`` are used.

Writes each year's check outputs into ``--out/<year>/`` and, in ``--out``, the projection:
``predicted_violations.csv`` / ``.xlsx`` (the first year of each violation), ``households_by_year.csv``,
``projection.gpkg`` and ``projection.json`` (see :mod:`gridmap.change.projection`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace

from gridmap._errors import InputError, Problem
from gridmap.cli.study_args import study_kwargs

__all__ = ["add_projection_arguments", "run_projection"]


def add_projection_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--projects``, ``--year``, ``--base-year``, ``--ramp-years``, ``--ramp``, ``--projects-map``."""
    g = p.add_argument_group("projection (预测)")
    g.add_argument(
        "--projects",
        help="residential projects (规划户数, 已入住户数 or 入住率, 计划竣工年份): re-run the check "
        "for each year as they fill up (default: the config's [study] projects)",
    )
    g.add_argument(
        "--year",
        help="year or range to project, e.g. 2028 or 2026-2030 "
        "(default: from the base year until every project is full, at most 10 years)",
    )
    g.add_argument(
        "--base-year", type=int, help="the year of today's data (default: the current year)"
    )
    g.add_argument(
        "--ramp-years",
        type=int,
        default=3,
        help="planned households arrive linearly over this many years from completion (default 3)",
    )
    g.add_argument(
        "--ramp",
        help="occupancy by year of move-in instead, e.g. 0.4,0.7,0.9,1 (overrides --ramp-years)",
    )
    g.add_argument(
        "--projects-map",
        action="append",
        default=[],
        metavar="canonical=源列名",
        help="projects column mapping, e.g. --projects-map planned_households=总套数",
    )


def _flags(problem: Problem) -> Problem:
    fix = problem.fix.replace("mapping={", "--projects-map {").replace(
        "ramp_years=", "--ramp-years "
    )
    return replace(problem, fix=fix)


def run_projection(args: argparse.Namespace, cli_problem: Callable[[Problem], Problem]) -> int:
    """Run ``check`` with ``--projects`` or ``--year``; ``cli_problem`` words study problems as flags.

    The projects are ``--projects``, else the config's ``[study] projects``; the years ``--year``,
    else :func:`gridmap.change.forecast_years` (from the base year until every project is full).
    """
    # lazy: the analysis stack loads when the command runs, not for `gridmap --help`
    from gridmap.change import Ramp, config_projects, forecast_years, project, read_projects
    from gridmap.columns import parse_mapping  # (same reason)
    from gridmap.study import read_study  # (same reason)

    source = args.projects or (config_projects(args.config) if args.config else None)
    if not source:
        raise InputError(
            "--year 需要在建项目：--projects 项目.gpkg 或配置文件 [study] projects "
            "(--year needs the projects: --projects FILE or [study] projects in the config)"
        )
    try:
        ramp = (
            Ramp(tuple(float(x) for x in args.ramp.split(",")))
            if args.ramp
            else Ramp.linear(args.ramp_years)
        )
    except ValueError as exc:
        raise ValueError(
            str(exc).replace("ramp=", "--ramp").replace("ramp_years=", "--ramp-years ")
        ) from exc
    base = args.base_year or dt.date.today().year
    study = read_study(**study_kwargs(args))
    try:
        projects = read_projects(source, crs=args.crs, mapping=parse_mapping(args.projects_map))
    except InputError as exc:
        raise InputError([_flags(p) for p in exc.problems]) from exc
    try:
        projection = project(
            study,
            projects,
            args.year or forecast_years(projects, base, ramp),
            base_year=base,
            ramp=ramp,
            lang=args.lang,
            coverage={"household_level": True} if args.household_level else None,
        )
    except ValueError as exc:
        raise ValueError(
            str(exc).replace("years=", "--year ").replace("base_year=", "--base-year ")
        ) from exc
    for r in projection.results.values():
        r.problems = [cli_problem(p) for p in r.problems]
    written = projection.to_dir(args.out) if args.out else {}
    summary = projection.summary()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print(_render(projection, summary, zh=args.lang == "zh", written=list(written)))
    return 0


def _render(projection, summary: dict, *, zh: bool, written: list[str]) -> str:
    lines = [
        (
            f"gridmap 预测：{summary['projects']} 个项目，规划 {summary['planned_households']:,} 户，"
            f"基准年 {summary['base_year']}"
        )
        if zh
        else f"gridmap projection: {summary['projects']} projects, "
        f"{summary['planned_households']:,} planned households, base year {summary['base_year']}"
    ]
    for year, y in summary["years"].items():
        size = y["communities_size"]
        fail_c = y["communities_status"].get("fail", 0)
        fail_g = y["grids_status"].get("fail", 0)
        lines.append(
            f"{year}：住户 {y['households_total']:,}，社区不合规 {fail_c}（偏大 {size.get('too_large', 0)}，"
            f"偏小 {size.get('too_small', 0)}），网格不合规 {fail_g}，新增违规 {y['new_violations']}"
            if zh
            else f"{year}: households {y['households_total']:,}, communities failing {fail_c} "
            f"(too large {size.get('too_large', 0)}, too small {size.get('too_small', 0)}), "
            f"grids failing {fail_g}, new violations {y['new_violations']}"
        )
    v = projection.violations()
    new = v[v["new"]] if len(v) else v
    if len(new):
        lines.append("")
        lines.append("预测新增违规（首次年份）：" if zh else "Predicted violations (first year):")
        for _, r in new.head(30).iterrows():
            lines.append(
                f"  {r['first_year']}  {r['unit_id']} {r['name']}  {r['rule_title']}：{r['message']}"
            )
        if len(new) > 30:
            lines.append(f"  … {len(new) - 30}")
    for p in projection.problems:
        lines.append(f"[{p.severity}] {p.message}")
    if written:
        lines.append(("输出：" if zh else "Outputs: ") + ", ".join(written))
    return "\n".join(lines)
