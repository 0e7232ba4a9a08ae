"""Walking network: noding, components, snapping on edges, exact multi-source distances."""

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import X0, Y0
from hypothesis import given, settings
from hypothesis import strategies as st
from lattices import jittered_lattice
from shapely import LineString, Point

from gridmap.network import (
    build_network,
    metres_for_minutes,
    minutes_for_metres,
    network_distance,
    node_lines,
    snap_points,
)


def lines(*coords, **cols):
    return gpd.GeoDataFrame(
        cols or None,
        geometry=[LineString([(X0 + x, Y0 + y) for x, y in c]) for c in coords],
        crs=4549,
    )


def pts(*xy):
    return gpd.GeoSeries([Point(X0 + x, Y0 + y) for x, y in xy], crs=4549)


def test_crossing_without_shared_vertex_is_noded():
    net = build_network(lines([(0, 0), (200, 0)], [(100, -100), (100, 100)]))
    assert (net.n_nodes, net.n_edges, net.noded) == (5, 4, 2)
    d, _ = network_distance(net, pts((0, 0)), pts((100, 100)))
    assert d[0] == pytest.approx(200.0)


def test_bridge_level_is_not_noded():
    layer = lines([(0, 0), (200, 0)], [(100, -100), (100, 100)], layer=[0, 1])
    net = build_network(layer, level_column="layer")
    assert net.n_edges == 2 and len(net.components) == 2
    d, _ = network_distance(net, pts((0, 0)), pts((100, 100)))
    assert np.isinf(d[0])  # the bridge passes over the street: no way up


def test_level_column_must_exist():
    with pytest.raises(ValueError, match="level_column 'layer'"):
        build_network(lines([(0, 0), (1, 0)]), level_column="layer")


def test_geographic_crs_refused():
    with pytest.raises(ValueError, match="EPSG:4326|经纬度|metric|投影"):
        build_network(gpd.GeoSeries([LineString([(120, 30), (120.01, 30)])], crs=4326))


def test_disconnected_island_reported_kept_or_dropped():
    layer = lines([(0, 0), (100, 0)], [(100, 0), (200, 0)], [(1000, 0), (1100, 0)])
    net = build_network(layer)
    assert net.components[["nodes", "edges", "main", "dropped"]].values.tolist() == [
        [3, 2, True, False],
        [2, 1, False, False],
    ]
    # a household on the island cannot reach a facility on the main network
    d, src = network_distance(net, pts((1050, 0)), pts((50, 0)))
    assert np.isinf(d[0]) and src[0] == -1
    big = build_network(layer, components="largest")
    assert big.n_edges == 2 and big.components["dropped"].tolist() == [False, True]
    # dropped: the island household now snaps to the main network (850 m away)
    assert snap_points(big, pts((1050, 0)), max_snap_m=100).edge.tolist() == [-1]


def test_snap_to_edge_interior_not_node():
    net = build_network(lines([(0, 0), (1000, 0)]))
    s = snap_points(net, pts((400, 30)), max_snap_m=50)
    assert s.edge.tolist() == [0]
    assert s.offset[0] == pytest.approx(400) and s.snap_m[0] == pytest.approx(30)
    assert s.to_v(net)[0] == pytest.approx(600)


def test_household_beyond_snap_limit_reported():
    net = build_network(lines([(0, 0), (1000, 0)]))
    s = snap_points(net, pts((400, 30), (400, 250)), max_snap_m=200)
    assert s.ok.tolist() == [True, False]
    assert s.snap_m[1] == pytest.approx(250)  # the distance is still reported
    d, _ = network_distance(net, pts((400, 250)), pts((0, 0)), max_snap_m=200)
    assert np.isinf(d[0])


