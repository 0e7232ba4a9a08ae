"""The dashboard's data provider and app wiring, without a browser (fast)."""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from dashboards.i18n import WORDS, t
from dashboards.ids import ID, map_ids
from dashboards.provider import DashboardProvider, class_breaks, filter_findings


@pytest.fixture(scope="module")
def provider() -> DashboardProvider:
    return DashboardProvider.from_config(None)


def test_class_breaks_cover_every_value():
    rng = np.random.default_rng(1)
    v = rng.lognormal(7, 1, 500)
    b = class_breaks(v, k=5)
    assert b == sorted(b) and len(set(b)) == len(b) and len(b) <= 5
    assert b[-1] >= v.max()
    assert class_breaks(np.array([])) == []


@pytest.mark.parametrize("level", ["community", "grid"])
def test_status_values_match_the_check(provider, level):
    units = provider.units(level)
    mv = provider.map_values(level, "status")
    assert len(mv.classes) == len(units) == len(provider.ids(level))
    counts = {row["label"]: row["count"] for row in mv.legend}
    for status, n in units["status"].value_counts().items():
        assert counts[t(f"status.{status}")] == n


def test_rule_and_metric_values(provider):
    res = provider.result()
    f = res.findings[res.findings.rule_id == "community.size"]
    mv = provider.map_values("community", "rule:community.size", lang="en")
    fail = next(r for r in mv.legend if r["label"] == "failing")
    assert fail["count"] == int((f.status == "fail").sum()) == 10
    assert np.nansum(mv.values) == pytest.approx(pd.to_numeric(f.value).sum())
    for mode in ("metric:households", "metric:coordinator_gap", "metric:floor_area_gap"):
        mv = provider.map_values("community", mode)
        assert sum(r["count"] for r in mv.legend) == len(res.communities), mode
        assert mv.classes.min() >= -1 and mv.classes.max() < len(mv.palette)
    payload = provider.map_values("grid", "metric:coordinator_gap").payload("/x", version=1)
    assert set(payload) >= {"url", "c", "v", "palette", "legend", "level"}
    json.dumps(payload)  # plain JSON: only values travel


def test_color_options_follow_the_profile(provider):
    opts = [o["value"] for o in provider.color_options("community", "national")]
    assert opts[0] == "status" and "rule:community.size" in opts and "metric:households" in opts
    grid_opts = [o["value"] for o in provider.color_options("grid", "national")]
    assert "rule:grid.coordinators" in grid_opts and "metric:floor_area_gap" not in grid_opts


def test_geojson_is_wgs84_with_feature_ids(provider):
    for level in ("community", "grid"):
        geo = json.loads(gzip.decompress(provider.geojson(level)))
        feats = geo["features"]
        assert [f["id"] for f in feats] == list(range(len(provider.ids(level))))
        assert [f["properties"]["u"] for f in feats] == provider.ids(level).tolist()
        lon, lat = np.array(feats[0]["geometry"]["coordinates"][0][0])
        assert 119 < lon < 121 and 29 < lat < 31
    assert provider.geojson("community") is provider.geojson("community")  # built once
    w, s, e, n = provider.bounds("community", provider.ids("community")[0])
    W, S, E, N = provider.bounds("community")
    assert W <= w < e <= E and S <= s < n <= N


def test_profile_switch_changes_counts_and_is_cached(provider):
    national, hz = provider.kpis("national"), provider.kpis("hangzhou-2008")
    for k, profile in ((national, "national"), (hz, "hangzhou-2008")):
        status = provider.units("community", profile)["status"].value_counts()
        assert (
            k["communities"] == 30
            and k["fail"] == status.get("fail", 0)
            and k["pass"] == status.get("pass", 0)
        )
    assert hz["fail"] == 30 != national["fail"]  # 杭州 2008 caps communities lower: all fail
    assert provider.result("hangzhou-2008") is provider.result("hangzhou-2008")


def test_results_are_computed_once_under_concurrency(monkeypatch):
    import gridmap

    prov = DashboardProvider.from_config(None)
    calls = []
    real = gridmap.check

    def counting(*args, **kwargs):
        calls.append(kwargs["profile"].id)  # a loaded Profile, never a name or path
        return real(*args, **kwargs)

    monkeypatch.setattr(gridmap, "check", counting)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: prov.result("zhejiang-2007"), range(8)))
    assert calls == ["zhejiang-2007"] and all(r is results[0] for r in results)


