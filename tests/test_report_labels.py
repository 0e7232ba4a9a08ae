"""Report map labels never overlap: on the real SIP district (138 communities) and the demo.

Boxes are measured on the drawn figure (every text the map placed, by its ``gid``), not
taken from the placement's own bookkeeping.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import gridmap
from gridmap import maps
from gridmap.maps.placement import LABEL_GID, renderer_of

SIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "sip"  # as tests/conftest.py


def _label_boxes(fig):
    renderer = renderer_of(fig)
    fig.draw(renderer)
    texts = [t for ax in fig.axes for t in ax.texts if t.get_gid() == LABEL_GID and t.get_text()]
    return texts, [t.get_window_extent(renderer) for t in texts]


def _overlaps(boxes) -> int:
    return sum(
        1
        for a, b in itertools.combinations(boxes, 2)
        if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1
    )


@pytest.fixture(scope="module")
def sip_result():
    import geopandas as gpd

    if not (SIP / "sip.gpkg").exists():
        pytest.skip(f"real SIP data not found at {SIP}")
    gpkg = SIP / "sip.gpkg"
    base = gridmap.read_study(f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive")
    pts = base.grids.representative_point()
    rng = np.random.default_rng(3)  # SIP has no household counts: synthetic, seeded
    hh = gpd.GeoDataFrame(
        {"户数": rng.integers(50, 900, len(pts))}, geometry=pts.to_numpy(), crs=base.crs
    )
    return gridmap.check(
        gridmap.read_study(
            f"{gpkg}:communities", grids=f"{gpkg}:grids_comprehensive", households=hh
        )
    )


@pytest.mark.realdata
@pytest.mark.parametrize("family", ["community.size", "overview"])
def test_sip_report_map_labels_never_overlap(sip_result, family):
    res = sip_result
    assert len(res.communities) == 138 and family in maps.map_families(res)
    with maps.style():
        fig = maps.map_figure(res, family, page="a4", date="2026-11-23")
        texts, boxes = _label_boxes(fig)
    assert _overlaps(boxes) == 0
    shown = {t.get_text() for t in texts}
    # every unit is on the map by name or by a number listed in the key
    keyed = {"".join(fig_text.get_text() for fig_text in fig.texts)}
    names = res.communities["name"].astype(str)
    by_name = {n for n in names if any(s.startswith(n) for s in shown)}
    in_key = {n for n in names if any(f" {n}" in k for k in keyed)}
    assert by_name | in_key == set(names)
    # failing communities are written out in full on the map, not numbered
    failing = set(names[res.communities["size_status"].isin(["too_large", "too_small"])])
    if family == "community.size":
        assert failing and failing <= by_name


def test_demo_map_labels_every_community_by_name(demo_result):
    with maps.style():
        fig = maps.map_figure(demo_result, "overview", page="a4", date="2026-11-23")
        texts, boxes = _label_boxes(fig)
    assert _overlaps(boxes) == 0
    names = set(demo_result.communities["name"].astype(str))
    assert names <= {t.get_text() for t in texts}


def test_labels_that_cannot_fit_are_numbered_not_stacked(demo_result):
    """Forty labels on one point: one in full, the rest numbered or left out — never stacked."""
    from matplotlib.figure import Figure

    from gridmap.maps.placement import place_labels

    with maps.style():
        fig = Figure(figsize=(3, 3))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 10)
        key = place_labels(ax, [(5.0, 5.0, f"社区{i}", True) for i in range(40)], numbers=True)
        texts, boxes = _label_boxes(fig)
    assert _overlaps(boxes) == 0
    assert len(texts) + len(key.omitted) == 40 and key.numbered and key.shifted
