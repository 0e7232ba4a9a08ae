import numpy as np
import pandas as pd
import pytest

from gridmap.rules import (
    FINDING_COLUMNS,
    evaluate,
    list_profiles,
    load_profile,
    required_coordinators,
)


def _units(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame(
        cols, index=pd.Index([f"u{i}" for i in range(n)], name="community_id")
    ).assign(name=lambda d: d.index)


@pytest.mark.parametrize(
    ("households", "status", "gap"),
    [
        (999, "fail", 1.0),
        (1000, "pass", 0.0),
        (3000, "pass", 0.0),
        (3001, "fail", 1.0),
        (np.nan, "not_assessed", np.nan),
    ],
)
def test_community_band_thresholds(households, status, gap):
    f = evaluate(_units(households=[households]), "national", level="community")
    row = f[f.rule_id == "community.size"].iloc[0]
    assert row.status == status
    assert (np.isnan(gap) and np.isnan(row.gap)) or row.gap == gap


def test_band_messages_in_chinese_and_english():
    f = evaluate(_units(households=[3812, 700]), "national", level="community")
    msgs = f[f.rule_id == "community.size"].message.tolist()
    assert msgs == ["超出上限 812 户", "低于下限 300 户"]
    f = evaluate(_units(households=[3812]), "national", level="community", lang="en")
    assert f[f.rule_id == "community.size"].message.iloc[0] == "above maximum by 812 户"


def test_sparse_exemption_waives_the_minimum_only():
    f = evaluate(_units(households=[400, 3500], sparse=[True, True]), "national", level="community")
    size = f[f.rule_id == "community.size"]
    assert size.status.tolist() == ["pass", "fail"]
    assert "豁免" in size.message.iloc[0]


@pytest.mark.parametrize(
    ("households", "required"), [(0, 1), (1, 1), (300, 1), (301, 2), (600, 2), (601, 3)]
)
def test_coordinators_one_per_300_or_per_grid(households, required):
    rule = load_profile("national").rule("grid.coordinators")
    assert required_coordinators(pd.Series([float(households)]), rule).iloc[0] == required


def test_coordinator_gap_message():
    units = _units(households=[301.0, 900.0], coordinators=[1.0, 3.0])
    f = evaluate(units, "national", level="grid")
    assert f.status.tolist() == ["fail", "pass"]
    assert f.message.iloc[0] == "需增配 1 名协理员"
    assert f.gap.tolist() == [1.0, 0.0]


def test_missing_column_is_not_assessed_never_pass():
    f = evaluate(_units(households=[1500]), "national", level="community")
    for rid in (
        "community.volunteers",
        "community.floor_area",
        "community.facilities",
        "community.books",
    ):
        row = f[f.rule_id == rid].iloc[0]
        assert row.status == "not_assessed", rid
        assert row.message.startswith("未评估")


def test_floor_area_shortfall_message():
    f = evaluate(_units(households=[2000.0], floor_area_m2=[280.0]), "national", level="community")
    row = f[f.rule_id == "community.floor_area"].iloc[0]
    assert (row.status, row.gap, row.message) == ("fail", 120.0, "服务用房缺 120 m²")


def test_type_limited_floor_area_rule_ignores_the_total_attribute():
    # Chengdu: 社区服务站 ≥ 40 m² must not pass on the community's total floor area
    f = evaluate(
        _units(households=[2000.0], floor_area_m2=[500.0]), "chengdu-2002", level="community"
    )
    row = f[f.rule_id == "community.floor_area.service_station"].iloc[0]
    assert row.status == "not_assessed"


def test_facilities_rule_lists_what_is_missing():
    units = _units(households=[1500.0], facility_types=[("service_station", "police_office")])
    f = evaluate(units, "national", level="community")
    row = f[f.rule_id == "community.facilities"].iloc[0]
    assert row.status == "fail"
    assert row.gap == 10
    assert "社区办公室" in row.message


def test_staff_rule_hangzhou():
    # ≥5, +1 per *full* 400 户 over 2000 ("每超过400户增配1人")
    h = [2000.0, 2001.0, 2399.0, 2400.0, 2799.0, 2800.0]
    f = evaluate(_units(households=h, staff=[5.0] * 6), "hangzhou-2008", level="community")
    staff = f[f.rule_id == "community.staff"]
    assert staff.threshold.tolist() == ["≥5人", "≥5人", "≥5人", "≥6人", "≥6人", "≥7人"]
    assert staff.status.tolist() == ["pass", "pass", "pass", "fail", "fail", "fail"]
    assert staff.gap.tolist() == [0, 0, 0, 1, 1, 2]


def test_ratio_rule():
    f = evaluate(
        _units(volunteers=[90.0, 200.0], population=[1000.0, 1000.0]), "national", level="community"
    )
    assert f[f.rule_id == "community.volunteers"].status.tolist() == ["fail", "pass"]


def test_findings_have_contract_columns_and_a_citation_each():
    f = evaluate(_units(households=[1500]), "national", level="community")
    assert list(f.columns) == FINDING_COLUMNS
    assert f.source.str.len().min() > 10


@pytest.mark.parametrize("name", list_profiles())
def test_every_builtin_profile_loads_with_citations(name):
    p = load_profile(name)
    assert p.rules
    for r in p.rules:
        assert r.source and r.title_zh and r.title_en, r.id


def test_builtin_profiles():
    assert {"national", "chengdu-2002", "zhejiang-2007", "hangzhou-2008", "ziyang-2018"} <= set(
        list_profiles()
    )
    assert load_profile("zhejiang-2007").rule("community.size").params["min"] == 1500
    assert load_profile("ziyang-2018").rule("community.size").params["max"] == 5000


def test_user_profile_extends_and_disables(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[profile]\nid = "mine"\nextends = "national"\ndisable = ["community.books"]\n'
        '[[rules]]\nid = "community.size"\nlevel = "community"\nkind = "range"\nmetric = "households"\n'
        'max = 2500\ntitle_zh = "不超过2500户"\ntitle_en = "at most 2500"\nsource = "本区文件"\n',
        encoding="utf-8",
    )
    p = load_profile(path)
    assert p.rule("community.size").params == {"metric": "households", "max": 2500}
    with pytest.raises(KeyError):
        p.rule("community.books")
    assert p.rule("grid.coordinators")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            '[[rules]]\nid = "x"\nlevel = "community"\nkind = "range"\nmetric = "households"\nmin = 1\ntitle_zh = "a"\ntitle_en = "a"\n',
            "lacks.*source",
        ),
        (
            '[[rules]]\nid = "x"\nlevel = "community"\nkind = "magic"\ntitle_zh = "a"\ntitle_en = "a"\nsource = "s"\n',
            "unknown kind",
        ),
        ('[profile]\nextends = "nope"\n', "unknown profile"),
    ],
)
def test_bad_user_profiles_explain_themselves(tmp_path, body, match):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        load_profile(path)


