"""Residential projects (在建/规划小区) and the occupancy ramp that turns them into households.

A **projects layer** has one row per project, polygons (the site) or points, with

==================  =====================================================  ==================
canonical           Chinese / English aliases                              required
==================  =====================================================  ==================
planned_households  规划户数, 设计户数, 规划住户数, 总户数, planned            yes
occupied            已入住户数, 入住户数, 现状户数, occupied                   no (default 0)
occupancy_rate      入住率, occupancy_rate, occupancy                         no (instead of occupied)
completion_year     计划竣工年份, 竣工年份, 竣工年, completion_year, completion  yes
move_in_year        计划入住年份, 入住年份, 交付年份, move_in_year             no (default: completion)
project_id          项目编号, 项目编码, 项目代码, project_id, id              no (default: row)
name                项目名称, 小区名称, 名称, name                            no
==================  =====================================================  ==================

Households already living in a project (``occupied``, or ``occupancy_rate`` × planned) are
counted by today's households layer; a projection adds only the rest as they arrive.

The :class:`Ramp` says what share of a project's planned households live there at the end of
each year after move-in starts: the default, ``Ramp.linear(3)``, is 1/3, 2/3, 3/3 — planned
households arrive linearly over the three years from completion (move-in year when given).
``Ramp.step()`` moves everybody in at once; ``Ramp((0.4, 0.7, 0.9, 1.0))`` any other curve.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap._errors import InputError, Problem
from gridmap.columns import clean_counts, clean_numbers
from gridmap.config import read_toml
from gridmap.io import read_layer

__all__ = [
    "Ramp",
    "read_projects",
    "prepare_projects",
    "PROJECT_ALIASES",
    "arrivals",
    "config_projects",
    "forecast_years",
    "FORECAST_SPAN",
]

#: formats read as tables (CSV, Excel): rows are named as Excel numbers them
_TABLE_FORMATS = ("csv", "xlsx", "xls")

#: most years a forecast looks ahead of the base year when no years are given
FORECAST_SPAN = 10

#: canonical column → accepted source names (matched ignoring case, spaces and punctuation)
PROJECT_ALIASES: dict[str, tuple[str, ...]] = {
    "project_id": ("project_id", "项目编号", "项目编码", "项目代码", "编号", "id", "code"),
    "name": ("name", "项目名称", "小区名称", "楼盘名称", "名称"),
    "planned_households": (
        "planned_households",
        "planned",
        "规划户数",
        "设计户数",
        "规划住户数",
        "计划户数",
        "总户数",
        "户数",
    ),
    "occupied": ("occupied", "occupied_households", "已入住户数", "入住户数", "现状户数"),
    "occupancy_rate": ("occupancy_rate", "occupancy", "入住率", "已入住率"),
    "completion_year": (
        "completion_year",
        "completion",
        "计划竣工年份",
        "竣工年份",
        "竣工年",
        "计划竣工年",
        "竣工时间",
    ),
    "move_in_year": ("move_in_year", "计划入住年份", "入住年份", "交付年份", "计划交付年份"),
}
_STRIP = re.compile(r"[\s_\-—·/\\()（）\[\]【】:：]+")
_YEAR = re.compile(r"(1[89]\d\d|2\d\d\d)")


def _norm(name: object) -> str:
    return _STRIP.sub("", unicodedata.normalize("NFKC", str(name)).casefold())


@dataclass(frozen=True)
class Ramp:
    """Share of a project's planned households living there at the end of each year of move-in.

    ``fractions[k]`` is the share at the end of year ``start + k`` (start: move-in year, else
    completion year); 1 from the last on. Non-decreasing, in (0, 1], ending at 1.

    Examples
    --------
    >>> Ramp.linear(4).fractions
    (0.25, 0.5, 0.75, 1.0)
    >>> Ramp.linear(2).share(np.array([2026, 2027, 2028, 2030]), 2027).tolist()
    [0.0, 0.5, 1.0, 1.0]
    """

    fractions: tuple[float, ...] = (1 / 3, 2 / 3, 1.0)

    def __post_init__(self) -> None:
        f = tuple(float(x) for x in self.fractions)
        if not f or f[-1] != 1.0 or any(b < a for a, b in zip(f, f[1:], strict=False)) or f[0] <= 0:
            raise ValueError(
                f"ramp= fractions must rise to 1 and be in (0, 1] (got {list(self.fractions)})"
            )
        object.__setattr__(self, "fractions", f)

    @classmethod
    def linear(cls, years: int = 3) -> Ramp:
        """Planned households arrive in equal parts over ``years`` years."""
        if int(years) < 1:
            raise ValueError(f"ramp_years= must be at least 1 (got {years})")
        return cls(tuple((k + 1) / int(years) for k in range(int(years))))

    @classmethod
    def step(cls) -> Ramp:
        """Everybody moves in during the first year."""
        return cls((1.0,))

    def share(self, year: Any, start: Any) -> np.ndarray:
        """Share moved in by the end of ``year`` for projects whose move-in starts in ``start``."""
        k = np.asarray(year, dtype=float) - np.asarray(start, dtype=float)
        f = np.asarray(self.fractions)
        idx = np.clip(np.nan_to_num(k, nan=-1).astype(int), -1, len(f) - 1)
        return np.where(k < 0, 0.0, f[np.maximum(idx, 0)])


def _find(columns: Sequence[str], mapping: dict[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    norm = {_norm(c): c for c in columns}
    for canonical, names in PROJECT_ALIASES.items():
        if canonical in mapping:
            found[canonical] = mapping[canonical]
            continue
        for n in names:
            if _norm(n) in norm:
                found[canonical] = norm[_norm(n)]
                break
    return found


def _years(values: pd.Series) -> tuple[pd.Series, list[Any]]:
    out = []
    bad = []
    for label, v in values.items():
        m = (
            _YEAR.search(str(v))
            if v is not None and not (isinstance(v, float) and np.isnan(v))
            else None
        )
        if m is None:
            out.append(np.nan)
            if v is not None and str(v).strip() not in ("", "nan", "None"):
                bad.append(label)
        else:
            out.append(float(m.group(1)))
    return pd.Series(out, index=values.index, dtype="float64"), bad


def _column_problems(raw: GeoDataFrame, found: dict[str, str], source: str) -> list[Problem]:
    """Required columns the layer lacks, and mapped columns it does not have."""
    problems: list[Problem] = []
    for need, zh in (("planned_households", "规划户数"), ("completion_year", "计划竣工年份")):
        if need not in found:
            problems.append(
                Problem(
                    "error",
                    "projects.column_missing",
                    f"项目图层缺少列 {zh}（{need}）；现有列：{', '.join(map(str, raw.columns))}",
                    fix=f'用 mapping={{"{need}": "源列名"}} 指明，或把列改名为 {zh}',
                    param="mapping",
                    file=source,
                    layer="projects",
                )
            )
    for col in found.values():
        if col not in raw.columns:
            problems.append(
                Problem(
                    "error",
                    "projects.column_missing",
                    f"项目图层没有列 {col!r}",
                    file=source,
                    layer="projects",
                )
            )
    return problems


def _row_problems(
    raw: GeoDataFrame,
    found: dict[str, str],
    *,
    ids: pd.Index,
    planned: pd.Series,
    occupied: pd.Series,
    completion: pd.Series,
    unreadable: list,
    bad_years: list,
    bad_move: list,
) -> list[tuple[Any, str, Any]]:
    """``(row label, reason, value)`` for every unusable project row."""
    bad = unreadable
    out_index = ids
    rows = [(label, "数值无法识别", value) for label, value, _ in bad]
    rows += [
        (label, "年份无法识别", raw.at[label, found["completion_year"]]) for label in bad_years
    ]
    rows += [(label, "年份无法识别", raw.at[label, found["move_in_year"]]) for label in bad_move]
    seen = {label for label, _, _ in rows}  # an unreadable value is not reported missing too
    rows += [
        (label, "缺少规划户数", None)
        for label in planned.index[planned.isna()]
        if label not in seen
    ]
    rows += [
        (label, "缺少竣工年份", None)
        for label in completion.index[completion.isna()]
        if label not in seen
    ]
    rows += [
        (label, "已入住户数超过规划户数", occupied[label])
        for label in occupied.index[(occupied > planned).fillna(False)]
    ]
    rows += [
        (label, "缺少几何", None)
        for label in raw.index[raw.geometry.isna() | raw.geometry.is_empty]
    ]
    if out_index.duplicated().any():
        rows += [
            (label, "项目编号重复", out_index[k])
            for k, label in enumerate(raw.index)
            if out_index.duplicated()[k]
        ]
    return rows


def _source_row(raw: GeoDataFrame, label: Any) -> Any:
    """The row of ``label`` as the planner finds it in the file the layer was read from.

    In a CSV or Excel table the row number Excel shows (the header is row 1, the first data
    row 2); in a GIS layer the 1-based record number (a GeoPackage's fid, QGIS's row); in a
    GeoDataFrame not read from a file the record number too when its labels are integers (as
    the study's validation numbers them), else the label itself.

    Parameters
    ----------
    raw
        The layer as :func:`gridmap.io.read_layer` read it (``attrs["source"]["format"]``).
    label
        A row label of ``raw``.

    Returns
    -------
    int or object
    """
    fmt = (raw.attrs.get("source") or {}).get("format")
    pos = raw.index.get_loc(label)
    if not isinstance(pos, int) or (fmt is None and not isinstance(label, (int, np.integer))):
        return label
    return pos + (2 if fmt in _TABLE_FORMATS else 1)


def _row_text(raw: GeoDataFrame, label: Any) -> str:
    """``表格第 N 行`` in a table, ``第 N 条记录`` in a GIS layer, ``行 label`` otherwise."""
    row = _source_row(raw, label)
    fmt = (raw.attrs.get("source") or {}).get("format")
    if fmt in _TABLE_FORMATS:
        return f"表格第 {row} 行"
    return f"第 {row} 条记录" if isinstance(row, int) else f"行 {row}"


def prepare_projects(
    raw: GeoDataFrame, *, mapping: dict[str, str] | None = None, source: str = "projects"
) -> GeoDataFrame:
    """Canonical columns of a projects layer (module docs), validated.

    Returns a GeoDataFrame indexed by ``project_id`` with ``name``, ``planned_households``,
    ``occupied`` (households living there today), ``completion_year``, ``start_year`` (move-in
    year, else completion year) and geometry.

    Raises
    ------
    InputError
        Listing every problem (missing columns, unreadable counts or years, more occupied than
        planned, missing geometry).
    """
    found = _find([str(c) for c in raw.columns if c != raw.geometry.name], dict(mapping or {}))
    problems = _column_problems(raw, found, source)
    if problems:
        raise InputError(problems)
    out = GeoDataFrame(geometry=raw.geometry.to_numpy(), crs=raw.crs)
    ids = raw[found["project_id"]].astype(str) if "project_id" in found else None
    out.index = pd.Index(
        ids.to_numpy() if ids is not None else [f"P{i + 1}" for i in range(len(raw))],
        name="project_id",
    )
    out["name"] = raw[found["name"]].astype(str).to_numpy() if "name" in found else out.index
    planned, bad = clean_counts(raw[found["planned_households"]])
    occupied = pd.Series(0.0, index=raw.index)
    if "occupied" in found:
        occupied, bad_occ = clean_counts(raw[found["occupied"]])
        bad += [b for b in bad_occ if str(b[1]).strip() not in ("", "nan", "None")]
        occupied = occupied.fillna(0.0)
    elif "occupancy_rate" in found:
        rate, bad_rate = clean_numbers(raw[found["occupancy_rate"]], rate=True)
        bad += [b for b in bad_rate if str(b[1]).strip() not in ("", "nan", "None")]
        occupied = (rate.fillna(0.0).clip(0, 1) * planned).round()
    completion, bad_years = _years(raw[found["completion_year"]])
    move_in, bad_move = (
        _years(raw[found["move_in_year"]]) if "move_in_year" in found else (completion, [])
    )
    rows = _row_problems(
        raw,
        found,
        ids=out.index,
        planned=planned,
        occupied=occupied,
        completion=completion,
        unreadable=bad,
        bad_years=bad_years,
        bad_move=bad_move,
    )
    if rows:
        raise InputError(
            [
                Problem(
                    "error",
                    "projects.value",
                    f"项目 {out.index[raw.index.get_loc(label)]}"
                    f"（{_row_text(raw, label)}）：{reason}"
                    + (f"（{value}）" if value is not None else ""),
                    fix="在项目表中修正该行",
                    row=_source_row(raw, label),
                    file=source,
                    layer=str((raw.attrs.get("source") or {}).get("layer") or "projects"),
                )
                for label, reason, value in rows
            ]
        )
    out["planned_households"] = planned.to_numpy()
    out["occupied"] = occupied.to_numpy()
    out["completion_year"] = completion.astype(int).to_numpy()
    out["start_year"] = move_in.fillna(completion).astype(int).to_numpy()
    return out


def read_projects(
    path: str | os.PathLike | GeoDataFrame,
    *,
    crs: Any = None,
    layer: str | None = None,
    mapping: dict[str, str] | None = None,
) -> GeoDataFrame:
    """Read and validate a projects layer (a GIS file, a table with coordinates, or a GeoDataFrame).

    Parameters
    ----------
    path
        A file (``file.gpkg:图层`` picks a layer) or a GeoDataFrame.
    crs
        The layer's CRS when the file does not say.
    layer
        The layer to read.
    mapping
        ``{canonical: source column}`` where the aliases do not find a column.
    """
    if isinstance(path, GeoDataFrame):
        return prepare_projects(path, mapping=mapping, source="(GeoDataFrame)")
    text = str(path)
    if layer is None and ":" in text and not os.path.exists(text):
        text, layer = text.rsplit(":", 1)
    raw = read_layer(text, layer=layer, crs=crs)
    return prepare_projects(raw, mapping=mapping, source=text)


def arrivals(projects: GeoDataFrame, year: int, *, base_year: int, ramp: Ramp) -> np.ndarray:
    """Households of each project that arrived after ``base_year`` and live there by ``year``.

    Today's occupants are in today's households. The rest (planned − occupied) arrive as the
    ramp goes on from ``base_year``: ``remaining × (r(year) − r(base)) / (1 − r(base))`` rounded,
    where ``r`` is the ramp's share; a project whose ramp is over but which is not full yet
    fills in the year after ``base_year``. Zero at or before ``base_year``; ``remaining`` once
    the ramp is complete, so households are conserved.

    Examples
    --------
    >>> from shapely import Point
    >>> p = GeoDataFrame({"planned_households": [900.0], "occupied": [0.0],
    ...                   "start_year": [2027]}, geometry=[Point(0, 0)], crs=4549)
    >>> [int(arrivals(p, y, base_year=2025, ramp=Ramp.linear(3))[0]) for y in range(2025, 2031)]
    [0, 0, 300, 600, 900, 900]
    """
    planned = projects["planned_households"].to_numpy(dtype=float)
    occupied = projects["occupied"].to_numpy(dtype=float)
    start = projects["start_year"].to_numpy(dtype=float)
    remaining = np.maximum(planned - occupied, 0.0)
    if year <= base_year:
        return np.zeros(len(projects), dtype=np.int64)
    r_base = ramp.share(base_year, start)
    r_year = ramp.share(year, start)
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(r_base < 1.0, (r_year - r_base) / (1.0 - r_base), 1.0)
    return np.floor(remaining * np.clip(part, 0.0, 1.0) + 0.5).astype(np.int64)


def config_projects(config: str | os.PathLike) -> str | None:
    """The projects layer a study's ``gridmap.toml`` names (``[study] projects``), else None.

    A relative path is relative to the config's folder, as the layers' paths are; a layer
    after a ``:`` is kept (``demo.gpkg:在建项目`` → ``/…/demo.gpkg:在建项目``).

    Parameters
    ----------
    config
        The ``gridmap.toml``.

    Returns
    -------
    str or None
        What :func:`read_projects` reads.
    """
    value = read_toml(Path(config)).get("study", {}).get("projects")
    if not value:
        return None
    path = Path(str(value))
    return str(path if path.is_absolute() else Path(config).resolve().parent / path)


def forecast_years(
    projects: GeoDataFrame, base_year: int, ramp: Ramp | None = None, *, span: int = FORECAST_SPAN
) -> list[int]:
    """The years a forecast covers when none are asked for: from the base year until full.

    Until the year after the last project's ramp ends, at least one year after the base year
    and at most ``span`` years.

    Parameters
    ----------
    projects
        From :func:`read_projects`.
    base_year
        The year of today's data.
    ramp
        The occupancy ramp (default :meth:`Ramp.linear` over 3 years).
    span
        Most years ahead of ``base_year``.

    Returns
    -------
    list of int
        ``base_year`` first.

    Examples
    --------
    >>> from shapely import Point
    >>> p = GeoDataFrame({"start_year": [2026, 2028]}, geometry=[Point(0, 0)] * 2)
    >>> forecast_years(p, 2025)
    [2025, 2026, 2027, 2028, 2029, 2030, 2031]
    >>> forecast_years(p, 2025, Ramp.step(), span=2)
    [2025, 2026, 2027]
    """
    ramp = ramp or Ramp.linear(3)
    start = pd.to_numeric(projects["start_year"], errors="coerce").max()
    filled = int(start) + len(ramp.fractions) if pd.notna(start) else 0
    last = min(base_year + span, max(filled, base_year + 1))
    return list(range(base_year, last + 1))
