"""A study's configuration file (``gridmap.toml``): TOML, its valid keys, its study arguments.

:func:`load_config` gives the keyword arguments of :func:`gridmap.study.read_study`.

Unknown keys are an error that suggests the closest valid key (never silently dropped).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gridmap._errors import InputError, Problem
from gridmap._toml import tomllib

__all__ = [
    "load_config",
    "read_toml",
    "LAYER_KINDS",
    "DASHBOARD_KEYS",
    "STUDY_KEYS",
    "FORECAST_KEYS",
]

#: the layer kinds a study reads
LAYER_KINDS = ("communities", "grids", "households", "facilities", "network")

#: the keys a gridmap.toml may hold; anything else is a typo and an error (never silently dropped)
CONFIG_SECTIONS = ("study", "layers", "map", "dashboard")
STUDY_KEYS = (
    "name",
    "profile",
    "crs",
    "facilities_crs",
    "households_crs",
    "metric",
    "encoding",
    "households_method",
)
#: ``[study]`` keys read by the dashboard's forecast page, not by read_study: the projects layer
FORECAST_KEYS = ("projects",)
LAYER_OPTIONS = ("path", "layer", "crs", "encoding", "x", "y")
#: read by the dashboard (dashboards.provider), validated here with the rest
DASHBOARD_KEYS = (
    "basemap",
    "basemap_attribution",
    "workspace",
    "profiles",
    "auth",
    "auth_header",
    "trusted_proxies",
    "allowed_hosts",
    "national",
    "threads",
    "running",
)


def _unknown_key(key: str, valid, where: str, path: Path) -> Problem:
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.6)
    hint = f"是不是想写 {close[0]!r}？ (did you mean {close[0]!r}?) " if close else ""
    return Problem(
        "error",
        "config.unknown_key",
        f"配置文件中的未知键 {where}{key!r}，不会被使用 (unknown key {where}{key!r})",
        fix=hint + f"可用的键 / valid keys: {', '.join(valid)}",
        file=str(path),
    )


def _check_config_keys(data: Mapping[str, Any], path: Path) -> None:
    """Every section, key and layer option must be known: a typo is an error naming the nearest."""
    problems = [
        _unknown_key(k, CONFIG_SECTIONS, "", path) for k in data if k not in CONFIG_SECTIONS
    ]
    sections = (
        ("study", STUDY_KEYS + FORECAST_KEYS),
        ("layers", LAYER_KINDS),
        ("dashboard", DASHBOARD_KEYS),
    )
    for section, valid in sections:
        table = data.get(section, {})
        if not isinstance(table, Mapping):
            problems.append(
                Problem(
                    "error",
                    "config.invalid",
                    f"配置文件中 {section} 应是一个表 [{section}]",
                    file=str(path),
                    fix=f"写成 [{section}] 段落",
                )
            )
            continue
        problems += [_unknown_key(k, valid, f"[{section}] ", path) for k in table if k not in valid]
    for kind, spec in (data.get("layers") or {}).items():
        if isinstance(spec, Mapping):
            problems += [
                _unknown_key(k, LAYER_OPTIONS, f"[layers] {kind}.", path)
                for k in spec
                if k not in LAYER_OPTIONS
            ]
            if "path" not in spec:
                problems.append(
                    Problem(
                        "error",
                        "config.invalid",
                        f"[layers] {kind} 缺少 path",
                        file=str(path),
                        fix=f'写成 {kind} = {{ path = "文件.gpkg", layer = "图层" }}',
                    )
                )
    mapping = data.get("map", {})
    if isinstance(mapping, Mapping):
        problems += [
            _unknown_key(k, LAYER_KINDS, "[map] ", path)
            for k, v in mapping.items()
            if isinstance(v, Mapping) and k not in LAYER_KINDS
        ]
    if problems:
        raise InputError(problems)


def load_config(path: str | Path) -> dict:
    """Read a study config (TOML) into keyword arguments for :func:`read_study`.

    Layer paths are relative to the config file.

    Examples
    --------
    A config::

        [study]
        name = "示范区"
        profile = "national"
        facilities_crs = "gcj02"

        [layers]
        communities = "demo.gpkg:社区"
        grids = { path = "demo.gpkg", layer = "网格" }

        [map]
        households = "住户数"
    """
    path = Path(path)
    data = read_toml(path)
    _check_config_keys(data, path)
    study = dict(data.get("study", {}))
    layers = dict(data.get("layers", {}))
    kwargs: dict[str, Any] = dict(layers)
    for key in STUDY_KEYS:
        if key in study:
            kwargs[key] = study[key]
    if "map" in data:
        kwargs["mapping"] = data["map"]
    kwargs["base"] = path.parent
    return kwargs


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file (UTF-8), such as a study's ``gridmap.toml``, into a dict.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    dict
        The tables and keys as parsed (nothing validated: :func:`load_config` checks a study's).

    Raises
    ------
    InputError
        The file is missing (``config.missing``) or not valid TOML (``config.invalid``).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     config = Path(folder) / "gridmap.toml"
    ...     text = 'dashboard = { basemap = "tiles/{z}/{x}/{y}.png" }'
    ...     _ = config.write_text(text, encoding="utf-8")
    ...     read_toml(config)["dashboard"]
    {'basemap': 'tiles/{z}/{x}/{y}.png'}
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            Problem("error", "config.missing", f"配置文件不存在：{path}", file=str(path))
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            Problem(
                "error",
                "config.invalid",
                f"配置文件无法解析：{exc}",
                file=str(path),
                fix="检查 TOML 语法（字符串要加引号，表名用 [ ]）",
            )
        ) from exc
