"""Windowed reads of a hive-partitioned national dataset (issue #17): files picked by their boxes.

A partition reads its district and a halo, so :class:`gridmap.national.NationalSource` first
picks the dataset's files whose rows' box (from the row-group statistics of the ``bbox``
column) meets the window, then reads those with the window: the same rows as reading the whole
folder with the window, without opening the country's files.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridmap.national import NationalSource

LAYERS = ("communities", "grids", "households", "facilities")


@pytest.fixture(scope="module")
def source(tmp_path_factory, national_data) -> NationalSource:
    root = tmp_path_factory.mktemp("source")
    shape = national_data.NationalShape(provinces=2, districts=3, streets=1, communities=2)
    national_data.write_national(root, shape)
    return NationalSource({k: root / k for k in LAYERS})


def test_file_boxes_hold_their_rows(source):
    for kind in LAYERS:
        boxes = source.file_boxes(kind)
        assert len(boxes) == 6  # one file per district
        for path, box in boxes:
            assert box is not None
            b = gpd.read_parquet(path).total_bounds
            assert box[0] <= b[0] and box[1] <= b[1] and box[2] >= b[2] and box[3] >= b[3]


@pytest.mark.parametrize("kind", LAYERS)
def test_windowed_read_equals_reading_the_whole_folder(source, kind):
    first = source.file_boxes("communities")[0][1]
    assert first is not None
    window = (first[0] + 0.001, first[1] + 0.001, first[2] - 0.001, first[3] - 0.001)
    meets = [
        p
        for p, b in source.file_boxes(kind)
        if b is None or shapely.box(*b).intersects(shapely.box(*window))
    ]
    assert 0 < len(meets) < len(source.file_boxes(kind))  # files of other districts left closed
    got = source.read(kind, window)
    whole = gpd.read_parquet(source.layers[kind], bbox=window)
    whole = whole.drop(columns=[c for c in ("province", "city", "district") if c in whole])
    assert len(got) > 0
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")),
        pd.DataFrame(whole.drop(columns="geometry").reset_index(drop=True)),
        check_dtype=False,
    )
    assert got.geometry.equals(whole.geometry.reset_index(drop=True))


def test_window_meeting_no_file_reads_no_rows(source):
    empty = source.read("grids", (0.0, 0.0, 1.0, 1.0))
    assert len(empty) == 0
    assert list(empty.columns) == list(source.read("grids").columns)
    assert empty.crs == source.read("grids").crs
