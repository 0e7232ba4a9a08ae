"""Reports: PDF pages render and embed the CJK font, XLSX/Shapefile read back, HTML works offline."""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from matplotlib.colors import to_rgba

from gridmap import datasets, fonts, maps, report
from gridmap.cli.report import add_report_parser
from gridmap.labels import STATUS_COLORS, tint
from gridmap.report.xlsx import cell_value

DATE = "2026-11-23"


@pytest.fixture(scope="module")
def result(demo_result):
    return demo_result


@pytest.fixture(scope="module")
def pdf(result, tmp_path_factory):
    return report.report_pdf(result, tmp_path_factory.mktemp("pdf") / "报告.pdf", date=DATE)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian: poppler-utils / chromium)")
    return path


def test_font_is_bundled_and_covers_demo_names(result):
    assert fonts.font_path().stat().st_size > 1_000_000
    assert (fonts.font_path().parent / "OFL.txt").read_text(encoding="utf-8").count(
        "SIL OPEN FONT LICENSE"
    ) >= 1
    names = "".join(result.communities["name"]) + "".join(result.grids["name"].astype(str))
    assert fonts.covers(names)


def test_map_families_follow_failing_rules(result):
    fams = maps.map_families(result)
    failing = set(
        result.findings.query(
            "status == 'fail' and not rule_id.str.startswith('qa.')", engine="python"
        )["rule_id"]
    )
    assert fams[0] == "overview"
    assert {f for f in fams if not f.startswith("coverage:")} - {"overview"} == failing
    with pytest.raises(ValueError, match="unknown map family"):
        maps.map_png(result, "no.such.rule")


def test_pdf_pages_render_and_font_embedded(pdf, tmp_path):
    pdftoppm, pdffonts = _need("pdftoppm"), _need("pdffonts")
    fonts_out = subprocess.run(
        [pdffonts, str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split() for line in fonts_out.splitlines()[2:]]
    cjk = [r for r in rows if "GridmapNotoSansSC" in r[0]]
    assert cjk and all(r[-5] == "yes" for r in cjk), fonts_out  # emb column
    assert all("GridmapNotoSansSC" in r[0] or "DejaVu" in r[0] for r in rows), fonts_out
    subprocess.run([pdftoppm, "-r", "30", "-png", str(pdf), str(tmp_path / "p")], check=True)
    from PIL import Image

    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 8
    for page in pages:
        grey = np.asarray(Image.open(page).convert("L"), dtype=float)
        inked = (grey < 200).mean()
        assert inked > 0.003, f"{page.name} looks blank ({inked:.4f} inked)"


def test_pdf_text_has_rule_citations(pdf):
    pdftotext = _need("pdftotext")
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "社区网格合规检查报告" in text and "示范区" in text
    assert "成都市城市社区建设五年发展规划" in text  # citation of community.size
    assert "保俶社区" in text and "5,589" in text


def test_xlsx_reads_back(result, tmp_path):
    path = report.report_xlsx(result, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:5] == ["汇总", "社区", "网格", "问题清单", "覆盖"]
    ws = wb["社区"]
    header = [c.value for c in ws[1]]
    assert header[:2] == ["社区编码", "社区名称"] and "户数" in header and "综合状态" in header
    assert ws.freeze_panes == "C2"
    rows = {
        r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)
    }
    assert rows["330106001010"]["户数"] == 5589 and rows["330106001010"]["综合状态"] == "不合规"
    assert len(rows) == len(result.communities)
    f = wb["问题清单"]
    fh = [c.value for c in f[1]]
    statuses = [r[fh.index("状态")] for r in f.iter_rows(min_row=2, values_only=True)]
    assert statuses.count("不合规") == int((result.findings["status"] == "fail").sum())
    assert any(
        "成都市" in (r[fh.index("依据")] or "") for r in f.iter_rows(min_row=2, values_only=True)
    )
    rules = [r.formula[0] for cf in ws.conditional_formatting for r in cf.rules]
    assert '"不合规"' in rules and '"合规"' in rules
    assert ws.column_dimensions["B"].width >= 10


def test_findings_xlsx_bytes(result):
    wb = openpyxl.load_workbook(io.BytesIO(report.findings_xlsx(result)))
    assert wb.sheetnames == ["问题清单"] and wb["问题清单"].max_row == len(result.findings) + 1


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_shapefile_reads_back_with_chinese(result, tmp_path, encoding):
    files = report.export_layers(result, tmp_path, encoding=encoding)
    shp = tmp_path / "gap_community_size.shp"
    assert shp in files
    assert (tmp_path / "gap_community_size.cpg").read_text().strip().upper() == encoding.upper()
    back = pyogrio.read_dataframe(shp, encoding=encoding)
    assert set(back["名称"]) >= {"保俶社区", "兰家湾社区"} - {"兰家湾社区"}
    row = back.set_index("编码").loc["330106001010"]
    assert row["名称"] == "保俶社区" and row["说明"].startswith("超出上限")
    assert back["名称"].iloc[0] == "保俶社区"  # largest gap first
    raw = (tmp_path / "gap_community_size.dbf").read_bytes()
    assert "保俶社区".encode(encoding) in raw
    comm = pyogrio.read_dataframe(tmp_path / "communities.shp", encoding=encoding)
    assert len(comm) == len(result.communities) and "不合规" in set(comm["状态"])


def test_gpkg_layers(result, tmp_path):
    path = report.export_layers(result, tmp_path / "gaps.gpkg")[0]
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"communities", "grids", "gap_community_size", "gap_grid_coordinators"} <= layers
    g = pyogrio.read_dataframe(path, layer="gap_grid_coordinators")
    assert len(g) == int(
        (
            (result.findings.rule_id == "grid.coordinators") & (result.findings.status == "fail")
        ).sum()
    )


