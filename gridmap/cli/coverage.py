"""``gridmap coverage``: service-radius coverage, gap layers and siting from the command line.

Registered by :mod:`gridmap.cli`::

    from gridmap.cli.coverage import add_coverage_parser
    add_coverage_parser(sub)

Examples::

    gridmap coverage gridmap.toml --out out                      # the profile's coverage rules
    gridmap coverage gridmap.toml --types 幼儿园,菜市场 --radius 300 --mode both --out out
    gridmap coverage gridmap.toml --types kindergarten=300,market=500 --policy own
    gridmap coverage gridmap.toml --types market --minutes 10 --speed-kmh 4.5 --mode network
    gridmap coverage gridmap.toml --types kindergarten --radius 300 --site kindergarten --k 5
    gridmap coverage gridmap.toml --out out --household-level    # unmerged gap cells (internal)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridmap._atomic import staged_dir
from gridmap.cli.progress import step
from gridmap.cli.study_args import add_study_arguments, study_kwargs

if TYPE_CHECKING:
    from geopandas import GeoDataFrame

    from gridmap.coverage import CoverageResult, CoverageSpec

__all__ = [
    "add_coverage_parser",
    "parse_types",
    "run_coverage",
    "render_coverage",
    "siting_lines",
    "with_lonlat",
]

#: gridmap.network.WALK_KMH as the help prints it (a test keeps them equal; importing the
#: network package for one number would make every ``gridmap --help`` wait for scipy)
HELP_WALK_KMH = "4.8"


def add_coverage_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``coverage`` subcommand to an ``argparse`` subparsers object."""
    p = sub.add_parser(
        "coverage",
        help="service-radius coverage (straight line + walking network), gap layers, new sites",
    )
    add_study_arguments(p)
    g = p.add_argument_group("coverage")
    g.add_argument(
        "--types",
        help="facility types, comma separated (keys or Chinese names); "
        "TYPE=RADIUS sets a radius per type; "
        "default: the profile's coverage rules only",
    )
    g.add_argument("--radius", type=float, help="radius in metres for --types without one")
    g.add_argument(
        "--minutes",
        type=float,
        help="radius as walking minutes × --speed-kmh instead of metres (a speed "
        "conversion: GB 50180-2018 gives its life circles as distances, "
        "5 min ≈ 300 m, 10 min ≈ 500 m, 15 min 800–1000 m; use --radius for "
        "those)",
    )
    g.add_argument(
        "--speed-kmh",
        type=float,
        default=None,
        help=f"walking speed for --minutes (default {HELP_WALK_KMH} km/h)",
    )
    g.add_argument(
        "--mode",
        choices=["straight", "network", "both"],
        default="both",
        help="distance measure (default both)",
    )
    g.add_argument(
        "--policy",
        choices=["any", "own"],
        default="any",
        help="any facility counts, or only facilities of the household's own community",
    )
    g.add_argument(
        "--max-snap",
        type=float,
        default=200.0,
        help="max distance (m) from a household/facility to the network",
    )
    g.add_argument(
        "--level-column",
        help="network column telling bridges/tunnels apart (not noded across levels)",
    )
    g.add_argument(
        "--close-gaps",
        type=float,
        default=0.0,
        metavar="M",
        help="connect dead ends that stop at most M metres short of another street "
        "(default 0: report them only)",
    )
    g.add_argument(
        "--components",
        choices=["keep", "largest"],
        default="keep",
        help="disconnected network parts: keep (default, reported) or keep only the largest",
    )
    g.add_argument(
        "--cell-size", type=float, default=250.0, help="gap cell size in metres (default 250)"
    )
    g.add_argument("--cell-shape", choices=["hex", "square"], default="hex")
    g.add_argument(
        "--household-level",
        action="store_true",
        help="write household-level detail: gap cells of single buildings unmerged "
        "(default: every gap count covers at least 3 buildings; personal data, "
        "keep such outputs inside the office)",
    )
    g.add_argument(
        "--no-service-areas",
        action="store_true",
        help="skip the per-facility service-area polygons",
    )
    s = p.add_argument_group("siting (where to build next)")
    s.add_argument("--site", metavar="TYPE", help="propose new sites for this facility type")
    s.add_argument("--k", type=int, default=3, help="number of new sites (default 3)")
    s.add_argument(
        "--candidates",
        help="candidate sites layer (file.gpkg:layer); default: street nodes or buildings",
    )
    s.add_argument(
        "--spacing",
        type=float,
        default=100.0,
        help="thin generated candidates to one per SPACING m cell",
    )
    s.add_argument("--capacity", type=float, help="households one new site can serve")
    s.add_argument(
        "--solver",
        choices=["greedy", "exact", "both"],
        default="both",
        help="greedy (with bound), exact CP-SAT, or both (exact on ≤ 2000 candidates)",
    )
    s.add_argument(
        "--time-limit", type=float, default=30.0, help="exact solver time limit in seconds"
    )
    p.set_defaults(func=run_coverage)
    return p


