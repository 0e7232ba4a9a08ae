"""Benchmark the national check on Dask against the single-machine check on the same data.

One run (``python benchmarks/bench_national.py [--districts N …] [--memory-limit 1GB]``):

1. writes a synthetic national dataset (``benchmarks/national_data.py``; default 2 provinces
   of 900 communities, 3.8 M households);
2. the single-machine check (``read_study`` + ``check`` on the whole data) in a child process:
   seconds, CPU seconds and peak memory (RSS);
3. ``check_national`` on a LocalCluster with 1 and with 2 single-threaded workers, each with
   ``--memory-limit``: seconds, CPU seconds of the workers and of this process,
   households/s per worker, peak RSS per worker, the Dask overhead at equal cores (1 worker ÷
   single machine, in wall and in CPU seconds). Both sides import the check's modules before
   the clock starts;
4. the measured cost per partition extrapolated to 600 000 communities / 500 M households,
   and the number of workers that would finish that in 10 minutes.

Opt-in heavy modes:

* ``--out-of-core`` (data in one Gauss-Krüger zone, e.g. ``--provinces 1 --cities 60``): the
  single-machine check runs in the partitions' metric CRS and keeps its tables; each Dask run's
  communities, grids and findings are compared with them (``identical``), and ``out_of_core``
  says whether the worker limit was below half the single check's peak RSS;
* ``--outputs stream|memory|both``: each Dask run also writes the outputs of
  ``gridmap check --engine dask --out`` — streamed from the partitions the workers staged
  (``check_national(out=…)``), or gathered into this process and written from there (the
  in-memory ``NationalResult.to_dir``); ``both`` runs each and compares their files. Every
  run reports this process's (the client's) peak RSS beside the workers';
* ``--map``: the last Dask run's result is written as ``national/`` and the 全国 page's first
  map, zoom to grids and recolour are measured in headless Chromium
  (``bench_dashboard.measure_national``): key ``map``.

Prints a table and a JSON line (``--json FILE`` writes it). ``--data DIR`` keeps the dataset
(generated there when DIR is empty, reused otherwise); ``--no-single`` skips step 2 (data too
large for the single-machine check in the time at hand: ``single_machine`` is then null).
``single_machine_read``, the peak of one process only reading the whole data, is measured
except with ``--out-of-core``. The 1-minute load average before and after each timing is
recorded (``load``): on a shared machine the seconds are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from national_data import NationalShape, write_national  # noqa: E402

LAYERS = ("communities", "grids", "households", "facilities")
NATIONAL_COMMUNITIES = 600_000
NATIONAL_HOUSEHOLDS = 500_000_000
TARGET_S = 600.0
#: what "equal cores" compares (printed with the overhead)
EQUAL_CORES = (
    "one process checking everything vs one single-threaded Dask worker process checking the "
    "partitions one after the other; both may use the libraries' reading threads, and the Dask "
    "run's client (planning, combining) and scheduler are separate processes"
)

_SINGLE = """
import json, resource, sys, time
import gridmap
import gridmap.national.worker  # what a warm Dask worker holds (see _warm): the check's modules
from gridmap.national import NationalSource
root, what, metric, save = sys.argv[1], sys.argv[2], sys.argv[3] or None, sys.argv[4] or None
cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t = time.perf_counter()
src = NationalSource({k: f"{root}/{k}" for k in ("communities", "grids", "households", "facilities")})
study = gridmap.read_study(**{k: src.read(k) for k in src.kinds()}, metric=metric)
result = gridmap.check(study) if what == "check" else study
seconds = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_SELF)
rss = use.ru_maxrss / 1024  # before saving: the check's peak
if save:
    result.communities_table().to_pickle(f"{save}/communities.pkl")
    result.grids_table().to_pickle(f"{save}/grids.pkl")
    result.findings.to_pickle(f"{save}/findings.pkl")
