"""Messages the pages show when a browser value is refused (Chinese and English).

Kept apart from :mod:`dashboards.i18n` (the page texts) so input checking has its own
words; none of them repeats the refused value or names a server path.

>>> message("input.profile", "en")
'Unknown rule profile: choose one from the list.'
>>> message("input.number", "zh", what="服务半径", lo=50, hi=5000)
'服务半径须为 50 到 5000 之间的数字。'
>>> message("input.choice", "en", what="what.year")
'Invalid forecast year: choose one from the list.'
>>> without_paths("OSError: [Errno 28] No space left: '/srv/gridmap/ws/plans.gpkg'")
"OSError: [Errno 28] No space left: 'plans.gpkg'"
"""

from __future__ import annotations

import re

__all__ = ["MESSAGES", "message", "without_paths"]

# an absolute POSIX or Windows path: everything up to its last separator is dropped
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\"\\/<>|:;,()\[\]]+)+[\\/]")

#: key -> (Chinese, English); ``{what}``, ``{lo}``, ``{hi}`` are filled in by :func:`message`
MESSAGES: dict[str, tuple[str, str]] = {
    "input.profile": (
        "未知的规则配置：请从列表中选择。",
        "Unknown rule profile: choose one from the list.",
    ),
    "input.number": (
        "{what}须为 {lo} 到 {hi} 之间的数字。",
        "{what} must be a number from {lo} to {hi}.",
    ),
    "input.choice": (
        "{what}的取值无效：请从列表中选择。",
        "Invalid {what}: choose one from the list.",
    ),
    "input.text": (
        "{what}过长或格式不对（最多 {hi} 个字符）。",
        "{what} is too long or malformed (at most {hi} characters).",
    ),
    "input.unit": (
        "找不到所选单元：请在地图或表格中重新选择。",
        "The selected unit was not found: select it again on the map or in the table.",
    ),
    "what.radius": ("服务半径", "the radius"),
    "what.facility_type": ("设施类型", "facility type"),
    "what.method": ("计算方式", "distance measure"),
    "what.level": ("层级", "level"),
    "what.status": ("状态", "status"),
    "what.color": ("着色方式", "colour-by"),
    "what.search": ("搜索内容", "the search text"),
    "what.year": ("预测年份", "forecast year"),
    "what.target": ("对比对象", "comparison target"),
}


def message(key: str, lang: str = "zh", **params: object) -> str:
    """The message ``key`` in ``lang`` (``"en"`` or Chinese), ``what.*`` params translated.

    Parameters
    ----------
    key
        A key of :data:`MESSAGES` (an unknown key is returned as it is).
    lang
        ``"en"`` for English; anything else gives Chinese.
    **params
        Values for the placeholders; a ``what`` naming a ``what.*`` key is translated.

    Returns
    -------
    str
        The message.
    """
    en = lang == "en"
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    what = params.get("what")
    if isinstance(what, str) and what in MESSAGES:
        params = {**params, "what": MESSAGES[what][1 if en else 0]}
    text = pair[1] if en else pair[0]
    return text.format(**params) if params else text


def without_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last part (no server paths in a page).

    Parameters
    ----------
    text
        A message, e.g. of an exception.

    Returns
    -------
    str
        The message, ``/a/b/c.gpkg`` shown as ``c.gpkg``.
    """
    return _PATH.sub("", text)
