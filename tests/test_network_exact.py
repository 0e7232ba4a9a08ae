"""The fast paths of network and straight-line coverage against slow exact references (issue #19).

* network distances (snap onto edges, virtual sources, multi-source Dijkstra with a limit, in
  worker processes or not) equal networkx's Dijkstra on the same network with every snapped point
  inserted as a node, on random jittered lattices with gaps and crossing diagonals;
* the grid-index snapping of large batches equals the STRtree search (GEOS, exact) point by point:
  same edge (ties at nodes: the lowest edge id), same offset and distance, inside and far outside
  the network, with and without the snap limit;
* the edge coordinates build_network keeps for the snapping index give the same snaps as a network
  that recomputes them from the geometries;
* the straight-line covered set equals geopandas ``sjoin(predicate="dwithin")`` (GEOS, exact).
"""

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import X0, Y0
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import jittered_lattice
from shapely import LineString

from gridmap.coverage import straight_distance
from gridmap.network import (
    Network,
    augmented_graph,
    build_network,
    dijkstra_groups,
    network_distance,
    snap_points,
    target_distances,
)


def _random_network(
    seed: int, n: int, drop: float, diagonals: int, island: bool = False, **kw
) -> Network:
    """A jittered ``n`` × ``n`` lattice (40 m), a share ``drop`` of its edges removed, plus long
    diagonals that cross it without shared vertices (noded by build_network) and, with
    ``island``, a street of its own in the middle of the first block."""
    rng = np.random.default_rng(seed)
    xy, a, b = jittered_lattice(rng, n, spacing=40.0, jitter=8, drop=drop)
    xy = xy + (X0, Y0)
    segs = [LineString([xy[i], xy[j]]) for i, j in zip(a, b, strict=True)]
    for _ in range(diagonals):
        p, q = rng.uniform(0, 40.0 * (n - 1), (2, 2)) + (X0 + 0.5, Y0 + 0.5)
        segs.append(LineString([p, (p + q) / 2 + rng.uniform(-20, 20, 2), q]))  # two vertices
    if island:
        segs.insert(0, LineString([(X0 + 15, Y0 + 20), (X0 + 16, Y0 + 21), (X0 + 25, Y0 + 20)]))
    return build_network(gpd.GeoSeries(segs, crs=4549), **kw)


def _reference(net: Network, hs, fs, which: np.ndarray) -> np.ndarray:
    """networkx: every snapped point a node on its edge, multi-source Dijkstra from ``which``."""
    g = nx.Graph()
    for e, (a, b, w) in enumerate(zip(net.u, net.v, net.length, strict=True)):
        cuts = sorted({0.0, w, *hs.offset[hs.edge == e], *fs.offset[fs.edge == e]})
        names = [("n", a)] + [("c", e, c) for c in cuts[1:-1]] + [("n", b)]
        for i in range(len(cuts) - 1):
            if (
                not g.has_edge(names[i], names[i + 1])
                or g[names[i]][names[i + 1]]["weight"] > cuts[i + 1] - cuts[i]
            ):
                g.add_edge(names[i], names[i + 1], weight=cuts[i + 1] - cuts[i])

    def where(s, i):
        o, e = s.offset[i], s.edge[i]
        return ("n", net.u[e]) if o == 0 else ("n", net.v[e]) if o == net.length[e] else ("c", e, o)

    for i in which:
        g.add_edge(("f", i), where(fs, i), weight=fs.snap_m[i])
    if len(which) == 0:
        return np.full(len(hs.edge), np.inf)
    ref = nx.multi_source_dijkstra_path_length(g, [("f", i) for i in which])
    return np.array(
        [
            ref.get(where(hs, i), np.inf) + hs.snap_m[i] if hs.ok[i] else np.inf
            for i in range(len(hs.edge))
        ]
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(2, 9),
    drop=st.sampled_from([0.0, 0.15, 0.4]),
    diagonals=st.integers(0, 3),
    n_fac=st.integers(1, 12),
    radius=st.sampled_from([50.0, 120.0, 300.0, np.inf]),
)
def test_network_distance_equals_networkx_on_random_networks(
    seed, n, drop, diagonals, n_fac, radius
):
    net = _random_network(seed, n, drop, diagonals)
    rng = np.random.default_rng(seed + 1)
    ext = 40.0 * n
    hh = rng.uniform(-50, ext + 50, (60, 2)) + (X0, Y0)
    fac = rng.uniform(-50, ext + 50, (n_fac, 2)) + (X0, Y0)
    d, _ = network_distance(net, hh, fac, limit=radius, max_snap_m=60)
    hs, fs = snap_points(net, hh, max_snap_m=60), snap_points(net, fac, max_snap_m=60)
    expect = _reference(net, hs, fs, np.flatnonzero(fs.ok))
    expect[expect > radius + 1e-6] = np.inf
    np.testing.assert_allclose(d, expect, rtol=1e-9, atol=1e-6)


