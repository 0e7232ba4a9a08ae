"""benchmarks/run_all.py's block writer on fake JSON results: no benchmark runs here."""

import re
import time
from typing import Any

from run_all_loader import run_all

QUIET = {
    "date": "2026-01-01 00:00 UTC",
    "cpu": "Test CPU",
    "cores": 2,
    "load": [0.4, 0.3, 0.2],
    "load_end": [0.9, 0.5, 0.3],
    "python": "3.11",
    "versions": {"numpy": "2"},
    "commit": "abc1234",
}


def coverage(straight=None, sjoin=None, network=None, nx=None, **extra):
    """A fake bench_coverage.py result; ``None`` leaves the key out."""
    g = {"straight_5_types_s": straight, "network_5_types_incl_snap_s": network, **extra}
    r = {"gridmap": {k: v for k, v in g.items() if v is not None}}
    if sjoin is not None:
        r["sjoin"] = {"buffer_sjoin_5_types_s": sjoin}
    if nx is not None:
        r["networkx"] = {"graph_build_s": nx[0], "dijkstra_5_types_s": nx[1]}
    return r


def block(runs, info=QUIET, name="coverage", quick=False):
    return run_all.table(name, run_all.BENCHES[name], runs, info, quick)


def cells(text, start):
    row = next(line for line in text.splitlines() if line.startswith(f"| {start}"))
    return [c.strip() for c in row.strip().strip("|").split("|")]


def target_line(text, start):
    return next(line for line in text.splitlines() if line.startswith(f"- {start}"))


def test_ratio_is_the_median_of_per_run_ratios_not_the_ratio_of_medians():
    # per-run ratios 2, 10, 12 → median 10; ratio of the medians would be 12 / 4 = 3
    runs = [coverage(1.0, 2.0), coverage(4.0, 40.0), coverage(5.0, 60.0)]
    c = cells(block(runs), "straight line, 5 types")
    assert c[1] == "4.00 s (1.00 s–5.00 s)"
    assert c[2] == "40.0 s (2.00 s–60.0 s)"
    assert c[3] == "10.0× (2.00×–12.0×)"
    assert "median ratio 10.00×" in target_line(block(runs), "straight line ≥ 10×")


def test_target_met_missed_and_not_measured():
    met = block([coverage(1.0, 12.0, 2.0, (10.0, 40.0))] * 3)
    assert "**met**" in target_line(met, "straight line ≥ 10×")
    assert "**met**" in target_line(met, "network incl. snapping ≥ 20×")  # 50 / 2 = 25×
    assert "**met** (median 2.00 s)" in target_line(met, "network incl. snapping ≤ 30 s")
    missed = block([coverage(1.0, 5.0, 40.0, (10.0, 40.0))])
    assert "**missed** (median ratio 5.00×)" in target_line(missed, "straight line ≥ 10×")
    assert "**missed** (median 40.0 s)" in target_line(missed, "network incl. snapping ≤ 30 s")
    # no networkx part in the run: the network ratio is not measured, never a crash
    partial = block([coverage(1.0, 12.0, 2.0)])
    assert target_line(partial, "network incl. snapping ≥ 20×").endswith("not measured")
    assert "**met**" in target_line(partial, "network incl. snapping ≤ 30 s")


def test_missing_keys_read_not_measured_and_an_empty_output_is_a_failure():
    text = block([coverage(1.0, 12.0)])
    assert cells(text, "network build (once)")[1] == "not measured"
    assert "1 of 1 run(s) succeeded" in text
    # a result carrying none of the figures the reader expects is a failed run
    text = block([{"gridmap": {"renamed_key_s": 1.0}}])
    assert "**Not reproduced in this run:** output without the figures" in text
    assert "0 of 1 run(s) succeeded" in text and "| figure |" not in text
    # every reader survives an empty or oddly shaped result
    for name, bench in run_all.BENCHES.items():
        odd_results: tuple[Any, ...] = (
            {},
            {"runs": [{}]},
            {"runs": ["x"]},
            {"cases": {"x": {}}},
            {"cases": ["x"]},
            {"dask": [{}]},
            {"dask": 3},
            {"gridmap": None, "naive": []},
            {"gridmap": {"stages_s": [1]}, "maplibre": "x"},
        )
        for odd in odd_results:
            out = run_all.table(name, bench, [odd], QUIET, False)
            assert "Not reproduced" in out, name


