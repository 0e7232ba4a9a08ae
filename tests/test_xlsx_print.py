"""The Excel report read back (issues #14, #15): print setup on every sheet, human values.

Landscape A4, one page wide, header row repeated, footer with study, profile, date and
page x/y; codes stored as text with Excel's warning switched off; shares as percentages,
是/否, Chinese headers (no ``covered:rule.id``), no English codes in cells.
"""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pytest

from gridmap import report


@pytest.fixture(scope="module")
def xlsx(tmp_path_factory, demo_result):
    path = tmp_path_factory.mktemp("xlsx") / "检查报告.xlsx"
    return report.write_report(demo_result, path, date="2026-11-29")


@pytest.fixture(scope="module")
def book(xlsx):
    return openpyxl.load_workbook(xlsx)


def test_every_sheet_prints_landscape_a4_one_page_wide(book, demo_result):
    assert book.sheetnames[:4] == ["汇总", "社区", "网格", "问题清单"]
    for ws in book.worksheets:
        setup = ws.page_setup
        assert setup.orientation == "landscape" and str(setup.paperSize) == "9", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        # fitToWidth 1 is the default, so written as no attribute (None)
        assert setup.fitToWidth in (1, None) and setup.fitToHeight == 0, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        footer = ws.oddFooter
        assert demo_result.study.name in footer.left.text and "2026-11-29" in footer.left.text
        assert demo_result.profile.id in footer.left.text
        assert "&P" in footer.right.text and "&N" in footer.right.text
        assert ws.oddHeader.center.text.endswith("&A")
    assert book["社区"].print_title_cols == "$A:$B"


def test_codes_are_text_and_excel_is_told_so(xlsx, book):
    ids = [c.value for c in book["社区"]["A"][1:]]
    assert ids and all(isinstance(v, str) and v.isdigit() for v in ids)
    with zipfile.ZipFile(xlsx) as z:
        sheets = [n for n in z.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
        for name in sheets:
            xml = z.read(name).decode()
            assert '<ignoredError sqref="A1:' in xml and 'numberStoredAsText="1"' in xml, name


def _table(ws):
    rows = list(ws.iter_rows())
    return [c.value for c in rows[0]], rows[1:]


def test_headers_are_chinese_everywhere(book):
    for ws in book.worksheets:
        head, _ = _table(ws)
        for h in head:
            if h is None:
                continue
            assert not re.search(r"(covered|coverage|uncovered)[:_]|\w+\.\w+\.\w+", str(h)), (
                f"{ws.title}: {h}"
            )
            assert re.search(r"[\u4e00-\u9fff]", str(h)), f"{ws.title}: header {h!r} not Chinese"


def test_values_are_what_a_planner_reads(book):
    for ws in book.worksheets:
        for row in ws.iter_rows(min_row=2, values_only=True):
            for v in row:
                assert v not in ("True", "False", "layer", "attribute", "none"), ws.title
                assert not isinstance(v, bool), f"{ws.title}: boolean cell"
    head, rows = _table(book["社区"])
    sparse = head.index("居民分散")
    assert {r[sparse].value for r in rows} <= {"是", "否", None}
    share = next(j for j, h in enumerate(head) if str(h).startswith("覆盖率:"))
    assert all(r[share].number_format == "0.0%" for r in rows if r[share].value is not None)
    head, rows = _table(book["网格"])
    assert {r[head.index("户数来源")].value for r in rows} <= {"住户图层汇总", "网格属性", "无"}
    assert rows[0][head.index("位于所在社区比例")].number_format == "0.0%"


def test_shares_beside_a_percent_threshold_are_percentages(book):
    head, rows = _table(book["问题清单"])
    value, threshold = head.index("实测值"), head.index("标准")
    pct = [r for r in rows if "%" in str(r[threshold].value) and r[value].value is not None]
    other = [r for r in rows if "%" not in str(r[threshold].value) and r[value].value is not None]
    assert pct and other
    assert all(r[value].number_format == "0.0%" for r in pct)
    assert not any(r[value].number_format == "0.0%" for r in other)
    head, rows = _table(book["覆盖"])
    assert rows[0][head.index("要求覆盖率")].number_format == "0.0%"


def test_findings_export_prints_too(demo_result, tmp_path):
    path = tmp_path / "问题清单.xlsx"
    path.write_bytes(report.findings_xlsx(demo_result))
    ws = openpyxl.load_workbook(path)["问题清单"]
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1"
