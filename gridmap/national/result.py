"""The national result: the partitions' owned rows put together, and its contract outputs.

:func:`combine` concatenates what every partition owns (no row is owned twice, see
:mod:`gridmap.national.partition`) and merges the study-level household findings
(``qa.households.outside_grids``, ``qa.households.unassigned``: one row per study, counting
records and households) by adding their numbers. Gaps between communities
(``qa.community.gap``, ``gap-1`` …) are found by every partition whose window holds them, kept
by one and numbered over the whole by :func:`number_gaps` (south to north, then west to east),
so their ids do not depend on how the country was partitioned. :meth:`NationalResult.check_result` is a
:class:`gridmap.CheckResult` of the whole, so summaries and files are written by the same code
as a single-machine check; :meth:`NationalResult.to_dir` adds ``partitions.csv`` (the metric
CRS each partition was checked in, rows, seconds, worker).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
from geopandas import GeoDataFrame

from gridmap._atomic import atomic_path
from gridmap._errors import Problem
from gridmap.check import CheckResult
from gridmap.national.export import write_partitioned, write_province_gpkgs
from gridmap.national.partition import PartitionPlan
from gridmap.national.source import LONLAT
from gridmap.national.worker import PartitionOutput
from gridmap.qa import HOUSEHOLD_RULES, assignment_qa, number_gaps
from gridmap.rules import FINDING_COLUMNS, Profile
from gridmap.study import Study

__all__ = [
    "NationalResult",
    "combine",
    "GAP_RULE",
    "merge_findings",
    "ordered_findings",
    "partitions_table",
    "national_summary",
]

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
#: the finding on a gap between communities (a study-level row per gap, ``gap-<n>``)
GAP_RULE = "qa.community.gap"


@dataclass
class NationalResult:
    """A national check: communities, grids and findings of every partition, once each.

    Attributes
    ----------
    communities, grids
        Every unit with its metrics and status, in longitude/latitude (EPSG:4490), by id.
    findings
        Rule and QA findings, in the columns of :data:`gridmap.rules.FINDING_COLUMNS`.
    households
        Household records summed per partition and state (``partition``, ``in_grid``,
        ``in_community``, ``households``, ``records``); None without a households layer.
    partitions
        One row per partition: ``partition``, ``metric_crs``, ``epsg``, ``communities``,
        ``grids``, rows read per layer, ``seconds``, ``cpu_s``, ``worker``.
    """

    name: str
    profile: Profile
    plan: PartitionPlan
    communities: GeoDataFrame
    grids: GeoDataFrame | None
    findings: pd.DataFrame
    households: pd.DataFrame | None
    partitions: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)

    def check_result(self) -> CheckResult:
        """The whole as a :class:`gridmap.CheckResult` (its tables, summary and files)."""
        study = Study(
            communities=self.communities,
            crs=pyproj.CRS(LONLAT),
            grids=self.grids,
            name=self.name,
            profile=self.profile.id,
        )
        return CheckResult(
            study=study,
            profile=self.profile,
            communities=self.communities,
            grids=self.grids,
            findings=self.findings,
            households=self.households,
            facilities=None,
            problems=self.problems,
        )

    def summary(self) -> dict:
        """:meth:`gridmap.CheckResult.summary` plus the engine, partitions and their CRSs."""
        return national_summary(self.check_result().summary(), self.plan, self.partitions)

    def to_dir(self, out: str | os.PathLike) -> dict[str, Path]:
        """Write the outputs of a check, the partitions and the national layers into ``out``.

        The contract outputs of :meth:`gridmap.CheckResult.to_dir` (``communities.csv`` …
        ``result.gpkg``), ``partitions.csv`` (the metric CRS of each partition), ``national/``
        (communities and grids as hive-partitioned GeoParquet, per district) and
        ``provinces/{code}.gpkg`` (one GeoPackage per province).
        """
        whole = self.check_result()
        written = whole.to_dir(out)
        path = Path(out) / "partitions.csv"
        with atomic_path(path, suffix=".csv") as tmp:
            self.partitions.to_csv(tmp, index=False, encoding="utf-8-sig")
        written["partitions.csv"] = path
        for kind, folder in write_partitioned(whole, Path(out) / "national").items():
            written[f"national/{kind}"] = folder
        for name, gpkg in write_province_gpkgs(whole, Path(out) / "provinces").items():
            written[f"provinces/{name}"] = gpkg
        return written


def _number_formats(rule_id: str) -> list[bool]:
    """Per number in a study-level household message: whether it is written with ``,``.

    Read off the message :func:`gridmap.qa.assignment_qa` writes for 1 000 records of
    1 000 households each, so the merged message has the same form as its own.
    """
    probe = pd.DataFrame(
        {
            "households": [1000] * 1000,
            "grid_id": [None] * 1000,
            "community_id": [None if rule_id == "qa.households.unassigned" else "c"] * 1000,
        }
    )
    rows = assignment_qa(probe, True, None, None)
    message = str(rows.loc[rows["rule_id"] == rule_id, "message"].iloc[0])
    return ["," in t for t in _NUMBER.findall(message)]


def _renumber(message: str, numbers: list[float], commas: list[bool]) -> str:
    """``message`` with its numbers replaced by ``numbers`` (with ``,`` where ``commas`` says)."""
    it = iter(zip(numbers, commas, strict=True))

    def one(_match: re.Match) -> str:
        value, comma = next(it)
        return f"{int(value):,}" if comma else str(int(value))

    return _NUMBER.sub(one, message)


def _merge_study_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per study-level household rule: values, gaps and the message's numbers added."""
    merged = []
    for rule_id, group in rows.groupby("rule_id", sort=False):
        first = group.iloc[0].copy()
        tokens = [
            [float(t.replace(",", "")) for t in _NUMBER.findall(str(m))] for m in group["message"]
        ]
        sums = [sum(col) for col in zip(*tokens, strict=True)]
        first["message"] = _renumber(str(first["message"]), sums, _number_formats(str(rule_id)))
        first["value"] = float(group["value"].sum())
        first["gap"] = float(group["gap"].sum())
        merged.append(first)
    return pd.DataFrame(merged, columns=rows.columns)


