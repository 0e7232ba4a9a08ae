"""The compliance map's first map starts with the index page, before Dash (issue #19).

The index of ``/map`` carries the map's first values (the same the page's layout gives the
map) and loads MapLibre and the map's script before Dash's scripts, once each; other pages
carry no first map.
"""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("dash")

from dashboards import create_app  # noqa: E402
from dashboards.ids import map_ids  # noqa: E402
from dashboards.pages import compliance_map  # noqa: E402
from dashboards.provider import DashboardProvider  # noqa: E402


@pytest.fixture(scope="module")
def app():
    return create_app(DashboardProvider.from_config(None))


def _scripts(html: str) -> list[str]:
    return re.findall(r'<script src="([^"?]+)', html)


def _first(html: str) -> dict | None:
    found = re.findall(r'<script id="gm-first-map" type="application/json">(.*?)</script>', html)
    assert len(found) <= 1
    return json.loads(found[0]) if found else None


def _layout_values(app, path: str) -> dict:
    """The first values the page's layout gives its map (the store no callback writes)."""
    level = "grid" if "grid" in path else "community"
    with app.server.test_request_context(path):
        root = compliance_map.layout(app.provider, "zh", query={"level": level})
    stores = []

    def walk(c) -> None:
        if getattr(c, "id", None) == map_ids("map").values + "-first":
            stores.append(c.data)
        kids = getattr(c, "children", None)
        for k in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            walk(k)

    walk(root)
    return stores[0]


@pytest.mark.parametrize("path", ["/map?level=grid", "/map"])
def test_map_index_carries_the_pages_first_values(app, path):
    html = app.server.test_client().get(path).data.decode()
    first = _first(html)
    assert first is not None and first["div"] == "gm-map-map" and first["height"] == "560px"
    expected = json.loads(json.dumps(_layout_values(app, path)))
    assert first["payload"] == expected
    level = "grid" if "grid" in path else "community"
    assert first["payload"]["level"] == level
    classes = app.provider.map_values(level, "status").classes.tolist()
    assert first["payload"]["c"] == classes
    # colour by status has no value to show on hover: none sent
    assert first["payload"]["v"] == []
    assert set(first["payload"]["meta"]) == {first["payload"]["url"], first["payload"]["borders"]}


@pytest.mark.parametrize("path", ["/", "/findings", "/map?level=grid"])
def test_maplibre_and_the_map_script_run_first_once(app, path):
    html = app.server.test_client().get(path).data.decode()
    scripts = _scripts(html)
    names = [s.rsplit("/", 1)[-1] for s in scripts]
    assert names[:2] == ["maplibre-gl.js", "gridmap_map.js"]
    assert names.count("maplibre-gl.js") == 1 and names.count("gridmap_map.js") == 1
    assert any("dash_renderer" in n for n in names[2:])
    if path != "/map?level=grid":
        assert _first(html) is None
    else:  # the first map comes before the scripts that read it
        assert html.index('id="gm-first-map"') < html.index("maplibre-gl.js")


def test_unknown_level_starts_with_communities(app):
    html = app.server.test_client().get("/map?level=roads&color=nonsense").data.decode()
    payload = _first(html)["payload"]
    assert payload["level"] == "community" and payload["version"].endswith("|status|zh")


def test_app_starts_making_its_tile_sets_when_it_loads_the_study(monkeypatch):
    """A server that did not warm its tiles makes every set from its load on, in a thread."""
    import threading

    from dashboards import tiles as study_tiles_module
    from gridmap.tiles import TileSet

    def join_tile_threads() -> None:
        for t in threading.enumerate():
            if t.name == "gridmap-tiles":
                t.join(timeout=30)

    join_tile_threads()  # other apps' (earlier tests') are done before the spy goes in
    made: list[tuple[str, str]] = []
    real = TileSet.from_layers

    def spy(layers, **kwargs):
        made.append((next(iter(layers)), threading.current_thread().name))
        return real(layers, **kwargs)

    monkeypatch.setattr(study_tiles_module.TileSet, "from_layers", spy)
    app = create_app(DashboardProvider.from_config(None))
    join_tile_threads()
    assert sorted(made) == [
        ("borders", "gridmap-tiles"),
        ("community", "gridmap-tiles"),
        ("grid", "gridmap-tiles"),
    ]
    app.server.test_client().get("/map?level=grid")  # pages start nothing more
    app.server.test_client().get("/")
    assert len(made) == 3
