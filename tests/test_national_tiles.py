"""Vector tiles of a national result (issue #17): roll-ups at low zoom, grids at high zoom.

Tiles of a check of the synthetic national data are decoded again (``mapbox-vector-tile``) and
compared with the check's own tables; the dashboard route answers them only behind its guard
(Host allow-list, login).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

import gridmap
from gridmap.national import NationalSource
from gridmap.national.export import write_partitioned
from gridmap.tiles import MIN_ZOOM, TileSet

mvt = pytest.importorskip("mapbox_vector_tile", reason="mapbox-vector-tile is not installed")

LAYERS = ("communities", "grids", "households", "facilities")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def result(tmp_path_factory, national_data):
    gen = national_data
    root = tmp_path_factory.mktemp("tiles")
    gen.write_national(root, gen.NationalShape(provinces=1, districts=2, streets=1, communities=2))
    source = NationalSource({k: root / k for k in LAYERS})
    return gridmap.check(gridmap.read_study(**{k: source.read(k) for k in LAYERS}))


@pytest.fixture(scope="module")
def tiles(result) -> TileSet:
    return TileSet(result.communities, result.grids)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    rad = math.radians(lat)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return z, x, y


def _decode(data: bytes) -> dict:
    return mvt.decode(data, default_options={"y_coord_down": True})


def test_low_zoom_has_district_rollups_only(result, tiles):
    lonlat = result.communities.to_crs("EPSG:4326")
    c = lonlat.geometry.union_all().centroid
    z, x, y = _tile_of(c.x, c.y, 6)
    layer = _decode(tiles.tile("rollup", z, x, y))["rollup"]
    props = {f["properties"]["code"]: f["properties"] for f in layer["features"]}
    codes = lonlat.index.astype(str).str[:6]
    assert set(props) == set(codes)
    for code, p in props.items():
        mine = lonlat[codes == code]
        assert p["communities"] == len(mine)
        assert p["fail"] == int((mine["status"] == "fail").sum())
        assert p["in_band"] == int((mine["size_status"] == "pass").sum())
    assert tiles.tile("communities", z, x, y) == b"" and tiles.tile("grids", z, x, y) == b""
    assert z < MIN_ZOOM["communities"]


def test_high_zoom_has_grids_with_status(result, tiles):
    grids = result.grids.to_crs("EPSG:4326")
    gid = str(grids.index[0])
    p = grids.geometry.iloc[0].representative_point()
    z, x, y = _tile_of(p.x, p.y, 15)
    layer = _decode(tiles.tile("grids", z, x, y))["grids"]
    found = {f["properties"]["code"]: f for f in layer["features"]}
    assert gid in found
    assert found[gid]["properties"]["status"] == grids.loc[gid, "status"]
    assert found[gid]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    xy = np.array(shapely.get_coordinates(shapely.geometry.shape(found[gid]["geometry"])))
    assert xy.min() >= -64 and xy.max() <= 4096 + 64  # clipped to the tile and its buffer
    comms = _decode(tiles.tile("communities", z, x, y))["communities"]
    assert str(grids.loc[gid, "community_id"]) in {
        f["properties"]["code"] for f in comms["features"]
    }


def test_geometry_simplified_per_zoom(result, tiles):
    low = shapely.get_num_coordinates(tiles.geometries("rollup", 3)).sum()
    high = shapely.get_num_coordinates(tiles.geometries("rollup", 16)).sum()
    assert low < high


def test_out_of_range_tiles_refused(tiles):
    with pytest.raises(ValueError):
        tiles.tile("rollup", 3, 8, 0)
    with pytest.raises(KeyError):
        tiles.tile("roads", 3, 0, 0)


def test_tile_route_behind_host_check_and_login(tiles, tmp_path):
    dash = pytest.importorskip("dash")
    from dashboards.auth import LOGIN_PATH, AccountStore, Gate, SessionStore
    from dashboards.server import ServeSettings, protect
    from dashboards.tiles import MVT_MIME, register_tiles

    accounts = AccountStore(tmp_path / "ws.gpkg")
    accounts.add("viewer1", PASSWORD, role="viewer")
    app = dash.Dash(__name__)
    app.layout = dash.html.Div()
    register_tiles(app.server, tiles)
    settings = ServeSettings(host="127.0.0.1", port=0)
    protect(app, settings, Gate(settings.auth, accounts, SessionStore()))
    client = app.server.test_client()
    url = "/tiles/rollup/0/0/0.pbf"
    assert client.get(url).status_code == 401
    client.post(LOGIN_PATH, data={"name": "viewer1", "password": PASSWORD, "next": "/"})
    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == MVT_MIME and "rollup" in _decode(r.data)
    assert client.get(url, headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/tiles/grids/0/0/0.pbf").status_code == 204
    assert client.get("/tiles/roads/0/0/0.pbf").status_code == 404
    assert client.get("/tiles/rollup/2/9/0.pbf").status_code == 404


def test_tiles_from_a_national_output_folder(result, tiles, tmp_path):

    write_partitioned(result, tmp_path / "national")
    read = TileSet.from_check_dir(tmp_path)
    assert read.layers == ["rollup", "communities", "grids"]
    grids = result.grids.to_crs("EPSG:4326")
    p = grids.geometry.iloc[0].representative_point()
    for layer, z in (("rollup", 6), ("grids", 15)):
        a = _decode(read.tile(layer, *_tile_of(p.x, p.y, z)))
        b = _decode(tiles.tile(layer, *_tile_of(p.x, p.y, z)))
        assert a[layer]["features"] == b[layer]["features"]
    with pytest.raises(FileNotFoundError):
        TileSet.from_check_dir(tmp_path / "nothing")
