"""Rerun every benchmark and write its tables into ``docs/benchmarks.md``.

Each benchmark runs as its own process (``--json`` output), ``--runs`` times (default 3);
every figure is given as median (min–max) over the runs next to its baseline from the
same runs, and the ratio baseline / gridmap is the median of the per-run ratios. The
tables go between generated markers in the document::

    <!-- run_all:NAME:begin -->  …  <!-- run_all:NAME:end -->

(a missing block is appended at the end). A benchmark that fails, times out or cannot run
here (no Chromium, no PostgreSQL, …) gets a block that says so, instead of old figures.

    python benchmarks/run_all.py                     # everything, 3 runs each (long)
    python benchmarks/run_all.py --quick             # small scales, 1 run: a smoke test
    python benchmarks/run_all.py --only coverage --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "benchmarks.md"
VERSIONS = ("gridmap", "numpy", "scipy", "shapely", "geopandas", "pandas", "pyogrio", "ortools")


@dataclass
class Figure:
    """One measured figure of one run, with its baseline from the same run (if any)."""

    label: str
    value: float
    baseline: float | None = None
    unit: str = "s"


@dataclass
class Bench:
    """How to run one benchmark script and read its figures."""

    script: str
    args: list[str]
    quick_args: list[str]
    figures: Callable[[dict], list[Figure]]
    baseline_name: str = "baseline"
    json_to: str = "file"  # "file": --json PATH; "stdout": --json prints the JSON last
    runs: int | None = None  # fixed number of runs (a long benchmark), else --runs
    timeout: float = 3600.0
    note: str = ""
    remark: Callable[[dict], str | None] = lambda r: None  # a sentence about one run


# --- figures of each benchmark ------------------------------------------------------------------


def _check(r: dict) -> list[Figure]:
    g, n = r["gridmap"], r.get("naive", {})
    out = [
        Figure("read 3 layers", g["read_s"], n.get("read_s")),
        Figure("households → grids", g["assign_households_s"], n.get("sjoin_groupby_s")),
        Figure("grids → communities", g["assign_grids_s"], n.get("overlay_s")),
        Figure("assignment total", g["assign_s"], n.get("assign_s")),
        Figure("metrics", g["metrics_s"]),
        Figure("rules + QA", g["rules_qa_s"]),
        Figure("whole check", g["total_s"], n.get("total_s")),
        Figure("peak memory", g["peak_rss_gb"], n.get("peak_rss_gb"), "GB"),
    ]
    if "total_with_outputs_s" in g:
        bare = n["read_s"] + n["sjoin_groupby_s"] if "sjoin_groupby_s" in n else None
        label = "whole check + every output vs bare read + sjoin + groupby (target ratio ≥ 0.5×)"
        out.append(Figure(label, g["total_with_outputs_s"], bare))
        out += [Figure(f"stage: {k}", v) for k, v in g["stages_s"].items()]
    return out


def _check_remark(r: dict) -> str | None:
    g = r["gridmap"]
    if "dominating_stage" not in g:
        return None
    return (
        f"whole check + outputs {g['vs_bare_script']:.1f}× the bare script (target ≤ 2×); "
        f"dominating stage: {g['dominating_stage']} ({g['stages_s'][g['dominating_stage']]:.2f} s)"
    )


def _coverage(r: dict) -> list[Figure]:
    g = r.get("gridmap") or r.get("straight") or {}
    out = []
    if "straight_5_types_s" in g:
        base = r.get("sjoin", {}).get("buffer_sjoin_5_types_s")
        out.append(Figure("straight line, 5 types (exact)", g["straight_5_types_s"], base))
    if "straight_5_types_cpu_s" in g:
        base = r.get("sjoin", {}).get("buffer_sjoin_5_types_cpu_s")
        out.append(
            Figure("straight line, CPU seconds (all threads)", g["straight_5_types_cpu_s"], base)
        )
    if "network_5_types_incl_snap_s" in g:
        nx = r.get("networkx", {})
        base = (
            nx["graph_build_s"] + nx["dijkstra_5_types_s"] if "dijkstra_5_types_s" in nx else None
        )
        out.append(
            Figure("network, 5 types, incl. snapping", g["network_5_types_incl_snap_s"], base)
        )
        if "network_build_s" in g:
            out.append(Figure("network build (once)", g["network_build_s"]))
    serial = r.get("gridmap_network_serial", {})
    if "network_5_types_incl_snap_s" in serial:
        nx = r.get("networkx", {})
        base = (
            nx["graph_build_s"] + nx["dijkstra_5_types_s"] if "dijkstra_5_types_s" in nx else None
        )
        out.append(Figure("network, one core", serial["network_5_types_incl_snap_s"], base))
    return out


def _dashboard(r: dict) -> list[Figure]:
    out = []
    for level, m in r["maplibre"].items():
        p = r.get("plotly", {}).get(level, {})
        out.append(Figure(f"first map, {level}", m["first_map_ms"], p.get("first_map_ms"), "ms"))
        out.append(
            Figure(f"recolour, {level}", m["recolour_median_ms"], p.get("recolour_median_ms"), "ms")
        )
    return out


def _report(r: dict) -> list[Figure]:
    return [
        Figure(f"{k.upper()} ({r['grids']:,} grids)", r[f"{k}_s"]) for k in ("pdf", "xlsx", "gpkg")
    ]


def _serve(r: dict) -> list[Figure]:
    runs = {run["server"]: run["callbacks"] for run in r["runs"]}
    main, base = runs.get("waitress", {}), runs.get("flask-dev", {})
    out = []
    for name, c in main.items():
        b = base.get(name, {})
        out.append(Figure(f"{name} p50", c["p50_ms"], b.get("p50_ms"), "ms"))
        out.append(Figure(f"{name} p95", c["p95_ms"], b.get("p95_ms"), "ms"))
    return out


def _rebalance(r: dict) -> list[Figure]:
    out = []
    for name, c in r["cases"].items():
        moved = c["gridmap"]["recount"]["units_moved"]
        out.append(Figure(f"{name}: units moved", moved, c["optimum"].get("units_moved"), ""))
        out.append(Figure(f"{name}: time", c["gridmap"]["seconds"], c["optimum"].get("seconds")))
    return out


def _plans(r: dict) -> list[Figure]:
    out = []
    for key, vals in r.items():
        for k, v in vals.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(Figure(f"{key}: {k}", float(v), None, ""))
    return out


def _national(r: dict) -> list[Figure]:
    single = r["single_machine"]["seconds"]
    out = [Figure("single machine", single)]
    for run in r["dask"]:
        out.append(Figure(f"Dask, {run['workers']} worker(s)", run["seconds"], single))
    return out


BENCHES: dict[str, Bench] = {
    "check": Bench(
        "bench_check.py",
        ["--scale", "1"],
        ["--scale", "0.02"],
        _check,
        "naive geopandas",
        remark=_check_remark,
    ),
    "coverage": Bench(
        "bench_coverage.py",
        ["--scale", "1", "--parts", "gridmap,gridmap_network_serial,sjoin,networkx"],
        ["--scale", "0.02", "--parts", "straight,sjoin"],
        _coverage,
        "buffer+sjoin / networkx",
    ),
    "dashboard": Bench(
        "bench_dashboard.py",
        ["--communities", "5000"],
        ["--communities", "200", "--no-plotly"],
        _dashboard,
        "plotly",
        json_to="stdout",
    ),
    "report": Bench("bench_report.py", ["--grids", "50000"], ["--grids", "2000"], _report),
    "serve": Bench(
        "bench_serve.py",
        ["--users", "20", "--requests", "50"],
        ["--users", "2", "--requests", "5"],
        _serve,
        "Flask dev server",
        json_to="stdout",
    ),
    "rebalance": Bench(
        "bench_rebalance.py",
        ["--quick"],
        ["--quick"],
        _rebalance,
        "reference optimum",
        runs=1,
        note="one run: the proven optimum takes minutes per case",
    ),
    "plans": Bench(
        "bench_plans.py",
        [],
        [
            "--units",
            "2000",
            "--editors",
            "2",
            "--seconds",
            "5",
            "--repeat",
            "3",
            "--stores",
            "gpkg",
        ],
        _plans,
    ),
    "national": Bench("bench_national.py", [], ["--workers", "1"], _national, "single machine"),
}


# --- running ------------------------------------------------------------------------------------


def last_json(text: str) -> dict:
    """The last JSON object printed on ``text`` (a one-line or an indented dump)."""
    lines = text.splitlines()
    for k in range(len(lines) - 1, -1, -1):
        if lines[k].startswith("{"):
            try:
                return json.loads("\n".join(lines[k:]))
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object in the output")


def run_once(name: str, bench: Bench, quick: bool, workdir: Path) -> dict:
    """One run of a benchmark; its JSON result, or ``{"error": why}``."""
    out = workdir / f"{name}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(HERE / bench.script), *(bench.quick_args if quick else bench.args)]
    cmd += ["--json", str(out)] if bench.json_to == "file" else ["--json"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=bench.timeout, cwd=workdir, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {bench.timeout:g} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip() or "failed").splitlines()[-1]
        return {"error": f"exit {proc.returncode}: {tail[:300]}"}
    try:
        if bench.json_to == "file":
            return json.loads(out.read_text(encoding="utf-8"))
        return last_json(proc.stdout)
    except (OSError, ValueError) as exc:
        return {"error": f"no figures: {exc}"}


def machine() -> dict:
    """CPU model, cores, load at start, versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in VERSIONS:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
    }


