"""Rerun every benchmark and write its tables into ``docs/benchmarks.md``.

Each benchmark runs as its own process (``--json`` output), ``--runs`` times (default 3);
every figure is given as median (min–max) over the runs next to its baseline from the
same runs, and the ratio baseline / gridmap is the median of the per-run ratios. Each
block states the machine, the load average at its start and end (**noisy** above 1.5),
versions, date, commit, and every target of the issues as met / missed (naming the
dominating stage when the benchmark reports one). The tables go between generated
markers in the document::

    <!-- run_all:NAME:begin -->  …  <!-- run_all:NAME:end -->

(a missing block is appended at the end). A benchmark that fails, times out or cannot run
here (no Chromium, no PostgreSQL, …) gets a block that says so, instead of old figures.
A figure a benchmark does not report (an older or newer JSON) reads "not measured".

    python benchmarks/run_all.py                     # everything, 3 runs each, ≤ 35 min
    python benchmarks/run_all.py --budget 60         # a slower machine: allow an hour
    python benchmarks/run_all.py --quick             # small scales, 1 run: a smoke test
    python benchmarks/run_all.py --only coverage --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run_all_blocks sits next to this script

from run_all_blocks import (  # noqa: E402
    CORE_VERSIONS,
    Bench,
    Figure,
    Target,
    get,
    num,
    read_block,
    skipped,
    spec,
    table,
    write_block,
)

ROOT = HERE.parent
DOC = ROOT / "docs" / "benchmarks.md"
MORE_VERSIONS = (
    "networkx",
    "dash",
    "playwright",
    "waitress",
    "flask",
    "ortools",
    "psycopg",
    "dask",
)


# --- reading each benchmark's JSON ---------------------------------------------------------


def _check(r: dict) -> list[Figure]:
    stages = get(r, "gridmap.stages_s")
    stages = stages if isinstance(stages, dict) else {}
    return CHECK(r) + [Figure(f"stage: {k}", num(v, "")) for k, v in stages.items()]


CHECK = spec(
    ("read 3 layers", "gridmap.read_s", "naive.read_s"),
    ("households → grids", "gridmap.assign_households_s", "naive.sjoin_groupby_s"),
    ("grids → communities", "gridmap.assign_grids_s", "naive.overlay_s"),
    ("assignment total", "gridmap.assign_s", "naive.assign_s"),
    ("metrics", "gridmap.metrics_s", ""),
    ("rules + QA", "gridmap.rules_qa_s", ""),
    ("whole check", "gridmap.total_s", "naive.total_s"),
    (
        "whole check + every output vs bare read + sjoin + groupby",
        "gridmap.total_with_outputs_s",
        "naive.read_s+naive.sjoin_groupby_s",
    ),
    ("peak memory", "gridmap.peak_rss_gb", "naive.peak_rss_gb", "GB"),
)


def _coverage(r: dict) -> list[Figure]:
    return COVERAGE({**r, "g": r.get("gridmap") or r.get("straight") or {}})


NX = "networkx.graph_build_s+networkx.dijkstra_5_types_s"
COVERAGE = spec(
    ("straight line, 5 types (exact)", "g.straight_5_types_s", "sjoin.buffer_sjoin_5_types_s"),
    (
        "straight line, CPU seconds (all threads)",
        "g.straight_5_types_cpu_s",
        "sjoin.buffer_sjoin_5_types_cpu_s",
    ),
    ("network, 5 types, incl. snapping", "g.network_5_types_incl_snap_s", NX),
    ("network build (once)", "g.network_build_s", ""),
    ("network, one core", "gridmap_network_serial.network_5_types_incl_snap_s", NX),
)
DASHBOARD = spec(
    ("communities on the map", "study.community", "", ""),
    ("grids on the map", "study.grid", "", ""),
    *(
        (f"{what}, {plural}", f"maplibre.{lv}.{key}", f"plotly.{lv}.{key}", "ms")
        for lv, plural in (("community", "communities"), ("grid", "grids"))
        for what, key in (("first map", "first_map_ms"), ("recolour", "recolour_median_ms"))
    ),
)
REPORT = spec(
    ("check (not part of the report)", "check_s", ""),
    *((k.upper(), f"{k}_s", "") for k in ("pdf", "xlsx", "gpkg")),
)
SERVE_P95 = ("map recolour", "detail", "plan edit: move", "plan edit: undo")


def _serve(r: dict) -> list[Figure]:
    runs = {run.get("server"): run.get("callbacks") or {} for run in r.get("runs") or []}
    main, base = runs.get("waitress", {}), runs.get("flask-dev", {})
    out = [
        Figure(f"{name} {p}", num(c, f"{p}_ms"), num(base.get(name), f"{p}_ms"), "ms")
        for name, c in main.items()
        for p in ("p50", "p95")
    ]
    p50s = [v for c in main.values() if (v := num(c, "p50_ms")) is not None]
    slow = [v for c in base.values() if (v := num(c, "p50_ms")) is not None]
    worst = Figure(
        "slowest callback p50", max(p50s) if p50s else None, max(slow) if slow else None, "ms"
    )
    return out + [worst]


def _rebalance(r: dict) -> list[Figure]:
    return [
        f
        for name, c in (r.get("cases") or {}).items()
        for f in spec(
            (f"{name}: out of band left", "gridmap.recount.violations", "optimum.violations", ""),
            (f"{name}: units moved", "gridmap.recount.units_moved", "optimum.units_moved", ""),
            (f"{name}: time", "gridmap.seconds", "optimum.seconds"),
        )(c)
    ]


PLANS = spec(
    *(
        (f"one planner: {label}", f"postgis/single.{key}", f"gpkg/single.{key}")
        for label, key in (
            ("first save", "first_save_s"),
            ("load", "load_s"),
            ("edit + save, median", "save_median_s"),
            ("edit + save, p95", "save_p95_s"),
            ("stale save refused", "stale_refused_s"),
            ("rebase", "rebase_s"),
            ("save after rebase", "rebased_save_s"),
        )
    ),
    (
        "20 editors: accepted saves per second",
        "postgis/many.saves_per_s",
        "gpkg/many.saves_per_s",
        "/s",
    ),
    ("20 editors: p95 of an edit", "postgis/many.p95_edit_s", "gpkg/many.p95_edit_s"),
    ("20 editors: failures", "postgis/many.failures", "gpkg/many.failures", ""),
)


def _national(r: dict) -> list[Figure]:
    single = num(r, "single_machine.seconds")
    out = [Figure("single machine", single)]
    for run in r.get("dask") or []:
        by = run.get("partition_by")
        label = f"Dask, {run.get('workers')} worker(s)" + (f", by {by}" if by else "")
        out.append(Figure(label, num(run, "seconds"), single))
    return out


def targets(*rows: tuple[str, str, float, str]) -> list[Target]:
    """:class:`Target` rows."""
    return [Target(*row) for row in rows]


# est_s: seconds per full-scale run on the 2-core machine when quiet. The session that set them
# (29 Nov) never had it quiet (load 8–22): they add up the earlier hand-runs' quiet wall times of
# each benchmark's parts plus start-up, checked against the CPU seconds of one loaded full run.
# 3 runs each (rebalance 1) plan ~34 min, inside the default --budget of 35 min. The 20 editors
# of the plans benchmark keep saving well after its window (queued on the lock): ~40 s more.
BENCHES: dict[str, Bench] = {
    "check": Bench(
        "bench_check.py",
        ["--scale", "0.5"],
        ["--scale", "0.02"],
        _check,
        "naive geopandas",
        est_s=30,
        note="scale 0.5: ~3 k communities, ~30 k grids, ~5 M households (issue #19's city)",
        targets=targets(
            (
                "whole check + every output vs bare read + sjoin + groupby",
                "ratio",
                0.5,
                "whole check with every output ≤ 2× the bare script, i.e. ratio ≥ 0.5× (#19)",
            ),
            ("assignment total", "ratio", 5, "assignment ≥ 5× naive (#2)"),
            ("whole check", "max", 60, "whole check ≤ 60 s (#2)"),
            ("peak memory", "max", 6, "peak memory ≤ 6 GB (#2)"),
        ),
    ),
    "coverage": Bench(
        "bench_coverage.py",
        ["--scale", "1", "--parts", "gridmap,sjoin,networkx"],
        ["--scale", "0.02", "--parts", "straight,sjoin"],
        _coverage,
        "buffer+sjoin / networkx",
        est_s=120,
        note="scale 1: the 1 M-node network city",
        versions=("networkx",),
        targets=targets(
            (
                "straight line, 5 types (exact)",
                "ratio",
                10,
                "straight line ≥ 10× buffer + sjoin (#19)",
            ),
            (
                "network, 5 types, incl. snapping",
                "ratio",
                20,
                "network incl. snapping ≥ 20× networkx (#19)",
            ),
            ("network, 5 types, incl. snapping", "max", 30, "network incl. snapping ≤ 30 s (#3)"),
        ),
    ),
    "dashboard": Bench(
        "bench_dashboard.py",
        ["--communities", "5000"],
        ["--communities", "200", "--no-plotly"],
        DASHBOARD,
        "plotly",
        json_to="stdout",
        est_s=90,
        note="5 k communities, 50 k grids",
        versions=("dash", "playwright"),
        targets=targets(
            ("first map, grids", "max", 2000, "first map at 50 k grids ≤ 2 s (#19)"),
            ("first map, communities", "max", 3000, "first map, communities ≤ 3 s (#4)"),
            ("recolour, communities", "max", 250, "recolour, communities ≤ 250 ms (#4)"),
            ("recolour, grids", "max", 500, "recolour, grids ≤ 500 ms (#4)"),
        ),
    ),
    "report": Bench(
        "bench_report.py",
        ["--grids", "50000"],
        ["--grids", "2000"],
        REPORT,
        "none (a target only)",
        est_s=40,
        targets=targets(("PDF", "max", 60, "PDF of a 50 k-grid study ≤ 60 s (#6)")),
    ),
    "serve": Bench(
        "bench_serve.py",
        ["--users", "20", "--requests", "50"],
        ["--users", "2", "--requests", "5"],
        _serve,
        "Flask dev server",
        json_to="stdout",
        est_s=120,
        versions=("dash", "waitress", "flask", "playwright"),
        targets=targets(
            ("slowest callback p50", "max", 200, "every callback p50 ≤ 200 ms at 20 users (#19)"),
            *((f"{c} p95", "max", 500, f"{c} p95 ≤ 500 ms (#13)") for c in SERVE_P95),
        ),
    ),
    "rebalance": Bench(
        "bench_rebalance.py",
        ["--quick"],
        ["--quick"],
        _rebalance,
        "reference optimum",
        runs=1,
        est_s=240,
        note="one run of the quick cases: moves are deterministic, the proven optimum takes minutes",
        versions=("ortools",),
        targets=targets(
            (
                "lattice-400: out of band left",
                "baseline",
                0,
                "lattice-400: out of band = optimum's (#10)",
            ),
            (
                "lattice-400: units moved",
                "ratio",
                1 / 1.05,
                "lattice-400: moves ≤ 1.05× optimum's (#10)",
            ),
            ("sip: out of band left", "baseline", 0, "SIP: out of band = the optimum's (#10)"),
            ("sip: units moved", "ratio", 1 / 1.05, "SIP: moves ≤ 1.05× the optimum's (#10)"),
        ),
    ),
    "plans": Bench(
        "bench_plans.py",
        ["--units", "60000", "--editors", "20", "--seconds", "10", "--repeat", "10"],
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
        PLANS,
        "GeoPackage",
        value_name="PostGIS",
        est_s=140,
        versions=("psycopg",),
        note="60 k grids; 20 editors for 10 s per store",
    ),
    "national": Bench(
        "bench_national.py",
        [],
        ["--workers", "1"],
        _national,
        "single machine",
        est_s=60,
        versions=("dask",),
        targets=targets(
            ("Dask, 1 worker(s)", "ratio", 1 / 1.3, "Dask overhead ≤ 1.3× at equal cores (#17)")
        ),
    ),
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


def run_once(
    name: str, bench: Bench, quick: bool, workdir: Path, timeout: float | None = None
) -> dict:
    """One run of a benchmark; its JSON result, or ``{"error": why}``.

    ``timeout`` (seconds, default the benchmark's own) ends a run that takes longer.
    """
    timeout = bench.timeout if timeout is None else timeout
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
            cmd, capture_output=True, text=True, timeout=timeout, cwd=workdir, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip() or "failed").splitlines()[-1]
        return {"error": f"exit {proc.returncode}: {tail[:300]}"}
    try:
        if bench.json_to == "file":
            return json.loads(out.read_text(encoding="utf-8"))
        return last_json(proc.stdout)
    except (OSError, ValueError) as exc:
        return {"error": f"no figures: {exc}"}


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far.

    Far less affected than wall time by other work on a shared machine: a run's CPU seconds
    bound what its wall time would be on quiet cores (between CPU / cores and CPU).
    """
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def load() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    """CPU model, cores, load now, versions, date and commit."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in CORE_VERSIONS + MORE_VERSIONS:
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
        "load": load(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
    }


# --- the command --------------------------------------------------------------------------------


def plan(names: list[str], runs: int, quick: bool) -> list[tuple[str, int, float]]:
    """Each benchmark with its number of runs and expected seconds (quick: 1 run, a sixth)."""
    out = []
    for name in names:
        bench = BENCHES[name]
        n = 1 if quick else (bench.runs or runs)
        out.append((name, n, n * bench.est_s / (6 if quick else 1)))
    return out


def run_bench(name: str, n: int, quick: bool, tmp: Path, deadline: float | None) -> list[dict]:
    """Up to ``n`` runs of one benchmark; none runs past ``deadline`` (a ``perf_counter`` time).

    A run is cut at the deadline (it fails, "did not finish"), and no further run starts when
    the last one's time would pass it.
    """
    bench, runs = BENCHES[name], []
    for k in range(n):
        t, cpu = time.perf_counter(), children_cpu()
        left = bench.timeout if deadline is None else min(bench.timeout, deadline - t)
        runs.append(run_once(name, bench, quick, tmp, max(left, 1.0)))
        took, cpu = time.perf_counter() - t, children_cpu() - cpu
        status = runs[-1].get("error", "ok")
        print(f"{name} run {k + 1}/{n}: {took:.1f} s ({cpu:.0f} s CPU), {status}", flush=True)
        if deadline is not None and k + 1 < n and time.perf_counter() + took > deadline:
            print(f"{name}: budget reached after {k + 1} run(s)", flush=True)
            break
    return runs


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks asked for and write their blocks; see the module docstring."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small scales, 1 run: a smoke test")
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), help="only these benchmarks")
    ap.add_argument("--runs", type=int, default=3, help="runs per benchmark (default 3)")
    ap.add_argument(
        "--budget",
        type=float,
        default=35.0,
        help="minutes (default 35): skip (and mark 'skipped: budget') benchmarks expected not "
        "to fit, stop a benchmark's runs and cut a run at the end of the budget",
    )
    ap.add_argument(
        "--doc", default=str(DOC), help="the document to write (default docs/benchmarks.md)"
    )
    ap.add_argument("--json", help="also write every run's raw results to this file")
    args = ap.parse_args(argv)
    todo = plan(args.only or list(BENCHES), args.runs, args.quick)
    info = machine()
    print(json.dumps(info), flush=True)
    total = sum(s for _, _, s in todo)
    print(
        "expected: "
        + ", ".join(f"{name} {n}×{s / n:.0f} s" for name, n, s in todo)
        + f"; total {total / 60:.1f} min"
        + (f" (budget {args.budget:g} min)" if args.budget is not None else ""),
        flush=True,
    )
    start = time.perf_counter()
    deadline = start + 60 * args.budget if args.budget is not None else None
    doc_path = Path(args.doc)
    raw: dict = {"machine": info, "results": {}}
    with tempfile.TemporaryDirectory(prefix="gridmap-run-all-") as tmp:
        for name, n, expected in todo:
            bench = BENCHES[name]
            doc = doc_path.read_text(encoding="utf-8") if doc_path.exists() else "# Benchmarks\n"
            t0 = time.perf_counter()
            if deadline is not None and t0 + expected > deadline:
                left = (deadline - t0) / 60
                block = skipped(
                    bench,
                    info,
                    f"budget ({left:.1f} of {args.budget:g} min left)",
                    read_block(doc, name),
                )
                print(f"{name}: skipped: budget (expected {expected:.0f} s)", flush=True)
            else:
                here = {**info, **machine(), "load_start": load()}
                here["load"] = here.pop("load_start")
                runs = run_bench(name, n, args.quick, Path(tmp), deadline)
                if len(runs) < n:
                    here["budget_cut"] = f"{len(runs)} of {n} planned runs: budget"
                here["load_end"], here["elapsed_s"] = load(), time.perf_counter() - t0
                raw["results"][name] = runs
                block = table(name, bench, runs, here, args.quick)
                print(
                    f"{name}: {here['elapsed_s']:.0f} s elapsed (expected {expected:.0f} s); "
                    f"{(time.perf_counter() - start) / 60:.1f} min in total",
                    flush=True,
                )
            print(block, flush=True)
            doc_path.write_text(write_block(doc, name, block), encoding="utf-8")
    print(f"all done in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
