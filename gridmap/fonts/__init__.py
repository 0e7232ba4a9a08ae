"""The bundled CJK font: a GB2312 subset of Noto Sans CJK SC (SIL OFL 1.1, see ``OFL.txt``).

Chinese labels must render on a fresh machine without installing anything, so
gridmap ships its own font and registers it with matplotlib on first use.

>>> from gridmap import fonts
>>> fonts.font_path().name
'NotoSansSC-gridmap.ttf'
>>> fonts.register()
'Gridmap Noto Sans SC'
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["FAMILY", "font_path", "register", "covers", "fallback_families"]

#: family name of the bundled font
FAMILY = "Gridmap Noto Sans SC"
_FILE = "NotoSansSC-gridmap.ttf"
_BOLD = "NotoSansSC-gridmap-Bold.ttf"


def font_path(*, bold: bool = False) -> Path:
    """Path of the bundled TrueType font file (regular or bold)."""
    return Path(__file__).resolve().parent / (_BOLD if bold else _FILE)


@functools.lru_cache(maxsize=1)
def register() -> str:
    """Register the bundled fonts (regular and bold) with matplotlib (idempotent); returns its family name."""
    from matplotlib import font_manager

    for bold in (False, True):
        font_manager.fontManager.addfont(str(font_path(bold=bold)))
    return FAMILY


@functools.lru_cache(maxsize=1)
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(font_path()), lazy=True) as font:
        return frozenset(font.getBestCmap())


def covers(text: str) -> bool:
    """Whether every character of ``text`` is in the bundled font.

    >>> covers("翠苑一区社区 3,399 户 m²"), covers(chr(0x2A6D6))  # a CJK Extension B character
    (True, False)
    """
    cmap = _cmap()
    return all(ord(ch) in cmap or ch in "\n\t" for ch in str(text))


def fallback_families() -> list[str]:
    """The matplotlib font family list: the bundled font, then DejaVu Sans for other symbols.

    Installed CJK fonts are deliberately not chained in: matplotlib embeds their CFF
    outlines in a way some PDF readers reject. A character outside the subset
    (see :func:`covers`) shows as a box; rebuild the subset with ``_build.py`` to add it.
    """
    register()
    return [FAMILY, "DejaVu Sans"]
