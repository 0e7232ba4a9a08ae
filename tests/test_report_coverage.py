"""Reports of a study with facilities and no street network: no crash, and the straight-line bound of
every walking coverage rule is shown as in findings.csv (PDF, XLSX and HTML)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import openpyxl
import pandas as pd
import pytest

from gridmap import datasets
from gridmap.cli import main

DATE = "2026-11-29"


def _config(tmp_path, profile: str):
    """The demo workspace's gridmap.toml with the network layer removed."""
    gpkg = str(datasets.get_path("demo")).replace("\\", "/")
    lines = [
        line
        for line in datasets.demo_config_toml(gpkg).splitlines()
        if not line.startswith("network =")
    ]
    text = "\n".join(lines).replace('profile = "national"', f'profile = "{profile}"') + "\n"
    assert "街道网" not in text and f'profile = "{profile}"' in text
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``gridmap check --out`` and ``gridmap report --out`` (HTML, XLSX) on the demo without a network."""
    tmp = tmp_path_factory.mktemp("nonet")
    cfg = _config(tmp, "gb50180-2018")
    assert main(["check", str(cfg), "--out", str(tmp / "check")]) == 0
    for name in ("report.xlsx", "report.html"):
        assert main(["report", str(cfg), "--out", str(tmp / "report" / name), "--date", DATE]) == 0
    findings = pd.read_csv(tmp / "check" / "findings.csv", dtype={"unit_id": str})
    summary = json.loads((tmp / "check" / "summary.json").read_text(encoding="utf-8"))
    return tmp, findings, summary


def _coverage_rules(summary):
    return [rid for rid, s in summary["coverage"].items() if s["bound"] == "straight_line_upper"]


def test_check_without_network_decides_walking_rules_by_the_bound(run):
    _, f, summary = run
    rules = _coverage_rules(summary)
    assert (
        len(rules) == 13
    )  # the national 10-minute station rule + 12 life-circle rules, all walking
    cov = f[f["rule_id"].isin(rules)]
    assert set(cov["status"]) == {"fail", "not_assessed"} and cov["value"].notna().all()
    na = cov[cov["status"] == "not_assessed"]
    assert (
        na["message"]
        .str.match(r"^未评估：无路网；直线距离上限 \d+(\.\d+)?%（步行覆盖率不会更高）$")
        .all()
    )
    assert na["gap"].isna().all()
    fail = cov[cov["status"] == "fail"]
    assert fail["message"].str.contains("直线距离上限").all() and (fail["gap"] > 0).all()
    for rid in rules:  # summary counts = findings
        assert summary["rules"][rid] == f[f["rule_id"] == rid]["status"].value_counts().to_dict()
        s = summary["coverage"][rid]
        assert s["covered"] is None and s["share"] is None and 0 <= s["share_bound"] <= 1


def test_xlsx_matches_findings(run):
    tmp, f, summary = run
    wb = openpyxl.load_workbook(tmp / "report" / "report.xlsx")
    rows = list(wb["覆盖"].values)
    t = pd.DataFrame(rows[1:], columns=rows[0]).set_index("覆盖指标")
    for rid in _coverage_rules(summary):
        vc = f[f["rule_id"] == rid]["status"].value_counts()
        s = summary["coverage"][rid]
        r = t.loc[rid]
        assert r["口径"] == "直线距离上限（无路网）"
        assert (
            r["覆盖率"] == pytest.approx(s["share_bound"]) and r["覆盖户数"] == s["covered_bound"]
        )
        assert r["未覆盖户数"] == s["households"] - s["covered_bound"]
        assert (r["合规单位"], r["不合规单位"], r["未评估单位"]) == (
            vc.get("pass", 0),
            vc.get("fail", 0),
            vc.get("not_assessed", 0),
        )
    rows = list(wb["问题清单"].values)
    sheet = pd.DataFrame(rows[1:], columns=rows[0])
    sheet = (
        sheet[sheet["规则编号"].isin(_coverage_rules(summary))]
        .set_index(["规则编号", "单位编码"])
        .sort_index()
    )
    mine = (
        f[f["rule_id"].isin(_coverage_rules(summary))]
        .set_index(["rule_id", "unit_id"])
        .sort_index()
    )
    assert len(sheet) == len(mine)
    assert sheet["实测值"].astype(float).round(9).tolist() == mine["value"].round(9).tolist()
    assert sheet["说明"].tolist() == mine["message"].tolist()
    assert (
        sheet["状态"].map({"不合规": "fail", "未评估": "not_assessed"}).tolist()
        == mine["status"].tolist()
    )
    community = list(wb["社区覆盖"].values)[0]
    assert any(str(c).startswith("覆盖率上限(直线):") for c in community)


def test_html_matches_findings(run):
    tmp, f, summary = run
    text = (tmp / "report" / "report.html").read_text(encoding="utf-8")
    data = json.loads(
        re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S).group(1)
    )
    rules = _coverage_rules(summary)
    fails = f[(f["status"] == "fail") & f["rule_id"].isin(rules)]
    shown = {(r[1], r[4]) for r in data["findings"]}
    assert {(u, m) for u, m in zip(fails["unit_id"], fails["message"], strict=True)} <= shown
    rows = {r[0] + r[2]: r for r in data["coverage"]["rows"]}
    assert len(data["coverage"]["rows"]) == len(rules) and "上限" in data["coverage"]["note"]
    from gridmap.facilities import type_label

    for rid in rules:
        s = summary["coverage"][rid]
        vc = f[f["rule_id"] == rid]["status"].value_counts()
        r = rows[type_label(s["facility_type"]) + f"{s['radius_m']:,.0f}"]
        assert r[3] == "直线距离上限（无路网）" and r[6] == f"≤{s['share_bound']:.1%}"
        assert r[5] == f"≥{s['households'] - s['covered_bound']:,}"
        assert r[7] == f"{vc.get('pass', 0)} / {vc.get('fail', 0)} / {vc.get('not_assessed', 0)}"


@pytest.mark.slow
def test_pdf_matches_findings(run):
    tmp, f, summary = run
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext not installed (Debian: poppler-utils)")
    assert (
        main(
            [
                "report",
                str(tmp / "gridmap.toml"),
                "--out",
                str(tmp / "report" / "report.pdf"),
                "--date",
                DATE,
            ]
        )
        == 0
    )
    text = subprocess.run(
        [pdftotext, "-layout", str(tmp / "report" / "report.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    table = text[text.index("服务设施覆盖") :]
    assert "无路网时，按步行距离的指标以直线距离估计" in table
    lines = [line.split() for line in table.splitlines() if "直线上限" in line]
    assert len(lines) == len(_coverage_rules(summary))
    for rid, cells in zip(_coverage_rules(summary), lines, strict=True):
        s = summary["coverage"][rid]
        vc = f[f["rule_id"] == rid]["status"].value_counts()
        assert cells[-5:] == [
            f"≥{s['households'] - s['covered_bound']:,}",
            f"≤{s['share_bound']:.1%}",
            str(vc.get("fail", 0)),
            "/",
            str(vc.get("not_assessed", 0)),
        ]
    # the violation tables quote the findings' messages and show the value as an upper bound
    plain = subprocess.run(
        [pdftotext, str(tmp / "report" / "report.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = re.sub(r"\s+", "", plain)  # a wrapped table cell is one block without -layout
    one = (
        f[(f["status"] == "fail") & (f["rule_id"] == "community.life_circle.kindergarten")]
        .sort_values("gap")
        .iloc[-1]
    )
    assert re.sub(r"\s+", "", one["message"]) in flat
    assert f"≤{one['value']:.1%}" in text


def test_report_national_profile_without_network(tmp_path):
    """The crash of the issue: the default profile (a walking 10-minute rule), facilities, no network."""
    cfg = _config(tmp_path, "national")
    assert main(["report", str(cfg), "--out", str(tmp_path / "r.xlsx")]) == 0
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    rows = list(wb["覆盖"].values)
    t = dict(zip(rows[0], rows[1], strict=True))
    assert (
        t["覆盖指标"] == "community.coverage.service_station"
        and t["口径"] == "直线距离上限（无路网）"
    )
    assert 0 < t["覆盖率"] <= 1 and t["不合规单位"] + t["未评估单位"] == 30


@pytest.mark.slow
def test_html_coverage_table_in_headless_chromium(run):
    tmp, _, summary = run
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((tmp / "report" / "report.html").as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=10_000)
            assert page.locator("#covrows tr").count() == len(_coverage_rules(summary))
            assert (
                page.locator("#covbox").is_visible()
                and "上限" in page.locator("#covnote").inner_text()
            )
        finally:
            browser.close()
    assert not errors, errors


def test_exported_gap_layers_hold_at_least_k_buildings(tmp_path, demo_study):
    """``gridmap export``: no gap cell count from fewer than 3 buildings unless --household-level."""
    import geopandas as gpd

    import gridmap
    from gridmap.coverage import MIN_BUILDINGS, records_behind
    from gridmap.maps import coverage_gaps

    gpkg = str(datasets.get_path("demo")).replace("\\", "/")
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(datasets.demo_config_toml(gpkg), encoding="utf-8")
    res = gridmap.check(demo_study, coverage={"household_level": True})
    cov = res.coverage_result
    specs = list(coverage_gaps(res))
    short = {}
    for flag, out in (([], "private.gpkg"), (["--household-level"], "raw.gpkg")):
        assert main(["export", str(cfg), "--out", str(tmp_path / out), *flag]) == 0
        short[out] = 0
        for i, sid in enumerate(specs, start=1):
            layer = gpd.read_file(tmp_path / out, layer=f"gap_coverage_{i}")
            for col, name in (("households", "户数"), (f"uncovered:{sid}", "未覆盖户")):
                support = records_behind(layer, cov.households, cov.xy, col)
                short[out] += int(((layer[name] > 0) & (support < MIN_BUILDINGS)).sum())
    assert short["private.gpkg"] == 0 and short["raw.gpkg"] > 0