print(json.dumps({"seconds": seconds, "rss_mb": rss, "cpu_s": use.ru_utime + use.ru_stime - cpu0, "communities": len(result.communities),
                  "what": what, "metric_crs": str(metric) if metric else None}))
"""


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def single_machine(
    root: Path, what: str = "check", metric: str | None = None, save: Path | None = None
) -> dict:
    """The single-machine check in a child process: seconds, peak RSS, machine load.

    ``what="read"``: only reading the whole data into one study (``read_study``), the least
    a single process needs before the check starts. ``metric``: the metric CRS to check in
    (default: the study's own choice); ``save``: a folder the check's communities, grids and
    findings tables are written to (after its peak RSS is taken), for :func:`compare`.
    """
    before = _load()
    out = subprocess.run(
        [sys.executable, "-c", _SINGLE, str(root), what, metric or "", str(save or "")],
        capture_output=True,
        text=True,
        check=True,
    )
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load": [before, _load()]}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _warm() -> float:
    """Import the check's modules on a worker (a long-running worker holds them); its CPU s."""
    import gridmap.national.worker  # noqa: F401

    return _cpu_s()


class _RssSampler:
    """This process's peak resident memory while a block runs (sampled every 20 ms).

    ``ru_maxrss`` only grows over the process's life, so a second run in it could not show a
    lower peak; the sampled peak is this run's own (from its start, ``start_mb``).
    """

    def __enter__(self) -> _RssSampler:
        import psutil  # a dependency of dask.distributed

        self._proc, self._stop = psutil.Process(), threading.Event()
        self.start_mb = self.peak_mb = self._proc.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)


def on_dask(
    root: Path,
    workers: int,
    memory_limit: str,
    partition_by: str = "auto",
    reference: Path | None = None,
    outputs: str = "none",
    out: Path | None = None,
) -> tuple[dict, Any]:
    """``check_national`` on a fresh LocalCluster: seconds, per-partition cost, memory peaks.

    ``reference``: the single-machine check's tables (:func:`single_machine` ``save=``), to
    say whether this run's are identical (``identical``, ``difference``). ``outputs``: also
    write the outputs into ``out`` — ``"memory"``: gather the partitions into this process and
    ``NationalResult.to_dir`` (``seconds`` is then the check, ``seconds_with_outputs`` both);
    ``"stream"``: ``check_national(out=…)``, each worker stages its rows and this process
    streams the outputs (``seconds`` holds both). ``client_peak_rss_mb``: this process's peak
    during the run, beside the workers'. Returns the figures and the result.
    """
    from distributed import Client, get_task_stream

    from gridmap.national import NationalSource, check_national, local_cluster

    source = NationalSource({k: root / k for k in LAYERS})
    before = _load()
    # the LocalCluster check_national starts by itself: single-threaded worker processes
    with local_cluster(workers, memory_limit) as cluster, Client(cluster) as client:
        cpu0 = client.run(_warm)  # imports are not the check: both sides import before timing
        cpu_client = _cpu_s()
        t, t_epoch = time.perf_counter(), time.time()
        with _RssSampler() as rss, get_task_stream(client) as stream:
            if outputs == "stream":
                result = check_national(
                    source, scheduler=client, partition_by=partition_by, out=out
                )
                seconds = time.perf_counter() - t
            else:
                result = check_national(source, scheduler=client, partition_by=partition_by)
                seconds = time.perf_counter() - t
                if outputs == "memory":
                    result.to_dir(out)
            with_outputs = time.perf_counter() - t
        cpu_client = _cpu_s() - cpu_client
        first, last = _partition_span(stream.data)
        cpu = client.run(_cpu_s)
        peaks = client.run(_peak_rss_mb)
    parts = result.partitions
    summary = result.summary()
    households = int(summary["households_total"])
    run = {
        "partition_by": partition_by,
        "workers": workers,
        "outputs": outputs,
        "seconds": seconds,
        "seconds_with_outputs": with_outputs,
        "households_per_s_per_worker": households / seconds / workers,
        "partitions": len(parts),
        "partition_communities_mean": float(parts["communities"].mean()),
        "partition_seconds_sum": float(parts["seconds"].sum()),
        "partition_seconds_max": float(parts["seconds"].max()),
        "partition_cpu_s_sum": float(parts["cpu_s"].sum()),
        "partition_cpu_s_mean": float(parts["cpu_s"].mean()),
        "worker_peak_rss_mb": max(peaks.values()),
        "worker_peak_rss_mb_each": sorted(peaks.values()),
        "client_peak_rss_mb": rss.peak_mb,
        "client_rss_start_mb": rss.start_mb,
        # CPU seconds of the workers and of this process (planning, combining): less bent by
        # other work on the machine than the wall time
        "cpu_s_workers": sum(cpu[w] - cpu0[w] for w in cpu),
        "cpu_s_client": cpu_client,
        # this process before the first partition started (planning, handing the inputs
        # over) and after the last ended (fetching its rows, combining): the serial part
        "client_before_first_s": first - t_epoch,
        "client_after_last_s": t_epoch + seconds - last,
        "communities": int(summary["communities"]),
        "households": households,
        "load": [before, _load()],
    }
    if reference is not None and outputs != "stream":
        run["difference"] = compare(result, reference)
        run["identical"] = run["difference"] is None
    return run, result


