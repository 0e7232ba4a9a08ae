"""The minimal-change rebalancer: known optima, explanations, locks, properties, CLI."""

import argparse
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_edits import lattice_units

from gridmap import datasets
from gridmap.edits import community_pieces, lattice_adjacency
from gridmap.plans import Plan
from gridmap.rebalance import Rebalancer, band_violations, from_scratch_labels


def strip(labels, hh, **kw):
    lab = pd.Series(list(labels), index=[f"u{i}" for i in range(len(labels))])
    return Rebalancer(lattice_adjacency(1, len(labels)), np.asarray(hh), lab, **kw)


def test_strip_known_optimum():
    rb = strip("AAAAABB", [400] * 7, min_households=1000, max_households=1700).solve()
    # A has 2000 (> 1700): one unit to B (1200) is the unique minimum
    assert rb.status_ == "optimal" and rb.units_moved_ == 1
    assert rb.moves_.to_dict("records") == [
        {"unit_id": "u4", "from_community": "A", "to_community": "B", "households": 400}
    ]


def test_prefers_fewer_households_on_ties():
    # A = [300, 900, 900, 300 | B ...]: moving the small end unit is better than a big one
    rb = strip("AAABB", [900, 900, 300, 500, 500], min_households=1000, max_households=1900).solve()
    assert rb.units_moved_ == 1 and rb.moves_["households"].tolist() == [300]


def test_lattice_known_optimum_local_equals_global():
    # 4 x 4 lattice, 4 communities of 2 x 2; C00 gets 3 big units (too large), C03 too small
    hh = np.full(16, 300)
    units = lattice_units(4, 4, 2, 2, households=hh)
    hh = units["households"].to_numpy().copy()
    hh[[0, 1, 4]] = 1200
    hh[[10, 11, 14, 15]] = 200
    units["households"] = hh
    g = lattice_adjacency(4, 4)
    kw = dict(min_households=1000, max_households=3000)
    loc = Rebalancer(g, hh, units["community_id"], **kw).solve()
    glo = Rebalancer(g, hh, units["community_id"], local=False, **kw).solve()
    assert loc.violations_after_ == glo.violations_after_ == 0
    assert loc.units_moved_ == glo.units_moved_ == 2  # one unit out of C00, one into C03
    assert community_pieces(loc.labels_, g).max() == 1


def test_no_violations_is_a_no_op():
    rb = strip("AABB", [600] * 4, min_households=1000, max_households=3000).solve()
    assert rb.status_ == "no_violations" and rb.units_moved_ == 0 and rb.explanations_ == []


def test_unit_above_max_is_explained():
    rb = Rebalancer(
        lattice_adjacency(1, 3),
        np.array([3400, 800, 900]),
        pd.Series(["A", "B", "B"], index=["320505006023004", "x", "y"]),
        min_households=1000,
        max_households=3000,
    ).solve()
    assert rb.status_ == "partial"
    assert rb.explanations_[0].startswith(
        "网格 320505006023004 单独就有 3,400 户 > 3,000 户：请先拆分此网格"
    )


def test_isolated_small_community_is_explained():
    g = lattice_adjacency(1, 3)
    g[[1, 2], [2, 1]] = False  # unit 2 is an island
    g.eliminate_zeros()
    rb = Rebalancer(
        g,
        np.array([1500, 600, 700]),
        pd.Series(["A", "A", "B"], index=list("xyz")),
        min_households=1000,
        max_households=3000,
        names={"B": "孤岛社区"},
    ).solve()
    assert rb.status_ == "partial" and "没有可合并的相邻社区" in " ".join(rb.explanations_)
    assert "孤岛社区" in " ".join(rb.explanations_)


def test_locked_community_out_of_band_is_explained():
    rb = strip(
        "AAAB",
        [300, 300, 300, 300],
        min_households=1000,
        max_households=3000,
        locked_communities=["A"],
        allow_dissolve=False,
    ).solve()
    assert any("已锁定" in e for e in rb.explanations_)


def test_locks_are_respected():
    # A too large; its best unit to move (u3) is locked, so another must go
    hh = [400, 400, 400, 400, 300, 300]
    free = strip("AAAABB", hh, min_households=700, max_households=1300).solve()
    assert free.moves_["unit_id"].tolist() == ["u3"]
    locked = strip(
        "AAAABB", hh, min_households=700, max_households=1300, locked_units=["u3"]
    ).solve()
    assert "u3" not in locked.moves_["unit_id"].tolist()
    assert locked.violations_after_ == 0 or locked.explanations_


