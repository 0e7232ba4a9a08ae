"""``gridmap report`` and ``gridmap export``: the command-line side of :mod:`gridmap.report`.

Registered by :mod:`gridmap.cli` through :func:`add_report_parser`::

    gridmap report [CONFIG] [study options] --out report.pdf|report.html|report.xlsx|DIR
                   [--layers layers.gpkg|DIR] [--shp-encoding gbk|utf-8] [--plan WORKSPACE.gpkg:方案名]
                   [--date 2026-11-23] [--title 标题] [--household-level]
                   [--projects 在建项目.gpkg] [--year 2026-2030] [--base-year 2025] [--ramp-years 3]
    gridmap export [CONFIG] [study options] --out layers.gpkg|DIR [--shp-encoding gbk|utf-8]
                   [--household-level] [--title 名称]

When the study has residential projects — ``--projects F``, else ``[study] projects`` of the
config — the PDF and XLSX get the 预测 section: the check re-run per year as the projects fill
up, with the first year of each violation (:mod:`gridmap.change.projection`; the options are
those of ``gridmap check --projects``). ``--year A-B`` chooses the years; by default they run
from the base year until every project is full (at most ten years), as on the dashboard.

``--title`` names the district on the cover, in every page header and on the maps; a
config file's ``[study] name`` does the same (``--title`` wins). Without either the
name is ``gridmap``.

``--out DIR`` (a folder, or a path without a suffix) writes ``report.pdf``,
``report.html`` and ``report.xlsx`` into it (with ``--layers`` naming the same
folder, the layers too), replacing the earlier run's files together. ``export`` writes the gap layers:
a GeoPackage for ``*.gpkg``, otherwise one Shapefile per layer in the folder
(GBK by default, for older ArcGIS). Gap layers keep every count to at least three
buildings unless ``--household-level`` is given (:mod:`gridmap.coverage.privacy`).

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="gridmap")
>>> add_report_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["report", "gridmap.toml", "--out", "r.pdf", "--date", "2026-11-23",
...                           "--title", "苏州工业园区"])
>>> args.out, args.date, args.title
('r.pdf', '2026-11-23', '苏州工业园区')
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridmap._atomic import staged_dir
from gridmap.cli.progress import step
from gridmap.cli.projection import add_projection_arguments
from gridmap.cli.study_args import add_study_arguments, study_kwargs

if TYPE_CHECKING:
    from gridmap.change import Projection
    from gridmap.check import CheckResult
    from gridmap.plans import Plan

__all__ = ["add_report_parser"]


def _report_args(p: argparse.ArgumentParser) -> None:
    add_study_arguments(p)
    p.add_argument(
        "--shp-encoding",
        default="gbk",
        choices=["gbk", "utf-8", "gb18030"],
        help="Shapefile text encoding of exported layers (default gbk, for older ArcGIS)",
    )
    p.add_argument(
        "--plan",
        metavar="WORKSPACE.gpkg:方案名",
        help="add a saved rebalancing plan (before/after maps, change list)",
    )
    p.add_argument("--date", help="report date printed on every page (default today)")
    p.add_argument(
        "--title",
        metavar="名称",
        help="the district / study name on the cover, page headers and maps "
        "(default: [study] name of the config; without either, 'gridmap')",
    )
    p.add_argument(
        "--household-level",
        action="store_true",
        help="gap layers at household level: cells of single buildings unmerged "
        "(default: every gap count covers at least 3 buildings; personal data, "
        "keep such outputs inside the office)",
    )


def _check(args: argparse.Namespace) -> CheckResult:
    # lazy: pandas/geopandas/OR-Tools load when the command runs, not for `gridmap --help`
    from gridmap.check import check
    from gridmap.study import read_study  # (same reason)

    coverage = {"household_level": True} if args.household_level else None
    kwargs = study_kwargs(args)
    if args.title:  # --title names the study over the config's [study] name
        kwargs["name"] = args.title
    with step(args, "读取数据", "reading the layers"):
        study = read_study(**kwargs)
    with step(args, "检查规则与覆盖率", "checking rules and coverage"):
        return check(study, lang=args.lang, coverage=coverage)


def _load_plan(spec: str | None) -> Plan | None:
    # lazy: the plans package loads geopandas, not needed for `gridmap --help`
    from gridmap.plans import list_plans, load_plan

    if not spec:
        return None
    workspace, _, name = spec.rpartition(":")
    if not workspace:  # no ':' → the only plan in the workspace
        workspace, name = spec, ""
    if not name:
        plans = list_plans(workspace)
        if len(plans) != 1:
            names = plans["name"].tolist() if len(plans) else "无"
            raise ValueError(
                f"--plan {spec}: name the plan as WORKSPACE.gpkg:方案名; plans: {names}"
            )
        name = str(plans["name"].iloc[0])
    return load_plan(workspace, name)


def _forecast(args: argparse.Namespace, result: CheckResult) -> Projection | None:
    """The projection under the check's profile when the study has projects, else None.

    The projects are ``--projects``, else the config's ``[study] projects``; the years
    ``--year``, else from the base year until every project is full (as the dashboard's).
    """
    # lazy: the change package loads pandas/geopandas, not needed for `gridmap --help`
    from gridmap.change import Ramp, config_projects, forecast_years, project, read_projects
    from gridmap.columns import parse_mapping  # (same reason: pandas)

    source = args.projects or (config_projects(args.config) if args.config else None)
    if not source:
        if args.year:
            raise ValueError(
                "--year 需要在建项目：--projects 项目.gpkg 或配置文件 [study] projects "
                "(--year needs the projects: --projects FILE or [study] projects in the config)"
            )
        return None
    base_year = args.base_year or dt.date.today().year
    try:
        ramp = (
            Ramp(tuple(float(x) for x in args.ramp.split(",")))
            if args.ramp
            else Ramp.linear(args.ramp_years)
        )
        projects = read_projects(source, crs=args.crs, mapping=parse_mapping(args.projects_map))
        years = args.year or forecast_years(projects, base_year, ramp)
        with step(args, "预测各年检查", "projecting the check year by year"):
            return project(
                result.study,
                projects,
                years,
                base_year=base_year,
                ramp=ramp,
                profile=result.profile,
                lang=args.lang,
                coverage={"household_level": True} if args.household_level else None,
                today=result,
            )
    except ValueError as exc:  # InputError too: word the API parameters as flags
        text = str(exc)
        for api, flag in (
            ("years=", "--year "),
            ("base_year=", "--base-year "),
            ("ramp_years=", "--ramp-years "),
            ("ramp=", "--ramp "),
            ("mapping={", "--projects-map {"),
        ):
            text = text.replace(api, flag)
        raise ValueError(text) from exc


def _write(result: CheckResult, path: Path, args: argparse.Namespace, **kw: Any) -> Path:
    """One report file (:func:`gridmap.report.write_report`: the forecast in every format but layers)."""
    from gridmap import report  # lazy: matplotlib/folium load when a report is written

    return report.write_report(result, path, date=args.date, encoding=args.shp_encoding, **kw)


def _cmd_report(args: argparse.Namespace) -> int:
    # lazy: matplotlib/folium load when a report is written, not for `gridmap --help`
    from gridmap import report

    if not args.out:
        raise ValueError(
            "gridmap report 需要 --out：report.pdf、report.html、report.xlsx 或一个文件夹"
        )
    out = Path(args.out)
    if out.suffix and report.FORMATS.get(out.suffix.lower()) is None:
        raise ValueError(
            f"--out {out}: 无法识别的报告格式；可用 {', '.join(report.FORMATS)} 或文件夹"
        )
    result = _check(args)
    forecast = _forecast(args, result)
    plan = _load_plan(args.plan)
    if plan is not None and plan.profile.id != result.profile.id:
        # one profile for the whole report: the plan is re-evaluated under the check's profile
        plan.set_profile(result.profile, community_attrs=result.communities)
        print(
            f"方案 {plan.name} 按本次检查的规则配置 {result.profile.id} 重新评估"
            if args.lang == "zh"
            else f"plan {plan.name} re-evaluated under this check's profile {result.profile.id}"
        )
    layers_here = (
        bool(args.layers) and not out.suffix and Path(args.layers).resolve() == out.resolve()
    )
    layers: list[Path] = []
    if out.suffix:  # one file, written atomically
        with step(args, f"写出 {out.name}", f"writing {out.name}"):
            paths = [_write(result, out, args, plan=plan, forecast=forecast)]
    else:  # a folder: this run's files replace the earlier run's together
        names = ("report.pdf", "report.html", "report.xlsx")
        with staged_dir(out) as (stage, written):
            for name in names:
                with step(args, f"写出 {name}", f"writing {name}"):
                    _write(result, stage / name, args, plan=plan, forecast=forecast)
            if layers_here:
                with step(args, "导出图层", "exporting the layers"):
                    report.export_layers(result, stage, encoding=args.shp_encoding)
        paths = [written[name] for name in names]
        layers = [f for name, f in written.items() if name not in names]
    for path in paths:
        print(("已生成：" if args.lang == "zh" else "written: ") + str(path))
    if args.layers and not layers_here:
        with step(args, "导出图层", "exporting the layers"):
            layers = report.export_layers(result, args.layers, encoding=args.shp_encoding)
    if layers:
        shown = ", ".join(str(f) for f in layers if f.suffix in (".gpkg", ".shp"))
        print(("图层：" if args.lang == "zh" else "layers: ") + shown)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    # lazy: the report package loads matplotlib/folium, not needed for `gridmap --help`
    from gridmap import report

    if not args.out:
        raise ValueError("gridmap export 需要 --out：layers.gpkg 或 Shapefile 输出文件夹")
    result = _check(args)
    with step(args, "导出图层", "exporting the layers"):
        files = report.export_layers(result, args.out, encoding=args.shp_encoding)
    for f in files:
        if f.suffix in (".gpkg", ".shp"):
            print(f)
    return 0


def add_report_parser(sub: Any) -> None:
    """Register ``report`` and ``export`` on the ``gridmap`` subparsers ``sub``.

    Parameters
    ----------
    sub
        What :meth:`argparse.ArgumentParser.add_subparsers` returned.
    """
    p = sub.add_parser(
        "report",
        help="write the report: PDF (A4, Chinese), offline HTML map, or XLSX tables",
        description="检查并生成报告：--out report.pdf | report.html | report.xlsx | 文件夹（三种全部）",
    )
    _report_args(p)
    p.add_argument(
        "--layers",
        metavar="layers.gpkg|DIR",
        help="also export the gap layers: GeoPackage, or Shapefiles into a folder",
    )
    add_projection_arguments(p)
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser(
        "export",
        help="export units with status and gap layers: GeoPackage or Shapefile (GBK)",
        description="导出图层：--out layers.gpkg（GeoPackage）或文件夹（Shapefile，默认 GBK 编码）",
    )
    _report_args(p)
    p.set_defaults(func=_cmd_export, layers=None)
