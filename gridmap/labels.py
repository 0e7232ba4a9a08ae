"""One vocabulary for what a planner reads: status names, their colours, unit kinds, text width.

The PDF and PNG maps, the Excel and HTML reports, the console and the dashboard all
name and colour a status from here, so "不合规" is the same word and the same red
everywhere.

>>> from gridmap.labels import status_label, STATUS_COLORS
>>> status_label("fail"), status_label("not_assessed", "en"), STATUS_COLORS["fail"]
('不合规', 'not assessed', '#d55e00')
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "MAP_FILL_STRENGTH",
    "STATUS_COLORS",
    "STATUS_LABELS",
    "STATUS_ORDER",
    "UNIT_KIND_LABELS",
    "status_label",
    "text_width",
    "tint",
]

#: Order in legends and tables: best first.
STATUS_ORDER: tuple[str, ...] = ("pass", "warning", "fail", "not_assessed")

#: ``status -> (中文, English)``.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "pass": ("合规", "compliant"),
    "warning": ("仅警告项不合规", "warnings only"),
    "fail": ("不合规", "failing"),
    "not_assessed": ("未评估", "not assessed"),
}

#: Okabe–Ito colours (Okabe & Ito 2008), told apart with every common colour-vision deficiency:
#: bluish green, yellow and vermillion differ in lightness as well as hue, so 不合规 (dark
#: vermillion) and 仅警告 (light yellow) stay distinct for red-green colour-blind readers and
#: in greyscale print; grey for 未评估.
STATUS_COLORS: dict[str, str] = {
    "pass": "#009e73",
    "warning": "#f0e442",
    "fail": "#d55e00",
    "not_assessed": "#bababa",
}

#: How strongly a map fill shows its status colour (:func:`tint`): light enough for black labels.
MAP_FILL_STRENGTH = 0.6

#: Planning unit kinds, ``kind -> (中文, English)``.
UNIT_KIND_LABELS: dict[str, tuple[str, str]] = {
    "grids": ("网格", "grids"),
    "blocks": ("小区", "blocks"),
    "buildings": ("楼栋", "buildings"),
}


def status_label(status: str, lang: str = "zh") -> str:
    """Name of a status in ``lang`` (``"zh"`` or ``"en"``); unknown statuses are returned as given.

    Parameters
    ----------
    status
        ``"pass"``, ``"warning"``, ``"fail"`` or ``"not_assessed"``.
    lang
        ``"zh"`` (default) or ``"en"``.
    """
    zh_en = STATUS_LABELS.get(status)
    if zh_en is None:
        return status
    return zh_en[1] if lang == "en" else zh_en[0]


def text_width(text: str, wide: float = 2.0, narrow: float = 1.0) -> float:
    """Display width of ``text``: East Asian wide characters count ``wide``, others ``narrow``.

    Parameters
    ----------
    text
        The text to measure.
    wide, narrow
        Width of a wide (CJK) character and of any other character, e.g. ``2, 1`` for a
        terminal or ``1.0, 0.55`` for a proportional font in em.

    Examples
    --------
    >>> text_width("社区A"), text_width("社区A", 1.0, 0.55)
    (5.0, 2.55)
    """
    return sum(wide if unicodedata.east_asian_width(ch) in "WF" else narrow for ch in text)


def tint(color: str, strength: float = MAP_FILL_STRENGTH) -> str:
    """``color`` (``#rrggbb``) mixed with white: ``strength`` 1 is the colour, 0 is white.

    The maps fill units with a tint of :data:`STATUS_COLORS`, so a label on top stays
    readable and the colour is still the status's own.

    Parameters
    ----------
    color
        A ``#rrggbb`` colour.
    strength
        Share of ``color`` in the mix, 0 to 1.

    Examples
    --------
    >>> tint("#d55e00"), tint("#d55e00", 1.0), tint("#000000", 0.5)
    ('#e69e66', '#d55e00', '#808080')
    """
    rgb = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 - (255 - c) * strength):02x}" for c in rgb)
