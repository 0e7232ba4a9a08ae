"""Every built-in rule rests on a quoted source, and what a planner sees is free of working notes."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from gridmap.rules import PRODUCT_DEFAULT, UNVERIFIED, evaluate, list_profiles, load_profile

PROFILES = list_profiles()

#: file names and working notes that must never reach a report, a table or the dashboard
FORBIDDEN = re.compile(
    r"seeds?\s*/|seed\s*\d|\.md\b|\.toml\b|\.py\b|(?-i:STANDARDS)|\bverify\b|to verify|"
    r"national;|TODO|FIXME|--map|gridmap/",
    re.IGNORECASE,
)

#: local (provincial, city, county, pilot) documents: a national profile may not cite them
LOCAL = ("成都", "杭州", "浙江", "浙委", "紫阳", "紫发", "新津", "试点方案", "市委", "县")


def _user_texts(name: str) -> list[tuple[str, str]]:
    p = load_profile(name)
    texts = [
        ("title_zh", p.title_zh),
        ("title_en", p.title_en),
        ("description_zh", p.description_zh),
        ("description_en", p.description_en),
    ]
    for r in p.rules:
        texts += [
            (f"{r.id}.title_zh", r.title_zh),
            (f"{r.id}.title_en", r.title_en),
            (f"{r.id}.source", r.source),
        ]
        for vname, fields in r.params.get("variants", {}).items():
            for key in ("label_zh", "label_en"):
                texts.append((f"{r.id}.variants.{vname}.{key}", fields.get(key, vname)))
    return texts


@pytest.mark.parametrize("name", PROFILES)
def test_every_rule_has_a_citation_and_a_quote(name):
    for r in load_profile(name).rules:
        assert r.citation.strip(), f"{name}: {r.id} has no source"
        assert r.quote.strip(), f"{name}: {r.id} has no quote"
        assert r.quote in r.source and r.citation in r.source


@pytest.mark.parametrize("name", PROFILES)
def test_no_file_name_or_working_note_reaches_a_planner(name):
    bad = [(where, text) for where, text in _user_texts(name) if FORBIDDEN.search(text)]
    assert not bad, f"{name}: {bad}"


@pytest.mark.parametrize("name", PROFILES)
def test_unverified_thresholds_are_marked_for_the_planner(name):
    for r in load_profile(name).rules:
        assert (UNVERIFIED in r.source) == (not r.verified), r.id


@pytest.mark.parametrize("name", [n for n in PROFILES if load_profile(n).scope == "national"])
def test_a_national_profile_cites_national_documents_only(name):
    for r in load_profile(name).rules:
        if r.basis == "product_default":
            assert r.citation.startswith(PRODUCT_DEFAULT), r.id
            continue
        hits = [w for w in LOCAL if w in r.citation]
        assert not hits, f"{name}: {r.id} cites a local document ({hits}): {r.citation}"


def test_national_profiles_are_the_national_ones():
    national = {n for n in PROFILES if load_profile(n).scope == "national"}
    assert national == {"national", "gb50180-2018", "model-community"}


def test_the_checks_fail_on_bad_profiles(tmp_path):
    """The checks above can fail: a local citation, a note, a missing quote."""
    f = tmp_path / "bad.toml"
    f.write_text(
        '[profile]\nid = "bad"\nscope = "national"\n[[rules]]\nid = "x"\nlevel = "community"\n'
        'kind = "range"\nmetric = "households"\nmin = 1\ntitle_zh = "x（seed 001）"\n'
        'title_en = "x (verify)"\nsource = "成都市城市社区建设五年发展规划"\n',
        encoding="utf-8",
    )
    p = load_profile(f)
    r = p.rules[0]
    assert not r.quote
    assert FORBIDDEN.search(r.title_zh) and FORBIDDEN.search(r.title_en)
    assert any(w in r.citation for w in LOCAL)


def test_unverified_needs_a_reason(tmp_path):
    f = tmp_path / "u.toml"
    f.write_text(
        '[profile]\nid = "u"\n[[rules]]\nid = "x"\nlevel = "community"\nkind = "range"\n'
        'metric = "households"\nmin = 1\ntitle_zh = "x"\ntitle_en = "x"\nsource = "s"\n'
        'quote = "q"\nverified = false\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="unverified_because"):
        load_profile(f)


def test_findings_carry_the_cited_source_without_notes():
    units = pd.DataFrame({"households": [1200.0]}, index=pd.Index(["1"], name="community_id"))
    for name in PROFILES:
        for lang in ("zh", "en"):
            f = evaluate(units, name, level="community", lang=lang)
            for col in ("source", "rule_title", "message", "threshold"):
                bad = [t for t in f[col].astype(str) if FORBIDDEN.search(t)]
                assert not bad, (name, lang, col, bad[:3])


def test_pilot_2013_is_listed_and_holds_the_plan():
    assert "pilot-2013" in PROFILES
    p = load_profile("pilot-2013")
    ids = {r.id for r in p.rules}
    assert {
        "community.party_committee",
        "community.party_workers",
        "community.committee_members",
        "community.station_staff",
        "community.peace_office_staff",
        "community.floor_area.total",
        "community.floor_area.management",
        "community.floor_area.service",
        "grid.coordinators",
        "community.social_orgs",
        "community.volunteers",
    } <= ids
    assert p.rule("community.floor_area.total").params["min_total"] == 1500


# --------------------------------------------------------------------- the product's defaults
def test_product_defaults_say_so_in_every_planner_facing_text():
    """The three national figures no national document fixes are marked in every output.

    PDF, Excel, HTML and the dashboard show the findings' ``source`` (= ``Rule.source``), the
    PDF also the profile description; ``gridmap rules`` prints ``Rule.citation`` and the titles.
    """
    p = load_profile("national")
    defaults = [r for r in p.rules if r.basis == "product_default"]
    assert {r.id for r in defaults} == {
        "community.size",
        "grid.coordinators",
        "community.coverage.service_station",
    }
    for r in defaults:
        assert r.citation.startswith(PRODUCT_DEFAULT) and r.source.startswith(PRODUCT_DEFAULT)
        assert "本工具默认" in r.title_zh and "product's default" in r.title_en, r.id
    assert p.rule("community.size").citation == (
        "本工具默认值，取自成都市城市社区建设五年发展规划（2001—2005年）二（一）对中心城区的规定"
    )
    assert p.description_zh.startswith("本工具默认值（非国家文件规定）")
    assert p.description_en.startswith("The product's defaults")
    units = pd.DataFrame({"households": [1200.0]}, index=pd.Index(["1"], name="community_id"))
    for lang in ("zh", "en"):
        for level in ("community", "grid"):
            f = evaluate(units, "national", level=level, lang=lang)
            for rid in {r.id for r in defaults if r.level == level}:
                assert f.loc[f.rule_id == rid, "source"].str.startswith(PRODUCT_DEFAULT).all()


def test_only_product_defaults_carry_the_mark():
    for name in PROFILES:
        for r in load_profile(name).rules:
            assert r.citation.startswith(PRODUCT_DEFAULT) == (r.basis == "product_default"), r.id


def test_a_user_product_default_is_marked_even_when_the_file_forgets(tmp_path):
    f = tmp_path / "d.toml"
    f.write_text(
        '[profile]\nid = "d"\n[[rules]]\nid = "x"\nlevel = "community"\nkind = "range"\n'
        'metric = "households"\nmin = 800\ntitle_zh = "x"\ntitle_en = "x"\n'
        'source = "某市社区规划 第3条"\nquote = "q"\nbasis = "product_default"\n',
        encoding="utf-8",
    )
    r = load_profile(f).rules[0]
    assert r.citation == PRODUCT_DEFAULT + "某市社区规划 第3条"
    assert r.source == PRODUCT_DEFAULT + "某市社区规划 第3条：“q”"
