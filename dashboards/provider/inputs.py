"""Browser values checked before the provider acts on them: allow-lists and ranges.

Everything a callback receives comes from the browser and may be crafted (a path
instead of a profile id, ``"abc"`` or ``1e9`` as a radius, a dict instead of a string).
The provider accepts only values from an allow-list or inside a documented range;
anything else raises :class:`RejectedInput`, whose ``key`` and ``params`` name a
message of :mod:`dashboards.messages` that the page shows instead of its content.
No check here touches the file system.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

__all__ = [
    "LANGS",
    "MAX_TEXT",
    "RADIUS",
    "NumberRange",
    "RejectedInput",
    "choice",
    "lang_of",
    "number",
    "text",
]

#: the page languages; anything else is read as Chinese
LANGS = ("zh", "en")
#: longest free text a callback accepts (the findings search)
MAX_TEXT = 200


class RejectedInput(ValueError):
    """A browser value the dashboard refuses.

    Parameters
    ----------
    key
        The message key (:data:`dashboards.messages.MESSAGES`), e.g. ``"input.profile"``.
    **params
        The message's placeholders (never the refused value itself).
    """

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class NumberRange:
    """The accepted range of one numeric input, both ends included.

    Attributes
    ----------
    what
        The ``what.*`` message key naming the input.
    lo, hi
        Smallest and largest accepted value.
    """

    what: str
    lo: float
    hi: float


#: the coverage page's service radius in metres (the input's own min/max)
RADIUS = NumberRange("what.radius", 50.0, 5000.0)


def lang_of(value: object) -> str:
    """The page language of ``value``: ``"en"`` or ``"zh"`` (anything else).

    >>> lang_of("en"), lang_of({"x": 1}), lang_of(None)
    ('en', 'zh', 'zh')
    """
    return "en" if value == "en" else "zh"


def choice(value: object, allowed: Collection[str], *, what: str) -> str:
    """``value`` when it is one of ``allowed`` (a string), else :class:`RejectedInput`.

    >>> choice("grid", ("community", "grid"), what="what.level")
    'grid'
    >>> choice("../x", ("community", "grid"), what="what.level")
    Traceback (most recent call last):
    ...
    dashboards.provider.inputs.RejectedInput: input.choice
    """
    if isinstance(value, str) and value in allowed:
        return value
    raise RejectedInput("input.choice", what=what)


def number(value: object, spec: NumberRange) -> float:
    """``value`` as a finite float inside ``spec``'s range, else :class:`RejectedInput`.

    Numbers and numeric strings are accepted; booleans, NaN, infinities and anything
    outside ``[spec.lo, spec.hi]`` are not.

    >>> number("300", RADIUS)
    300.0
    >>> number(float("nan"), RADIUS)
    Traceback (most recent call last):
    ...
    dashboards.provider.inputs.RejectedInput: input.number
    """
    x = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
    elif isinstance(value, str) and len(value) <= 32:
        try:
            x = float(value)
        except ValueError:
            pass
    if not (math.isfinite(x) and spec.lo <= x <= spec.hi):
        raise RejectedInput("input.number", what=spec.what, lo=f"{spec.lo:g}", hi=f"{spec.hi:g}")
    return x


def text(value: object, *, what: str, max_len: int = MAX_TEXT) -> str | None:
    """``value`` as free text of at most ``max_len`` characters (None stays None).

    >>> text("幸福", what="what.search")
    '幸福'
    """
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= max_len:
        return value
    raise RejectedInput("input.text", what=what, hi=max_len)
