"""The array fast path of rule evaluation gives exactly the written-out rules (#19).

``gridmap.rules.evaluate`` evaluates rules on arrays and builds one findings frame;
``tests/rule_oracle.py`` applies each rule kind one unit at a time, as plain arithmetic on
dicts. Same findings: values, thresholds, statuses, gaps, wording, order and dtypes, for
every profile, both levels and both languages, on the demo's checked tables and on made-up
tables with the edge cases (missing values, exemptions, unknown types, empty and absent
columns).
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rule_oracle import findings as oracle_findings

from gridmap.rules import evaluate, list_profiles, load_profile

PROFILES = list_profiles()
#: the demo is checked once per profile (shared with other tests): the ones with every rule kind
DEMO_PROFILES = ["national", "hangzhou-2008", "ziyang-2018", "gb50180-2018"]


def _same(units: pd.DataFrame, profile: str, level: str, lang: str) -> None:
    got = evaluate(units, profile, level=level, lang=lang)
    want = oracle_findings(units, profile, level=level, lang=lang)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("profile", DEMO_PROFILES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_demo_check_tables_give_the_oracle_findings(demo_results, profile, lang):
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
def test_made_up_tables_give_the_oracle_findings(units, profile, lang):
    for level in ("community", "grid"):
        _same(units, profile, level, lang)


def _edges(rule) -> dict[str, set[float]]:
    """Per column, the values where ``rule`` changes its verdict (a threshold, a step) and next to them."""
    out: dict[str, set[float]] = {}
    for p in [rule.params, *rule.params.get("variants", {}).values()]:
        p = {**rule.params, **p}

        def near(column: str, *xs: float, d: float = 1.0) -> None:
            out.setdefault(column, set()).update(x + k * d for x in xs for k in (-1, 0, 1))

        if rule.kind == "range":
            d = 0.005 if rule.unit == "%" else 1.0
            near(p["metric"], *(p[k] for k in ("min", "max") if k in p), d=d)
        if rule.kind == "coordinators":
            near("households", *(p["per"] * k for k in (1, 2, 3)))
        if rule.kind == "staff":
            near("households", *(p["above"] + p["step"] * k for k in (0, 1, 2)))
        for term in p.get("terms", ()):
            near(term["count"], *([term["above"]] if "above" in term else [term["every"] * 2]))
        if rule.kind == "floor_area" and p["per_100"]:
            near("households", p.get("min_total", 0) * 100 / p["per_100"])
        if rule.kind == "ratio":
            dens = (100, 1000, 10000)
            near(p["denominator"], *dens)
            scale = p.get("scale", 1)
            near(
                p["numerator"],
                *(p[k] * den / scale for k in ("min", "max") if k in p for den in dens),
            )
    return out


def _columns_read(profile: str) -> dict[str, st.SearchStrategy]:
    """Every column ``profile``'s rules read, with values of its kind, edge values often."""
    out: dict[str, st.SearchStrategy] = {"households": counts}
    edges: dict[str, set[float]] = {}
    for rule in load_profile(profile).rules:
        p = rule.params
        for column in rule.inputs():
            out.setdefault(column, counts)
        for term in p.get("terms", ()):
            out.setdefault(term["count"], counts)
        for column, values in _edges(rule).items():
            edges.setdefault(column, set()).update(values)
        if rule.kind == "floor_area":
            for measure in ("floor_area_m2", "usable_area_m2"):
                out[f"{measure}:{rule.id}"] = counts
        if rule.kind == "coverage":
            for what in ("coverage", "coverage_bound"):
                out[f"{what}:{rule.id}"] = st.one_of(shares, st.sampled_from([0.999, 0.9995, 1.0]))
            for what in ("covered", "covered_bound"):
                out[f"{what}:{rule.id}"] = counts
        if "exempt_min_if" in p:
            out[p["exempt_min_if"]] = flags
        if "by" in p:
            out[p["by"]] = types if p["by"] == "type" else flags
        if "metric" in p and rule.unit == "%":
            out[p["metric"]] = shares
    out["facility_types"] = st.one_of(
        st.none(), st.sets(st.sampled_from(["clinic", "kindergarten", "market", "service_station"]))
    )
    for column, values in edges.items():
        if column in out:
            out[column] = st.one_of(
                st.sampled_from(sorted(v for v in values if v >= 0)), out[column]
            )
    return out


@st.composite
def profile_tables(draw, profile: str) -> pd.DataFrame:
    """A few units with the columns ``profile`` reads, some columns absent, some empty."""
    n = draw(st.integers(1, 6))
    columns = _columns_read(profile)
    kept = [c for c in sorted(columns) if draw(st.integers(0, 5))]  # about one in six absent
    table = {"name": [f"单元{i}" for i in range(n)]}
    for c in kept:
        table[c] = [draw(columns[c]) for _ in range(n)]
    df = pd.DataFrame(table, index=pd.Index([f"u{i}" for i in range(n)], name="unit_id"))
    if "facility_types" in df.columns:
        df["facility_types"] = [
            tuple(sorted(v)) if isinstance(v, set) else None for v in df["facility_types"]
        ]
    return df


@pytest.mark.parametrize("profile", PROFILES)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), lang=st.sampled_from(["zh", "en"]))
def test_tables_with_every_column_a_profile_reads_give_the_oracle_findings(data, profile, lang):
    units = data.draw(profile_tables(profile))
    for level in ("community", "grid"):
        _same(units, profile, level, lang)
