"""所属社区 names at national scale (issue #17): a partition resolves names as the whole data does.

A community name is a grid's 所属社区 only when it is unique in the *country*: a name repeated
in another province is ambiguous even where a partition sees one of them, and a unique name of
a community far away still resolves (to a mismatch) though the partition never reads it.
"""

from __future__ import annotations

import pandas as pd
import pytest

import gridmap
from gridmap.national import NationalSource, check_national, partition_crs, plan_partitions
from gridmap.qa import community_lookup

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
pytestmark = pytest.mark.dask

LAYERS = ("communities", "grids", "households", "facilities")
ATTR_RULES = ["qa.grid.community_unknown", "qa.grid.community_mismatch"]


@pytest.fixture(scope="module")
def source(tmp_path_factory, national_data) -> NationalSource:
    """Two provinces; one name in both; a grid naming a community of the other province."""
    gen = national_data
    root = tmp_path_factory.mktemp("names")
    shape = gen.NationalShape(provinces=2, districts=1, streets=1, communities=2, grids=2)
    gen.write_national(root / "raw", shape)
    raw = NationalSource({k: root / "raw" / k for k in LAYERS})
    layers = {k: raw.read(k) for k in LAYERS}
    comms, grids = layers["communities"], layers["grids"]
    codes = sorted(comms["社区编码"])
    first, last = codes[0], codes[-1]  # in different provinces
    comms.loc[comms["社区编码"].isin([first, last]), "社区名称"] = "幸福社区"
    grids.loc[grids["网格编码"].str.startswith(first), "所属社区"] = "幸福社区"
    far = comms.loc[comms["社区编码"] == codes[-2], "社区名称"].iloc[0]
    grids.loc[grids["网格编码"] == f"{codes[1]}001", "所属社区"] = far
    for k, gdf in layers.items():
        gdf.to_parquet(root / f"{k}.parquet", index=False, write_covering_bbox=True)
    return NationalSource({k: root / f"{k}.parquet" for k in LAYERS})


def _attr_rows(findings: pd.DataFrame) -> pd.DataFrame:
    rows = findings[findings["rule_id"].isin(ATTR_RULES)]
    cols = ["rule_id", "unit_id", "message"]
    return rows[cols].sort_values(cols).reset_index(drop=True)


def test_lookup_ambiguous_names_and_codes():
    lookup = community_lookup(["1", "2", "3"], ["东区", "西区", "东区"])
    assert lookup["西区"] == "2" and lookup["3"] == "3"
    assert lookup["东区"] is pd.NA


def test_partitioned_names_resolve_as_on_the_whole_data(source):
    plan = plan_partitions(source.community_index(), "district")
    metric = partition_crs(plan, plan.keys[0])
    whole = gridmap.check(gridmap.read_study(**{k: source.read(k) for k in LAYERS}, metric=metric))
    expected = _attr_rows(whole.findings)
    # the repeated name is unknown on the whole data, the far name a mismatch
    assert set(expected["rule_id"]) == set(ATTR_RULES)
    assert expected["message"].str.contains("幸福社区").any()
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0"
    ) as client:
        national = check_national(source, partition_by="district", scheduler=client)
    assert len(plan.keys) == 2
    pd.testing.assert_frame_equal(_attr_rows(national.findings), expected)