def _partition_span(tasks: list[dict]) -> tuple[float, float]:
    """When the first partition task started and the last ended (seconds since the epoch)."""
    spans = [
        (ss["start"], ss["stop"])
        for task in tasks
        if str(task.get("key", "")).startswith("gridmap-partition-")
        for ss in task.get("startstops", [])
        if ss.get("action") == "compute"
    ]
    return min(a for a, _ in spans), max(b for _, b in spans)


def compare(result: Any, reference: Path) -> str | None:
    """Where a national result's tables differ from the single-machine check's (None: identical).

    Communities and grids tables by id, findings by level, rule and unit: the comparison of
    ``tests/test_national.py``, on the whole data.
    """
    import pandas as pd

    whole = result.check_result()
    cols = ["level", "rule_id", "unit_id"]
    pairs = {
        "communities": (whole.communities_table(), "community_id"),
        "grids": (whole.grids_table(), "grid_id"),
        "findings": (result.findings, cols),
    }
    for name, (got, key) in pairs.items():
        ref = pd.read_pickle(reference / f"{name}.pkl")
        try:
            pd.testing.assert_frame_equal(
                got.sort_values(key).reset_index(drop=True),
                ref.sort_values(key).reset_index(drop=True),
            )
        except AssertionError as exc:
            return f"{name}: {str(exc).splitlines()[0][:300]}"
    return None


def same_outputs(a: Path, b: Path) -> bool:
    """Whether two output folders hold the same CSV and summary bytes."""
    names = ("communities.csv", "grids.csv", "findings.csv", "problems.csv", "summary.json")
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def one_metric_crs(root: Path, partition_by: str) -> str | None:
    """The metric CRS every partition is checked in, when they share one (else None).

    The single-machine check is then run in it, so that its tables can be compared with the
    Dask run's row for row (partitions in several Gauss-Krüger zones measure in each).
    """
    from gridmap.national import NationalSource, partition_crs, plan_partitions

    source = NationalSource({k: root / k for k in LAYERS})
    plan = plan_partitions(source.community_index(), partition_by)
    zones = {partition_crs(plan, k).to_epsg() for k in plan.keys}
    return f"EPSG:{zones.pop()}" if len(zones) == 1 else None


def dataset_bytes(root: Path) -> int:
    """Bytes of the dataset's GeoParquet files on disk."""
    return sum(f.stat().st_size for f in root.rglob("*.parquet"))


def measure_written_map(folder: Path) -> dict:
    """First map and recolour of the 全国 page on outputs ``gridmap check --out`` wrote."""
    from bench_dashboard import measure_national  # Playwright: only with --map

    return {**measure_national(folder), "write_s": 0.0, "load": _load()}


