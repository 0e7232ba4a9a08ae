"""gridmap's files opened by the programs planners use (issue #15), marked ``gis``.

- GDAL 3.6's own GeoPackage validator (``validate_gpkg.py -k``, Debian ``python3-gdal``) on
  every GeoPackage gridmap writes, the demo's included, and GDAL 3.6's ``ogrinfo`` without the
  "partially supported" version warning;
- headless QGIS 3.22 (Debian ``python3-qgis``, run by Debian's ``/usr/bin/python3`` with
  ``QT_QPA_PLATFORM=offscreen``) opens every layer: valid, drawn with its stored default
  style (categorised by status, the report's Chinese legend), Chinese attributes readable;
- LibreOffice Calc (headless) prints the XLSX with every sheet one page wide.

Each test skips with the reason when its program is absent; ``.ci/run`` installs them.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from gridmap import datasets, report
from gridmap.cli import main
from gridmap.labels import STATUS_ORDER, status_label
from gridmap.plans import Plan

pytestmark = pytest.mark.gis

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
VALIDATORS = (
    Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"),
    Path("/usr/share/doc/python3-gdal/examples/validate_gpkg.py"),
)
STATUS_LEGEND = [status_label(s) for s in STATUS_ORDER]


def _validator() -> Path:
    found = next((p for p in VALIDATORS if p.exists()), None)
    if found is None or not SYSTEM_PYTHON.exists() or shutil.which("ogrinfo") is None:
        pytest.skip(
            "GDAL's validate_gpkg.py or ogrinfo not installed (Debian python3-gdal gdal-bin)"
        )
    return found


def _has_qgis() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True, timeout=120
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, demo_check_out, demo_result) -> dict[str, Path]:
    """Every kind of file gridmap writes for GIS, from the demo."""
    tmp = tmp_path_factory.mktemp("gis")
    files = {"result.gpkg": demo_check_out / "result.gpkg"}
    files["layers.gpkg"] = report.export_layers(demo_result, tmp / "layers.gpkg")[0]
    report.export_layers(demo_result, tmp / "shp_gbk")
    report.export_layers(demo_result, tmp / "shp_utf8", encoding="utf-8")
    files["communities.shp"] = tmp / "shp_gbk" / "communities.shp"
    files["gap_community_size.shp"] = tmp / "shp_gbk" / "gap_community_size.shp"
    files["communities_utf8.shp"] = tmp / "shp_utf8" / "communities.shp"
    Plan.from_check(demo_result, name="演示").export(tmp / "plan", encoding="gbk")
    files["plan communities.gpkg"] = tmp / "plan" / "communities.gpkg"
    files["plan communities.shp"] = tmp / "plan" / "communities.shp"
    ws = tmp / "ws"
    ws.mkdir()
    shutil.copyfile(datasets.get_path("demo"), ws / "demo.gpkg")
    (ws / "gridmap.toml").write_text(datasets.demo_config_toml("demo.gpkg"), encoding="utf-8")
    args = ["coverage", str(ws / "gridmap.toml"), "--types", "幼儿园", "--radius", "300"]
    args += ["--site", "kindergarten", "--k", "1", "--solver", "greedy", "--out", str(tmp / "cov")]
    assert main(args) == 0
    files["sites.gpkg"] = tmp / "cov" / "sites.gpkg"
    files["demo.gpkg (shipped)"] = datasets.get_path("demo")
    build = runpy.run_path(str(REPO / "data" / "build_demo.py"))
    files["demo.gpkg (built)"] = build["build_demo"](tmp / "demo_built.gpkg")
    return files


GEOPACKAGES = [
    "result.gpkg",
    "layers.gpkg",
    "plan communities.gpkg",
    "sites.gpkg",
    "demo.gpkg (shipped)",
    "demo.gpkg (built)",
]


@pytest.mark.parametrize("name", GEOPACKAGES)
def test_gdal_validator_accepts_every_geopackage(outputs, name):
    validator = _validator()
    run = subprocess.run(
        [str(SYSTEM_PYTHON), str(validator), "-k", str(outputs[name])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", str(outputs[name])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert info.returncode == 0, info.stderr
    assert "partially supported" not in info.stderr, info.stderr


#: run by Debian's python3: open each ``uri``, print what QGIS made of it as JSON
QGIS_PROBE = r"""
import json, os, sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = {}
for key, uri in json.loads(sys.argv[1]).items():
    layer = QgsVectorLayer(uri, key, "ogr")
    renderer = layer.renderer() if layer.isValid() else None
    cats = renderer.categories() if renderer and renderer.type() == "categorizedSymbol" else []
    out[key] = {
        "valid": layer.isValid(),
        "renderer": renderer.type() if renderer else None,
        "field": renderer.classAttribute() if cats else None,
        "categories": [[str(c.value()), c.label()] for c in cats],
        "labels": layer.labelsEnabled(),
        "fields": [f.name() for f in layer.fields()],
        "values": [[str(v) for v in f.attributes()] for f in layer.getFeatures()],
    }
