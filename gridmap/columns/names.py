"""The column vocabulary: canonical columns per layer kind, their aliases and value classes.

Planners' files name the same thing many ways (社区编码, 社区代码, SQBM …). Each layer kind has
canonical columns (DESIGN.md "Canonical names") with the Chinese and English aliases below;
:mod:`~gridmap.columns.matching` finds them in a file, :mod:`~gridmap.columns.values` cleans
their values by the classes named here (counts, rates, measures, flags, 社区类型).
"""

from __future__ import annotations

__all__ = [
    "ALIASES",
    "AREA_MEASURES",
    "REQUIRED",
    "PLAUSIBLE_MAX",
    "IMPLAUSIBLE",
    "COUNT_COLUMNS",
    "RATE_COLUMNS",
    "NUMBER_COLUMNS",
    "FLAG_COLUMNS",
    "COMMUNITY_TYPES",
]

ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "communities": {
        "community_id": (
            "社区编码",
            "社区代码",
            "社区编号",
            "社区代号",
            "社区id",
            "社区标识码",
            "sqbm",
            "code",
            "community_code",
            "编码",
            "代码",
        ),
        "name": ("社区名称", "社区名", "社区", "名称", "居委会名称", "community", "community_name"),
        "street": ("街道", "所属街道", "街道名称", "街道办", "乡镇街道", "所属片区", "street"),
        "sparse": ("居民分散", "居民比较分散", "是否分散", "分散", "sparse"),
        "old_estate": ("老旧小区", "是否老旧小区", "老旧住宅社区", "old_estate"),
        "type": (
            "社区类型",
            "城乡",
            "城乡类型",
            "城乡属性",
            "城市农村",
            "community_type",
            "urban_rural",
        ),
        "households": ("户数", "住户数", "总户数", "常住户数", "户数合计", "居民户数", "hh"),
        "population": ("常住人口", "人口", "人口数", "居民人数", "pop"),
        "staff": (
            "专职工作人员",
            "专职工作人员数",
            "社区工作者",
            "社区工作者人数",
            "工作人员数",
            "专职人员",
            "staff_count",
        ),
        "floor_area_m2": (
            "服务用房面积",
            "社区服务用房面积",
            "办公服务用房面积",
            "用房面积",
            "服务用房建筑面积",
            "floor_area",
        ),
        "usable_area_m2": (
            "服务用房使用面积",
            "社区服务用房使用面积",
            "用房使用面积",
            "使用面积",
            "usable_area",
        ),
        "management_floor_area_m2": ("管理用房面积", "社区管理用房面积", "管理用房建筑面积"),
        "green_coverage_rate": ("绿化覆盖率", "社区绿化覆盖率"),
        "sports_area_per_capita": ("人均体育场地面积", "人均体育场地"),
        "party_committee": ("社区党组织成员", "党组织成员", "党组织人数", "党委成员"),
        "party_workers": ("专职党务工作者", "党务工作者"),
        "committee_members": ("居委会成员", "居民委员会成员", "居委会成员数"),
        "station_staff": (
            "服务站专职工作者",
            "服务站工作人员",
            "管理服务站工作人员",
            "工作站工作人员",
            "公共服务工作站工作人员",
            "社区工作站工作人员",
        ),
        "peace_office_staff": ("综治办专职人员", "综治办人员", "综治办工作人员"),
        "outdoor_area_m2": ("室外活动场所面积", "室外活动场地面积", "室外活动面积"),
        "activity_floor_area_m2": ("居民活动用房面积", "活动用房面积"),
        "social_workers": ("社会工作专业人员", "社工人数", "持证社工", "社会工作者"),
        "volunteers": ("注册志愿者", "注册志愿者人数", "志愿者人数", "志愿者", "volunteer"),
        "social_orgs": ("公益性社会组织", "社会组织", "社会组织数", "社会组织数量"),
        "health_record_rate": ("居民健康档案建档率", "健康档案建档率", "建档率"),
        "security_rate": ("安防系统安装率", "安防安装率"),
        "satisfaction_rate": ("居民满意率", "满意率"),
        "safety_satisfaction_rate": ("治安满意率",),
        "mediation_rate": ("民事纠纷调解率", "纠纷调解率"),
        "mediation_success_rate": ("调解成功率",),
        "books": ("图书", "藏书", "图书数量", "藏书量"),
        "periodicals": ("报刊", "期刊", "报刊种类"),
        "funding_10k_yuan": ("社区工作经费", "工作经费"),
        "party_funding_10k_yuan": ("党组织服务群众专项经费", "服务群众专项经费"),
        "resident_meetings": ("居民代表会议", "居民代表会议次数"),
        "party_volunteer_rate": ("党员参加志愿服务", "党员志愿服务率"),
        # per-post staffing (杭州 市委办发〔2008〕160号): the post's headcount and the people it serves
        "labour_security_staff": (
            "劳动保障管理员",
            "劳动保障管理岗位",
            "劳动保障管理岗位人数",
            "劳动保障协理员",
            "labour_staff",
        ),
        "unemployed": (
            "登记失业人员",
            "登记失业人数",
            "失业人员",
            "失业人数",
            "registered_unemployed",
        ),
        "enterprise_retirees": (
            "企业退休人员",
            "企业退休人数",
            "退休人员",
            "退休人数",
            "retirees",
        ),
        "assistance_staff": (
            "帮扶救助管理员",
            "帮扶救助管理岗位",
            "帮扶救助管理岗位人数",
            "救助管理员",
            "aid_staff",
        ),
        "hardship_households": (
            "困难家庭",
            "困难家庭户数",
            "市级救助圈困难家庭",
            "救助困难家庭户数",
            "hardship_families",
        ),
        "temporary_residents": ("暂住人口", "暂住人口数", "暂住人数", "temporary_population"),
        "temporary_resident_staff": (
            "暂住人口管理员",
            "暂住人口管理岗位",
            "暂住人口管理岗位人数",
            "暂住人口协管员",
            "temporary_population_staff",
        ),
        "floating_population": ("流动人口", "流动人口数", "migrant_population"),
        "floating_population_staff": (
            "流动人口管理员",
            "流动人口管理工作人员",
            "流动人口协管员",
            "migrant_staff",
        ),
        "family_planning_vice_chairs": (
            "计生协会副会长",
            "计划生育协会副会长",
            "计生协会副会长人数",
            "family_planning_vice_chair",
        ),
    },
    "grids": {
        "grid_id": (
            "网格编码",
            "网格代码",
            "网格编号",
            "网格id",
            "网格标识码",
            "wgbm",
            "grid_code",
            "编码",
            "代码",
        ),
        "name": ("网格名称", "网格名", "名称", "grid_name"),
        "community_id": (
            "所属社区",
            "所属社区编码",
            "所属社区名称",
            "社区编码",
            "社区名称",
            "社区",
            "community",
        ),
        "coordinators": (
            "协理员",
            "协理员人数",
            "网格员",
            "网格员人数",
            "网格员数",
            "专职网格员",
            "网格综合协理员",
            "coordinator",
        ),
        "households": ("户数", "住户数", "总户数", "网格户数", "常住户数", "居民户数", "hh"),
        "population": ("常住人口", "人口", "人口数"),
    },
    "households": {
        "households": (
            "户数",
            "住户数",
            "总户数",
            "户数合计",
            "居民户数",
            "常住户数",
            "hh",
            "count",
        ),
        "population": ("人口", "常住人口", "人数", "人口数", "pop"),
        "building_id": ("楼栋编码", "楼栋", "楼栋号", "楼栋编号", "建筑编码", "建筑id", "bldg_id"),
        "name": ("小区名称", "名称", "小区", "楼栋名称"),
    },
    "facilities": {
        "facility_type": (
            "类型",
            "设施类型",
            "设施类别",
            "类别",
            "分类",
            "种类",
            "type",
            "category",
            "kind",
        ),
        "name": ("名称", "设施名称", "poi名称", "title"),
        # 建筑面积 (gross) and 使用面积 (usable) are different measures: two columns, and a rule
        # names the one it uses (gridmap.rules.AREA_MEASURES)
        "floor_area_m2": ("建筑面积", "面积", "用房面积", "floor_area", "area_m2"),
        "usable_area_m2": ("使用面积", "套内使用面积", "usable_area"),
    },
    "network": {
        "name": ("道路名称", "名称", "路名"),
    },
}

