"""The ``gridmap`` command line (contract: DESIGN.md "CLI contract").

Exit status: 0 when the command ran (whatever the check found); 2 with a report
naming file, layer, column and row when the input is unusable; 1 on any other error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

from gridmap._atomic import OutputError, output_error
from gridmap._errors import InputError, Problem, format_problems
from gridmap._version import __version__
from gridmap.cli.compare import add_compare_parser
from gridmap.cli.coverage import add_coverage_parser
from gridmap.cli.demo import write_demo_workspace
from gridmap.cli.national import add_national_parser
from gridmap.cli.plans import add_plan_parser
from gridmap.cli.progress import add_quiet_argument, step
from gridmap.cli.projection import add_projection_arguments, run_projection
from gridmap.cli.rebalance import add_rebalance_parser
from gridmap.cli.reconcile import add_reconcile_parser
from gridmap.cli.report import add_report_parser
from gridmap.cli.serve import add_serve_parser
from gridmap.cli.study_args import add_study_arguments, study_kwargs
from gridmap.cli.users import add_users_parser
from gridmap.labels import text_width

__all__ = ["main", "build_parser", "render_summary", "FLAGS", "cli_problem"]

#: The flag that feeds each keyword of :func:`gridmap.study.read_study` (the one table: library
#: messages name the keyword, ``households_crs="gcj02"``; the command line prints the flag,
#: ``--households-crs gcj02``). :func:`gridmap.cli.study_args.study_kwargs` maps them back.
FLAGS = {
    "communities": "--communities",
    "grids": "--grids",
    "households": "--households",
    "facilities": "--facilities",
    "network": "--network",
    "profile": "--profile",
    "crs": "--crs",
    "facilities_crs": "--facilities-crs",
    "households_crs": "--households-crs",
    "metric": "--metric-crs",
    "encoding": "--encoding",
    "mapping": "--map",
    "households_method": "--households-method",
}


def _flag_wording(text: str, param: str) -> str:
    """``households_crs="gcj02"`` → ``--households-crs gcj02`` (only the keyword ``param``).

    A bare ``crs=`` becomes ``--crs``; ``mapping={"households": "住户数"}`` becomes
    ``--map households=住户数``.
    """
    flag = FLAGS.get(param)
    if not flag or not text:
        return text
    if param == "mapping":
        text = re.sub(r'(?<![\w.])mapping=\{"([^"]*)": "([^"]*)"\}', rf"{flag} \1=\2", text)
    value = r"""(?:"([^"]*)"|'([^']*)')?"""
    return re.sub(
        rf"(?<![\w.]){re.escape(param)}={value}",
        lambda m: flag + ("" if m[1] is None and m[2] is None else f" {m[1] or m[2] or ''}"),
        text,
    )


def cli_problem(problem: Problem) -> Problem:
    """The problem worded for the command line: its keyword (``problem.param``) as the flag.

    Examples
    --------
    >>> p = Problem("warning", "crs.maybe_gcj02", "…", fix='加 households_crs="gcj02"',
    ...             param="households_crs")
    >>> cli_problem(p).fix
    '加 --households-crs gcj02'
    """
    if "x= and y=" in problem.fix:  # the coordinate columns of a point table: --map x=… y=…
        problem = replace(
            problem, fix=problem.fix.replace("x= and y=", "--map x=COLUMN --map y=COLUMN")
        )
    if problem.param not in FLAGS:
        return problem
    return replace(
        problem,
        message=_flag_wording(problem.message, problem.param),
        fix=_flag_wording(problem.fix, problem.param),
    )


