"""Siting: greedy with its bound, exact CP-SAT on small cases, capacity, proposals on the demo."""

import numpy as np
import pytest
from scipy import sparse

import gridmap
from gridmap import datasets
from gridmap.coverage import CoverageSpec, measure_coverage
from gridmap.siting import (
    GREEDY_BOUND,
    SiteSelector,
    candidate_sites,
    coverage_matrix,
    propose_sites,
)


def test_greedy_can_be_suboptimal_and_exact_fixes_it():
    # the classic trap: one big site (covers 0..3) vs two that split 0..5
    A = sparse.csr_matrix(
        np.array(
            [
                [1, 1, 1, 1, 0, 0],
                [1, 1, 1, 0, 0, 0],
                [0, 0, 0, 1, 1, 1],
            ],
            dtype=bool,
        )
    )
    w = [2, 2, 2, 3, 2, 2]
    g = SiteSelector.from_coverage_matrix(A, w).solve(2)
    e = SiteSelector.from_coverage_matrix(A, w).solve(2, method="exact")
    assert g.selected_.tolist() == [0, 2] and g.covered_ == 13
    assert e.status_ == "optimal" and e.covered_ == 13 and e.gap_ == 0
    assert g.upper_bound_ >= e.covered_


@pytest.mark.parametrize("seed", range(4))
def test_greedy_bound_holds_against_exact(seed):
    rng = np.random.default_rng(seed)
    A = sparse.csr_matrix(rng.random((25, 60)) < 0.12)
    w = rng.integers(1, 50, 60)
    for k in (1, 3, 5):
        g = SiteSelector.from_coverage_matrix(A, w).solve(k)
        e = SiteSelector.from_coverage_matrix(A, w).solve(k, method="exact", time_limit_s=20)
        assert e.status_ == "optimal"
        assert g.covered_ <= e.covered_ + 1e-9
        assert g.covered_ >= GREEDY_BOUND * e.covered_ - 1e-9
        assert g.upper_bound_ >= e.covered_ - 1e-9  # the reported bound is a true bound
        assert g.gains_.sum() == pytest.approx(g.covered_)
        assert e.gains_.sum() == pytest.approx(e.covered_)


def test_capacity_limits_each_site():
    A = sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=bool))
    w = [100, 100, 100]
    g = SiteSelector.from_coverage_matrix(A, w).solve(2, capacity=120)
    e = SiteSelector.from_coverage_matrix(A, w).solve(2, method="exact", capacity=120)
    assert g.covered_ == 240 and e.covered_ == 240
    assert (g.gains_ <= 120).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="weights"):
        SiteSelector.from_coverage_matrix(sparse.csr_matrix((2, 3), dtype=bool), [1, 2])
    with pytest.raises(ValueError, match="method"):
        SiteSelector.from_coverage_matrix(sparse.csr_matrix((2, 3), dtype=bool), [1, 2, 3]).solve(
            1, method="magic"
        )
    with pytest.raises(ValueError, match="network or buildings"):
        candidate_sites()


def test_coverage_matrix_modes_agree_on_a_straight_street():
    import geopandas as gpd
    from shapely import LineString

    from gridmap.network import build_network

    net = build_network(gpd.GeoSeries([LineString([(0, 0), (1000, 0)])], crs=4549))
    cand = np.array([[0.0, 0], [500, 0]])
    dem = np.array([[300.0, 0], [700, 0], [950, 0]])
    s = coverage_matrix(cand, dem, 300).toarray()
    n = coverage_matrix(cand, dem, 300, mode="network", network=net).toarray()
    assert s.tolist() == n.tolist() == [[True, False, False], [True, True, False]]


@pytest.fixture(scope="module")
def demo_cov():
    study = gridmap.read_study(**datasets.demo_config())
    specs = [
        CoverageSpec("kg", "kindergarten", 300),
        CoverageSpec("kgn", "kindergarten", 300, "network"),
    ]
    return measure_coverage(study, specs, service_areas=False)


def test_proposed_sites_really_cover_their_gain(demo_cov):
    sites, report = propose_sites(demo_cov, "kg", 4, method="both", time_limit_s=2)
    assert len(sites) == 4 and report["status"] in ("optimal", "feasible", "greedy")
    assert report["upper_bound"] >= report["covered_new"] > 0
    # recount independently: uncovered households within 300 m of any new site
    h = demo_cov.households
    unc = ~h["covered:kg"].to_numpy()
    xy = demo_cov.xy[unc]
    sxy = np.column_stack([sites.geometry.x, sites.geometry.y])
    d = np.sqrt(((xy[:, None, :] - sxy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    assert h["households"].to_numpy()[unc][d <= 300 + 1e-6].sum() == pytest.approx(
        report["covered_new"]
    )
    assert sites["gain"].is_monotonic_decreasing


def test_network_siting_from_street_nodes(demo_cov):
    sites, report = propose_sites(demo_cov, "kgn", 3)
    assert (sites.source == "network").all() and report["mode"] == "network"
    assert report["gap"] <= 1 - GREEDY_BOUND + 1e-9
    with pytest.raises(ValueError, match="no coverage spec"):
        propose_sites(demo_cov, "nope", 1)


@pytest.mark.parametrize("seed", range(3))
def test_capacitated_bound_is_valid(seed):
    rng = np.random.default_rng(seed)
    A = sparse.csr_matrix(rng.random((12, 30)) < 0.2)
    w = rng.integers(1, 40, 30)
    g = SiteSelector.from_coverage_matrix(A, w).solve(3, capacity=60)
    e = SiteSelector.from_coverage_matrix(A, w).solve(
        3, method="exact", capacity=60, time_limit_s=20
    )
    assert e.status_ == "optimal"
    assert g.covered_ <= e.covered_ + 1e-9 <= g.upper_bound_ + 1e-9
    assert (g.gains_ <= 60).all()
