"""Headline figures and tables of a check: KPIs, worst communities, counts per rule, one unit.

Functions of a :class:`gridmap.CheckResult` and its findings (in the page's language);
the figures come from :mod:`gridmap.evaluation`, as in ``gridmap check`` and the reports.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.provider.formatting import format_value, percent_flags
from gridmap.evaluation import rule_summary, size_counts

__all__ = [
    "filter_findings",
    "kpis",
    "rule_counts",
    "unit_detail",
    "value_formats",
    "with_value_text",
    "worst",
]

#: The figures of a unit shown in its detail panel, in order.
FIGURES = (
    "households",
    "grids",
    "coordinators",
    "coordinators_required",
    "population",
    "staff",
    "area_km2",
)


def kpis(result: Any, lang: str = "zh") -> dict:
    """Headline figures of the check (:func:`gridmap.evaluation.rule_summary`, the size status).

    A figure nothing could be assessed for is None (shown as 未评估 / "not assessed",
    never 0): ``grids_short`` / ``coordinator_gap`` without coordinator counts, ``size_*``
    without households or without a band in the profile. ``coverage`` is left to the caller.
    """
    s = result.summary()
    cs = s["communities_status"]
    out = {
        "communities": s["communities"],
        "pass": cs.get("pass", 0),
        "warning": cs.get("warning", 0),
        "fail": cs.get("fail", 0),
        "not_assessed": cs.get("not_assessed", 0),
        "households": s["households_total"],
        "unassigned": s["households_unassigned"],
        "grids": s["grids"],
        "grids_short": None,
        "coordinator_gap": None,
        "grids_na": 0,
    }
    rule = result.profile.first("coordinators", "grid")
    if result.grids is not None and rule is not None:
        rs = rule_summary(result.findings, rule.id)
        out["grids_short"], out["grids_na"] = rs["fail"], rs["not_assessed"]
        out["coordinator_gap"] = None if rs["gap"] is None else int(round(rs["gap"]))
    band = result.profile.size_band()
    sc = size_counts(result)
    assessed = band is not None and sc["not_assessed"] < len(result.communities)
    out["band"] = band.label(lang) if band is not None else None
    out["size_small"] = sc["too_small"] if assessed else None
    out["size_large"] = sc["too_large"] if assessed else None
    out["size_in_band"] = sc["pass"] if assessed else None
    out["size_na"] = sc["not_assessed"]
    return out


def worst(findings: pd.DataFrame, lang: str = "zh", n: int = 10) -> pd.DataFrame:
    """Communities with the most failed rules (error severity first), then the biggest size gap.

    Columns ``unit_id``, ``unit_name``, ``fails``, ``errors`` and ``worst`` (the first
    failing rule's title and message).
    """
    f = findings
    f = f[
        (f["level"] == "community") & (f["status"] == "fail") & ~f["rule_id"].str.startswith("qa.")
    ]
    if not len(f):
        return pd.DataFrame(columns=["unit_id", "unit_name", "fails", "errors", "worst"])
    f = f.assign(err=(f["severity"] == "error").astype(int))
    g = f.sort_values(["err", "gap"], ascending=False).groupby("unit_id", sort=False)
    sep = "：" if lang == "zh" else ": "
    table = pd.DataFrame(
        {
            "unit_name": g["unit_name"].first(),
            "fails": g.size(),
            "errors": g["err"].sum(),
            "worst": g["rule_title"].first() + sep + g["message"].first(),
        }
    )
    return table.sort_values(["errors", "fails"], ascending=False).head(n).reset_index()


def rule_counts(findings: pd.DataFrame, profile: Any) -> pd.DataFrame:
    """Per rule of ``profile`` (in its order): pass / fail / not_assessed counts and the title."""
    f = findings[~findings["rule_id"].str.startswith("qa.")]
    counts = f.groupby(["rule_id", "status"]).size().unstack(fill_value=0)
    for s in ("pass", "fail", "not_assessed"):
        if s not in counts.columns:
            counts[s] = 0
    titles = f.drop_duplicates("rule_id").set_index("rule_id")["rule_title"]
    order = [r.id for r in profile.rules if r.id in counts.index]
    out = counts.loc[order, ["pass", "fail", "not_assessed"]].copy()
    out["title"] = titles.reindex(out.index).to_numpy()
    return out


def value_formats(profile: Any) -> dict[str, tuple[bool, bool]]:
    """``{rule id: (value is a share, gap is a share)}`` of the profile's rules."""
    return {r.id: percent_flags(r) for r in profile.rules}


def with_value_text(f: pd.DataFrame, profile: Any) -> pd.DataFrame:
    """``f`` (findings) plus ``value_text`` and ``gap_text``: shares as percentages (0.51 → 51%)."""
    flags = value_formats(profile)
    vp = f["rule_id"].map(lambda r: flags.get(r, (False, False))[0]).astype(bool)
    gp = f["rule_id"].map(lambda r: flags.get(r, (False, False))[1]).astype(bool)
    return f.assign(
        value_text=[format_value(v, pct=p) for v, p in zip(f["value"], vp, strict=True)],
        gap_text=[format_value(v, pct=p) for v, p in zip(f["gap"], gp, strict=True)],
    )


def unit_detail(
    units: pd.DataFrame, findings: pd.DataFrame, profile: Any, level: str, uid: str
) -> dict:
    """Everything about one unit: its figures and every finding (failures first).

    Parameters
    ----------
    units
        The result's table of ``level``.
    findings
        Every finding (in the page's language).
    profile
        The result's profile (how values are formatted).
    level, uid
        The unit.

    Returns
    -------
    dict
        ``level``, ``unit_id``, ``name``, ``status``, ``figures`` and ``findings`` (records
        with ``value_text`` and ``gap_text``).

    Raises
    ------
    KeyError
        When ``level`` has no unit ``uid``.
    """
    row = units.loc[units.index.astype(str) == str(uid)]
    if not len(row):
        raise KeyError(f"no {level} with id {uid!r}")
    row = row.iloc[0]
    figures = {col: float(row[col]) for col in FIGURES if col in row.index and pd.notna(row[col])}
    f = findings[(findings["level"] == level) & (findings["unit_id"] == str(uid))]
    rank = f["status"].map({"fail": 0, "not_assessed": 1, "pass": 2}).fillna(1)
    f = f.assign(_rank=rank).sort_values("_rank", kind="stable").drop(columns="_rank")
    f = with_value_text(f, profile)
    return {
        "level": level,
        "unit_id": str(uid),
        "name": str(row.get("name", uid)),
        "status": str(row["status"]),
        "figures": figures,
        "findings": f.to_dict("records"),
    }


def filter_findings(
    f: pd.DataFrame,
    *,
    search: str | None = None,
    status: str | None = None,
    level: str | None = None,
) -> pd.DataFrame:
    """Rows matching a status, a level and a free-text search, as the findings page shows them.

    Parameters
    ----------
    f
        Findings (:meth:`DashboardProvider.findings`).
    search
        Text looked for in the unit name and code, the rule id and title and the message
        (case-insensitive).
    status, level
        Keep only this status / level; None or ``"all"`` keeps every one.

    Returns
    -------
    pandas.DataFrame
        The matching rows of ``f``.
    """
    mask = pd.Series(True, index=f.index)
    if status and status != "all":
        mask &= f["status"] == status
    if level and level != "all":
        mask &= f["level"] == level
    if search:
        text = (
            f["unit_id"].astype(str)
            + " "
            + f["unit_name"].astype(str)
            + " "
            + f["rule_id"].astype(str)
            + " "
            + f["rule_title"].astype(str)
            + " "
            + f["message"].astype(str)
        )
        mask &= text.str.contains(search.strip(), case=False, regex=False, na=False)
    return f[mask]