def _run_check(
    kwargs: dict,
    *,
    out: Path | None,
    as_json: bool,
    lang: str,
    household_level: bool = False,
    args: argparse.Namespace | None = None,
) -> int:
    # lazy: pandas/geopandas/OR-Tools load when a command runs, so `gridmap --help` answers at once
    from gridmap.check import check
    from gridmap.study import read_study  # (same reason)

    with step(args, "读取数据", "reading the layers"):
        study = read_study(**kwargs)
    with step(args, "检查规则与覆盖率", "checking rules and coverage"):
        result = check(
            study, lang=lang, coverage={"household_level": True} if household_level else None
        )
    result.problems = [cli_problem(p) for p in result.problems]  # problems.csv speaks in flags
    with step(args, "写出结果", "writing the outputs"):
        written = result.to_dir(out) if out else {}
    if as_json:
        print(json.dumps(result.summary(), ensure_ascii=False, indent=2))
    else:
        print(render_summary(result, lang=lang, written=written))
    return 0


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return int(text_width(text))


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _rpad(text: str, width: int) -> str:
    return " " * max(0, width - _width(text)) + text


def render_summary(result, *, lang: str = "zh", written: dict | None = None) -> str:
    """A readable summary of a check (Chinese by default).

    QA lines give the households a finding concerns as well as the number of
    findings (``住户不在任何网格内：205,214 户（55.0%），1 条``), read from
    :func:`gridmap.qa.qa_counts`.
    """
    # lazy: the QA tables need pandas, loaded only once a check ran (see _run_check)
    from gridmap.qa import qa_counts

    s = result.summary()
    zh = lang == "zh"
    p = result.profile
    lines = []
    lines.append(("gridmap 合规检查 — " if zh else "gridmap compliance check — ") + s["study"])
    lines.append(
        (f"规则配置：{p.id}（{p.title_zh}）" if zh else f"Profile: {p.id} ({p.title_en})")
        + ("    坐标系：" if zh else "    CRS: ")
        + s["crs"]
    )
    cs = s["communities_status"]
    lines.append(
        f"社区 {s['communities']} 个：不合规 {cs.get('fail', 0)}，仅警告 {cs.get('warning', 0)}，合规 {cs.get('pass', 0)}，未评估 {cs.get('not_assessed', 0)}"
        if zh
        else f"Communities {s['communities']}: failing {cs.get('fail', 0)}, warnings only {cs.get('warning', 0)}, compliant {cs.get('pass', 0)}, not assessed {cs.get('not_assessed', 0)}"
    )
    if s["grids"]:
        gs = s["grids_status"]
        lines.append(
            f"网格 {s['grids']} 个：不合规 {gs.get('fail', 0)}，合规 {gs.get('pass', 0)}，未评估 {gs.get('not_assessed', 0)}"
            if zh
            else f"Grids {s['grids']}: failing {gs.get('fail', 0)}, compliant {gs.get('pass', 0)}, not assessed {gs.get('not_assessed', 0)}"
        )
    lines.append(
        f"住户 {s['households_total']:,} 户：已分配到社区 {s['households_assigned']:,}，未分配 {s['households_unassigned']:,}"
        if zh
        else f"Households {s['households_total']:,}: assigned {s['households_assigned']:,}, unassigned {s['households_unassigned']:,}"
    )
    band = p.size_band()
    if (
        band is not None
    ):  # the size status of the one evaluation (plans, reports and the dashboard show the same)
        sz = s["communities_size"]
        if sz["not_assessed"] == s["communities"]:
            lines.append(
                f"社区规模（{band.label()}）：未评估（缺少户数）"
                if zh
                else f"Community size ({band.label('en')}): not assessed (no household counts)"
            )
        else:
            na = (
                (f"，未评估 {sz['not_assessed']}" if zh else f", not assessed {sz['not_assessed']}")
                if sz["not_assessed"]
                else ""
            )
            lines.append(
                f"社区规模（{band.label()}）：达标 {sz['pass']}，偏小 {sz['too_small']}，偏大 {sz['too_large']}{na}"
                if zh
                else f"Community size ({band.label('en')}): in band {sz['pass']}, too small {sz['too_small']}, "
                f"too large {sz['too_large']}{na}"
            )
    lines.append("")
    head = ("规则", "合规", "不合规", "未评估") if zh else ("Rule", "pass", "fail", "n/a")
    lines.append(f"{_pad(head[0], 50)}{_rpad(head[1], 6)}{_rpad(head[2], 8)}{_rpad(head[3], 8)}")
    for rule in p.rules:
        counts = s["rules"].get(rule.id)
        if not counts:
            continue
        title = rule.title("zh" if zh else "en")
        title = title if len(title) <= 24 else title[:23] + "…"
        lines.append(
            f"{_pad(title, 50)}{counts.get('pass', 0):>6}{counts.get('fail', 0):>8}{counts.get('not_assessed', 0):>8}"
        )
    if s["qa"]:
        lines.append("")
        lines.append("数据质检：" if zh else "Data QA:")
        titles = result.findings.drop_duplicates("rule_id").set_index("rule_id")["rule_title"]
        total = s["households_total"]
        for rid, c in qa_counts(result.findings).items():
            n, hh = c["findings"], c["households"]
            count = f"{n:,} 条" if zh else f"{n:,} finding{'s' if n != 1 else ''}"
            if hh is not None:
                share = (
                    f"（{hh / total:.1%}）"
                    if zh and total
                    else f" ({hh / total:.1%})"
                    if total
                    else ""
                )
                count = (f"{hh:,} 户{share}，" if zh else f"{hh:,} households{share}, ") + count
            lines.append(f"  {titles.get(rid, rid)} ({rid})" + ("：" if zh else ": ") + count)
    lines += _missing_layer_hints(result, zh=zh)
    pr = s["problems"]
    lines.append("")
    lines.append(
        (
            f"输入问题：警告 {pr['warning']}，已修复 {pr['info']}"
            if zh
            else f"Input problems: {pr['warning']} warnings, {pr['info']} repairs"
        )
        + ("（详见 problems.csv）" if zh and written else " (see problems.csv)" if written else "")
    )
    if written:
        folder = Path(next(iter(written.values()))).parent
        lines.append(
            ("输出：" if zh else "Outputs: ") + str(folder) + "  (" + ", ".join(written) + ")"
        )
    return "\n".join(lines)