def test_unknown_profile_lists_builtins():
    with pytest.raises(ValueError, match="national"):
        load_profile("shanghai-2099")


@pytest.mark.parametrize("profile", list_profiles())
@pytest.mark.parametrize("level", ["community", "grid"])
def test_empty_units_give_no_findings_not_a_crash(profile, level):
    units = pd.DataFrame(
        {"name": pd.Series([], dtype=object), "households": pd.Series([], dtype=float)}
    )
    f = evaluate(units, profile, level=level)
    assert len(f) == 0 and list(f.columns) == FINDING_COLUMNS


def test_size_band_classify_agrees_with_the_range_rule():
    """SizeBand.classify and the band's range rule give the same verdict for every unit and profile."""
    from gridmap.evaluation import size_status

    rng = np.random.default_rng(0)
    h = np.concatenate(
        [rng.integers(0, 6000, 200).astype(float), [np.nan, 999.9999999999, 1000, 1500, 3000, 5000]]
    )
    units = _units(households=h, sparse=rng.integers(0, 2, len(h)).astype(bool))
    for name in list_profiles():
        band = load_profile(name).size_band()
        f = evaluate(units, name, level="community")
        rule = f[f.rule_id == band.rule_id].set_index("unit_id")["status"]
        size = size_status(units, band)
        expected = size.map(
            {
                "pass": "pass",
                "too_small": "fail",
                "too_large": "fail",
                "not_assessed": "not_assessed",
            }
        )
        assert (rule.reindex(units.index.astype(str)).to_numpy() == expected.to_numpy()).all(), name


def _rule_rows(units, profile, rid):
    f = evaluate(units, profile, level="community")
    return f[f.rule_id == rid].reset_index(drop=True)


def test_floor_area_is_summed_over_all_work_and_service_rooms():
    import geopandas as gpd
    from shapely.geometry import Point, box

    from gridmap.metrics import community_metrics

    comm = gpd.GeoDataFrame(
        {"name": ["甲"], "households": [1000.0]},
        geometry=[box(0, 0, 1000, 1000)],
        crs="EPSG:32650",
        index=pd.Index(["c1"], name="community_id"),
    )
    types = ["service_station", "community_office", "police_office", "activity_room", "market"]
    fac = gpd.GeoDataFrame(
        {"facility_type": types, "floor_area_m2": [60.0, 50.0, 40.0, 50.0, 900.0]},
        geometry=[Point(10 * i, 10) for i in range(5)],
        crs="EPSG:32650",
    )
    rule = load_profile("national").rule("community.floor_area")
    table = community_metrics(
        comm,
        None,
        None,
        fac,
        pd.DataFrame({"community_id": ["c1"] * 5}, index=fac.index),
        floor_area_types={rule.id: rule.params["facility_types"]},
    )
    # 60 + 50 + 40 + 50: every work and service room, not the market; 200 m² needed for 1000 户
    assert table.loc["c1", "floor_area_m2:community.floor_area"] == 200.0
    row = _rule_rows(table, "national", "community.floor_area").iloc[0]
    assert (row.status, row.threshold) == ("pass", "≥200m²")
    assert "usable_area_m2:community.floor_area" not in table.columns


