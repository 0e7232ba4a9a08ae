"""Benchmark: the PDF report of a 50 k-grid city (target ≤ 60 s on the 2-core machine).

Builds the synthetic city of ``bench_check.py`` at a scale giving ~50,000 grids
(~5,000 communities, ~8 M households in ~420 k buildings), runs the check (not
timed as part of the report), then times :func:`gridmap.report.report_pdf`,
:func:`~gridmap.report.report_xlsx` and the GeoPackage export, and prints pages,
sizes and seconds.

    python benchmarks/bench_report.py [--grids 50000] [--workdir /tmp/gridmap-bench]
"""

from __future__ import annotations

import argparse
import json
import resource
import runpy
import subprocess
import tempfile
import time
from pathlib import Path


def pdf_pages(pdf: Path) -> dict:
    """``{"pdf_pages": n}`` from ``pdfinfo``; empty when poppler-utils is missing."""
    try:
        info = subprocess.run(
            ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    pages = [line.split()[-1] for line in info.splitlines() if line.startswith("Pages")]
    return {"pdf_pages": int(pages[0])} if pages else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", type=int, default=50_000)
    ap.add_argument("--workdir", default="/tmp/gridmap-bench")
    ap.add_argument("--json", help="also write the figures to this file (for run_all.py)")
    args = ap.parse_args()
    scale = args.grids / 60_000
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    city = work / f"city_report_{args.grids}.gpkg"
    bench_check = runpy.run_path(str(Path(__file__).with_name("bench_check.py")))
    if not city.exists():
        bench_check["build_city"](city, scale)

    import gridmap
    from gridmap import report

    t0 = time.perf_counter()
    study = gridmap.read_study(
        communities=f"{city}:社区",
        grids=f"{city}:网格",
        households=f"{city}:楼栋",
        name="基准测试城市（合成）",
    )
    result = gridmap.check(study)
    t_check = time.perf_counter() - t0
    figures: dict = {
        "communities": len(result.communities),
        "grids": 0 if result.grids is None else len(result.grids),
        "households": int(result.summary()["households_total"]),
        "check_s": round(t_check, 1),
    }
    # the outputs go to a fresh folder: runs at the same time (run_all.py, another user of the
    # shared --workdir) must not write over each other's files
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-report-") as tmp:
        out = Path(tmp)
        for name, fn, target in (
            ("pdf", report.report_pdf, out / "report.pdf"),
            ("xlsx", report.report_xlsx, out / "report.xlsx"),
            ("gpkg", report.export_layers, out / "layers.gpkg"),
        ):
            t = time.perf_counter()
            fn(result, target)
            figures[f"{name}_s"] = round(time.perf_counter() - t, 1)
            figures[f"{name}_MB"] = round(target.stat().st_size / 1e6, 1)
        figures.update(pdf_pages(out / "report.pdf"))
    figures["peak_rss_GB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    figures["pdf_target_met"] = figures["pdf_s"] <= 60
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
