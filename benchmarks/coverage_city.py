"""The synthetic city of ``bench_coverage.py``: generated once per scale and seed, then reused.

Buildings with households, a jittered lattice walking network with long diagonals that cross it
without shared vertices, and 5 facility types (:data:`TYPES`). :func:`city_once` regenerates only
when the scale or seed changes, so every run of the benchmark reads the same bytes; the gridmap
part saves its noded network next to the city (:func:`save_network`) for the networkx part
(:func:`saved_network`), which gets the same graph without building it again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

TYPES = {  # facility type: (count at scale 1, radius m)
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


def city_once(path: Path, scale: float, seed: int = 11) -> dict:
    """The city at ``path``, generated only when absent or made with another scale or seed.

    Every run of a benchmark then reads the same bytes, and the network saved by the gridmap
    part (``network.npz``, for the networkx part) stays valid across runs.
    """
    facts_path = path.with_suffix(".json")
    key = {"scale": scale, "seed": seed, "generator": 1}
    if path.exists() and facts_path.exists():
        facts = json.loads(facts_path.read_text(encoding="utf-8"))
        if facts.get("key") == key:
            return {**facts["facts"], "reused": True}
    path.with_name("network.npz").unlink(missing_ok=True)
    t = time.perf_counter()
    facts = build_city(path, scale, seed)
    facts["generate_s"] = round(time.perf_counter() - t, 1)
    facts_path.write_text(json.dumps({"key": key, "facts": facts}), encoding="utf-8")
    return facts


def save_network(net) -> None:
    """Keep the noded network for the networkx part (same graph, not rebuilt; not timed)."""
    path = Path(os.environ.get("BENCH_WORK", "")) / "network.npz"
    if os.environ.get("BENCH_WORK") and not path.exists():
        tmp = path.with_name("network.tmp.npz")
        np.savez(tmp, nodes=net.nodes, u=net.u, v=net.v, length=net.length)
        tmp.replace(path)


def saved_network(city) -> dict:
    """The gridmap part's noded network (nodes, u, v, length), built here when it is absent."""
    path = Path(os.environ.get("BENCH_WORK", "")) / "network.npz"
    if os.environ.get("BENCH_WORK") and path.exists():
        d = np.load(path)
        return {k: d[k] for k in d.files}
    import geopandas as gpd
    import shapely

    from gridmap.network import build_network

    lines = np.concatenate([shapely.linestrings(city["seg"]), shapely.linestrings(city["diag"])])
    net = build_network(gpd.GeoSeries(lines, crs=4549))
    return {"nodes": net.nodes, "u": net.u, "v": net.v, "length": net.length}


def facility_sample(types: np.ndarray, share: float, seed: int = 7) -> np.ndarray:
    """A fixed random sample of ``share`` of each type's facilities (at least 3 each), as a mask.

    The same ``share`` and ``seed`` always give the same facilities, in every run and process.
    """
    keep = np.zeros(len(types), bool)
    if share >= 1:
        keep[:] = True
        return keep
    rng = np.random.default_rng(seed)
    for typ in TYPES:
        idx = np.flatnonzero(types == typ)
        n = min(len(idx), max(3, round(share * len(idx))))
        keep[rng.choice(idx, n, replace=False)] = True
    return keep


def load_city(path: Path) -> dict:
    d = np.load(path)
    return {k: d[k] for k in d.files}