def test_write_report_rejects_unknown_suffix(result, tmp_path):
    with pytest.raises(ValueError, match="unknown report format"):
        report.write_report(result, tmp_path / "r.docx")


def test_cli_report_and_export(tmp_path, capsys):
    config = tmp_path / "gridmap.toml"
    config.write_text(
        datasets.demo_config_toml(str(datasets.get_path("demo")).replace("\\", "/")),
        encoding="utf-8",
    )
    parser = argparse.ArgumentParser(prog="gridmap")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "report",
            str(config),
            "--out",
            str(tmp_path / "r.xlsx"),
            "--layers",
            str(tmp_path / "shp"),
        ]
    )
    assert args.func(args) == 0
    assert (tmp_path / "r.xlsx").exists() and (tmp_path / "shp" / "communities.shp").exists()
    args = parser.parse_args(["export", str(config), "--out", str(tmp_path / "l.gpkg")])
    assert args.func(args) == 0 and (tmp_path / "l.gpkg").exists()
    assert "r.xlsx" in capsys.readouterr().out


def test_xlsx_cells_blank_for_nan_inf_nat_and_dates_as_text():
    assert [cell_value(v) for v in (np.nan, np.inf, -np.inf, pd.NaT, pd.NA, None)] == [None] * 6
    assert (
        cell_value(np.int64(5)) == 5
        and cell_value(pd.Timestamp("2026-11-23")) == "2026-11-23 00:00:00"
    )


def test_report_with_plan_reads_the_plan_kpis(tmp_path, demo_results):
    """``report --plan``: a plan saved under one profile, reported under another, shows that profile's
    figures — the same as the plan's own KPIs, the dashboard's and the rebalancer's."""
    from gridmap.plans import Plan

    res = demo_results["national"]
    plan = Plan.from_check(res, name="方案甲")
    big = plan.communities()["households"].idxmax()
    assert plan.split(big, 2).ok
    data = report.report_xlsx_bytes(res, plan=plan)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    rows = {r[0]: r[1:] for r in wb["方案对比"].iter_rows(min_row=2, values_only=True)}
    k, b = plan.kpis(), plan.kpis(base=True)
    assert rows["户数达标社区"] == (
        f"{b['in_band']} / {b['communities']}",
        f"{k['in_band']} / {k['communities']}",
    )
    assert rows["户数过小"] == (str(b["too_small"]), str(k["too_small"]))
    assert rows["规则配置"] == ("national", "national")
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert f"调整后 {k['in_band']} / {k['communities']} 个社区" in summary["调整方案"]
    # the CLI: a plan saved under national, reported under hangzhou-2008 → hangzhou's band everywhere
    ws = tmp_path / "ws.gpkg"
    plan.save(ws)
    config = tmp_path / "gridmap.toml"
    config.write_text(
        datasets.demo_config_toml(str(datasets.get_path("demo")).replace("\\", "/")),
        encoding="utf-8",
    )
    parser = argparse.ArgumentParser(prog="gridmap")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "report",
            str(config),
            "--profile",
            "hangzhou-2008",
            "--out",
            str(tmp_path / "r.xlsx"),
            "--plan",
            f"{ws}:方案甲",
        ]
    )
    assert args.func(args) == 0
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    rows = {r[0]: r[1:] for r in wb["方案对比"].iter_rows(min_row=2, values_only=True)}
    assert (
        rows["规则配置"] == ("hangzhou-2008", "hangzhou-2008")
        and rows["户数范围"][0] == "1,500–3,000 户"
    )
    hz = demo_results["hangzhou-2008"]
    assert rows["户数过小"][0] == str(int((hz.communities["size_status"] == "too_small").sum()))


def test_size_map_uses_the_profiles_band(demo_results):
    res = demo_results["hangzhou-2008"]
    with maps.style():
        fig = maps.map_figure(res, "community.size")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "符合 1,500–3,000 户" in labels and not any("豁免" in x for x in labels)


def test_one_status_palette_in_maps_html_and_pdf(result):
    """Every output fills a status with a tint of the one colour of gridmap.labels."""
    assert maps.status_fill("fail") == tint(STATUS_COLORS["fail"])
    text = report.report_html_text(result, date=DATE)
    assert f'"fillColor": "{tint(STATUS_COLORS["fail"])}"' in text  # the map's community fill
    assert f"border-left:3px solid {STATUS_COLORS['fail']}" in text
    with maps.style():
        fig = maps.map_figure(result, "overview")
    legend = {
        t.get_text(): h.get_facecolor()
        for t, h in zip(fig.legends[0].get_texts(), fig.legends[0].legend_handles, strict=True)
        if hasattr(h, "get_facecolor")
    }
    n_fail = int((result.communities["status"] == "fail").sum())
    assert legend[f"不合规（{n_fail} 个社区）"] == to_rgba(tint(STATUS_COLORS["fail"]))


def test_findings_xlsx_header(result):
    wb = openpyxl.load_workbook(io.BytesIO(report.findings_xlsx(result)))
    assert wb["问题清单"]["H1"].value == "状态"


def test_report_figures_are_public(result):
    counts = report.rule_counts(result)
    assert list(counts.columns) == [
        "规则编号",
        "规则",
        "层级",
        "性质",
        "合规",
        "不合规",
        "未评估",
        "依据",
    ]
    labels = [label for label, _, _ in report.headline_figures(result)]
    assert labels[:3] == ["社区", "网格", "住户（户）"]
