"""The rebalancer on the real Suzhou Industrial Park geometry (synthetic households, seed 0).

SIP's grids cover a sixth of the community area and about half of the synthetic households
lie outside every grid: the redraw must count them (fixed remainders), see the neighbours
the map shows, and never be blocked by a community that cannot be fixed.
"""

import numpy as np
import pytest

import gridmap
from gridmap.adjacency import planning_adjacency, unit_adjacency
from gridmap.plans import Plan
from gridmap.rebalance import Rebalancer
from gridmap.synthetic import synthetic_households

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def sip_result():
    from conftest import SIP

    if not (SIP / "sip.gpkg").exists():
        pytest.skip(f"real SIP data not found at {SIP}")
    gpkg = SIP / "sip.gpkg"
    study = gridmap.read_study(
        communities=f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive"
    )
    hh = synthetic_households(study.communities, study.grids, seed=0)
    study = gridmap.read_study(
        communities=f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive", households=hh
    )
    return gridmap.check(study)


def _pairs(graph, labels):
    coo = graph.tocoo()
    return {
        tuple(sorted((a, b)))
        for a, b in zip(labels[coo.row], labels[coo.col], strict=True)
        if a != b
    }


def test_planning_adjacency_sees_every_neighbouring_community(sip_result):
    r = sip_result
    grids = r.grids[r.grids["community_id"].notna()]
    lab = grids["community_id"].astype(str).to_numpy()
    comm = r.communities
    cids = comm.index.astype(str).to_numpy()
    on_map = _pairs(unit_adjacency(comm, tolerance=5.0), cids) & {
        tuple(sorted((a, b))) for a in set(lab) for b in set(lab) if a != b
    }
    planning = _pairs(planning_adjacency(grids, comm), lab)
    touching = _pairs(unit_adjacency(grids, tolerance=1.0), lab)
    assert len(touching) < 0.6 * len(on_map)  # grids alone miss many real neighbours
    assert planning == on_map  # every pair that touches on the map, and no other


def test_plan_totals_equal_the_check(sip_result):
    plan = Plan.from_check(sip_result)
    t = plan.communities()["households"]
    check = sip_result.communities["households"].reindex(t.index)
    assert np.allclose(t.to_numpy(), check.to_numpy())
    assert sum(plan.offsets.values()) > 0.3 * sip_result.communities["households"].sum()


@pytest.mark.slow
def test_rebalance_on_sip_is_deterministic_and_beats_local_blocking(sip_result):
    plan = Plan.from_check(sip_result)
    kw = dict(time_limit=6, allow_split=False, allow_dissolve=False)
    runs = [Rebalancer.from_plan(plan, **kw).solve() for _ in range(2)]
    a, b = runs
    assert a.labels_.equals(b.labels_)
    assert a.violations_after_ < a.violations_before_ // 3
    # whatever is left is explained with the check's own totals
    tot = sip_result.communities["households"]
    for cid in a._violators(a.labels_.to_numpy()):
        assert any(f"{int(tot[cid]):,} 户" in e or cid in e for e in a.explanations_)