def test_findings_in_english_keep_rows(provider):
    zh, en = provider.findings(lang="zh"), provider.findings(lang="en")
    assert len(zh) == len(en)
    assert (zh.status.to_numpy() == en.status.to_numpy()).all()
    row = en[(en.rule_id == "community.size") & (en.status == "fail")].iloc[0]
    assert row.message.startswith(("above", "below"))


def test_unit_detail_has_every_finding_with_source(provider):
    uid = provider.ids("community")[0]
    d = provider.unit_detail("community", uid)
    rules = [r.id for r in provider.result().profile.rules if r.level == "community"]
    assert sorted(
        f["rule_id"] for f in d["findings"] if not f["rule_id"].startswith("qa.")
    ) == sorted(rules)
    ranks = [{"fail": 0, "not_assessed": 1, "pass": 2}[f["status"]] for f in d["findings"]]
    assert ranks == sorted(ranks)  # problems first
    assert all(f["source"] for f in d["findings"])
    assert d["figures"]["households"] > 0
    with pytest.raises(KeyError, match="no community"):
        provider.unit_detail("community", "nope")


def test_worst_offenders_and_rule_counts(provider):
    worst = provider.worst(n=5)
    assert len(worst) == 5 and worst["errors"].is_monotonic_decreasing
    counts = provider.rule_counts()
    assert counts.loc["community.size", ["pass", "fail", "not_assessed"]].sum() == 30


def test_coverage_view(provider):
    view = provider.coverage("kindergarten", 300, "straight")
    if not view["available"]:
        assert view["reason"] in ("missing", "error")
        return
    assert 0 <= view["share"] <= 1 and len(view["shares"]) == 30
    assert view["gaps"] is None or all(f["properties"]["n"] > 0 for f in view["gaps"]["features"])
    assert provider.coverage("kindergarten", 300, "straight") is view
    mv = provider.coverage_values(view)
    assert sum(r["count"] for r in mv.legend) == 30


def test_filter_findings(provider):
    f = provider.findings()
    assert len(filter_findings(f, status="fail", level="grid")) == int(
        ((f.status == "fail") & (f.level == "grid")).sum()
    )
    name = f.unit_name.iloc[0]
    hits = filter_findings(f, search=name)
    assert len(hits) and (hits.unit_name.str.contains(name, regex=False)).all()
    assert len(filter_findings(f, search="no such thing")) == 0


def test_app_routes_and_layout(provider):
    from dashboards import create_app

    app = create_app(provider)
    client = app.server.test_client()
    r = client.get(f"/_gridmap/geo/{provider.key}/community.geojson")
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert (
        client.get(
            f"/_gridmap/geo/{provider.key}/community.geojson",
            headers={"If-None-Match": r.headers["ETag"]},
        ).status_code
        == 304
    )
    assert client.get("/_gridmap/geo/wrongkey/community.geojson").status_code == 404
    assert client.get(f"/_gridmap/geo/{provider.key}/nope.geojson").status_code == 404
    with client.get("/assets/vendor/maplibre-gl.js") as js:
        assert js.status_code == 200
    html = client.get("/").get_data(as_text=True)
    # nothing loaded from the internet (a random token in the page may spell "cdn": look at URLs)
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, flags=re.I)
    assert not re.findall(r"https?://[^\s\"']*(?:cdn|googleapis)", html, flags=re.I)
    # a second app is independent (no state shared at import time)
    other = create_app(provider)
    assert other is not app and other.server is not app.server


def test_ids_and_words():
    assert len({m.value for m in ID}) == len(ID)
    ids = map_ids("map")
    assert ids.click == f"{ids.div}-click"  # the JS side derives the click store from the div id
    assert all(len(pair) == 2 and all(pair) for pair in WORDS.values())


def test_serve_parser():
    from gridmap.cli.serve import add_serve_parser

    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "x.toml", "--port", "9000"])
    assert (args.config, args.host, args.port) == ("x.toml", "127.0.0.1", 9000)
    args = parser.parse_args(["serve"])
    assert args.config is None and callable(args.func)


