"""The report's 预测 section (issue 18): the first year of each violation in the PDF, HTML and XLSX."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from pypdf import PdfReader

from gridmap import datasets
from gridmap.change import project, read_projects
from gridmap.cli.main import main
from gridmap.report import report_html_text, report_pdf, report_xlsx_bytes, write_report

BASE = 2025
PROJECTS = f"{datasets.get_path('demo')}:在建项目"


@pytest.fixture(scope="module")
def projection(demo_study, demo_result):
    return project(
        demo_study,
        read_projects(PROJECTS),
        "2025-2028",
        base_year=BASE,
        profile=demo_result.profile,
    )


def test_xlsx_has_the_years_and_the_first_year_of_each_violation(demo_result, projection):
    sheets = pd.read_excel(
        io.BytesIO(report_xlsx_bytes(demo_result, forecast=projection)),
        sheet_name=None,
        dtype={"单元编码": str},
    )
    assert {"预测概况", "预测"} <= set(sheets)
    years = sheets["预测概况"]
    assert years["年份"].tolist() == [2025, 2026, 2027, 2028]
    assert (
        years["住户总数"].is_monotonic_increasing
        and years["住户总数"].iloc[-1] > years["住户总数"].iloc[0]
    )
    v = projection.violations()
    sheet = sheets["预测"]
    assert len(sheet) == len(v) > 0
    new = sheet[sheet["新增违规"] == "是"]
    assert len(new) == int(v["new"].sum()) > 0
    # new violations first, earliest first; the year is the first one the rule fails
    assert (
        sheet.index[sheet["新增违规"] == "是"].max() < sheet.index[sheet["新增违规"] != "是"].min()
    )
    assert new["首次违规年份"].is_monotonic_increasing
    expected = v[v["new"]].set_index(["unit_id", "rule_title"])["first_year"]
    got = new.set_index(["单元编码", "规则"])["首次违规年份"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert (years["新增违规"].iloc[1:].sum()) == len(new)
    # no forecast: no forecast sheets
    plain = pd.read_excel(io.BytesIO(report_xlsx_bytes(demo_result)), sheet_name=None)
    assert not {"预测概况", "预测"} & set(plain)


def _page_data(page: str) -> dict:
    """The JSON the HTML report's page is drawn from."""
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert found, "no page data"
    return json.loads(found.group(1).replace("<\\/", "</"))


def test_html_has_the_same_forecast_tables_as_the_xlsx(demo_result, projection):
    sheets = pd.read_excel(
        io.BytesIO(report_xlsx_bytes(demo_result, forecast=projection)),
        sheet_name=["预测概况", "预测"],
        dtype=str,
    )
    page = report_html_text(demo_result, forecast=projection, date="2026-11-29")
    fc = _page_data(page)["forecast"]
    assert fc["years"]["title"] == "预测：各年概况"
    assert fc["violations"]["title"] == "预测：违规首次出现年份"
    assert "基准年 2025" in fc["intro"]
    years = sheets["预测概况"]
    assert fc["years"]["head"] == list(years.columns)
    # the same numbers, written with thousands separators
    assert [[c.replace(",", "") for c in r] for r in fc["years"]["rows"]] == years.values.tolist()
    v = sheets["预测"].fillna("")
    assert fc["violations"]["head"] == list(v.columns)
    assert fc["violations"]["rows"] == v.values.tolist()  # every row, the new ones first
    assert len(fc["violations"]["rows"]) == len(projection.violations()) > 0
    assert 'id="fcbox"' in page and 'tab("fcv",F.violations)' in page
    # no projection: no forecast section
    assert _page_data(report_html_text(demo_result, date="2026-11-29"))["forecast"] is None


