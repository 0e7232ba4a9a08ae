"""The array evaluation of ratio rules and of rules with variants against a written-out oracle.

The oracle below is the rule text applied one unit at a time to plain dicts: no pandas, no
shared helper of :mod:`gridmap.rules` — so a mistake in the fast path cannot hide in it.
National's ``community.volunteers`` (注册志愿者 ≥ 10 % of residents),
``community.workers_per_10k`` (≥ 18 per 10,000, scaled) and ``community.green_coverage``
(≥ 30 % new estates, ≥ 25 % old ones, by ``old_estate``) on made-up communities with missing,
zero and edge values.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.rules import evaluate


def _num(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}"
    return f"{x:,.1f}"


def _share(x: float) -> str:
    return f"{x * 100:.0f}%"


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def oracle_min(value: float | None, low: float, *, percent: bool, unit: str, lang: str) -> dict:
    """A value that must be at least ``low``: status, gap, wording, threshold."""
    text = _share if percent else _num
    threshold = f"≥{text(low)}{unit}"
    if _missing(value):
        return {
            "value": math.nan,
            "threshold": threshold,
            "status": "not_assessed",
            "gap": math.nan,
        }
    assert value is not None
    if value < low - 1e-9:
        gap = low - value
        words = f"{text(gap)} {unit}".rstrip()
        message = ("低于下限 " if lang == "zh" else "below minimum by ") + words
        return {
            "value": value,
            "threshold": threshold,
            "status": "fail",
            "gap": gap,
            "message": message,
        }
    message = "符合" if lang == "zh" else "compliant"
    return {
        "value": value,
        "threshold": threshold,
        "status": "pass",
        "gap": 0.0,
        "message": message,
    }


def oracle_ratio(row: dict, numerator: str, denominator: str, scale: float) -> float | None:
    num, den = row.get(numerator), row.get(denominator)
    if num is None or den is None or _missing(num) or _missing(den) or den <= 0:
        return None
    return float(num) / float(den) * scale


UNITS = st.fixed_dictionaries(
    {
        "volunteers": st.one_of(st.none(), st.integers(0, 800)),
        "population": st.one_of(st.none(), st.just(0), st.integers(1, 6000)),
        "staff": st.one_of(st.none(), st.integers(0, 20)),
        "green_coverage_rate": st.one_of(st.none(), st.sampled_from([0.2, 0.25, 0.27, 0.3, 0.5])),
        "old_estate": st.booleans(),
    }
)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(UNITS, min_size=2, max_size=8), lang=st.sampled_from(["zh", "en"]))
def test_ratio_and_variant_rules_give_the_oracle_findings(rows, lang):
    # a known value in every column: a missing one is then "this unit's value" (the column
    # itself is there), the one wording of not-assessed the oracle needs
    rows[0] = {**rows[0], "volunteers": 10, "population": 100, "staff": 1}
    rows[0]["green_coverage_rate"] = 0.3
    units = pd.DataFrame(rows, index=pd.Index([f"c{i}" for i in range(len(rows))], name="cid"))
    units.insert(0, "name", [f"社区{i}" for i in range(len(rows))])
    found = evaluate(units, "national", level="community", lang=lang).set_index(
        ["rule_id", "unit_id"]
    )
    na_text = (
        "未评估：该单元数据缺失" if lang == "zh" else "not assessed: value missing for this unit"
    )
    for i, row in enumerate(rows):
        label = ("老旧住宅社区" if row["old_estate"] else "新建住宅社区") if lang == "zh" else None
        label = label or ("old estate" if row["old_estate"] else "new estate")
        expected = {
            "community.volunteers": oracle_min(
                oracle_ratio(row, "volunteers", "population", 1),
                0.10,
                percent=True,
                unit="",
                lang=lang,
            ),
            "community.workers_per_10k": oracle_min(
                oracle_ratio(row, "staff", "population", 10000),
                18,
                percent=False,
                unit="人/万人",
                lang=lang,
            ),
            "community.green_coverage": oracle_min(
                row["green_coverage_rate"],
                0.25 if row["old_estate"] else 0.30,
                percent=True,
                unit="",
                lang=lang,
            ),
        }
        suffix = f"（{label}）" if lang == "zh" else f" ({label})"
        expected["community.green_coverage"]["threshold"] += suffix
        for rule_id, want in expected.items():
            got = found.loc[(rule_id, f"c{i}")]
            assert got["status"] == want["status"], (rule_id, row)
            assert got["threshold"] == want["threshold"], (rule_id, row)
            assert got["message"] == want.get("message", na_text), (rule_id, row)
            for key in ("value", "gap"):
                if math.isnan(want[key]):
                    assert math.isnan(got[key]), (rule_id, key, row)
                else:
                    assert got[key] == pytest.approx(want[key], rel=1e-12), (rule_id, key, row)
