"""Crafted callback requests (issue #13): no file read, no HTTP 500, a message in the page.

Every request goes through Flask's test client to Dash's ``/_dash-update-component``
route, as a browser (or anyone with ``curl``) would send it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import flask
import pytest

from dashboards.app import create_app
from dashboards.ids import ID, map_ids
from dashboards.messages import message, without_paths
from dashboards.provider import DashboardProvider, RejectedInput
from dashboards.provider.coverage_views import CoverageViews
from dashboards.provider.inputs import RADIUS, number
from dashboards.provider.results import KeyedLocks

SECRET = "绝密规则配置-do-not-show"


@pytest.fixture(scope="module")
def provider():
    return DashboardProvider.from_config(None)


@pytest.fixture(scope="module")
def app(provider):
    return create_app(provider)


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def _outputs(key: str) -> list[dict]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    return [
        dict(zip(("id", "property"), p.split("@")[0].rsplit(".", 1), strict=True)) for p in parts
    ]


def post(client: Any, app: Any, output: str, values: dict[str, Any]) -> Any:
    """POST one callback as the browser does; ``values`` maps ``"id.prop"`` to a value."""
    key = next(
        k
        for k in app.callback_map
        if k == str(output) or k.startswith((f"..{output}.", f"{output}."))
    )
    spec = app.callback_map[key]

    def dep(d: dict) -> dict:
        name = f"{d['id']}.{d['property']}"
        return {"id": d["id"], "property": d["property"], "value": values.get(name)}

    outputs = _outputs(key)
    body = {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": [dep(d) for d in spec["inputs"]],
        "state": [dep(d) for d in spec["state"]],
        "changedPropIds": [f"{d['id']}.{d['property']}" for d in spec["inputs"]],
    }
    return client.post(
        "/_dash-update-component",
        data=json.dumps(body, allow_nan=True),
        content_type="application/json",
    )


def page_text(resp: Any) -> str:
    """The response as text with non-ASCII characters unescaped (what the page would show)."""
    raw = resp.get_data(as_text=True)
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False)
    except ValueError:
        return raw


def _callbacks(unit: str = "") -> dict[str, dict[str, Any]]:
    """Every callback of the pages that takes the profile, with sensible other values."""
    ids = map_ids("map")
    return {
        "overview": {"out": ID.OV_KPIS, "vals": {"gm-lang.value": "zh"}},
        "map-options": {"out": ID.CM_COLOR_BY, "vals": {"cm-level.value": "community"}},
        "map-values": {
            "out": ids.values,
            "vals": {"cm-level.value": "community", "cm-color-by.value": "status"},
        },
        "map-detail": {
            "out": ID.CM_DETAIL,
            "vals": {f"{ids.click}.data": {"level": "community", "unit_id": unit}},
        },
        "coverage": {
            "out": map_ids("coverage").values,
            "vals": {
                "cv-type.value": "kindergarten",
                "cv-radius.value": 300,
                "cv-method.value": "straight",
            },
        },
        "findings": {"out": ID.FT_TABLE, "vals": {"ft-status.value": "fail"}},
        "findings-map": {"out": map_ids("findings").values, "vals": {}},
    }


PATHS = ["/etc/gridmap/secret.toml", "../x.toml", "national.toml", {"a": 1}, ["national"], 7]


@pytest.mark.parametrize("name", list(_callbacks()))
def test_profile_paths_are_never_read(provider, app, client, tmp_path, monkeypatch, name):
    secret = tmp_path / "secret.toml"
    secret.write_text(
        f'[profile]\nid = "secret"\ntitle_zh = "{SECRET}"\ntitle_en = "{SECRET}"\n',
        encoding="utf-8",
    )
    loaded: list = []
    monkeypatch.setattr(
        "dashboards.provider.profiles.load_profile", lambda *a, **k: loaded.append(a)
    )
    checked: list = []
    import gridmap

    real_check = gridmap.check
    monkeypatch.setattr(gridmap, "check", lambda *a, **k: checked.append(k) or real_check(*a, **k))
    cb = _callbacks(str(provider.ids("community")[0]))[name]
    for value in [str(secret), *PATHS]:
        resp = post(client, app, cb["out"], {**cb["vals"], "gm-profile.value": value})
        assert resp.status_code in (200, 204) or 400 <= resp.status_code < 500, (value, resp)
        text = page_text(resp)
        assert SECRET not in text and str(tmp_path) not in text
        if resp.status_code == 200 and name != "map-options":
            assert message("input.profile") in text, (name, value, text[:300])
    assert not loaded and not checked  # nothing loaded, no check run for a crafted value


def test_a_known_profile_id_still_works(app, client):
    resp = post(
        client, app, ID.FT_TABLE, {"gm-profile.value": "national", "ft-status.value": "fail"}
    )
    assert resp.status_code == 200 and "rowData" in resp.get_data(as_text=True)


BAD_RADII = [
    "abc",
    math.nan,
    math.inf,
    -math.inf,
    -300,
    0,
    1e9,
    "1e9",
    True,
    {"x": 1},
    None,
    "9" * 40,
]


@pytest.mark.parametrize("radius", BAD_RADII, ids=repr)
def test_bad_radius_is_a_message_not_a_500(app, client, radius):
    resp = post(
        client,
        app,
        map_ids("coverage").values,
        {
            "cv-type.value": "kindergarten",
            "cv-radius.value": radius,
            "cv-method.value": "straight",
            "gm-profile.value": "national",
            "gm-lang.value": "en",
        },
    )
    assert resp.status_code == 200
    assert "must be a number from 50 to 5000" in page_text(resp)


@pytest.mark.parametrize(
    "values",
    [
        {"cv-type.value": "../../etc/passwd"},
        {"cv-type.value": {"$ne": 1}},
        {"cv-method.value": "teleport"},
    ],
)
def test_bad_coverage_choices_are_messages(app, client, values):
    base = {
        "cv-type.value": "kindergarten",
        "cv-radius.value": 300,
        "cv-method.value": "straight",
        "gm-profile.value": "national",
    }
    resp = post(client, app, map_ids("coverage").values, {**base, **values})
    assert resp.status_code == 200
    assert "取值无效" in page_text(resp)


@pytest.mark.parametrize(
    "output, values",
    [
        (ID.CM_DETAIL, {f"{map_ids('map').click}.data": {"level": "../x", "unit_id": "1"}}),
        (ID.CM_DETAIL, {f"{map_ids('map').click}.data": {"level": "community", "unit_id": "nope"}}),
        (ID.CM_DETAIL, {f"{map_ids('map').click}.data": "community|x"}),
        (map_ids("map").values, {"cm-level.value": "province", "cm-color-by.value": "status"}),
        (map_ids("map").values, {"cm-level.value": "community", "cm-color-by.value": {"a": 1}}),
        (ID.FT_TABLE, {"ft-status.value": "/etc/passwd"}),
        (ID.FT_TABLE, {"ft-level.value": 3, "ft-status.value": "fail"}),
        (ID.FT_TABLE, {"ft-search.value": "x" * 10_000, "ft-status.value": "fail"}),
        (ID.FT_TABLE, {"ft-search.value": ["a"], "ft-status.value": "fail"}),
        (map_ids("findings").values, {"ft-table.cellClicked": {"rowId": "grid"}}),
        (map_ids("findings").values, {"ft-table.cellClicked": {"rowId": ["x"]}}),
        (map_ids("findings").values, {"ft-table.cellClicked": "x"}),
        (ID.OV_KPIS, {"gm-lang.value": {"en": 1}}),
    ],
)
def test_crafted_values_never_500(app, client, output, values):
    resp = post(client, app, output, {"gm-profile.value": "national", **values})
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)[:500]


def test_exports_refuse_crafted_profiles(app, client):
    for output, extra in [
        (ID.CM_DOWNLOAD, {"cm-export-png.n_clicks": 1, "cm-level.value": "community"}),
        (ID.FT_DOWNLOAD, {"ft-export-xlsx.n_clicks": 1, "ft-status.value": "fail"}),
    ]:
        resp = post(client, app, output, {**extra, "gm-profile.value": "/etc/x.toml"})
        assert resp.status_code in (200, 204)
        assert "content" not in resp.get_data(as_text=True)  # no file sent


def test_languages_do_not_grow_the_findings_cache(app):
    provider = DashboardProvider.from_config(None)
    for i in range(5):
        provider.findings(None, f"xx{i}")
    assert len(provider._results._findings) == 1  # every unknown language is Chinese


def test_coverage_views_are_bounded():
    calls: list = []

    class Views(CoverageViews):
        def _measure(self, facility_type, radius, mode):
            calls.append(radius)
            return {"available": False, "reason": "error", "error": "x"}

    views = Views(None, lambda: None, None, max_views=4)
    for r in range(100, 1100, 100):
        views.coverage("kindergarten", r)
    assert len(views) == 4 and len(views._key_lock) == 0
    views.coverage("kindergarten", 1000)  # most recent: cached
    assert len(calls) == 10


def test_radius_range():
    assert number(50, RADIUS) == 50.0 and number("5000", RADIUS) == 5000.0
    for bad in (49.9, 5000.1, "nan", "inf", "", "1,000"):
        with pytest.raises(RejectedInput):
            number(bad, RADIUS)


def test_keyed_locks_are_released_under_errors():
    locks = KeyedLocks()
    with pytest.raises(KeyError), locks("k"):
        raise KeyError("k")
    assert len(locks) == 0


def test_no_server_paths_in_coverage_errors(monkeypatch):
    provider = DashboardProvider.from_config(None)

    def boom(*a, **k):
        raise OSError("[Errno 13] Permission denied: '/srv/gridmap/secret/network.gpkg'")

    monkeypatch.setattr("dashboards.provider.coverage_views.measure_coverage", boom)
    view = provider.coverage("kindergarten", 300, "straight")
    assert "/srv" not in view["error"] and "network.gpkg" in view["error"]
    assert without_paths("C:\\data\\a.toml") == "a.toml"


def test_profiles_from_the_config_are_offered_by_id(tmp_path):
    from gridmap import datasets

    custom = tmp_path / "mine.toml"
    custom.write_text(
        '[profile]\nid = "mine"\ntitle_zh = "本区"\ntitle_en = "Ours"\nextends = "national"\n',
        encoding="utf-8",
    )
    study = __import__("gridmap").read_study(**datasets.demo_config())
    provider = DashboardProvider(study, profiles=(str(custom),))
    ids = [o["value"] for o in provider.profiles()]
    assert "mine" in ids and ids[0] == provider.default_profile == "national"
    assert str(custom) not in json.dumps(provider.profiles())
    assert provider.profile_id("mine") == "mine"
    with pytest.raises(RejectedInput):
        provider.profile_id(str(custom))


def test_coverage_page_gap_cells_are_merged(provider):
    """The page's gap cells hold ≥ 3 buildings each (no single building's households)."""
    from gridmap.coverage import CoverageSpec, measure_coverage

    view = provider.coverage("kindergarten", 300, "straight")
    spec = [CoverageSpec("v", "kindergarten", 300.0, "straight")]
    res = provider.result()
    raw = measure_coverage(
        provider.study, spec, assignment=res.households, service_areas=False, household_level=True
    )
    raw_cells = int((raw.gaps["uncovered:v"] > 0).sum())
    assert 0 < view["gap_cells"] < raw_cells
    assert sum(f["properties"]["n"] for f in view["gaps"]["features"]) == view["uncovered"]


def test_plans_page_refuses_a_crafted_profile_with_a_message(app, client, provider, tmp_path):
    """The Plans page's render, action and export callbacks: a path as the profile is a message
    in the page (or no download), never HTTP 500 and never a file read."""
    with flask.Flask(__name__).test_request_context():
        tab = provider.plan_sessions.issue()  # the server-issued tab id (loopback: local editor)
    crafted = tmp_path / "secret.toml"
    crafted.write_text(f'id = "x"\ntitle_zh = "{SECRET}"\n', encoding="utf-8")
    common = {"pl-session.data": tab, "gm-profile.value": str(crafted), "gm-lang.value": "zh"}
    render = post(client, app, map_ids("plans").values, {**common, "pl-color.value": "community"})
    act = post(client, app, ID.PL_REV, {**common, "pl-save.n_clicks": 1, "pl-name.value": "x"})
    for resp in (render, act):
        assert resp.status_code == 200
        assert "未知的规则配置" in page_text(resp) and SECRET not in page_text(resp)
    export = post(client, app, ID.PL_DOWNLOAD, {**common, "pl-export-xlsx.n_clicks": 1})
    assert export.status_code in (200, 204) and SECRET not in page_text(export)