def parse_types(text: str | None, *, radius: float | None, modes: list[str]) -> list[CoverageSpec]:
    """``--types`` text → CoverageSpec list (:func:`gridmap.coverage.specs_for_types`).

    Examples
    --------
    >>> specs = parse_types("幼儿园,market=500", radius=300, modes=["straight"])
    >>> [(s.id, s.radius_m) for s in specs]
    [('kindergarten.straight.300m', 300.0), ('market.straight.500m', 500.0)]
    """
    # lazy: the coverage package loads geopandas/scipy; `gridmap --help` does not need it
    from gridmap.coverage import specs_for_types

    if not text:
        return []
    types = []
    for item in [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]:
        name, _, r = item.partition("=")
        rad = float(r) if r else (float(radius) if radius is not None else None)
        if rad is None:
            raise ValueError(
                f"--types {item}: no radius; add --radius METRES, --minutes, or write {name}=METRES"
            )
        types.append((name, rad))
    return specs_for_types(types, modes=modes)


def run_coverage(args: argparse.Namespace) -> int:
    """Run ``gridmap coverage``: check with coverage, write outputs, optionally propose sites."""
    # lazy: pandas/geopandas/scipy/OR-Tools load when the command runs, not for `--help`
    from gridmap.check import check
    from gridmap.network import WALK_KMH, metres_for_minutes  # (same reason)
    from gridmap.study import read_study  # (same reason)

    radius = args.radius
    if args.minutes is not None:
        speed = WALK_KMH if args.speed_kmh is None else args.speed_kmh
        radius = metres_for_minutes(args.minutes, speed_kmh=speed)
    modes = ["straight", "network"] if args.mode == "both" else [args.mode]
    specs = parse_types(args.types, radius=radius, modes=modes)
    with step(args, "读取数据", "reading the layers"):
        study = read_study(**study_kwargs(args))
    options = {
        "specs": specs,
        "policy": args.policy,
        "max_snap_m": args.max_snap,
        "level_column": args.level_column,
        "components": args.components,
        "close_gaps_m": args.close_gaps,
        "cell_size": args.cell_size,
        "cell_shape": args.cell_shape,
        "service_areas": not args.no_service_areas,
        "household_level": args.household_level,
    }
    with step(args, "计算覆盖率", "measuring coverage"):
        result = check(study, lang=args.lang, coverage=options)
    cov = result.coverage_result
    if cov is None:
        raise ValueError(
            "无法计算覆盖率：需要住户（楼栋/小区户数或网格户数）和带类型的设施图层 "
            "(coverage needs households and a facilities layer with types)"
        )
    with step(args, "选址计算", "proposing sites"):
        report, sites = _run_siting(args, cov, crs=study.crs) if args.site else (None, None)
    written: dict = {}
    if args.out:
        with (
            step(args, "写出结果", "writing the outputs"),
            staged_dir(args.out) as (stage, written),  # one run's files, committed together
        ):
            result.to_dir(stage)
            if sites is not None and report is not None:
                _write_sites(sites, report["facility_type"], stage)
    if args.json:
        payload = {
            "coverage": cov.summary(),
            "timings_s": {k: round(v, 3) for k, v in cov.timings.items()},
        }
        if report is not None:
            payload["siting"] = report
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(render_coverage(cov, lang=args.lang, written=written, siting=report))
    return 0


