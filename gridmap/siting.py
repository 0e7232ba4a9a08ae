"""Where to build next: k new facility sites that cover the most uncovered households.

The maximal covering location problem (MCLP) with existing facilities kept
fixed: demand is the households *not* covered today; a candidate site covers a
household record when it is within the radius (straight line or walking
network). Two solvers share one coverage matrix:

* ``"greedy"``: add the site with the largest gain, k times. Weighted maximum
  coverage is monotone submodular, so greedy ≥ (1 − 1/e) ≈ 63 % of the optimum;
  the data-dependent bound ``f(S) + sum of the k largest remaining gains`` (taken
  at every step) is usually far tighter, and is what ``upper_bound_`` reports.
* ``"exact"``: the MCLP as an integer program solved by OR-Tools CP-SAT, with a
  time limit; ``status_`` says whether optimality was proven and
  ``upper_bound_`` is the solver's bound.

``capacity`` (households per new site) turns the problem into a capacitated one:
each site serves at most that many households. Greedy is then a heuristic (no
(1 − 1/e) guarantee is claimed); its bound is what the k best sites could serve
at most, and the exact solver gives the real answer on small cases.

The array core (:class:`SiteSelector`) works on any sparse coverage matrix; the
geo adapter :func:`propose_sites` builds the matrix from a study.

>>> from scipy import sparse
>>> A = sparse.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool))
>>> sel = SiteSelector.from_coverage_matrix(A, [10, 1, 10, 5]).solve(2)
>>> sel.selected_.tolist(), sel.gains_.tolist(), sel.covered_
([2, 0], [15.0, 11.0], 26.0)
>>> SiteSelector.from_coverage_matrix(A, [10, 1, 10, 5]).solve(2, method="exact").status_
'optimal'
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame, GeoSeries
from ortools.sat.python import cp_model
from scipy import sparse
from scipy.spatial import cKDTree

from gridmap.coverage import CoverageResult, CoverageSpec
from gridmap.facilities import normalise_types
from gridmap.network import (
    Network,
    augmented_graph,
    dijkstra_from,
    snap_points,
    target_distances,
)

__all__ = [
    "SiteSelector",
    "coverage_matrix",
    "candidate_sites",
    "propose_sites",
    "siting_spec",
    "GREEDY_BOUND",
]

#: the worst-case guarantee of greedy maximum coverage
GREEDY_BOUND = 1.0 - 1.0 / np.e


class SiteSelector:
    """Choose k sites maximising covered demand (weighted maximum coverage).

    Build with :meth:`from_coverage_matrix` (or :func:`propose_sites` for a
    study); :meth:`solve` returns self; results end in ``_``.

    Attributes
    ----------
    selected_ : ndarray of int
        Candidate positions, in the order chosen (greedy) or by gain (exact).
    gains_ : ndarray of float
        Newly covered demand of each selected site given the ones before it.
    covered_ : float
        Demand covered by the selected sites.
    upper_bound_ : float
        A proven upper bound on the optimum (greedy: min of the data-dependent
        bound and covered / (1 − 1/e); with capacity: the k largest
        min(capacity, reachable demand); exact: the solver's bound).
    gap_ : float
        ``(upper_bound_ - covered_) / upper_bound_`` (0 when proven optimal).
    status_ : str
        ``"greedy"``, ``"optimal"``, ``"feasible"`` (time limit hit) or ``"infeasible"``.
    """

    selected_: np.ndarray
    gains_: np.ndarray
    covered_: float
    upper_bound_: float
    gap_: float
    status_: str

    def __init__(self, matrix: sparse.csr_matrix, weights: np.ndarray):
        self.matrix = sparse.csr_matrix(matrix, dtype=bool)
        self.weights = np.asarray(weights, dtype="float64")
        if self.matrix.shape[1] != len(self.weights):
            raise ValueError(
                f"coverage matrix has {self.matrix.shape[1]} demand columns but "
                f"{len(self.weights)} weights"
            )

    @classmethod
    def from_coverage_matrix(
        cls, matrix: sparse.spmatrix | np.ndarray, weights: np.ndarray
    ) -> SiteSelector:
        """From a (candidates × demand) boolean matrix and the demand weights."""
        return cls(matrix, weights)

    def solve(
        self,
        k: int,
        *,
        method: str = "greedy",
        capacity: float | None = None,
        time_limit_s: float = 10.0,
        workers: int = 2,
    ) -> SiteSelector:
        """Select ``k`` sites.

        Parameters
        ----------
        k : int
            Number of sites.
        method : {"greedy", "exact"}, keyword-only
            Greedy with a bound, or CP-SAT.
        capacity : float, optional, keyword-only
            Demand one site can serve at most.
        time_limit_s : float, keyword-only
            CP-SAT time limit.
        workers : int, keyword-only
            CP-SAT search workers.

        Returns
        -------
        SiteSelector
            self, with the fitted attributes set.
        """
        if k < 0:
            raise ValueError(f"k must be ≥ 0, got {k}")
        if method == "greedy":
            self._greedy(k, capacity)
        elif method == "exact":
            self._exact(k, capacity, time_limit_s, workers)
        else:
            raise ValueError(f"method must be 'greedy' or 'exact', not {method!r}")
        ub = self.upper_bound_
        self.gap_ = float((ub - self.covered_) / ub) if ub > 0 else 0.0
        return self

    # -------------------------------------------------------------- greedy
    def _greedy(self, k: int, capacity: float | None) -> None:
        A = self.matrix.astype("float64")
        left = self.weights.copy()
        chosen: list[int] = []
        gains: list[float] = []
        bound = np.inf
        covered = 0.0
        for _ in range(min(k, A.shape[0])):
            g = A @ left
            if capacity is not None:
                g = np.minimum(g, capacity)
            if chosen:
                g[chosen] = -1.0
            if capacity is None:
                top = np.sort(g[g > 0])[::-1][:k]
                bound = min(bound, covered + float(top.sum()))
            j = int(np.argmax(g))  # ties: the lowest candidate id
            if g[j] <= 0:
                break
            chosen.append(j)
            gains.append(float(g[j]))
            covered += float(g[j])
            cols = A.indices[A.indptr[j] : A.indptr[j + 1]]
            if capacity is None:
                left[cols] = 0.0
            else:  # serve the largest records first up to the capacity
                take = capacity
                for c in cols[np.argsort(-left[cols], kind="stable")]:
                    use = min(left[c], take)
                    left[c] -= use
                    take -= use
                    if take <= 0:
                        break
        if capacity is None and len(chosen) < k:
            bound = covered  # nothing left to gain: greedy is optimal
        self.selected_ = np.array(chosen, dtype=np.int64)
        self.gains_ = np.array(gains)
        self.covered_ = covered
        if capacity is None:
            self.upper_bound_ = float(min(bound, covered / GREEDY_BOUND))
        else:
            # capacitated greedy is a heuristic: bound by what k sites could serve at most
            reach = np.minimum(A @ self.weights, capacity)
            coverable = float(self.weights[np.asarray(A.sum(axis=0)).ravel() > 0].sum())
            self.upper_bound_ = float(min(np.sort(reach)[::-1][:k].sum(), coverable))
        self.status_ = "greedy"

    # -------------------------------------------------------------- exact
    def _exact(self, k: int, capacity: float | None, time_limit_s: float, workers: int) -> None:
        A = self.matrix.tocsc()
        w = self.weights
        # CP-SAT needs integer weights: households are integers; scale others
        scale = 1 if np.allclose(w, np.round(w)) else 1000
        wi = np.round(w * scale).astype(np.int64)
        m = cp_model.CpModel()
        n_c, n_d = A.shape
        y = [m.new_bool_var(f"y{j}") for j in range(n_c)]
        m.add(sum(y) <= k)
        useful = [i for i in range(n_d) if A.indptr[i + 1] > A.indptr[i] and wi[i] > 0]
        if capacity is None:
            z = {}
            for i in useful:
                z[i] = m.new_bool_var(f"z{i}")
                near = [y[j] for j in A.indices[A.indptr[i] : A.indptr[i + 1]]]
                m.add_bool_or(near).only_enforce_if(z[i])
            m.maximize(sum(int(wi[i]) * z[i] for i in useful))
        else:
            cap = int(round(capacity * scale))
            x = {}
            for i in useful:
                terms = []
                for j in A.indices[A.indptr[i] : A.indptr[i + 1]]:
                    v = m.new_int_var(0, int(wi[i]), f"x{i}_{j}")
                    m.add(v <= int(wi[i]) * y[j])
                    x[(i, j)] = v
                    terms.append(v)
                m.add(sum(terms) <= int(wi[i]))
            for j in range(n_c):
                served = [v for (i, jj), v in x.items() if jj == j]
                if served:
                    m.add(sum(served) <= cap * y[j])
            m.maximize(sum(x.values()))
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = float(time_limit_s)
        solver.parameters.num_workers = int(workers)
        solver.parameters.random_seed = 0
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.selected_, self.gains_ = np.array([], dtype=np.int64), np.array([])
            self.covered_ = 0.0
            self.upper_bound_ = float(solver.best_objective_bound) / scale
            self.status_ = "infeasible"
            return
        chosen = [j for j in range(n_c) if solver.value(y[j])]
        # report gains in greedy order over the chosen set (a marginal breakdown of the optimum)
        sub = SiteSelector(self.matrix[chosen], w)._greedy_order(capacity)
        self.selected_ = np.array(chosen, dtype=np.int64)[sub[0]]
        self.gains_ = sub[1]
        self.covered_ = float(solver.objective_value) / scale
        self.upper_bound_ = float(solver.best_objective_bound) / scale
        self.status_ = "optimal" if status == cp_model.OPTIMAL else "feasible"

    def _greedy_order(self, capacity: float | None) -> tuple[np.ndarray, np.ndarray]:
        s = SiteSelector(self.matrix, self.weights)
        s._greedy(self.matrix.shape[0], capacity)
        order = list(s.selected_)
        rest = [j for j in range(self.matrix.shape[0]) if j not in order]
        return (
            np.array(order + rest, dtype=np.int64),
            np.concatenate([s.gains_, np.zeros(len(rest))]),
        )


# --------------------------------------------------------------------------- geo adapter


def candidate_sites(
    *,
    network: Network | None = None,
    buildings: GeoDataFrame | GeoSeries | None = None,
    spacing_m: float | None = None,
    crs: object = None,
) -> GeoDataFrame:
    """Candidate locations: street nodes and/or building points, optionally thinned.

    Parameters
    ----------
    network : Network, optional, keyword-only
        Every node is a candidate (street corners are where facilities get built).
    buildings : GeoDataFrame or GeoSeries, optional, keyword-only
        Every building (polygons by centroid) is a candidate.
    spacing_m : float, optional, keyword-only
        Keep one candidate per square cell of this size (the first one).

    crs : optional, keyword-only
        The CRS of the result (default: the network's, else the buildings').

    Returns
    -------
    GeoDataFrame
        One point per candidate, with ``source`` (``"network"`` / ``"building"``).

    Examples
    --------
    >>> from shapely import LineString
    >>> from gridmap.network import build_network
    >>> net = build_network(GeoSeries([LineString([(0, 0), (100, 0)])], crs=4549))
    >>> candidate_sites(network=net).source.tolist()
    ['network', 'network']
    """
    parts: list[np.ndarray] = []
    sources: list[str] = []
    if network is not None:
        parts.append(network.nodes)
        sources += ["network"] * network.n_nodes
        crs = crs or network.crs
    if buildings is not None:
        g = buildings.geometry if isinstance(buildings, GeoDataFrame) else buildings
        crs = crs or g.crs
        pts = np.asarray(g.values)
        pts = np.where(shapely.get_type_id(pts) == 0, pts, shapely.centroid(pts))
        parts.append(shapely.get_coordinates(pts))
        sources += ["building"] * len(pts)
    if not parts:
        raise ValueError(
            "candidate_sites needs a network or buildings (or pass your own candidate layer)"
        )
    xy = np.concatenate(parts)
    src = np.array(sources, dtype=object)
    if spacing_m:
        key = np.floor(xy / spacing_m).astype(np.int64)
        _, first = np.unique(key, axis=0, return_index=True)
        first = np.sort(first)
        xy, src = xy[first], src[first]
    return GeoDataFrame({"source": src}, geometry=shapely.points(xy), crs=crs)


def coverage_matrix(
    candidates_xy: np.ndarray,
    demand_xy: np.ndarray,
    radius: float,
    *,
    mode: str = "straight",
    network: Network | None = None,
    max_snap_m: float = 200.0,
    chunk_bytes: float = 2e8,
) -> sparse.csr_matrix:
    """Boolean (candidates × demand) matrix: which demand points a site would cover.

    Parameters
    ----------
    candidates_xy, demand_xy : ndarray, shape (n, 2)
    radius : float
        Covered within this many metres (inclusive).
    mode : {"straight", "network"}, keyword-only
    network : Network, optional, keyword-only
        Required for ``mode="network"``.
    max_snap_m : float, keyword-only
        Points farther from every street are not snapped (they cover nothing).
    chunk_bytes : float, keyword-only
        Memory for the distance rows of one batch of candidates.

    Returns
    -------
    scipy.sparse.csr_matrix of bool, shape (n_candidates, n_demand)

    Examples
    --------
    >>> A = coverage_matrix(np.array([[0.0, 0]]), np.array([[300.0, 0], [300.1, 0]]), 300)
    >>> A.toarray().tolist()
    [[True, False]]
    """
    n_c, n_d = len(candidates_xy), len(demand_xy)
    if mode == "straight":
        tree = cKDTree(demand_xy)
        lists = tree.query_ball_point(candidates_xy, r=radius * (1 + 1e-12) + 1e-6)
        rows = np.repeat(np.arange(n_c), [len(x) for x in lists])
        cols = (
            np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
            if n_c
            else np.array([], dtype=np.int64)
        )
        return sparse.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n_c, n_d))
    if network is None:
        raise ValueError("mode='network' needs a network")
    cs = snap_points(network, shapely.points(candidates_xy), max_snap_m=max_snap_m)
    ds = snap_points(network, shapely.points(demand_xy), max_snap_m=max_snap_m)
    graph, full = augmented_graph(network, cs)
    row_parts: list[np.ndarray] = []
    col_parts: list[np.ndarray] = []
    chunk = max(1, int(chunk_bytes // (8 * max(1, network.n_nodes))))
    for start in range(0, len(full), chunk):
        part = full[start : start + chunk]
        dist, _ = dijkstra_from(
            network, graph, part, limit=radius, min_only=False, all_sources=full
        )
        for r, p in enumerate(part):
            node_src = np.where(np.isfinite(dist[r]), p, -1)
            mask = np.zeros(n_c, dtype=bool)
            mask[p] = True
            d, _ = target_distances(
                network, ds, cs, dist[r], node_src, limit=radius, source_mask=mask
            )
            hit = np.flatnonzero(d <= radius + 1e-6)
            row_parts.append(np.full(len(hit), p))
            col_parts.append(hit)
    rows = np.concatenate(row_parts) if row_parts else np.array([], dtype=np.int64)
    cols = np.concatenate(col_parts) if col_parts else np.array([], dtype=np.int64)
    return sparse.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n_c, n_d))


def propose_sites(
    coverage: CoverageResult,
    spec_id: str,
    k: int,
    *,
    candidates: GeoDataFrame | None = None,
    spacing_m: float | None = 100.0,
    capacity: float | None = None,
    method: str = "greedy",
    exact_max_candidates: int = 2000,
    time_limit_s: float = 10.0,
) -> tuple[GeoDataFrame, dict]:
    """Propose ``k`` new sites for one coverage spec, keeping existing facilities.

    Parameters
    ----------
    coverage : CoverageResult
        From :func:`gridmap.coverage.measure_coverage` (or ``CheckResult.coverage_result``).
    spec_id : str
        Which spec (rule id) to close gaps for: its facility type, radius and mode.
    k : int
    candidates : GeoDataFrame, optional, keyword-only
        The user's candidate sites; default: street nodes (network mode) or
        household buildings (straight mode), thinned to ``spacing_m``.
    capacity : float, optional, keyword-only
        Households one new site can serve.
    method : {"greedy", "exact", "both"}, keyword-only
        ``"both"`` runs greedy, then CP-SAT when there are at most
        ``exact_max_candidates`` candidates, and keeps the better.

    Returns
    -------
    sites : GeoDataFrame
        The selected sites in order: ``rank``, ``gain`` (newly covered households),
        ``cumulative``, ``source``.
    report : dict
        ``uncovered_before``, ``covered_new``, ``upper_bound``, ``gap``, ``status``,
        ``greedy_guarantee``, ``candidates``.

    Examples
    --------
    >>> import gridmap
    >>> from gridmap import datasets
    >>> from gridmap.coverage import measure_coverage
    >>> study = gridmap.read_study(**datasets.demo_config())
    >>> cov = measure_coverage(study, [CoverageSpec("kg", "kindergarten", 300)],
    ...                        service_areas=False)
    >>> sites, report = propose_sites(cov, "kg", 3)
    >>> len(sites), bool(report["covered_new"] == sites.gain.sum()), report["gap"] < 0.37
    (3, True, True)
    """
    spec = next((s for s in coverage.specs if s.id == spec_id), None)
    if spec is None:
        raise ValueError(f"no coverage spec {spec_id!r}; specs: {[s.id for s in coverage.specs]}")
    if method not in ("greedy", "exact", "both"):
        raise ValueError(f"method must be 'greedy', 'exact' or 'both', not {method!r}")
    h = coverage.households
    uncovered = ~h[f"covered:{spec_id}"].fillna(False).to_numpy(dtype=bool)
    assert coverage.xy is not None  # measure_coverage always sets it
    xy = coverage.xy[uncovered]
    w = h["households"].to_numpy(dtype="float64")[uncovered]
    net = coverage.network
    if candidates is None:
        candidates = _default_candidates(coverage, spec, spacing_m)
    cxy = shapely.get_coordinates(np.asarray(candidates.geometry.centroid.values))
    A = coverage_matrix(cxy, xy, spec.radius_m, mode=spec.mode, network=net)
    best = _solve(
        A,
        w,
        k,
        method=method,
        capacity=capacity,
        exact=method == "exact" or (method == "both" and A.shape[0] <= exact_max_candidates),
        time_limit_s=time_limit_s,
    )
    sites = candidates.iloc[best.selected_].copy()
    sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    sites["gain"] = best.gains_[: len(sites)]
    sites["cumulative"] = np.cumsum(sites["gain"].to_numpy())
    sites["facility_type"] = spec.facility_type
    sites["candidate"] = candidates.index[best.selected_].astype(str)
    report = {
        "spec": spec_id,
        "facility_type": spec.facility_type,
        "radius_m": spec.radius_m,
        "mode": spec.mode,
        "k": k,
        "candidates": int(A.shape[0]),
        "uncovered_before": float(w.sum()),
        "covered_new": float(best.covered_),
        "upper_bound": float(best.upper_bound_),
        "gap": float(best.gap_),
        "status": best.status_,
        "greedy_guarantee": GREEDY_BOUND,
        "capacity": capacity,
    }
    return sites.reset_index(drop=True), report


def _default_candidates(
    coverage: CoverageResult, spec: CoverageSpec, spacing_m: float | None
) -> GeoDataFrame:
    """Street nodes for a measured walking spec, else the household points, thinned."""
    net = coverage.network
    if spec.mode == "network" and net is not None:
        return candidate_sites(network=net, spacing_m=spacing_m)
    crs = net.crs if net is not None else None
    return candidate_sites(
        buildings=GeoSeries(shapely.points(coverage.xy), crs=crs), spacing_m=spacing_m
    )


def _solve(
    A: sparse.csr_matrix,
    w: np.ndarray,
    k: int,
    *,
    method: str,
    capacity: float | None,
    exact: bool,
    time_limit_s: float,
) -> SiteSelector:
    """Greedy and/or CP-SAT; the better selection, with the tighter of both bounds."""
    greedy = (
        SiteSelector.from_coverage_matrix(A, w).solve(k, capacity=capacity)
        if method in ("greedy", "both")
        else None
    )
    if not exact:
        assert greedy is not None  # method is "greedy" or "both"
        return greedy
    best = SiteSelector.from_coverage_matrix(A, w).solve(
        k, method="exact", capacity=capacity, time_limit_s=time_limit_s
    )
    other = greedy
    if greedy is not None and best.covered_ < greedy.covered_ - 1e-9:
        best, other = greedy, best
    if other is not None:  # both bounds are valid: keep the tighter
        best.upper_bound_ = min(best.upper_bound_, other.upper_bound_)
        best.gap_ = (
            (best.upper_bound_ - best.covered_) / best.upper_bound_
            if best.upper_bound_ > 0
            else 0.0
        )
        if best.gap_ <= 1e-12 and best.status_ == "greedy":
            best.status_ = "optimal"
    return best


def siting_spec(coverage: CoverageResult, facility_type: str) -> CoverageSpec:
    """The measured spec to propose new sites of ``facility_type`` for.

    The type may be written as a key, a Chinese name or an alias. A walking
    spec measured on a network is preferred; else the first spec of the type.

    Raises
    ------
    ValueError
        When no spec of that type was measured.
    """
    key = normalise_types(pd.Series([facility_type]))[0].iloc[0]
    cands = [s for s in coverage.specs if s.facility_type == key]
    if not cands:
        raise ValueError(f"facility_type {facility_type!r}: no coverage measured for this type")
    return next(
        (s for s in cands if s.mode == "network" and s.id not in coverage.unassessed), cands[0]
    )