def test_failure_block_says_what_failed_and_keeps_the_good_runs():
    runs = [{"error": "exit 1: TimeoutError: no page"}, coverage(2.0, 30.0)]
    text = block(runs)
    assert "**Not reproduced in this run:** exit 1: TimeoutError: no page" in text
    assert "1 of 2 run(s) succeeded" in text
    assert cells(text, "straight line, 5 types")[3] == "15.0×"
    only_failures = block([{"error": "did not finish within 600 s"}], name="serve")
    assert "did not finish within 600 s" in only_failures and "| figure |" not in only_failures
    assert "Targets" not in only_failures  # no verdicts without figures


def test_noisy_flag_from_the_load_at_start_not_from_its_own_load_at_the_end():
    runs = [coverage(1.0, 10.0)]
    assert "noisy" not in block(runs)
    assert "load average 0.4 / 0.3 / 0.2 at start, 0.9 / 0.5 / 0.3 at end" in block(runs)
    text = block(runs, {**QUIET, "load": [1.6, 0.3, 0.2]})
    assert "**noisy**: load above 1.5 at start" in text
    text = block(runs, {**QUIET, "load_end": [3.1, 2.0, 1.0]})  # its own 20 users, say
    assert "noisy" not in text and "the load at the end counts the benchmark's own" in text
    no_end = {k: v for k, v in QUIET.items() if k != "load_end"}
    assert "not measured at end" in block(runs, no_end)


def test_check_names_its_dominating_stage_only_where_a_target_is_missed():
    g = {
        "read_s": 1.0, "assign_households_s": 0.2, "assign_grids_s": 0.3, "assign_s": 0.5,
        "metrics_s": 0.1, "rules_qa_s": 3.0, "total_s": 4.6, "peak_rss_gb": 1.0,
        "total_with_outputs_s": 5.1, "dominating_stage": "rules + QA",
        "stages_s": {"read": 1.0, "rules + QA": 3.0},
    }  # fmt: skip
    n = {"read_s": 1.0, "sjoin_groupby_s": 0.5, "overlay_s": 9.0, "assign_s": 9.5}
    text = block([{"gridmap": g, "naive": n}], name="check")
    line = target_line(text, "whole check with every output ≤ 2×")
    assert "**missed** (median ratio 0.29×); dominating stage: rules + QA (3.00 s)" in line
    assert "dominating stage" not in target_line(text, "assignment ≥ 5×")  # 19× : met
    assert cells(text, "stage: rules + QA")[1] == "3.00 s"
    assert [line for line in text.splitlines() if line.startswith("- whole check ≤ 60 s")] == [
        "- whole check ≤ 60 s (#2): **met** (median 4.60 s)"
    ]
    assert cells(text, "whole check |")[2] == "—"  # no naive total in this result


def test_write_block_replaces_between_markers_leaves_the_rest_and_appends_missing():
    doc = (
        "# B\n<!-- run_all:check:begin -->\nold check\n<!-- run_all:check:end -->\nprose\n"
        "<!-- run_all:serve:begin -->\nold serve\n<!-- run_all:serve:end -->\n"
    )
    new = run_all.write_block(doc, "check", "NEW")
    assert "old check" not in new and "old serve" in new and "prose" in new
    assert run_all.read_block(new, "check") == "\nNEW\n"
    assert run_all.write_block(new, "check", "NEW") == new
    added = run_all.write_block(doc, "plans", "P")
    assert added.startswith(doc.rstrip("\n"))
    assert added.endswith("<!-- run_all:plans:begin -->\nP\n<!-- run_all:plans:end -->\n")
    assert run_all.read_block(doc, "plans") == ""