def _run_siting(
    args: argparse.Namespace, cov: CoverageResult, *, crs: object
) -> tuple[dict, GeoDataFrame]:
    """Propose ``--k`` sites for ``--site``; returns ``(report, sites)``."""
    # lazy: the siting solver (OR-Tools) and the readers load only for --site
    from gridmap.io import read_layer
    from gridmap.siting import propose_sites, siting_spec  # (same reason)

    try:
        spec = siting_spec(cov, args.site)
    except ValueError:
        raise ValueError(
            f"--site {args.site}: no coverage measured for this type; add it to --types"
        ) from None
    candidates = None
    if args.candidates:
        path, _, layer = args.candidates.partition(":")
        candidates = read_layer(path, layer=layer or None)
        if candidates.crs is None:
            raise ValueError(f"--candidates {args.candidates}: the layer has no CRS")
        candidates = candidates.to_crs(crs)
    sites, report = propose_sites(
        cov,
        spec.id,
        args.k,
        candidates=candidates,
        spacing_m=args.spacing,
        capacity=args.capacity,
        method=args.solver,
        time_limit_s=args.time_limit,
    )
    sites = with_lonlat(sites)
    report["sites"] = (
        sites.drop(columns=sites.geometry.name)
        .assign(x=sites.geometry.x.round(2), y=sites.geometry.y.round(2))
        .to_dict("records")
    )
    return report, sites


#: the geographic CRS the sites' lon/lat columns are given in (CGCS2000, as national data)
LONLAT_CRS = "EPSG:4490"


def with_lonlat(sites: GeoDataFrame) -> GeoDataFrame:
    """The sites with ``lon``/``lat`` columns in CGCS2000 (EPSG:4490), 7 decimals (~1 cm).

    For a planner to type into a web map or a survey app; ``x``/``y`` stay the metric ones.
    """
    if sites.crs is None or not len(sites):
        return sites.assign(lon=float("nan"), lat=float("nan"))
    geo = sites.geometry.to_crs(LONLAT_CRS)
    return sites.assign(lon=geo.x.round(7), lat=geo.y.round(7))


def _write_sites(sites: GeoDataFrame, key: str, folder: Path) -> None:
    # lazy: pyogrio loads when sites are written, not for `--help`
    from gridmap.io.gpkg import write_gpkg

    write_gpkg(folder / "sites.gpkg", {f"sites_{key}": sites})
    sites.drop(columns=sites.geometry.name).assign(x=sites.geometry.x, y=sites.geometry.y).to_csv(
        folder / f"sites_{key}.csv", index=False, encoding="utf-8-sig"
    )


def render_coverage(
    cov: CoverageResult,
    *,
    lang: str = "zh",
    written: dict | None = None,
    siting: dict | None = None,
) -> str:
    """A readable coverage table (Chinese by default)."""
    zh = lang == "zh"
    lines = [
        "gridmap 服务半径覆盖率" if zh else "gridmap service-radius coverage",
        (
            ("口径：任一设施" if cov.policy == "any" else "口径：仅本社区设施")
            if zh
            else f"policy: {cov.policy}"
        ),
        "",
    ]
    for sid, s in cov.summary().items():
        lines.append(_summary_line(sid, s, lang=lang))
    for p in cov.problems:
        if p.severity == "warning":
            lines.append(("注意：" if zh else "note: ") + p.message)
    lines += _privacy_lines(cov, zh=zh)
    if siting:
        lines += ["", *siting_lines(siting, zh=zh)]
    if written:
        folder = Path(next(iter(written.values()))).parent
        lines.append(
            ("输出：" if zh else "Outputs: ") + str(folder) + "  (" + ", ".join(written) + ")"
        )
    return "\n".join(lines)


