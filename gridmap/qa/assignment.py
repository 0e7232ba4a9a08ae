"""QA of the assignment: households outside every grid or community, facilities outside all.

The findings about households (:data:`HOUSEHOLD_RULES`) carry their number of households in
``value``, so the console, summary.json and reports all read one number: :func:`qa_counts`
sums them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from geopandas import GeoDataFrame

from gridmap.qa._rows import finding_rows

__all__ = ["HOUSEHOLD_RULES", "assignment_qa", "qa_counts"]

#: QA rules whose ``value`` is a number of households (NaN when the households are unknown)
HOUSEHOLD_RULES = frozenset(
    {"qa.grid.outside", "qa.households.outside_grids", "qa.households.unassigned"}
)


def assignment_qa(
    households: pd.DataFrame | None,
    has_grids: bool,
    facility_assignment: pd.DataFrame | None,
    facilities: GeoDataFrame | None,
) -> pd.DataFrame:
    """Households outside every grid / every community; facilities outside every community."""
    frames = []
    if households is not None:
        nogrid = households[households["grid_id"].isna() & households["community_id"].notna()]
        if has_grids and len(nogrid):
            n = int(nogrid["households"].sum())
            frames.append(
                finding_rows(
                    "study",
                    ["households"],
                    ["户数"],
                    "qa.households.outside_grids",
                    float(n),
                    "0",
                    float(n),
                    f"{len(nogrid)} 条户数记录（{n:,} 户）不在任何网格内，已直接计入所在社区",
                    title="住户不在任何网格内",
                )
            )
        lost = households[households["community_id"].isna()]
        if len(lost):
            n = int(lost["households"].sum())
            frames.append(
                finding_rows(
                    "study",
                    ["households"],
                    ["户数"],
                    "qa.households.unassigned",
                    float(n),
                    "0",
                    float(n),
                    f"{len(lost)} 条户数记录（{n:,} 户）不在任何社区内，未分配",
                    title="住户未分配到社区",
                )
            )
    if facility_assignment is not None and facilities is not None:
        out = facility_assignment["community_id"].isna().to_numpy()
        if out.any():
            if "name" in facilities.columns:
                names = facilities["name"].astype(str).to_numpy()
            else:
                names = facilities.index.astype(str).to_numpy()
            frames.append(
                finding_rows(
                    "facility",
                    facilities.index.astype(str).to_numpy()[out],
                    names[out],
                    "qa.facility.outside",
                    np.nan,
                    "",
                    np.nan,
                    "设施不在任何社区内",
                    title="设施不在任何社区内",
                )
            )
    if not frames:
        return finding_rows("study", [], [], "", [], "", [], [])
    return pd.concat(frames, ignore_index=True)


def qa_counts(findings: pd.DataFrame) -> dict[str, dict[str, int | None]]:
    """Per QA rule: ``{"findings": n, "households": total or None}``, in order of appearance.

    ``households`` is the sum of ``value`` for :data:`HOUSEHOLD_RULES` (None for
    other rules, and when no finding of the rule knows its households).

    Examples
    --------
    >>> f = pd.DataFrame({"rule_id": ["qa.households.outside_grids", "qa.grid.multipart"],
    ...                   "value": [205214.0, 2.0]})
    >>> qa_counts(f)  # doctest: +NORMALIZE_WHITESPACE
    {'qa.households.outside_grids': {'findings': 1, 'households': 205214},
     'qa.grid.multipart': {'findings': 1, 'households': None}}
    """
    qa = findings[findings["rule_id"].str.startswith("qa.")]
    out: dict[str, dict[str, int | None]] = {}
    for rid, g in qa.groupby("rule_id", sort=False):
        values = pd.to_numeric(g["value"], errors="coerce")
        known = rid in HOUSEHOLD_RULES and values.notna().any()
        households = int(round(values.sum())) if known else None
        out[rid] = {"findings": int(len(g)), "households": households}
    return out
