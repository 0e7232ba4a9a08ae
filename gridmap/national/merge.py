"""Merge the partitions' staged tables in the national order, a few row groups at a time.

Each partition's staged file is sorted by ``_key`` (:mod:`gridmap.national.stage`), but the
partitions' key ranges can interleave (a grid stored under its own district's id and owned by
the neighbour its community is in; ids of a spatial raster). :func:`merged` is a k-way merge
of sorted files at the grain of their row groups: it reads a partition's next row group only
when that group's first key is the smallest key not yet read, and hands back every row whose
key is below the first unread key of every partition, sorted by key, then partition, then row
(the order a stable sort of the partitions concatenated in key order gives). Where the ranges
do not interleave it holds one row group; each partition whose range reaches into another's
holds one more while that range is written.

:func:`conform` gives a chunk the column order and types of the whole table
(:func:`whole_schema`), so every chunk is written as that table would be.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from geopandas import GeoDataFrame

from gridmap.national.source import LONLAT
from gridmap.national.stage import StagedTable

__all__ = ["merged", "conform", "whole_schema", "HELPER_COLUMNS"]

#: the staging columns that are not part of a table
HELPER_COLUMNS = ("_key", "_province", "_district")


@dataclass
class _Cursor:
    """Where the merge stands in one partition's file."""

    part: int
    table: StagedTable | None  # None: rows in memory, all in the buffer
    group: int = 0  # next row group to read
    buffer: pd.DataFrame | None = None

    def next_first(self) -> str | None:
        if self.table is None or self.group >= len(self.table.bounds):
            return None
        return self.table.bounds[self.group][0]


def _read_group(
    table: StagedTable, group: int, where: tuple[str, str] | None, geometry: str | None
) -> pd.DataFrame:
    """One row group as pandas (geometry decoded, lists back to tuples), rows of ``where``."""
    data = pq.ParquetFile(table.path).read_row_group(group)
    if where is not None:
        data = data.filter(pc.equal(data[where[0]], where[1]))
    frame = data.to_pandas()
    if geometry is not None and geometry in frame.columns:
        frame[geometry] = shapely.from_wkb(frame[geometry].to_numpy())
        frame = GeoDataFrame(frame, geometry=geometry, crs=LONLAT)
    for col in frame.columns:  # tuples (facility_types) come back from Parquet as arrays
        s = frame[col]
        if s.dtype == object and s.map(lambda v: isinstance(v, np.ndarray)).any():
            frame[col] = s.map(lambda v: tuple(v) if isinstance(v, np.ndarray) else v)
    return frame


def merged(
    tables: Sequence[StagedTable | pd.DataFrame],
    *,
    where: tuple[str, str] | None = None,
    geometry: str | None = None,
) -> Iterator[pd.DataFrame]:
    """The rows of sorted tables in one sorted order, chunk by chunk.

    Parameters
    ----------
    tables
        Staged tables (in partition order), or small frames already in memory with a ``_key``
        column (sorted by it), taking part as partitions in their place.
    where
        ``(column, value)``: only the rows whose helper column holds ``value``.
    geometry
        The name of the WKB geometry column to decode (None: no geometry).

    Yields
    ------
    pandas.DataFrame
        Consecutive chunks of the merged rows, with the ``_key`` column.
    """
    cursors: list[_Cursor] = []
    for i, t in enumerate(tables):
        if isinstance(t, pd.DataFrame):
            if where is not None:
                t = t[t[where[0]] == where[1]]
            order = np.argsort(t["_key"].to_numpy(dtype=object).astype(str), kind="stable")
            cursors.append(_Cursor(i, None, 0, t.iloc[order]))
        else:
            cursors.append(_Cursor(i, t))
    while True:
        firsts = [(f, c.part) for c in cursors if (f := c.next_first()) is not None]
        bound = min(firsts)[0] if firsts else None
        chunk = _emit(cursors, bound)
        if chunk is not None:
            yield chunk
            continue
        if bound is None:
            return
        cursor = cursors[min(firsts)[1]]
        assert cursor.table is not None  # it has a next row group
        group = _read_group(cursor.table, cursor.group, where, geometry)
        cursor.group += 1
        parts = [p for p in (cursor.buffer, group) if p is not None and len(p)]
        cursor.buffer = pd.concat(parts) if len(parts) > 1 else (parts[0] if parts else None)


def _emit(cursors: list[_Cursor], bound: str | None) -> pd.DataFrame | None:
    """The buffered rows with keys below ``bound`` (all with None), sorted; None when none."""
    pieces = []
    for c in cursors:
        buf = c.buffer
        if buf is None or not len(buf):
            continue
        below = np.ones(len(buf), bool) if bound is None else (buf["_key"] < bound).to_numpy()
        if not below.any():
            continue
        pieces.append((c.part, buf[below]))
        c.buffer = None if below.all() else buf[~below]
    if not pieces:
        return None
    if len(pieces) == 1:
        return pieces[0][1]
    frame = pd.concat([p for _, p in pieces])
    part = np.concatenate([np.full(len(p), i) for i, p in pieces])
    row = np.concatenate([np.arange(len(p)) for _, p in pieces])
    order = np.lexsort((row, part, frame["_key"].to_numpy(dtype=object).astype(str)))
    return frame.iloc[order]


def whole_schema(samples: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """An empty frame with the columns and types of the partitions' tables concatenated."""
    return pd.concat(list(samples)).iloc[:0]


def conform(chunk: pd.DataFrame, schema: pd.DataFrame) -> pd.DataFrame:
    """``chunk`` without the helper columns, in ``schema``'s columns and types."""
    out = chunk.drop(columns=[c for c in HELPER_COLUMNS if c in chunk.columns])
    if list(out.columns) != list(schema.columns):
        out = out.reindex(columns=schema.columns)
    for col in schema.columns:
        if out[col].dtype != schema[col].dtype:
            out[col] = out[col].astype(schema[col].dtype)
    if out.index.dtype != schema.index.dtype:
        out.index = out.index.astype(schema.index.dtype)
    if isinstance(schema, GeoDataFrame):
        out = GeoDataFrame(out, geometry=schema.geometry.name, crs=schema.crs)
    return out