def _finding_order(findings: pd.DataFrame, profile: Profile) -> np.ndarray:
    """Positions of the findings in national order (a stable sort: ties keep their order).

    Rule findings in profile order, then QA findings by rule; units by id.
    """
    rank = {r.id: i for i, r in enumerate(profile.rules)}
    key = pd.DataFrame(
        {
            "qa": findings["rule_id"].str.startswith("qa.").to_numpy(),
            "level": findings["level"].map({"community": 0, "grid": 1}).fillna(2).to_numpy(),
            "rule": findings["rule_id"].map(rank).fillna(len(rank)).to_numpy(dtype=int),
            "rule_id": findings["rule_id"].to_numpy(),
            "unit": findings["unit_id"].astype(str).to_numpy(),
        }
    )
    return key.sort_values(
        ["qa", "level", "rule", "rule_id", "unit"], kind="stable"
    ).index.to_numpy()


def national_summary(summary: dict, plan: PartitionPlan, partitions: pd.DataFrame) -> dict:
    """A check's summary of the whole plus the engine, partitions and their CRSs."""
    out = dict(summary)
    out.pop("timings_s", None)
    out["engine"] = "dask"
    out["partition_by"] = plan.by
    out["partitions"] = len(partitions)
    out["metric_crs"] = {str(k): int(v) for k, v in partitions["metric_crs"].value_counts().items()}
    return out


def _renumber_gaps(findings: pd.DataFrame, gap_lonlat: list[np.ndarray]) -> pd.DataFrame:
    """The gap findings numbered over the whole (the rows in partition order, as concatenated)."""
    gaps = (findings["rule_id"] == GAP_RULE).to_numpy()
    if not gaps.any():
        return findings
    unit = findings["unit_id"].to_numpy(dtype=object).copy()
    unit[gaps] = number_gaps(np.vstack(gap_lonlat))
    # a new column, not a copy of the table
    return findings.assign(unit_id=pd.array(unit, dtype=findings["unit_id"].dtype))