def _grid_and_strtree_snaps(net: Network, q: np.ndarray, max_snap_m: float):
    """The snaps of ``q`` by the STRtree search alone and by the grid index (large-batch path)."""
    import gridmap.network.snap as gn

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gn, "FAST_SNAP_MIN", 10**9)
        slow = snap_points(net, q, max_snap_m=max_snap_m)
        mp.setattr(gn, "FAST_SNAP_MIN", 1)
        fast = snap_points(net, q, max_snap_m=max_snap_m)
    return slow, fast


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(2, 14),
    jitter=st.sampled_from([0.0, 0.0001, 8.0]),
    drop=st.sampled_from([0.0, 0.15, 0.5]),
    diagonals=st.integers(0, 4),
    max_snap_m=st.sampled_from([5.0, 30.0, 200.0, np.inf]),
)
def test_grid_snap_equals_strtree_snap_on_random_lattices(
    seed, n, jitter, drop, diagonals, max_snap_m
):
    """Points anywhere (inside, around and far outside the network), on nodes and vertices, at the
    centre of blocks (equidistant from 4 streets when the lattice is regular) and on edges."""
    rng = np.random.default_rng(seed)
    xy, a, b = jittered_lattice(rng, n, spacing=40.0, jitter=jitter, drop=drop)
    segs = [LineString([xy[i], xy[j]]) for i, j in zip(a, b, strict=True)]
    for _ in range(diagonals):
        p, q = rng.uniform(0, 40.0 * (n - 1), (2, 2)) + 0.5
        segs.append(LineString([p, (p + q) / 2 + rng.uniform(-20, 20, 2), q]))
    if not segs:
        segs = [LineString([xy[0], xy[0] + (40.0, 0.0)])]
    net = build_network(gpd.GeoSeries(segs, crs=4549).translate(X0, Y0))
    ext = 40.0 * (n - 1)
    centres = np.stack(np.meshgrid(np.arange(n) * 40.0 + 20, np.arange(n) * 40.0 + 20), -1)
    on_edges = shapely.get_coordinates(
        shapely.line_interpolate_point(net.geometry, 0.37, normalized=True)
    )
    q = np.concatenate(
        [
            rng.uniform(-100, ext + 100, (1500, 2)) + (X0, Y0),
            rng.uniform(-3000, ext + 3000, (200, 2)) + (X0, Y0),
            net.nodes,
            shapely.get_coordinates(net.geometry),
            centres.reshape(-1, 2) + (X0, Y0),
            on_edges,
        ]
    )
    slow, fast = _grid_and_strtree_snaps(net, q, max_snap_m)
    np.testing.assert_array_equal(fast.edge, slow.edge)
    np.testing.assert_allclose(fast.offset, slow.offset, rtol=0, atol=1e-6)  # NaN where not snapped
    np.testing.assert_allclose(fast.snap_m, slow.snap_m, rtol=1e-12, atol=1e-6)


def test_grid_snap_on_a_straight_street_and_a_single_vertical_one():
    """Networks with no extent in one direction (one grid row or column) and a long street of
    one segment crossing many cells."""
    rng = np.random.default_rng(9)
    for segs in (
        [LineString([(0, 0), (5000, 0)]), LineString([(0, 0), (0, 3)])],
        [LineString([(0, 0), (0, 800)])],
        [LineString([(0, 0), (3000, 2900)])]
        + [LineString([(i * 30, 0), (i * 30 + 20, 0)]) for i in range(200)],
    ):
        net = build_network(gpd.GeoSeries(segs, crs=4549).translate(X0, Y0))
        q = rng.uniform(-500, 5500, (3000, 2)) + (X0, Y0)
        slow, fast = _grid_and_strtree_snaps(net, q, 300.0)
        np.testing.assert_array_equal(fast.edge, slow.edge)
        np.testing.assert_allclose(fast.offset, slow.offset, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast.snap_m, slow.snap_m, rtol=1e-12, atol=1e-6)


