"""How the dashboard writes a finding's numbers: shares as percentages, counts with separators."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_value", "percent_flags"]


def format_value(x: Any, *, pct: bool = False) -> str:
    """A finding's value or gap as text: "—" when missing, ``51%`` when ``pct``, else ``1,234``.

    Parameters
    ----------
    x
        The number (None, NaN and infinities are missing; other non-numbers are returned as text).
    pct
        Whether ``x`` is a share shown as a percentage.

    Returns
    -------
    str
        Whole percents (never rounded onto 0% or 100%), whole numbers with thousands
        separators, or two decimals.

    Examples
    --------
    >>> format_value(0.51, pct=True), format_value(1.0, pct=True), format_value(0.5649, pct=True)
    ('51%', '100%', '56%')
    >>> format_value(0.997, pct=True), format_value(0.0004, pct=True)
    ('99.7%', '0.0%')
    >>> format_value(1234.0), format_value(2.345), format_value(None)
    ('1,234', '2.35', '—')
    >>> format_value(float("nan"), pct=True)
    '—'
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "—"
    if pct:  # whole percent like the thresholds (≥60%), but never rounded onto 0% or 100%
        p = x * 100
        near_edge = round(p) in (0, 100) and abs(p - round(p)) > 1e-6
        return f"{p:.1f}%" if near_edge else f"{p:.0f}%"
    return f"{int(round(x)):,}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def percent_flags(rule: Any) -> tuple[bool, bool]:
    """(value is a share, gap is a share) of a rule: unit "%" (or a unitless ratio), or coverage.

    Coverage rules measure a share of households but their gap counts households, so
    only the value is a percentage there; ``range``/``ratio`` rules in "%" have both.

    Parameters
    ----------
    rule
        A :class:`gridmap.rules.Rule`.

    Returns
    -------
    tuple of bool
        Whether the finding's value, and whether its gap, is shown as a percentage.
    """
    unit = rule.unit
    if rule.kind == "ratio" and not unit and float(rule.params.get("scale", 1)) == 1:
        unit = "%"  # as gridmap.rules renders the threshold (≥10%)
    if rule.kind == "coverage":
        return True, False
    return unit == "%", unit == "%"
