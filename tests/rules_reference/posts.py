"""The ``posts`` rule kind: staff of one post required by counts of the people it serves.

A staffing standard (e.g. 杭州 市委办发〔2008〕160号) gives each post a fixed number of
people plus more by the size of the group it serves: "按每2000名暂住人口配备1人",
"困难家庭超过100户的，增配1人". A ``posts`` rule names the headcount column of the post
(``staff``), the fixed ``base`` and a list of ``terms``, each on a count column:

- ``{count = COLUMN, every = N}``: one post per *full* N (1,999 → 0, 2,000 → 1): the least
  the text certainly requires, so a red cell never rests on a part of N;
- ``{count = COLUMN, above = N, add = K}``: K more posts where the count exceeds N (N → 0,
  N + 1 → K).

A term with ``may = true`` is an allowance ("可增配", "可按…配备"): it is not part of the
minimum the unit is judged on, and the threshold shows how far the standard allows the post
to go (``≥1人（可配至3人）``). The rule is ``not_assessed`` where the headcount or a count of a
required term is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gridmap.rules import Rule
from rules_reference._evaluator import _column, _Eval
from rules_reference._text import _fmt
from rules_reference.kinds import _eval_required

__all__ = ["required_posts", "term_fields_problem"]


def _term(units: pd.DataFrame, term: Mapping[str, Any]) -> pd.Series:
    """The posts one term adds per unit (NaN where its count is missing)."""
    count = _column(units, str(term["count"]))
    if "every" in term:
        return np.floor(count / float(term["every"]) + 1e-9)
    return pd.Series(
        np.where(count > float(term["above"]) + 1e-9, float(term.get("add", 1)), 0.0),
        index=units.index,
    ).where(count.notna())


def required_posts(units: pd.DataFrame, rule: Rule) -> tuple[pd.Series, pd.Series]:
    """The minimum and the allowance of a ``posts`` rule per unit.

    Returns
    -------
    minimum, allowance
        ``base`` plus the required terms (NaN where one of their counts is missing), and that
        plus the ``may`` terms (NaN where one of those counts is missing).

    Examples
    --------
    >>> r = Rule("p", "community", "posts", "", "", "", params={"staff": "s", "base": 1,
    ...     "terms": [{"count": "poor", "above": 100, "add": 1},
    ...               {"count": "retired", "every": 500, "may": True}]})
    >>> units = pd.DataFrame({"poor": [100, 101, 101], "retired": [499, 1000, None]})
    >>> [s.tolist() for s in required_posts(units, r)]
    [[1.0, 2.0, 2.0], [1.0, 4.0, nan]]
    """
    p = rule.params
    minimum = pd.Series(float(p.get("base", 0)), index=units.index)
    allowance = minimum.copy()
    for term in p.get("terms", ()):
        add = _term(units, term)
        allowance = allowance + add
        if not term.get("may", False):
            minimum = minimum + add
    return minimum, allowance


def _eval_posts(units: pd.DataFrame, rule: Rule, lang: str) -> _Eval:
    minimum, allowance = required_posts(units, rule)
    ev = _eval_required(
        units,
        rule,
        _column(units, rule.params["staff"]),
        minimum,
        lang,
        zh_short="需增配 {gap} 人",
        en_short="{gap} more staff needed",
        unit="人",
    )
    more = allowance.notna() & (allowance > minimum + 1e-9)
    note = allowance.map(
        lambda a: (
            (f"（可配至{_fmt(a)}人）" if lang == "zh" else f" (up to {_fmt(a)} allowed)")
            if pd.notna(a)
            else ""
        )
    )
    ev.threshold = ev.threshold.where(~more | (ev.threshold == ""), ev.threshold + note)
    return ev


def term_fields_problem(terms: object) -> str:
    """What is wrong with a ``posts`` rule's ``terms`` ("" when nothing is).

    Examples
    --------
    >>> term_fields_problem([{"count": "x", "every": 500}, {"count": "y", "above": 100}])
    ''
    >>> term_fields_problem([{"count": "x"}])
    'term 1 needs every = N or above = N (one of them)'
    """
    if not isinstance(terms, list):
        return "terms must be a list of tables {count = COLUMN, every = N | above = N, add = K}"
    for i, term in enumerate(terms, start=1):
        if not isinstance(term, dict) or not term.get("count"):
            return f"term {i} needs count = COLUMN"
        if ("every" in term) == ("above" in term):
            return f"term {i} needs every = N or above = N (one of them)"
        if "every" in term and not float(term["every"]) > 0:
            return f"term {i}: every must be positive"
        unknown = set(term) - {"count", "every", "above", "add", "may"}
        if unknown:
            return f"term {i}: unknown field(s) {sorted(unknown)}"
    return ""
