"""``gridmap reconcile``: how several departments' grid layers agree, and one unified grid (多网合一).

(one command line)::

    gridmap reconcile --communities d.gpkg:社区 --households d.gpkg:楼栋 --out 多网合一
        --grids d.gpkg:网格 --grids d.gpkg:网格_城管 --grids-map 2:grid_id=城管网格编号

Each ``--grids`` layer is checked as the study's grids (same communities and households); the
first is the reference of the unified grid. Writes into ``--out``: ``reconcile.xlsx`` (概要 in ``--lang``, 嵌套关系,
不一致, 缝隙, 重叠, 统一网格, 新旧对照), ``unified.gpkg`` (layers ``unified``, ``gaps``,
``overlaps``), ``changes.csv``, ``disagreements.csv`` and ``reconcile.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gridmap._errors import InputError

__all__ = ["add_reconcile_parser"]


def add_reconcile_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``gridmap reconcile``."""
    p = sub.add_parser(
        "reconcile",
        help="compare grid layers of several departments and propose one unified grid (多网合一)",
    )
    p.add_argument("--communities", required=True, help="社区边界 file (file.gpkg:图层)")
    p.add_argument(
        "--grids", action="append", required=True, help="a grid layer; repeat for each (2 or more)"
    )
    p.add_argument("--names", help="names of the grid layers, comma-separated (e.g. 民政,城管)")
    p.add_argument(
        "--grids-map",
        action="append",
        default=[],
        metavar="N:canonical=源列名",
        help="column mapping of the N-th --grids layer, e.g. 2:grid_id=城管网格编号",
    )
    p.add_argument("--households", help="户数 points/polygons (households per grid, size rule)")
    p.add_argument("--crs", help="CRS of the input files when missing")
    p.add_argument("--metric-crs", help="metric CRS to measure in (default: automatic)")
    p.add_argument("--encoding", help="Shapefile/CSV text encoding")
    p.add_argument("--profile", help="rule profile (default national)")
    p.add_argument(
        "--max-households",
        type=float,
        default=500,
        help="the stricter grid size rule (default 500 户): a larger reference grid is replaced "
        "by another layer's finer grids",
    )
    p.add_argument(
        "--min-piece",
        type=float,
        default=2000.0,
        help="pieces smaller than this (m²) join a neighbour instead of becoming grids",
    )
    p.add_argument("--out", help="output folder")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--lang", choices=["zh", "en"], default="zh")
    p.set_defaults(func=_cmd_reconcile)


def _layer_name(spec: str, k: int) -> str:
    path, _, layer = (
        spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
    )
    return layer or Path(path).stem or f"layer{k + 1}"


def _mappings(items: list[str], n: int) -> dict[int, dict[str, str]]:
    # lazy: the analysis stack loads when the command runs, not for `gridmap --help`
    from gridmap.columns import parse_mapping

    out: dict[int, dict[str, str]] = {}
    for item in items:
        head, sep, rest = item.partition(":")
        if not sep or not head.strip().isdigit() or not 1 <= int(head) <= n:
            raise InputError(
                f"--grids-map {item!r}：应为 序号:标准列名=源列名，序号 1–{n} "
                f"(expected N:canonical=source, N from 1 to {n})"
            )
        out.setdefault(int(head) - 1, {}).update(parse_mapping([rest]))
    return out


def _cmd_reconcile(args: argparse.Namespace) -> int:
    # lazy: the analysis stack loads when the command runs, not for `gridmap --help`
    from gridmap.change import reconcile
    from gridmap.change.reconcile import KIND_ZH, RELATION_ZH  # (same reason)
    from gridmap.check import check  # (same reason)
    from gridmap.study import read_study  # (same reason)

    specs = list(args.grids)
    if len(specs) < 2:
        raise InputError("至少需要两个 --grids 图层 (give at least two --grids layers)")
    names = (
        [x.strip() for x in args.names.split(",")]
        if args.names
        else [_layer_name(s, k) for k, s in enumerate(specs)]
    )
    if len(names) != len(specs) or len(set(names)) != len(names):
        raise InputError(
            f"--names 应给出 {len(specs)} 个不同的名称 (one distinct name per --grids)"
        )
    maps = _mappings(args.grids_map, len(specs))
    results = {}
    for k, (name, spec) in enumerate(zip(names, specs, strict=True)):
        kwargs = {
            "communities": args.communities,
            "grids": spec,
            "households": args.households,
            "crs": args.crs,
            "metric": args.metric_crs,
            "encoding": args.encoding,
            "profile": args.profile or "national",
            "name": name,
        }
        if k in maps:
            kwargs["mapping"] = {"grids": maps[k]}
        results[name] = check(read_study(**kwargs), lang=args.lang)
    rec = reconcile(results, max_households=args.max_households, min_piece_m2=args.min_piece)
    written = rec.to_dir(args.out, lang=args.lang) if args.out else {}
    s = rec.summary()
    if args.json:
        print(json.dumps(s, ensure_ascii=False, indent=2))
        return 0
    zh = args.lang == "zh"
    lines = [("gridmap 多网合一：" if zh else "gridmap reconcile: ") + "、".join(names)]
    for pair, counts in s["relations"].items():
        lines.append(
            f"  {pair}："
            + "，".join(f"{RELATION_ZH[r] if zh else r} {n}" for r, n in counts.items() if n)
        )
    lines.append(
        ("不一致：" if zh else "disagreements: ")
        + "，".join(f"{KIND_ZH[k] if zh else k} {n}" for k, n in s["disagreements"].items())
    )
    lines.append(
        (f"缝隙 {s['gaps']} 处（{s['gap_area_m2']:,.0f} 平方米），图层内重叠 {s['overlaps']} 处")
        if zh
        else f"gaps {s['gaps']} ({s['gap_area_m2']:,.0f} m²), overlaps within a layer {s['overlaps']}"
    )
    lines.append(
        (
            f"统一网格 {s['unified_units']} 个："
            if zh
            else f"unified grid: {s['unified_units']} units: "
        )
        + ", ".join(f"{k} {v}" for k, v in s["unified_changes"].items())
    )
    if written:
        lines.append(("输出：" if zh else "Outputs: ") + ", ".join(written))
    print("\n".join(lines))
    return 0
