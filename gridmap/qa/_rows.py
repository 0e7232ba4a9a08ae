"""The findings rows every QA check returns, and the sources they cite."""

from __future__ import annotations

from typing import Any

import pandas as pd
from geopandas import GeoDataFrame

from gridmap.rules import FINDING_COLUMNS

#: the source of findings that are gridmap's own data checks
QA_SOURCE = "gridmap 数据质检 (data QA)"
#: grid codes: 12-digit community code + 3-digit sequence
CODE_SOURCE = "CJ/T 349-2010 数字社区 网格划分与编码规则：网格编码 = 12位社区编码 + 3位顺序码"
#: grids of one layer do not overlap: they are polygons with their topology built
GRID_TOPOLOGY_SOURCE = (
    "CJ/T 349-2010 数字社区管理与服务 网格划分与编码规则 6.1.1："
    "网格的几何类型为多边形，并应建立拓扑关系（网格之间不重叠）"
)


def finding_rows(
    level: str,
    unit_id: Any,
    unit_name: Any,
    rule_id: str,
    value: Any,
    threshold: str,
    gap: Any,
    message: Any,
    *,
    source: str = QA_SOURCE,
    title: str = "",
) -> pd.DataFrame:
    """Findings rows (status ``fail``, severity ``warning``) for the units ``unit_id``."""
    n = len(unit_id)
    return pd.DataFrame(
        {
            "level": level,
            "unit_id": list(map(str, unit_id)),
            "unit_name": list(map(str, unit_name)),
            "rule_id": rule_id,
            "value": value,
            "threshold": threshold,
            "status": "fail",
            "gap": gap,
            "message": message,
            "source": source,
            "severity": "warning",
            "rule_title": title,
        },
        index=range(n),
    )[FINDING_COLUMNS]


def unit_names(units: GeoDataFrame) -> pd.Series:
    """The units' ``name`` column as text, else their ids."""
    return (units["name"] if "name" in units.columns else units.index.to_series()).astype(str)