@pytest.mark.parametrize(
    ("columns", "status"),
    [
        ({"floor_area_m2:community.floor_area.office": [80.0]}, "not_assessed"),  # 建筑面积 only
        ({"usable_area_m2:community.floor_area.office": [40.0]}, "pass"),
        ({"usable_area_m2:community.floor_area.office": [39.0]}, "fail"),
        (
            {
                "floor_area_m2:community.floor_area.office": [80.0],
                "usable_area_m2:community.floor_area.office": [39.0],
            },
            "fail",
        ),
    ],
)
def test_chengdu_reads_usable_area_only(columns, status):
    units = _units(households=[1500.0], **columns)
    row = _rule_rows(units, "chengdu-2002", "community.floor_area.office").iloc[0]
    assert row.status == status


def test_usable_and_gross_area_are_two_columns():
    from gridmap.columns import find_columns

    found = find_columns(["类型", "建筑面积", "使用面积"], "facilities")[0]
    assert found["floor_area_m2"] == "建筑面积" and found["usable_area_m2"] == "使用面积"
    assert "floor_area_m2" not in find_columns(["类型", "使用面积"], "facilities")[0]
    comm = find_columns(["社区编码", "服务用房使用面积", "社区类型"], "communities")[0]
    assert comm["usable_area_m2"] == "服务用房使用面积" and comm["type"] == "社区类型"


def test_ziyang_staff_urban_and_rural():
    units = _units(
        households=[1500.0] * 5,
        staff=[3.0, 3.0, 3.0, 6.0, 6.0],
        type=["农村", "城市", None, "城镇社区", "农村社区"],
    )
    rows = _rule_rows(units, "ziyang-2018", "community.staff")
    assert rows.status.tolist() == ["pass", "fail", "not_assessed", "pass", "fail"]
    assert rows.threshold[0] == "2–3人（农村）" and rows.threshold[1] == "5–7人（城市）"
    assert "社区类型" in rows.message[2]


def test_pilot_volunteers_urban_and_rural():
    units = _units(
        volunteers=[120.0, 120.0, 120.0, 150.0],
        population=[1000.0] * 4,
        type=["农村", "城市", None, "城市"],
    )
    rows = _rule_rows(units, "pilot-2013", "community.volunteers")
    assert rows.status.tolist() == ["pass", "fail", "not_assessed", "pass"]


def test_variants_without_the_type_column_are_not_assessed():
    rows = _rule_rows(
        _units(volunteers=[500.0], population=[1000.0]), "pilot-2013", "community.volunteers"
    )
    assert rows.status.tolist() == ["not_assessed"]


def test_green_coverage_by_old_estate():
    units = _units(green_coverage_rate=[0.26, 0.26, 0.30], old_estate=[True, False, False])
    rows = _rule_rows(units, "national", "community.green_coverage")
    assert rows.status.tolist() == ["pass", "fail", "pass"]


def test_party_volunteering_follows_each_documents_figure():
    units = _units(party_volunteer_rate=[0.5])
    assert _rule_rows(units, "national", "community.party_volunteering").status[0] == "fail"
    assert _rule_rows(units, "model-community", "community.party_volunteering").status[0] == "pass"
    assert "community.resident_meetings" not in {r.id for r in load_profile("national").rules}
    assert load_profile("xinjin-2009").rule("community.resident_meetings").params["min"] == 2


def test_national_ten_minute_circle_is_500_m():
    from gridmap.rules import coverage_radius

    assert (
        coverage_radius(load_profile("national").rule("community.coverage.service_station")) == 500
    )


@pytest.mark.parametrize("profile", ["national", "hangzhou-2008", "ziyang-2018", "pilot-2013"])
def test_every_room_count_sums_the_same_work_and_service_rooms(profile):
    # 社区工作和公益性服务用房 / 社区配套用房 / 城乡社区综合服务设施 / 管理服务用房: all rooms;
    # a narrower list would fail communities on rooms the text counts
    national = set(load_profile("national").rule("community.floor_area").params["facility_types"])
    p = load_profile(profile)
    rid = "community.floor_area.total" if profile == "pilot-2013" else "community.floor_area"
    assert set(p.rule(rid).params["facility_types"]) == national
    assert p.rule(rid).params.get("area_measure", "gross") == "gross"


def test_national_room_list_is_marked_unverified():
    r = load_profile("national").rule("community.facilities")
    assert not r.verified and r.source.endswith("（待核实）")
    assert "功能室配置明细" in r.citation