def measure_map(result: Any, workdir: Path) -> dict:
    """First map and recolour of the 全国 page on ``result`` in headless Chromium.

    Writes the result's ``national/`` layers (as ``gridmap check --engine dask --out`` does)
    and runs ``bench_dashboard.measure_national`` on them.
    """
    from gridmap.national.export import write_partitioned

    t = time.perf_counter()
    write_partitioned(result.check_result(), workdir / "national")
    write_s = time.perf_counter() - t
    return {**measure_written_map(workdir), "write_s": write_s}


def extrapolate(run: dict) -> dict:
    """Worker-seconds for the country from a run's per-household partition cost.

    The partitions' CPU seconds (``partition_cpu_s_sum``): the work itself, which the wall
    seconds of a partition on a shared machine overstate by the time spent waiting for a core.
    """
    work = run.get("partition_cpu_s_sum") or run["partition_seconds_sum"]
    per_hh = work / max(run["households"], 1)
    per_comm = work / max(run["communities"], 1)
    total = max(per_hh * NATIONAL_HOUSEHOLDS, per_comm * NATIONAL_COMMUNITIES)
    return {
        "basis": "cpu_s" if run.get("partition_cpu_s_sum") else "seconds",
        "worker_seconds_per_1m_households": per_hh * 1e6,
        "national_worker_hours": total / 3600,
        "workers_for_10_min": math.ceil(total / TARGET_S),
    }


def _dataset(root: Path, shape: NationalShape) -> dict[str, int]:
    """Write the dataset under ``root``, or count the rows of the one already there."""
    if not (root / "communities").is_dir():
        return write_national(root, shape)
    counts = {
        kind: sum(pq.read_metadata(f).num_rows for f in (root / kind).rglob("*.parquet"))
        for kind in LAYERS
    }
    table = pq.read_table(root / "households", columns=["户数"])
    counts["household_total"] = int(table["户数"].to_numpy().sum())
    return counts


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provinces", type=int, default=2)
    ap.add_argument("--cities", type=int, default=1)
    ap.add_argument("--districts", type=int, default=3)
    ap.add_argument("--streets", type=int, default=2)
    # 1,800 communities: two partitions of 900 (auto), so the per-partition fixed cost weighs
    # as on real data, and a quiet run stays under 2 minutes
    ap.add_argument("--communities", type=int, default=150, help="per street")
    ap.add_argument("--grids", type=int, default=4, help="grids per community")
    ap.add_argument("--households-mean", type=float, default=2000.0)
    ap.add_argument("--memory-limit", default="1GB", help="per Dask worker")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--partition-by",
        nargs="+",
        default=["auto"],
        help="one run per value and worker count (e.g. district auto: before/after merging)",
    )
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--data", help="dataset folder: generated when empty, else reused (kept)")
    ap.add_argument("--no-single", action="store_true", help="skip the single-machine check")
    ap.add_argument(
        "--out-of-core",
        action="store_true",
        help="compare every Dask run's tables with the single-machine check's (run in the "
        "partitions' metric CRS) and report its peak RSS against the worker limit",
    )
    ap.add_argument(
        "--outputs",
        choices=["none", "stream", "memory", "both"],
        default="none",
        help="also write the outputs of each Dask run: stream (check_national(out=): the "
        "workers stage their rows, this process streams the files), memory (gathered here, "
        "NationalResult.to_dir), both (one run each, files compared); none (default)",
    )
    ap.add_argument(
        "--map",
        action="store_true",
        help="first map and recolour of the 全国 page on the last Dask run's result (Chromium)",
    )
    return ap.parse_args(argv)