def test_pdf_has_the_forecast_section(demo_result, projection, tmp_path):
    out = report_pdf(demo_result, tmp_path / "r.pdf", forecast=projection, date="2026-11-29")
    reader = PdfReader(str(out))
    text = "\n".join(p.extract_text() or "" for p in reader.pages)
    assert "预测：各年概况" in text and "预测：违规首次出现年份" in text
    first_new = projection.violations().query("new").iloc[0]
    assert str(first_new["unit_id"]) in text
    outline = [str(o.title) for o in reader.outline if hasattr(o, "title")]
    assert any("预测" in t for t in outline)


def test_cli_report_with_projects(tmp_path, capsys):
    config = tmp_path / "gridmap.toml"
    text = datasets.demo_config_toml(str(datasets.get_path("demo")).replace("\\", "/"))
    config.write_text(text.replace("\nprojects = ", "\n# projects = "), encoding="utf-8")
    args = ["report", str(config), "--projects", PROJECTS, "--base-year", str(BASE)]
    assert main([*args, "--year", "2025-2026", "--out", str(tmp_path / "r.xlsx")]) == 0
    sheet = pd.read_excel(tmp_path / "r.xlsx", sheet_name="预测概况")
    assert sheet["年份"].tolist() == [2025, 2026]
    capsys.readouterr()
    plain = ["report", str(config), "--base-year", str(BASE)]
    assert main([*plain, "--year", "2026", "--out", str(tmp_path / "s.xlsx")]) == 2  # no projects
    err = capsys.readouterr().err
    assert "--year" in err and "--projects" in err and "[study] projects" in err
    assert main([*args, "--year", "2030-2020", "--out", str(tmp_path / "t.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "--year" in err and "years=" not in err
    assert not (tmp_path / "s.xlsx").exists() and not (tmp_path / "t.xlsx").exists()


def test_report_of_a_study_with_projects_has_the_forecast(tmp_path):
    """The config's ``[study] projects`` is enough: the years run until every project is full.

    The demo workspace's config names its projects; ``gridmap report`` of it writes 预测 into
    the PDF and the XLSX through the one :func:`gridmap.report.write_report` path.
    """
    config = tmp_path / "gridmap.toml"
    config.write_text(
        datasets.demo_config_toml(str(datasets.get_path("demo")).replace("\\", "/")),
        encoding="utf-8",
    )
    # the last project moves in in 2028: with a one-year ramp it is full in 2028 → 2028, 2029
    args = [
        "report",
        str(config),
        "--base-year",
        "2028",
        "--ramp-years",
        "1",
        "--date",
        "2028-01-01",
    ]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    sheet = pd.read_excel(tmp_path / "out" / "report.xlsx", sheet_name="预测概况")
    assert sheet["年份"].tolist() == [2028, 2029]
    text = "\n".join(
        p.extract_text() or "" for p in PdfReader(tmp_path / "out" / "report.pdf").pages
    )
    assert "预测：各年概况" in text
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert [r[0] for r in _page_data(page)["forecast"]["years"]["rows"]] == ["2028", "2029"]
    # without projects the same report has no forecast
    config.write_text(
        config.read_text(encoding="utf-8").replace("\nprojects = ", "\n# projects = "),
        encoding="utf-8",
    )
    assert main([*args, "--out", str(tmp_path / "plain.xlsx")]) == 0
    assert "预测概况" not in pd.read_excel(tmp_path / "plain.xlsx", sheet_name=None)


def test_write_report_passes_the_forecast(demo_result, projection, tmp_path):
    out = write_report(demo_result, tmp_path / "r.xlsx", forecast=projection)
    assert {"预测概况", "预测"} <= set(pd.read_excel(out, sheet_name=None))
    page = write_report(demo_result, tmp_path / "r.html", forecast=projection).read_text("utf-8")
    assert _page_data(page)["forecast"]["years"]["rows"][0][0] == str(BASE)
    pdf = write_report(demo_result, tmp_path / "r.pdf", forecast=projection, date="2026-11-29")
    outline = [str(o.title) for o in PdfReader(str(pdf)).outline if hasattr(o, "title")]
    assert any("预测" in t for t in outline)
