"""The national check on Dask (issue #17): the same tables and findings as the single-machine check.

A small multi-district dataset from ``benchmarks/national_data.py`` (two provinces 7° apart, so
two Gauss-Krüger zones; districts side by side, one grid reaching 70 % into the next district)
is checked on a LocalCluster with 2 workers and compared, row for row, with
:func:`gridmap.check` on the whole data in each partition's CRS. Each street's last community
has a hole (a gap between communities, ``qa.community.gap``) that neighbouring partitions'
windows see too, and a street network runs along every grid line, so the profile's walking
coverage (500 m to a 社区服务站) is measured on the network read per partition.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import gridmap
import gridmap.national.engine as engine
from gridmap.cli import main
from gridmap.national import (
    HALO_DEG,
    NationalSource,
    check_national,
    partition_crs,
    plan_partitions,
)

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
pytestmark = pytest.mark.dask

LAYERS = ("communities", "grids", "households", "facilities", "network")


@pytest.fixture(scope="module")
def source(tmp_path_factory, national_data) -> NationalSource:
    gen = national_data
    root = tmp_path_factory.mktemp("national")
    shape = gen.NationalShape(
        provinces=2, districts=2, streets=2, communities=2, gaps=True, network=True
    )
    gen.write_national(root, shape)
    return NationalSource({k: root / k for k in LAYERS})


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit="1GB",
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def national(source, client):
    return check_national(source, scheduler=client, partition_by="district")


@pytest.fixture(scope="module")
def reference(source):
    """The single-machine check of the whole data, once per metric CRS of the partitions."""
    plan = plan_partitions(source.community_index(), "district")
    layers = {k: source.read(k) for k in LAYERS}
    by_crs: dict = {}
    for key in plan.keys:
        by_crs.setdefault(partition_crs(plan, key).to_epsg(), []).append(key)
    checks = {}
    for epsg, keys in by_crs.items():
        result = gridmap.check(gridmap.read_study(**layers, metric=f"EPSG:{epsg}"))
        checks[epsg] = (keys, result, plan)
    return checks


def _gap_centres(findings: pd.DataFrame, epsg: int) -> np.ndarray:
    """Longitude/latitude of the gap findings' centres, read off their ``(x, y)`` names."""
    xy = findings["unit_name"].str.extract(r"\((-?[\d.]+), (-?[\d.]+)\)").astype(float)
    points = gpd.GeoSeries(shapely.points(xy.to_numpy()), crs=f"EPSG:{epsg}")
    return shapely.get_coordinates(points.to_crs("EPSG:4490").values)


def _reference_gaps(reference) -> pd.DataFrame:
    """The single-machine gap rows, each from the CRS of the partition holding its centre,
    numbered south to north, then west to east (rounded to 1e-5°)."""
    rows, centres = [], []
    for epsg, (keys, result, plan) in reference.items():
        f = result.findings[result.findings["rule_id"] == "qa.community.gap"]
        lonlat = _gap_centres(f, epsg)
        mine = np.isin(plan.home(lonlat), keys)
        rows.append(f[mine])
        centres.append(lonlat[mine])
    gaps = pd.concat(rows, ignore_index=True)
    c = np.round(np.vstack(centres), 5)
    order = sorted(range(len(gaps)), key=lambda i: (c[i, 1], c[i, 0]))
    ids = {i: f"gap-{n + 1}" for n, i in enumerate(order)}
    return gaps.assign(unit_id=[ids[i] for i in range(len(gaps))])


def _rows(table: pd.DataFrame, id_col: str, keys: list[str], owner) -> pd.DataFrame:
    return table[owner(table).str[:6].isin(keys)]