def test_split_when_moves_cannot_fix():
    # one community of 8 x 500 = 4000 and nothing to move into: split it
    rb = strip("AAAAAAAA", [500] * 8, min_households=1000, max_households=3000).solve()
    assert rb.violations_after_ == 0 and rb.labels_.nunique() == 2
    assert community_pieces(rb.labels_, lattice_adjacency(1, 8)).max() == 1


def test_dissolve_when_moves_cannot_fix():
    # B (400) cannot grow without breaking A (1100 ≥ 1000): B is dissolved into A
    rb = strip("AAAAB", [275, 275, 275, 275, 400], min_households=1000, max_households=3000).solve()
    assert rb.violations_after_ == 0 and set(rb.labels_) == {"A"}


def test_infeasible_within_hops_is_explained_not_raised():
    rb = strip(
        "AAAAB",
        [275, 275, 275, 275, 400],
        min_households=1000,
        max_households=3000,
        allow_dissolve=False,
        allow_split=False,
    ).solve()
    assert rb.status_ == "partial" and "社区 B" in rb.explanations_[0]


def test_from_scratch_draws_band_communities():
    g = lattice_adjacency(6, 6)
    hh = np.random.default_rng(1).integers(50, 120, 36)
    start = from_scratch_labels(g, hh, target=1000, min_households=600, max_households=1500)
    assert community_pieces(start, g).max() == 1
    rb = Rebalancer(g, hh, start, min_households=600, max_households=1500, time_limit=10).solve()
    assert rb.violations_after_ == 0
    assert band_violations(rb.labels_, hh, min_households=600, max_households=1500).empty


def test_to_edit_goes_into_a_plan():
    units = lattice_units(2, 4, 2, 2, households=[600, 600, 100, 100, 600, 600, 100, 100])
    plan = Plan(units, name="p")
    rb = Rebalancer.from_plan(plan, min_households=1000, max_households=3000).solve()
    plan.apply(rb.to_edit(), comment="auto")
    assert plan.kpis()["too_small"] == 0 and plan.audit()["op"].tolist() == ["rebalance"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), rows=st.integers(3, 6), cols=st.integers(3, 6))
def test_rebalance_properties(seed, rows, cols):
    rng = np.random.default_rng(seed)
    units = lattice_units(rows, cols, 2, 3, households=rng.integers(50, 900, rows * cols))
    g = lattice_adjacency(rows, cols)
    hh = units["households"].to_numpy()
    rb = Rebalancer(
        g, hh, units["community_id"], min_households=1000, max_households=2500, time_limit=3
    ).solve()
    lab = rb.labels_
    assert lab.index.equals(units.index.astype(str)) and lab.notna().all()  # each unit exactly once
    assert pd.Series(hh).groupby(lab.to_numpy()).sum().sum() == hh.sum()  # households conserved
    assert community_pieces(lab, g).max() == 1  # contiguous
    left = band_violations(lab, hh, min_households=1000, max_households=2500)
    assert len(left) == rb.violations_after_
    if rb.violations_after_:
        assert rb.explanations_  # never a silent failure
    assert rb.units_moved_ == int((lab != units["community_id"]).sum())


def _args(sub_args):
    from gridmap.cli.rebalance import add_rebalance_parser

    ap = argparse.ArgumentParser()
    add_rebalance_parser(ap.add_subparsers())
    return ap.parse_args(["rebalance", *sub_args])


@pytest.mark.slow
def test_cli_on_demo(tmp_path, capsys):
    shutil.copyfile(datasets.get_path("demo"), tmp_path / "demo.gpkg")
    (tmp_path / "gridmap.toml").write_text(datasets.demo_config_toml("demo.gpkg"), encoding="utf-8")
    args = _args(
        [
            str(tmp_path / "gridmap.toml"),
            "--out",
            str(tmp_path / "out"),
            "--time-limit",
            "30",
            "--shp-encoding",
            "gbk",
            "--plan-name",
            "演示调整",
        ]
    )
    assert args.func(args) == 0
    report = json.loads((tmp_path / "out" / "rebalance.json").read_text(encoding="utf-8"))
    assert report["violations_before"] == 10 and report["violations_after"] == 0
    changes = pd.read_csv(tmp_path / "out" / "changes.csv", dtype=str)
    assert (
        list(changes.columns[:3]) == ["单元编码", "单元名称", "原社区编码"]
        and len(changes) == report["units_moved"]
    )
    assert "演示调整" in capsys.readouterr().out
    from gridmap.plans import load_plan

    assert load_plan(tmp_path / "out" / "workspace.gpkg", "演示调整").kpis()["too_large"] == 0