def test_budget_skips_what_does_not_fit_and_keeps_an_earlier_generated_block(tmp_path, capsys):
    earlier = block([coverage(1.0, 10.0)])
    doc = tmp_path / "b.md"
    doc.write_text(
        f"# B\n<!-- run_all:coverage:begin -->\n{earlier}\n<!-- run_all:coverage:end -->\n"
        "<!-- run_all:report:begin -->\n*Not regenerated yet*\n<!-- run_all:report:end -->\n"
    )
    assert run_all.main(["--only", "coverage", "report", "--budget", "0", "--doc", str(doc)]) == 0
    out = capsys.readouterr().out
    assert "expected: report 3×" in out and ", coverage 3×" in out and "total" in out
    assert "coverage: skipped: budget" in out and "report: skipped: budget" in out
    text = doc.read_text()
    cov, rep = run_all.read_block(text, "coverage"), run_all.read_block(text, "report")
    assert cov.strip().startswith("**Skipped: budget") and earlier in cov
    assert rep.strip().startswith("**Skipped: budget") and "Generated by" not in rep
    # skipping again does not pile up notes
    run_all.main(["--only", "coverage", "--budget", "0", "--doc", str(doc)])
    assert run_all.read_block(doc.read_text(), "coverage").count("**Skipped") == 1


def test_the_plan_fits_the_40_minute_budget_with_3_runs_each_cheapest_first():
    todo = run_all.plan(list(run_all.BENCHES), 3, quick=False)
    assert sum(s for _, _, s in todo) <= 40 * 60
    assert {name for name, _, _ in todo} == set(run_all.BENCHES)
    assert all(n >= 3 for _, n, _ in todo)
    assert [s for _, _, s in todo] == sorted(s for _, _, s in todo)
    # the rebalancing reference is solved once: later runs are expected to be shorter
    reb = run_all.BENCHES["rebalance"]
    assert reb.expected(3) == reb.est_s + 2 * reb.est_rest_s < 3 * reb.est_s


def test_an_overrunning_benchmark_loses_its_own_runs_not_the_later_benchmarks(
    tmp_path, capsys, monkeypatch
):
    calls, timeouts = [], {}

    def fake_run(name, bench, quick, workdir, timeout=None):
        calls.append(name)
        timeouts[name] = timeout
        time.sleep(0.6 if name == "national" else 0.05)  # national overruns its 0.1 s
        return coverage(1.0, 12.0) if name == "coverage" else {"single_machine": {"seconds": 1}}

    monkeypatch.setattr(run_all, "run_once", fake_run)
    monkeypatch.setattr(run_all, "memory_state", lambda: {})
    monkeypatch.setattr(run_all.BENCHES["national"], "est_s", 0.1)
    monkeypatch.setattr(run_all.BENCHES["coverage"], "est_s", 0.3)
    doc = tmp_path / "b.md"
    doc.write_text("# B\n")
    # budget 1.5 s: national first (cheapest), then coverage's 0.9 s must stay reserved
    argv = ["--only", "coverage", "national", "--budget", str(1.5 / 60), "--doc", str(doc)]
    assert run_all.main(argv) == 0
    out = capsys.readouterr().out
    assert out.index("national run 1/3") < out.index("coverage run 1/3")
    assert "national: budget reached after 1 run(s)" in out
    assert calls.count("national") == 1 and calls.count("coverage") >= 1
    assert timeouts["national"] <= 1.5 - 0.3  # a runaway run is cut before coverage's first run
    text = doc.read_text()
    assert "**1 of 3 planned runs: budget**" in run_all.read_block(text, "national")
    assert "Generated by" in run_all.read_block(text, "coverage")


