"""The map pages (合规地图, 服务覆盖, 预测与对比) share one layout: controls, note, map + legend, detail."""

from __future__ import annotations

import inspect

import pytest

from dashboards.ids import ID, map_ids
from dashboards.pages import changes, compliance_map, coverage
from dashboards.provider import DashboardProvider
from dashboards.provider.changes import ChangeViews

#: page module → (legend id, detail column id or None, note id or None)
PAGES = {
    compliance_map: (ID.CM_LEGEND, ID.CM_DETAIL, None),
    coverage: (ID.CV_LEGEND, ID.CV_STATS, ID.CV_NOTE),
    changes: (ID.CH_LEGEND, None, ID.CH_NOTE),
}


@pytest.fixture(scope="module")
def provider(demo_study):
    p = DashboardProvider(demo_study)
    p.changes = ChangeViews(p, None)  # the layout only: no forecast needed
    return p


def _classes(component) -> str:
    return getattr(component, "className", "") or ""


@pytest.mark.parametrize("page", list(PAGES), ids=lambda m: m.PAGE)
def test_map_page_layout(provider, page):
    legend_id, detail_id, note_id = PAGES[page]
    root = page.layout(provider, "zh")
    assert root.id == f"page-{page.PAGE}" and _classes(root) == "gm-page"
    parts = root.children
    assert "gm-controls" in _classes(parts[0])
    if note_id:
        assert parts[1].id == note_id and _classes(parts[1]) == "gm-note"
    row = parts[-1]
    assert _classes(row) == "gm-row" and len(parts) == (3 if note_id else 2)
    map_col, detail_col = row.children
    assert _classes(map_col) == "gm-col gm-col-map"
    the_map, legend = map_col.children
    assert _classes(the_map) == "gm-map-wrap" and the_map.children[0].id == map_ids(page.PAGE).div
    assert legend.id == legend_id
    assert _classes(detail_col) == "gm-col gm-col-detail"
    assert getattr(detail_col, "id", None) == detail_id


@pytest.mark.parametrize("page", list(PAGES), ids=lambda m: m.PAGE)
def test_the_layout_is_written_once(page):
    """No page builds the map column itself: the one helper does (layout only)."""
    source = inspect.getsource(page)
    assert "map_view(" not in source and "gm-col-map" not in source and "map_page(" in source
