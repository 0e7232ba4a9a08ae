"""The dashboard's export buttons, without a browser: map PNG/PDF and findings XLSX (fast)."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from dashboards.exports import export_filename, findings_export, map_export, map_family
from dashboards.provider import DashboardProvider

DAY = dt.date(2026, 11, 23)
HEADER = [
    "层级",
    "单位编码",
    "单位名称",
    "规则编号",
    "规则",
    "实测值",
    "标准",
    "状态",
    "差距",
    "说明",
    "性质",
    "依据",
]


@pytest.fixture(scope="module")
def provider() -> DashboardProvider:
    return DashboardProvider.from_config(None)


def test_filenames_are_chinese_with_study_and_date():
    assert export_filename("合规地图", "示范区", "png", DAY) == "合规地图_示范区_2026-11-23.png"
    assert (
        export_filename("问题清单", 'a/b:c "d"', "xlsx", DAY) == "问题清单_a_b_c_d_2026-11-23.xlsx"
    )
    assert export_filename("合规地图", "", "pdf", DAY) == "合规地图_study_2026-11-23.pdf"


def test_map_family_follows_the_colouring(provider):
    assert map_family(provider, "community", "status") == "overview"
    assert map_family(provider, "grid", "status") == "overview"
    assert map_family(provider, "community", "metric:households") == "overview"
    assert (
        map_family(provider, "community", "rule:community.size") == "community.size"
    )  # failing: has a map
    assert map_family(provider, "grid", "rule:grid.coordinators") == "grid.coordinators"
    assert (
        map_family(provider, "community", "rule:community.books") == "overview"
    )  # not assessed: no map
    assert map_family(provider, "community", "rule:no.such.rule") == "overview"
    assert map_family(provider, "community", None) == "overview"


@pytest.mark.parametrize(
    ("level", "mode"), [("community", "status"), ("grid", "rule:grid.coordinators")]
)
def test_map_png(provider, level, mode):
    data, name = map_export(provider, level, mode, None, "png", date=DAY, dpi=60)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert name == f"合规地图_{provider.study.name}_2026-11-23.png"


def test_map_pdf(provider):
    data, name = map_export(
        provider, "community", "rule:community.size", "national", "pdf", date=DAY
    )
    assert data[:5] == b"%PDF-" and data.rstrip().endswith(b"%%EOF")
    assert name.endswith("_2026-11-23.pdf")
    with pytest.raises(ValueError, match="fmt"):
        map_export(provider, "community", "status", None, "svg")


def _sheet(data: bytes):
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["问题清单"]
    return wb["问题清单"]


def test_findings_xlsx_all(provider):
    data, name = findings_export(provider, None, date=DAY)
    assert name == f"问题清单_{provider.study.name}_2026-11-23.xlsx"
    ws = _sheet(data)
    assert [c.value for c in ws[1]] == HEADER
    assert ws.max_row - 1 == len(provider.result().findings)


def test_findings_xlsx_follows_the_filter(provider):
    f = provider.findings()
    expected = f[(f["status"] == "fail") & (f["level"] == "grid")]
    ws = _sheet(findings_export(provider, None, status="fail", level="grid", date=DAY)[0])
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(expected) > 0
    assert {r[0] for r in rows} == {"网格"} and {r[7] for r in rows} == {"不合规"}
    # a search typed in English selects the same units; the workbook stays in Chinese
    uid = str(expected["unit_id"].iloc[0])
    ws = _sheet(findings_export(provider, None, search=uid, status="all", lang="en", date=DAY)[0])
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows and all(uid in str(r[1]) or uid in str(r[9]) for r in rows)
    assert [c.value for c in ws[1]] == HEADER


def test_export_callbacks_are_wired(provider):
    from dashboards import create_app
    from dashboards.ids import ID

    app = create_app(provider)
    outputs = " ".join(app.callback_map)
    assert f"{ID.CM_DOWNLOAD}.data" in outputs and f"{ID.FT_DOWNLOAD}.data" in outputs