#: The optional layers whose absence leaves rules unassessed, with the flag that adds each.
_HINTED_LAYERS = {
    "households": ("住户", "households", "--households"),
    "facilities": ("设施", "facilities", "--facilities"),
}


def _missing_layer_hints(result, *, zh: bool) -> list[str]:
    """A hint per missing layer when rules went unassessed for every unit without it.

    Households count as present when the grids or communities carry a household column
    (``households_total`` > 0).
    """
    findings = result.findings
    if findings.empty:
        return []
    whole = findings.groupby("rule_id")["status"].agg(lambda st: bool((st == "not_assessed").all()))
    unassessed = int(whole.sum())
    out = []
    for kind, (zh_name, en_name, flag) in _HINTED_LAYERS.items():
        if getattr(result.study, kind) is not None:
            continue
        if kind == "households" and result.summary()["households_total"]:
            continue
        if unassessed:
            out.append(
                f"提示：没有{zh_name}图层，{unassessed} 条规则对所有单元均未评估；用 {flag} 文件 加上它"
                if zh
                else f"hint: no {en_name} layer; {unassessed} rules were not assessed for any "
                f"unit; add it with {flag} FILE"
            )
    return [""] + out if out else []


def _cmd_check(args) -> int:
    if args.projects or args.year:
        return run_projection(args, cli_problem)
    return _run_check(
        study_kwargs(args),
        out=Path(args.out) if args.out else None,
        household_level=args.household_level,
        as_json=args.json,
        lang=args.lang,
        args=args,
    )


def _cmd_demo(args) -> int:
    # lazy: gridmap.study loads pandas/geopandas; `gridmap --help` does not need it
    from gridmap.study import load_config

    out = Path(args.out or "gridmap-demo")
    config, kept = write_demo_workspace(out)
    say = sys.stderr if args.json else sys.stdout
    if not args.json:
        print(
            (
                "演示工作区（合成数据）："
                if args.lang == "zh"
                else "Demo workspace (synthetic data): "
            )
            + str(out.resolve())
        )
    for note in kept:
        print(note.text(args.lang), file=say)
    return _run_check(
        load_config(config), out=out / "out", as_json=args.json, lang=args.lang, args=args
    )


