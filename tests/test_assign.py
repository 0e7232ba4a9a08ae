import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point, box

from gridmap.assign import (
    MIN_GRID_SHARE,
    apportion,
    assign_grids,
    assign_households,
    largest_overlap,
)
from gridmap.locate import locate_points

CRS = 4549


def _zones(ids, boxes):
    return gpd.GeoSeries([box(*b) for b in boxes], index=pd.Index(ids), crs=CRS)


def test_point_on_shared_boundary_goes_to_smallest_id_whatever_the_order():
    zones = _zones(["g2", "g1"], [(0, 0, 1, 1), (1, 0, 2, 1)])
    pts = gpd.GeoSeries([Point(1, 0.5)], crs=CRS)
    assert zones.index[locate_points(pts, zones)[0]] == "g1"
    flipped = zones.iloc[::-1]
    assert flipped.index[locate_points(pts, flipped)[0]] == "g1"


def test_point_on_outer_boundary_is_covered_and_outside_is_minus_one():
    zones = _zones(["a"], [(0, 0, 1, 1)])
    pos = locate_points(gpd.GeoSeries([Point(0, 0), Point(2, 2)], crs=CRS), zones)
    assert pos.tolist() == [0, -1]


def test_largest_overlap_and_shares():
    zones = _zones(["c1", "c2"], [(0, 0, 10, 10), (10, 0, 20, 10)])
    parts = _zones(["g"], [(6, 0, 12, 10)])  # 4/6 in c1, 2/6 in c2
    lo = largest_overlap(parts, zones)
    assert lo["zone"].iloc[0] == 0
    assert lo["share"].iloc[0] == pytest.approx(4 / 6)
    assert lo["second_share"].iloc[0] == pytest.approx(2 / 6)
    assert lo["outside"].iloc[0] == pytest.approx(0)


def test_largest_overlap_reports_share_outside():
    zones = _zones(["c1"], [(0, 0, 10, 10)])
    lo = largest_overlap(_zones(["g"], [(5, 0, 15, 10)]), zones)
    assert lo["outside"].iloc[0] == pytest.approx(0.5)


def test_apportion_conserves_with_outside_share():
    t = pd.DataFrame({"part": [0, 0, 1], "zone": [0, 1, 1], "area": [1.0, 1.0, 3.0]})
    out = apportion(np.array([7, 5]), t, part_area=np.array([3.0, 3.0]))
    assert out.groupby("part")["count"].sum().tolist() == [7, 5]
    assert out[(out.part == 0) & (out.zone == -1)]["count"].iloc[0] in (2, 3)


@st.composite
def scenes(draw):
    """Random grids over a 4x4 lattice of 100 m cells grouped into 1..4 communities, random household points."""
    n_comm = draw(st.integers(1, 4))
    labels = draw(st.lists(st.integers(0, n_comm - 1), min_size=16, max_size=16))
    cells = [
        box(x * 100, y * 100, x * 100 + 100, y * 100 + 100) for y in range(4) for x in range(4)
    ]
    grids = gpd.GeoDataFrame(
        {"community": [f"c{v}" for v in labels]},
        geometry=cells,
        crs=CRS,
        index=pd.Index([f"g{i:02d}" for i in range(16)], name="grid_id"),
    )
    comms = grids.dissolve("community")
    comms.index.name = "community_id"
    n = draw(st.integers(0, 60))
    # points on the lattice lines too (x, y multiples of 50), and some outside
    xs = draw(st.lists(st.integers(-2, 10), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(-2, 10), min_size=n, max_size=n))
    counts = draw(st.lists(st.integers(0, 500), min_size=n, max_size=n))
    hh = gpd.GeoDataFrame(
        {"households": np.array(counts, dtype=float)},
        geometry=[Point(x * 50, y * 50) for x, y in zip(xs, ys, strict=True)],
        crs=CRS,
    )
    return grids, comms, hh


@settings(max_examples=60, deadline=None)
@given(scenes())
def test_households_conserved_and_each_record_assigned_once(scene):
    grids, comms, hh = scene
    ga = assign_grids(grids, comms)
    out = assign_households(hh, grids, comms, ga["community_geom"])
    assert out["households"].sum() == hh["households"].sum()
    assert out["record"].is_unique
    assert len(out) == len(hh)
    inside = shapely.covers(shapely.union_all(grids.geometry.values), hh.geometry.values)
    assert (out["grid_id"].notna().to_numpy() == inside).all()
    # a record's community is its grid's community
    gc = ga["community_geom"].astype(str)
    with_grid = out.dropna(subset=["grid_id"])
    assert (
        with_grid["community_id"].astype(str).to_numpy() == gc.loc[with_grid["grid_id"]].to_numpy()
    ).all()


