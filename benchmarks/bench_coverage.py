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

Counts scale with ``--scale`` (network nodes and buildings too). The city is
generated once into ``--workdir`` (not timed). Each part runs in its own process
so that its peak memory (max RSS) is its own:

* ``gridmap``: straight line (cKDTree, exact) for all 5 types; network: build
  (noding + graph + components), snap facilities onto edges, start the 5
  multi-source Dijkstra runs with limit (worker processes, as
  ``gridmap.coverage`` does), snap the households meanwhile, then the
  household distances.
* ``gridmap_network_serial``: the same network part with the Dijkstra runs in
  the same process (one core), for the single-core figure.
* ``sjoin``: geopandas ``buffer`` (16 segments per quarter circle) + ``sjoin``;
  reports how many buildings the polygonised buffers misclassify.
* ``networkx``: graph build + ``multi_source_dijkstra_path_length(cutoff=r)``
  from the facilities' nearest nodes, households at their nearest node.
* ``pandana``: ``Network`` (contraction-hierarchy index build timed),
  ``set_pois`` + ``nearest_pois`` per type, ``get_node_ids`` for households.

pandana's contraction-hierarchy build does not finish at full scale within 15 min;
``--pandana-scale`` runs it (and gridmap's network part, timed again for the
comparison) on a smaller city in the same run.

    python benchmarks/bench_coverage.py [--scale 1.0] [--parts gridmap,gridmap_network_serial,sjoin,networkx,pandana] [--pandana-scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TYPES = {  # type: (count at scale 1, radius m)
    "kindergarten": (6000, 300.0),
    "elderly_daycare": (4000, 300.0),
    "primary_school": (3000, 500.0),
    "market": (2500, 500.0),
    "bus_stop": (12000, 500.0),
}
SPACING = 40.0  # metres between lattice nodes
X0, Y0 = 400_000.0, 3_300_000.0


def build_city(path: Path, scale: float, seed: int = 11) -> dict:
    rng = np.random.default_rng(seed)
    side = max(20, int(round(1000 * np.sqrt(scale))))
    ext = side * SPACING
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    nx_ = X0 + gx * SPACING + rng.uniform(-8, 8, gx.shape)
    ny_ = Y0 + gy * SPACING + rng.uniform(-8, 8, gy.shape)
    node = lambda i, j: j * side + i  # noqa: E731
    a = np.concatenate([node(gx[:, :-1], gy[:, :-1]).ravel(), node(gx[:-1, :], gy[:-1, :]).ravel()])
    b = np.concatenate([node(gx[:, 1:], gy[:, 1:]).ravel(), node(gx[1:, :], gy[1:, :]).ravel()])
    keep = rng.random(len(a)) > 0.15
    a, b = a[keep], b[keep]
    xs, ys = nx_.ravel(), ny_.ravel()
    seg = np.stack([np.stack([xs[a], ys[a]], 1), np.stack([xs[b], ys[b]], 1)], 1)
    # long diagonal streets (2 km) crossing the lattice without shared vertices
    n_diag = max(5, int(300 * scale))
    start = np.column_stack(
        [rng.uniform(X0, X0 + ext - 1500, n_diag), rng.uniform(Y0, Y0 + ext - 1500, n_diag)]
    )
    diag = np.stack([start, start + 1414.0 / np.sqrt(2) * np.array([1.0, 1.0])], 1) + 0.5
    n_b = int(500_000 * scale)
    bxy = np.column_stack([rng.uniform(X0, X0 + ext, n_b), rng.uniform(Y0, Y0 + ext, n_b)])
    hh = rng.integers(5, 36, n_b)  # mean 20 households / building → 10 M at scale 1
    fac_xy, fac_t = [], []
    for t, (count, _) in TYPES.items():
        c = max(3, int(count * scale))
        fac_xy.append(np.column_stack([rng.uniform(X0, X0 + ext, c), rng.uniform(Y0, Y0 + ext, c)]))
        fac_t += [t] * c
    np.savez(
        path,
        seg=seg,
        diag=diag,
        bxy=bxy,
        hh=hh,
        fac_xy=np.concatenate(fac_xy),
        fac_t=np.array(fac_t),
    )
    return {
        "nodes_lattice": int(side * side),
        "edges": int(len(seg)),
        "diagonals": n_diag,
        "buildings": n_b,
        "households": int(hh.sum()),
        "facilities": len(fac_t),
        "extent_km": round(ext / 1000, 1),
    }


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


def _load(path):
    d = np.load(path)
    return {k: d[k] for k in d.files}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _children_maxrss_mb() -> float:
    """The largest worker process (e.g. gridmap's Dijkstra workers; copy-on-write pages shared with this one count in both)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def _gridmap_network(city, out: dict, workers: int | None = None) -> dict:
    """gridmap on the walking network: build, snap (each building and facility once), Dijkstra × 5."""
    import geopandas as gpd
    import shapely

    from gridmap.network import (
        augmented_graph,
        build_network,
        dijkstra_groups,
        snap_points,
        target_distances,
    )
    from gridmap.network.parallel import fork_workers

    bxy, fxy, ft = city["bxy"], city["fac_xy"], city["fac_t"]
    stage = _Stages(out)
    t = time.perf_counter()
    lines = np.concatenate([shapely.linestrings(city["seg"]), shapely.linestrings(city["diag"])])
    layer = gpd.GeoSeries(lines, crs=4549)
    out["make_geoseries_s"] = time.perf_counter() - t
    t = time.perf_counter()
    net = build_network(layer)
    out["network_build_s"] = time.perf_counter() - t
    out["network"] = {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "noded_lines": net.noded,
        "components": len(net.components),
    }
    # as gridmap.coverage does it: facilities first, the 5 Dijkstra runs start in worker processes,
    # the households are snapped meanwhile
    t = time.perf_counter()
    with stage("snap_facilities"):  # incl. the segment index (first use)
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
    with stage("snap_buildings"):
        hs = snap_points(net, bxy, max_snap_m=200)
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
    # this process's CPU seconds (every thread): all the work when the Dijkstra runs are in-process
    out["network_5_types_incl_snap_cpu_s"] = sum(out[k + "_cpu_s"] for k in stage.names)
    out["network_stages"] = stage.names
    if out["dijkstra_workers"] <= 1:
        out["dijkstra_5_types_s"] = out["dijkstra_start_s"] + out["dijkstra_wait_and_targets_s"]
    return covered_n


def part_gridmap_network(city) -> dict:
    out: dict = {}
    _gridmap_network(city, out)
    out["peak_rss_mb"] = _maxrss_mb()
    out["worker_peak_rss_mb"] = _children_maxrss_mb()
    return out


def part_gridmap_network_serial(city) -> dict:
    """The same in this process only (one core for the Dijkstra runs)."""
    out: dict = {}
    _gridmap_network(city, out, workers=0)
    out["peak_rss_mb"] = _maxrss_mb()
    return out


def part_gridmap(city) -> dict:
    out: dict = {}
    w = city["hh"]
    covered_s = _straight(city, out)
    out["straight_share"] = {k: float(w[v].sum() / w.sum()) for k, v in covered_s.items()}
    np.save(os.environ["BENCH_WORK"] + "/straight.npy", np.stack([covered_s[k] for k in TYPES]))

    covered_n = _gridmap_network(city, out)
    out["worker_peak_rss_mb"] = _children_maxrss_mb()
    out["network_share"] = {k: float(w[v].sum() / w.sum()) for k, v in covered_n.items()}
    out["network_over_straight"] = {
        k: out["network_share"][k] / out["straight_share"][k] for k in TYPES
    }
    out["peak_rss_mb"] = _maxrss_mb()
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
    out["peak_rss_mb"] = _maxrss_mb()
    np.save(os.environ["BENCH_WORK"] + "/straight.npy", np.stack([covered[k] for k in TYPES]))
    return out


def part_sjoin(city) -> dict:
    import geopandas as gpd
    import shapely

    bxy, fxy, ft = city["bxy"], city["fac_xy"], city["fac_t"]
    exact = np.load(os.environ["BENCH_WORK"] + "/straight.npy")
    t, cpu = time.perf_counter(), time.process_time()
    pts = gpd.GeoDataFrame(geometry=shapely.points(bxy), crs=4549)
    wrong = {}
    for k, (typ, (_, r)) in enumerate(TYPES.items()):
        fac = gpd.GeoDataFrame(geometry=shapely.points(fxy[ft == typ]), crs=4549)
        buf = gpd.GeoDataFrame(geometry=fac.buffer(r), crs=4549)
        j = gpd.sjoin(pts, buf, predicate="intersects", how="inner")
        cov = np.zeros(len(pts), dtype=bool)
        cov[np.unique(j.index.to_numpy())] = True
        wrong[typ] = int((cov != exact[k]).sum())
    return {
        "buffer_sjoin_5_types_s": time.perf_counter() - t,
        "buffer_sjoin_5_types_cpu_s": time.process_time() - cpu,
        "misclassified_buildings": wrong,
        "peak_rss_mb": _maxrss_mb(),
    }


def part_networkx(city) -> dict:
    import geopandas as gpd
    import networkx as nx
    import shapely
    from scipy.spatial import cKDTree

    from gridmap.network import build_network

    lines = np.concatenate([shapely.linestrings(city["seg"]), shapely.linestrings(city["diag"])])
    net = build_network(gpd.GeoSeries(lines, crs=4549))  # same noded network, not timed
    t, cpu = time.perf_counter(), time.process_time()
    g = nx.Graph()
    g.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.length.tolist(), strict=True))
    build, build_cpu = time.perf_counter() - t, time.process_time() - cpu
    t, cpu = time.perf_counter(), time.process_time()
    tree = cKDTree(net.nodes)
    hnode = tree.query(city["bxy"])[1]
    fnode = tree.query(city["fac_xy"])[1]
    ft = city["fac_t"]
    for typ, (_, r) in TYPES.items():
        d = nx.multi_source_dijkstra_path_length(g, set(fnode[ft == typ].tolist()), cutoff=r)
        arr = np.full(net.n_nodes, np.inf)
        arr[np.fromiter(d.keys(), dtype=np.int64)] = np.fromiter(d.values(), dtype=float)
        _ = arr[hnode] <= r
    return {
        "graph_build_s": build,
        "dijkstra_5_types_s": time.perf_counter() - t,
        "graph_build_cpu_s": build_cpu,
        "dijkstra_5_types_cpu_s": time.process_time() - cpu,
        "peak_rss_mb": _maxrss_mb(),
    }


def part_pandana(city) -> dict:
    import geopandas as gpd
    import pandana
    import pandas as pd
    import shapely

    from gridmap.network import build_network

    lines = np.concatenate([shapely.linestrings(city["seg"]), shapely.linestrings(city["diag"])])
    net = build_network(gpd.GeoSeries(lines, crs=4549))
    keep = net.u != net.v
    t = time.perf_counter()
    pn = pandana.Network(
        pd.Series(net.nodes[:, 0]),
        pd.Series(net.nodes[:, 1]),
        pd.Series(net.u[keep]),
        pd.Series(net.v[keep]),
        pd.DataFrame({"w": net.length[keep]}),
        twoway=True,
    )
    build = time.perf_counter() - t
    t = time.perf_counter()
    hnode = pn.get_node_ids(pd.Series(city["bxy"][:, 0]), pd.Series(city["bxy"][:, 1])).to_numpy()
    ft = city["fac_t"]
    for typ, (_, r) in TYPES.items():
        sel = ft == typ
        pn.set_pois(typ, r, 1, pd.Series(city["fac_xy"][sel, 0]), pd.Series(city["fac_xy"][sel, 1]))
        near = pn.nearest_pois(r, typ, num_pois=1)
        d = near.iloc[:, 0].reindex(hnode).to_numpy()
        _ = d < r
    return {
        "index_build_s": build,
        "query_5_types_s": time.perf_counter() - t,
        "peak_rss_mb": _maxrss_mb(),
    }


PARTS = {
    "gridmap": part_gridmap,
    "straight": part_straight,
    "gridmap_network": part_gridmap_network,
    "gridmap_network_serial": part_gridmap_network_serial,
    "sjoin": part_sjoin,
    "networkx": part_networkx,
    "pandana": part_pandana,
}


def _run_part(part: str, scale: float, workdir: str, timeout: float) -> dict:
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--scale", str(scale), "--workdir", workdir, "--part", part],
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
    ap.add_argument("--json", help="also write the results to this file (for run_all.py)")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    work = Path(args.workdir) / f"scale{args.scale:g}"
    work.mkdir(parents=True, exist_ok=True)
    city_path = work / "city.npz"
    if args.part:
        os.environ["BENCH_WORK"] = str(work)
        print(json.dumps(PARTS[args.part](_load(city_path))))
        return 0
    t = time.perf_counter()
    facts = build_city(city_path, args.scale)
    facts["generate_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps({"city": facts}, ensure_ascii=False), flush=True)
    results = {"city": facts, "uptime_before": _uptime()}
    parts = args.parts.split(",")
    pscale = args.pandana_scale
    separate = "pandana" in parts and pscale is not None and pscale != args.scale
    for part in parts:
        if part == "pandana" and separate:
            continue
        results[part] = _run_part(part, args.scale, args.workdir, args.part_timeout)
        print(json.dumps({part: results[part]}, ensure_ascii=False), flush=True)
    if separate:
        # pandana on the largest city it finishes within a few minutes; gridmap on the same city, same run
        pwork = Path(args.workdir) / f"scale{pscale:g}"
        pwork.mkdir(parents=True, exist_ok=True)
        pr = {"scale": pscale, "city": build_city(pwork / "city.npz", pscale)}
        pr["gridmap_network"] = _run_part(
            "gridmap_network", pscale, args.workdir, args.part_timeout
        )
        pr["pandana"] = _run_part("pandana", pscale, args.workdir, args.pandana_timeout)
        results["pandana_size"] = pr
        print(json.dumps({"pandana_size": pr}, ensure_ascii=False), flush=True)
    results["uptime_after"] = _uptime()
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
    if nx_total and "network_5_types_incl_snap_s" in g:
        results["speedup_network_vs_networkx"] = nx_total / g["network_5_types_incl_snap_s"]
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
    g = results.get("gridmap") or results.get("straight") or {}
    out = {}
    for name, (ratio_key, total_key, stages_key, at_least) in TARGETS.items():
        if ratio_key not in results:
            continue
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
        print(line, flush=True)
    return out


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


if __name__ == "__main__":
    raise SystemExit(main())
