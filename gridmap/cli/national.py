"""``gridmap check --engine dask`` and ``gridmap rollup``: the check at national scale.

:func:`add_national_parser` adds the Dask options to the ``check`` command (``--engine``,
``--scheduler``, ``--partition-by``, ``--workers``, ``--memory-limit``) and the ``rollup``
command. With ``--engine dask`` the layers are GeoParquet dataset folders (hive-partitioned by
province/city/district) or files, checked partition by partition on Dask
(:func:`gridmap.national.check_national`); the output folder holds the contract outputs of a
check plus ``partitions.csv``, ``national/`` and ``provinces/``, written out of core: each
worker writes its partition's rows and this process streams the outputs from them
(``check_national(out=…)``). ``--network`` (a street
network for walking-distance coverage) is read per partition, its window grown by the
coverage reach (:mod:`gridmap.national.worker`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from gridmap.cli.study_args import study_kwargs
from gridmap.national.levels import LEVELS, PARTITION_BY

__all__ = ["add_national_parser"]

_LAYERS = ("communities", "grids", "households", "facilities", "network")
_STUDY_OPTIONS = ("mapping", "households_method", "facilities_crs", "households_crs", "name")


def _layer_path(spec: object) -> str:
    """A layer of the config or the flags as a path (a ``{path = …}`` table gives its path)."""
    if isinstance(spec, dict):
        return str(spec["path"])
    return str(spec)


def _national_check(args: argparse.Namespace) -> int:
    # lazy: Dask and the analysis stack load when the command runs, not for `gridmap --help`
    from gridmap.national import NationalOutput, NationalResult, NationalSource, check_national

    kwargs = study_kwargs(args)
    if kwargs.get("metric") is not None:
        raise ValueError(
            "--metric-crs 不能与 --engine dask 同用：每个分区在其所在的高斯-克吕格 3 度带中量算 "
            "(--metric-crs cannot be used with --engine dask: each partition is measured in "
            "the Gauss-Krüger zone it lies in)"
        )
    base = kwargs.get("base")
    layers = {}
    for kind in _LAYERS:
        if kwargs.get(kind) is not None:
            path = Path(_layer_path(kwargs[kind]))
            layers[kind] = base / path if base is not None and not path.is_absolute() else path
    source = NationalSource(layers, crs=kwargs.get("crs"))
    options = dict(
        partition_by=args.partition_by,
        profile=kwargs.get("profile", "national"),
        lang=args.lang,
        study_options={k: kwargs[k] for k in _STUDY_OPTIONS if kwargs.get(k) is not None},
        scheduler=args.scheduler,
        n_workers=args.workers,
        memory_limit=args.memory_limit,
        progress=True,
        log=lambda line: print(line, file=sys.stderr),
    )
    written: dict[str, Path] = {}
    if args.out:  # out of core: each worker writes its rows, the outputs are streamed from them
        output = check_national(source, out=args.out, **options)
        result: NationalResult | NationalOutput = output
        written = output.written
    else:
        result = check_national(source, **options)
    if args.json:
        print(json.dumps(result.summary(), ensure_ascii=False, indent=2))
        return 0
    s = result.summary()
    zh = args.lang == "zh"
    cs = s["communities_status"]
    lines = [
        (
            f"全国检查（Dask，{s['partitions']} 个分区，按 {s['partition_by']}）"
            if zh
            else f"National check (Dask, {s['partitions']} partitions by {s['partition_by']})"
        ),
        (
            f"社区 {s['communities']} 个：不合规 {cs.get('fail', 0)}，仅警告 {cs.get('warning', 0)}，"
            f"合规 {cs.get('pass', 0)}，未评估 {cs.get('not_assessed', 0)}"
            if zh
            else f"Communities {s['communities']}: failing {cs.get('fail', 0)}, warnings only "
            f"{cs.get('warning', 0)}, compliant {cs.get('pass', 0)}, not assessed {cs.get('not_assessed', 0)}"
        ),
        (
            f"网格 {s['grids']} 个；住户 {s['households_total']:,} 户"
            if zh
            else f"Grids {s['grids']}; households {s['households_total']:,}"
        ),
    ]
    lines += [f"  {crs}: {n}" for crs, n in s["metric_crs"].items()]
    if written:
        lines.append(("输出：" if zh else "Outputs: ") + str(Path(args.out).resolve()))
    print("\n".join(lines))
    return 0


def _with_engine(local: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The ``check`` command: ``--engine dask`` runs the national check, else ``local``."""

    def run(args: argparse.Namespace) -> int:
        return _national_check(args) if args.engine == "dask" else local(args)

    return run


def _cmd_rollup(args: argparse.Namespace) -> int:
    # lazy: pandas and the XLSX writer load when the command runs, not for `gridmap --help`
    from gridmap.national import write_rollup

    written: dict[str, Path] = {}
    for level in args.by:
        written.update(write_rollup(args.result, level, args.out))
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def add_national_parser(sub: argparse._SubParsersAction) -> None:
    """Add the Dask options to ``check`` (already registered) and the ``rollup`` command."""
    check = sub.choices["check"]
    group = check.add_argument_group("national scale (Dask)")
    group.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="local: one process (default); dask: per partition on a Dask cluster "
        "(layers: GeoParquet dataset folders or files)",
    )
    group.add_argument(
        "--scheduler", help="Dask scheduler address (default: a LocalCluster on this machine)"
    )
    group.add_argument(
        "--partition-by",
        choices=list(PARTITION_BY),
        default="auto",
        help="district: one partition per 区县 (6-digit code prefix); street: per 街道 (9); "
        "spatial: a raster of ~400 communities per cell (data without codes); auto (default): "
        "by district when every community has a 12-digit code, adding each district (in code "
        "order) to the partition before it while that holds fewer than 1000 communities "
        "and lies in the same city (at most 1000 + one district; a city's last partition may hold "
        "fewer); else the spatial raster",
    )
    group.add_argument(
        "--workers", type=int, help="LocalCluster worker processes (default: the cores)"
    )
    group.add_argument(
        "--memory-limit", default="auto", help="memory limit per LocalCluster worker (e.g. 3GB)"
    )
    check.set_defaults(func=_with_engine(check.get_default("func")))

    p = sub.add_parser(
        "rollup",
        help="compliance tables per street, district, city or province (CSV/XLSX/GeoParquet)",
    )
    p.add_argument("result", help="output folder of gridmap check (local or --engine dask)")
    p.add_argument(
        "--by",
        nargs="+",
        choices=list(LEVELS),
        default=["district"],
        help="level(s) to roll up to (default district)",
    )
    p.add_argument("--out", help="where to write (default: the result folder)")
    p.set_defaults(func=_cmd_rollup)
