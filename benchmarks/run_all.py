"""Rerun every benchmark and write its tables into ``docs/benchmarks.md``.

Each benchmark runs as its own process (``--json`` output), ``--runs`` times (default 3);
every figure is given as median (min–max) over the runs next to its baseline from the
same runs, and the ratio baseline / gridmap is the median of the per-run ratios. Each
block states the machine, the load average at its start and end (**noisy** above 1.5 at its
start: the end counts the benchmark's own processes),
the cost of fresh memory and of a random read at its start and end (``machine_state.py``),
versions, date, commit, and every target of the issues as met / missed (naming the
dominating stage when the benchmark reports one). The tables go between generated
markers in the document::

    <!-- run_all:NAME:begin -->  …  <!-- run_all:NAME:end -->

(a missing block is appended at the end), and the ``index`` block lists every block with
the date, commit and state of the run its figures come from (``--only`` rewrites only the
blocks named and the index). A benchmark that fails, times out or cannot run here (no
Chromium, no PostgreSQL, …) gets a block that says so, instead of old figures. A figure a
benchmark does not report (an older or newer JSON) reads "not measured".

Before each benchmark after the first, it waits for the 1-minute load average the previous
one left to fall below a quarter of the cores (at most ``--settle`` seconds, default 120, and only in the
budget's spare time), so that later blocks do not start on a loaded machine.

Benchmarks run cheapest first; each keeps the time the later ones are expected to need
(its further runs stop, a runaway run is cut), so a budget cut falls on the expensive ones
and never skips a cheap one.

    python benchmarks/run_all.py                     # everything, 3 runs each, ≤ 40 min
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

from run_all_benches import BENCHES, MORE_VERSIONS  # noqa: E402
from run_all_blocks import (  # noqa: E402
    CORE_VERSIONS,
    Bench,
    index,
    read_block,
    skipped,
    table,
    write_block,
)

__all__ = ["BENCHES", "index", "last_json", "main", "plan", "read_block", "run_once", "table"]
__all__ += ["write_block"]

ROOT = HERE.parent
DOC = ROOT / "docs" / "benchmarks.md"

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
    args = [
        a.replace("{workdir}", str(workdir)) for a in (bench.quick_args if quick else bench.args)
    ]
    cmd = [sys.executable, str(HERE / bench.script), *args]
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


def settle(
    seconds: float,
    below: float | None = None,
    load=lambda: os.getloadavg()[0],
    sleep=time.sleep,
) -> tuple[float, float]:
    """Wait up to ``seconds`` for the 1-minute load average to fall below ``below``.

    ``below`` defaults to a quarter of the cores (0.5 on 2 cores).

    A benchmark's own processes leave the load at 1–3 for the next one (the average decays
    with a one-minute time constant), which made every block after the first "noisy".
    Returns ``(seconds waited, load average at the end)``.
    """
    if below is None:
        below = 0.25 * (os.cpu_count() or 1)
    waited, now = 0.0, load()
    while now >= below and waited < seconds:
        step = min(5.0, seconds - waited)
        sleep(step)
        waited += step
        now = load()
    return waited, now


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far.

    Far less affected than wall time by other work on a shared machine: a run's CPU seconds
    bound what its wall time would be on quiet cores (between CPU / cores and CPU).
    """
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def memory_state() -> dict:
    """Fresh-memory seconds per GiB and random-read ns now (``machine_state.py``, a fresh process).

    ``{}`` when the probe fails. On the VM of the 29 Nov runs fresh memory cost 0.4–10 s per GiB
    from one minute to the next (the host takes freed memory back), which is what made the
    allocation-heavy baselines drift: each block states it at its start and end.
    """
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "machine_state.py")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return last_json(proc.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


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
    """Each benchmark with its number of runs and expected seconds, cheapest first.

    Quick: 1 run, a sixth of the time. Cheapest first, so that a budget cut (or a benchmark
    that overruns) falls on the expensive ones, never on the quick ones.
    """
    out = []
    for name in names:
        bench = BENCHES[name]
        n = 1 if quick else (bench.runs or runs)
        out.append((name, n, bench.expected(n) / (6 if quick else 1)))
    return sorted(out, key=lambda row: row[2])


def first_run(name: str, quick: bool) -> float:
    """Expected seconds of one benchmark's first run."""
    return BENCHES[name].est_s / (6 if quick else 1)


def run_bench(
    name: str,
    n: int,
    quick: bool,
    tmp: Path,
    deadline: float | None,
    keep: float = 0.0,
    keep_one: float = 0.0,
) -> list[dict]:
    """Up to ``n`` runs of one benchmark; none runs past ``deadline`` (a ``perf_counter`` time).

    ``keep``: the seconds the benchmarks after this one are expected to need; ``keep_one``: one
    run of each. No further run starts when the last one's time would pass ``deadline - keep``,
    and a run still going at ``deadline - keep_one`` (but not before twice its expected time)
    is cut (it fails, "did not finish"): an overrunning benchmark loses runs of its own, not
    the later benchmarks.
    """
    bench, runs = BENCHES[name], []
    for k in range(n):
        t, cpu = time.perf_counter(), children_cpu()
        left = bench.timeout
        if deadline is not None:
            own = max(deadline - keep_one - t, 2 * first_run(name, quick))
            left = min(bench.timeout, deadline - t, own)
        runs.append(run_once(name, bench, quick, tmp, max(left, 1.0)))
        took, cpu = time.perf_counter() - t, children_cpu() - cpu
        status = runs[-1].get("error", "ok")
        print(f"{name} run {k + 1}/{n}: {took:.1f} s ({cpu:.0f} s CPU), {status}", flush=True)
        if deadline is not None and k + 1 < n and time.perf_counter() + took > deadline - keep:
            print(f"{name}: budget reached after {k + 1} run(s)", flush=True)
            break
    return runs


def one_bench(
    name: str,
    n: int,
    expected: float,
    args: argparse.Namespace,
    info: dict,
    tmp: Path,
    deadline: float | None,
    keep: float,
    keep_one: float,
) -> dict:
    """Run one benchmark (or skip it for the budget): its block's text, runs and elapsed time.

    Skipped only when its first run would not fit in what is left (the cheap ones run first,
    so they always run); further runs stop where they would eat into ``keep`` seconds, the
    time the later benchmarks need, and a runaway run is cut (see :func:`run_bench`).
    """
    bench, t0 = BENCHES[name], time.perf_counter()
    doc_path = Path(args.doc)
    doc = doc_path.read_text(encoding="utf-8") if doc_path.exists() else ""
    if deadline is not None and t0 + first_run(name, args.quick) > deadline:
        left = (deadline - t0) / 60
        why = f"budget ({left:.1f} of {args.budget:g} min left)"
        text = skipped(bench, info, why, read_block(doc, name))
        print(f"{name}: skipped: budget (expected {expected:.0f} s)", flush=True)
        print(text, flush=True)
        return {"text": text, "elapsed_s": 0.0}
    here = {**info, **machine(), "memory": memory_state()}
    runs = run_bench(name, n, args.quick, tmp, deadline, keep, keep_one)
    if len(runs) < n:
        here["budget_cut"] = f"{len(runs)} of {n} planned runs: budget"
    here["load_end"], here["memory_end"] = load(), memory_state()
    here["elapsed_s"] = time.perf_counter() - t0
    text = table(name, bench, runs, here, args.quick)
    print(text, flush=True)
    return {"text": text, "runs": runs, "elapsed_s": here["elapsed_s"]}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks asked for and write their blocks; see the module docstring."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small scales, 1 run: a smoke test")
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), help="only these benchmarks")
    ap.add_argument("--runs", type=int, default=3, help="runs per benchmark (default 3)")
    ap.add_argument(
        "--budget",
        type=float,
        default=40.0,
        help="minutes (default 40): skip (and mark 'skipped: budget') benchmarks expected not "
        "to fit, stop a benchmark's runs and cut a run at the end of the budget",
    )
    ap.add_argument(
        "--doc", default=str(DOC), help="the document to write (default docs/benchmarks.md)"
    )
    ap.add_argument("--json", help="also write every run's raw results to this file")
    ap.add_argument(
        "--settle",
        type=float,
        default=120.0,
        help="seconds (default 120) to wait before each benchmark after the first for the "
        "1-minute load average to fall below a quarter of the cores (only in the budget's spare "
        "time; not --quick)",
    )
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
        for i, (name, n, expected) in enumerate(todo):
            later = todo[i + 1 :]
            keep = sum(s for _, _, s in later)  # what the later benchmarks need
            if i and not args.quick:  # let the load the previous benchmark left fall first,
                # in the budget's spare time only
                spare = args.settle
                if deadline is not None:
                    spare = min(spare, deadline - time.perf_counter() - expected - keep)
                waited, now = settle(max(spare, 0.0))
                print(f"settled {waited:.0f} s: load {now:.2f}", flush=True)
            keep_one = sum(first_run(other, args.quick) for other, _, _ in later)
            block = one_bench(name, n, expected, args, info, Path(tmp), deadline, keep, keep_one)
            if "runs" in block:
                raw["results"][name] = block["runs"]
            text = doc_path.read_text(encoding="utf-8") if doc_path.exists() else "# Benchmarks\n"
            text = write_block(text, name, block["text"])
            doc_path.write_text(write_block(text, "index", index(text)), encoding="utf-8")
            print(
                f"{name}: {block['elapsed_s']:.0f} s elapsed (expected {expected:.0f} s); "
                f"{(time.perf_counter() - start) / 60:.1f} min in total",
                flush=True,
            )
    print(f"all done in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