def _print_report(report: dict, counts: dict[str, int], limit: str) -> None:
    hh = counts["household_total"]
    print(
        f"data: {counts['communities']:,} communities, {counts['grids']:,} grids, "
        f"{counts['households']:,} household records ({hh:,} households), "
        f"{report['data']['bytes'] / 1e6:,.0f} MB of GeoParquet"
    )
    read = report["single_machine_read"]
    if read is not None:
        print(
            f"single process, reading the whole data (read_study): {read['seconds']:.1f} s, "
            f"peak {read['rss_mb']:.0f} MB"
        )
    single = report["single_machine"]
    if single is not None:
        print(
            f"single machine: {single['seconds']:.1f} s, {single['households_per_s']:,.0f} "
            f"households/s, peak {single['rss_mb']:.0f} MB (load {single['load']})"
        )
    for r in report["dask"]:
        same = {True: ", identical", False: f", DIFFERENT ({r.get('difference')})"}
        outputs = {
            "none": "",
            "memory": f", outputs gathered and written here ({r['seconds_with_outputs']:.1f} s "
            "with them)",
            "stream": ", outputs streamed from the workers' staged rows (in the seconds)",
        }[r["outputs"]]
        if "same_outputs_as_memory" in r:
            outputs += f", files {'identical' if r['same_outputs_as_memory'] else 'DIFFERENT'}"
        print(
            f"dask by {r['partition_by']}, {r['workers']} worker(s): {r['seconds']:.1f} s over "
            f"{r['partitions']} partitions, "
            f"{r['households_per_s_per_worker']:,.0f} households/s per worker, worker peaks "
            f"{', '.join(f'{m:.0f}' for m in r['worker_peak_rss_mb_each'])} MB "
            f"(limit {limit}), client peak {r['client_peak_rss_mb']:.0f} MB (from "
            f"{r['client_rss_start_mb']:.0f}), load {r['load']}{outputs}; this process "
            f"{r['client_before_first_s']:.2f} s before the first partition, "
            f"{r['client_after_last_s']:.2f} s after the last"
            f"{same.get(r.get('identical'), '')}"
        )
    for by, ratio in report.get("overhead_1_worker", {}).items():
        print(
            f"overhead at equal cores (1 worker by {by} / single machine): {ratio:.2f}x "
            f"({EQUAL_CORES})"
        )
    for run, ratio in report.get("overhead_cpu", {}).items():
        print(f"CPU seconds, Dask by {run} worker(s) / single machine: {ratio:.2f}x")
    ooc = report.get("out_of_core")
    if ooc:
        print(
            f"out of core: single-process check peak {ooc['single_peak_rss_mb']:,.0f} MB, "
            f"worker limit {ooc['memory_limit_mb']:,.0f} MB "
            f"({'below' if ooc['limit_below_half_single_peak'] else 'NOT below'} half the "
            f"single peak), worker peaks {ooc['worker_peak_rss_mb_max']:,.0f} MB max, client "
            f"peak {ooc['client_peak_rss_mb_max']:,.0f} MB max, "
            f"identical: {'yes' if ooc['identical'] else 'no'}; wall {ooc['single_s']:.0f} s "
            f"single vs {ooc['dask_s']:.0f} s on Dask"
        )
    m = report.get("map")
    if m:
        print(
            f"全国 map on {m['layers']}: open {m['open_s']:.1f} s, first map "
            f"{m['first_map_ms'] / 1000:.2f} s, zoom to grids {m['grid_zoom_ms'] / 1000:.2f} s "
            f"({m['grid_features_drawn']:,} grids drawn), recolour {m['recolour_ms'] / 1000:.2f} s"
        )
    ex = report["extrapolation"]
    print(
        f"600k communities / 500M households: {ex['national_worker_hours']:.1f} worker-hours; "
        f"{ex['workers_for_10_min']} workers finish in 10 minutes"
    )


