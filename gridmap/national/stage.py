"""A partition's owned rows written by the worker itself, for a national run out of core.

:func:`stage_partition` runs :func:`~gridmap.national.check_partition` and writes the large
tables it owns (communities and grids with geometry, the findings on units) as Parquet files
under a staging folder, ``{folder}/{table}/{partition}.parquet``, each sorted by the order of
the national output (ids; findings by :func:`finding_keys`) with a sort key column ``_key`` and
the province and district columns ``_province``/``_district`` the per-region outputs pick
rows by. A file is written under a temporary name and renamed into place, so a task that Dask
runs again (its worker died) replaces its own file: a partition's rows are staged once.

The worker hands back a :class:`StagedPartition`: the small tables only (counts, study-level
findings, gap centres, household sums, problems, timings) and, per staged table, the first and
last key of each row group (the client merges the partitions' files in order reading one row
group at a time, :mod:`gridmap.national.merge`) and a one-row sample per partition whose
column types say what the whole table's types are (:func:`sample_rows`).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gridmap._errors import Problem
from gridmap.national.export import district_codes
from gridmap.national.partition import PartitionPlan
from gridmap.national.worker import PartitionOutput, check_partition
from gridmap.rules import Profile, load_profile

__all__ = [
    "stage_partition",
    "StagedPartition",
    "StagedTable",
    "finding_keys",
    "sample_rows",
    "ROW_GROUP",
    "TABLES",
]

#: rows per Parquet row group of a staged table: what the client reads (and holds) at once
ROW_GROUP = 10_000
#: the staged tables
TABLES = ("communities", "grids", "findings")
#: between the parts of a finding's sort key: sorts before every character of ids and rules
_SEP = "\x01"


@dataclass
class StagedTable:
    """One partition's staged table: where it is and what the client needs to merge it.

    Attributes
    ----------
    path
        The Parquet file (sorted by ``_key``).
    rows
        Rows in it.
    bounds
        First and last ``_key`` of each row group.
    sample
        :func:`sample_rows` of the table (with geometry where it has one).
    integral
        Per numeric column: (has a value, every value a whole number).
    regions
        The ``_province`` and ``_district`` values present.
    geom_types
        Per ``_province``: the geometry types of its rows (a GeoPackage layer of polygons and
        multipolygons is written as multipolygons).
    """

    path: Path
    rows: int
    bounds: list[tuple[str, str]]
    sample: pd.DataFrame
    integral: dict[str, tuple[bool, bool]]
    regions: dict[str, set[str]]
    geom_types: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class StagedPartition:
    """What a staged partition hands back to the client: everything but its large tables.

    Attributes
    ----------
    key, crs, epsg
        The partition and its metric CRS (as :class:`~gridmap.national.PartitionOutput`).
    tables
        ``communities``, ``grids`` (absent without grids), ``findings``: :class:`StagedTable`.
    study_findings
        The partition's study-level findings (gaps, household rows), in its findings' order.
    households, problems, gap_lonlat, stats
        As :class:`~gridmap.national.PartitionOutput`.
    """

    key: str
    crs: str
    epsg: int | None
    tables: dict[str, StagedTable]
    study_findings: pd.DataFrame
    households: pd.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    gap_lonlat: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def communities(self) -> int:
        """Communities the partition owns."""
        return self.tables["communities"].rows

    @property
    def grids(self) -> int:
        """Grids the partition owns (0 without grids)."""
        return self.tables["grids"].rows if "grids" in self.tables else 0


def finding_keys(findings: pd.DataFrame, profile: Profile) -> pd.Series:
    """One text per finding that sorts as the national findings are ordered.

    Rule findings before QA findings, communities, grids, then the rest, rules in profile
    order, then by rule id and unit id (``_order_findings`` of :mod:`gridmap.national.result`,
    as one string: QA flag, level and rank, then rule id and unit id each after a separator
    that sorts before every character they hold).
    """
    rank = {r.id: i for i, r in enumerate(profile.rules)}
    rule = findings["rule_id"].astype(str)
    qa = rule.str.startswith("qa.").map({True: "1", False: "0"})
    level = findings["level"].map({"community": "0", "grid": "1"}).fillna("2").astype(str)
    order = rule.map(lambda r: f"{rank.get(r, len(rank)):06d}")
    unit = findings["unit_id"].astype(str)
    return qa + level + order + _SEP + rule + _SEP + unit


def sample_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per frame with each column's first value that is not missing (else missing).

    Concatenating the samples of several frames gives the column order and types that
    concatenating the frames themselves gives (an empty frame stays empty; a column that is
    missing everywhere stays missing), at the cost of one row each.
    """
    if not len(frame):
        return frame.iloc[:0]
    first = frame.notna().to_numpy().argmax(axis=0)
    cols = {
        c: frame[c].iloc[[int(i)]].reset_index(drop=True) for c, i in zip(frame, first, strict=True)
    }
    out = pd.DataFrame(cols, columns=frame.columns)
    out.index = frame.index[:1]  # the id's type takes part too
    if hasattr(frame, "geometry"):
        out = frame.iloc[:1].__class__(out, geometry=frame.geometry.name, crs=frame.crs)
    return out


def _integral(frame: pd.DataFrame) -> dict[str, tuple[bool, bool]]:
    out = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            values = s.dropna()
            out[str(col)] = (bool(len(values)), bool((values % 1 == 0).all()))
    return out