print(json.dumps(out, ensure_ascii=False), flush=True)
os._exit(0)  # QGIS 3.22 may crash in exitQgis() when headless; the answer is printed
"""


def _qgis(uris: dict[str, str], runtime: Path) -> dict:
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)}
    run = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", QGIS_PROBE, json.dumps(uris)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_qgis_opens_every_layer_styled_with_readable_chinese(outputs, demo_result, tmp_path):
    if not _has_qgis():
        pytest.skip("headless QGIS not installed (Debian python3-qgis)")
    uris = {
        "result:communities": f"{outputs['result.gpkg']}|layername=communities",
        "result:grids": f"{outputs['result.gpkg']}|layername=grids",
        "layers:communities": f"{outputs['layers.gpkg']}|layername=communities",
        "layers:gap": f"{outputs['layers.gpkg']}|layername=gap_community_size",
        "shp:communities": str(outputs["communities.shp"]),
        "shp:gap": str(outputs["gap_community_size.shp"]),
        "shp-utf8:communities": str(outputs["communities_utf8.shp"]),
        "plan:gpkg": f"{outputs['plan communities.gpkg']}|layername=communities",
        "plan:shp": str(outputs["plan communities.shp"]),
    }
    got = _qgis(uris, tmp_path / "runtime")
    names = set(demo_result.communities["name"])
    for key, layer in got.items():
        assert layer["valid"], key
        assert layer["labels"], f"{key}: labels off"
        text = {v for row in layer["values"] for v in row}
        assert names & text or key.endswith(":gap"), f"{key}: no Chinese name read back"
        assert not any("\ufffd" in v or "?" * 2 in v for v in text), f"{key}: garbled text"
    for key in ("result:communities", "result:grids"):
        assert got[key]["renderer"] == "categorizedSymbol" and got[key]["field"] == "status"
        assert got[key]["categories"] == [[s, status_label(s)] for s in STATUS_ORDER]
    for key in ("layers:communities", "shp:communities", "shp-utf8:communities"):
        assert got[key]["renderer"] == "categorizedSymbol" and got[key]["field"] == "状态"
        assert [label for _, label in got[key]["categories"]] == STATUS_LEGEND
        col = got[key]["fields"].index("状态")
        statuses = {row[col] for row in got[key]["values"]}
        assert statuses and statuses <= {v for v, _ in got[key]["categories"]}, key
    for key in ("plan:gpkg", "plan:shp"):
        assert got[key]["renderer"] == "categorizedSymbol" and got[key]["field"] == "status"
    for key in ("layers:gap", "shp:gap"):
        assert got[key]["renderer"] == "singleSymbol"


def test_libreoffice_prints_every_sheet_one_page_wide(tmp_path, demo_result):
    soffice = shutil.which("soffice")
    if soffice is None or shutil.which("pdftotext") is None:
        pytest.skip("LibreOffice Calc (Debian libreoffice-calc) or poppler-utils not installed")
    xlsx = report.report_xlsx(demo_result, tmp_path / "检查报告.xlsx", date="2026-11-29")
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    subprocess.run(
        [soffice, "--headless", "--norestore", "--convert-to", "pdf", "--outdir", str(tmp_path)]
        + [str(xlsx)],
        capture_output=True,
        timeout=600,
        env=env,
        check=True,
    )
    pdf = tmp_path / "检查报告.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(next(x for x in info.stdout.splitlines() if x.startswith("Pages:")).split()[1])
    size = next(x for x in info.stdout.splitlines() if x.startswith("Page size:")).split()
    assert float(size[2]) > float(size[4]), "not landscape"
    heads = _sheet_headers(xlsx)
    seen: dict[str, int] = {}
    for page in range(1, pages + 1):
        text = subprocess.run(
            ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        sheet = text.strip().splitlines()[0].strip()  # the page header: the sheet's name
        assert sheet in heads, f"page {page}: header {sheet!r} is no sheet name"
        seen[sheet] = seen.get(sheet, 0) + 1
        first, last = heads[sheet]
        # the repeated header row shows its first and last column: the page is the full width
        assert first in text and last in text, f"page {page} ({sheet}): cut at the right"
        assert f"第 {page} 页" not in text or "共" in text
        assert "示范区" in text and "2026-11-29" in text, f"page {page}: footer missing"
    assert set(seen) == set(heads)
    assert pages < 60  # was 154 portrait pages


def _sheet_headers(xlsx: Path) -> dict[str, tuple[str, str]]:
    """Sheet name → (first, last) header of its table."""
    import openpyxl  # only to read back the workbook

    wb = openpyxl.load_workbook(xlsx, read_only=True)
    out = {}
    for ws in wb.worksheets:
        row = [c for c in next(ws.iter_rows(min_row=1, max_row=1, values_only=True)) if c]
        out[ws.title] = (str(row[0]), str(row[-1]))
    return out
