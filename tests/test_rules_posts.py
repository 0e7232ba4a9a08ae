"""Per-post staffing (杭州 市委办发〔2008〕160号) and the 紫阳 (紫发〔2018〕7号) urban/rural clauses.

Each ratio is tested at its boundaries: one post per *full* N ("每2000名暂住人口配备1人":
1,999 → 0, 2,000 → 1, 3,999 → 1, 4,000 → 2), "超过N…增配1人" strictly above N, and the
"可" allowances shown but never required.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridmap.columns import find_columns
from gridmap.rules import evaluate, load_profile, required_posts

HZ = "hangzhou-2008"


def _units(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame(
        cols, index=pd.Index([f"u{i}" for i in range(n)], name="community_id")
    ).assign(name=lambda d: d.index)


def _rows(units, profile, rid, lang="zh"):
    f = evaluate(units, profile, level="community", lang=lang)
    return f[f.rule_id == rid].reset_index(drop=True)


@pytest.mark.parametrize(
    ("rid", "count", "staff", "counts", "required"),
    [
        (
            "community.posts.temporary_residents",
            "temporary_residents",
            "temporary_resident_staff",
            [0, 1999, 2000, 3999, 4000],
            [0, 0, 1, 1, 2],
        ),
        (
            "community.posts.floating_population",
            "floating_population",
            "floating_population_staff",
            [0, 499, 500, 999, 1000],
            [0, 0, 1, 1, 2],
        ),
        (
            "community.posts.assistance",
            "hardship_households",
            "assistance_staff",
            [0, 100, 101, 500],
            [1, 1, 2, 2],
        ),
        (
            "community.posts.family_planning",
            "population",
            "family_planning_vice_chairs",
            [3000, 3001, 9000],
            [0, 1, 1],
        ),
    ],
)
def test_required_posts_at_the_boundaries(rid, count, staff, counts, required):
    n = len(counts)
    one_short = [max(r - 1, 0) for r in required]
    rows = _rows(_units(**{count: counts, staff: one_short}), HZ, rid)
    assert rows.threshold.tolist() == [f"≥{r}人" for r in required]
    # one fewer than required fails (where anything is required), exactly required passes
    assert rows.status.tolist() == ["fail" if r else "pass" for r in required]
    assert rows.gap.tolist() == [1.0 if r else 0.0 for r in required]
    rows = _rows(_units(**{count: counts, staff: required}), HZ, rid)
    assert rows.status.tolist() == ["pass"] * n


def test_labour_security_allowances_are_shown_not_required():
    # 1 post required; 可增配 1 above 300 unemployed, 可按每500名企业退休人员配1人
    units = _units(
        labour_security_staff=[1, 1, 1, 1, 0],
        unemployed=[300, 301, 301, 0, 301],
        enterprise_retirees=[499, 500, 1000, 0, 1000],
    )
    rows = _rows(units, HZ, "community.posts.labour_security")
    assert rows.status.tolist() == ["pass", "pass", "pass", "pass", "fail"]
    assert rows.threshold.tolist() == [
        "≥1人",
        "≥1人（可配至3人）",
        "≥1人（可配至4人）",
        "≥1人",
        "≥1人（可配至4人）",
    ]
    assert rows.message.iloc[-1] == "需增配 1 人"
    en = _rows(units, HZ, "community.posts.labour_security", lang="en")
    assert en.threshold.iloc[1] == "≥1人 (up to 3 allowed)"
    assert en.message.iloc[-1] == "1 more staff needed"


def test_an_allowance_count_missing_does_not_stop_the_assessment():
    rows = _rows(_units(labour_security_staff=[0, 1]), HZ, "community.posts.labour_security")
    assert rows.status.tolist() == ["fail", "pass"]
    assert rows.threshold.tolist() == ["≥1人", "≥1人"]


def test_posts_are_not_assessed_without_their_columns():
    rows = _rows(_units(households=[2500]), HZ, "community.posts.temporary_residents")
    assert rows.status.iloc[0] == "not_assessed"
    assert "暂住人口管理员（temporary_resident_staff）" in rows.message.iloc[0]
    assert "暂住人口（temporary_residents）" in rows.message.iloc[0]
    # the headcount without the count it depends on: still not assessed, never a pass
    rows = _rows(_units(assistance_staff=[3]), HZ, "community.posts.assistance")
    assert rows.status.iloc[0] == "not_assessed"
    assert "困难家庭（hardship_households）" in rows.message.iloc[0]
    rows = _rows(
        _units(assistance_staff=[3], hardship_households=[np.nan]), HZ, "community.posts.assistance"
    )
    assert rows.status.iloc[0] == "not_assessed"


def test_station_and_party_workers():
    units = _units(station_staff=[4, 5, 12], party_workers=[0, 2, 3])
    station = _rows(units, HZ, "community.station_staff")
    assert station.status.tolist() == ["fail", "pass", "pass"]  # 5–9 is not a cap: "10名以上"
    party = _rows(units, HZ, "community.party_workers")
    assert party.status.tolist() == ["fail", "pass", "fail"]


def test_every_post_rule_quotes_the_staffing_standard():
    for r in load_profile(HZ).rules:
        if r.kind == "posts":
            assert "市委办发〔2008〕160号" in r.citation
            assert "配备" in r.quote and r.quote in r.source


@pytest.mark.parametrize(
    ("column", "canonical"),
    [
        ("暂住人口", "temporary_residents"),
        ("暂住人口管理员", "temporary_resident_staff"),
        ("流动人口", "floating_population"),
        ("流动人口管理员", "floating_population_staff"),
        ("企业退休人员", "enterprise_retirees"),
        ("登记失业人员", "unemployed"),
        ("困难家庭户数", "hardship_households"),
        ("帮扶救助管理员", "assistance_staff"),
        ("劳动保障管理员", "labour_security_staff"),
        ("计生协会副会长", "family_planning_vice_chairs"),
        ("retirees", "enterprise_retirees"),
        ("migrant_population", "floating_population"),
        ("temporary_population", "temporary_residents"),
        ("社区工作站工作人员", "station_staff"),
    ],
)
def test_post_columns_are_found_by_chinese_and_english_names(column, canonical):
    found, _ = find_columns(["社区编码", "常住人口", column], "communities")
    assert found[canonical] == column
    assert found["population"] == "常住人口"


def test_required_posts_is_public_and_positional():
    rule = load_profile(HZ).rule("community.posts.assistance")
    minimum, allowance = required_posts(_units(hardship_households=[100, 101, np.nan]), rule)
    assert minimum.tolist()[:2] == [1.0, 2.0] and np.isnan(minimum.iloc[2])
    assert allowance.tolist()[:2] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("terms", "match"),
    [
        ("[{count = 'x'}]", "every = N or above = N"),
        ("[{count = 'x', every = 0}]", "every must be positive"),
        ("[{every = 5}]", "needs count"),
        ("[{count = 'x', every = 5, per = 3}]", "unknown field"),
        ("'x'", "terms must be a list"),
    ],
)
def test_bad_post_terms_explain_themselves(tmp_path, terms, match):
    f = tmp_path / "p.toml"
    f.write_text(
        '[profile]\nid = "p"\n[[rules]]\nid = "x"\nlevel = "community"\nkind = "posts"\n'
        f'staff = "s"\nbase = 1\nterms = {terms}\ntitle_zh = "x"\ntitle_en = "x"\nsource = "s"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=match):
        load_profile(f)


# --------------------------------------------------------------------- 紫阳: by 社区类型


def test_ziyang_social_workers_share_in_town_count_in_village():
    # 城镇: ≥ 20 % of the staff; 农村: "至少有1名" — two rules, each not binding the other type
    units = _units(
        type=["城市", "城市", "农村", "农村", None, "城中村"],
        social_workers=[1, 2, 0, 1, 1, 1],
        staff=[6, 10, 3, 3, 6, 6],
    )
    town = _rows(units, "ziyang-2018", "community.social_workers")
    assert town.status.tolist() == ["fail", "pass"] + ["not_assessed"] * 4
    assert town.threshold.tolist()[:2] == ["≥20%（城市）", "≥20%（城市）"]
    assert town.message.tolist()[2:4] == ["不适用：该条不约束农村社区"] * 2
    village = _rows(units, "ziyang-2018", "community.social_workers.rural")
    assert village.status.tolist() == ["not_assessed"] * 2 + ["fail", "pass"] + ["not_assessed"] * 2
    assert village.threshold.tolist()[2:4] == ["≥1人（农村）", "≥1人（农村）"]
    assert village.message.iloc[2] == "低于下限 1 人"
    assert village.message.iloc[0] == "不适用：该条不约束城镇社区"
    for rows in (town, village):
        assert "缺少社区类型" in rows.message.iloc[4]
        assert "“城中村”无法识别" in rows.message.iloc[5]


def test_ziyang_party_funds_bind_town_communities_only():
    units = _units(type=["城市", "城市", "农村"], party_funding_10k_yuan=[4.9, 5, 0])
    rows = _rows(units, "ziyang-2018", "community.party_funding")
    assert rows.status.tolist() == ["fail", "pass", "not_assessed"]
    assert rows.message.iloc[2] == "不适用：该条不约束农村社区"
    en = _rows(units, "ziyang-2018", "community.party_funding", lang="en")
    assert en.message.iloc[2] == "not applicable to rural communities"


@pytest.mark.parametrize(
    ("variant", "match"),
    [
        ('kind = "range"\nmin = 1\n', "cannot change the kind"),
        ("applies = 0\n", "applies must be true or false"),
        ("max = 0.5\n", None),
    ],
)
def test_variant_tables_are_checked(tmp_path, variant, match):
    f = tmp_path / "v.toml"
    f.write_text(
        '[profile]\nid = "v"\n[[rules]]\nid = "x"\nlevel = "community"\nkind = "ratio"\n'
        'numerator = "a"\ndenominator = "b"\nby = "type"\ntitle_zh = "x"\ntitle_en = "x"\n'
        f'source = "s"\n[rules.variants."城市"]\nmin = 0.2\n[rules.variants."农村"]\n{variant}',
        encoding="utf-8",
    )
    if match is None:
        assert load_profile(f).rules[0].params["variants"]["农村"] == {"max": 0.5}
    else:
        with pytest.raises(ValueError, match=match):
            load_profile(f)
