"""Every faster path of the check against the slow exact one it replaced (issue #19).

The check's hot paths were rewritten for speed (wording each distinct number once, flags
per unit id instead of ``isin``, each community pair tested once for overlap, ...). Each test
here builds random input, runs the public function, and compares with the straightforward
implementation written out in the test: same values, same order, same text.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas import GeoDataFrame, GeoSeries
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.assign import (
    assign_grids,
    assign_households,
    grid_shares,
    largest_overlap,
    overlap_table,
)
from gridmap.coverage.privacy import merge_small_cells
from gridmap.evaluation import overall_status
from gridmap.facilities import type_label
from gridmap.io import read_layer
from gridmap.io.csv_out import write_csv
from gridmap.metrics import grid_metrics
from gridmap.qa import community_attr_qa, community_lookup, community_topology, grid_overlaps
from gridmap.rules import evaluate, load_profile
from gridmap.rules.model import FINDING_COLUMNS


def _units(n: int, rng: np.random.Generator) -> pd.DataFrame:
    households = rng.integers(0, 4000, n).astype(float)
    households[rng.random(n) < 0.1] = np.nan
    coordinators = rng.integers(0, 8, n).astype(float)
    coordinators[rng.random(n) < 0.1] = np.nan
    types = ["service_station", "police_office", "health_station", "kindergarten"]
    facility_types = [
        None if rng.random() < 0.1 else tuple(t for t in types if rng.random() < 0.6)
        for _ in range(n)
    ]
    return pd.DataFrame(
        {
            "name": [f"单元{i}" for i in range(n)],
            "households": households,
            "coordinators": coordinators,
            "facility_types": facility_types,
            "sparse": rng.random(n) < 0.2,
        },
        index=pd.Index([f"{320000000000 + i}" for i in range(n)], name="community_id"),
    )


def _fmt(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}"
    return f"{x:,.1f}"


@pytest.mark.parametrize("seed", [0, 1])
def test_messages_and_thresholds_equal_row_by_row_wording(seed):
    """Range and coordinator findings: every message and threshold as formatting each row."""
    rng = np.random.default_rng(seed)
    units = _units(400, rng)
    profile = load_profile("national")
    grid = evaluate(units, profile, level="grid")
    rule = profile.rule("grid.coordinators")
    per, floor = float(rule.params["per"]), float(rule.params.get("min_per_unit", 1))
    req = np.maximum(floor, np.ceil(units["households"] / per)).where(units["households"].notna())
    want_threshold = [f"≥{_fmt(r)}人" if pd.notna(r) else "" for r in req]
    assert grid["threshold"].tolist() == want_threshold
    gap = (req - units["coordinators"]).clip(lower=0)
    fail = grid["status"].to_numpy() == "fail"
    want = [f"需增配 {_fmt(g)} 名协理员" for g in gap[fail]]
    assert grid["message"][fail].tolist() == want

    comm = evaluate(units, profile, level="community")
    size = comm[comm.rule_id == "community.size"].reset_index(drop=True)
    band = profile.rule("community.size").params
    for i, row in size.iterrows():
        h = units["households"].iloc[i]
        if row.status != "fail":
            continue
        if h > band["max"]:
            assert row.message == f"超出上限 {_fmt(h - band['max'])} 户"
        else:
            assert row.message == f"低于下限 {_fmt(band['min'] - h)} 户"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_facilities_rule_equals_unit_by_unit(lang):
    rng = np.random.default_rng(3)
    units = _units(300, rng)
    profile = load_profile("national")
    rule = profile.rule("community.facilities")
    required = list(rule.params["required"])
    f = evaluate(units, profile, level="community", lang=lang)
    got = f[f.rule_id == rule.id].reset_index(drop=True)
    for i, have in enumerate(units["facility_types"]):
        row = got.iloc[i]
        if have is None:
            assert row.status == "not_assessed" and np.isnan(row.value)
            continue
        missing = [t for t in required if t not in set(have)]
        assert row.value == len(required) - len(missing)
        assert row.gap == len(missing)
        assert row.status == ("fail" if missing else "pass")
        if missing:
            sep = "、" if lang == "zh" else ", "
            names = sep.join(type_label(t, lang=lang) for t in missing)
            assert row.message == (f"缺少 {names}" if lang == "zh" else f"missing {names}")


def _status_by_isin(index: pd.Index, findings: pd.DataFrame) -> list:
    """The overall status as it was computed before (``isin`` on unit id sets)."""
    f = findings[~findings["rule_id"].astype(str).str.startswith("qa.")]
    status = pd.Series("not_assessed", index=index.astype(str), dtype=object)
    fail_err = f[(f["status"] == "fail") & (f["severity"] == "error")]["unit_id"].unique()
    fail_warn = f[f["status"] == "fail"]["unit_id"].unique()
    passed = f[f["status"] == "pass"]["unit_id"].unique()
    status[status.index.isin(passed)] = "pass"
    status[status.index.isin(fail_warn)] = "warning"
    status[status.index.isin(fail_err)] = "fail"
    return status.tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overall_status_equals_isin(seed):
    rng = np.random.default_rng(seed)
    index = pd.Index([f"u{i}" for i in rng.integers(0, 60, 80)])  # duplicates on purpose
    n = 300
    findings = pd.DataFrame(
        {
            "unit_id": [f"u{i}" for i in rng.integers(0, 70, n)],  # some match no unit
            "rule_id": rng.choice(["a.x", "b.y", "qa.grid.outside"], n),
            "status": rng.choice(["pass", "fail", "not_assessed"], n),
            "severity": rng.choice(["error", "warning"], n),
        }
    )
    got = overall_status(index, findings)
    assert got.index.equals(index)
    assert got.tolist() == _status_by_isin(index, findings)


def test_overall_status_without_findings():
    index = pd.Index(["a", "b"])
    empty = pd.DataFrame(columns=FINDING_COLUMNS)
    assert overall_status(index, empty).tolist() == ["not_assessed"] * 2


@pytest.mark.parametrize("seed", [0, 1])
def test_community_overlaps_equal_the_predicate_query(seed):
    """Overlap findings: the same pairs, in the same order, as ``query(predicate="overlaps")``."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 2000, (2, 150))
    w, h = rng.uniform(50, 300, (2, 150))
    boxes = shapely.box(x, y, x + w, y + h)
    boxes[::7] = shapely.box(x[::7], y[::7], x[::7] + 20, y[::7] + 20)  # some inside others
    comm = GeoDataFrame(
        {"name": [f"社区{i}" for i in range(150)]},
        geometry=boxes,
        index=pd.Index([f"c{i:03d}" for i in range(150)]),
        crs=4549,
    )
    got = community_topology(comm)
    got = got[got.rule_id == "qa.community.overlap"]
    a, b = shapely.STRtree(boxes).query(boxes, predicate="overlaps")
    keep = a < b
    a, b = a[keep], b[keep]
    area = shapely.area(shapely.intersection(boxes[a], boxes[b]))
    big = area >= 1.0
    assert len(got) == big.sum() > 0
    assert got["unit_id"].tolist() == [f"c{i:03d}" for i in a[big]]
    assert got["value"].tolist() == area[big].tolist()
    assert got["message"].tolist() == [
        f"与社区 社区{j}（c{j:03d}）重叠 {ar:,.0f} m²"
        for j, ar in zip(b[big], area[big], strict=True)
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_overlap_pairs_equal_the_predicate_query(seed):
    """``overlap_table``: the pairs and areas of an ``intersects`` query and exact intersections."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 3000, (2, 400))
    parts = shapely.box(x, y, x + rng.uniform(10, 200, 400), y + rng.uniform(10, 200, 400))
    cx, cy = rng.uniform(0, 3000, (2, 60))
    zones = shapely.buffer(shapely.points(cx, cy), rng.uniform(100, 500, 60), quad_segs=4)
    got = overlap_table(GeoSeries(parts, crs=4549), GeoSeries(zones, crs=4549), tolerance=0)
    p, z = shapely.STRtree(zones).query(parts, predicate="intersects")
    area = shapely.area(shapely.intersection(parts[p], zones[z]))
    within = shapely.covers(zones[z], parts[p])
    whole = np.zeros(len(parts), dtype=bool)
    whole[p[within]] = True
    keep = within | ~whole[p]
    want = pd.DataFrame({"part": p[keep], "zone": z[keep], "area": area[keep]})
    want = want[want.area > 0].sort_values(["part", "zone"]).reset_index(drop=True)
    got = got.sort_values(["part", "zone"]).reset_index(drop=True)
    assert len(want) > 100 and whole.any()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, check_dtype=False)


_WORDS = [
    "a",
    "",
    "x,y",
    'q"t',
    "line\nbreak",
    "cr\rx",
    " sp ",
    "中文，逗号",
    "社区",
    "1e5",
    "#",
    "'",
]


def _nasty_frame(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    maybe = [None if rng.random() < 0.2 else str(rng.choice(_WORDS)) for _ in range(n)]
    return pd.DataFrame(
        {
            "text": pd.array(rng.choice(_WORDS, n), dtype="str"),
            "object": pd.Series(maybe, dtype=object),
            "float": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1e6, n))
            * rng.choice([1, 1e-9, 1e12], n),
            "int": rng.integers(-5, 5, n),
            # repeated values (formatted once each): signed zeros, infinities, NaN, whole numbers
            "repeats": rng.choice([0.0, -0.0, 1.5, np.inf, -np.inf, np.nan, 1e16, 123.0, 0.1], n),
            "float32": np.where(rng.random(n) < 0.2, np.nan, rng.normal(0, 1e3, n)).astype(
                np.float32
            ),
            "nullable": pd.array(maybe, dtype="string"),
            'name, "quoted"': 1.0,
            # the grids' and communities' tables: nullable integers and booleans, <NA> empty
            "Int64": pd.array(
                np.where(rng.random(n) < 0.2, None, rng.integers(-(2**40), 2**40, n)),
                dtype="Int64",
            ),
            "UInt64": pd.array(
                np.where(rng.random(n) < 0.2, None, rng.integers(0, 2**63, n, dtype=np.uint64)),
                dtype="UInt64",
            )
            + pd.array([2**63] * n, dtype="UInt64"),
            "Int8": pd.array(rng.integers(-128, 127, n), dtype="Int8"),
            "boolean": pd.array(
                np.where(rng.random(n) < 0.2, None, rng.random(n) < 0.5), dtype="boolean"
            ),
            "bool": rng.random(n) < 0.5,
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_write_csv_bytes_equal_pandas(tmp_path, seed):
    frame = _nasty_frame(seed)
    write_csv(frame, tmp_path / "fast.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"only": ["", None, "a"]}),  # one column: empty cells quoted by pandas
        pd.DataFrame({"flag": [True, False], "n": pd.array([1, None], dtype="Int64")}),
        pd.DataFrame({"mixed": [1, "a"], "x": [0.5, 2.0]}),
        _nasty_frame(3).iloc[:0],
    ],
    ids=["single", "bool-Int64", "mixed-object", "empty"],
)
def test_write_csv_other_frames_equal_pandas(tmp_path, frame):
    write_csv(frame, tmp_path / "fast.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", ["fast", "single", "mixed-object"])
def test_write_csv_chunks_into_one_handle_equal_the_whole(tmp_path, seed, kind):
    """Chunks written into one open file, the header once: the bytes of the whole frame, and of
    the old way (each chunk to a file of its own, less the header-only file's bytes)."""
    frame = {
        "fast": _nasty_frame(seed),
        "single": pd.DataFrame({"only": ["", None, "a", "b,c", '"q"'] * 7}),
        "mixed-object": pd.DataFrame({"mixed": [1, "a", None] * 11, "x": [0.5, 2.0, -0.0] * 11}),
    }[kind]
    cuts = [0, 1, 1, len(frame) // 2, len(frame)]  # an empty chunk too
    with open(tmp_path / "chunked.csv", "wb") as fh:
        for i, (a, b) in enumerate(itertools.pairwise(cuts)):
            assert write_csv(frame.iloc[a:b], fh, header=i == 0) is fh
    old = b""
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        data = write_csv(frame.iloc[a:b], tmp_path / "one.csv").read_bytes()
        if i:
            data = data[len(write_csv(frame.iloc[:0], tmp_path / "one.csv").read_bytes()) :]
        old += data
    whole = write_csv(frame, tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "chunked.csv").read_bytes() == whole == old


def test_check_topology_on_its_thread_equals_community_topology():
    """check() runs the topology QA on a thread, alongside the assignment: the same findings as alone."""
    import gridmap

    # four communities round an empty square (a gap); the left one overlaps the bottom by 10 m
    boxes = [shapely.box(0, 0, 3000, 1000), shapely.box(0, 2000, 3000, 3000)]
    boxes += [shapely.box(0, 990, 1000, 2000), shapely.box(2000, 1000, 3000, 2000)]
    comm = GeoDataFrame(
        {"社区编码": [f"32000000000{i}" for i in range(4)], "户数": [1500] * 4},
        geometry=boxes,
        crs=4549,
    )
    # three grids in the bottom community, the middle one drawn over its neighbours by 50 m
    cells = [shapely.box(0, 0, 1000, 1000), shapely.box(950, 0, 2050, 1000)]
    cells += [shapely.box(2000, 0, 3000, 1000)]
    grids = GeoDataFrame(
        {"网格编码": [f"32000000000000{i}" for i in range(3)], "户数": [500] * 3},
        geometry=cells,
        crs=4549,
    )
    study = gridmap.read_study(comm, grids)
    result = gridmap.check(study)
    got = result.findings[result.findings.rule_id.str.startswith("qa.community")]
    want = community_topology(study.communities)
    assert set(want.rule_id) == {"qa.community.overlap", "qa.community.gap"}
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    got = result.findings[result.findings.rule_id == "qa.grid.overlap"]
    want = grid_overlaps(study.grids)
    assert len(want) == 2
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    assert result.timings["topology"] >= 0


def test_check_household_grids_on_their_thread_equal_assign_households():
    """check() finds the households' grids on a thread while grids meet communities: same table."""
    import gridmap
    from gridmap import datasets

    study = gridmap.read_study(**datasets.demo_config())
    result = gridmap.check(study)
    grid_comm = assign_grids(study.grids, study.communities)["community_geom"]
    want = assign_households(study.households, study.grids, study.communities, grid_comm)
    assert len(want) == len(study.households) and want["community_id"].notna().any()
    pd.testing.assert_frame_equal(result.households, want)
    assert result.timings["assign_households"] > 0


@pytest.mark.parametrize("method", ["largest", "area"])
def test_assign_households_with_grid_shares_given_equals_computing_them(method):
    """The grid step done apart (grid_shares) and handed in: the same assignment."""
    rng = np.random.default_rng(11)
    cells = [
        shapely.box(i * 100, j * 100, i * 100 + 100, j * 100 + 100)
        for i in range(4)
        for j in range(3)
    ]
    grids = GeoDataFrame(geometry=cells, index=[f"g{i:02d}" for i in range(12)], crs=4549)
    comms = GeoDataFrame(
        geometry=[shapely.box(0, 0, 200, 300), shapely.box(200, 0, 400, 300)],
        index=["c1", "c2"],
        crs=4549,
    )
    xy = rng.uniform(-20, 420, (300, 2)).round(-1)  # on edges, corners and outside too
    geoms = list(shapely.points(xy[:200])) + list(shapely.buffer(shapely.points(xy[200:]), 15))
    hh = GeoDataFrame({"households": rng.integers(1, 30, 300)}, geometry=geoms, crs=4549)
    grid_comm = assign_grids(grids, comms)["community_geom"]
    shares = grid_shares(hh, grids, method=method)
    assert shares.households.sum() == hh["households"].sum()
    got = assign_households(hh, grids, comms, grid_comm, method=method, shares=shares)
    want = assign_households(hh, grids, comms, grid_comm, method=method)
    pd.testing.assert_frame_equal(got, want)
    assert got["grid_id"].isna().any()  # records outside every grid are kept, not dropped
    assert (len(got) > len(hh)) == (method == "area")  # polygons split over grids by area


def test_write_gpkg_syncs_once_and_restores_the_gdal_options(tmp_path, monkeypatch):
    """One fsync of the finished file; SQLite's synchronous setting is not left switched off."""
    import os

    import pyogrio

    from gridmap.io import gpkg

    synced = []
    real = os.fsync
    monkeypatch.setattr(gpkg.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    frame = GeoDataFrame(
        {"status": ["pass", "fail"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4549
    )
    before = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    path = gpkg.write_gpkg(tmp_path / "x.gpkg", {"units": frame, "more": frame})
    assert len(synced) == 1
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") == before
    back = pyogrio.read_dataframe(path, layer="more")
    assert back["status"].tolist() == ["pass", "fail"]
    assert not [p for p in tmp_path.iterdir() if p.name != "x.gpkg"]  # no journal left behind


def test_write_gpkg_creates_64k_pages_and_keeps_the_callers_pragmas(tmp_path):
    """New files get 64 KiB pages; a caller's OGR_SQLITE_PRAGMA is applied too and restored;
    rows appended to a file of 4 KiB pages are written into it as they are."""
    import sqlite3

    import pyogrio

    from gridmap.io import gpkg

    frame = GeoDataFrame({"n": [1, 2]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4549)
    pyogrio.set_gdal_config_options({"OGR_SQLITE_PRAGMA": "foreign_keys=1"})
    try:
        path = gpkg.write_gpkg(tmp_path / "x.gpkg", {"units": frame})
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_PRAGMA") == "foreign_keys=1"
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_PRAGMA": None})
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (gpkg.PAGE_SIZE,)
    old = tmp_path / "old.gpkg"
    pyogrio.write_dataframe(frame, old, layer="units", driver="GPKG")
    gpkg.write_gpkg(old, {"units": frame}, options={"units": {"append": True}})
    with sqlite3.connect(old) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (4096,)
    assert pyogrio.read_dataframe(old, layer="units")["n"].tolist() == [1, 2, 1, 2]
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_PRAGMA") is None


def test_community_attribute_findings_equal_per_grid_resolution():
    """所属社区 resolved once per distinct text: the same unknown/mismatch findings as per grid."""
    rng = np.random.default_rng(5)
    comm = GeoDataFrame(
        {"name": ["东区", "西区", "东区", "南区"]},
        geometry=[shapely.box(i * 100, 0, i * 100 + 100, 100) for i in range(4)],
        index=pd.Index(["c1", "c2", "c3", "c4"]),
        crs=4549,
    )
    n = 200
    attr = rng.choice(["c1", " c2 ", "东区", "西区", "南区", "北区", "c9", None], n)
    geom_c = rng.choice(["c1", "c2", "c3", "c4", None], n)
    table = pd.DataFrame(
        {
            "name": [f"网格{i}" for i in range(n)],
            "community_attr": pd.array(attr, dtype="string"),
            "community_id": pd.array(geom_c, dtype="string"),
            "share_in_community": rng.random(n),
        },
        index=pd.Index([f"g{i}" for i in range(n)]),
    )
    got = community_attr_qa(table, comm)
    lookup = community_lookup(comm.index, comm["name"])
    resolved = [
        pd.NA if v is None else lookup.get(str(v).strip(), pd.NA) for v in attr
    ]  # the per-grid resolution
    unknown = [a is not None and r is pd.NA for a, r in zip(attr, resolved, strict=True)]
    mismatch = [
        r is not pd.NA and g is not None and r != g for r, g in zip(resolved, geom_c, strict=True)
    ]
    want_unknown = [f"g{i}" for i in np.flatnonzero(unknown)]
    want_mismatch = [f"g{i}" for i in np.flatnonzero(mismatch)]
    assert want_unknown and want_mismatch
    assert got[got.rule_id == "qa.grid.community_unknown"].unit_id.tolist() == want_unknown
    assert got[got.rule_id == "qa.grid.community_mismatch"].unit_id.tolist() == want_mismatch


# --- small-cell merging: the KD-tree search against a scan of every candidate -------------


def _merge_by_scan(records, centres, k=3):
    """The merging rule of gridmap.coverage.privacy written as the plain O(n²) scan."""
    n = len(records)
    labels = np.arange(n)
    groups = [{c: set(r) for c, r in rec.items()} for rec in records]
    columns = sorted({c for rec in records for c in rec})
    count = {c: np.array([len(g.get(c, ())) for g in groups]) for c in columns}
    withheld: dict[str, list[int]] = {}

    def short(g):
        return [c for c in columns if 0 < count[c][g] < k and g not in withheld.get(c, [])]

    def size(g):
        s = [int(v[g]) for v in count.values() if 0 < v[g] < k]
        return min(s) if s else k

    pending = sorted((g for g in range(n) if short(g)), key=lambda g: (size(g), g))
    while pending:
        g = pending.pop(0)
        cols = short(g) if labels[g] == g else []
        if not cols:
            continue
        cand = (labels != g) & np.any([count[c][labels] > 0 for c in cols], axis=0)
        if not cand.any():
            for c in cols:
                withheld.setdefault(c, []).append(g)
            continue
        mine = centres[labels == g]
        d = np.min(np.linalg.norm(centres[cand][:, None, :] - mine[None, :, :], axis=2), axis=1)
        h = int(labels[cand][int(np.argmin(d))])
        for c in columns:
            groups[g].setdefault(c, set()).update(groups[h].get(c, ()))
            count[c][g], count[c][h] = len(groups[g][c]), 0
        groups[h] = {}
        labels[labels == h] = g
        for c, lst in withheld.items():
            withheld[c] = sorted({g if x == h else x for x in lst})
        if short(g):
            pending.insert(0, g)
    return labels, withheld


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 70), st.integers(1, 4))
def test_merge_small_cells_equals_the_full_scan(seed, n, k):
    """Same groups and withheld counts as scanning every candidate (ties on a coarse lattice)."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        rec = {}
        for c in ("households", "uncovered:a", "uncovered:b"):
            m = int(rng.integers(0, 4))
            if m:
                rec[c] = {int(x) for x in rng.integers(0, 40 * n, m)}
        records.append(rec)
    centres = rng.integers(0, 6, (n, 2)).astype(float)  # many equal distances
    labels, withheld = merge_small_cells(records, centres, k=k)
    want_labels, want_withheld = _merge_by_scan(records, centres, k=k)
    assert labels.tolist() == want_labels.tolist()
    assert withheld == want_withheld


def test_layers_read_side_by_side_equal_reading_one_after_another(tmp_path):
    """read_study reads GIS files' layers on threads: the same layers and problems as in turn.

    Facilities from a CSV table: every layer is read side by side; from the same table in an
    Excel workbook: one after another (openpyxl's warning filters are global).
    """
    import gridmap
    from gridmap import datasets

    config = datasets.demo_config()
    raw = read_layer(config["facilities"]["path"], layer=config["facilities"]["layer"])
    table = pd.DataFrame(raw.drop(columns="geometry"))
    table["经度"], table["纬度"] = raw.geometry.x, raw.geometry.y
    table.to_csv(tmp_path / "设施.csv", index=False)
    table.to_excel(tmp_path / "设施.xlsx", index=False)
    side_by_side = gridmap.read_study(**dict(config, facilities=str(tmp_path / "设施.csv")))
    in_turn = gridmap.read_study(**dict(config, facilities=str(tmp_path / "设施.xlsx")))
    for kind in ("communities", "grids", "households", "network"):
        pd.testing.assert_frame_equal(getattr(side_by_side, kind), getattr(in_turn, kind))
    assert len(side_by_side.households) > 100

    def problems(study):
        return [(p.code, p.message) for p in study.problems if "设施" not in str(p.file)]

    assert problems(side_by_side) == problems(in_turn)


#: shifts (m) of a grid over its ~100 m neighbour: shared areas round 0.5 m² and 1 m² included
SHIFTS = (1e-7, 1e-4, 0.004, 0.005, 0.006, 0.0099, 0.01, 0.0101, 0.5, 30.0)


def _lattice_grids(seed: int, side: int, spoilt: int = 12) -> GeoDataFrame:
    """A jittered lattice of ``side`` x ``side`` quads that share their edges exactly, then
    spoilt at random: cells drawn twice, cells nested in a neighbour, cells pushed over their
    neighbour by 0.0001–30 m (slivers below 1 m² included), cells crossing two others."""
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.arange(side + 1) * 100.0, np.arange(side + 1) * 100.0)
    xs += rng.uniform(-20, 20, xs.shape)
    ys += rng.uniform(-20, 20, ys.shape)
    cells = [
        shapely.Polygon(
            [(xs[j, i], ys[j, i]), (xs[j, i + 1], ys[j, i + 1])]
            + [(xs[j + 1, i + 1], ys[j + 1, i + 1]), (xs[j + 1, i], ys[j + 1, i])]
        )
        for j in range(side)
        for i in range(side)
    ]
    cells = list(shapely.segmentize(np.array(cells), 30.0))  # digitised-looking shared edges
    for k in rng.choice(len(cells), min(spoilt, len(cells)), replace=False):
        what = rng.integers(4)
        if what == 0:
            cells.append(cells[k])  # drawn twice
        elif what == 1:
            cells.append(shapely.buffer(shapely.centroid(cells[k]), 10.0))  # nested
        elif what == 2:
            shift = float(rng.choice(SHIFTS)) * rng.choice([-1, 1])
            dx, dy = (shift, 0.0) if rng.random() < 0.5 else (0.0, shift)
            cells[k] = shapely.affinity.translate(cells[k], dx, dy)  # over its neighbour
        else:
            c = shapely.centroid(cells[k])
            cells.append(shapely.box(c.x - 5, c.y - 80, c.x + 5, c.y + 80))  # crossing
    ids = [f"32000000000{i:06d}" for i in rng.permutation(len(cells))]
    return GeoDataFrame({"name": [f"网格{i}" for i in ids]}, index=ids, geometry=cells, crs=4549)


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_grid_overlaps_shared_between_threads_equal_one_thread(seed):
    """The DE-9IM test of the grid pairs split between the caller and a worker (check's
    topology threads): the same rows as one GEOS call, and as the pairs written out."""
    from concurrent.futures import ThreadPoolExecutor

    grids = _lattice_grids(seed, 48)  # ~9,400 candidate pairs: more than one chunk
    want = grid_overlaps(grids)
    with ThreadPoolExecutor(2) as pool:
        got = pool.submit(grid_overlaps, grids, executor=pool).result()  # caller on the pool
        pd.testing.assert_frame_equal(got, want)
        pd.testing.assert_frame_equal(grid_overlaps(grids, executor=pool), want)
    geoms = grids.geometry.to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms)
    pairs = [(i, j) for i, j in zip(a, b, strict=True) if i < j]
    assert len(pairs) > 8192  # more than one chunk of the shared test
    slow = set()
    for i, j in pairs:
        if geoms[i].relate_pattern(geoms[j], "T********"):
            area = geoms[i].intersection(geoms[j]).area
            if area >= 1.0:
                a, b = sorted([grids.index[i], grids.index[j]])
                slow.add((a, b, round(area, 6)))
    other = want["message"].str.extract(r"（(\d+)）")[0]
    fast = {(u, o, round(v, 6)) for u, o, v in zip(want.unit_id, other, want.value, strict=True)}
    assert fast == slow and len(slow) > 0


def _overlaps_one_by_one(grids: GeoDataFrame, min_area: float) -> set[tuple[str, str, float]]:
    """The grid overlap findings written out: every pair whose interiors meet, its area."""
    geoms = grids.geometry.to_numpy()
    found = set()
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            if geoms[i].relate_pattern(geoms[j], "T********"):
                area = geoms[i].intersection(geoms[j]).area
                if area >= min_area:
                    a, b = sorted([grids.index[i], grids.index[j]])
                    found.add((a, b, round(area, 6)))
    return found


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    st.integers(1, 12),
    st.sampled_from([1.0, 0.5, 1e-4, 0.0, 25.0]),
)
def test_grid_overlaps_equal_every_pair_tested(seed, side, spoilt, min_area):
    """Pairs proved to share less than min_area skip the DE-9IM test: the same findings as
    testing every pair, for tilings spoilt by duplicates, nested and crossing grids and grids
    pushed over a neighbour by shared areas just under, at and over the tolerance."""
    grids = _lattice_grids(seed, side, spoilt)
    f = grid_overlaps(grids, min_area=min_area)
    other = [m.split("（")[1].split("）")[0] for m in f["message"]]
    fast = {(u, o, round(v, 6)) for u, o, v in zip(f.unit_id, other, f.value, strict=True)}
    assert fast == _overlaps_one_by_one(grids, min_area)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 12))
def test_community_overlaps_equal_every_pair_tested(seed, side, spoilt):
    """Community pairs proved to share less than half the tolerance skip the ``overlaps`` test:
    the same findings as testing every pair (tilings spoilt as in the grid test above)."""
    comm = _lattice_grids(seed, side, spoilt)
    got = community_topology(comm)
    got = got[got.rule_id == "qa.community.overlap"]
    geoms = comm.geometry.to_numpy()
    want = set()
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            if geoms[i].overlaps(geoms[j]) and geoms[i].intersection(geoms[j]).area >= 1.0:
                area = geoms[i].intersection(geoms[j]).area
                want.add((comm.index[i], comm.index[j], round(area, 6)))
    other = [m.split("（")[1].split("）")[0] for m in got["message"]]
    found = {(u, o, round(v, 6)) for u, o, v in zip(got.unit_id, other, got.value, strict=True)}
    assert found == want


def _overlap_table_every_pair(parts: np.ndarray, zones: np.ndarray, tolerance: float):
    """``overlap_table`` written out: every intersecting pair; a part a grown zone covers is
    wholly in it (its full area, no other zone), every other pair its intersection's area."""
    p, z = shapely.STRtree(zones).query(parts, predicate="intersects")
    grown = (
        shapely.buffer(zones, tolerance, quad_segs=2, join_style="mitre") if tolerance else zones
    )
    within = np.array([grown[j].covers(parts[i]) for i, j in zip(p, z, strict=True)], dtype=bool)
    whole = np.zeros(len(parts), dtype=bool)
    whole[p[within]] = True
    rows = [
        (i, j, parts[i].area if inside else parts[i].intersection(zones[j]).area)
        for i, j, inside in zip(p, z, within, strict=True)
        if inside or not whole[i]
    ]
    want = pd.DataFrame(rows, columns=["part", "zone", "area"]).astype({"part": int, "zone": int})
    return want[want.area > 0].sort_values(["part", "zone"]).reset_index(drop=True)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 1.0, 5.0]))
def test_overlap_table_equals_every_pair_tested(seed, tolerance):
    """Grids meet communities: the covering test first, intersections only where needed — the
    same rows as testing every pair, for grids inside, across, on and just outside communities
    (inside the tolerance but touching none), in gaps between them and outside them all."""
    rng = np.random.default_rng(seed)
    zones = _lattice_grids(seed, 4, spoilt=int(rng.integers(0, 4))).geometry.to_numpy()
    zones = shapely.buffer(zones, -float(rng.choice([0.0, 0.3, 2.0])), join_style="mitre")
    zones = zones[~shapely.is_empty(zones)]
    cells = _lattice_grids(seed + 1, 8, spoilt=int(rng.integers(0, 6))).geometry.to_numpy()
    cells = shapely.affinity.scale(
        shapely.GeometryCollection(list(cells)), 0.55, 0.55, origin=(0, 0)
    )
    parts = np.array(list(cells.geoms), dtype=object)
    x, y = rng.uniform(-50, 450, (2, 30))
    size = rng.choice([0.2, 0.5, 3.0, 40.0], 30)
    parts = np.concatenate([parts, shapely.box(x, y, x + size, y + size)])
    got = overlap_table(GeoSeries(parts, crs=4549), GeoSeries(zones, crs=4549), tolerance=tolerance)
    got = got.sort_values(["part", "zone"]).reset_index(drop=True)
    want = _overlap_table_every_pair(parts, zones, tolerance)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert len(want) > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_grid_areas_passed_on_equal_computing_them(seed):
    """The grid areas computed once by the check and handed to the assignment and the metrics:
    the same tables as each computing its own."""
    rng = np.random.default_rng(seed)
    cells = [shapely.box(x, y, x + 100, y + 80) for x in range(0, 500, 100) for y in (0, 80)]
    communities = GeoDataFrame(
        {"name": [f"c{i}" for i in range(len(cells))]},
        index=[f"c{i}" for i in range(len(cells))],
        geometry=cells,
        crs=4549,
    )
    xy = rng.uniform(-20, 480, size=(40, 2))
    grids = GeoDataFrame(
        index=[f"g{i}" for i in range(40)],
        geometry=[shapely.box(x, y, x + rng.uniform(5, 120), y + 60) for x, y in xy],
        crs=4549,
    )
    area = shapely.area(np.asarray(grids.geometry.values))
    pd.testing.assert_frame_equal(
        overlap_table(grids.geometry, communities.geometry, part_area=area),
        overlap_table(grids.geometry, communities.geometry),
    )
    pd.testing.assert_frame_equal(
        largest_overlap(grids.geometry, communities.geometry, part_area=area),
        largest_overlap(grids.geometry, communities.geometry),
    )
    given = assign_grids(grids, communities, grid_area=area)
    pd.testing.assert_frame_equal(given, assign_grids(grids, communities))
    pd.testing.assert_frame_equal(
        grid_metrics(grids, None, given, grid_area=area), grid_metrics(grids, None, given)
    )
