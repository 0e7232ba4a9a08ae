"""``gridmap rebalance``: the command line of the minimal-change rebalancer.

Registered by :mod:`gridmap.cli` through :func:`add_rebalance_parser`::

    gridmap rebalance gridmap.toml --min 1000 --max 3000 --out 调整方案
    gridmap rebalance --communities a.gpkg:社区 --grids a.gpkg:网格 --lock 330106001003 --out out
    gridmap rebalance gridmap.toml --from-scratch --target 2000 --out new

Writes into ``--out``: ``communities.gpkg`` / ``communities.shp`` (new boundaries),
``findings.csv`` (rules re-run on the plan), ``changes.csv`` / ``changes.xlsx``
(单元编码, 原社区, 新社区, 户数), ``plan.json``, ``rebalance.json`` (solver report
with the explanations and their reason codes) and saves the plan in ``--workspace``
(default ``OUT/workspace.gpkg``, holding this run's plan). All of them replace the earlier
run's files in ``--out`` together (see :func:`gridmap._atomic.staged_dir`). Exit 0 when the
rebalancer ran, even when it explains violations it could not fix.

The work is :meth:`gridmap.plans.Plan.rebalance` (or :meth:`~gridmap.plans.Plan.redraw`);
this module translates the flags into its arguments and prints the result, naming the
remedies by their flags (``--hops``, ``--time-limit``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridmap._atomic import staged_dir
from gridmap._errors import InputError
from gridmap.cli.progress import step
from gridmap.cli.study_args import add_study_arguments, study_kwargs

if TYPE_CHECKING:
    from gridmap.plans import Plan
    from gridmap.rebalance import RebalanceResult
    from gridmap.rules import Profile

__all__ = ["add_rebalance_parser", "run_rebalance", "CLI_OPTIONS"]

#: the remedies' options as this command names them (see :meth:`gridmap.rebalance.Reason.text`)
CLI_OPTIONS = {"hops": "--hops", "time_limit": "--time-limit"}


def add_rebalance_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``gridmap rebalance`` on an ``argparse`` subparsers object; returns the parser."""
    p = sub.add_parser(
        "rebalance",
        help="最小调整：让每个社区户数落在范围内 (minimal-change rebalancing)",
        description="Move the fewest units so every community has --min … --max "
        "households and stays contiguous.",
    )
    add_study_arguments(p)
    p.add_argument(
        "--min",
        type=int,
        default=None,
        dest="min_households",
        help="最少户数 (default: the profile's community size band, e.g. national 1000)",
    )
    p.add_argument(
        "--max",
        type=int,
        default=None,
        dest="max_households",
        help="最多户数 (default: the profile's community size band, e.g. national 3000)",
    )
    p.add_argument(
        "--hops",
        type=int,
        default=2,
        help="a unit may move to communities within this many steps (default 2)",
    )
    p.add_argument(
        "--lock",
        action="append",
        default=[],
        metavar="ID",
        help="community or unit id that must not change; repeatable, or comma-separated",
    )
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="draw a new plan ignoring the current communities",
    )
    p.add_argument(
        "--target",
        type=int,
        default=2000,
        help="--from-scratch: target households per community (default 2000)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=20.0,
        help="solver work budget in deterministic seconds, roughly 1-5 s of wall time "
        "each (default 20); the same input gives the same plan",
    )
    p.add_argument("--plan-name", default="自动调整方案", help="name of the saved plan")
    p.add_argument("--author", default="", help="author recorded in the edit journal")
    p.add_argument(
        "--workspace",
        help="workspace to save the plan in: a GeoPackage or postgresql://user@host/db?schema=NAME "
        "(default OUT/workspace.gpkg)",
    )
    p.add_argument(
        "--shp-encoding", default="utf-8", help="Shapefile text encoding: utf-8 (default) or gbk"
    )
    p.add_argument("--no-split", action="store_true", help="never split an oversized community")
    p.add_argument(
        "--no-dissolve", action="store_true", help="never dissolve an undersized community"
    )
    p.add_argument(
        "--global",
        dest="global_",
        action="store_true",
        help="solve the whole map at once (proves the optimum on small maps)",
    )
    p.set_defaults(func=run_rebalance)
    return p


def _band(args: argparse.Namespace, profile: Profile) -> tuple[int, int, tuple[str, str] | None]:
    """The band to aim at, and a note when a flag overrides the profile's.

    The profile's (:meth:`gridmap.rules.Profile.size_band`) unless ``--min``/``--max`` override
    it; returns ``(min, max, note)`` with a note (zh, en) when a flag overrides.
    """
    band = profile.size_band()
    lo = args.min_households if args.min_households is not None else (band.lower if band else None)
    hi = (
        args.max_households
        if args.max_households is not None
        else (band.upper if band and band.max is not None else None)
    )
    if lo is None or hi is None:
        raise InputError(
            f"规则集 {profile.id} 没有社区户数范围，请用 --min 与 --max 给出 "
            f"(profile {profile.id} has no community household band: "
            "pass --min and --max)"
        )
    if lo < 0 or hi <= 0 or lo > hi:
        raise InputError(
            f"户数范围无效：--min {lo} --max {hi}（需要 0 ≤ min ≤ max，max > 0） "
            f"(invalid band: need 0 <= --min <= --max and --max > 0)"
        )
    note = None
    if (
        (args.min_households is not None or args.max_households is not None)
        and band is not None
        and (lo, hi) != (band.lower, band.upper)
    ):
        note = (
            f"注意：使用命令行给出的户数范围 {lo:,}–{hi:,} 户，而不是规则集 {profile.id} 的 "
            f"{band.lower:,}–{band.upper:,} 户（方案的评价也按此范围）",
            f"note: using the band {lo:,}-{hi:,} from the command line instead of profile "
            f"{profile.id}'s {band.lower:,}-{band.upper:,} (the plan is evaluated with this "
            "band too)",
        )
    return lo, hi, note