def _groups(blocks: np.ndarray) -> list[tuple[int, int]]:
    """Row groups ``[start, end)``: runs of one block, cut every :data:`ROW_GROUP` rows.

    A row group never spans two blocks (two rules of the findings): the merge then holds the
    group of one partition at a time, not one per partition for every rule they all have.
    """
    n = len(blocks)
    cuts = {0, n}
    if n:
        cuts |= set((np.flatnonzero(blocks[1:] != blocks[:-1]) + 1).tolist())
    starts = sorted(cuts)
    out = []
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        out += [(i, min(i + ROW_GROUP, b)) for i in range(a, b, ROW_GROUP)]
    return out


def _write_atomic(table: pd.DataFrame, path: Path, groups: list[tuple[int, int]]) -> None:
    """``table`` as Parquet at ``path`` in row groups ``groups``; renamed into place.

    A rerun of the partition replaces the file whole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if hasattr(table, "to_wkb"):  # GeoParquet: groups of ROW_GROUP rows (one block)
            table.to_parquet(tmp, index=True, row_group_size=ROW_GROUP)
        else:
            data = pa.Table.from_pandas(table, preserve_index=False)
            with pq.ParquetWriter(tmp, data.schema) as writer:
                for a, b in groups:
                    writer.write_table(data.slice(a, b - a), row_group_size=b - a)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _stage(
    frame: pd.DataFrame,
    keys: pd.Series,
    regions: dict[str, pd.Series],
    path: Path,
    blocks: pd.Series | None = None,
) -> StagedTable:
    """Write ``frame`` sorted by ``keys`` (stable) with its key and region columns."""
    order = np.argsort(keys.to_numpy(dtype=object), kind="stable")
    table = frame.iloc[order]
    extra = {"_key": keys.to_numpy(dtype=object)[order]}
    extra |= {f"_{k}": v.to_numpy(dtype=object)[order] for k, v in regions.items()}
    staged = table.assign(**extra)
    one = np.zeros(len(order), dtype=int)
    groups = _groups(one if blocks is None else blocks.to_numpy(dtype=object)[order])
    _write_atomic(staged, path, groups)
    sorted_keys = extra["_key"]
    bounds = [(str(sorted_keys[a]), str(sorted_keys[b - 1])) for a, b in groups]
    types: dict[str, set[str]] = {}
    if hasattr(frame, "geometry"):
        kinds = pd.Series(frame.geometry.geom_type.to_numpy(), dtype=object).dropna()
        province = regions["province"].to_numpy(dtype=object)[kinds.index.to_numpy()]
        for prov, kind in set(zip(province, kinds, strict=True)):
            types.setdefault(str(prov), set()).add(str(kind))
    return StagedTable(
        path=path,
        rows=len(frame),
        bounds=bounds,
        sample=sample_rows(frame),
        integral=_integral(frame),
        regions={k: set(map(str, v.unique())) for k, v in regions.items()},
        geom_types=types,
    )


def _unit_regions(units: pd.DataFrame, code_column: str | None) -> dict[str, pd.Series]:
    """Province (first two digits, as ``provinces/{code}.gpkg`` picks) and district folder."""
    code = units[code_column] if code_column else units.index.to_series()
    text = code.astype(str).reset_index(drop=True)
    return {"province": text.str[:2], "district": district_codes(code)}


def stage_output(output: PartitionOutput, folder: Path, profile: Profile) -> StagedPartition:
    """Write a partition's owned tables under ``folder``; the rest as a :class:`StagedPartition`."""
    tables: dict[str, StagedTable] = {}
    units = {"communities": (output.communities, None), "grids": (output.grids, "community_id")}
    for kind, (frame, code_column) in units.items():
        if frame is None:
            continue
        keys = frame.index.to_series().astype(str).reset_index(drop=True)
        path = folder / kind / f"{output.key}.parquet"
        tables[kind] = _stage(frame, keys, _unit_regions(frame, code_column), path)
    f = output.findings
    study = (f["level"] == "study").to_numpy()
    units_f = f[~study].reset_index(drop=True)
    province = {"province": units_f["unit_id"].astype(str).str[:2]}
    path = folder / "findings" / f"{output.key}.parquet"
    keys = finding_keys(units_f, profile)
    blocks = keys.str.rsplit(_SEP, n=1).str[0]  # one rule's findings
    tables["findings"] = _stage(units_f, keys, province, path, blocks)
    # the sample of the whole findings: the study rows take part in their column types
    tables["findings"].sample = sample_rows(pd.concat([units_f, f[study]], ignore_index=True))
    return StagedPartition(
        key=output.key,
        crs=output.crs,
        epsg=output.epsg,
        tables=tables,
        study_findings=f[study].reset_index(drop=True),
        households=output.households,
        problems=output.problems,
        gap_lonlat=output.gap_lonlat,
        stats=output.stats,
    )


def stage_partition(
    source: Any,
    plan: PartitionPlan,
    key: str,
    folder: str | os.PathLike,
    *,
    profile: str = "national",
    **options: Any,
) -> StagedPartition:
    """Check one partition and stage the rows it owns under ``folder`` (what a worker runs).

    Parameters
    ----------
    source, plan, key
        As :func:`~gridmap.national.check_partition`.
    folder
        The staging folder (shared by the workers and the client).
    profile
        The rule profile.
    **options
        Further keywords of :func:`~gridmap.national.check_partition` (``lang``,
        ``study_options``, ``lookup``).

    Returns
    -------
    StagedPartition
    """
    output = check_partition(source, plan, key, profile=profile, **options)
    return stage_output(output, Path(folder), load_profile(profile))
