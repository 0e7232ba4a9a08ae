"""Benchmark: plan workspaces — a 60 k-grid plan on PostGIS vs GeoPackage, and 20 editors at once.

Plan (default): 60,000 square grids (240 × 250) in 100 communities of 600 grids, lattice
adjacency. Per store, timed:

* ``first save``: the whole plan (60 k rows with geometry) into an empty workspace;
* ``load``: :func:`gridmap.load_plan` (read, digest check, journal replay);
* ``edit + save``: move one grid and save (median and p95 of ``--repeat`` saves);
* ``stale save refused``: a copy loaded before another save is refused with the units changed
  (PlanConflict), and ``rebase + save`` re-applies it on the stored plan.

Then ``--editors`` processes (default 20) edit the same plan, each moving a grid of its own
community back and forth for ``--seconds``: keep the copy, edit, ``save(ws, rebase=True)``
(a copy others saved meanwhile takes their entries and re-applies its own under the row lock;
a PlanConflict would mean both changed a grid, which cannot happen here). Reported: accepted saves per second, p95 latency
of an accepted edit (save, or refused save + rebase + save), conflicts, failures (any other
error), and whether the final plan equals the replay of its journal with every accepted edit
once.

PostGIS: ``--pg-url`` (or ``GRIDMAP_BENCH_PG_URL``), else a throwaway cluster is started as
for the tests (tests/pg_fixtures.py).

    python benchmarks/bench_plans.py [--units 60000] [--editors 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import box

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from gridmap.adjacency import adjacency_from_pairs  # noqa: E402
from gridmap.plans import Plan, PlanConflict, load_plan  # noqa: E402

ROWS_PER_BLOCK, COLS_PER_BLOCK = 24, 25


def build_plan(units: int) -> Plan:
    """A rows × 250 lattice (≈ ``units`` grids), communities of 24 × 25 grids."""
    cols = 250
    rows = max(ROWS_PER_BLOCK, units // cols)
    n = rows * cols
    r, c = np.divmod(np.arange(n), cols)
    comm = (r // ROWS_PER_BLOCK) * (cols // COLS_PER_BLOCK) + c // COLS_PER_BLOCK
    frame = gpd.GeoDataFrame(
        {
            "community_id": [f"C{k:03d}" for k in comm],
            "households": np.full(n, 10),
            "name": [f"网格{i}" for i in range(n)],
        },
        geometry=[box(500_000 + x * 50, 3_350_000 - y * 50, 500_050 + x * 50, 3_350_050 - y * 50)
                  for y, x in zip(r, c, strict=True)],
        index=pd.Index([f"G{i:06d}" for i in range(n)], name="unit_id"),
        crs=4549,
    )  # fmt: skip
    right = np.flatnonzero(c < cols - 1)
    down = np.flatnonzero(r < rows - 1)
    graph = adjacency_from_pairs(
        np.concatenate([right, down]), np.concatenate([right + 1, down + cols]), n
    )
    return Plan(frame, name="区方案", author="bench", graph=graph)


def boundary_unit(plan: Plan, community: str) -> tuple[str, str]:
    """A grid of ``community`` on its right edge and the community to its right."""
    labels = plan.labels
    members = np.flatnonzero((labels == community).to_numpy())
    pos = int(members[(members % 250) == (members % 250).max()][0])
    return labels.index[pos], labels.iloc[pos + 1] if (pos % 250) < 249 else labels.iloc[pos - 1]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def single_editor(ws, plan: Plan, repeat: int) -> dict:
    first, _ = timed(lambda: plan.save(ws))
    load, mine = timed(lambda: load_plan(ws, plan.name, graph=plan.graph))
    unit, other = boundary_unit(mine, "C000")
    home = mine.labels[unit]
    saves = []
    for i in range(repeat):
        assert mine.move([unit], other if i % 2 == 0 else home, allow_islands=True).ok
        saves.append(timed(lambda: mine.save(ws))[0])
    stale = load_plan(ws, plan.name, graph=plan.graph)
    comms = sorted(stale.labels.unique())
    unit2, other2 = boundary_unit(stale, comms[len(comms) // 2])
    stale.move([unit2], other2, allow_islands=True)
    assert mine.move([unit], other if mine.labels[unit] == home else home, allow_islands=True).ok
    mine.save(ws)
    t0 = time.perf_counter()
    try:
        stale.save(ws)
        raise AssertionError("a stale save went through")
    except PlanConflict as exc:
        refused = time.perf_counter() - t0
        assert exc.changed == (unit,)
    rebase, rebased = timed(lambda: stale.rebase(ws))
    resave, _ = timed(lambda: rebased.save(ws))
    return {
        "first_save_s": first,
        "load_s": load,
        "save_median_s": float(np.median(saves)),
        "save_p95_s": float(np.percentile(saves, 95)),
        "stale_refused_s": refused,
        "rebase_s": rebase,
        "rebased_save_s": resave,
    }


def _editor(ws: str, plan: Plan, community: str, seconds: float, out: str) -> None:
    """One planner: edit a grid of ``community``, save; on a conflict rebase and save again."""
    name, graph = plan.name, plan.graph
    unit, other = boundary_unit(plan, community)
    home = plan.labels[unit]
    accepted, conflicts, failures, latencies = [], 0, [], []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        to = other if i % 2 == 0 else home
        comment = f"{community}-{i}"
        t0 = time.perf_counter()
        try:
            assert plan.move([unit], to, comment=comment, allow_islands=True).ok
            plan.save(ws, rebase=True)  # a stale copy is rebased under the row lock
            accepted.append(comment)
            latencies.append(time.perf_counter() - t0)
        except PlanConflict:  # cannot happen here: each editor has its own grid
            conflicts += 1
            plan = load_plan(ws, name, graph=graph)
        except Exception as exc:  # noqa: BLE001 - counted as a failure
            failures.append(f"{type(exc).__name__}: {exc}"[:200])
            plan = load_plan(ws, name, graph=graph)
        i += 1
    Path(out).write_text(json.dumps({"accepted": accepted, "conflicts": conflicts,
                                     "failures": failures, "latencies": latencies}))  # fmt: skip


def many_editors(ws, plan: Plan, editors: int, seconds: float, tmp: Path) -> dict:
    plan.save(ws)  # every editor starts from this saved copy (forked: loaded once)
    mp = multiprocessing.get_context("fork")
    outs = [str(tmp / f"editor{k}.json") for k in range(editors)]
    every = sorted(plan.labels.unique())
    comms = [every[k * len(every) // editors] for k in range(editors)]
    procs = [
        mp.Process(target=_editor, args=(ws, plan, comms[k], seconds, outs[k]))
        for k in range(editors)
    ]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    runs = [json.loads(Path(o).read_text()) for o in outs]
    accepted = [c for r in runs for c in r["accepted"]]
    latencies = [x for r in runs for x in r["latencies"]]
    final = load_plan(ws, plan.name, graph=plan.graph)  # digest + replay verified
    journal = [e["comment"] for e in final.journal]
    return {
        "editors": editors,
        "seconds": round(wall, 1),
        "accepted_saves": len(accepted),
        "saves_per_s": round(len(accepted) / wall, 2),
        "p95_edit_s": round(float(np.percentile(latencies, 95)), 3) if latencies else None,
        "conflicts": sum(r["conflicts"] for r in runs),
        "failures": sum(len(r["failures"]) for r in runs),
        "failure_examples": [f for r in runs for f in r["failures"]][:3],
        "journal_has_every_accepted_save_once": sorted(journal) == sorted(accepted),
        "exit_codes": sorted({p.exitcode for p in procs}),
    }


def postgis_server(url: str | None):
    """``url``, or a throwaway cluster's URL and how to stop it."""
    if url:
        return url, None
    import pg_fixtures

    bindir = pg_fixtures.bin_dir()
    started, folder, user = pg_fixtures.start_cluster(bindir)
    return started, lambda: pg_fixtures.stop_cluster(bindir, folder, user)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=60_000)
    ap.add_argument("--editors", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--stores", default="gpkg,postgis")
    ap.add_argument("--pg-url", default=os.environ.get("GRIDMAP_BENCH_PG_URL"))
    ap.add_argument("--json", help="write the figures to this file (for run_all.py)")
    args = ap.parse_args()
    stores = args.stores.split(",")
    t, plan = timed(lambda: build_plan(args.units))
    print(f"plan: {len(plan.units)} grids, {plan.labels.nunique()} communities ({t:.1f} s)")
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-bench-plans-"))
    server, stop = postgis_server(args.pg_url) if "postgis" in stores else (None, None)
    results = {}
    try:
        for store in stores:
            for part in ("single", "many"):
                ws: str | Path = (
                    tmp / f"{part}.gpkg"
                    if store == "gpkg"
                    else f"{server}{'&' if '?' in str(server) else '?'}schema=b{uuid.uuid4().hex[:8]}"
                )
                fresh = build_plan(args.units)
                results[(store, part)] = (
                    single_editor(ws, fresh, args.repeat)
                    if part == "single"
                    else many_editors(ws, fresh, args.editors, args.seconds, tmp)
                )
                print(
                    store, part, json.dumps(results[(store, part)], ensure_ascii=False), flush=True
                )
    finally:
        if stop is not None:
            stop()
    if args.json:
        flat = {f"{store}/{part}": r for (store, part), r in results.items()}
        Path(args.json).write_text(json.dumps(flat, ensure_ascii=False), encoding="utf-8")
    print("\n| step | " + " | ".join(stores) + " |")
    print("|---|" + "---:|" * len(stores))
    for key in results[(stores[0], "single")]:
        print(
            f"| {key} | "
            + " | ".join(f"{results[(s, 'single')][key]:.3f} s" for s in stores)
            + " |"
        )
    for key in ("accepted_saves", "saves_per_s", "p95_edit_s", "conflicts", "failures",
                "journal_has_every_accepted_save_once"):  # fmt: skip
        print(f"| {args.editors} editors: {key} | "
              + " | ".join(str(results[(s, "many")][key]) for s in stores) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