def test_tables_and_findings_identical_to_single_machine(national, reference):
    comms, grids, findings = [], [], []
    study_rows = None
    for keys, result, _ in reference.values():
        comms.append(
            _rows(result.communities_table(), "community_id", keys, lambda t: t["community_id"])
        )
        g = result.grids_table()
        grids.append(g[g["community_id"].astype(str).str[:6].isin(keys)])
        f = result.findings
        unit_key = f["unit_id"].astype(str).str[:6]
        owned_grid = f["unit_id"].isin(grids[-1]["grid_id"])
        mine = ((f["level"] == "community") & unit_key.isin(keys)) | (
            (f["level"] == "grid") & owned_grid
        )
        findings.append(f[mine])
        study_rows = f[(f["level"] == "study") & (f["rule_id"] != "qa.community.gap")]
    findings += [study_rows, _reference_gaps(reference)]
    ref_c = pd.concat(comms).sort_values("community_id").reset_index(drop=True)
    ref_g = pd.concat(grids).sort_values("grid_id").reset_index(drop=True)
    out = national.check_result()
    pd.testing.assert_frame_equal(out.communities_table().reset_index(drop=True), ref_c)
    pd.testing.assert_frame_equal(out.grids_table().reset_index(drop=True), ref_g)
    cols = ["level", "rule_id", "unit_id"]
    ref_f = pd.concat(findings).sort_values(cols).reset_index(drop=True)
    got_f = national.findings.sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(got_f, ref_f)
    walk = "coverage:community.coverage.service_station"
    assert walk in ref_c and ref_c[walk].notna().all()  # measured on the network, not a bound
    assert 0 < ref_c[walk].max() < 1  # … a coverage that partitions could get wrong
    summary = national.summary()
    assert summary["communities_status"] == ref_c["status"].value_counts().to_dict()
    assert summary["grids_status"] == ref_g["status"].value_counts().to_dict()
    for _, single, _ in reference.values():  # the household totals do not depend on the CRS
        for k in ("households_total", "households_assigned", "households_unassigned"):
            assert summary[k] == single.summary()[k], k


def test_gaps_found_once_and_numbered_as_one_run(national, reference):
    """Gaps seen by several partitions' windows: one row each, ids over the whole, no collision."""
    gaps = national.findings[national.findings["rule_id"] == "qa.community.gap"]
    assert len(gaps) == 8  # one per street: 2 provinces × 2 districts × 2 streets
    assert sorted(gaps["unit_id"]) == sorted(f"gap-{i}" for i in range(1, 9))
    ref = _reference_gaps(reference)
    got = gaps.set_index("unit_id").sort_index()
    pd.testing.assert_frame_equal(got, ref.set_index("unit_id").sort_index())
    windows = national.partitions.set_index("partition")["read_communities"]
    assert (windows > national.partitions.set_index("partition")["communities"]).all()


def test_straddling_grid_counted_once(national, source):
    grids = source.read("grids")
    national_grids = national.grids
    assert national_grids.index.is_unique and len(national_grids) == len(grids)
    # the generator's straddler: stored with its own district's code, assigned next door
    moved = national_grids[
        national_grids.index.str[:6] != national_grids["community_id"].astype(str).str[:6]
    ]
    assert len(moved) == 2  # one per province (one shared district edge each)
    parts = national.partitions.set_index("partition")
    assert int(parts["grids"].sum()) == len(grids)
    for gid, row in moved.iterrows():
        assert parts.loc[row["community_id"][:6], "read_grids"] > 0
        assert (national.findings["unit_id"] == gid).sum() == (
            national.findings.query("level == 'grid'")["unit_id"] == gid
        ).sum()


def test_partition_crs_chosen_and_recorded(national):
    parts = national.partitions.set_index("partition")
    assert parts["epsg"].to_dict() == {
        "330101": 4549,
        "330102": 4549,
        "420101": 4547,
        "420102": 4547,
    }
    assert parts.loc["420101", "metric_crs"].startswith("EPSG:4547")
    assert national.summary()["metric_crs"] == {
        parts.loc["330101", "metric_crs"]: 2,
        parts.loc["420101", "metric_crs"]: 2,
    }


def test_partition_reads_no_neighbours_households(national, source):
    """The halo's household records in a neighbour's communities are not read (only those a
    partition may own), and the cost is recorded: rows read, seconds and CPU seconds."""
    parts = national.partitions.set_index("partition")
    assert (parts["cpu_s"] > 0).all() and (parts["seconds"] > 0).all()
    h = HALO_DEG
    for key, (x0, y0, x1, y1) in national.plan.extents.items():
        # the window: the extent grown to the grids near it (step 2 of gridmap.national.worker)
        near = source.read("grids", (x0 - h, y0 - h, x1 + h, y1 + h)).total_bounds
        wx0, wy0 = min(x0, near[0]), min(y0, near[1])
        wx1, wy1 = max(x1, near[2]), max(y1, near[3])
        halo = source.read("households", (wx0 - h, wy0 - h, wx1 + h, wy1 + h))
        # the districts lie side by side: each halo reaches into a neighbour's communities
        assert parts.loc[key, "read_households"] < len(halo), key