@pytest.mark.slow
def test_serve_runs_the_demo(tmp_path):
    """``gridmap.cli.serve.run`` loads the demo with progress messages and answers HTTP on the port."""
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"from gridmap.cli.serve import run; run(None, port={port})"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert body is not None and "_dash-config" in body
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "loading study" in err and "dashboard: http://127.0.0.1" in err
    # the demo's plans live next to its config (they outlive the server), not in /tmp
    assert (tmp_path / "gridmap-demo" / "gridmap.toml").is_file()
    assert "plans.gpkg" in err and str(tmp_path / "gridmap-demo") in err


def test_default_coverage_question(provider):
    ftype, radius, mode = provider.default_coverage()
    assert (
        ftype in {o["value"] for o in provider.facility_types()}
        and radius > 0
        and mode in ("straight", "network")
    )


def test_basemap_from_config_warns_about_gcj02(tmp_path):
    from dashboards import create_app
    from gridmap import datasets

    url = "http://tiles.example.invalid/{z}/{x}/{y}.png"
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(
        datasets.demo_config_toml(datasets.get_path("demo").as_posix())
        + f'\n[dashboard]\nbasemap = "{url}"\n',
        encoding="utf-8",
    )
    prov = DashboardProvider.from_config(str(cfg))
    assert prov.basemap == url
    layout = str(create_app(prov).layout)
    assert "GCJ-02" in layout
    assert DashboardProvider.from_config(None).basemap is None  # offline by default


def test_percent_formatting():
    from dashboards.provider import format_value, percent_flags
    from gridmap.rules import Rule

    assert format_value(0.51, pct=True) == "51%"
    assert format_value(1.0, pct=True) == "100%"
    assert format_value(0.997, pct=True) == "99.7%"  # a failing share never reads "100%"
    assert format_value(float("nan"), pct=True) == format_value(None) == "—"
    assert format_value(1234.0) == "1,234" and format_value(0.51) == "0.51"
    rule = lambda kind, unit="", **p: Rule("x", "community", kind, "", "", "", unit=unit, params=p)  # noqa: E731
    assert percent_flags(rule("range", "%", metric="m", min=0.6)) == (True, True)
    assert percent_flags(rule("coverage", facility_type="market", radius_m=500)) == (
        True,
        False,
    )  # gap: households
    assert percent_flags(rule("ratio", numerator="a", denominator="b", min=0.1)) == (True, True)
    assert percent_flags(
        rule("ratio", "人/万人", numerator="a", denominator="b", scale=10000, min=18)
    ) == (False, False)
    assert percent_flags(rule("range", "户", metric="households", min=1000)) == (False, False)


def test_detail_panel_shows_shares_as_percentages(provider):
    from dashboards.components import detail_panel

    f = provider.findings()
    cov = f[(f["rule_id"] == "community.coverage.service_station") & f["value"].notna()].iloc[0]
    detail = provider.unit_detail("community", cov["unit_id"])
    card = next(x for x in detail["findings"] if x["rule_id"] == cov["rule_id"])
    assert card["value_text"] == f"{float(cov['value']) * 100:.0f}%" or card["value_text"].endswith(
        "%"
    )
    assert card["threshold"].startswith("≥100%")
    assert not card["gap_text"].endswith("%")  # coverage gaps count households
    text = str(detail_panel(detail))
    assert card["value_text"] in text
    vol = next(x for x in detail["findings"] if x["rule_id"] == "community.volunteers")
    assert vol["value_text"].endswith("%") and vol["threshold"].endswith("%")


def test_rule_chart_in_shares_and_worst_table_sorted_by_what_it_shows(provider):
    """Community (30) and grid (185) rules on one 0–100 % axis; the worst-offender table shows
    the columns it is sorted by (serious failures, then all failures)."""
    from dashboards.pages.overview import rule_chart, worst_table

    fig = rule_chart(provider.rule_counts(None), "en")
    shares = sum(pd.Series(bar.x, dtype=float) for bar in fig.data)
    assert ((shares - 100).abs() < 0.5).all()
    assert fig.layout.xaxis.range == (0, 100)
    assert all("…" not in y or y.count("<br>") == 1 for y in fig.data[0].y)
    table = worst_table(provider.worst(None, "en"), "en")
    head = [th.children for th in table.children[0].children.children]
    assert head[:3] == ["Name", "Of which serious", "Failed rules"]
    rows = [[td.children for td in tr.children] for tr in table.children[1].children]
    keys = [(int(r[1]), int(r[2])) for r in rows]
    assert keys == sorted(keys, reverse=True)