def _merged(
    frames: list[pd.DataFrame], gap_lonlat: list[np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The partitions' findings with the merged study-level household rows after them.

    Returns that table and the positions of the rows :func:`merge_findings` keeps, in its order.
    """
    findings = _renumber_gaps(pd.concat(frames, ignore_index=True), gap_lonlat)
    study_hh = (
        (findings["level"] == "study") & findings["rule_id"].isin(HOUSEHOLD_RULES)
    ).to_numpy()
    merged = _merge_study_rows(findings[study_hh])
    rows = pd.concat([findings, merged], ignore_index=True)[FINDING_COLUMNS]
    keep = np.concatenate([np.flatnonzero(~study_hh), len(findings) + np.arange(len(merged))])
    return rows, keep


def merge_findings(frames: list[pd.DataFrame], gap_lonlat: list[np.ndarray]) -> pd.DataFrame:
    """The partitions' findings (in partition order) as one table, before ordering.

    Gaps numbered over the whole, the study-level household rows merged into one per rule
    (at the end).
    """
    rows, keep = _merged(frames, gap_lonlat)
    return rows.iloc[keep].reset_index(drop=True)


def ordered_findings(
    frames: list[pd.DataFrame], gap_lonlat: list[np.ndarray], profile: Profile
) -> pd.DataFrame:
    """:func:`merge_findings` in the national order, with one copy of the rows.

    Rule findings in profile order, then QA findings by rule; units by id.
    """
    rows, keep = _merged(frames, gap_lonlat)
    kept = rows[["level", "rule_id", "unit_id"]].iloc[keep].reset_index(drop=True)
    return rows.iloc[keep[_finding_order(kept, profile)]].reset_index(drop=True)


def partitions_table(rows: Iterable[tuple[str, str, int | None, int, int, dict]]) -> pd.DataFrame:
    """``partitions.csv``: per partition its key, metric CRS, EPSG, communities, grids, stats."""
    return pd.DataFrame(
        [
            {
                "partition": key,
                "metric_crs": crs,
                "epsg": epsg,
                "communities": communities,
                "grids": grids,
                **stats,
            }
            for key, crs, epsg, communities, grids, stats in rows
        ]
    )


def _by_id(units: GeoDataFrame) -> GeoDataFrame:
    """Units in the order of their ids as text (each partition's units come in read order)."""
    ids = units.index.astype(str).to_numpy(dtype=object)
    order = np.argsort(ids, kind="stable")  # Python's str order, as sorted(…, key=str)
    if (order == np.arange(len(order))).all():
        return units
    return units.iloc[order]


def _unique_problems(outputs: Iterable[Any]) -> list[Problem]:
    """The problems of every partition (each with ``.problems``), each once."""
    seen: dict[tuple, Problem] = {}
    for o in outputs:
        for p in o.problems:
            seen.setdefault((p.severity, p.code, p.message, p.file, p.layer, p.row), p)
    return list(seen.values())


def combine(
    outputs: list[PartitionOutput], plan: PartitionPlan, profile: Profile, *, name: str
) -> NationalResult:
    """Put the partitions' owned rows together into one :class:`NationalResult`.

    Parameters
    ----------
    outputs
        One :class:`~gridmap.national.worker.PartitionOutput` per partition of ``plan``.
    plan, profile
        The partitions and the rule profile of the run.
    name
        The study name.

    Returns
    -------
    NationalResult
    """
    outputs = sorted(outputs, key=lambda o: o.key)
    comms = _by_id(pd.concat([o.communities for o in outputs]))
    grids = None
    if all(o.grids is not None for o in outputs):
        grids = _by_id(pd.concat([o.grids for o in outputs if o.grids is not None]))
    findings = ordered_findings(
        [o.findings for o in outputs], [o.gap_lonlat for o in outputs], profile
    )
    households = None
    if all(o.households is not None for o in outputs):
        households = pd.concat(
            [o.households.assign(partition=o.key) for o in outputs if o.households is not None],
            ignore_index=True,
        )
    partitions = partitions_table(
        (o.key, o.crs, o.epsg, len(o.communities), 0 if o.grids is None else len(o.grids), o.stats)
        for o in outputs
    )
    return NationalResult(
        name=name,
        profile=profile,
        plan=plan,
        communities=comms,
        grids=grids,
        findings=findings,
        households=households,
        partitions=partitions,
        problems=_unique_problems(outputs),
    )
