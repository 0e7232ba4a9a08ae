"""Benchmark of the minimal-change rebalancer (issue 5).

On the same inputs in one run:

* ``lattice-1600``: a 40 × 40 lattice, 40 communities of 5 × 8 units, skewed households
  (lognormal, 5 % large compounds × 6) and perturbed counts (45 % of the communities
  grow × 1.35–1.9 or shrink × 0.3–0.65, every unit ± 15 %);
* ``sip``: the Suzhou Industrial Park comprehensive grids (``../shared/data/sip``, custom
  CRS "2000SZ", read through :func:`gridmap.read_study`) with synthetic households
  generated the same way (grids without a community by geometry are left out);
* ``city-10k``: a 100 × 100 lattice, 250 communities.

For each: our rebalancer (local subproblems; time, units moved, violations left,
contiguity), spopt ``MaxPHeuristic`` with threshold 1000 (time, regions outside
1000–3000) and the CP-SAT whole-map model (``local=False``) whose optimum is
reported when proven.

Usage::

    .venv/bin/python benchmarks/bench_rebalance.py            # full run (several minutes)
    .venv/bin/python benchmarks/bench_rebalance.py --quick    # 20 x 20 lattice + SIP, no spopt/10k
    .venv/bin/python benchmarks/bench_rebalance.py --cases lattice-1600 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gridmap.edits import community_pieces, lattice_adjacency  # noqa: E402
from gridmap.rebalance import Rebalancer, band_violations  # noqa: E402

SIP = ROOT.parent / "shared" / "data" / "sip" / "sip.gpkg"
MIN, MAX = 1000, 3000


def synth_households(comm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Skewed, perturbed households per unit for community codes ``comm`` (0 … k-1)."""
    n, k = len(comm), int(comm.max()) + 1
    hh = rng.lognormal(np.log(45), 0.5, n)
    hh[rng.random(n) < 0.05] *= 6  # large compounds (大型小区)
    tot = pd.Series(hh).groupby(comm).transform("sum").to_numpy()
    hh = hh / tot * rng.uniform(1300, 2700, k)[comm]
    factor = np.ones(k)
    sel = rng.choice(k, int(k * 0.45), replace=False)
    half = len(sel) // 2
    factor[sel[:half]] = rng.uniform(1.35, 1.9, half)
    factor[sel[half:]] = rng.uniform(0.3, 0.65, len(sel) - half)
    hh = hh * factor[comm] * rng.uniform(0.85, 1.15, n)
    return np.clip(np.round(hh), 1, MAX - 1).astype(np.int64)