def _run_killing_a_worker(client, run):
    """``run()`` while a worker process dies checking a partition; (its result, what died)."""
    killed: dict = {}

    def kill_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.processing().items():
                keys = [k for k in keys if "gridmap-partition" in str(k)]
                if keys:
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    killed.update(worker=worker, key=str(keys[0]), pid=pid)
                    os.kill(pid, signal.SIGKILL)  # the worker process dies; its nanny restarts it
                    return
            time.sleep(0.02)

    thread = threading.Thread(target=kill_busy_worker)
    thread.start()
    result = run()
    thread.join()
    assert killed, "no partition was seen running"
    key = killed["key"].split("-")[2]
    rerun = result.partitions.set_index("partition").loc[key, "worker"]
    assert not rerun.endswith(f":{killed['pid']}")  # its rows come from the rerun
    return result, killed


def test_killed_worker_is_retried_without_duplicates(source, client, national):
    """A worker process dies while it checks a partition: Dask reruns it elsewhere, once."""
    result, _ = _run_killing_a_worker(
        client, lambda: check_national(source, scheduler=client, partition_by="district")
    )
    pd.testing.assert_frame_equal(
        result.check_result().communities_table(), national.check_result().communities_table()
    )
    pd.testing.assert_frame_equal(
        result.check_result().grids_table(), national.check_result().grids_table()
    )
    pd.testing.assert_frame_equal(result.findings, national.findings)
    client.wait_for_workers(2, timeout=60)


def test_out_of_core_run_writes_the_in_memory_outputs(source, client, national, tmp_path):
    """``out=``: the workers stage their rows, this process streams the outputs from them —
    the files of the in-memory result's ``to_dir``, also when a worker died mid-run."""
    memory = tmp_path / "memory"
    national.to_dir(memory)
    out = tmp_path / "out"
    written, _ = _run_killing_a_worker(
        client,
        lambda: check_national(source, scheduler=client, partition_by="district", out=out),
    )
    for name in ("communities.csv", "grids.csv", "findings.csv", "problems.csv", "summary.json"):
        assert (out / name).read_bytes() == (memory / name).read_bytes(), name
    assert written.summary() == national.summary()
    assert written.written["result.gpkg"] == out / "result.gpkg"
    for layer in ("communities", "grids", "findings"):
        pd.testing.assert_frame_equal(
            gpd.read_file(out / "result.gpkg", layer=layer),
            gpd.read_file(memory / "result.gpkg", layer=layer),
        )
    names = {p.name for p in out.iterdir()}
    assert {"partitions.csv", "national", "provinces"} <= names
    assert not [n for n in names if n.startswith(".gridmap-")]  # the staging folder is gone
    client.wait_for_workers(2, timeout=60)


def test_street_partitions_give_the_same_result(source, client, national):
    by_street = check_national(source, scheduler=client, partition_by="street")
    assert by_street.plan.by == "street" and len(by_street.partitions) == 2 * len(
        national.partitions
    )
    a, b = by_street.check_result(), national.check_result()
    pd.testing.assert_frame_equal(a.communities_table(), b.communities_table())
    pd.testing.assert_frame_equal(a.grids_table(), b.grids_table())
    pd.testing.assert_frame_equal(by_street.findings, national.findings)