def test_cli_rejects_unknown_lock(tmp_path):
    from gridmap import InputError

    shutil.copyfile(datasets.get_path("demo"), tmp_path / "demo.gpkg")
    (tmp_path / "gridmap.toml").write_text(datasets.demo_config_toml("demo.gpkg"), encoding="utf-8")
    args = _args([str(tmp_path / "gridmap.toml"), "--out", str(tmp_path / "o"), "--lock", "nope"])
    with pytest.raises(InputError, match="nope"):
        args.func(args)


def test_tree_hint_is_a_feasible_flow():
    from gridmap.rebalance.graph import flow_tree

    g = lattice_adjacency(1, 5)
    arcs = {(u, v): (u, v) for u in range(5) for v in (u - 1, u + 1) if 0 <= v < 5 and v != 0}
    extra, flows, supply = flow_tree(g, {1, 2, 3}, {0}, [], arcs)
    # each member receives one unit more than it passes on: the size of its subtree
    assert extra == [] and supply == {}
    assert flows == {(0, 1): 3, (1, 2): 2, (2, 3): 1}
    assert flow_tree(g, {1, 3}, {0}, [], arcs) is None  # 3 unreachable through members: no hint
    # without a fixed root, a chosen free root supplies its part
    extra, flows, supply = flow_tree(g, {2, 3, 4}, set(), [3, 2], arcs)
    assert extra == [3] and supply == {3: 3} and flows == {(3, 2): 1, (3, 4): 1}


def test_polish_never_worse_than_the_local_pass():
    rng = np.random.default_rng(7)
    units = lattice_units(12, 12, 3, 4, households=rng.integers(40, 260, 144))
    hh = units["households"].to_numpy().copy()
    hh[:4] *= 3  # a crowded corner
    g = lattice_adjacency(12, 12)
    kw = dict(min_households=1000, max_households=3000, time_limit=20)
    local_only = Rebalancer(
        g, hh, units["community_id"], global_units=0, polish_units=0, **kw
    ).solve()
    polished = Rebalancer(g, hh, units["community_id"], **kw).solve()
    assert local_only.violations_after_ == polished.violations_after_ == 0
    assert polished.units_moved_ <= local_only.units_moved_
    assert any(s["stage"] == "global" for s in polished.subproblems_)
    assert community_pieces(polished.labels_, g).max() == 1


# --------------------------------------------------------------------------- real geometry, issue 10


def _blocks(hh, cols=6, block=2):
    """A 2 × ``cols`` lattice, communities of 2 × ``block`` units (C00, C01, …), households per unit."""
    units = lattice_units(2, cols, 2, block, households=np.asarray(hh))
    return lattice_adjacency(2, cols), units["households"].to_numpy(), units["community_id"]


def test_unfixable_community_never_blocks_its_neighbours():
    # C00 too small, C02 too large; both can only be fixed through C01, which holds a unit above
    # the maximum (never fixable). Requiring every community of a subproblem in band made both
    # fixes infeasible; with the band soft, both get fixed and only C01 is left.
    #          C00         C01          C02
    hh = [200, 200, 300, 3500, 900, 900, 200, 200, 300, 300, 900, 900]
    g, h, lab = _blocks(hh)
    kw = dict(
        min_households=1000,
        max_households=3000,
        allow_split=False,
        allow_dissolve=False,
        time_limit=10,
    )
    loc = Rebalancer(g, h, lab, **kw).solve()
    glo = Rebalancer(g, h, lab, local=False, **kw).solve()
    assert loc.violations_before_ == 3
    assert band_violations(loc.labels_, h, min_households=1000, max_households=3000)[
        "community_id"
    ].tolist() == ["C01"]
    # the proven whole-map optimum: same violations, same number of moves
    assert glo.proven_ and (loc.violations_after_, loc.units_moved_) == (
        glo.violations_after_,
        glo.units_moved_,
    ) == (1, 2)
    assert community_pieces(loc.labels_, g).max() == 1
    assert any("单独就有 3,500 户" in e for e in loc.explanations_)


def test_same_input_same_plan():
    rng = np.random.default_rng(3)
    units = lattice_units(10, 10, 2, 3, households=rng.integers(40, 700, 100))
    g = lattice_adjacency(10, 10)
    hh = units["households"].to_numpy()
    runs = [
        Rebalancer(
            g,
            hh,
            units["community_id"],
            min_households=1000,
            max_households=2500,
            time_limit=2,
            wall_limit=3600,
        ).solve()
        for _ in range(2)
    ]
    assert runs[0].violations_before_ > 0 and all(r.deterministic_ for r in runs)
    assert runs[0].labels_.equals(runs[1].labels_)
    assert [s.get("moves") for s in runs[0].subproblems_] == [
        s.get("moves") for s in runs[1].subproblems_
    ]