# --- tables -------------------------------------------------------------------------------------


def _fmt(x: float, unit: str) -> str:
    if unit == "ms":
        return f"{x:,.0f} ms"
    if unit == "":
        return f"{x:,.4g}"
    digits = 3 if abs(x) < 1 else 2 if abs(x) < 10 else 1 if abs(x) < 100 else 0
    return f"{x:,.{digits}f} {unit}"


def _spread(xs: list[float], unit: str) -> str:
    med = _fmt(statistics.median(xs), unit)
    if len(xs) == 1:
        return med
    return f"{med} ({_fmt(min(xs), unit)}–{_fmt(max(xs), unit)})"


def table(name: str, bench: Bench, runs: list[dict], info: dict, quick: bool) -> str:
    """The markdown block of one benchmark from its runs' JSON results."""
    args = bench.quick_args if quick else bench.args
    per_run, runs = [], list(runs)
    for k, r in enumerate(runs):
        if "error" not in r:
            try:
                per_run.append(bench.figures(r))
            except (KeyError, TypeError, IndexError) as exc:
                runs[k] = {"error": f"output without the figure {exc}"}
    good = [r for r in runs if "error" not in r]
    head = (
        f"*Generated by `benchmarks/run_all.py` on {info['date']}, commit `{info['commit']}`: "
        f"{info['cpu']}, {info['cores']} cores, load average {' / '.join(map(str, info['load']))} "
        f"at start; Python {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + f". Command: `python benchmarks/{bench.script} {' '.join(args)}`, "
        f"{len(good)} of {len(runs)} run(s) succeeded"
        + (f" ({bench.note})" if bench.note else "")
        + (". **Quick smoke run (small scale): not the record.**" if quick else ".")
        + "*"
    )
    lines = [head, ""]
    errors = sorted({r["error"] for r in runs if "error" in r})
    for e in errors:
        lines.append(f"**Not reproduced in this run:** {e}")
    if not good:
        return "\n".join(lines).rstrip()
    if errors:
        lines.append("")
    labels = list(dict.fromkeys(f.label for figs in per_run for f in figs))
    lines += [
        f"| figure | gridmap, median (min–max) | baseline: {bench.baseline_name} | ratio baseline / gridmap |",
        "|---|---:|---:|---:|",
    ]
    for label in labels:
        figs = [f for figs in per_run for f in figs if f.label == label]
        unit = figs[0].unit
        vals = [f.value for f in figs]
        bases = [f.baseline for f in figs if f.baseline is not None]
        ratios = [f.baseline / f.value for f in figs if f.baseline is not None and f.value > 0]
        lines.append(
            f"| {label} | {_spread(vals, unit)} | {_spread(bases, unit) if bases else '—'} | "
            f"{_spread(ratios, '×').replace(' ×', '×') if ratios else '—'} |"
        )
    remarks = [m for m in (bench.remark(r) for r in good) if m]
    lines += [""] + [f"Target missed in run {k + 1}: {m}." for k, m in enumerate(remarks)]
    return "\n".join(lines).rstrip()


