"""Benchmark the national check on Dask against the single-machine check on the same data.

One run (``python benchmarks/bench_national.py [--districts N …] [--memory-limit 1GB]``):

1. writes a synthetic national dataset (``benchmarks/national_data.py``);
2. the single-machine check (``read_study`` + ``check`` on the whole data) in a child process:
   seconds and peak memory (RSS);
3. ``check_national`` on a LocalCluster with 1 and with 2 single-threaded workers, each with
   ``--memory-limit`` (out of core when the single-machine peak is above it): seconds,
   households/s per worker, peak RSS per worker, the Dask overhead at equal cores
   (1 worker ÷ single machine);
4. the measured cost per partition extrapolated to 600 000 communities / 500 M households,
   and the number of workers that would finish that in 10 minutes.

Prints a table and a JSON line (``--json FILE`` writes it). ``--data DIR`` keeps the dataset
(generated there when DIR is empty, reused otherwise); ``--no-single`` skips step 2 (data too
large for the single-machine check in the time at hand: ``single_machine`` is then null;
``single_machine_read``, the peak of one process reading the whole data, is always measured). The
1-minute load average before and after each timing is recorded (``load``): on a shared machine
the seconds are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from national_data import NationalShape, write_national  # noqa: E402

LAYERS = ("communities", "grids", "households", "facilities")
NATIONAL_COMMUNITIES = 600_000
NATIONAL_HOUSEHOLDS = 500_000_000
TARGET_S = 600.0

_SINGLE = """
import json, resource, sys, time
import gridmap
from gridmap.national import NationalSource
root = sys.argv[1]
t = time.perf_counter()
src = NationalSource({k: f"{root}/{k}" for k in ("communities", "grids", "households", "facilities")})
study = gridmap.read_study(**{k: src.read(k) for k in src.kinds()})
result = gridmap.check(study) if sys.argv[2] == "check" else study
print(json.dumps({"seconds": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "communities": len(result.communities), "what": sys.argv[2]}))
"""


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def single_machine(root: Path, what: str = "check") -> dict:
    """The single-machine check in a child process: seconds, peak RSS, machine load.

    ``what="read"``: only reading the whole data into one study (``read_study``), the least
    a single process needs before the check starts.
    """
    before = _load()
    out = subprocess.run(
        [sys.executable, "-c", _SINGLE, str(root), what],
        capture_output=True,
        text=True,
        check=True,
    )
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load": [before, _load()]}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def on_dask(root: Path, workers: int, memory_limit: str, partition_by: str = "auto") -> dict:
    """``check_national`` on a fresh LocalCluster: seconds, per-partition cost, worker peaks."""
    from distributed import Client, LocalCluster

    from gridmap.national import NationalSource, check_national

    source = NationalSource({k: root / k for k in LAYERS})
    before = _load()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            memory_limit=memory_limit,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        t = time.perf_counter()
        result = check_national(source, scheduler=client, partition_by=partition_by)
        seconds = time.perf_counter() - t
        peaks = client.run(_peak_rss_mb)
    parts = result.partitions
    households = int(result.summary()["households_total"])
    return {
        "partition_by": partition_by,
        "workers": workers,
        "seconds": seconds,
        "households_per_s_per_worker": households / seconds / workers,
        "partitions": len(parts),
        "partition_communities_mean": float(parts["communities"].mean()),
        "partition_seconds_sum": float(parts["seconds"].sum()),
        "partition_seconds_max": float(parts["seconds"].max()),
        "worker_peak_rss_mb": max(peaks.values()),
        "worker_peak_rss_mb_each": sorted(peaks.values()),
        "communities": len(result.communities),
        "households": households,
        "load": [before, _load()],
    }


def extrapolate(run: dict) -> dict:
    """Worker-seconds for the country from a run's per-household partition cost.

    Fed the 1-worker run: its partitions ran alone, so their seconds are the work itself, not
    the work plus waiting for a shared core.
    """
    per_hh = run["partition_seconds_sum"] / max(run["households"], 1)
    per_comm = run["partition_seconds_sum"] / max(run["communities"], 1)
    total = max(per_hh * NATIONAL_HOUSEHOLDS, per_comm * NATIONAL_COMMUNITIES)
    return {
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints a table and a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provinces", type=int, default=2)
    ap.add_argument("--cities", type=int, default=1)
    ap.add_argument("--districts", type=int, default=3)
    ap.add_argument("--streets", type=int, default=2)
    ap.add_argument("--communities", type=int, default=6)
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
    a = ap.parse_args(argv)
    shape = NationalShape(
        provinces=a.provinces,
        cities=a.cities,
        districts=a.districts,
        streets=a.streets,
        communities=a.communities,
        households_mean=a.households_mean,
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.data or tmp)
        t = time.perf_counter()
        counts = _dataset(root, shape)
        gen_s = time.perf_counter() - t
        single = None if a.no_single else single_machine(root)
        read = single_machine(root, "read")
        runs = [on_dask(root, w, a.memory_limit, by) for by in a.partition_by for w in a.workers]
    hh = counts["household_total"]
    report = {
        "data": {**counts, "generate_s": round(gen_s, 1)},
        "memory_limit_per_worker": a.memory_limit,
        "single_machine": single,
        "single_machine_read": read,
        "dask": runs,
        "extrapolation": extrapolate(runs[-len(a.workers)]),
    }
    print(
        f"data: {counts['communities']:,} communities, {counts['grids']:,} grids, {hh:,} households"
    )
    print(
        f"single process, reading the whole data (read_study): {read['seconds']:.1f} s, "
        f"peak {read['rss_mb']:.0f} MB"
    )
    if single is not None:
        single["households_per_s"] = hh / single["seconds"]
        # worker-seconds of the Dask run ÷ seconds of the single machine (1 core): the overhead
        # at equal cores; with 2 workers on 2 cores it also holds what the second core won
        report["overhead_1_worker"] = {
            r["partition_by"]: r["seconds"] / single["seconds"] for r in runs if r["workers"] == 1
        }
        report["overhead_worker_seconds"] = {
            f"{r['partition_by']}/{r['workers']}": r["seconds"] * r["workers"] / single["seconds"]
            for r in runs
        }
        print(
            f"single machine: {single['seconds']:.1f} s, {single['households_per_s']:,.0f} "
            f"households/s, peak {single['rss_mb']:.0f} MB (load {single['load']})"
        )
    for r in runs:
        rate = hh / r["seconds"] / r["workers"]
        print(
            f"dask by {r['partition_by']}, {r['workers']} worker(s): {r['seconds']:.1f} s over "
            f"{r['partitions']} partitions, "
            f"{rate:,.0f} households/s per worker, worker peaks "
            f"{', '.join(f'{m:.0f}' for m in r['worker_peak_rss_mb_each'])} MB "
            f"(limit {a.memory_limit}), load {r['load']}"
        )
    for by, ratio in report.get("overhead_1_worker", {}).items():
        print(f"overhead at equal cores (1 worker by {by} / single machine): {ratio:.2f}x")
    ex = report["extrapolation"]
    print(
        f"600k communities / 500M households: {ex['national_worker_hours']:.1f} worker-hours; "
        f"{ex['workers_for_10_min']} workers finish in 10 minutes"
    )
    print(json.dumps(report, ensure_ascii=False))
    if a.json:
        Path(a.json).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
