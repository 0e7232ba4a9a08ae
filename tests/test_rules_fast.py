"""The array fast path of rule evaluation gives exactly the per-rule pandas evaluation (#19).

``gridmap.rules.evaluate`` evaluates rules on arrays and builds one findings frame; the
frozen copy in ``tests/rules_reference`` is the implementation it replaced. Same findings:
values, thresholds, statuses, gaps, wording, order and dtypes, for every profile, both
levels and both languages, on the demo's checked tables and on made-up tables with the
edge cases (missing values, exemptions, unknown types, empty and absent columns).
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_reference.findings import evaluate as reference_evaluate

from gridmap.rules import evaluate, list_profiles

PROFILES = list_profiles()
#: the demo is checked once per profile (shared with other tests): the ones with every rule kind
DEMO_PROFILES = ["national", "hangzhou-2008", "ziyang-2018", "gb50180-2018"]


def _same(units: pd.DataFrame, profile: str, level: str, lang: str) -> None:
    got = evaluate(units, profile, level=level, lang=lang)
    want = reference_evaluate(units, profile, level=level, lang=lang)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("profile", DEMO_PROFILES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_demo_check_tables_give_the_reference_findings(demo_results, profile, lang):
    result = demo_results[profile]
    _same(result.communities, profile, "community", lang)
    _same(result.grids, profile, "grid", lang)


def test_a_table_without_rules_of_the_level_or_rows_gives_empty_findings():
    units = pd.DataFrame({"households": [1.0]}, index=pd.Index(["a"], name="community_id"))
    _same(units.iloc[:0], "national", "community", "zh")
    assert evaluate(units, "national", level="nowhere").empty


counts = st.one_of(st.none(), st.floats(0, 6000, allow_nan=False), st.integers(0, 6000))
# (flags as object columns: a column of text only or numbers with NaN is a case of its own)
flags = st.one_of(st.none(), st.booleans())
types = st.one_of(st.none(), st.sampled_from(["城市社区", "农村社区", "城市", "农村", "?", ""]))
shares = st.one_of(st.none(), st.floats(0, 1, allow_nan=False))


@st.composite
def unit_tables(draw) -> pd.DataFrame:
    n = draw(st.integers(1, 8))

    def col(strategy):
        return [draw(strategy) for _ in range(n)]

    table = {
        "name": [f"单元{i}" for i in range(n)],
        "households": col(counts),
        "coordinators": col(st.one_of(st.none(), st.integers(0, 12))),
        "coordinators_required": col(st.one_of(st.none(), st.integers(0, 12))),
        "staff": col(st.one_of(st.none(), st.integers(0, 30))),
        "volunteers": col(counts),
        "population": col(counts),
        "sparse": col(flags),
        "type": col(types),
        "health_record_rate": col(shares),
        "facility_types": col(
            st.one_of(st.none(), st.sets(st.sampled_from(["clinic", "kindergarten", "market"])))
        ),
    }
    for name in draw(st.sets(st.sampled_from(sorted(table)[1:]))):  # some columns absent
        del table[name]
    df = pd.DataFrame(table, index=pd.Index([f"u{i}" for i in range(n)], name="unit_id"))
    if "facility_types" in df.columns:
        df["facility_types"] = [
            tuple(sorted(v)) if isinstance(v, set) else None for v in df["facility_types"]
        ]
    return df


@settings(max_examples=60, deadline=None)
@given(units=unit_tables(), profile=st.sampled_from(PROFILES), lang=st.sampled_from(["zh", "en"]))
def test_made_up_tables_give_the_reference_findings(units, profile, lang):
    for level in ("community", "grid"):
        _same(units, profile, level, lang)