def test_global_solves_the_whole_map():
    rng = np.random.default_rng(5)
    units = lattice_units(6, 6, 3, 2, households=rng.integers(100, 700, 36))
    g = lattice_adjacency(6, 6)
    hh = units["households"].to_numpy()
    kw = dict(
        min_households=1000,
        max_households=2500,
        allow_split=False,
        allow_dissolve=False,
        time_limit=20,
    )
    glo = Rebalancer(g, hh, units["community_id"], local=False, **kw).solve()
    loc = Rebalancer(g, hh, units["community_id"], **kw).solve()
    assert glo.violations_before_ > 0 and glo.proven_
    assert [s["stage"] for s in glo.subproblems_] == ["global"] and glo.subproblems_[0][
        "communities"
    ] == 6
    assert glo.violations_after_ < glo.violations_before_
    # the staged solve reaches the proven optimum: violations, then moves
    assert (loc.violations_after_, loc.units_moved_) == (glo.violations_after_, glo.units_moved_)


def test_households_outside_units_are_a_fixed_remainder():
    # A: two units of 500 plus 2,500 outside its grids = 3,500 > 3,000; B: 2 × 500
    rb = strip(
        "AABB", [500] * 4, min_households=1000, max_households=3000, offsets={"A": 2500}
    ).solve()
    assert rb.violations_before_ == 1 and rb.violations_after_ == 0 and rb.units_moved_ == 1
    assert rb._totals(rb.labels_.to_numpy()).to_dict() == {"A": 3000, "B": 1500}
    # a community whose remainder alone keeps it too large cannot be fixed by moves: said so
    big = strip(
        "AABB", [500] * 4, min_households=1000, max_households=3000, offsets={"A": 2900}
    ).solve()
    assert big.units_moved_ <= 1 and any(
        "网格外的住户就有 2,900 户" in e for e in big.explanations_
    )


def test_explanations_quote_the_checks_totals():
    # unit z is an island; its community B has 158 households in grids and 2,388 outside them:
    # 2,546 in all, in band — not "合计只有 158 户"
    g = lattice_adjacency(1, 3)
    g[[1, 2], [2, 1]] = False
    g.eliminate_zeros()
    lab = pd.Series(["A", "A", "B"], index=list("xyz"))
    rb = Rebalancer(
        g,
        np.array([1500, 600, 158]),
        lab,
        min_households=1000,
        max_households=3000,
        offsets={"B": 2388},
    ).solve()
    assert rb.violations_before_ == 0 and rb.explanations_ == []
    small = Rebalancer(
        g,
        np.array([1500, 600, 158]),
        lab,
        min_households=1000,
        max_households=3000,
        offsets={"B": 500},
        names={"B": "金星苑社区"},
    ).solve()
    assert any("合计只有 658 户" in e and "金星苑社区" in e for e in small.explanations_)


def test_no_unit_is_pinned_where_contiguity_does_not_need_it():
    # A (200) can only grow by B's u1, B's first/heaviest unit (the old fixed anchor); B keeps u2
    rb = strip(
        "ABB",
        [200, 1300, 1100],
        min_households=1000,
        max_households=2500,
        allow_split=False,
        allow_dissolve=False,
    ).solve()
    assert rb.violations_after_ == 0 and rb.moves_["unit_id"].tolist() == ["u1"]


@pytest.mark.slow
def test_cli_band_comes_from_the_profile(tmp_path, capsys):
    from gridmap import InputError

    shutil.copyfile(datasets.get_path("demo"), tmp_path / "demo.gpkg")
    (tmp_path / "gridmap.toml").write_text(datasets.demo_config_toml("demo.gpkg"), encoding="utf-8")
    args = _args(
        [
            str(tmp_path / "gridmap.toml"),
            "--profile",
            "hangzhou-2008",
            "--out",
            str(tmp_path / "a"),
            "--time-limit",
            "5",
        ]
    )
    assert args.func(args) == 0
    report = json.loads((tmp_path / "a" / "rebalance.json").read_text(encoding="utf-8"))
    assert (report["min_households"], report["max_households"], report["profile"]) == (
        1500,
        3000,
        "hangzhou-2008",
    )
    assert "注意" not in capsys.readouterr().out
    args = _args(
        [
            str(tmp_path / "gridmap.toml"),
            "--min",
            "1200",
            "--out",
            str(tmp_path / "b"),
            "--time-limit",
            "5",
        ]
    )
    assert args.func(args) == 0
    assert "1,200–3,000" in capsys.readouterr().out
    args = _args(
        [
            str(tmp_path / "gridmap.toml"),
            "--min",
            "5000",
            "--max",
            "1000",
            "--out",
            str(tmp_path / "c"),
        ]
    )
    with pytest.raises(InputError, match="--min"):
        args.func(args)