def _options(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """The flags as arguments of :meth:`gridmap.plans.Plan.rebalance` (checked, worded as flags)."""
    if args.hops < 1:
        raise InputError(f"--hops 必须 ≥ 1，收到 {args.hops} (--hops must be at least 1)")
    if not args.time_limit > 0:
        raise InputError(
            f"--time-limit 必须 > 0，收到 {args.time_limit} (--time-limit must be positive)"
        )
    locks = [x.strip() for item in args.lock for x in item.split(",") if x.strip()]
    units, comms = set(plan.units.index), set(plan.labels)
    unknown = [x for x in locks if x not in units and x not in comms]
    if unknown:
        raise InputError(f"--lock：未知的社区或网格编码 {', '.join(unknown)} (unknown ids)")
    return dict(
        min_households=args.min_households,
        max_households=args.max_households,
        hops=args.hops,
        locked=locks,
        allow_split=not args.no_split,
        allow_dissolve=not args.no_dissolve,
        local=not args.global_,
        time_limit=args.time_limit,
    )


def _report(
    res: RebalanceResult, plan: Plan, args: argparse.Namespace, profile: Profile
) -> dict[str, Any]:
    """``rebalance.json``: the solver's figures, the explanations and their reason codes."""
    rb = res.solver
    return {
        "status": rb.status_,
        "proven_optimal": res.proven,
        "min_households": args.min_households,
        "max_households": args.max_households,
        "profile": profile.id,
        "work": rb.work_,
        "deterministic": res.deterministic,
        "violations_before": res.violations_before,
        "violations_after": res.violations_after,
        "units_moved": int(len(plan.changes())),
        "households_moved": plan.kpis()["households_moved"],
        "seconds": round(rb.seconds_, 2),
        "explanations": res.explanations(options=CLI_OPTIONS),
        "excluded_units": plan.excluded,
        "non_contiguous": rb.non_contiguous_,
        "subproblems": rb.subproblems_,
        "outcome": res.status,
        "reasons": [r.to_dict() for r in res.reasons],
    }


def _check_plan_name(name: str, workspace: Path | str) -> None:
    """Refuse, before any work, a ``--plan-name`` another plan in ``--workspace`` has."""
    # lazy: gridmap.plans loads pandas/geopandas; `gridmap --help` does not need it
    from gridmap.plans import list_plans, open_store

    if isinstance(workspace, Path) and not workspace.exists():
        return
    if name in set(list_plans(workspace)["name"]):
        where = open_store(workspace).location  # a database URL without its password
        raise InputError(
            f"工作区 {where} 中已有名为“{name}”的方案：请用 --plan-name 另起一个名称，"
            f"或换一个 --workspace (a plan named {name!r} is already in {where}: "
            "choose another name with --plan-name, or another --workspace)"
        )


def run_rebalance(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    # lazy: pandas/geopandas/OR-Tools load when the command runs, not for `gridmap --help`
    from gridmap.check import check
    from gridmap.plans import Plan, as_workspace, open_store  # (same reason)
    from gridmap.study import read_study  # (same reason)

    if not args.out:
        raise InputError("gridmap rebalance 需要 --out 输出文件夹 (--out DIR is required)")
    out = Path(args.out)
    given = as_workspace(args.workspace) if args.workspace else None  # a URL stays a str
    if given is not None:
        _check_plan_name(args.plan_name, given)
    with step(args, "读取数据", "reading the layers"):
        study = read_study(**study_kwargs(args))
    with step(args, "检查规则", "checking the rules"):
        result = check(study, lang=args.lang)
    lo, hi, band_note = _band(args, result.profile)
    args.min_households, args.max_households = lo, hi
    plan = Plan.from_check(result, name=args.plan_name, author=args.author)
    if band_note:  # an explicit band: the solver, the KPIs and the findings all use it
        plan.profile = result.profile.with_band(min=lo, max=hi)
    options = _options(args, plan)
    with step(args, "自动调整", "rebalancing"):
        if args.from_scratch:
            res = plan.redraw(target=args.target, **options)
        else:
            res = plan.rebalance(**options)
    plan.apply(res.edit, comment="gridmap rebalance")
    report = _report(res, plan, args, result.profile)
    with (
        step(args, "写出结果与保存方案", "writing the outputs and saving the plan"),
        staged_dir(out) as (stage, written),  # one run's files, committed together
    ):
        plan.export(stage, encoding=args.shp_encoding)  # under the plan's profile (and band)
        (stage / "rebalance.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        plan.save(given if given is not None else stage / "workspace.gpkg")
    workspace = open_store(given).location if given is not None else out / "workspace.gpkg"
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    zh = args.lang == "zh"
    if band_note:
        print(band_note[0] if zh else band_note[1])
    seconds, status = res.solver.seconds_, res.solver.status_
    if zh:
        print(
            f"方案 {plan.name}：超出范围的社区 {res.violations_before} → {res.violations_after}，"
            f"调整 {report['units_moved']} 个单元（{report['households_moved']:,} 户），"
            f"用时 {seconds:.1f} 秒，状态 {status}"
        )
    else:
        print(
            f"plan {plan.name}: communities outside the band {res.violations_before} → "
            f"{res.violations_after}, {report['units_moved']} units moved "
            f"({report['households_moved']:,} households), {seconds:.1f} s, {status}"
        )
    for note in res.explanations(options=CLI_OPTIONS):
        print("  - " + note)
    print(
        ("输出：" if zh else "written: ") + ", ".join(sorted(written)) + f"; workspace {workspace}"
    )
    return 0