@settings(max_examples=40, deadline=None)
@given(scenes(), st.sampled_from(["largest", "area"]))
def test_polygon_households_conserved(scene, method):
    grids, comms, hh = scene
    hh = hh.assign(geometry=hh.buffer(40, quad_segs=2))
    ga = assign_grids(grids, comms)
    out = assign_households(hh, grids, comms, ga["community_geom"], method=method)
    assert out["households"].sum() == hh["households"].sum()
    assert (
        out.groupby("record")["households"].sum().reindex(hh.index, fill_value=0).tolist()
        == hh["households"].astype(int).tolist()
    )
    if method == "largest":
        assert out["record"].is_unique


def test_grids_each_assigned_exactly_once():
    grids = _zones(["g1", "g2"], [(0, 0, 10, 10), (8, 0, 18, 10)])
    comms = _zones(["c1", "c2"], [(0, 0, 10, 10), (10, 0, 20, 10)])
    ga = assign_grids(gpd.GeoDataFrame(geometry=grids), gpd.GeoDataFrame(geometry=comms))
    assert ga["community_geom"].tolist() == ["c1", "c2"]
    assert ga.loc["g2", "second_share"] == pytest.approx(0.2)


def test_grid_touching_a_community_by_a_sliver_belongs_to_none():
    """SIP: a 8.7 ha grid sharing 0.002 m² with 熙岸社区 gave it 938 households."""
    comm = gpd.GeoDataFrame(geometry=[box(0, 0, 1000, 1000)], index=pd.Index(["A"]), crs=CRS)
    grids = gpd.GeoDataFrame(
        geometry=[box(0, 0, 500, 500), box(999.99, 0, 1300, 300), box(990, 500, 1300, 800)],
        index=pd.Index(["in", "sliver", "partly"]),
        crs=CRS,
    )
    ga = assign_grids(grids, comm)
    assert ga["community_geom"].isna().tolist() == [False, True, False]
    assert ga.loc["sliver", "share"] < MIN_GRID_SHARE <= ga.loc["partly", "share"]
    assert ga.loc["partly", "community_geom"] == "A"
    # its households are outside every community (counted, reported), never handed to A
    hh = gpd.GeoDataFrame(
        {"households": [100, 938]}, geometry=[Point(250, 250), Point(1200, 100)], crs=CRS
    )
    out = assign_households(hh, grids, comm, ga["community_geom"])
    assert out.groupby("community_id", observed=True)["households"].sum().to_dict() == {"A": 100}
    assert out["households"].sum() == 1038
    assert out.loc[out["community_id"].isna(), "households"].sum() == 938


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-1200, 1200),
    st.floats(-1200, 1200),
    st.lists(st.integers(1, 500), min_size=1, max_size=12),
)
def test_households_conserved_and_no_grid_assigned_below_the_share(dx, dy, counts):
    comm = gpd.GeoDataFrame(
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
        index=pd.Index(["A", "B"]),
        crs=CRS,
    )
    grid = box(dx, dy, dx + 600, dy + 600)
    grids = gpd.GeoDataFrame(geometry=[grid], index=pd.Index(["g"]), crs=CRS)
    ga = assign_grids(grids, comm)
    share = max(grid.intersection(c).area for c in comm.geometry) / grid.area
    assert ga["community_geom"].isna().iloc[0] == (share < MIN_GRID_SHARE)
    pts = [Point(dx + 50 + 40 * i, dy + 300) for i in range(len(counts))]
    hh = gpd.GeoDataFrame({"households": counts}, geometry=pts, crs=CRS)
    out = assign_households(hh, grids, comm, ga["community_geom"])
    assigned = out.loc[out["community_id"].notna(), "households"].sum()
    outside = out.loc[out["community_id"].isna(), "households"].sum()
    assert assigned + outside == sum(counts)
    for cid, n in out.groupby("community_id", observed=True)["households"].sum().items():
        inside = [c for p, c in zip(pts, counts, strict=True) if comm.geometry[cid].covers(p)]
        if ga["community_geom"].isna().iloc[0]:
            assert n == sum(
                inside
            )  # an unassigned grid's households go only where they themselves lie