def test_index_gives_each_blocks_own_date_and_state():
    fresh = block([coverage(1.0, 10.0)])
    noisy = block(
        [coverage(1.0, 10.0)], {**QUIET, "date": "2026-02-02 10:00 UTC", "load": [4, 4, 4]}
    )
    doc = (
        "# B\nblocks sit between `<!-- run_all:NAME:begin -->` and its end marker\n"
        f"<!-- run_all:coverage:begin -->\n{fresh}\n<!-- run_all:coverage:end -->\n"
        f"<!-- run_all:check:begin -->\n{noisy}\n<!-- run_all:check:end -->\n"
        "<!-- run_all:plans:begin -->\n**Skipped: budget (1.0 of 40 min left)** (run of "
        "2026-03-03 00:00 UTC, commit `def5678`, expected 140 s per run).\n"
        "<!-- run_all:plans:end -->\n"
    )
    rows = {line.split("|")[1].strip(): line for line in run_all.index(doc).splitlines()[2:]}
    assert "| 2026-01-01 00:00 UTC | `abc1234` | 1 of 1 | quiet |" in rows["coverage"]
    assert "| 2026-02-02 10:00 UTC |" in rows["check"] and "**noisy**" in rows["check"]
    assert (
        "never" in rows["plans"]
        and "last run (2026-03-03 00:00 UTC) skipped: budget" in rows["plans"]
    )
    assert "NAME" not in rows  # a marker quoted in prose is not a block


def test_coverage_ratio_is_like_for_like_on_networkx_facilities():
    r = coverage(1.0, 12.0, 5.0, (10.0, 40.0), facilities=27500)
    r["gridmap"]["same_facilities_as_networkx"] = {
        "network_5_types_incl_snap_s": 2.0,
        "facilities": 6875,
    }
    r["networkx"]["facilities"] = 6875
    r["memory_probe"] = {
        "before": {"fresh_s_per_gib": 0.5, "random_read_ns": 90},
        "after": {"fresh_s_per_gib": 6.0, "random_read_ns": 200},
    }
    text = block([r], {**QUIET, "memory": {"fresh_s_per_gib": 0.4, "random_read_ns": 80}})
    assert cells(text, "network, 5 types, incl. snapping")[1:] == ["5.00 s", "—", "—"]
    assert cells(text, "networkx's facilities")[1:3] == ["6,875", "6,875"]
    assert cells(text, "network on networkx's facilities, incl. snapping")[3] == "25.0×"
    assert "**met** (median ratio 25.00×)" in target_line(text, "network incl. snapping ≥ 20×")
    assert "**met** (median 5.00 s)" in target_line(text, "network incl. snapping ≤ 30 s")
    assert cells(text, "machine: fresh memory at end")[1] == "6.00 s/GiB"
    assert "fresh memory 0.40 / ? s per GiB, random read 80 / ? ns at start / end" in text


def test_a_workdir_placeholder_in_the_arguments_is_the_run_folder(tmp_path, monkeypatch):
    seen = []

    def fake_subprocess_run(cmd, **kw):
        seen.append(cmd)
        raise run_all.subprocess.TimeoutExpired(cmd, 1)

    monkeypatch.setattr(run_all.subprocess, "run", fake_subprocess_run)
    out = run_all.run_once("rebalance", run_all.BENCHES["rebalance"], False, tmp_path, 1)
    assert out == {"error": "did not finish within 1 s"}
    assert f"{tmp_path}/rebalance-optimum" in seen[0] and "{workdir}" not in " ".join(seen[0])


def test_a_baseline_alone_is_still_a_result_with_its_own_column_names():
    # bench_plans.py --stores gpkg: the GeoPackage baseline only, no PostGIS value
    r = {"gpkg/single": {"first_save_s": 0.4, "load_s": 0.5}, "gpkg/many": {"failures": 0}}
    text = run_all.table("plans", run_all.BENCHES["plans"], [r], QUIET, False)
    assert "| figure | PostGIS, median (min–max) | baseline: GeoPackage |" in text
    assert cells(text, "one planner: first save")[1:3] == ["not measured", "0.400 s"]
    assert cells(text, "20 editors: failures")[2] == "0"


