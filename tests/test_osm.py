"""OpenStreetMap extracts as the walking network: GDAL's OSM driver, walkable ways, bridge levels."""

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from conftest import X0, Y0, make_layers
from shapely import Point

import gridmap
from gridmap.coverage import CoverageSpec, measure_coverage
from gridmap.io import read_layer
from gridmap.network import build_network, network_distance
from gridmap.osm import LEVEL, parse_other_tags, walking_lines

# local metres (offsets from X0, Y0 in EPSG:4549); the ways reference these node ids
NODES = {1: (0, 500), 2: (700, 500), 3: (1000, 500), 4: (500, 200), 5: (500, 800), 6: (1000, 800)}
WAYS = [
    (10, [1, 2, 3], {"highway": "residential", "name": "星湖街"}),
    (
        11,
        [4, 5],
        {"highway": "footway", "bridge": "yes", "layer": "1"},
    ),  # crosses 星湖街 without a shared node
    (12, [5, 6, 3], {"highway": "residential"}),
    (13, [4, 2], {"highway": "motorway"}),  # a shortcut pedestrians may not take
]


def _write_osm(path, nodes=NODES, ways=WAYS):
    to_ll = pyproj.Transformer.from_crs(4549, 4326, always_xy=True)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="gridmap-test">',
    ]
    for nid, (x, y) in nodes.items():
        lon, lat = to_ll.transform(X0 + x, Y0 + y)
        lines.append(f'  <node id="{nid}" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for wid, refs, tags in ways:
        body = "".join(f'<nd ref="{r}"/>' for r in refs) + "".join(
            f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()
        )
        lines.append(f'  <way id="{wid}">{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def osm_study(tmp_path):
    comm, grids, _ = make_layers()
    hh = gpd.GeoDataFrame({"户数": ["300"]}, geometry=[Point(X0 + 500, Y0 + 190)], crs=4549)
    fac = gpd.GeoDataFrame(
        {"名称": ["星湖幼儿园"], "类型": ["幼儿园"]}, geometry=[Point(X0 + 400, Y0 + 510)], crs=4549
    )
    return gridmap.read_study(
        comm,
        grids=grids,
        households=hh,
        facilities=fac,
        network=str(_write_osm(tmp_path / "sip.osm")),
    )


def test_osm_file_reads_its_ways_by_default(tmp_path):
    g = read_layer(_write_osm(tmp_path / "x.osm"))
    assert g.attrs["source"]["format"] == "osm" and g.attrs["source"]["layer"] == "lines"
    assert sorted(g["osm_id"].astype(int)) == [10, 11, 12, 13]
    assert g.crs.to_epsg() == 4326


def test_walking_network_drops_motorways_and_keeps_bridges_off_the_street(osm_study):
    net_layer = osm_study.network
    assert "motorway" not in set(net_layer["highway"]) and len(net_layer) == 3
    assert sorted(net_layer[LEVEL]) == [0, 0, 1]
    assert any(
        p.code == "osm.not_walkable" and "highway=motorway 1" in p.message
        for p in osm_study.problems
    )
    hh, fac = osm_study.households.geometry, osm_study.facilities.geometry
    # 10 (snap) + 600 up the bridge + 500 + 300 round by the street + 600 along 星湖街 + 10 (snap)
    d_level, _ = network_distance(build_network(net_layer, level_column=LEVEL), hh, fac)
    assert d_level[0] == pytest.approx(2020, abs=0.05)
    # without levels the bridge would be noded onto the street below: 10 + 300 + 100 + 10
    d_flat, _ = network_distance(build_network(net_layer), hh, fac)
    assert d_flat[0] == pytest.approx(420, abs=0.05)


def test_footbridge_from_a_node_inside_a_street_is_connected(tmp_path):
    """OSM joins ways at shared nodes: a footbridge (layer 1) starting at a node in the middle of a street way."""
    path = _write_osm(
        tmp_path / "bridge.osm",
        nodes={1: (0, 500), 2: (500, 500), 3: (1000, 500), 7: (500, 900)},
        ways=[
            (10, [1, 2, 3], {"highway": "residential"}),
            (11, [2, 7], {"highway": "footway", "bridge": "yes", "layer": "1"}),
        ],
    )
    comm, grids, _ = make_layers()
    hh = gpd.GeoDataFrame({"户数": ["300"]}, geometry=[Point(X0 + 505, Y0 + 900)], crs=4549)
    fac = gpd.GeoDataFrame({"类型": ["幼儿园"]}, geometry=[Point(X0 + 400, Y0 + 505)], crs=4549)
    study = gridmap.read_study(comm, grids=grids, households=hh, facilities=fac, network=str(path))
    h = measure_coverage(
        study, [CoverageSpec("n", "kindergarten", 1000, "network")], service_areas=False
    ).households
    assert h["network_m:kindergarten"].iloc[0] == pytest.approx(5 + 400 + 100 + 5, abs=0.05)


def test_coverage_uses_the_osm_levels(osm_study):
    specs = [
        CoverageSpec("n", "kindergarten", 1000, "network"),
        CoverageSpec("s", "kindergarten", 1000, "straight"),
    ]
    h = measure_coverage(osm_study, specs, service_areas=False, search_factor=3).households
    assert h["network_m:kindergarten"].iloc[0] == pytest.approx(2020, abs=0.05)
    assert h["covered:s"].iloc[0] and not h["covered:n"].iloc[0]


def test_walking_lines_rules():
    ways = gpd.GeoDataFrame(
        {
            "highway": [
                "steps",
                "cycleway",
                None,
                "service",
                "path",
                "primary",
                "footway",
                "pedestrian",
                "service",
            ],
            "other_tags": [
                None,
                None,
                None,
                '"service"=>"private"',
                '"foot"=>"no"',
                '"tunnel"=>"yes"',
                '"layer"=>"-2","tunnel"=>"yes"',
                '"access"=>"no","foot"=>"yes"',
                '"access"=>"no"',
            ],
        },
        geometry=gpd.GeoSeries.from_xy(np.arange(9), np.zeros(9)).buffer(1).boundary,
        crs=4326,
    )
    kept, problems = walking_lines(ways)
    assert kept["highway"].tolist() == [
        "steps",
        "primary",
        "footway",
        "pedestrian",
    ]  # foot=yes overrides access=no
    assert kept[LEVEL].tolist() == [0, -1, -2, 0]
    msg = problems[0].message
    assert all(
        s in msg
        for s in (
            "highway=cycleway 1",
            "not a highway 1",
            "service=private 1",
            "foot=no 1",
            "access=no 1",
        )
    )
    _, err = walking_lines(ways.drop(columns="highway"))
    assert err[0].severity == "error"
    assert parse_other_tags(None) == {} and parse_other_tags('"a"=>"b"') == {"a": "b"}