def begin(name: str) -> str:
    return f"<!-- run_all:{name}:begin -->"


def end(name: str) -> str:
    return f"<!-- run_all:{name}:end -->"


def write_block(doc: str, name: str, block: str) -> str:
    """``doc`` with the text between ``name``'s markers replaced by ``block`` (appended if absent)."""
    b, e = begin(name), end(name)
    if b in doc and e in doc and doc.index(b) < doc.index(e):
        i, j = doc.index(b) + len(b), doc.index(e)
        return doc[:i] + "\n" + block + "\n" + doc[j:]
    return doc.rstrip("\n") + f"\n\n## {name} (generated)\n\n{b}\n{block}\n{e}\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small scales, 1 run: a smoke test")
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), help="only these benchmarks")
    ap.add_argument("--runs", type=int, default=3, help="runs per benchmark (default 3)")
    ap.add_argument(
        "--doc", default=str(DOC), help="the document to write (default docs/benchmarks.md)"
    )
    ap.add_argument("--json", help="also write every run's raw results to this file")
    args = ap.parse_args(argv)
    names = args.only or list(BENCHES)
    info = machine()
    print(json.dumps(info), flush=True)
    doc_path = Path(args.doc)
    raw: dict = {"machine": info, "results": {}}
    with tempfile.TemporaryDirectory(prefix="gridmap-run-all-") as tmp:
        for name in names:
            bench = BENCHES[name]
            n = 1 if args.quick else (bench.runs or args.runs)
            runs = []
            for k in range(n):
                t = time.perf_counter()
                runs.append(run_once(name, bench, args.quick, Path(tmp)))
                status = runs[-1].get("error", "ok")
                print(
                    f"{name} run {k + 1}/{n}: {time.perf_counter() - t:.1f} s, {status}", flush=True
                )
            raw["results"][name] = runs
            block = table(name, bench, runs, info, args.quick)
            print(block, flush=True)
            doc = doc_path.read_text(encoding="utf-8") if doc_path.exists() else "# Benchmarks\n"
            doc_path.write_text(write_block(doc, name, block), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