def test_grid_snap_on_sparse_extents_dense_cells_and_points_all_outside():
    """Two towns 150 km apart (the grid coarsens its cells to stay small), 400 short streets
    stacked in one cell, and a batch of points that all lie far outside the network on one
    side."""
    rng = np.random.default_rng(12)
    xy, a, b = jittered_lattice(rng, 8, spacing=40.0, jitter=5, drop=0.1)
    town = [LineString([xy[i], xy[j]]) for i, j in zip(a, b, strict=True)]
    far = [shapely.affinity.translate(g, 150_000, 90_000) for g in town]
    stack = [LineString([(-500, 5 + k * 0.01), (-490, 5 + k * 0.01)]) for k in range(400)]
    net = build_network(gpd.GeoSeries(town + far + stack, crs=4549).translate(X0, Y0), node=False)
    q = np.concatenate(
        [
            rng.uniform(-600, 400, (6000, 2)),
            rng.uniform(-600, 400, (3000, 2)) + (150_000, 90_000),
            rng.uniform(-510, -480, (9000, 2)),
        ]
    )
    for pts, limit in ((q, 120.0), (rng.uniform(0, 300, (3000, 2)) + (0, 200_000), np.inf)):
        slow, fast = _grid_and_strtree_snaps(net, pts + (X0, Y0), limit)
        np.testing.assert_array_equal(fast.edge, slow.edge)
        np.testing.assert_allclose(fast.offset, slow.offset, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast.snap_m, slow.snap_m, rtol=1e-12, atol=1e-6)


def test_dijkstra_groups_in_workers_equal_networkx_per_group():
    """Per facility type, the forked multi-source runs with a limit equal networkx."""
    net = _random_network(7, 10, 0.15, 3, components="largest")
    rng = np.random.default_rng(8)
    hh = rng.uniform(-30, 430, (150, 2)) + (X0, Y0)
    fac = rng.uniform(-30, 430, (24, 2)) + (X0, Y0)
    types = np.arange(24) % 3
    hs, fs = snap_points(net, hh, max_snap_m=60), snap_points(net, fac, max_snap_m=60)
    graph, full = augmented_graph(net, fs)
    limits = [80.0, 150.0, 400.0]
    masks = [(types == k) & fs.ok for k in range(3)]
    for workers in (0, 2):
        runs = dijkstra_groups(
            net,
            graph,
            [(np.flatnonzero(m), r) for m, r in zip(masks, limits, strict=True)],
            all_sources=full,
            workers=workers,
            nearest=False,
        )
        for m, r, run in zip(masks, limits, runs, strict=True):
            node_d, node_src = run.result()
            d, _ = target_distances(net, hs, fs, node_d, node_src, limit=r, source_mask=m)
            expect = _reference(net, hs, fs, np.flatnonzero(m))
            expect[expect > r + 1e-6] = np.inf
            np.testing.assert_allclose(d, expect, rtol=1e-9, atol=1e-6)