def _cmd_profiles(args) -> int:
    # lazy: the rules package loads pandas; `gridmap --help` does not need it
    from gridmap.rules import list_profiles, load_profile

    for name in list_profiles():
        p = load_profile(name)
        ext = f"  (extends {p.extends})" if p.extends else ""
        print(
            f"{name:<16}{p.title_zh if args.lang == 'zh' else p.title_en}  [{len(p.rules)} rules]{ext}"
        )
    return 0


def _cmd_rules(args) -> int:
    # lazy: the rules package loads pandas; `gridmap --help` does not need it
    from gridmap.rules import UNVERIFIED, load_profile

    p = load_profile(args.profile)
    print(f"{p.id}: {p.title_zh} / {p.title_en}")
    for r in p.rules:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        lines = [
            f"\n{r.id}  [{r.level}, {r.kind}, {r.severity}]",
            f"  {r.title_zh}",
            f"  {r.title_en}",
            f"  {params}",
            f"  依据 / source: {r.citation or r.source}",
        ]
        if r.quote:
            lines.append(f"  原文 / quote: “{r.quote}”")
        if not r.verified:
            lines.append(f"  {UNVERIFIED}（尚未对照原文核实 / not yet verified against the text）")
        print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``gridmap`` argument parser: ``demo``, ``check``, ``profiles``, ``rules`` and one sub-command per module of :mod:`gridmap.cli`."""
    parser = argparse.ArgumentParser(
        prog="gridmap",
        description="网格化管理 空间分析：社区与网格合规检查 (grid management analytics)",
    )
    parser.add_argument("--version", action="version", version=f"gridmap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "demo", help="build the demo workspace (synthetic), run a check, print the summary"
    )
    p.add_argument("--out", help="workspace folder (default ./gridmap-demo)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    add_quiet_argument(p)
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("check", help="check communities and grids against a rule profile")
    add_study_arguments(p)
    p.add_argument(
        "--household-level",
        action="store_true",
        help="also write household-level detail (coverage.csv, the coverage_households layer, "
        "unmerged gap cells); off by default: no output shows one building's households",
    )
    add_projection_arguments(p)
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("profiles", help="list the built-in rule profiles")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.set_defaults(func=_cmd_profiles)
    p = sub.add_parser("rules", help="print a profile's rules with their sources")
    p.add_argument("profile", nargs="?", default="national", help="profile name or .toml path")
    p.set_defaults(func=_cmd_rules)
    add_compare_parser(sub)
    add_coverage_parser(sub)
    add_rebalance_parser(sub)
    add_reconcile_parser(sub)
    add_report_parser(sub)
    add_serve_parser(sub)
    add_users_parser(sub)
    add_national_parser(sub)
    add_plan_parser(sub)
    return parser


def _file_error(exc: Exception) -> str | None:
    """One paragraph for a failure to read or write a file (``None``: not one).

    Full disks, existing files where a folder is wanted and read-only disks are
    about writing (:class:`gridmap._atomic.OutputError` words them); other
    ``OSError``s name the path and the error without guessing the direction.
    """
    if not isinstance(exc, OSError):
        err = output_error(exc, Path.cwd())  # e.g. SQLite's "database or disk is full"
        return str(err) if err is not None and err.reason == "no_space" else None
    path = exc.filename or Path.cwd()
    err = output_error(exc, path)
    if err is not None and err.reason in ("no_space", "is_file", "is_folder", "read_only"):
        return str(err)
    return (
        f"无法读写 {path}：{exc.strerror or exc}。请检查该文件或文件夹是否存在、是否有读写权限，或换一个位置。"
        f" (cannot read or write {path}: {exc.strerror or exc})"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the ``gridmap`` command; returns the exit status (0 ran, 2 unusable input or output).

    Input problems are printed with the command line's flags (:func:`cli_problem`).
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        problems = [cli_problem(p) for p in exc.problems]
        print("输入数据无法使用 / input unusable:\n" + format_problems(problems), file=sys.stderr)
        return 2
    except OutputError as exc:
        print(f"无法写出结果 / cannot write the outputs: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - only file errors become exit 2; anything else stays a bug
        message = _file_error(exc)
        if message is None:
            raise
        print(f"错误 / error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