#: floor-area measures a rule may name — 建筑面积 (gross) or 使用面积 (usable) — and the column of
#: each (on facilities, per rule ``{column}:{rule id}`` in the metrics, or the community attribute)
AREA_MEASURES: dict[str, str] = {"gross": "floor_area_m2", "usable": "usable_area_m2"}

#: columns a layer cannot do without
REQUIRED: dict[str, tuple[str, ...]] = {
    "communities": ("community_id",),
    "grids": ("grid_id",),
    "households": ("households",),
    "facilities": ("facility_type",),
    "network": (),
}

#: The largest believable count per record, by layer kind and canonical column. A larger value is a
#: typing or export error (1e12 households in one building), never data: it is reported with file,
#: layer, column and row and treated as missing ("not assessed"), never summed. Chosen with a wide
#: margin above the largest real units: a 30-storey tower of 4 units per floor per entrance holds
#: a few hundred households, the largest 小区 a few thousand; a 网格 is sized at 300–500 户 and even the
#: largest 社区 stays far below 100,000 户.
PLAUSIBLE_MAX: dict[str, dict[str, int]] = {
    "households": {"households": 10_000},  # per building / 小区 record
    "grids": {"households": 100_000},  # per grid (the grid attribute 户数)
    "communities": {"households": 100_000},  # per community (the community attribute 户数)
}
#: the reason :func:`clean_counts` gives for a value above ``maximum``
IMPLAUSIBLE = "超出合理上限"

