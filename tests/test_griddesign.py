"""Grid design: contiguous grids of at most N households."""

import geopandas as gpd
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box
from test_edits import lattice_units

from gridmap.edits import community_pieces, unit_adjacency
from gridmap.griddesign import design_grids


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    rows=st.integers(2, 7),
    cols=st.integers(2, 7),
    limit=st.sampled_from([300, 500]),
)
def test_grids_are_contiguous_and_within_limit(seed, rows, cols, limit):
    hh = np.random.default_rng(seed).integers(10, 150, rows * cols)
    blocks = lattice_units(rows, cols, rows, cols, households=hh)
    d = design_grids(blocks, max_households=limit)
    assert d.labels.index.equals(blocks.index) and d.labels.notna().all()
    assert (d.grids["households"] <= limit).all()
    assert d.grids["households"].sum() == hh.sum()
    assert community_pieces(d.labels, unit_adjacency(blocks)).max() == 1
    assert len(d.grids) >= int(np.ceil(hh.sum() / limit))


def test_oversized_building_is_reported():
    blocks = gpd.GeoDataFrame(
        {"households": [120, 420, 90]},
        geometry=[box(i, 0, i + 1, 1) for i in range(3)],
        index=["b1", "b2", "b3"],
        crs=4549,
    )
    d = design_grids(blocks, max_households=300, prefix="330106001001", tolerance=0.01)
    assert len(d.problems) == 1 and "b2" in d.problems[0]
    assert d.labels.str.len().eq(15).all()


def test_separate_buildings_are_joined():
    blocks = gpd.GeoDataFrame(
        {"households": [100] * 6},
        geometry=[box(i * 30, 0, i * 30 + 20, 20) for i in range(6)],
        crs=4549,
    )
    d = design_grids(blocks, max_households=300)
    assert sorted(d.grids["households"]) == [300, 300]
    assert pd.Series(d.labels).nunique() == 2
