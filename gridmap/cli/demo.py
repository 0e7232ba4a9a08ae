"""The demo workspace folder (``gridmap demo``, ``gridmap serve`` without a config).

A planner who tried the demo may have edited its ``gridmap.toml`` (another profile, a
``[dashboard]`` table) or its GeoPackage. Writing the demo again never overwrites such an
edit: a file that differs from the bundled one is kept, and the bundled version is written
beside it (``gridmap.new.toml``, ``demo.new.gpkg``) with a note saying so.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> write_demo_workspace(folder)[1]
[]
>>> _ = (folder / "gridmap.toml").write_text("# mine", encoding="utf-8")
>>> write_demo_workspace(folder)[1][0].kept.name, write_demo_workspace(folder)[1][0].beside.name
('gridmap.toml', 'gridmap.new.toml')
"""

from __future__ import annotations

import filecmp
import shutil
from dataclasses import dataclass
from pathlib import Path

import gridmap.datasets as datasets

__all__ = ["KeptFile", "write_demo_workspace"]


@dataclass(frozen=True)
class KeptFile:
    """A planner's edited file kept in place, with the bundled version written beside it."""

    kept: Path
    beside: Path

    def text(self, lang: str = "zh") -> str:
        """The note for the planner (``lang`` "zh" or "en")."""
        if lang == "zh":
            return f"保留已修改的 {self.kept.name}（未覆盖）；演示原版写在旁边：{self.beside.name}"
        return (
            f"kept your edited {self.kept.name} (not overwritten); "
            f"the demo's version is beside it: {self.beside.name}"
        )


def _beside(path: Path) -> Path:
    return path.with_name(f"{path.stem}.new{path.suffix}")


def write_demo_workspace(folder: Path) -> tuple[Path, list[KeptFile]]:
    """Write the demo's ``demo.gpkg`` and ``gridmap.toml`` into ``folder``, keeping edits.

    Parameters
    ----------
    folder
        The workspace folder, created when missing.

    Returns
    -------
    tuple
        The ``gridmap.toml`` to use (the planner's when it was kept) and the files kept.
    """
    folder.mkdir(parents=True, exist_ok=True)
    kept: list[KeptFile] = []
    gpkg, bundled = folder / "demo.gpkg", datasets.get_path("demo")
    if gpkg.exists() and not filecmp.cmp(gpkg, bundled, shallow=False):
        shutil.copyfile(bundled, _beside(gpkg))
        kept.append(KeptFile(gpkg, _beside(gpkg)))
    else:
        shutil.copyfile(bundled, gpkg)
    config, text = folder / "gridmap.toml", datasets.demo_config_toml(gpkg.name)
    if config.exists() and config.read_text(encoding="utf-8", errors="replace") != text:
        _beside(config).write_text(text, encoding="utf-8")
        kept.append(KeptFile(config, _beside(config)))
    else:
        config.write_text(text, encoding="utf-8")
    return config, kept
