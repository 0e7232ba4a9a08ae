"""Arguments shared by every command that reads a study (check, coverage, rebalance, report)."""

from __future__ import annotations

import argparse

from gridmap._errors import InputError
from gridmap.columns import parse_mapping
from gridmap.study import load_config

__all__ = ["add_study_arguments", "study_kwargs"]


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
        help="column mapping, repeatable: --map households=住户数 --map grids.coordinators=网格员",
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


def study_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`gridmap.study.read_study` from parsed arguments (config file first, flags override)."""
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
    if args.map:
        mapping = kwargs.get("mapping") or {}
        kwargs["mapping"] = {**mapping, **parse_mapping(args.map)}
    if "communities" not in kwargs:
        raise InputError(
            "没有社区图层：请给出配置文件或 --communities 文件 (no communities layer: pass CONFIG.toml or --communities FILE)"
        )
    return kwargs
