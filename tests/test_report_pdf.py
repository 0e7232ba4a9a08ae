"""The PDF a planner hands in: nothing outside the page, bookmarks, metadata, the study's name.

One report of the demo, written by the command line with ``--title``, read back with
poppler (``pdftotext -bbox``) and pypdf.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import gridmap
from gridmap import datasets, maps, report
from gridmap.cli import main

DATE = "2026-11-23"
TITLE = "苏州工业园区（测试）"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian: poppler-utils)")
    return path


@pytest.fixture(scope="module")
def cli_pdf(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pdf")
    config = tmp / "gridmap.toml"
    config.write_text(
        datasets.demo_config_toml(str(datasets.get_path("demo")).replace("\\", "/")),
        encoding="utf-8",
    )
    out = tmp / "报告.pdf"
    assert main(["report", str(config), "--out", str(out), "--date", DATE, "--title", TITLE]) == 0
    return out


def _words(path):
    """``(page, width, height, [(xMin, yMin, xMax, yMax, text)])`` per page, from pdftotext -bbox."""
    xml = subprocess.run(
        [_need("pdftotext"), "-bbox", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for m in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', xml, re.S):
        words = [
            (float(a), float(b), float(c), float(d), t)
            for a, b, c, d, t in re.findall(
                r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>',
                m.group(3),
            )
        ]
        pages.append((float(m.group(1)), float(m.group(2)), words))
    return pages


def test_every_text_box_inside_the_page(cli_pdf):
    pages = _words(cli_pdf)
    assert len(pages) > 10 and sum(len(w) for _, _, w in pages) > 500
    outside = [
        (i + 1, t, round(x1, 1), round(y1, 1))
        for i, (w, h, words) in enumerate(pages)
        for x0, y0, x1, y1, t in words
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h
    ]
    assert outside == []


def test_long_headings_are_shrunk_to_the_page(tmp_path):
    """The heading that ran off page 17 (a long rule title) now fits at a smaller size."""
    from matplotlib.backends.backend_pdf import PdfPages

    from gridmap.report._layout import Pages, section_title

    path = tmp_path / "t.pdf"
    with maps.style(), PdfPages(path) as pdf:
        pages = Pages(pdf, "页眉" * 60, DATE)
        fig = pages.new()
        section_title(fig, "问题清单：" + "十分钟生活圈：住户步行约500米内有社区服务站" * 3)
        pages.save(fig)
    ((w, h, words),) = _words(path)
    assert words and all(0 <= x0 and x1 <= w and 0 <= y0 and y1 <= h for x0, y0, x1, y1, _ in words)


def test_bookmarks_one_per_section(cli_pdf, demo_result):
    from pypdf import PdfReader

    r = PdfReader(cli_pdf)
    marks = [(o.title, r.get_destination_page_number(o)) for o in r.outline]
    titles = [t for t, _ in marks]
    pages = [p for _, p in marks]
    assert pages == sorted(pages) and pages[0] == 0 and len(set(pages)) == len(pages)
    assert "一、检查结果概要" in titles and "数据质量问题" in titles
    for family in maps.map_families(demo_result):
        assert maps.family_title(demo_result, family) in titles
    assert any(t.startswith("问题清单：") for t in titles)
    assert r.trailer["/Root"]["/PageMode"] == "/UseOutlines"


def test_metadata_and_title_on_cover_and_headers(cli_pdf):
    from pypdf import PdfReader

    meta = PdfReader(cli_pdf).metadata
    assert meta.title == f"{TITLE} 社区网格合规检查报告"
    assert meta.author.startswith("gridmap") and TITLE in meta.subject
    pages = _words(cli_pdf)
    cover = "".join(t for *_, t in pages[0][2])
    assert TITLE in cover
    header = "".join(t for x0, y0, x1, y1, t in pages[1][2] if y1 < 40)
    assert header.startswith(TITLE) and not header.startswith("gridmap")


def test_study_name_from_the_config_names_the_html_report(tmp_path):
    config = tmp_path / "gridmap.toml"
    toml = datasets.demo_config_toml(str(datasets.get_path("demo")).replace("\\", "/"))
    config.write_text(
        toml.replace('name = "示范区（合成数据）"', 'name = "金鸡湖街道"'), encoding="utf-8"
    )
    res = gridmap.check(gridmap.read_study(**gridmap.load_config(config)))
    text = report.report_html_text(res, date=DATE)
    assert "<title>金鸡湖街道 · " in text and '"title":"金鸡湖街道"' in text


def test_pdf_speaks_the_planners_language(cli_pdf, demo_result):
    """No machine codes or raw values where a planner reads sentences (issue: QA codes, False)."""
    text = subprocess.run(
        [_need("pdftotext"), str(cli_pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", text)
    codes = {p.code for p in demo_result.problems if p.severity in ("warning", "error")}
    assert codes and not [c for c in codes if c in flat]
    assert "输入数据：户数值无法使用" in flat and "输入数据：路网有互不连通的部分" in flat
    for raw in ("False", "True", "nan", "None", "按社区服务站的（"):
        assert raw not in flat, raw
    assert "按社区服务站步行距离500米的服务半径统计" in flat
    assert "community.health_records" not in flat  # the rules left unassessed, by title