def test_kept_edge_coordinates_snap_like_recomputed_ones():
    """build_network keeps the edge coordinates for the snapping index (also after dropping
    components and closing gaps); a network rebuilt from the same fields recomputes them."""
    net = _random_network(3, 12, 0.3, 4, island=True, components="largest", close_gaps_m=3.0)
    assert net.components["dropped"].sum() >= 1 and net.gaps_closed >= 1
    again = Network(
        nodes=net.nodes,
        u=net.u,
        v=net.v,
        length=net.length,
        geometry=net.geometry,
        component=net.component,
        components=net.components,
        crs=net.crs,
    )
    q = np.random.default_rng(4).uniform(-60, 500, (5000, 2)) + (X0, Y0)
    a, b = snap_points(net, q, max_snap_m=50), snap_points(again, q, max_snap_m=50)
    np.testing.assert_array_equal(a.edge, b.edge)
    np.testing.assert_array_equal(a.offset, b.offset)
    np.testing.assert_array_equal(a.snap_m, b.snap_m)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n_fac=st.integers(1, 40),
    radius=st.sampled_from([30.0, 100.0, 300.0]),
)
def test_straight_covered_set_equals_exact_sjoin(seed, n_fac, radius):
    """Covered by the KD-tree (on every core, unmasked path) = within ``radius`` per GEOS."""
    rng = np.random.default_rng(seed)
    bxy = np.round(rng.uniform(0, 2000, (3000, 2)), 2) + (X0, Y0)
    fxy = np.round(rng.uniform(0, 2000, (n_fac, 2)), 2) + (X0, Y0)
    d, i = straight_distance(bxy, fxy, limit=radius)
    pts = gpd.GeoDataFrame(geometry=shapely.points(bxy), crs=4549)
    fac = gpd.GeoDataFrame(geometry=shapely.points(fxy), crs=4549)
    j = gpd.sjoin(pts, fac, predicate="dwithin", distance=radius)
    exact = np.zeros(len(bxy), dtype=bool)
    exact[np.unique(j.index.to_numpy())] = True
    true_d = np.sqrt(((bxy[:, None, :] - fxy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    clear = np.abs(true_d - radius) > 1e-5  # a float rounding away from the radius: either way
    np.testing.assert_array_equal((d <= radius + 1e-6)[clear], exact[clear])
    assert (i[exact & clear] >= 0).all()


def test_points_beyond_the_snap_limit_keep_their_exact_distance(monkeypatch):
    """Points the grid path proves nearest but beyond ``max_snap_m`` are not snapped and report
    the distance the STRtree search gives."""
    import gridmap.network.snap as gn

    net = _random_network(5, 10, 0.15, 2)
    q = np.random.default_rng(6).uniform(-400, 800, (4000, 2)) + (X0, Y0)
    monkeypatch.setattr(gn, "FAST_SNAP_MIN", 10**9)
    slow = snap_points(net, q, max_snap_m=20)
    monkeypatch.setattr(gn, "FAST_SNAP_MIN", 1)
    fast = snap_points(net, q, max_snap_m=20)
    assert (~fast.ok).sum() > 1000
    np.testing.assert_array_equal(fast.edge, slow.edge)
    np.testing.assert_allclose(fast.offset, slow.offset, atol=1e-6)  # NaN where not snapped
    np.testing.assert_allclose(fast.snap_m, slow.snap_m, rtol=1e-12, atol=1e-6)


def test_grid_snap_of_points_thousands_of_km_away():
    """Where the tie margin (1e-9 m) is below the rounding of the distance (points 10^7 m away, e.g.
    coordinates in another CRS), the nearest is still found: the grid path used to return no
    valid edge and fail."""
    net = build_network(
        gpd.GeoSeries(
            [LineString([(0, 0), (100, 0)]), LineString([(100, 0), (100, 70)])], crs=4549
        ).translate(X0, Y0)
    )
    q = np.random.default_rng(0).uniform(-3e7, 3e7, (5000, 2)) + (X0, Y0)
    slow, fast = _grid_and_strtree_snaps(net, q, np.inf)
    np.testing.assert_array_equal(fast.edge, slow.edge)
    np.testing.assert_allclose(fast.snap_m, slow.snap_m, rtol=1e-12)


def _big_lattice(seed: int, n: int, mid_vertex: bool) -> Network:
    """A jittered ``n`` × ``n`` lattice as a :class:`Network` built directly (no noding): big
    enough for the two-thread index build (>= 200,000 segments); with ``mid_vertex`` each edge
    has a jittered vertex in its middle (two segments: the general path)."""
    rng = np.random.default_rng(seed)
    xy, a, b = jittered_lattice(rng, n, spacing=40.0, jitter=8.0, drop=0.15)
    xy = xy + (X0, Y0)
    ends = [xy[a], xy[b]]
    if mid_vertex:
        ends.insert(1, (xy[a] + xy[b]) / 2 + rng.uniform(-3, 3, (len(a), 2)))
    geometry = shapely.linestrings(np.stack(ends, axis=1))
    return Network(
        nodes=xy,
        u=a,
        v=b,
        length=shapely.length(geometry),
        geometry=geometry,
        component=np.zeros(len(xy), dtype=np.int64),
        components=pd.DataFrame({"nodes": [len(xy)], "edges": [len(a)], "main": [True]}),
        crs=4549,
    )


@pytest.mark.parametrize("mid_vertex", [False, True])
def test_two_thread_index_and_snapping_equal_the_strtree_on_a_large_lattice(mid_vertex):
    """The index build (two threads from 200,000 segments) and the first try of the snapping
    (two threads from 50,000 points) give the STRtree search's answer point by point: random
    points, nodes and every vertex (ties inside an edge: its first segment)."""
    net = _big_lattice(21, 250 if mid_vertex else 350, mid_vertex)
    n_seg = net.n_edges * (2 if mid_vertex else 1)
    assert n_seg >= 200_000
    rng = np.random.default_rng(22)
    ext = 40.0 * (np.sqrt(net.n_nodes) - 1)
    q = np.concatenate(
        [
            rng.uniform(-60, ext + 60, (50_000, 2)) + (X0, Y0),
            net.nodes[rng.choice(net.n_nodes, 3000, replace=False)],
            shapely.get_coordinates(net.geometry[rng.choice(net.n_edges, 3000, replace=False)]),
        ]
    )
    slow, fast = _grid_and_strtree_snaps(net, q, 25.0)
    np.testing.assert_array_equal(fast.edge, slow.edge)
    np.testing.assert_allclose(fast.offset, slow.offset, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast.snap_m, slow.snap_m, rtol=1e-12, atol=1e-6)
