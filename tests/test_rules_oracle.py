"""The written-out rules (``tests/rule_oracle.py``) and the fast path on findings worked out by hand.

``tests/test_rules_fast.py`` checks ``gridmap.rules.evaluate`` against the oracle on many
tables; here both are checked against values read off the rule texts by hand, one or two
per rule kind and edge (a full step, an allowance, an exemption, a variant, a straight-line
bound), so the oracle is not merely the fast path written twice.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from rule_oracle import findings as oracle_findings

from gridmap.rules import evaluate

COV = "community.coverage.service_station"
#: (profile, level, one unit's columns, rule, expected value, threshold, status, gap, message)
CASES = [
    # 杭州 community.size 1,500–3,000 户
    ("hangzhou-2008", "community", {"households": 1499}, "community.size",
     (1499, "1,500–3,000户", "fail", 1, "低于下限 1 户")),
    ("hangzhou-2008", "community", {"households": 3001}, "community.size",
     (3001, "1,500–3,000户", "fail", 1, "超出上限 1 户")),
    # national: below 1,000 户 is waived where residents are sparse (居民分散)
    ("national", "community", {"households": 999, "sparse": True}, "community.size",
     (999, "1,000–3,000户", "pass", 0, "居民分散，豁免下限")),
    # one coordinator per 300 households begun, at least one
    ("national", "grid", {"households": 301, "coordinators": 1}, "grid.coordinators",
     (1, "≥2人", "fail", 1, "需增配 1 名协理员")),
    ("national", "grid", {"households": 0, "coordinators": 1}, "grid.coordinators",
     (1, "≥1人", "pass", 0, "符合")),
    # 5 staff, one more per full 400 households above 2,000: 2,399 -> 5, 2,400 -> 6
    ("hangzhou-2008", "community", {"households": 2399, "staff": 5}, "community.staff",
     (5, "≥5人", "pass", 0, "符合")),
    ("hangzhou-2008", "community", {"households": 2400, "staff": 5}, "community.staff",
     (5, "≥6人", "fail", 1, "需增配 1 名专职工作人员")),
    # 1 post; "可增配": 301 unemployed allow one more, 1,000 retirees two more (not required)
    ("hangzhou-2008", "community",
     {"labour_security_staff": 1, "unemployed": 301, "enterprise_retirees": 1000},
     "community.posts.labour_security", (1, "≥1人（可配至4人）", "pass", 0, "符合")),
    # 1 post, one more where hardship households exceed 100 (100 does not)
    ("hangzhou-2008", "community", {"assistance_staff": 1, "hardship_households": 100},
     "community.posts.assistance", (1, "≥1人", "pass", 0, "符合")),
    ("hangzhou-2008", "community", {"assistance_staff": 1, "hardship_households": 101},
     "community.posts.assistance", (1, "≥2人", "fail", 1, "需增配 1 人")),
    # max(350 m², 30 m² per 100 households): 2,000 households -> 600 m²
    ("hangzhou-2008", "community", {"households": 2000, "floor_area_m2": 550},
     "community.floor_area", (550, "≥600m²", "fail", 50, "服务用房缺 50 m²")),
    ("national", "community", {"facility_types": ("service_station",)},
     "community.service_station", (1, "1/1", "pass", 0, "符合")),
    ("national", "community", {"facility_types": ("clinic",)},
     "community.service_station", (0, "1/1", "fail", 1, "缺少 社区服务站")),
    # volunteers ≥ 10 % of residents; staff ≥ 18 per 10,000 residents
    ("national", "community", {"volunteers": 9, "population": 100}, "community.volunteers",
     (0.09, "≥10%", "fail", 0.01, "低于下限 1%")),
    ("national", "community", {"staff": 1, "population": 1000}, "community.workers_per_10k",
     (10, "≥18人/万人", "fail", 8, "低于下限 8 人/万人")),
    ("national", "community", {"staff": 1, "population": 0}, "community.workers_per_10k",
     (math.nan, "≥18人/万人", "not_assessed", math.nan, "未评估：该单元数据缺失")),
    # green coverage ≥ 30 % in new estates, ≥ 25 % in old ones
    ("national", "community", {"green_coverage_rate": 0.27, "old_estate": True},
     "community.green_coverage", (0.27, "≥25%（老旧住宅社区）", "pass", 0, "符合")),
    ("national", "community", {"green_coverage_rate": 0.27, "old_estate": False},
     "community.green_coverage", (0.27, "≥30%（新建住宅社区）", "fail", 0.03, "低于下限 3%")),
    # every household within 500 m walking of a service station
    ("national", "community",
     {"households": 1000, f"coverage:{COV}": 0.9, f"covered:{COV}": 900}, COV,
     (0.9, "≥100%（步行 500 m）", "fail", 100, "100 户在社区服务站步行 500 m 范围外")),
    # no network: the straight-line share bounds the walking one from above
    ("national", "community",
     {"households": 10000, f"coverage_bound:{COV}": 0.9996, f"covered_bound:{COV}": 9996}, COV,
     (0.9996, "≥100%（步行 500 m）", "fail", 4,
      "无路网；直线距离上限 99.96%（步行覆盖率不会更高），低于 100%；至少还需覆盖 4 户（按上限计）")),
    ("national", "community",
     {"households": 10, f"coverage_bound:{COV}": 1.0, f"covered_bound:{COV}": 10}, COV,
     (1.0, "≥100%（步行 500 m）", "not_assessed", math.nan,
      "未评估：无路网；直线距离上限 100%（步行覆盖率不会更高）")),
]  # fmt: skip


@pytest.mark.parametrize("evaluator", [oracle_findings, evaluate], ids=["oracle", "fast"])
@pytest.mark.parametrize(("profile", "level", "row", "rule_id", "want"), CASES)
def test_findings_worked_out_by_hand(evaluator, profile, level, row, rule_id, want):
    units = pd.DataFrame([{"name": "甲", **row}], index=pd.Index(["c1"], name="unit_id"))
    found = evaluator(units, profile, level=level, lang="zh")
    got = found[found["rule_id"] == rule_id].iloc[0]
    value, threshold, status, gap, message = want
    assert (got["threshold"], got["status"], got["message"]) == (threshold, status, message)
    for key, number in (("value", value), ("gap", gap)):
        if math.isnan(number):
            assert math.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(number, rel=1e-12), key


def test_a_unit_of_unknown_variant_is_not_assessed_when_the_variants_differ():
    units = pd.DataFrame(
        {"name": ["甲", "乙"], "green_coverage_rate": [0.3, 0.3], "old_estate": [True, None]},
        index=pd.Index(["c1", "c2"], name="unit_id"),
    )
    for evaluator in (oracle_findings, evaluate):
        found = evaluator(units, "national", level="community", lang="en")
        got = found[found["rule_id"] == "community.green_coverage"].iloc[1]
        assert got["status"] == "not_assessed"
        assert got["threshold"] == "≥30% (new estate) / ≥25% (old estate)"
        assert got["message"] == (
            "not assessed: old_estate missing and the threshold differs by old_estate"
        )
