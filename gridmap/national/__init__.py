"""The check at national scale: partitions by administrative code, run on Dask.

A province or the country does not fit one machine. :func:`check_national` splits the
communities into partitions by the first 6 (区县) or 9 (街道) digits of their 12-digit code
(:func:`plan_partitions`), checks each on a Dask worker with gridmap's own
:func:`gridmap.check` in that partition's Gauss-Krüger zone (:func:`check_partition`), and
puts the rows each partition owns together (:func:`combine`): the same tables and findings
as a single-machine check on the same data. Out of core (``check_national(out=…)``) each
worker stages its rows itself (:func:`stage_partition`) and the outputs are written from
them partition by partition (:func:`write_staged`, :class:`NationalOutput`). :func:`rollup` sums a check's output per
街道 → 区县 → 市 → 省 (:func:`write_rollup`: CSV, XLSX, GeoParquet). Layers are read from
hive-partitioned GeoParquet or files (:class:`NationalSource`).
"""

from typing import TYPE_CHECKING

from gridmap._lazy import lazy_package

if TYPE_CHECKING:
    from gridmap.national.engine import (
        LOCAL_CLUSTER_CONFIG,
        ProgressBar,
        check_national,
        local_cluster,
    )
    from gridmap.national.partition import PARTITION_BY, PartitionPlan, plan_partitions
    from gridmap.national.result import GAP_RULE, NationalResult, combine
    from gridmap.national.rollup import LEVELS, read_check_dir, rollup, write_rollup
    from gridmap.national.source import LAYERS, NationalSource
    from gridmap.national.stage import StagedPartition, stage_partition
    from gridmap.national.stream import NationalOutput, write_staged
    from gridmap.national.worker import HALO_DEG, PartitionOutput, check_partition, partition_crs
    from gridmap.qa import number_gaps

__all__ = [
    "check_national",
    "ProgressBar",
    "plan_partitions",
    "PartitionPlan",
    "PARTITION_BY",
    "NationalResult",
    "NationalOutput",
    "combine",
    "stage_partition",
    "StagedPartition",
    "write_staged",
    "number_gaps",
    "GAP_RULE",
    "NationalSource",
    "LAYERS",
    "check_partition",
    "PartitionOutput",
    "partition_crs",
    "HALO_DEG",
    "rollup",
    "write_rollup",
    "read_check_dir",
    "LEVELS",
    "local_cluster",
    "LOCAL_CLUSTER_CONFIG",
]

# Dask, geopandas and the check load on first use: `gridmap check --help` does not wait for them
lazy_package(
    __name__,
    {
        "ProgressBar": "gridmap.national.engine",
        "check_national": "gridmap.national.engine",
        "local_cluster": "gridmap.national.engine",
        "LOCAL_CLUSTER_CONFIG": "gridmap.national.engine",
        "PARTITION_BY": "gridmap.national.levels",
        "PartitionPlan": "gridmap.national.partition",
        "plan_partitions": "gridmap.national.partition",
        "NationalResult": "gridmap.national.result",
        "combine": "gridmap.national.result",
        "number_gaps": "gridmap.qa",
        "GAP_RULE": "gridmap.national.result",
        "LEVELS": "gridmap.national.levels",
        "read_check_dir": "gridmap.national.rollup",
        "rollup": "gridmap.national.rollup",
        "write_rollup": "gridmap.national.rollup",
        "LAYERS": "gridmap.national.source",
        "NationalSource": "gridmap.national.source",
        "StagedPartition": "gridmap.national.stage",
        "stage_partition": "gridmap.national.stage",
        "NationalOutput": "gridmap.national.stream",
        "write_staged": "gridmap.national.stream",
        "HALO_DEG": "gridmap.national.worker",
        "PartitionOutput": "gridmap.national.worker",
        "check_partition": "gridmap.national.worker",
        "partition_crs": "gridmap.national.worker",
    },
)