def _out_of_core(single: dict, runs: list[dict], limit: str) -> dict:
    """The out-of-core figures: the single check's peak against the worker limit, identity."""
    from dask.utils import parse_bytes

    limit_mb = parse_bytes(limit) / 2**20
    return {
        "single_peak_rss_mb": single["rss_mb"],
        "memory_limit_mb": limit_mb,
        "limit_below_half_single_peak": limit_mb < single["rss_mb"] / 2,
        "worker_peak_rss_mb_max": max(r["worker_peak_rss_mb"] for r in runs),
        "client_peak_rss_mb_max": max(r["client_peak_rss_mb"] for r in runs),
        "identical": all(r.get("identical") for r in runs),
        "single_s": single["seconds"],
        "dask_s": max(r["seconds"] for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints a table and a JSON line."""
    a = _args(argv)
    shape = NationalShape(
        provinces=a.provinces,
        cities=a.cities,
        districts=a.districts,
        streets=a.streets,
        communities=a.communities,
        grids=a.grids,
        households_mean=a.households_mean,
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.data or Path(tmp) / "data")
        t = time.perf_counter()
        counts = _dataset(root, shape)
        gen_s = time.perf_counter() - t
        reference = metric = None
        if a.out_of_core and not a.no_single:
            metric = one_metric_crs(root, a.partition_by[0])
            if metric is None:
                sys.exit("--out-of-core needs data in one Gauss-Krüger zone (e.g. --provinces 1)")
            reference = Path(tmp) / "single"
            reference.mkdir()
        single = None if a.no_single else single_machine(root, "check", metric, reference)
        read = None if a.out_of_core else single_machine(root, "read")
        runs, last, streamed_map = [], None, None
        modes = ["stream", "memory"] if a.outputs == "both" else [a.outputs]
        for by in a.partition_by:
            for w in a.workers:
                folders = {}
                for mode in modes:
                    last = None  # one result held at a time
                    folders[mode] = Path(tmp) / f"out-{mode}"
                    run, last = on_dask(root, w, a.memory_limit, by, reference, mode, folders[mode])
                    runs.append(run)
                if len(folders) == 2:  # the streamed files are the in-memory result's
                    runs[-2]["same_outputs_as_memory"] = same_outputs(*folders.values())
                if a.map and "stream" in folders:  # the page on what `--out` wrote, as a planner
                    streamed_map = measure_written_map(folders["stream"])
                for folder in folders.values():
                    shutil.rmtree(folder, ignore_errors=True)
        report: dict[str, Any] = {
            "data": {**counts, "generate_s": round(gen_s, 1), "bytes": dataset_bytes(root)},
            "memory_limit_per_worker": a.memory_limit,
            "single_machine": single,
            "single_machine_read": read,
            "dask": runs,
            "extrapolation": extrapolate(runs[-len(a.workers) * len(modes)]),
        }
        if a.map:
            report["map"] = streamed_map or measure_map(last, Path(tmp) / "result")
    hh = counts["household_total"]
    if single is not None:
        single["households_per_s"] = hh / single["seconds"]
        # worker-seconds of the Dask run ÷ seconds of the single machine (1 core): the overhead
        # at equal cores; with 2 workers on 2 cores it also holds what the second core won
        report["equal_cores"] = EQUAL_CORES
        report["overhead_1_worker"] = {
            r["partition_by"]: r["seconds"] / single["seconds"] for r in runs if r["workers"] == 1
        }
        report["overhead_worker_seconds"] = {
            f"{r['partition_by']}/{r['workers']}": r["seconds"] * r["workers"] / single["seconds"]
            for r in runs
        }
        # CPU seconds of the Dask run (workers + this process) ÷ those of the single check
        report["overhead_cpu"] = {
            f"{r['partition_by']}/{r['workers']}": (r["cpu_s_workers"] + r["cpu_s_client"])
            / single["cpu_s"]
            for r in runs
        }
        if a.out_of_core:
            report["out_of_core"] = _out_of_core(single, runs, a.memory_limit)
    _print_report(report, counts, a.memory_limit)
    print(json.dumps(report, ensure_ascii=False))
    if a.json:
        Path(a.json).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