def test_facility_on_one_edge_cul_de_sac():
    # street (-300,0)-(300,0); spur (0,0)-(0,120) is a dead end; facility at its tip
    net = build_network(lines([(-300, 0), (0, 0)], [(0, 0), (300, 0)], [(0, 0), (0, 120)]))
    d, src = network_distance(net, pts((200, 0), (0, 50), (-300, 0)), pts((0, 120)))
    np.testing.assert_allclose(d, [320.0, 70.0, 420.0])
    assert src.tolist() == [0, 0, 0]


def test_same_edge_direct_and_snap_legs():
    net = build_network(lines([(0, 0), (1000, 0)]))
    # both on the single edge: 10 + |300 - 700| + 20
    d, _ = network_distance(net, pts((300, 10)), pts((700, -20)))
    assert d[0] == pytest.approx(430)


def test_hand_computed_grid_distances_and_nearest():
    # a 2x2 block lattice of 100 m blocks
    rows = [[(0, y), (200, y)] for y in (0, 100, 200)] + [[(x, 0), (x, 200)] for x in (0, 100, 200)]
    net = build_network(lines(*rows))
    assert net.n_nodes == 9 and net.n_edges == 12
    d, src = network_distance(net, pts((0, 0), (150, 200), (100, 100)), pts((200, 200), (0, 100)))
    np.testing.assert_allclose(d, [100.0, 50.0, 100.0])
    assert src.tolist() == [1, 0, 1]


def test_radius_limit_is_inclusive():
    net = build_network(lines([(0, 0), (300, 0), (600, 0)]))
    d, _ = network_distance(net, pts((300, 0), (300.5, 0)), pts((0, 0)), limit=300)
    assert d[0] == 300.0 and np.isinf(d[1])


def test_parallel_edges_keep_the_shortest():
    net = build_network(lines([(0, 0), (100, 0)], [(0, 0), (50, 80), (100, 0)]))
    d, _ = network_distance(net, pts((0, 0)), pts((100, 0)))
    assert d[0] == pytest.approx(100)


def test_node_lines_t_junction_and_clean_input():
    t = np.array([LineString([(0, 0), (2, 0)]), LineString([(1, 0), (1, 1)])])
    pieces, _, noded = node_lines(t)
    assert len(pieces) == 3 and noded == 2
    clean = np.array([LineString([(0, 0), (1, 0)]), LineString([(1, 0), (2, 0)])])
    assert node_lines(clean)[2] == 0


