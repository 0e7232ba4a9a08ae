"""One evaluation of units: the profile's rules → findings, overall status and size status.

Every part of gridmap that shows a community's compliance — :func:`gridmap.check`,
:class:`gridmap.plans.Plan` (KPIs, findings, exports), the reports and the
dashboard — calls :func:`evaluate_units` on a table of unit metrics, so the same
table under the same profile gives the same numbers everywhere. The household
band and its exemption come from the profile (:meth:`gridmap.rules.Profile.size_band`);
:attr:`Evaluation.size` classifies each community with the very comparisons of
the band's range rule, so ``too_small + too_large`` always equals that rule's
failures.

Examples
--------
>>> import pandas as pd
>>> units = pd.DataFrame({"name": ["甲", "乙", "丙"], "households": [999, 2000, 3001],
...                       "sparse": [True, False, False]},
...                      index=pd.Index(["1", "2", "3"], name="community_id"))
>>> ev = evaluate_units(units, "national", level="community")
>>> ev.size.tolist(), ev.status.tolist()
(['pass', 'pass', 'too_large'], ['pass', 'pass', 'fail'])
>>> ev.size_counts()
{'pass': 2, 'too_small': 0, 'too_large': 1, 'not_assessed': 0}
>>> ev.rule_counts()["community.size"]
{'pass': 2, 'fail': 1, 'not_assessed': 0}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from gridmap.rules import (
    FAIL,
    FINDING_COLUMNS,
    NOT_ASSESSED,
    PASS,
    Profile,
    SizeBand,
    evaluate,
    exempt_flags,
    load_profile,
    required_coordinators,
)


class CommunitiesResult(Protocol):
    """What :func:`size_counts` reads of a result (a :class:`gridmap.CheckResult`, for one)."""

    @property
    def communities(self) -> pd.DataFrame:
        """The community table."""

    @property
    def profile(self) -> Profile:
        """The profile it was evaluated under."""


__all__ = [
    "Evaluation",
    "evaluate_units",
    "size_status",
    "overall_status",
    "add_required_coordinators",
    "rule_summary",
    "size_counts",
    "SIZE_STATUSES",
    "RULE_STATUSES",
]

SIZE_STATUSES = ("pass", "too_small", "too_large", NOT_ASSESSED)
RULE_STATUSES = (PASS, FAIL, NOT_ASSESSED)


@dataclass(frozen=True)
class Evaluation:
    """What the rules say about a table of units.

    Attributes
    ----------
    findings
        One row per unit × rule (:data:`gridmap.rules.FINDING_COLUMNS`).
    status
        Overall status per unit (index like the table): ``fail`` when a rule of
        severity error fails, ``warning`` when only warnings fail, ``pass``, or
        ``not_assessed`` when no rule could be assessed.
    size
        Community level: ``pass`` / ``too_small`` / ``too_large`` / ``not_assessed``
        against :attr:`band` (all ``not_assessed`` when the profile has no band or
        the households are unknown). Grid level: all ``not_assessed``.
    band
        The profile's household band (None when it has none).
    """

    findings: pd.DataFrame
    status: pd.Series
    size: pd.Series
    band: SizeBand | None
    profile: Profile

    def size_counts(self) -> dict[str, int]:
        """Communities per size status (every status present, zeros included)."""
        vc = self.size.value_counts()
        return {s: int(vc.get(s, 0)) for s in SIZE_STATUSES}

    def rule_counts(self) -> dict[str, dict[str, int]]:
        """``{rule id: {pass, fail, not_assessed}}`` in profile order (rules of this level only)."""
        f = self.findings
        out: dict[str, dict[str, int]] = {}
        for rid in dict.fromkeys(f["rule_id"]):
            vc = f.loc[f["rule_id"] == rid, "status"].value_counts()
            out[rid] = {s: int(vc.get(s, 0)) for s in RULE_STATUSES}
        return out


def size_status(units: pd.DataFrame, band: SizeBand | None) -> pd.Series:
    """Size status per unit against ``band`` (see :meth:`gridmap.rules.SizeBand.classify`).

    The exemption flag is read exactly as the range rule reads it
    (:func:`gridmap.rules.exempt_flags`).
    """
    if band is None or not len(units):
        return pd.Series(NOT_ASSESSED, index=units.index, dtype=object)
    if "households" in units.columns:
        h = pd.to_numeric(units["households"], errors="coerce")
    else:
        h = pd.Series(np.nan, index=units.index)
    exempt = exempt_flags(units, band.exempt_min_if)
    return pd.Series(
        band.classify(h.to_numpy(dtype="float64"), exempt.to_numpy()),
        index=units.index,
        dtype=object,
    )


def overall_status(index: pd.Index, findings: pd.DataFrame) -> pd.Series:
    """Overall status per unit of ``index`` from its rule findings (QA findings ignored)."""
    f = findings[~findings["rule_id"].astype(str).str.startswith("qa.")]
    ids = index.astype(str).to_numpy(dtype=object)
    status = np.full(len(ids), NOT_ASSESSED, dtype=object)
    if len(f):
        # ids and the findings' unit ids as codes of one factorisation: per-code flags, no isin
        units = f["unit_id"].astype(str).to_numpy(dtype=object)
        codes, uniques = pd.factorize(np.concatenate([ids, units]))
        own, found = codes[: len(ids)], codes[len(ids) :]
        failed = (f["status"] == FAIL).to_numpy()
        error = failed & (f["severity"] == "error").to_numpy()
        for mask, label in (((f["status"] == PASS).to_numpy(), PASS), (failed, "warning")):
            flag = np.zeros(len(uniques), dtype=bool)
            flag[found[mask]] = True
            status[flag[own]] = label
        flag = np.zeros(len(uniques), dtype=bool)
        flag[found[error]] = True
        status[flag[own]] = FAIL
    return pd.Series(status, index=index, dtype=object)


def add_required_coordinators(
    grid_table: pd.DataFrame | None, comm_table: pd.DataFrame, profile: Profile
) -> None:
    """Fill ``coordinators_required`` per grid and per community, in place.

    Per grid: the profile's coordinator rule on its households; per community: the sum over
    its grids (NaN without grids or without the rule).
    """
    rule = profile.first("coordinators", "grid")
    if grid_table is None:
        comm_table["coordinators_required"] = np.nan
        return
    households = pd.to_numeric(grid_table["households"], errors="coerce").astype("float64")
    grid_table["coordinators_required"] = (
        required_coordinators(households, rule) if rule is not None else np.nan
    )
    req = grid_table.groupby("community_id")["coordinators_required"].sum(min_count=1)
    req.index = req.index.astype(str)
    comm_table["coordinators_required"] = req.reindex(comm_table.index.astype(str)).to_numpy()


def evaluate_units(
    units: pd.DataFrame, profile: Profile | str, *, level: str = "community", lang: str = "zh"
) -> Evaluation:
    """Evaluate the profile's rules of ``level`` on ``units`` (one row per unit, index = unit id).

    The one evaluation behind the check, plans, reports and the dashboard.
    """
    profile = load_profile(profile)
    if len(units):
        findings = evaluate(units, profile, level=level, lang=lang)
    else:
        findings = pd.DataFrame(columns=FINDING_COLUMNS)
    band = profile.size_band() if level == "community" else None
    return Evaluation(
        findings=findings,
        status=overall_status(units.index, findings),
        size=size_status(units, band),
        band=band,
        profile=profile,
    )


def rule_summary(findings: pd.DataFrame, rule_id: str) -> dict[str, Any]:
    """Headline figures of one rule: units per status and the total gap of its failures.

    ``assessed`` is False when no unit could be assessed: then ``fail`` and ``gap`` are
    None (show 未评估 / "not assessed", never 0).

    Examples
    --------
    >>> f = pd.DataFrame({"rule_id": ["r"] * 3, "status": ["not_assessed"] * 3,
    ...                   "gap": [np.nan] * 3})
    >>> rule_summary(f, "r")
    {'units': 3, 'pass': 0, 'fail': None, 'not_assessed': 3, 'gap': None, 'assessed': False}
    """
    g = findings[findings["rule_id"] == rule_id]
    vc = g["status"].value_counts()
    n_pass, n_fail, n_na = (int(vc.get(s, 0)) for s in RULE_STATUSES)
    assessed = n_pass + n_fail > 0
    gap = pd.to_numeric(g.loc[g["status"] == FAIL, "gap"], errors="coerce").fillna(0).sum()
    return {
        "units": int(len(g)),
        "pass": n_pass,
        "fail": n_fail if assessed else None,
        "not_assessed": n_na,
        "gap": float(gap) if assessed else None,
        "assessed": assessed,
    }


def size_counts(result: CommunitiesResult) -> dict[str, int]:
    """Communities per size status of a :class:`gridmap.CheckResult` (column ``size_status``)."""
    comm = result.communities
    if "size_status" in comm.columns:
        status = comm["size_status"]
    else:
        status = size_status(comm, result.profile.size_band())
    vc = status.value_counts()
    return {k: int(vc.get(k, 0)) for k in SIZE_STATUSES}
