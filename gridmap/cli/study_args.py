"""Arguments shared by every command that reads a study (check, coverage, rebalance, report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gridmap._errors import InputError
from gridmap.cli.progress import add_quiet_argument

__all__ = ["add_study_arguments", "study_kwargs", "split_coordinate_map"]

#: The layers that may be point tables (CSV/Excel with coordinate columns).
POINT_LAYERS = ("households", "facilities")
_TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xls")


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    """Add the arguments every study command shares (inputs, CRS, columns, output, language)."""
    p.add_argument("config", nargs="?", help="study configuration file (gridmap.toml)")
    p.add_argument("--communities", help="社区边界 file (file.gpkg:图层 to pick a layer)")
    p.add_argument("--grids", help="网格 file")
    p.add_argument("--households", help="户数: building points/polygons")
    p.add_argument("--facilities", help="设施 points/polygons")
    p.add_argument("--network", help="步行路网 lines")
    p.add_argument("--profile", help="rule profile name or .toml path (default national)")
    p.add_argument(
        "--crs", help="CRS of the input files when missing or wrong (e.g. EPSG:4549, a .prj path)"
    )
    p.add_argument("--facilities-crs", help="CRS of the facilities: gcj02, bd09 or EPSG:…")
    p.add_argument(
        "--households-crs",
        help="CRS of the households (e.g. 小区 points from a web map): gcj02, bd09 or EPSG:…",
    )
    p.add_argument("--metric-crs", help="metric CRS to measure in (default: automatic)")
    p.add_argument("--encoding", help="Shapefile/CSV text encoding when detection fails (e.g. gbk)")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="canonical=源列名",
        help="column mapping, repeatable: --map households=住户数 --map grids.coordinators=网格员; "
        "coordinate columns of CSV/Excel point tables: --map x=东坐标 --map y=北坐标 "
        "(or households.x=…, facilities.lon=… for one layer)",
    )
    p.add_argument(
        "--households-method",
        choices=["largest", "area"],
        help="household polygons: whole to the largest-overlap grid, or apportioned by area",
    )
    p.add_argument("--out", help="output folder")
    p.add_argument(
        "--json", action="store_true", help="print the machine-readable summary on stdout"
    )
    p.add_argument(
        "--lang", choices=["zh", "en"], default="zh", help="language of messages (default zh)"
    )
    add_quiet_argument(p)


def split_coordinate_map(items: list[str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Split ``--map`` items into column mappings and coordinate columns per point layer.

    ``x=东`` / ``y=北`` (or ``lon=``/``lat=``) name the coordinate columns of every point
    table; ``households.x=东`` of one layer only.

    Examples
    --------
    >>> split_coordinate_map(["households=户数", "x=east", "facilities.y=北"])
    (['households=户数'], {'*': {'x': 'east'}, 'facilities': {'y': '北'}})
    """
    rest: list[str] = []
    coords: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        kind, dot, role = key.strip().rpartition(".")
        role = {"lon": "x", "lat": "y"}.get(role, role)
        if sep and role in ("x", "y") and (not dot or kind in POINT_LAYERS):
            coords.setdefault(kind if dot else "*", {})[role] = value.strip()
        else:
            rest.append(item)
    return rest, coords


def _with_coordinates(kwargs: dict, coords: dict[str, dict[str, str]]) -> None:
    """Put ``--map x=…``/``y=…`` on the point-table layers' specs (``x``/``y`` keys)."""
    shared = coords.get("*", {})
    used = False
    for kind in POINT_LAYERS:
        spec: Any = kwargs.get(kind)
        if spec is None:
            continue
        own = coords.get(kind, {})
        path = spec.get("path") if isinstance(spec, dict) else spec
        is_table = Path(str(path).split(":")[0]).suffix.lower() in _TABLE_SUFFIXES
        wanted = {**(shared if is_table else {}), **own}
        if not wanted:
            continue
        spec = dict(spec) if isinstance(spec, dict) else {"path": str(spec)}
        kwargs[kind] = {**spec, **wanted}
        used = True
    if coords and not used:
        raise InputError(
            "--map x=/y= 指定的是 CSV/Excel 点表（--households、--facilities）的坐标列，"
            "但没有这样的图层 (--map x=/y= name the coordinate columns of CSV/Excel point "
            "tables given with --households or --facilities; there is none)"
        )


def study_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`gridmap.study.read_study` from parsed arguments (config file first, flags override)."""
    # lazy: gridmap.study and gridmap.columns load pandas/geopandas; `gridmap --help` needs neither
    from gridmap.columns import parse_mapping
    from gridmap.study import load_config  # (same reason)

    kwargs: dict = load_config(args.config) if args.config else {}
    for kind in ("communities", "grids", "households", "facilities", "network"):
        if getattr(args, kind):
            kwargs[kind] = getattr(args, kind)
    for key, attr in (
        ("crs", "crs"),
        ("facilities_crs", "facilities_crs"),
        ("households_crs", "households_crs"),
        ("metric", "metric_crs"),
        ("encoding", "encoding"),
        ("profile", "profile"),
        ("households_method", "households_method"),
    ):
        if getattr(args, attr):
            kwargs[key] = getattr(args, attr)
    columns, coords = split_coordinate_map(args.map or [])
    if columns:
        mapping = kwargs.get("mapping") or {}
        kwargs["mapping"] = {**mapping, **parse_mapping(columns)}
    if "communities" not in kwargs:
        raise InputError(
            "没有社区图层：请给出配置文件或 --communities 文件 (no communities layer: pass CONFIG.toml or --communities FILE)"
        )
    _with_coordinates(kwargs, coords)
    return kwargs