def test_minutes_metres():
    assert metres_for_minutes(10) == 800.0
    assert minutes_for_metres(metres_for_minutes(7, speed_kmh=4.5), speed_kmh=4.5) == pytest.approx(
        7
    )
    with pytest.raises(ValueError, match="positive"):
        metres_for_minutes(5, speed_kmh=0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-500, 500), st.floats(-500, 500)), min_size=2, max_size=12),
    st.lists(st.tuples(st.floats(-600, 600), st.floats(-600, 600)), min_size=1, max_size=5),
    st.lists(st.tuples(st.floats(-600, 600), st.floats(-600, 600)), min_size=1, max_size=5),
)
def test_network_distance_never_shorter_than_straight_line(nodes, targets, sources):
    coords = [(X0 + x, Y0 + y) for x, y in nodes]
    segs = [LineString([a, b]) for a, b in zip(coords[:-1], coords[1:], strict=True) if a != b]
    if not segs:
        return
    net = build_network(gpd.GeoSeries(segs, crs=4549))
    t, s = pts(*targets), pts(*sources)
    d, nearest = network_distance(net, t, s, max_snap_m=10_000)
    txy, sxy = shapely.get_coordinates(t.values), shapely.get_coordinates(s.values)
    straight = np.sqrt(((txy[:, None, :] - sxy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    ok = np.isfinite(d)
    # end points within the 1 mm node tolerance are one node: each merge can shorten a path by ~1.4 mm
    assert (d[ok] >= straight[ok] - 1.5e-3 * len(nodes)).all()


def test_demo_network_matches_networkx_exactly(demo_study):
    """Exactness against an independent networkx Dijkstra over explicitly split edges."""
    net = build_network(demo_study.network)
    assert net.noded >= 30 and len(net.components) == 2  # 30 crossings, one fragment
    fac = demo_study.facilities[demo_study.facilities.facility_type == "market"].geometry
    hh = demo_study.households.geometry.iloc[::7]
    d, _ = network_distance(net, hh, fac, max_snap_m=300)
    hs, fs = snap_points(net, hh, max_snap_m=300), snap_points(net, fac, max_snap_m=300)
    g = nx.Graph()
    for e, (a, b, w) in enumerate(zip(net.u, net.v, net.length, strict=True)):
        # split each edge at every snapped point on it
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

    for i in range(len(fs.edge)):
        if fs.ok[i]:
            g.add_edge(("f", i), where(fs, i), weight=fs.snap_m[i])
    src = [("f", i) for i in range(len(fs.edge)) if fs.ok[i]]
    ref = nx.multi_source_dijkstra_path_length(g, src)
    expect = np.array(
        [
            ref.get(where(hs, i), np.inf) + hs.snap_m[i] if hs.ok[i] else np.inf
            for i in range(len(hh))
        ]
    )
    np.testing.assert_allclose(d, expect, rtol=1e-9, atol=1e-6)


def test_fast_snap_equals_strtree_snap(demo_study, monkeypatch):
    net = build_network(demo_study.network)
    rng = np.random.default_rng(0)
    b = demo_study.network.total_bounds
    pts = shapely.points(
        np.column_stack(
            [rng.uniform(b[0] - 300, b[2] + 300, 5000), rng.uniform(b[1] - 300, b[3] + 300, 5000)]
        )
    )
    _assert_fast_snap_is_exact(monkeypatch, net, pts, max_snap_m=150)


def _lattice(n=12, spacing=40.0, seed=3):
    """A jittered lattice with some edges removed, long diagonals (no shared vertices) and a loop."""
    xy, a, b = jittered_lattice(
        np.random.default_rng(seed), n, spacing=spacing, jitter=6, drop=0.15
    )
    segs = [LineString([xy[i], xy[j]]) for i, j in zip(a, b, strict=True)]
    segs += [LineString([(5.5, 3.5), (400.5, 390.5)]), LineString([(30.5, 420.0), (420.0, 20.5)])]
    segs += [
        LineString([xy[0], xy[0] + (0, -30), xy[0] + (-30, -30), xy[0]])
    ]  # a loop back to its start node
    layer = gpd.GeoSeries([shapely.affinity.translate(g, X0, Y0) for g in segs], crs=4549)
    return build_network(layer), xy + (X0, Y0)


def test_fast_snap_exact_on_lattice_with_ties(monkeypatch):
    """The grid-index path gives the STRtree's answer, including points exactly on nodes (ties between
    edges: the lowest edge id) and points between long diagonals and the lattice."""
    net, xy = _lattice()
    rng = np.random.default_rng(5)
    q = np.concatenate([rng.uniform(-60, 500, (4000, 2)) + (X0, Y0), net.nodes[:200], xy[:50]])
    p = shapely.points(q)
    _assert_fast_snap_is_exact(monkeypatch, net, p, max_snap_m=80)


def test_augmented_graph_equals_rebuilt_csr():
    """The appended virtual rows equal a full rebuild, for sources on the same edge, on a node and on a loop."""
    from gridmap.network import augmented_graph
    from gridmap.network.graph import csr_graph
    from gridmap.network.route import virtual_edges

    net, _ = _lattice()
    loop = int(np.flatnonzero(net.u == net.v)[0])
    mid = shapely.line_interpolate_point(
        net.geometry[[0, 0, 5, loop]], [0.3, 0.7, 0.0, 0.5], normalized=True
    )
    src = np.concatenate(
        [mid, shapely.points(net.nodes[[3, 3]]), [Point(0, 0)]]
    )  # the last one is not snapped
    s = snap_points(net, src, max_snap_m=100)
    assert s.ok.tolist() == [True] * 6 + [False]
    graph, which = augmented_graph(net, s)
    ref = csr_graph(
        net.u, net.v, net.length, net.n_nodes + len(which), extra=virtual_edges(net, s, which)
    )
    assert graph.shape == ref.shape
    assert abs(graph - ref).max() == 0
    assert graph.has_sorted_indices


def test_near_coincident_lines_are_noded_by_snap_rounding(demo_study):
    """The demo's footpaths end 0.5 m past the street they join and run close to each other:
    GEOS's floating-point noder gives up on them ("Iterated noding failed to converge");
    snap-rounding to 1 cm must node them so the network stays one piece (plus the planted fragment)."""
    net = build_network(demo_study.network)
    assert len(net.components) == 2
    assert net.noded > 1000


def _assert_fast_snap_is_exact(monkeypatch, net, points, *, max_snap_m):
    """The grid-index fast path snaps every point to the same edge and offset as the STRtree path."""
    import gridmap.network.snap as gn

    monkeypatch.setattr(gn, "FAST_SNAP_MIN", 10**9)
    slow = snap_points(net, points, max_snap_m=max_snap_m)
    monkeypatch.setattr(gn, "FAST_SNAP_MIN", 1)
    fast = snap_points(net, points, max_snap_m=max_snap_m)
    assert (slow.edge == fast.edge).all()
    np.testing.assert_allclose(fast.offset, slow.offset, atol=1e-6)
    np.testing.assert_allclose(fast.snap_m, slow.snap_m, atol=1e-6)


def test_dijkstra_groups_in_worker_processes_equal_serial():
    """Several source groups run in forked workers give exactly the in-process answer, in group order."""
    from gridmap.network import augmented_graph, dijkstra_groups

    net, _ = _lattice()
    rng = np.random.default_rng(5)
    src = snap_points(net, rng.uniform(0, 440, (40, 2)) + (X0, Y0), max_snap_m=100)
    graph, full = augmented_graph(net, src)
    groups = [(full[full % 3 == k], r) for k, r in ((0, 60.0), (1, 150.0), (2, np.inf))]
    serial = [r.result() for r in dijkstra_groups(net, graph, groups, all_sources=full, workers=0)]
    for workers in (1, 2):  # one worker: this process takes the runs it has not started
        forked = [
            r.result()
            for r in dijkstra_groups(net, graph, groups, all_sources=full, workers=workers)
        ]
        for (d0, s0), (d1, s1) in zip(serial, forked, strict=True):
            np.testing.assert_array_equal(d0, d1)
            np.testing.assert_array_equal(s0, s1)
    assert (
        np.isfinite(serial[0][0]).sum()
        < np.isfinite(serial[1][0]).sum()
        < np.isfinite(serial[2][0]).sum()
    )


def test_dijkstra_groups_stay_in_process_when_threads_run_or_network_is_small():
    import threading

    from gridmap.network.parallel import PARALLEL_MIN_NODES, fork_workers

    assert fork_workers(100, 5) == 0  # small network
    assert fork_workers(PARALLEL_MIN_NODES, 1) == 0  # one group
    stop = threading.Event()
    th = threading.Thread(target=stop.wait)
    th.start()
    try:
        assert fork_workers(PARALLEL_MIN_NODES, 5) == 0  # forking a threaded process is unsafe
    finally:
        stop.set()
        th.join()


def _board(runs: int, n_nodes: int):
    import multiprocessing

    from gridmap.network.parallel import _Board

    return _Board(multiprocessing.get_context("fork"), runs, n_nodes, nearest=True)


class _Worker:
    """Stands for a worker process on the board: alive (its sentinel never ready) or not."""

    def __init__(self, alive: bool):
        import os

        self.alive = alive
        self._pipe = os.pipe()
        self.sentinel = self._pipe[0]

    def is_alive(self) -> bool:
        return self.alive

    def join(self, timeout=None) -> None:
        """Reaped when the board goes."""


def test_a_waiting_caller_runs_the_unclaimed_runs_then_reads_the_workers_slot():
    """While worker 0 has run 0, the caller takes run 1 (nobody has it), then reads run 0 from its
    shared slot once the worker marks it done."""
    import threading

    from gridmap.network.parallel import PendingRun

    board = _board(2, 3)
    board.procs.append(_Worker(alive=True))
    assert board.claim_next([0, 1], 0) == 0
    batch: list = []
    here = []
    batch.extend(
        [
            PendingRun(lambda: pytest.fail("run 0 is the worker's"), 0, board, batch),
            PendingRun(lambda: here.append(board.state[0]) or (np.ones(3), None), 1, board, batch),
        ]
    )

    def worker_finishes():
        board.write(0, (np.array([1.0, 2.0, np.inf]), np.array([4, 5, -1])))
        board.finish(0, True)

    timer = threading.Timer(0.3, worker_finishes)
    timer.start()
    d, src = batch[0].result()
    timer.join()
    assert here == [0]  # run 1 was taken while run 0 was still open
    assert d.tolist() == [1.0, 2.0, np.inf] and src.tolist() == [4, 5, -1]
    assert board.claim_next([0, 1], 0) == -1  # nothing left for a worker


def test_a_run_whose_worker_died_or_failed_is_run_here():
    from gridmap.network.parallel import PendingRun

    board = _board(2, 2)
    board.procs.append(_Worker(alive=False))
    assert board.claim_next([0, 1], 0) == 0
    assert PendingRun(lambda: "again", 0, board).result() == "again"  # killed while running it
    assert board.claim(1, 0)
    board.finish(1, False)  # its Dijkstra raised
    assert PendingRun(lambda: "here", 1, board).result() == "here"


def test_threads_asking_for_one_run_get_one_computation():
    import threading

    from gridmap.network.parallel import PendingRun

    calls = []
    run = PendingRun(lambda: calls.append(1) or len(calls), 0, _board(1, 1))
    got = []
    threads = [threading.Thread(target=lambda: got.append(run.result())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and got == [1, 1, 1, 1]


def test_a_worker_killed_mid_run_leaves_the_answer_unchanged(monkeypatch):
    """A worker process that dies (as if killed for memory) while running: the caller runs its
    run again and the answers equal the in-process ones."""
    import os

    import gridmap.network.parallel as par
    from gridmap.network import augmented_graph, dijkstra_groups

    net, _ = _lattice()
    rng = np.random.default_rng(6)
    src = snap_points(net, rng.uniform(0, 440, (30, 2)) + (X0, Y0), max_snap_m=100)
    graph, full = augmented_graph(net, src)
    groups = [(full[full % 2 == k], 120.0) for k in (0, 1)]
    serial = [r.result() for r in dijkstra_groups(net, graph, groups, all_sources=full, workers=0)]
    parent, real = os.getpid(), par._dijkstra

    def dies_in_the_worker(*args):
        if os.getpid() != parent:
            os._exit(9)
        return real(*args)

    monkeypatch.setattr(par, "_dijkstra", dies_in_the_worker)
    runs = dijkstra_groups(net, graph, groups, all_sources=full, workers=1)
    worker = runs[0].board.procs[0]
    worker.join(30)
    assert worker.exitcode == 9  # it claimed a run (nobody else had asked yet) and died in it
    for (d0, s0), run in zip(serial, runs, strict=True):
        d1, s1 = run.result()
        np.testing.assert_array_equal(d0, d1)
        np.testing.assert_array_equal(s0, s1)


def test_undershoot_is_reported_and_closed_on_request():
    # 星湖街 (0,0)-(100,0); a lane that stops 2 m short of it at (50, 2); a 3 m spur leaving the street
    layer = lines([(0, 0), (100, 0)], [(50, 2), (50, 100)], [(20, 0), (20, 3)])
    net = build_network(layer)
    assert len(net.components) == 2 and net.gaps_closed == 0
    assert net.gaps[["x", "y", "gap_m"]].round(6).values.tolist() == [
        [X0 + 50, Y0 + 2, 2.0]
    ]  # not the spur
    closed = build_network(layer, close_gaps_m=3)
    assert len(closed.components) == 1 and closed.gaps_closed == 1 and closed.gaps.empty
    assert closed.n_edges == net.n_edges + 2  # the street split in two, plus the connector
    d, _ = network_distance(closed, pts((0, 0)), pts((50, 100)))
    assert d[0] == pytest.approx(50 + 2 + 98)
    # a limit below the gap leaves it open (and reported)
    assert build_network(layer, close_gaps_m=1.5).gaps["gap_m"].tolist() == [pytest.approx(2.0)]


def test_gap_between_collinear_ends_gets_one_connector_and_levels_are_respected():
    layer = lines([(0, 0), (100, 0)], [(102, 0), (200, 0)])
    net = build_network(layer, close_gaps_m=3)
    assert net.gaps_closed == 1 and net.n_edges == 3 and len(net.components) == 1
    d, _ = network_distance(net, pts((0, 0)), pts((200, 0)))
    assert d[0] == pytest.approx(200)
    # a flyover ending 2 m above the street is not an undershoot
    bridge = lines([(0, 0), (100, 0)], [(50, 2), (50, 100)], level=[0, 1])
    assert build_network(bridge, level_column="level", close_gaps_m=3).gaps_closed == 0
    assert build_network(bridge, level_column="level").gaps.empty


def test_find_gaps_gives_where_the_gap_meets_the_street():
    from gridmap.network import find_gaps

    net = build_network(lines([(0, 0), (100, 0)], [(50, 4), (50, 100)]))
    g = find_gaps(net.geometry, net.u, net.v, net.nodes, within=10)
    assert g["gap_m"].round(6).tolist() == [4.0] and g["along_m"].round(6).tolist() == [50.0]


def test_undershoot_within_the_node_tolerance_is_always_connected():
    net = build_network(lines([(0, 0), (100, 0)], [(50, 0.0004), (50, 100)]))
    assert len(net.components) == 1 and net.gaps.empty
    d, _ = network_distance(net, pts((0, 0)), pts((50, 100)))
    assert d[0] == pytest.approx(150, abs=1e-3)


def test_a_ramp_ending_on_a_street_of_another_level_connects_there():
    # the ramp (level 1) lands at x = 50 inside the street (level 0); a crossing flyover does not connect
    layer = lines([(0, 0), (100, 0)], [(50, 0), (50, 100)], [(80, -50), (80, 50)], level=[0, 1, 1])
    net = build_network(layer, level_column="level")
    d, _ = network_distance(net, pts((0, 0)), pts((50, 100)))
    assert d[0] == pytest.approx(150)
    d_fly, _ = network_distance(net, pts((0, 0)), pts((80, 50)))
    assert np.isinf(d_fly[0])


def test_snap_points_takes_coordinates_and_rejects_other_shapes():
    net = build_network(lines([(0, 0), (100, 0)]))
    assert snap_points(net, np.array([X0 + 30.0, Y0 + 40.0])).offset.tolist() == [30.0]
    assert len(snap_points(net, np.empty((0, 2))).edge) == 0
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        snap_points(net, np.zeros((2, 3)))


def test_kernels_compile_without_a_cache_where_none_can_be_written(monkeypatch):
    """Numba refuses ``cache=True`` when no cache directory is writable (a read-only install run
    by a user without a home): the kernel is then compiled per process, not an import error."""
    import numba

    import gridmap.network._jit as jit

    asked = []

    def njit(**opts):
        asked.append(opts.get("cache", False))
        if opts.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return numba.njit(**opts)

    monkeypatch.setattr(jit, "njit", njit)

    @jit.kernel
    def twice(x):
        return 2 * x

    assert twice(21) == 42 and asked == [True, False]
