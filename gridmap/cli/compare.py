"""``gridmap compare OLD NEW``: what changed between two check outputs.

::

    gridmap compare out-2024 out-2025 --out changes

Writes into ``--out``: ``changes.csv`` / ``changes.xlsx`` (changed units, Chinese headers),
``thresholds.csv`` (communities and grids that crossed a threshold), ``changes.gpkg`` (the
change layer) and ``compare.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from gridmap._errors import InputError

__all__ = ["add_compare_parser"]


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gridmap compare``."""
    p = sub.add_parser(
        "compare", help="compare two check outputs: units added/removed/redrawn, thresholds crossed"
    )
    p.add_argument("old", help="earlier check output folder (with result.gpkg)")
    p.add_argument("new", help="later check output folder")
    p.add_argument("--out", help="folder for the change table and layer")
    p.add_argument(
        "--match-iou",
        type=float,
        default=0.5,
        help="units of different codes are one unit recoded at this overlap (IoU) or more",
    )
    p.add_argument(
        "--same-iou",
        type=float,
        default=0.999,
        help="a unit whose shapes overlap less than this (IoU) is redrawn",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    # lazy: the analysis stack loads when the command runs, not for `gridmap --help`
    from gridmap.change import CHANGE_KINDS, CHANGE_ZH, LEVEL_ZH, compare, read_snapshot

    try:
        old = read_snapshot(args.old, param="old")
        new = read_snapshot(args.new, param="new")
    except InputError as exc:  # the library names parameters; the command line has arguments
        raise InputError(
            [
                replace(p, fix=p.fix.replace(f"{p.param}=", p.param.upper() + " "))
                for p in exc.problems
            ]
        ) from exc
    try:
        comparison = compare(old, new, match_iou=args.match_iou, same_iou=args.same_iou)
    except ValueError as exc:
        raise ValueError(
            str(exc).replace("match_iou=", "--match-iou").replace("same_iou=", "--same-iou")
        ) from exc
    written = comparison.to_dir(args.out) if args.out else {}
    summary = comparison.summary()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    zh = args.lang == "zh"
    lines = [("gridmap 变化对比：" if zh else "gridmap compare: ") + f"{args.old} → {args.new}"]
    for level in ("communities", "grids"):
        counts = summary[level]
        label = LEVEL_ZH[level] if zh else level
        parts = [
            f"{CHANGE_ZH[k] if zh else k} {counts[k]}"
            for k in CHANGE_KINDS
            if counts[k] or k == "unchanged"
        ]
        lines.append(f"{label}：" + "，".join(parts) if zh else f"{label}: " + ", ".join(parts))
    lines.append(
        f"跨越阈值：{summary['thresholds_crossed']}"
        if zh
        else f"thresholds crossed: {summary['thresholds_crossed']}"
    )
    lines.append(
        (f"总户数：{summary['households_old']:,} → {summary['households_new']:,}")
        if zh
        else f"households: {summary['households_old']:,} → {summary['households_new']:,}"
    )
    if summary["household_size_old"] is not None or summary["household_size_new"] is not None:
        lines.append(
            ("户均人口：" if zh else "persons per household: ")
            + f"{summary['household_size_old']} → {summary['household_size_new']}"
        )
    if written:
        lines.append(("输出：" if zh else "Outputs: ") + ", ".join(written))
    print("\n".join(lines))
    return 0
