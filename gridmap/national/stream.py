"""Write a national check's outputs from the staged partitions, one chunk at a time.

:func:`write_staged` is the client's half of a national run out of core: the workers staged
the rows they own (:mod:`gridmap.national.stage`); this writes the contract outputs of
:meth:`gridmap.national.NationalResult.to_dir` from them — ``communities.csv``, ``grids.csv``,
``findings.csv``, ``problems.csv``, ``summary.json``, ``result.gpkg``, ``partitions.csv``,
``national/`` and ``provinces/{code}.gpkg`` — with the same bytes and rows, holding a few row
groups of one table (:func:`gridmap.national.merge.merged`) and small tables (the study-level
findings, the status and household columns the summary counts), never the whole.

Every chunk is written by the single-machine check's own writers: a chunk of the whole table
(in its column types, :func:`~gridmap.national.merge.conform`) becomes a
:class:`gridmap.CheckResult` whose ``communities_table()``/``grids_table()`` and ``to_gpkg``
format it; the CSV rows are appended after the first chunk's header, the GeoPackage layers
copied into the output through Arrow. Where the whole table's choice of a column's type
depends on every row (a column of whole numbers is written without ``.0``), it is decided on
the partitions' summaries (:attr:`~gridmap.national.stage.StagedTable.integral`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyproj
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path
from gridmap._errors import Problem
from gridmap.check import CheckResult
from gridmap.io.csv_out import write_csv
from gridmap.io.gpkg import sync_file
from gridmap.national.export import id_table, write_district
from gridmap.national.merge import conform, merged, whole_schema
from gridmap.national.partition import PartitionPlan
from gridmap.national.result import (
    _unique_problems,
    merge_findings,
    national_summary,
    partitions_table,
)
from gridmap.national.source import LONLAT
from gridmap.national.stage import StagedPartition, StagedTable, finding_keys
from gridmap.rules import FINDING_COLUMNS, Profile
from gridmap.study import Study

__all__ = ["write_staged", "NationalOutput"]

_UNITS = ("communities", "grids")
#: rows written at once (merged chunks are put together up to this): each write of a
#: GeoPackage chunk costs ~0.1 s whatever its size
WRITE_ROWS = 20_000
_PROBLEM_COLUMNS = ["severity", "code", "message", "fix", "file", "layer", "column", "row"]


@dataclass
class NationalOutput:
    """A national check written into its output folder (what ``check_national(out=…)`` returns).

    The tables stay on disk: :func:`gridmap.national.read_check_dir` reads them back
    (``communities.csv`` …), ``national/`` holds them with geometry as GeoParquet.

    Attributes
    ----------
    folder
        The output folder.
    written
        Output name → path.
    partitions, households, problems, plan
        As :class:`~gridmap.national.NationalResult`.
    """

    name: str
    profile: Profile
    plan: PartitionPlan
    folder: Path
    partitions: pd.DataFrame
    households: pd.DataFrame | None
    problems: list[Problem]
    written: dict[str, Path] = field(default_factory=dict)
    check_summary: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """:meth:`gridmap.national.NationalResult.summary` of the run (engine, partitions…)."""
        return national_summary(self.check_summary, self.plan, self.partitions)


def _result(profile: Profile, name: str, **tables: Any) -> CheckResult:
    """A :class:`gridmap.CheckResult` of some tables (a chunk, or the summary's columns)."""
    comms = tables["communities"]
    study = Study(communities=comms, crs=pyproj.CRS(LONLAT), grids=tables.get("grids"), name=name)
    return CheckResult(
        study=replace(study, profile=profile.id),
        profile=profile,
        communities=comms,
        grids=tables.get("grids"),
        findings=tables["findings"],
        households=tables.get("households"),
        facilities=None,
        problems=tables.get("problems", []),
    )


class _Csv:
    """A CSV written chunk by chunk by :func:`gridmap.io.csv_out.write_csv`: one header."""

    def __init__(self, path: Path) -> None:
        self.path, self.started = path, False

    def write(self, frame: pd.DataFrame) -> None:
        with open(self.path, "ab" if self.started else "wb") as fh:
            write_csv(frame, fh, header=not self.started)
        self.started = True


def _whole_layer_type(types: set[str] | None) -> str | None:
    """The multi type a layer mixing single and multi geometries is declared as, else None.

    What the GeoPackage writer does to a layer of polygons and multipolygons written at once
    (it declares and writes multipolygons); a chunk holding only polygons would not know.
    """
    single = [t for t in types or () if not t.startswith("Multi")]
    if types is None or len(types) != 2 or len(single) != 1 or f"Multi{single[0]}" not in types:
        return None
    return f"Multi{single[0]}"


class _Gpkg:
    """A GeoPackage written layer by layer, chunk by chunk, by ``CheckResult.to_gpkg``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.layers: set[str] = set()

    def write(self, layer: str, result: CheckResult, types: set[str] | None = None) -> None:
        kind = _whole_layer_type(types) if layer in ("communities", "grids") else None
        result.to_gpkg(
            self.path,
            layers=[layer],
            append=True,
            geometry_types={layer: kind} if kind else None,
            sync=False,
        )
        self.layers.add(layer)

    def finish(self) -> None:
        """Flush the file to disk once, after its last chunk (each chunk is not synced)."""
        if self.layers:
            sync_file(self.path)


@dataclass
class _Table:
    """What the writer knows of one whole table before reading it."""

    kind: str
    staged: list[Any]  # StagedTable per partition, or frames in memory (the study findings)
    schema: pd.DataFrame
    ints: set[str]  # float columns the whole table writes as whole numbers
    floats: set[str]  # float columns it writes as floats

    def types(self, province: str | None = None) -> set[str]:
        """The geometry types of the whole table's rows (of one province)."""
        out: set[str] = set()
        for t in self.staged:
            if isinstance(t, StagedTable):
                for prov, kinds in t.geom_types.items():
                    if province is None or prov == province:
                        out |= kinds
        return out

    def chunks(self, where: tuple[str, str] | None = None) -> Iterator[pd.DataFrame]:
        geometry = self.schema.geometry.name if isinstance(self.schema, GeoDataFrame) else None
        held: list[pd.DataFrame] = []
        for chunk in merged(self.staged, where=where, geometry=geometry):
            held.append(conform(chunk, self.schema))
            if sum(map(len, held)) >= WRITE_ROWS:
                yield pd.concat(held) if len(held) > 1 else held[0]
                held = []
        if held:
            yield pd.concat(held) if len(held) > 1 else held[0]


def _unit_table(kind: str, parts: list[StagedPartition]) -> _Table:
    tables = [p.tables[kind] for p in parts]
    schema = whole_schema([t.sample for t in tables])
    ints: set[str] = set()
    floats: set[str] = set()
    for col in schema.columns:
        if not pd.api.types.is_float_dtype(schema[col].dtype):
            continue
        flags = [t.integral[col] for t in tables if col in t.integral and t.integral[col][0]]
        (ints if flags and all(f[1] for f in flags) else floats).add(str(col))
    return _Table(kind, tables, schema, ints, floats)


def _csv_table(table: _Table, chunk: pd.DataFrame, profile: Profile, empty: dict) -> pd.DataFrame:
    """The chunk's rows of ``communities.csv``/``grids.csv``, typed as the whole table's."""
    result = _result(profile, "", **{**empty, table.kind: chunk})
    out = result.communities_table() if table.kind == "communities" else result.grids_table()
    assert out is not None
    for col in table.ints & set(out.columns):
        if str(out[col].dtype) != "Int64":
            out[col] = out[col].astype("Int64")  # no value here: the whole writes integers
    for col in table.floats & set(out.columns):
        if str(out[col].dtype) == "Int64":
            out[col] = out[col].astype("float64")  # whole numbers here, not in the whole
    return out


def _summary_columns(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The columns :meth:`gridmap.CheckResult.summary` counts (all of a community's if unsure)."""
    keep = {
        "communities": ["status", "households", "size_status"],
        "grids": ["status", "households"],
        "findings": ["rule_id", "status"],
    }[kind]
    if kind == "communities" and "size_status" not in frame.columns:
        geometry = frame.geometry.name if isinstance(frame, GeoDataFrame) else None
        keep = [c for c in frame.columns if c != geometry]
    cols = [c for c in keep if c in frame.columns]
    return pd.DataFrame(frame[cols]).reset_index(drop=True)


def _write_units(
    table: _Table, outs: dict[str, Any], profile: Profile, empty: dict
) -> pd.DataFrame:
    """``{kind}.csv`` and the layer of ``result.gpkg``; the columns the summary counts."""
    counted = []
    for chunk in table.chunks():
        outs["csv"].write(_csv_table(table, chunk, profile, empty))
        result = _result(profile, "", **{**empty, table.kind: chunk})
        outs["gpkg"].write(table.kind, result, table.types())
        counted.append(_summary_columns(chunk, table.kind))
    if table.kind not in outs["gpkg"].layers:  # an empty table: its header and empty layer
        outs["csv"].write(_csv_table(table, table.schema, profile, empty))
        outs["gpkg"].write(table.kind, _result(profile, "", **empty))
    return (
        pd.concat(counted, ignore_index=True)
        if counted
        else _summary_columns(table.schema, table.kind)
    )


def _findings_table(parts: list[StagedPartition], profile: Profile) -> _Table:
    """The findings: each partition's staged file, then the study-level rows (merged, small)."""
    small = merge_findings([p.study_findings for p in parts], [p.gap_lonlat for p in parts])
    samples = [p.tables["findings"].sample for p in parts]
    schema = whole_schema([*samples, small])[FINDING_COLUMNS]
    small = small.assign(
        _key=finding_keys(small, profile).to_numpy(),
        _province=small["unit_id"].astype(str).str[:2].to_numpy(),
    )
    return _Table("findings", [*(p.tables["findings"] for p in parts), small], schema, set(), set())


def _write_findings(
    table: _Table, outs: dict[str, Any], profile: Profile, empty: dict
) -> pd.DataFrame:
    counted = []
    for chunk in table.chunks():
        outs["csv"].write(chunk[FINDING_COLUMNS])
        outs["gpkg"].write("findings", _result(profile, "", **{**empty, "findings": chunk}))
        counted.append(_summary_columns(chunk, "findings"))
    if "findings" not in outs["gpkg"].layers:
        outs["csv"].write(table.schema)
        outs["gpkg"].write("findings", _result(profile, "", **empty))
    return (
        pd.concat(counted, ignore_index=True)
        if counted
        else _summary_columns(table.schema, "findings")
    )


def _only(table: _Table, column: str, value: str) -> _Table:
    """``table`` restricted to the partitions holding ``value`` in ``column`` (and in memory)."""
    staged = [t for t in table.staged if isinstance(t, pd.DataFrame) or value in t.regions[column]]
    return replace(table, staged=staged)


def _write_national(tables: dict[str, _Table], folder: Path) -> dict[str, Path]:
    """``national/``: per district, its rows of every partition (as ``write_partitioned``)."""
    written = {}
    for kind in _UNITS:
        if kind not in tables:
            continue
        table = tables[kind]
        districts = sorted(set().union(*(t.regions["district"] for t in table.staged)))
        for district in districts:
            part = _only(table, "district", district)
            rows = list(part.chunks(("_district", district)))
            units = pd.concat(rows) if len(rows) > 1 else rows[0]
            write_district(id_table(units, kind), kind, district, folder)
        written[f"national/{kind}"] = folder / kind
    return written


def _write_provinces(
    tables: dict[str, _Table], folder: Path, profile: Profile, empty: dict
) -> dict[str, Path]:
    """``provinces/{code}.gpkg``: the layers of ``result.gpkg``, the rows of one province."""
    written = {}
    codes = sorted(set().union(*(t.regions["province"] for t in tables["communities"].staged)))
    for code in codes:
        path = folder / f"{code}.gpkg"
        with atomic_path(path, suffix=".gpkg") as tmp:
            gpkg = _Gpkg(Path(tmp))
            for kind in ("communities", "grids", "findings"):
                if kind not in tables:
                    continue
                for chunk in _only(tables[kind], "province", code).chunks(("_province", code)):
                    result = _result(profile, "", **{**empty, kind: chunk})
                    gpkg.write(kind, result, tables[kind].types(code))
                if kind not in gpkg.layers:
                    gpkg.write(kind, _result(profile, "", **empty))
            gpkg.finish()
        written[f"provinces/{path.name}"] = path
    return written


def write_staged(
    parts: list[StagedPartition],
    plan: PartitionPlan,
    profile: Profile,
    *,
    name: str,
    out: Path,
    final: Path | None = None,
) -> NationalOutput:
    """Write the outputs of a national check from its staged partitions into ``out``.

    Parameters
    ----------
    parts
        One :class:`~gridmap.national.stage.StagedPartition` per partition of ``plan``.
    plan, profile
        The partitions and the rule profile of the run.
    name
        The study name.
    out
        Where to write (a stage of :func:`gridmap._atomic.staged_dir` or the folder itself).
    final
        The folder the files end up in (``out`` by default), for the paths returned.

    Returns
    -------
    NationalOutput
    """
    parts = sorted(parts, key=lambda p: p.key)
    final = final or out
    tables = {"communities": _unit_table("communities", parts)}
    if all("grids" in p.tables for p in parts):
        tables["grids"] = _unit_table("grids", parts)
    tables["findings"] = _findings_table(parts, profile)
    empty = {k: t.schema for k, t in tables.items()}
    households = None
    if all(p.households is not None for p in parts):
        households = pd.concat(
            [p.households.assign(partition=p.key) for p in parts if p.households is not None],
            ignore_index=True,
        )
    problems = _unique_problems(parts)
    counted: dict[str, Any] = {}
    gpkg = _Gpkg(out / "result.gpkg")
    for kind, table in tables.items():
        outs = {"csv": _Csv(out / f"{kind}.csv"), "gpkg": gpkg}
        write = _write_findings if kind == "findings" else _write_units
        counted[kind] = write(table, outs, profile, empty)
    gpkg.finish()
    written = _write_provinces(tables, out / "provinces", profile, empty)
    written |= _write_national(tables, out / "national")
    problem_rows = pd.DataFrame(
        [p.to_dict() for p in problems], columns=[*_PROBLEM_COLUMNS, "extra"]
    )
    write_csv(problem_rows.drop(columns="extra"), out / "problems.csv")
    whole = _result(profile, name, **counted, households=households, problems=problems)
    summary = whole.summary()
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    partitions = partitions_table(
        (p.key, p.crs, p.epsg, p.communities, p.grids, p.stats) for p in parts
    )
    partitions.to_csv(out / "partitions.csv", index=False, encoding="utf-8-sig")
    names = ["communities.csv", "findings.csv", "problems.csv", "summary.json", "result.gpkg"]
    names += ["partitions.csv", *(["grids.csv"] if "grids" in tables else [])]
    written |= {n: out / n for n in names}
    written = {k: final / v.relative_to(out) for k, v in written.items()}
    return NationalOutput(
        name=name,
        profile=profile,
        plan=plan,
        folder=final,
        partitions=partitions,
        households=households,
        problems=problems,
        written=written,
        check_summary=summary,
    )