COUNT_COLUMNS = frozenset(
    {
        "households",
        "population",
        "staff",
        "coordinators",
        "volunteers",
        "social_orgs",
        "books",
        "periodicals",
        "resident_meetings",
        "social_workers",
        "party_committee",
        "party_workers",
        "committee_members",
        "station_staff",
        "peace_office_staff",
        "labour_security_staff",
        "unemployed",
        "enterprise_retirees",
        "assistance_staff",
        "hardship_households",
        "temporary_residents",
        "temporary_resident_staff",
        "floating_population",
        "floating_population_staff",
        "family_planning_vice_chairs",
    }
)
RATE_COLUMNS = frozenset(
    {
        "health_record_rate",
        "security_rate",
        "satisfaction_rate",
        "safety_satisfaction_rate",
        "mediation_rate",
        "mediation_success_rate",
        "party_volunteer_rate",
        "green_coverage_rate",
    }
)
NUMBER_COLUMNS = frozenset(
    {
        "floor_area_m2",
        "usable_area_m2",
        "management_floor_area_m2",
        "sports_area_per_capita",
        "outdoor_area_m2",
        "activity_floor_area_m2",
        "funding_10k_yuan",
        "party_funding_10k_yuan",
    }
)
FLAG_COLUMNS = frozenset({"sparse", "old_estate"})

#: community type (社区类型) -> the values that mean it; the rules select 城市 or 农村 thresholds
COMMUNITY_TYPES: dict[str, tuple[str, ...]] = {
    "城市": ("城市", "城市社区", "城镇", "城镇社区", "城区", "社区", "urban", "city", "town"),
    "农村": ("农村", "农村社区", "乡村", "村", "村庄", "rural", "village"),
}
