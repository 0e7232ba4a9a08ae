"""Benchmark: coverage of a large synthetic city for 5 facility types, against the usual tools.

City (default ``--scale 1.0``): 10 M households in 500 k building points, a
jittered lattice walking network of ~1 M nodes / ~1.7 M edges (15 % of the
lattice edges removed, plus long diagonal streets that cross the lattice without
shared vertices, so noding is exercised), and 5 facility types:

==================  ======  ======
type                count   radius
==================  ======  ======
kindergarten         6 000   300 m
elderly_daycare      4 000   300 m
primary_school       3 000   500 m
market               2 500   500 m
bus_stop            12 000   500 m
==================  ======  ======

Counts scale with ``--scale`` (network nodes and buildings too). The city
(``coverage_city.py``) is generated into ``--workdir`` once per scale and seed and
reused by later runs (not timed). Each part runs in its own fresh process, so that
its peak memory (max RSS) is its own and no run inherits another's memory, and
reports its CPU seconds and page faults (``proc``); the machine's fresh-memory
cost is probed before and after the parts (``memory_probe``, ``machine_state.py``):
on a VM that hands freed memory back to its host it decides how fast the
allocation-heavy baselines run.

* ``gridmap``: straight line (cKDTree, exact) for all 5 types; network: build
  (noding + graph + components), build the segment index for snapping (stage
  ``snap_index``), snap facilities onto edges, start the 5 multi-source Dijkstra runs with limit
  (worker processes, as ``gridmap.coverage`` does), snap the households
  meanwhile, then the household distances.
* ``gridmap_network_serial``: the same network part with the Dijkstra runs in
  the same process (one core), for the single-core figure.
* ``sjoin``: geopandas ``buffer`` (16 segments per quarter circle) + ``sjoin``;
  reports how many buildings the polygonised buffers misclassify.
* ``networkx``: graph build + ``multi_source_dijkstra_path_length(cutoff=r)``
  from the facilities' nearest nodes, households at their nearest node, on the
  noded network the gridmap part saved (``network.npz``; built here if absent).
  ``--networkx-facilities 0.25`` routes from a fixed random quarter of each type's
  facilities (seed 7; its Dijkstra runs take 60–200 s on all of them on 2 vCPUs),
  and the gridmap part is timed again on the same quarter
  (``same_facilities_as_networkx``; the median of 3 runs, each from the network
  as ``build_network`` returned it, so its snapping index is built in the timed
  run): the ratio is like for like. Both sides start from the noded network:
  networkx's figure includes building its graph and the k-d tree of its nodes,
  gridmap's its segment index; gridmap's CSR graph is built with the network
  (for the components) and not timed again. networkx snaps each building to its
  nearest node, gridmap to the nearest point on an edge.
* ``pandana``: ``Network`` (contraction-hierarchy index build timed),
  ``set_pois`` + ``nearest_pois`` per type, ``get_node_ids`` for households.

pandana's contraction-hierarchy build does not finish at full scale within 15 min;
``--pandana-scale`` runs it (and gridmap's network part, timed again for the
comparison) on a smaller city in the same run.

    python benchmarks/bench_coverage.py [--scale 1.0] [--parts gridmap,gridmap_network_serial,sjoin,networkx,pandana] [--pandana-scale 0.1] [--networkx-facilities 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules

from coverage_baselines import maxrss_mb, part_networkx, part_pandana, part_sjoin  # noqa: E402
from coverage_city import (
    TYPES,
    city_once,
    facility_sample,
    load_city,
    save_network,
)  # noqa: E402
from machine_state import memory_probe, proc_stats  # noqa: E402


class _Stages:
    """Times named stages into ``out``: ``<prefix><name>_s`` (wall) and ``_cpu_s`` (this process).

    CPU seconds count every thread of this process (not worker processes): on a shared machine
    they show where the work goes even when the wall times are stretched by other jobs.
    """

    def __init__(self, out: dict, prefix: str = ""):
        self.out, self.prefix = out, prefix
        self.names: list[str] = []

    @contextmanager
    def __call__(self, name: str):
        t, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            key = self.prefix + name
            self.out[key + "_s"] = time.perf_counter() - t
            self.out[key + "_cpu_s"] = time.process_time() - cpu
            self.names.append(key)


def _children_maxrss_mb() -> float:
    """The largest worker process (e.g. gridmap's Dijkstra workers; copy-on-write pages shared with this one count in both)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def _build(city, out: dict):
    """gridmap's network build (noding, graph, components), timed; saved for the networkx part."""
    import geopandas as gpd
    import shapely

    from gridmap.network import build_network

    t = time.perf_counter()
    lines = np.concatenate([shapely.linestrings(city["seg"]), shapely.linestrings(city["diag"])])
    layer = gpd.GeoSeries(lines, crs=4549)
    out["make_geoseries_s"] = time.perf_counter() - t
    t = time.perf_counter()
    net = build_network(layer)
    out["network_build_s"] = time.perf_counter() - t
    save_network(net)
    out["network"] = {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "noded_lines": net.noded,
        "components": len(net.components),
    }
    return net


def _gridmap_network(
    city, out: dict, workers: int | None = None, net=None, keep: np.ndarray | None = None
) -> dict:
    """gridmap on the walking network: build, snap (each building and facility once), Dijkstra × 5.

    ``net``: an already built network (not built again); ``keep``: the facilities to use (all).
    """
    from gridmap.network import (
        augmented_graph,
        dijkstra_groups,
        prepare_snapping,
        snap_points,
        target_distances,
    )
    from gridmap.network.parallel import fork_workers

    keep = np.ones(len(city["fac_t"]), bool) if keep is None else keep
    bxy, fxy, ft = city["bxy"], city["fac_xy"][keep], city["fac_t"][keep]
    stage = _Stages(out)
    net = _build(city, out) if net is None else net
    # as gridmap.coverage does it: facilities first, the 5 Dijkstra runs start in worker processes,
    # the households are snapped meanwhile
    t = time.perf_counter()
    with stage("snap_index"):  # the segment index (once per network; none if cached on it)
        prepare_snapping(net)
    with stage("snap_facilities"):
        fs = snap_points(net, fxy, max_snap_m=200)
        graph, full = augmented_graph(net, fs)
    masks = {typ: (ft == typ) & fs.ok for typ in TYPES}
    # distances only (covered or not), as the networkx baseline computes them; gridmap.coverage also
    # tracks the nearest facility (nearest=True, ~15 % more Dijkstra time)
    with stage("dijkstra_start"):  # in this process: all 5 runs
        runs = dijkstra_groups(
            net,
            graph,
            [(np.flatnonzero(masks[typ]), r) for typ, (_, r) in TYPES.items()],
            all_sources=full,
            workers=workers,
            nearest=False,
        )
    with stage("snap_buildings"):  # and their legs to the edges' ends, as gridmap.coverage does
        hs = snap_points(net, bxy, max_snap_m=200)
        hs.legs(net)
    covered_n = {}
    with stage("dijkstra_wait_and_targets"):
        for (typ, (_, r)), run in zip(TYPES.items(), runs, strict=True):
            node_d, node_src = run.result()
            d, _ = target_distances(net, hs, fs, node_d, node_src, limit=r, source_mask=masks[typ])
            covered_n[typ] = d <= r + 1e-6
    out["dijkstra_workers"] = (
        workers if workers is not None else fork_workers(net.n_nodes, len(TYPES))
    )
    out["network_5_types_incl_snap_s"] = time.perf_counter() - t
    out["facilities"] = int(keep.sum())
    # this process's CPU seconds (every thread): all the work when the Dijkstra runs are in-process
    out["network_5_types_incl_snap_cpu_s"] = sum(out[k + "_cpu_s"] for k in stage.names)
    out["network_stages"] = stage.names
    if out["dijkstra_workers"] == 0:  # all 5 runs in this process
        out["dijkstra_5_types_s"] = out["dijkstra_start_s"] + out["dijkstra_wait_and_targets_s"]
    return covered_n


def _as_built(net):
    """``net`` as build_network returned it (CSR graph, edge coordinates), without what later runs
    cached on it (the snapping index, the STRtree): a timed run builds those again."""
    fresh = dataclasses.replace(net, _cache={"coords": net._cache["coords"]})
    fresh.__dict__["graph"] = net.graph  # built by build_network (for the components)
    return fresh


#: gridmap's like-for-like run is repeated (1–2 s each) and the median run reported
LIKE_REPEATS = 3


def _same_facilities_as_networkx(city, net, out: dict) -> None:
    """gridmap again, on the networkx part's sample of facilities (the like-for-like figure).

    From the network as built (:func:`_as_built`): the snapping index is built and timed again,
    as networkx's figure includes the k-d tree of its nodes and its graph. The median of
    :data:`LIKE_REPEATS` runs (all in ``repeats_s``), with that run's stages.
    """
    keep = city.get("nx_keep")
    if keep is not None and not keep.all():
        runs = []
        for _ in range(LIKE_REPEATS):  # the median of several, each from the network as built
            same: dict = {"facilities": int(keep.sum())}
            _gridmap_network(city, same, net=_as_built(net), keep=keep)
            runs.append(same)
        runs.sort(key=lambda r: r["network_5_types_incl_snap_s"])
        same = runs[len(runs) // 2]
        same["repeats_s"] = [r["network_5_types_incl_snap_s"] for r in runs]
        out["same_facilities_as_networkx"] = same


def part_gridmap_network(city) -> dict:
    out: dict = {}
    _gridmap_network(city, out)
    out["peak_rss_mb"] = maxrss_mb()
    out["worker_peak_rss_mb"] = _children_maxrss_mb()
    return out


def part_gridmap_network_serial(city) -> dict:
    """The same in this process only (one core), on networkx's facilities (all by default)."""
    out: dict = {}
    _gridmap_network(city, out, workers=0, keep=city.get("nx_keep"))
    out["peak_rss_mb"] = maxrss_mb()
    return out


def part_gridmap(city) -> dict:
    out: dict = {}
    w = city["hh"]
    covered_s = _straight(city, out)
    out["straight_share"] = {k: float(w[v].sum() / w.sum()) for k, v in covered_s.items()}
    np.save(os.environ["BENCH_WORK"] + "/straight.npy", np.stack([covered_s[k] for k in TYPES]))

    net = _build(city, out)
    covered_n = _gridmap_network(city, out, net=net)
    _same_facilities_as_networkx(city, net, out)
    out["worker_peak_rss_mb"] = _children_maxrss_mb()
    out["network_share"] = {k: float(w[v].sum() / w.sum()) for k, v in covered_n.items()}
    out["network_over_straight"] = {
        k: out["network_share"][k] / out["straight_share"][k] for k in TYPES
    }
    out["peak_rss_mb"] = maxrss_mb()
    return out


def _straight(city, out: dict) -> dict:
    """Straight-line coverage of the 5 types (timed per type, wall and CPU of every thread)."""
    from gridmap.coverage import straight_distance

    bxy, fxy, ft = city["bxy"], city["fac_xy"], city["fac_t"]
    stage = _Stages(out, prefix="straight_")
    t, cpu = time.perf_counter(), time.process_time()
    covered = {}
    for typ, (_, r) in TYPES.items():
        with stage(typ):
            covered[typ] = straight_distance(bxy, fxy[ft == typ], limit=r)[0] <= r
    out["straight_5_types_s"] = time.perf_counter() - t
    # CPU seconds of every thread: what a shared machine's load distorts least
    out["straight_5_types_cpu_s"] = time.process_time() - cpu
    out["straight_stages"] = stage.names
    return covered


def part_straight(city) -> dict:
    """Only the straight-line step of ``part_gridmap`` (a quick run without the network)."""
    out: dict = {}
    covered = _straight(city, out)
    out["peak_rss_mb"] = maxrss_mb()
    np.save(os.environ["BENCH_WORK"] + "/straight.npy", np.stack([covered[k] for k in TYPES]))
    return out


PARTS = {
    "gridmap": part_gridmap,
    "straight": part_straight,
    "gridmap_network": part_gridmap_network,
    "gridmap_network_serial": part_gridmap_network_serial,
    "sjoin": part_sjoin,
    "networkx": part_networkx,
    "pandana": part_pandana,
}


def _run_part(part: str, scale: float, workdir: str, timeout: float, sample: float = 1.0) -> dict:
    cmd = [sys.executable, __file__, "--scale", str(scale), "--workdir", workdir, "--part", part]
    try:
        proc = subprocess.run(
            [*cmd, "--networkx-facilities", str(sample)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:g} s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workdir", default="/tmp/gridmap-bench-coverage")
    ap.add_argument("--parts", default="gridmap,gridmap_network_serial,sjoin,networkx,pandana")
    ap.add_argument(
        "--part-timeout", type=float, default=1200.0, help="seconds before a part is abandoned"
    )
    ap.add_argument(
        "--pandana-scale",
        type=float,
        default=None,
        help="run pandana (and gridmap's network part, for comparison) on a city of this scale "
        "instead of --scale: the largest on which pandana finishes within a few minutes",
    )
    ap.add_argument("--pandana-timeout", type=float, default=600.0)
    ap.add_argument(
        "--networkx-facilities",
        type=float,
        default=1.0,
        help="share of each type's facilities networkx routes from (default 1: all): a fixed "
        "random sample (seed 7); gridmap is timed again on the same sample for the like-for-like "
        "ratio, and on all facilities for its own figure",
    )
    ap.add_argument("--json", help="also write the results to this file (for run_all.py)")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    work = Path(args.workdir) / f"scale{args.scale:g}"
    work.mkdir(parents=True, exist_ok=True)
    city_path = work / "city.npz"
    if args.part:
        os.environ["BENCH_WORK"] = str(work)
        if args.part == "memory_probe":
            print(json.dumps(memory_probe()))
            return 0
        city = load_city(city_path)
        city["nx_keep"] = facility_sample(city["fac_t"], args.networkx_facilities)
        out = PARTS[args.part](city)
        print(json.dumps({**out, "proc": proc_stats()}))
        return 0
    facts = city_once(city_path, args.scale)
    print(json.dumps({"city": facts}, ensure_ascii=False), flush=True)
    results: dict[str, Any] = {"city": facts, "uptime_before": _uptime()}
    probe = {"before": _run_part("memory_probe", args.scale, args.workdir, 120)}
    parts = args.parts.split(",")
    pscale = args.pandana_scale
    separate = "pandana" in parts and pscale is not None and pscale != args.scale
    for part in parts:
        if part == "pandana" and separate:
            continue
        results[part] = _run_part(
            part, args.scale, args.workdir, args.part_timeout, args.networkx_facilities
        )
        print(json.dumps({part: results[part]}, ensure_ascii=False), flush=True)
    if separate:
        # pandana on the largest city it finishes within a few minutes; gridmap on the same city, same run
        pwork = Path(args.workdir) / f"scale{pscale:g}"
        pwork.mkdir(parents=True, exist_ok=True)
        pr = {"scale": pscale, "city": city_once(pwork / "city.npz", pscale)}
        pr["gridmap_network"] = _run_part(
            "gridmap_network", pscale, args.workdir, args.part_timeout
        )
        pr["pandana"] = _run_part("pandana", pscale, args.workdir, args.pandana_timeout)
        results["pandana_size"] = pr
        print(json.dumps({"pandana_size": pr}, ensure_ascii=False), flush=True)
    results["uptime_after"] = _uptime()
    results["memory_probe"] = {
        **probe,
        "after": _run_part("memory_probe", args.scale, args.workdir, 120),
    }
    g = results.get("gridmap") or results.get("straight", {})
    if (
        "sjoin" in results
        and "buffer_sjoin_5_types_s" in results["sjoin"]
        and "straight_5_types_s" in g
    ):
        results["speedup_straight_vs_sjoin"] = (
            results["sjoin"]["buffer_sjoin_5_types_s"] / g["straight_5_types_s"]
        )
    nxr, serial = results.get("networkx", {}), results.get("gridmap_network_serial", {})
    nx_total = (
        nxr["graph_build_s"] + nxr["dijkstra_5_types_s"] if "dijkstra_5_types_s" in nxr else 0
    )
    like = g.get("same_facilities_as_networkx", g)  # gridmap on networkx's facilities
    results["networkx_facilities"] = {"share": args.networkx_facilities, "seed": 7}
    if nx_total and "network_5_types_incl_snap_s" in like:
        results["speedup_network_vs_networkx"] = nx_total / like["network_5_types_incl_snap_s"]
    if nx_total and "network_5_types_incl_snap_s" in serial:  # gridmap on one core
        results["speedup_network_vs_networkx_one_core"] = (
            nx_total / serial["network_5_types_incl_snap_s"]
        )
        results["speedup_network_vs_networkx_queries_only_one_core"] = (
            nxr["dijkstra_5_types_s"] / serial["dijkstra_5_types_s"]
        )
        if "dijkstra_5_types_cpu_s" in nxr:  # the work, which a shared machine distorts least
            results["speedup_network_vs_networkx_cpu"] = (
                nxr["graph_build_cpu_s"] + nxr["dijkstra_5_types_cpu_s"]
            ) / serial["network_5_types_incl_snap_cpu_s"]
    pd_, gn = (
        (results["pandana_size"]["pandana"], results["pandana_size"]["gridmap_network"])
        if separate
        else (results.get("pandana", {}), g)
    )
    if "query_5_types_s" in pd_ and "network_5_types_incl_snap_s" in gn:
        results["speedup_network_vs_pandana"] = (
            pd_["index_build_s"] + pd_["query_5_types_s"]
        ) / gn["network_5_types_incl_snap_s"]
        results["speedup_network_vs_pandana_queries_only"] = (
            pd_["query_5_types_s"] / gn["network_5_types_incl_snap_s"]
        )
    print(json.dumps({k: v for k, v in results.items() if k.startswith("speedup")}), flush=True)
    results["targets"] = check_targets(results)
    (work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


#: issue #19: (speed-up key, gridmap part's total key, its stage list key, at least)
TARGETS = {
    "straight_vs_sjoin": (
        "speedup_straight_vs_sjoin",
        "straight_5_types_s",
        "straight_stages",
        10.0,
    ),
    "network_vs_networkx": (
        "speedup_network_vs_networkx",
        "network_5_types_incl_snap_s",
        "network_stages",
        20.0,
    ),
}


def check_targets(results: dict) -> dict:
    """Each target's ratio and whether it is met; when missed, the stage of gridmap that dominates.

    Prints one line per target measured in this run.
    """
    top_g = results.get("gridmap") or results.get("straight") or {}
    out = {}
    for name, (ratio_key, total_key, stages_key, at_least) in TARGETS.items():
        if ratio_key not in results:
            continue
        # the network ratio is judged on networkx's facilities (a sample with --networkx-facilities)
        g = top_g.get("same_facilities_as_networkx", top_g) if name.startswith("network") else top_g
        ratio = results[ratio_key]
        entry = {"ratio": ratio, "at_least": at_least, "met": ratio >= at_least}
        stages = {k: g[k + "_s"] for k in g.get(stages_key, []) if k + "_s" in g}
        if stages:
            top = max(stages, key=stages.__getitem__)
            entry["dominant_stage"] = top
            entry["dominant_stage_s"] = stages[top]
            entry["dominant_stage_cpu_s"] = g.get(top + "_cpu_s")
            entry["dominant_share"] = stages[top] / g[total_key]
            # the gridmap time that would meet the target with the same baseline
            entry["needed_s"] = g[total_key] * ratio / at_least
            if not entry["met"]:  # the keys run_all.py names in the block of a missed target
                entry["dominating_stage"], entry["stages_s"] = top, stages
        out[name] = entry
        line = (
            f"target {name} >= {at_least:g}x: {'met' if entry['met'] else 'MISSED'} ({ratio:.1f}x)"
        )
        if not entry["met"] and stages:
            line += (
                f"; dominant stage {top}: {stages[top]:.2f} s of {g[total_key]:.2f} s "
                f"({entry['dominant_share']:.0%}; CPU {entry['dominant_stage_cpu_s']:.2f} s); "
                f"needs <= {entry['needed_s']:.2f} s in all"
            )
        if stages:  # every stage, wall (CPU of this process) seconds, met or not
            line += "; stages: " + ", ".join(
                f"{k} {v:.2f} s ({g.get(k + '_cpu_s', float('nan')):.2f})"
                for k, v in stages.items()
            )
        print(line, flush=True)
    return out


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


if __name__ == "__main__":
    raise SystemExit(main())