def lattice_case(rows: int, cols: int, br: int = 5, bc: int = 8, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = rows * cols
    r, c = np.divmod(np.arange(n), cols)
    comm = (r // br) * -(-cols // bc) + (c // bc)
    labels = pd.Series([f"C{k:04d}" for k in comm], index=[f"U{i:05d}" for i in range(n)])
    return {"graph": lattice_adjacency(rows, cols), "households": synth_households(comm, rng), "labels": labels,
            "coords": np.column_stack([c, -r]).astype(float), "rows": rows, "cols": cols}


def sip_case(seed: int = 0) -> dict:
    import gridmap
    from gridmap.plans import Plan

    study = gridmap.read_study(f"{SIP}:communities", grids=f"{SIP}:grids_comprehensive")
    result = gridmap.check(study)
    grids = result.grids[result.grids["community_id"].notna()].copy()
    comm = pd.factorize(grids["community_id"])[0]
    grids["households"] = synth_households(comm, np.random.default_rng(seed))
    # SIP grids are separated by roads: neighbours within 30 m sharing ≥ 20 m of boundary
    plan = Plan(grids[["community_id", "households", "geometry"]], name="sip", tolerance=30.0)
    return {"graph": plan.graph, "households": plan.units["households"].to_numpy(), "labels": plan.labels,
            "coords": plan.coords(), "gdf": plan.units, "excluded": int(result.grids["community_id"].isna().sum())}


def run_ours(case: dict, *, local: bool, time_limit: float, locked=()) -> dict:
    t0 = time.perf_counter()
    rb = Rebalancer(case["graph"], case["households"], case["labels"], min_households=MIN, max_households=MAX,
                    coords=case["coords"], local=local, time_limit=time_limit, locked_communities=locked).solve()
    secs = time.perf_counter() - t0
    pieces = community_pieces(rb.labels_, case["graph"])
    before = community_pieces(case["labels"], case["graph"])
    worse = pieces[pieces > before.reindex(pieces.index).fillna(1)]
    return {"seconds": round(secs, 2), "status": rb.status_, "violations_before": rb.violations_before_,
            "violations_after": rb.violations_after_, "units_moved": rb.units_moved_,
            "households_moved": rb.households_moved_, "contiguous": bool(pieces.max() == 1),
            "pieces_added": int(len(worse)), "left": rb.moves_.empty and [] or sorted(
                band_violations(rb.labels_, case["households"], min_households=MIN, max_households=MAX).community_id),
            "communities_after": int(rb.labels_.nunique()), "proven": bool(rb.proven_), "subproblems": len(rb.subproblems_),
            "explanations": rb.explanations_[:5]}


def run_maxp(case: dict, *, max_iterations_sa: int = 10) -> dict:
    import geopandas as gpd
    from libpysal.weights import W
    from spopt.region import MaxPHeuristic

    g = case["graph"]
    n = g.shape[0]
    neighbors = {i: g.indices[g.indptr[i]:g.indptr[i + 1]].tolist() for i in range(n)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = W(neighbors, silence_warnings=True)
        df = gpd.GeoDataFrame({"households": case["households"], "x": case["coords"][:, 0], "y": case["coords"][:, 1]},
                              geometry=gpd.points_from_xy(case["coords"][:, 0], case["coords"][:, 1]))
        t0 = time.perf_counter()
        model = MaxPHeuristic(df, w, ["x", "y"], "households", MIN, top_n=2, max_iterations_construction=99,
                              max_iterations_sa=max_iterations_sa, verbose=False)
        np.random.seed(0)  # noqa: NPY002 (spopt draws from the global generator)
        model.solve()
        secs = time.perf_counter() - t0
    lab = pd.Series(model.labels_)
    out = band_violations(lab.astype(str), case["households"], min_households=MIN, max_households=MAX)
    regions = int(lab[lab > 0].nunique()) if (lab > 0).any() else 0
    return {"seconds": round(secs, 2), "regions": regions, "regions_outside_band": int(len(out)),
            "regions_above_max": int((out["status"] == "too_large").sum()),
            "share_above_max": round(float((out["status"] == "too_large").sum()) / max(1, regions), 3),
            "units_moved_vs_as_is": None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small lattice + SIP only, no spopt, short limits")
    ap.add_argument("--cases", nargs="*", help="subset: lattice-1600 sip city-10k")
    ap.add_argument("--time-limit", type=float, default=60.0, help="our solver's limit per case")
    ap.add_argument("--optimum-limit", type=float, default=120.0, help="whole-map CP-SAT limit (proven optimum)")
    ap.add_argument("--no-maxp", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    cases = args.cases or (["lattice-400", "sip"] if args.quick else ["lattice-1600", "sip", "city-10k"])
    results = {"machine": platform.platform(), "python": platform.python_version(), "cases": {}}
    for name in cases:
        if name == "sip" and not SIP.exists():
            print(f"skip sip: {SIP} not found")
            continue
        t0 = time.perf_counter()
        case = {"lattice-400": lambda: lattice_case(20, 20), "lattice-1600": lambda: lattice_case(40, 40),
                "sip": sip_case, "city-10k": lambda: lattice_case(100, 100)}[name]()
        prep = time.perf_counter() - t0
        n = len(case["labels"])
        row: dict = {"units": n, "communities": int(case["labels"].nunique()), "prepare_s": round(prep, 2),
                     "load_1min": round(os.getloadavg()[0], 2)}  # the machine may be shared: timings depend on it
        print(f"== {name}: {n} units, {row['communities']} communities (prepared in {prep:.1f} s, "
              f"load {row['load_1min']})", flush=True)
        row["ours"] = run_ours(case, local=True, time_limit=args.time_limit if not args.quick else 20)
        print("   ours   ", row["ours"], flush=True)
        if n <= 2000:
            # the whole-map model, with what ours could not fix held fixed (else it is infeasible as a whole)
            opt = run_ours(case, local=False, time_limit=args.optimum_limit if not args.quick else 30,
                           locked=row["ours"]["left"])
            row["cpsat_global"] = opt
            print("   global ", opt, flush=True)
            if opt["proven"] and opt["units_moved"]:
                row["ratio_to_optimum"] = round(row["ours"]["units_moved"] / opt["units_moved"], 3)
        if not args.quick and not args.no_maxp and n <= 2000:
            row["maxp"] = run_maxp(case)
            print("   maxp   ", row["maxp"], flush=True)
        results["cases"][name] = row
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
