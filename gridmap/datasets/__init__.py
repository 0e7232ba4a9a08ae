"""Bundled sample data: the synthetic demo district.

The demo GeoPackage ships inside the package (``gridmap/datasets/demo.gpkg``,
package data of the wheel), so ``gridmap demo``, ``gridmap serve`` and every
docstring example work from an installed wheel as well as from a checkout. Its
generator, ``data/build_demo.py``, lives in the source tree only; it is not
needed at run time. ``GRIDMAP_DATA_DIR`` points :func:`get_path` at another
folder holding ``demo.gpkg`` (e.g. a rebuilt copy).

>>> from gridmap import datasets
>>> datasets.get_path("demo").name
'demo.gpkg'
>>> datasets.get_path("demo").parent.name
'datasets'
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

__all__ = ["get_path", "available", "demo_config", "demo_config_toml", "DEMO_LAYERS"]

_PACKAGE_DIR = Path(__file__).resolve().parent
#: the generator, present in a source checkout only (top-level ``data/``)
_GENERATOR = _PACKAGE_DIR.parents[1] / "data" / "build_demo.py"
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
    return Path(os.environ.get("GRIDMAP_DATA_DIR") or _PACKAGE_DIR)


def available() -> list[str]:
    """Names of the bundled datasets.

    >>> available()
    ['demo']
    """
    return sorted(_FILES)


def get_path(name: str) -> Path:
    """Path of a bundled dataset.

    In a source checkout a missing demo GeoPackage is rebuilt from
    ``data/build_demo.py``; an installed wheel always carries it.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    FileNotFoundError
        When the file is missing and there is no generator to rebuild it.
    """
    if name not in _FILES:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(available())}")
    path = _data_dir() / _FILES[name]
    if not path.exists():
        if not _GENERATOR.exists():
            raise FileNotFoundError(
                f"示范数据 {path} 不存在：请重新安装 gridmap（wheel 内含该文件），或用 GRIDMAP_DATA_DIR 指向存放 "
                f"demo.gpkg 的文件夹 (the demo GeoPackage {path} is missing and its generator "
                f"{_GENERATOR} is not available; reinstall gridmap or point GRIDMAP_DATA_DIR at a "
                "folder holding demo.gpkg)"
            )
        runpy.run_path(str(_GENERATOR))["build_demo"](path)
    return path


def demo_config(path: Path | None = None) -> dict:
    """Keyword arguments of :func:`gridmap.read_study` for the demo district.

    The facilities were scraped from a web map, so they are GCJ-02.
    """
    gpkg = Path(path) if path else get_path("demo")
    kwargs: dict = {
        kind: {"path": str(gpkg), "layer": layer} for kind, layer in DEMO_LAYERS.items()
    }
    kwargs["facilities_crs"] = "gcj02"
    kwargs["name"] = "示范区（合成数据）"
    return kwargs


def demo_config_toml(gpkg_name: str = "demo.gpkg") -> str:
    """The demo workspace's ``gridmap.toml``."""
    layers = "\n".join(
        f'{kind} = {{ path = "{gpkg_name}", layer = "{layer}" }}'
        for kind, layer in DEMO_LAYERS.items()
    )
    return (
        "# gridmap study configuration (demo workspace; SYNTHETIC data)\n"
        "[study]\n"
        'name = "示范区（合成数据）"\n'
        'profile = "national"\n'
        "# facility POIs were scraped from a web map: their coordinates are GCJ-02\n"
        'facilities_crs = "gcj02"\n\n'
        "[layers]\n" + layers + "\n"
    )