def test_a_target_on_several_figures_is_judged_on_each():
    r = {
        "single_machine": {"seconds": 10.0},
        "dask": [
            {"workers": 1, "partition_by": "district", "seconds": 12.0},
            {"workers": 1, "partition_by": "street", "seconds": 20.0},
            {"workers": 2, "partition_by": "district", "seconds": 7.0},
        ],
    }
    text = run_all.table("national", run_all.BENCHES["national"], [r], QUIET, False)
    lines = [line for line in text.splitlines() if line.startswith("- Dask overhead")]
    assert len(lines) == 2
    assert "[Dask, 1 worker(s), by district]: **met** (median ratio 0.83×)" in lines[0]
    assert "[Dask, 1 worker(s), by street]: **missed** (median ratio 0.50×)" in lines[1]


def test_main_writes_blocks_with_elapsed_times_and_cuts_runs_at_the_budget(
    tmp_path, capsys, monkeypatch
):
    calls = []

    def fake_run(name, bench, quick, workdir, timeout=None):
        calls.append((name, timeout))
        time.sleep(1.5)
        return coverage(1.0, 12.0)

    monkeypatch.setattr(run_all, "run_once", fake_run)
    monkeypatch.setattr(run_all, "memory_state", lambda: {})
    monkeypatch.setattr(run_all.BENCHES["coverage"], "est_s", 0.01)  # 3 runs: 0.03 s expected
    doc = tmp_path / "b.md"
    doc.write_text("# B\n")
    # a budget of 2.5 s: the first run (1.5 s) leaves too little for a second one
    assert run_all.main(["--only", "coverage", "--budget", str(2.5 / 60), "--doc", str(doc)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"coverage run 1/3: \d+\.\d s \(0 s CPU\), ok", out)
    assert "budget reached after 1 run(s)" in out
    assert re.search(r"coverage: \d+ s elapsed \(expected 0 s\)", out)
    assert len(calls) == 1 and calls[0][1] <= 2.5  # cut at the budget, not after 900 s
    block = run_all.read_block(doc.read_text(), "coverage")
    assert "1 of 1 run(s) succeeded" in block and "**1 of 3 planned runs: budget**" in block
    assert "at end" in block and "12.0×" in block


def test_a_block_names_the_core_versions_and_its_own_packages_only():
    info = {**QUIET, "versions": {"numpy": "2", "networkx": "3.4", "dash": "4.4"}}
    text = block([coverage(1.0, 10.0)], info)
    assert "numpy 2, networkx 3.4" in text and "dash" not in text


def test_counts_print_as_whole_numbers():
    r = {"study": {"community": 5041, "grid": 50410}, "maplibre": {"grid": {"first_map_ms": 1.5}}}
    text = run_all.table("dashboard", run_all.BENCHES["dashboard"], [r], QUIET, False)
    assert cells(text, "grids on the map")[1] == "50,410"
    r = {"gpkg/many": {"saves_per_s": 0.5312}}
    text = run_all.table("plans", run_all.BENCHES["plans"], [r], QUIET, False)
    assert cells(text, "20 editors: accepted saves per second")[2] == "0.531/s"


def test_each_missed_coverage_target_names_its_own_dominating_stage():
    r = coverage(1.0, 5.0, 2.0, (10.0, 20.0))  # 5× and 15×: both ratios missed
    r["targets"] = {
        "straight_vs_sjoin": {"dominating_stage": "straight_market", "stages_s": {"straight_market": 0.4}},
        "network_vs_networkx": {"dominating_stage": "snap_buildings", "stages_s": {"snap_buildings": 1.5}},
    }  # fmt: skip
    text = block([r])
    assert target_line(text, "straight line ≥ 10×").endswith("straight_market (0.40 s)")
    assert target_line(text, "network incl. snapping ≥ 20×").endswith("snap_buildings (1.50 s)")
    assert "dominating" not in target_line(text, "network incl. snapping ≤ 30 s")  # met
