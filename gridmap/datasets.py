"""Bundled sample data: the synthetic demo district.

>>> from gridmap import datasets
>>> datasets.get_path("demo").name
'demo.gpkg'
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

__all__ = ["get_path", "available", "demo_config", "DEMO_LAYERS"]

_ROOT = Path(__file__).resolve().parent.parent / "data"
_FILES = {"demo": "demo.gpkg"}

#: layer names of the demo GeoPackage and the CRS facts a planner must state
DEMO_LAYERS = {
    "communities": "社区",
    "grids": "网格",
    "households": "楼栋",
    "facilities": "设施",
    "network": "街道网",
}


def _data_dir() -> Path:
    return Path(os.environ.get("GRIDMAP_DATA_DIR", _ROOT))


def available() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(_FILES)


def get_path(name: str) -> Path:
    """Path of a bundled dataset; builds the demo GeoPackage from its generator if absent.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    """
    if name not in _FILES:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(available())}")
    path = _data_dir() / _FILES[name]
    if not path.exists():
        script = _data_dir() / "build_demo.py"
        if not script.exists():
            raise FileNotFoundError(f"{path} is missing and so is its generator {script}")
        runpy.run_path(str(script))["build_demo"](path)
    return path


def demo_config(path: Path | None = None) -> dict:
    """Keyword arguments of :func:`gridmap.read_study` for the demo district.

    The facilities were scraped from a web map, so they are GCJ-02.
    """
    gpkg = Path(path) if path else get_path("demo")
    kwargs: dict = {kind: {"path": str(gpkg), "layer": layer} for kind, layer in DEMO_LAYERS.items()}
    kwargs["facilities_crs"] = "gcj02"
    kwargs["name"] = "示范区（合成数据）"
    return kwargs


def demo_config_toml(gpkg_name: str = "demo.gpkg") -> str:
    """The demo workspace's ``gridmap.toml``."""
    layers = "\n".join(f'{kind} = {{ path = "{gpkg_name}", layer = "{layer}" }}' for kind, layer in DEMO_LAYERS.items())
    return (
        "# gridmap study configuration (demo workspace; SYNTHETIC data)\n"
        "[study]\n"
        'name = "示范区（合成数据）"\n'
        'profile = "national"\n'
        "# facility POIs were scraped from a web map: their coordinates are GCJ-02\n"
        'facilities_crs = "gcj02"\n\n'
        "[layers]\n" + layers + "\n"
    )