def _summary_line(sid: str, s: dict, *, lang: str) -> str:
    """One spec's line: covered / total and share, or the straight-line bound, or not assessed."""
    # lazy: gridmap.facilities loads pandas; printed only after a run
    from gridmap.facilities import type_label

    zh = lang == "zh"
    how = ("步行" if s["mode"] == "network" else "直线") if zh else s["mode"]
    head = f"{type_label(s['facility_type'], lang=lang):<10} {s['radius_m']:>6g} m {how}: "
    if s["share"] is None and s.get("share_bound") is not None:
        bound = f"{s['covered_bound']:,} / {s['households']:,}"
        share = f"≤{s['share_bound'] * 100:5.1f}%"
        return (
            head
            + (
                f"无路网，直线距离上限 ≤{bound} 户  {share}"
                if zh
                else f"no network, straight-line upper bound ≤{bound} households  {share}"
            )
            + f"   [{sid}]"
        )
    if s["share"] is None:
        return head + ("未评估（无路网）" if zh else "not assessed (no network)")
    return (
        head
        + f"{s['covered']:>9,} / {s['households']:,} "
        + ("户" if zh else "households")
        + f"  {s['share'] * 100:5.1f}%   [{sid}]"
    )


def _privacy_lines(cov: CoverageResult, *, zh: bool) -> list[str]:
    """What the gap layer merged or withheld to keep counts off single buildings."""
    info = {} if cov.gaps is None else cov.gaps.attrs.get("privacy", {})
    if info.get("household_level"):
        return [
            "注意：缺口格网为逐栋明细（含个人信息），仅限内部使用"
            if zh
            else "note: gap cells at household level (personal data): keep inside the office"
        ]
    k, out = info.get("min_buildings"), []
    if info.get("merged_cells"):
        n = info["merged_cells"]
        out.append(
            f"缺口格网：{n} 个不足 {k} 栋楼的格网已并入相邻格网（保护个人信息），总数不变"
            if zh
            else f"gap cells: {n} cells with fewer than {k} buildings merged into neighbours "
            "(privacy); totals unchanged"
        )
    for col, hh in (info.get("withheld") or {}).items():
        out.append(
            f"缺口格网：{col} 全区不足 {k} 栋楼，{hh:,.0f} 户未分格显示"
            if zh
            else f"gap cells: {col} has fewer than {k} buildings in the whole area; "
            f"{hh:,.0f} households not shown per cell"
        )
    return out


def siting_lines(siting: dict, *, zh: bool) -> list[str]:
    """The proposed sites and the newly covered households against the bound."""
    # lazy: gridmap.facilities loads pandas; printed only after a run
    from gridmap.facilities import type_label

    label, status = type_label(siting["facility_type"]), siting["status"]
    out = [
        f"新增 {siting['k']} 处{label}建议选址（{status}）："
        if zh
        else f"{siting['k']} new {siting['facility_type']} sites ({status}):"
    ]
    for row in siting["sites"]:
        where = f"({row['x']:.0f}, {row['y']:.0f})"
        if row.get("lon") == row.get("lon") and row.get("lon") is not None:  # not NaN
            where += f"  {row['lon']:.6f}°E {row['lat']:.6f}°N"
        out.append(f"  #{row['rank']}  {where}  +{row['gain']:,.0f} 户")
    new, bound, gap = siting["covered_new"], siting["upper_bound"], siting["gap"] * 100
    out.append(
        f"新覆盖 {new:,.0f} 户；上界 {bound:,.0f}，与最优差距 ≤ {gap:.1f}%"
        if zh
        else f"newly covered {new:,.0f}; bound {bound:,.0f}; gap ≤ {gap:.1f}%"
    )
    return out
