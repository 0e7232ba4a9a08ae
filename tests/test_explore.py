"""Interactive maps (``CheckResult.explore``, ``Plan.explore``) and the HTML report: offline.

Fast checks on the page text: no reference to anything on the network (script, style sheet,
font, image), Leaflet inlined, the layers and their panes. The browser tests
(tests/browser/test_report_html.py) open the same pages in Chromium with networking disabled.
"""

from __future__ import annotations

import html
import re

import pytest

from gridmap import report
from gridmap.labels import STATUS_COLORS, tint
from gridmap.maps import make_offline
from gridmap.maps.explore import PANES

DATE = "2026-11-23"
#: what makes a browser fetch: <script src>, <link href>, @import, CSS url(...) other than
#: data:/#, <img src>, <iframe src>, <object data>
_FETCH = re.compile(
    r"<script[^>]*\ssrc\s*=|<link[^>]*\shref\s*=|@import|<img[^>]*\ssrc\s*=\s*['\"]?(?!data:)"
    r"|<iframe[^>]*\ssrc\s*=|<object[^>]*\sdata\s*=",
    re.I,
)
_CSS_URL = re.compile(r"url\(\s*['\"]?(?!data:|#)")  # lower case: CSS, not JavaScript's getUrl(


def external_refs(text: str) -> list[str]:
    """Every place in an HTML page that would make the browser fetch something.

    Style sheets are searched for ``url(``; the markup (script bodies left out: Leaflet's
    own code holds a link to its home page, shown only as the map's credit) for ``src=`` /
    ``href=`` pointing at ``http(s)://`` or ``//``.
    """
    styles = " ".join(re.findall(r"<style[^>]*>(.*?)</style>", text, re.S | re.I))
    markup = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", text, flags=re.S | re.I)
    out = [markup[m.start() : m.start() + 80] for m in _FETCH.finditer(markup)]
    out += [styles[m.start() : m.start() + 80] for m in _CSS_URL.finditer(styles)]
    out += re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"' >]+""", markup)
    return out


def test_external_refs_finds_cdn_links():
    """The detector itself: folium's default page is full of CDN links."""
    folium = pytest.importorskip("folium")
    text = folium.Map(tiles=None).get_root().render()
    refs = external_refs(text)
    assert len(refs) >= 8 and any("leaflet" in r for r in refs)


@pytest.fixture(scope="module")
def check_map(demo_result):
    return demo_result.explore()


def test_check_explore_is_self_contained(check_map, demo_result):
    text = check_map.get_root().render()
    assert not external_refs(text), external_refs(text)
    assert "L.map(" in text and 't.version="1.9.4"' in text  # Leaflet inlined, once
    assert text.count('t.version="1.9.4"') == 1
    # every community and failing grid is there, with its tooltip and the rule's citation
    assert text.count('"unit_id": "') >= len(demo_result.communities) + len(demo_result.grids)
    tips = {
        f["properties"]["unit_id"]: f["properties"]
        for child in check_map._children.values()
        if getattr(child, "options", {}).get("pane") == "gm_communities"
        for f in child.data["features"]
    }
    one = demo_result.findings.query("status == 'fail' and level == 'community'").iloc[0]
    props = tips[one["unit_id"]]
    # the tooltip names the rule and its value and cites the source; the popup cites it in full
    assert html.escape(one["rule_title"]) in props["tip"] and "依据" in props["tip"]
    assert html.escape(one["message"]) in props["tip"]
    assert html.escape(one["source"]) in props["detail"]
    assert f'"fillColor": "{tint(STATUS_COLORS["fail"])}"' in text
    assert "图例" in text and "L.control.layers(" in text


def test_gap_layers_sit_above_the_community_fill(check_map):
    """The gap layer lives in its own pane, above the communities' (z-index): never hidden."""
    text = check_map.get_root().render()
    assert PANES["gm_gaps"] > PANES["gm_grids"] > PANES["gm_communities"]
    for pane, z in PANES.items():
        assert re.search(rf'createPane\(\s*"{pane}"\);\s*\w+\.style\.zIndex = {z};', text), pane
    assert '"pane": "gm_gaps"' in text and "覆盖缺口" in text


def test_html_report_is_self_contained(demo_result):
    text = report.report_html_text(demo_result, date=DATE)
    assert not external_refs(text), external_refs(text)
    assert "保俶社区" in text and "L.map(" in text and '<script id="data"' in text


def test_plan_explore_highlights_moved_units(demo_result):
    from gridmap.plans import Plan

    plan = Plan.from_check(demo_result, name="方案甲")
    big = plan.communities()["households"].idxmax()
    assert plan.split(big, 2).ok
    text = plan.explore().get_root().render()
    moved = int((plan.units["community_id"] != plan.labels).sum())
    assert moved and f"调整的单位（{moved} 个）" in text
    assert not external_refs(text)


def test_make_offline_refuses_a_plugin_it_cannot_inline():
    folium = pytest.importorskip("folium")
    from folium.plugins import MiniMap

    m = folium.Map(tiles=None)
    MiniMap().add_to(m)
    with pytest.raises(ValueError, match="not available offline"):
        make_offline(m)
