"""Number wording shared by the rule model and the evaluators (no rules)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def _fmt(x: float | None) -> str:
    """A count or measure as text: ``1,500``, ``12.5``; empty for None or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}"
    return f"{x:,.1f}"


def _pct(x: float) -> str:
    """A share as a whole percentage: ``0.1`` -> ``10%``."""
    return f"{x * 100:.0f}%"


def _share_text(x: float, need: float) -> str:
    """A share as a percentage with enough decimals not to look equal to ``need`` when it is not.

    99.6 % is not shown as 100 % when 100 % is required.
    """
    for digits in range(4):
        text = f"{x * 100:.{digits}f}%"
        if abs(x - need) < 1e-12 or text != f"{need * 100:.{digits}f}%":
            return text
    return text


def _map_text(values: pd.Series, text: Callable[[Any], str]) -> pd.Series:
    """``values.map(text)``, calling ``text`` once per distinct value (NaN included).

    Counts and gaps repeat a lot (60 k grids have a handful of required coordinator
    numbers): formatting each distinct value once is what makes wording 100 k findings cheap.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    words = np.array([text(u) for u in pd.Series(uniques, dtype=values.dtype)], dtype=object)
    return pd.Series(words[codes], index=values.index, dtype=object)
