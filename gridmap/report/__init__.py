"""Reports a planner can hand in: PDF (A4, Chinese), offline HTML map, Excel tables, GIS layers.

One entry point, :func:`write_report`, picks the format from the file suffix;
each format also has its own function, and the dashboard's export buttons can
call the byte-returning ones (:func:`findings_xlsx`, :func:`report_html_text`,
:func:`gridmap.maps.map_png`).

* **PDF** (:mod:`~gridmap.report.pdf`): cover (study, date, profile, data sources),
  summary KPIs, an overview compliance map, one gap map per failing rule with a
  table of its violations and the rule's citation, data-quality findings,
  coverage gap maps when coverage results are present, before/after maps and
  the change list when a plan is given. The bundled CJK font is embedded.
* **HTML** (:mod:`~gridmap.report.html_map`): one self-contained file, no network
  access at all (no CDN, no tiles): the folium map of :func:`gridmap.maps.explore_check`
  (Leaflet inlined: layer control, legend, tooltips with each rule's citation), the
  headline figures, the coverage table, the 预测 forecast tables (with a projection) and a
  searchable findings table.
* **XLSX** (:mod:`~gridmap.report.xlsx`): sheets 汇总, 社区, 网格, 问题清单, 覆盖 (and
  方案变更 with a plan, 预测概况 and 预测 with a projection), Chinese headers, frozen header rows, red/green status.
* **Layers** (:mod:`~gridmap.report.layers`): GeoPackage, or Shapefiles in GBK (older
  ArcGIS) or UTF-8, of every unit with its status and one gap layer per failing rule.

The figures all formats share are in :mod:`~gridmap.report.figures`; status names and
colours come from :mod:`gridmap.labels`. Coverage is read from
``result.coverage_result``; the ``coverage=`` argument of each writer reports other
coverage results (see :meth:`gridmap.CheckResult.with_coverage`).

Every file is written to a temporary file next to the target and moved into
place with :func:`os.replace`: a report is either complete or absent.

Examples
--------
>>> import gridmap, tempfile, os, pyogrio
>>> from gridmap import datasets, report
>>> result = gridmap.check(gridmap.read_study(**datasets.demo_config()))
>>> out = tempfile.mkdtemp()
>>> report.write_report(result, os.path.join(out, "检查报告.xlsx")).name
'检查报告.xlsx'
>>> report.write_report(result, os.path.join(out, "检查报告.pdf"), date="2026-11-23").read_bytes()[:5]
b'%PDF-'
>>> page = report.report_html_text(result)
>>> "<script src" in page or "<link " in page, "L.map(" in page
(False, True)
>>> layers = report.gap_layers(result)
>>> {"communities", "grids", "gap_community_size"} <= set(layers)
True
>>> layers["gap_community_size"]["名称"].iloc[0]  # largest gap first
'保俶社区'
"""

from __future__ import annotations

from gridmap.report._text import STATUS_ZH
from gridmap.report.figures import headline_figures, plan_rows, plan_sentence, rule_counts
from gridmap.report.html_map import report_html, report_html_text
from gridmap.report.layers import export_layers, gap_layers
from gridmap.report.pdf import report_pdf
from gridmap.report.write import FORMATS, write_report
from gridmap.report.xlsx import findings_xlsx, report_xlsx, report_xlsx_bytes

__all__ = [
    "FORMATS",
    "STATUS_ZH",
    "export_layers",
    "findings_xlsx",
    "gap_layers",
    "headline_figures",
    "plan_rows",
    "plan_sentence",
    "report_html",
    "report_html_text",
    "report_pdf",
    "report_xlsx",
    "report_xlsx_bytes",
    "rule_counts",
    "write_report",
]
