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

__all__ = [
    "get_path",
    "available",
    "demo_config",
    "demo_config_toml",
    "DEMO_LAYERS",
    "PROJECTS_LAYER",
    "GRIDS_CG_LAYER",
]

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
#: the demo's residential projects (issue 18: the forecast) and its second grid layer (reconcile)
PROJECTS_LAYER = "在建项目"
GRIDS_CG_LAYER = "网格_城管"


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
    """The demo workspace's ``gridmap.toml``.

    Besides the study layers it names the residential projects (``[study] projects``: the
    dashboard's 预测与对比 page and ``gridmap report`` forecast them) and says how to review the
    second grid layer (``网格_城管``) with ``gridmap reconcile``.

    >>> text = demo_config_toml()
    >>> 'projects = "demo.gpkg:在建项目"' in text, "--grids demo.gpkg:网格_城管" in text
    (True, True)
    """
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
        'facilities_crs = "gcj02"\n'
        "# residential projects under construction (规划户数, 入住率, 计划竣工年份): the forecast\n"
        "# of the dashboard's 预测与对比 page and the 预测 section of `gridmap report`\n"
        f'projects = "{gpkg_name}:{PROJECTS_LAYER}"\n\n'
        "[layers]\n" + layers + "\n\n"
        f"# {GRIDS_CG_LAYER} is a second grid layer (the 城管 department's) with planted\n"
        "# disagreements (listed in its 多网说明 table); review both layers (多网合一) with\n"
        f"#   gridmap reconcile --communities {gpkg_name}:{DEMO_LAYERS['communities']} "
        f"--households {gpkg_name}:{DEMO_LAYERS['households']} \\\n"
        f"#     --grids {gpkg_name}:{DEMO_LAYERS['grids']} --grids {gpkg_name}:{GRIDS_CG_LAYER} "
        "--grids-map 2:grid_id=城管网格编号 \\\n"
        "#     --names 民政,城管 --out 多网合一\n"
    )
