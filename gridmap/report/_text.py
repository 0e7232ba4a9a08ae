"""The words and number formats of the reports: Chinese names of columns, levels and statuses.

Status names come from :mod:`gridmap.labels`, the one vocabulary of every output.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import pandas as pd

from gridmap.labels import STATUS_ORDER, status_label, text_width

#: statuses in Chinese (findings and units)
STATUS_ZH = {s: status_label(s) for s in STATUS_ORDER}
NOT_ASSESSED_ZH = STATUS_ZH["not_assessed"]
#: size statuses of a community in Chinese
SIZE_ZH = {
    "pass": "达标",
    "too_small": "过小",
    "too_large": "过大",
    "not_assessed": NOT_ASSESSED_ZH,
}
SEVERITY_ZH = {"error": "强制", "warning": "建议", "info": "提示"}
LEVEL_ZH = {"community": "社区", "grid": "网格", "study": "全区", "facility": "设施"}
COMMUNITY_ZH = {
    "community_id": "社区编码",
    "name": "社区名称",
    "street": "街道",
    "households": "户数",
    "grids": "网格数",
    "coordinators": "协理员人数",
    "coordinators_required": "应配协理员",
    "status": "综合状态",
    "size_status": "规模状态",
    "sparse": "居民分散",
    "old_estate": "老旧小区",
    "population": "常住人口",
    "staff": "专职工作人员",
    "volunteers": "注册志愿者",
    "area_km2": "面积(km²)",
    "facility_types": "已有设施类型",
    "facilities": "设施数",
}
GRID_ZH = {
    "grid_id": "网格编码",
    "name": "网格名称",
    "community_id": "所在社区编码",
    "community_attr": "所属社区(属性)",
    "households": "户数",
    "households_source": "户数来源",
    "coordinators": "协理员人数",
    "coordinators_required": "应配协理员",
    "status": "综合状态",
    "area_km2": "面积(km²)",
    "share_in_community": "位于所在社区比例",
    "second_community": "跨入社区",
    "second_share": "跨入比例",
}
FINDING_ZH = {
    "level": "层级",
    "unit_id": "单位编码",
    "unit_name": "单位名称",
    "rule_id": "规则编号",
    "rule_title": "规则",
    "value": "实测值",
    "threshold": "标准",
    "status": "状态",
    "gap": "差距",
    "message": "说明",
    "severity": "性质",
    "source": "依据",
}


def status_zh(s: pd.Series) -> pd.Series:
    """Statuses as Chinese names (unknown values unchanged)."""
    return s.map(lambda v: STATUS_ZH.get(v, v))


def date_text(date: _dt.date | str | None) -> str:
    """``2026-11-23``: a date as given, or today."""
    if date is None:
        return _dt.date.today().isoformat()
    return date if isinstance(date, str) else date.isoformat()


def wrap(text: str, width: float) -> list[str]:
    """Lines of at most ``width`` CJK characters (a Latin character counts 0.55)."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        line, w = "", 0.0
        for ch in para:
            cw = text_width(ch, 1.0, 0.55)
            if w + cw > width and line:
                lines.append(line)
                line, w = "", 0.0
            line += ch
            w += cw
        lines.append(line)
    return lines or [""]


def num(x: Any, digits: int = 0) -> str:
    """``1,234`` or ``1,234.5``: blank for missing, whole numbers without decimals."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return ""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if digits == 0 or abs(x - round(x)) < 1e-9:
        return f"{round(x):,}"
    return f"{x:,.{digits}f}"


def value_text(row: Any, *, upper: bool = False) -> str:
    """A finding's value as text; ``upper``: the value is an upper bound (``≤62.1%``)."""
    v, threshold = row.value, row.threshold
    if threshold and "%" in str(threshold) and isinstance(v, float) and not math.isnan(v):
        return ("≤" if upper else "") + f"{v:.1%}"
    return num(v, 1)


#: input-data problem codes (:class:`gridmap.Problem`) as the 问题类型 a planner reads
QA_CODE_ZH = {
    "value.households": "户数值无法使用",
    "value.households.none": "没有可用的户数值",
    "network.components": "路网有互不连通的部分",
    "network.gaps": "路网疑似未接上的路口",
    "network.gaps_closed": "路网缺口已自动接上",
    "network.noded": "路网交叉处已自动打断",
    "geometry.repaired": "几何已自动修复",
    "geometry.empty": "空几何",
    "geometry.missing": "缺少几何",
    "geometry.type": "几何类型不符",
    "geometry.unclosed": "面未闭合",
    "geometry.unreadable": "几何无法读取",
    "crs.converted": "坐标系已转换",
    "crs.reprojected": "坐标已投影到计算坐标系",
    "crs.metric": "计算坐标系",
    "crs.missing": "缺少坐标系",
    "crs.conflict": "坐标系冲突",
    "crs.no_overlap": "图层位置不重叠",
    "crs.not_true_scale": "坐标系非真实比例",
    "coordinates.invalid": "坐标无效",
    "coordinates.out_of_range": "坐标超出范围",
    "coordinates.swapped": "经纬度疑似颠倒",
    "coordinates.incomplete": "坐标不完整",
    "coordinates.ambiguous": "坐标列不明确",
    "coordinates.not_lonlat": "坐标不是经纬度",
    "coordinates.unexpected": "坐标异常",
    "facility.unknown_type": "设施类型无法识别",
    "id.duplicate": "编码重复",
    "id.missing": "缺少编码",
    "layer.empty": "图层为空",
    "layer.conflict": "图层冲突",
    "column.missing": "缺少数据列",
    "mapping.column_missing": "对应的数据列不存在",
    "encoding.mismatch": "文字编码不一致",
}
_QA_FAMILY_ZH = {
    "value": "数值无法使用",
    "network": "路网问题",
    "geometry": "几何问题",
    "crs": "坐标系问题",
    "coordinates": "坐标问题",
    "facility": "设施问题",
    "id": "编码问题",
    "layer": "图层问题",
    "column": "数据列问题",
    "mapping": "列对应问题",
    "encoding": "文字编码问题",
}


def qa_code_text(code: str) -> str:
    """The 问题类型 of an input-data problem code, in Chinese (never the raw code).

    >>> qa_code_text("value.households"), qa_code_text("network.somethingnew")
    ('户数值无法使用', '路网问题')
    """
    if code in QA_CODE_ZH:
        return QA_CODE_ZH[code]
    return _QA_FAMILY_ZH.get(code.split(".", 1)[0], "输入数据问题")
