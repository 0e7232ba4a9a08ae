"""The baselines of ``bench_coverage.py``, each run in its own process by it.

* ``part_sjoin``: geopandas ``buffer`` (16 segments per quarter circle) + ``sjoin``;
  reports how many buildings the polygonised buffers misclassify against gridmap's
  exact straight-line answer (``straight.npy``, written by the gridmap part).
* ``part_networkx``: graph build + ``multi_source_dijkstra_path_length(cutoff=r)``
  from the facilities' nearest nodes, households at their nearest node, on the noded
  network the gridmap part saved; its figure includes the graph and the k-d tree build.
* ``part_pandana``: ``Network`` (contraction-hierarchy index build timed),
  ``set_pois`` + ``nearest_pois`` per type, ``get_node_ids`` for households.
"""

from __future__ import annotations

import os
import resource
import time

import numpy as np
from coverage_city import TYPES, saved_network


def maxrss_mb() -> float:
    """This process's peak memory (max RSS) in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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
        "peak_rss_mb": maxrss_mb(),
    }


def part_networkx(city) -> dict:
    import networkx as nx
    from scipy.spatial import cKDTree

    net = saved_network(city)  # the same noded network gridmap built, not timed
    n_nodes = len(net["nodes"])
    t, cpu = time.perf_counter(), time.process_time()
    g = nx.Graph()
    g.add_weighted_edges_from(
        zip(net["u"].tolist(), net["v"].tolist(), net["length"].tolist(), strict=True)
    )
    build, build_cpu = time.perf_counter() - t, time.process_time() - cpu
    t, cpu = time.perf_counter(), time.process_time()
    tree = cKDTree(net["nodes"])
    keep = city.get("nx_keep", np.ones(len(city["fac_t"]), bool))
    hnode = tree.query(city["bxy"])[1]
    fnode = tree.query(city["fac_xy"][keep])[1]
    ft = city["fac_t"][keep]
    for typ, (_, r) in TYPES.items():
        d = nx.multi_source_dijkstra_path_length(g, set(fnode[ft == typ].tolist()), cutoff=r)
        arr = np.full(n_nodes, np.inf)
        arr[np.fromiter(d.keys(), dtype=np.int64)] = np.fromiter(d.values(), dtype=float)
        _ = arr[hnode] <= r
    return {
        "graph_build_s": build,
        "dijkstra_5_types_s": time.perf_counter() - t,
        "graph_build_cpu_s": build_cpu,
        "dijkstra_5_types_cpu_s": time.process_time() - cpu,
        "facilities": int(keep.sum()),
        "peak_rss_mb": maxrss_mb(),
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
        "peak_rss_mb": maxrss_mb(),
    }
