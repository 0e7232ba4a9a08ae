"""多网合一 reconcile on the demo, as a planner opens it: the unified grid and the 不一致 sheet.

``gridmap reconcile`` writes files, not a page: ``unified.gpkg`` (the proposed grid, the gaps
and overlaps between the layers) and ``reconcile.xlsx`` (the tables for the 综治 and 民政
offices). This test runs the command of the README on the demo, draws ``unified.gpkg`` as a
map (grids coloured by what became of them, gaps and overlaps on top, community borders heavy)
beside the 不一致 and 统一网格 sheets read back from the XLSX, in real headless Chromium, checks
that the page shows exactly what the files hold, and renders the README's picture.
"""

from __future__ import annotations

import html
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap import datasets
from gridmap.change.reconcile import CHANGE_ZH as UNIFY_ZH
from gridmap.cli import main

from .helpers import SCREENSHOTS

pytestmark = pytest.mark.browser

WIDTH = 760
#: unified grid change (unified.gpkg ``change``) → fill; kept grids stay light
FILL = {
    "kept": "#eeeeee",
    "clipped": "#e69f00",
    "recoded": "#56b4e9",
    "split": "#cc79a7",
    "finer": "#009e73",
    "filled": "#0072b2",
}
GAP, OVERLAP = "#7b3294", "#d55e00"


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory) -> Path:
    gpkg = datasets.get_path("demo")
    out = tmp_path_factory.mktemp("reconcile") / "多网合一"
    args = ["reconcile", "--communities", f"{gpkg}:社区", "--households", f"{gpkg}:楼栋"]
    args += ["--grids", f"{gpkg}:网格", "--grids", f"{gpkg}:网格_城管"]
    args += ["--grids-map", "2:grid_id=城管网格编号", "--names", "民政,城管", "--out", str(out)]
    assert main(args) == 0
    return out


def _paths(geoms, to_px) -> list[str]:
    """SVG path data of polygons (every ring), in pixels."""
    out = []
    for g in geoms:
        d = []
        for poly in getattr(g, "geoms", [g]):
            for ring in [poly.exterior, *poly.interiors]:
                pts = [to_px(x, y) for x, y in ring.coords]
                d.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
        out.append("".join(d))
    return out


def _table(df: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
        for r in df.itertuples(index=False)
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _page(folder: Path) -> str:
    """The files of a reconcile run as one page: the map of unified.gpkg and two XLSX sheets."""
    unified = gpd.read_file(folder / "unified.gpkg", layer="unified")
    gaps = gpd.read_file(folder / "unified.gpkg", layer="gaps")
    overlaps = gpd.read_file(folder / "unified.gpkg", layer="overlaps")
    communities = gpd.read_file(datasets.get_path("demo"), layer="社区").to_crs(unified.crs)
    sheets = pd.read_excel(folder / "reconcile.xlsx", sheet_name=None, dtype=str)
    minx, miny, maxx, maxy = communities.total_bounds
    scale = WIDTH / (maxx - minx)
    height = (maxy - miny) * scale

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (x - minx) * scale, (maxy - y) * scale

    svg = []
    for d, change in zip(_paths(unified.geometry, to_px), unified["change"], strict=True):
        svg.append(
            f'<path class="unit" data-change="{change}" d="{d}" fill="{FILL[change]}" '
            'stroke="#888" stroke-width="0.6"/>'
        )
    for d in _paths(communities.geometry, to_px):
        svg.append(f'<path d="{d}" fill="none" stroke="#222" stroke-width="2"/>')
    for cls, layer, colour in (("gap", gaps, GAP), ("overlap", overlaps, OVERLAP)):
        for d in _paths(layer.geometry, to_px):
            svg.append(
                f'<path class="{cls}" d="{d}" fill="{colour}" fill-opacity="0.75" '
                f'stroke="{colour}" stroke-width="3"/>'
            )
    changed = sheets["统一网格"][sheets["统一网格"]["变化"] != "保留"]
    counts = sheets["统一网格"]["变化"].value_counts()
    legend = "".join(
        f'<li><span style="background:{FILL[k]}"></span>{UNIFY_ZH[k]} {counts[UNIFY_ZH[k]]}</li>'
        for k in FILL
        if UNIFY_ZH[k] in counts
    )
    legend += f'<li><span style="background:{GAP}"></span>缝隙（只有一个图层覆盖） {len(gaps)}</li>'
    legend += f'<li><span style="background:{OVERLAP}"></span>图层内重叠 {len(overlaps)}</li>'
    style = """
      body { font-family: 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif; margin: 16px;
             color: #222; }
      h1 { font-size: 20px; margin: 0 0 4px; } p.files { color: #555; margin: 0 0 12px; }
      .row { display: flex; gap: 20px; align-items: flex-start; }
      ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 14px;
                  font-size: 13px; width: 760px; }
      ul.legend span { display: inline-block; width: 14px; height: 14px; margin-right: 4px;
                       vertical-align: -2px; border: 1px solid #888; }
      h2 { font-size: 15px; margin: 0 0 6px; }
      table { border-collapse: collapse; font-size: 12px; margin-bottom: 14px; }
      th { background: #e8eef4; } th, td { border: 1px solid #bbb; padding: 3px 6px; }
    """
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
      <style>{style}</style></head><body>
      <h1>多网合一：民政、城管网格（示范区，合成数据）</h1>
      <p class="files">gridmap reconcile 的输出：unified.gpkg（统一网格、缝隙、重叠）与
        reconcile.xlsx（不一致、统一网格工作表）</p>
      <div class="row"><div>
        <svg id="map" width="{WIDTH}" height="{height:.0f}">{"".join(svg)}</svg>
        <ul class="legend">{legend}</ul></div>
      <div><h2>reconcile.xlsx · 不一致</h2>{_table(sheets["不一致"], "disagreements")}
        <h2>reconcile.xlsx · 统一网格（有变化的 {len(changed)} 个）</h2>
        {_table(changed[["网格编码", "所属社区", "变化", "来源图层", "来源单元"]], "changed")}
      </div></div></body></html>"""


def test_reconcile_outputs_as_a_planner_sees_them(page, reconciled):
    page.set_content(_page(reconciled))
    unified = gpd.read_file(reconciled / "unified.gpkg", layer="unified")
    assert page.locator("#map path.unit").count() == len(unified)
    changed = page.locator("#map path.unit:not([data-change=kept])").count()
    assert changed == int((unified["change"] != "kept").sum()) > 0
    assert page.locator("#map path.gap").count() == 2  # the demo's planted gaps
    assert page.locator("#map path.overlap").count() == 1
    # the three planted disagreements of the demo (多网说明), as the XLSX lists them
    kinds = page.locator("#disagreements tbody tr td:first-child").all_inner_texts()
    assert sorted(kinds) == sorted(["所属社区不一致", "编码不一致", "同码异地"])
    assert "CG007001" in page.inner_text("#disagreements")
    valid = shapely.is_valid(unified.geometry.values).all()
    assert valid and unified["grid_id"].is_unique
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # the README's picture of 多网合一
    page.screenshot(path=str(SCREENSHOTS / "reconcile.png"), full_page=True)
    assert page.console.errors == []
