"""The ``[dashboard]`` table of a ``gridmap.toml``: basemap, attribution, plans workspace, national."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gridmap.plans.postgis import is_database_url
from gridmap.study import read_toml

__all__ = ["dashboard_settings", "national_folder"]


def _workspace(here: Path, workspace: str) -> Path | str:
    """The workspace setting: a ``postgresql://`` URL unchanged, a GeoPackage next to the config."""
    return workspace if is_database_url(workspace) else here / workspace


def dashboard_settings(config: str | os.PathLike) -> dict[str, Any]:
    """The dashboard's settings of a study config, as :class:`DashboardProvider` keywords.

    Parameters
    ----------
    config
        A ``gridmap.toml``; its optional ``[dashboard]`` table may set ``basemap`` (a raster
        tile URL), ``basemap_attribution``, ``workspace`` (the plans GeoPackage, relative
        to the config) and ``profiles`` (more rule profiles the dashboard offers: built-in
        names or TOML files relative to the config).

    Returns
    -------
    dict
        ``basemap`` (None when unset), ``basemap_attribution`` ("" when unset) and
        ``workspace`` (default ``plans.gpkg`` next to the config), ``profiles`` (a tuple;
        paths made absolute).
    """
    extra = read_toml(Path(config)).get("dashboard", {})
    here = Path(config).resolve().parent
    profiles = tuple(
        str(here / p) if str(p).endswith(".toml") else str(p) for p in extra.get("profiles", [])
    )
    return {
        "profiles": profiles,
        "basemap": extra.get("basemap"),
        "basemap_attribution": extra.get("basemap_attribution", ""),
        "workspace": _workspace(here, extra.get("workspace", "plans.gpkg")),
    }


def national_folder(config: str | os.PathLike | None) -> Path | None:
    """The ``[dashboard] national`` folder of a study config (relative to it), or None.

    The folder is a ``gridmap check --engine dask`` (or ``gridmap rollup``) output; the
    dashboard's national page draws its ``national/`` result from vector tiles.

    Parameters
    ----------
    config
        A ``gridmap.toml`` (None: the demo district, which has none).
    """
    if config is None:
        return None
    folder = read_toml(Path(config)).get("dashboard", {}).get("national")
    if not folder:
        return None
    return Path(config).resolve().parent / str(folder)
