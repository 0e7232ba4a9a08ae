"""benchmarks/run_all.py: tables from canned results, marker blocks, one real cheap run."""

import importlib.util
import json
import sys

import pytest
from run_all_loader import run_all

INFO = {
    "date": "2026-01-01 00:00 UTC",
    "cpu": "Test CPU",
    "cores": 2,
    "load": [0.5, 0.4, 0.3],
    "python": "3.11",
    "versions": {"numpy": "2"},
    "commit": "abc1234",
}


def _coverage_run(straight, sjoin):
    return {
        "straight": {"straight_5_types_s": straight},
        "sjoin": {"buffer_sjoin_5_types_s": sjoin},
    }


def test_table_gives_median_min_max_and_the_median_of_per_run_ratios():
    runs = [_coverage_run(1.0, 10.0), _coverage_run(2.0, 12.0), _coverage_run(0.5, 9.0)]
    block = run_all.table("coverage", run_all.BENCHES["coverage"], runs, INFO, quick=False)
    row = next(line for line in block.splitlines() if line.startswith("| straight line"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "1.00 s (0.500 s–2.00 s)"
    assert cells[2] == "10.0 s (9.00 s–12.0 s)"
    assert cells[3] == "10.0× (6.00×–18.0×)"  # per-run ratios 10, 6, 18: median 10
    assert "Test CPU, 2 cores, load average 0.5 / 0.4 / 0.3" in block
    assert "3 of 3 run(s) succeeded" in block and "not the record" not in block


def test_failed_runs_are_said_not_hidden():
    runs = [{"error": "did not finish within 60 s"}, _coverage_run(1.0, 8.0)]
    block = run_all.table("coverage", run_all.BENCHES["coverage"], runs, INFO, quick=True)
    assert "**Not reproduced in this run:** did not finish within 60 s" in block
    assert "1 of 2 run(s) succeeded" in block and "not the record" in block
    only_errors = run_all.table("dashboard", run_all.BENCHES["dashboard"], runs[:1], INFO, False)
    assert "Not reproduced" in only_errors and "| figure |" not in only_errors
    # an output without the expected figures is an error too, not a crash
    odd = run_all.table("check", run_all.BENCHES["check"], [{"gridmap": {}}], INFO, False)
    assert "output without the figure" in odd


def test_check_names_the_dominating_stage_when_the_target_is_missed():
    stages = {"read": 1.0, "rules + QA": 3.0, "writing every output": 0.5}
    g = {
        "read_s": 1.0, "assign_households_s": 0.2, "assign_grids_s": 0.3, "assign_s": 0.5,
        "metrics_s": 0.1, "rules_qa_s": 3.0, "total_s": 4.6, "peak_rss_gb": 1.0,
        "total_with_outputs_s": 5.1, "stages_s": stages, "vs_bare_script": 3.4,
        "dominating_stage": "rules + QA",
    }  # fmt: skip
    n = {"read_s": 1.0, "sjoin_groupby_s": 0.5, "overlay_s": 9.0, "assign_s": 9.5, "total_s": 10.5}
    block = run_all.table(
        "check", run_all.BENCHES["check"], [{"gridmap": g, "naive": n}], INFO, False
    )
    assert "dominating stage: rules + QA (3.00 s)" in block
    row = next(line for line in block.splitlines() if "bare read + sjoin" in line)
    assert row.rstrip(" |").endswith("0.294×")  # 1.5 s bare / 5.1 s
    del g["dominating_stage"]
    block = run_all.table(
        "check", run_all.BENCHES["check"], [{"gridmap": g, "naive": n}], INFO, False
    )
    assert "dominating stage" not in block


def test_write_block_replaces_between_markers_and_appends_when_absent():
    doc = "# B\n\nintro\n<!-- run_all:check:begin -->\nold\n<!-- run_all:check:end -->\nprose\n"
    new = run_all.write_block(doc, "check", "NEW")
    assert "old" not in new and "NEW" in new and new.endswith("prose\n") and "intro" in new
    assert run_all.write_block(new, "check", "NEW") == new  # idempotent
    added = run_all.write_block(doc, "serve", "S")
    assert added.startswith(doc.rstrip("\n")) and "<!-- run_all:serve:begin -->\nS\n" in added


def test_last_json_reads_an_indented_dump_after_other_output():
    text = 'progress line\n{"a": 1}\n{\n  "b": {\n    "c": 2\n  }\n}\n'
    assert run_all.last_json(text) == {"b": {"c": 2}}
    with pytest.raises(ValueError):
        run_all.last_json("no json here")


@pytest.mark.slow
def test_quick_coverage_run_writes_a_table_with_a_ratio(tmp_path):
    # one real run of the cheapest benchmark (straight line vs buffer + sjoin, 0.02 scale)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n<!-- run_all:coverage:begin -->\nx\n<!-- run_all:coverage:end -->\n")
    raw = tmp_path / "raw.json"
    code = run_all.main(["--quick", "--only", "coverage", "--doc", str(doc), "--json", str(raw)])
    assert code == 0
    text = doc.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| straight line"))
    ratio = row.strip("|").split("|")[3].strip()
    assert ratio.endswith("×") and float(ratio[:-1]) > 0
    assert "Quick smoke run" in text and "\nx\n" not in text
    assert "s per GiB, random read" in text  # the machine's memory state, probed in this run
    assert "| coverage |" in run_all.read_block(text, "index")
    runs = json.loads(raw.read_text())["results"]["coverage"]
    assert runs[0]["sjoin"]["misclassified_buildings"]  # the exactness check ran too


def _bench_module(name):
    path = run_all.HERE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def test_coverage_city_is_made_once_and_the_networkx_sample_is_fixed(tmp_path):
    city = _bench_module("coverage_city")
    path = tmp_path / "city.npz"
    facts = city.city_once(path, 0.01)
    assert "reused" not in facts and path.exists()
    (tmp_path / "network.npz").write_bytes(b"saved by a gridmap part")
    assert city.city_once(path, 0.01)["reused"] is True
    assert (tmp_path / "network.npz").exists()  # same city: the saved network stays valid
    city.city_once(path, 0.02)  # another scale: regenerated, the old network dropped
    assert not (tmp_path / "network.npz").exists()
    types = city.load_city(path)["fac_t"]
    a, b = city.facility_sample(types, 0.25), city.facility_sample(types, 0.25)
    assert (a == b).all() and 0 < a.sum() < len(types)
    for typ in city.TYPES:  # a quarter of each type, at least 3
        n = (types == typ).sum()
        assert a[types == typ].sum() == min(n, max(3, round(0.25 * n)))
    assert city.facility_sample(types, 1.0).all()


def test_the_rebalancing_reference_is_reused_only_when_proven(tmp_path):
    import numpy as np
    import pandas as pd
    from scipy import sparse

    reb = _bench_module("bench_rebalance")
    graph = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    base = pd.Series(["a", "a", "b"], index=["g1", "g2", "g3"], dtype=object)
    inputs = (graph, np.array([5, 6, 7]), base, 3, 60.0, {"min_households": 1})
    solved = []

    def solve(proven):
        def run():
            solved.append(proven)
            labels = pd.Series(["a", "b", "b"], index=base.index, dtype=object)
            return {"proven": proven, "violations": np.int64(0), "seconds": 1.5, "labels": labels}

        return run

    first = reb.cached_optimum(str(tmp_path), inputs, solve(True))
    again = reb.cached_optimum(str(tmp_path), inputs, solve(True))
    assert solved == [True] and "cached" not in first and again["cached"] is True
    assert again["violations"] == 0 and again["seconds"] == 1.5
    assert again["labels"].equals(first["labels"])
    other = (graph, np.array([5, 6, 8]), *inputs[2:])  # other households: solved again
    reb.cached_optimum(str(tmp_path), other, solve(False))
    reb.cached_optimum(str(tmp_path), other, solve(False))  # not proven: never reused
    assert solved == [True, False, False]


def test_settle_waits_for_the_load_to_fall_and_gives_up_after_its_time():
    settle = run_all.settle
    loads, slept = iter([2.0, 1.2, 0.7, 0.4, 0.3]), []
    assert settle(60, 0.5, load=lambda: next(loads), sleep=slept.append) == (15.0, 0.4)
    assert slept == [5.0, 5.0, 5.0]
    slept.clear()
    assert settle(12, 0.5, load=lambda: 3.0, sleep=slept.append) == (12.0, 3.0)
    assert slept == [5.0, 5.0, 2.0]
    assert settle(60, 0.5, load=lambda: 0.1, sleep=slept.append) == (0.0, 0.1)