def test_cli_check_engine_dask_and_rollup(source, client, national, tmp_path, capsys):
    out = tmp_path / "out"
    layers = [f"--{k}={source.layers[k]}" for k in LAYERS]
    address = client.scheduler.address
    assert (
        main(
            [
                "check",
                "--engine",
                "dask",
                "--scheduler",
                address,
                *layers,
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"] == "dask" and summary["communities"] == len(national.communities)
    for name in (
        "communities.csv",
        "grids.csv",
        "findings.csv",
        "summary.json",
        "partitions.csv",
        "result.gpkg",
    ):
        assert (out / name).is_file(), name
    assert (
        out / "national/communities/province=42/city=4201/district=420102/part-0.parquet"
    ).is_file()
    assert {p.name for p in (out / "provinces").iterdir()} == {"33.gpkg", "42.gpkg"}
    assert main(["rollup", str(out), "--by", "district", "province"]) == 0
    comms = pd.read_csv(out / "communities.csv", dtype={"community_id": str}, encoding="utf-8-sig")
    district = pd.read_csv(out / "rollup_district.csv", dtype={"code": str}, encoding="utf-8-sig")
    expect = comms.groupby(comms["community_id"].str[:6])["households"].sum()
    assert district.set_index("code")["households"].to_dict() == expect.to_dict()
    assert district["communities_in_band"].sum() == summary["communities_size"]["pass"]
    grids = pd.read_csv(out / "grids.csv", dtype={"community_id": str}, encoding="utf-8-sig")
    short = (grids["coordinators_required"] - grids["coordinators"]).clip(lower=0)
    assert district["coordinators_short"].sum() == short.sum() > 0
    province = pd.read_csv(out / "rollup_province.csv", dtype={"code": str}, encoding="utf-8-sig")
    assert province["code"].tolist() == ["33", "42"]
    assert province["floor_area_short_m2"].sum() == pytest.approx(
        district["floor_area_short_m2"].sum()
    )
    assert (out / "rollup_province.parquet").is_file() and (out / "rollup_district.xlsx").is_file()


def test_cli_refuses_what_the_dask_engine_cannot_do(source, capsys):
    args = ["check", "--engine", "dask", f"--communities={source.layers['communities']}"]
    assert main([*args, "--metric-crs", "EPSG:4549"]) == 2
    err = capsys.readouterr().err
    assert "--metric-crs" in err and "Gauss-Krüger zone" in err
    with pytest.raises(ValueError, match="partition_by"):
        plan_partitions(source.community_index(), "county")
    index = source.community_index().assign(code="12345")
    with pytest.raises(ValueError, match="12-digit"):
        plan_partitions(index, "district")
    assert plan_partitions(index, "auto").by == "spatial"


def test_auto_merges_small_districts_of_a_city(source):
    index = source.community_index()
    plan = plan_partitions(index)  # 4 communities per district: merged up to AUTO_TARGET
    assert plan.by == "district"
    assert plan.keys == ["330101-330102", "420101-420102"]  # never across a city
    assert plan.counts == {"330101-330102": 8, "420101-420102": 8}
    assert plan.key_of(index["code"]).value_counts().to_dict() == plan.counts
    assert plan_partitions(index, target=4).keys == ["330101", "330102", "420101", "420102"]
    assert plan_partitions(index, target=1).keys == plan_partitions(index, "district").keys


def test_merged_partitions_give_the_same_result(source, client, national):
    merged = check_national(source, scheduler=client)  # auto: one partition per city here
    assert len(merged.partitions) == 2
    a, b = merged.check_result(), national.check_result()
    # the merged districts lie in one Gauss-Krüger zone: the same CRS, so the same numbers
    assert merged.partitions["epsg"].tolist() == [4549, 4547]
    pd.testing.assert_frame_equal(a.communities_table(), b.communities_table())
    pd.testing.assert_frame_equal(a.grids_table(), b.grids_table())
    pd.testing.assert_frame_equal(merged.findings, national.findings)


def test_shared_inputs_scattered_when_large(source, client, national, monkeypatch):
    """Inputs above ``SHARE_IN_TASK_MAX`` are scattered to a worker instead of travelling in
    a task of their own: the same result either way."""
    monkeypatch.setattr(engine, "SHARE_IN_TASK_MAX", 0)
    scattered = check_national(source, scheduler=client, partition_by="district")
    a, b = scattered.check_result(), national.check_result()
    pd.testing.assert_frame_equal(a.communities_table(), b.communities_table())
    pd.testing.assert_frame_equal(a.grids_table(), b.grids_table())
    pd.testing.assert_frame_equal(scattered.findings, national.findings)


def test_unusable_partition_input_names_every_partition(source, client, tmp_path):
    """An input error in the partitions stops the run with each partition's problems, each
    prefixed with its partition."""
    households = source.read("households").drop(columns=["户数"])
    path = tmp_path / "households.parquet"
    households.to_parquet(path, write_covering_bbox=True)
    broken = NationalSource({**source.layers, "households": path})
    with pytest.raises(gridmap.InputError) as caught:
        check_national(broken, scheduler=client, partition_by="district")
    prefixes = {p.message.split("]")[0] + "]" for p in caught.value.problems}
    keys = plan_partitions(source.community_index(), "district").keys
    assert prefixes == {f"[分区 {k}]" for k in keys}