# --------------------------------------------------------------------------- one interface, issue 11


def test_plan_rebalance_gives_codes_not_text():
    units = lattice_units(2, 4, 2, 2, households=[600, 600, 100, 100, 600, 600, 100, 100])
    plan = Plan(units, name="p")
    res = plan.rebalance(min_households=1000, max_households=3000)
    rb = Rebalancer.from_plan(plan, min_households=1000, max_households=3000).solve()
    assert res.status == "fixed" and res.reasons == () and res.edit.changes == rb.to_edit().changes
    assert plan.apply(res.edit).ok and plan.kpis()["too_small"] == 0
    # a unit above the maximum cannot be fixed: a code per community, text from the code
    units = lattice_units(1, 3, 1, 3, households=[3400, 800, 900])
    res = Plan(units, name="q").rebalance(min_households=1000, max_households=3000)
    assert res.status == "infeasible" and [r.code for r in res.reasons] == ["unit_above_max"]
    assert list(res.by_community) == ["C00"] and "unit_above_max" in json.dumps(res.to_dict())
    assert res.text("en")[0] == "unit U000 alone has 3,400 households > 3,000: split it first"


def test_remedies_name_the_callers_options():
    from gridmap.cli.rebalance import CLI_OPTIONS
    from gridmap.rebalance import Reason

    r = Reason(
        "budget_exhausted",
        ("A",),
        values={"households": 3500, "min": 1000, "max": 3000, "hops": 2},
        remedies=("time_limit",),
    )
    assert r.text("zh").endswith("可加大 time_limit=") and "--" not in r.explanation()
    assert r.text("zh", options=CLI_OPTIONS).endswith("可加大 --time-limit")
    assert r.text("en", options=CLI_OPTIONS).endswith("raise --time-limit")
    rb = strip(
        "AAAAB",
        [275, 275, 275, 275, 400],
        min_households=1000,
        max_households=3000,
        allow_dissolve=False,
        allow_split=False,
    ).solve()
    assert rb.reasons_ and not any("--" in e for e in rb.explanations_)  # the library's wording


def test_plan_rebalance_checks_its_arguments():
    plan = Plan(lattice_units(2, 4, 2, 2, households=[300] * 8), name="p")
    with pytest.raises(ValueError, match="locked="):
        plan.rebalance(locked=["nope"])
    with pytest.raises(ValueError, match="hops="):
        plan.rebalance(hops=0)
    with pytest.raises(ValueError, match="max_households="):
        Plan(
            lattice_units(2, 4, 2, 2, households=[300] * 8), name="x", profile="national"
        ).rebalance(min_households=5000, max_households=1000)


def test_redraw_keeps_households_outside_units_with_their_community():
    # C00 holds 1,500 households outside its units: the new community that takes its id keeps them
    units = lattice_units(4, 4, 2, 2, households=[250] * 16)
    plan = Plan(units, name="r", community_offsets={"C00": 1500})
    res = plan.redraw(target=2000, min_households=1000, max_households=3000, time_limit=5)
    assert res.edit.op == "from_scratch" and res.status in ("fixed", "no_violations")
    plan.apply(res.edit)
    t = plan.communities(min_households=1000, max_households=3000)
    assert t.loc["C00", "units"] > 0 and (t["units"] > 0).all()  # no remainder left on its own
    assert t["households"].sum() == 16 * 250 + 1500 and (t["status"] == "pass").all()
    assert res.units_moved == len(plan.changes())


def test_large_maps_improve_the_moves_window_by_window():
    # a map above global_units: no whole-map stage; improvement windows after the polish
    rng = np.random.default_rng(11)
    units = lattice_units(12, 12, 3, 4, households=rng.integers(40, 260, 144))
    hh = units["households"].to_numpy().copy()
    hh[:4] *= 3
    g = lattice_adjacency(12, 12)
    kw = dict(
        min_households=1500, max_households=2100, time_limit=10, global_units=100, wall_limit=3600
    )
    runs = [Rebalancer(g, hh, units["community_id"], **kw).solve() for _ in range(2)]
    rb = runs[0]
    assert rb.violations_before_ > 0 and rb.violations_after_ == 0
    assert any(s["stage"] == "improve" for s in rb.subproblems_)
    assert runs[0].labels_.equals(runs[1].labels_)  # deterministic
    assert community_pieces(rb.labels_, g).max() == 1
