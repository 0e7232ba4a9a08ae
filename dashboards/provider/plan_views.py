"""What the 边界调整 Plans page shows of a plan: map values, KPI rows, the selection's neighbours.

Every figure is the plan's own (:meth:`gridmap.plans.Plan.kpis`,
:meth:`~gridmap.plans.Plan.communities`): the same as the overview, ``gridmap check``
and the reports; nothing is recomputed here.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dashboards.i18n import t
from dashboards.provider.map_values import NODATA
from dashboards.provider.plan_session import PALETTE, PlanSession
from gridmap.labels import STATUS_COLORS

__all__ = [
    "BAND_COLORS",
    "BAND_ORDER",
    "PlanView",
    "SelectionView",
    "band_table",
    "band_text",
    "compare_rows",
    "neighbours",
    "plan_payload",
    "plan_view",
    "proposal_rows",
    "selection_view",
    "export_gpkg",
    "export_xlsx",
]

#: Size status of a community against the household band, in legend order.
BAND_ORDER = ("pass", "too_small", "too_large", "not_assessed")
#: Too small is drawn like a warning, too large like a failure (gridmap's status colours).
BAND_COLORS = {
    "pass": STATUS_COLORS["pass"],
    "too_small": STATUS_COLORS["warning"],
    "too_large": STATUS_COLORS["fail"],
    "not_assessed": STATUS_COLORS["not_assessed"],
}
#: Most rows of the change list shown on the page.
MAX_CHANGES = 200


def neighbours(plan: Any, units: list[str]) -> list[str]:
    """Communities bordering the selected units (the move targets), sorted.

    The selection's own community is left out when the selection lies in only one.
    """
    if not units:
        return []
    labels = plan.labels
    pos = labels.index.get_indexer([str(u) for u in units])
    pos = pos[pos >= 0]
    if not len(pos):
        return []
    graph = plan.graph
    nb = np.unique(
        np.concatenate([graph.indices[graph.indptr[p] : graph.indptr[p + 1]] for p in pos])
    )
    own = set(labels.iloc[pos])
    out = set(labels.iloc[nb]) if len(nb) else set()
    if len(own) == 1:
        out -= own
    return sorted(out)


def band_table(plan: Any, *, base: bool = False) -> pd.DataFrame:
    """Per community of the plan (or the as-is assignment): name, households, units, size status.

    :meth:`gridmap.plans.Plan.communities`, nothing recomputed here.
    """
    return plan.communities(base=base)


def band_text(plan: Any, lang: str) -> str:
    """The plan's band and profile, e.g. ``1,000–3,000 户（规则配置 national …）``."""
    band = plan.band
    if band is None:
        return t("pl.band.none", lang, profile=plan.profile.id)
    return t("pl.band.value", lang, band=band.label(lang), profile=plan.profile.id)


def households_text(x: Any, lang: str) -> str:
    """Households of a community (``1,234 户``), 未评估 when unknown."""
    if pd.isna(x):
        return t("pl.status.not_assessed", lang)
    return f"{int(x):,} {'户' if lang != 'en' else 'hh'}"


def plan_payload(
    session: PlanSession,
    grid_ids: pd.Index,
    url: str,
    *,
    base: bool = False,
    mode: str = "community",
    lang: str = "zh",
    preview: bool = True,
    table: pd.DataFrame | None = None,
) -> dict:
    """The map's values: grids (feature order) coloured by community or by its band status.

    While the rebalancer's proposal waits to be applied (and ``preview``), the plan map shows
    the plan *with* the proposal (:meth:`PlanSession.proposed_plan`) and outlines the units it
    moves (``highlight``: their feature indices).

    Parameters
    ----------
    session
        The tab's plan and its community colours.
    grid_ids
        The grid ids in feature order.
    url
        Where the browser fetches the grid geometry.
    base
        The as-is assignment instead of the plan.
    mode
        ``"community"`` or ``"status"`` (the community's size status).
    lang
        Language of labels and legend.
    preview
        Draw the rebalancer's pending proposal (when there is one) instead of the plan.
    table
        :func:`band_table` of what is drawn when the caller has it already (not looked at
        while a proposal is drawn).

    Returns
    -------
    dict
        The map's values store (as :meth:`MapValues.payload`), with ``highlight``.
    """
    proposed = None if base or not preview else session.proposed_plan()
    plan = session.plan if proposed is None else proposed
    labels = plan.base if base else plan.labels
    if table is None or proposed is not None:
        table = band_table(plan, base=base)
    lab = labels.reindex(grid_ids)  # grids outside every community: no data
    values = plan.units["households"].reindex(grid_ids).to_numpy(dtype="float64")
    status_lbl = {s: t(f"pl.status.{s}", lang) for s in BAND_ORDER}
    counts = Counter(table["status"].tolist())  # a few dozen rows: no pandas call
    band_legend = [
        {"color": BAND_COLORS[s], "label": status_lbl[s], "count": int(counts.get(s, 0))}
        for s in BAND_ORDER
        if s != "not_assessed" or counts.get(s, 0)
    ]
    if mode == "status":
        lut = {s: i for i, s in enumerate(BAND_ORDER)}
        st = lab.map(table["status"])
        classes = np.array(
            [lut.get(s, -1) if isinstance(s, str) else -1 for s in st], dtype="int64"
        )
        palette = [BAND_COLORS[s] for s in BAND_ORDER]
        labels_out = [status_lbl[s] for s in BAND_ORDER]
    else:
        comms = list(table.index)
        lut = {c: i for i, c in enumerate(comms)}
        classes = np.array(
            [lut.get(c, -1) if isinstance(c, str) else -1 for c in lab], dtype="int64"
        )
        palette = [PALETTE[session.color_of(c) % len(PALETTE)] for c in comms]
        labels_out = [
            f"{name} · {households_text(hh, lang)} · {status_lbl[status]}"
            for name, hh, status in zip(
                table["name"], table["households"], table["status"], strict=True
            )
        ]
    version = (
        f"{'base' if base else len(plan.journal)}|{mode}|{plan.profile.id}|{lang}|{plan.plan_id}"
        + ("|proposal" if proposed is not None else "")
    )
    moved: list[int] = []
    if proposed is not None:
        edit = session.pending_edit()
        units = [] if edit is None else [str(c[0]) for c in edit.changes]
        pos = grid_ids.astype(str).get_indexer(units)
        moved = sorted(int(i) for i in pos[pos >= 0])
    return {
        "url": url,
        "level": "grid",
        "version": version,
        "c": classes.tolist(),
        "v": [None if np.isnan(x) else float(x) for x in values],
        "palette": palette,
        "nodata": NODATA,
        "labels": labels_out,
        "legend": band_legend,
        "highlight": moved,
    }


def compare_rows(
    plan: Any,
    lang: str = "zh",
    *,
    kpis: dict | None = None,
    base_kpis: dict | None = None,
) -> list[tuple[str, str, str]]:
    """(metric, as-is, plan) rows of the comparison table: :meth:`gridmap.plans.Plan.kpis`.

    ``kpis`` and ``base_kpis``: the plan's and the as-is KPIs when the caller has them already.
    """
    b = plan.kpis(base=True) if base_kpis is None else base_kpis
    k = plan.kpis() if kpis is None else kpis
    na = t("pl.status.not_assessed", lang)

    def cell(v: Any) -> str:
        return na if v is None else (f"{v:,}" if isinstance(v, int) else v)

    def in_band(x: dict) -> str:
        return na if x["in_band"] is None else f"{x['in_band']}/{x['communities']}"

    rows = [
        (t("pl.kpi.in_band", lang), in_band(b), in_band(k)),
        (t("pl.status.too_small", lang), cell(b["too_small"]), cell(k["too_small"])),
        (t("pl.status.too_large", lang), cell(b["too_large"]), cell(k["too_large"])),
        (t("pl.kpi.contiguity", lang), cell(b["non_contiguous"]), cell(k["non_contiguous"])),
        (t("pl.kpi.units_moved", lang), cell(0), cell(k["units_moved"])),
        (t("pl.kpi.households_moved", lang), cell(0), cell(k["households_moved"])),
    ]
    if b["size_not_assessed"] or k["size_not_assessed"]:
        rows.insert(
            3,
            (
                t("pl.status.not_assessed", lang),
                cell(b["size_not_assessed"]),
                cell(k["size_not_assessed"]),
            ),
        )
    return rows


@dataclass(frozen=True)
class PlanView:
    """Everything the Plans page draws of one tab's plan (see :func:`plan_view`)."""

    plan_map: dict  #: map values of the plan (:func:`plan_payload`)
    base_map: dict  #: map values of the as-is assignment
    kpis: dict  #: :meth:`gridmap.plans.Plan.kpis`
    band: str | None  #: the band's label in the page's language, None without a band
    profile: str  #: the id of the plan's profile
    band_text: str  #: :func:`band_text`
    compare: list[tuple[str, str, str]]  #: :func:`compare_rows`
    changes: list[tuple[str, str, str, str]]  #: unit, from, to, households (first 200)
    communities: list[dict]  #: the communities with units, as dropdown options
    can_undo: bool
    can_redo: bool
    pending: bool  #: a rebalancer result can be applied
    saved: list[str]  #: names of the plans saved in the workspace
    workspace: Path | str  #: the plans workspace (GeoPackage path or PostGIS URL)
    notice: str | None = None  #: shown once: the tab's plan was restored from its draft
    read_only: bool = False  #: the user may look and export, not edit or save
    proposal: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: the pending proposal's moves (unit, from, to, households), drawn before it is applied
    proposal_kpis: dict | None = None  #: the plan's KPIs were the proposal applied


def plan_view(
    session: PlanSession,
    grid_ids: pd.Index,
    url: str,
    *,
    saved: list[str],
    workspace: Path | str,
    mode: str = "community",
    lang: str = "zh",
    notice: str | None = None,
    read_only: bool = False,
) -> PlanView:
    """What the Plans page shows of ``session``'s plan (read under the session's lock).

    ``saved`` and ``workspace`` (the saved plans and where), ``notice`` and ``read_only``
    are passed through.
    """
    with session.lock:
        plan = session.plan
        changes = plan.changes().head(MAX_CHANGES)
        table, base_table = band_table(plan), band_table(plan, base=True)
        kpis, base_kpis = plan.kpis(), plan.kpis(base=True)  # each once (each costs a table)
        proposed = session.proposed_plan()
        return PlanView(
            plan_map=plan_payload(session, grid_ids, url, mode=mode, lang=lang, table=table),
            base_map=plan_payload(
                session, grid_ids, url, base=True, mode=mode, lang=lang, table=base_table
            ),
            kpis=kpis,
            band=None if plan.band is None else plan.band.label(lang),
            profile=plan.profile.id,
            band_text=band_text(plan, lang),
            compare=compare_rows(plan, lang, kpis=kpis, base_kpis=base_kpis),
            changes=[
                (r.unit_name, r.from_name, r.to_name, f"{int(r.households):,}")
                for r in changes.itertuples()
            ],
            communities=[
                {"value": c, "label": f"{name} ({households_text(hh, lang)})"}
                for c, name, hh, units in zip(
                    table.index, table["name"], table["households"], table["units"], strict=True
                )
                if units > 0
            ],
            can_undo=plan.can_undo,
            can_redo=plan.can_redo,
            pending=proposed is not None,
            proposal=[] if proposed is None else proposal_rows(session, proposed, lang),
            proposal_kpis=None if proposed is None else proposed.kpis(),
            saved=saved,
            workspace=workspace,
            notice=notice,
            read_only=read_only,
        )


def proposal_rows(
    session: PlanSession, proposed: Any, lang: str
) -> list[tuple[str, str, str, str]]:
    """The pending proposal's moves: unit, from community, to community (names), households."""
    edit = session.pending_edit()
    if edit is None:
        return []
    units = proposed.units
    names = units["name"] if "name" in units.columns else pd.Series(units.index, units.index)
    rows = []
    for unit, old, new in edit.changes[:MAX_CHANGES]:
        hh = units["households"].get(unit)
        rows.append(
            (
                str(names.get(unit, unit)),
                proposed.community_name(old),
                proposed.community_name(new),
                households_text(hh, lang),
            )
        )
    return rows


@dataclass(frozen=True)
class SelectionView:
    """The selected units of a plan: how many households, their names, where they can move."""

    households: int
    names: list[str]
    targets: list[dict]  #: neighbouring communities as dropdown options


def selection_view(session: PlanSession, units: list[str]) -> SelectionView:
    """The selection's households, names and move targets (:func:`neighbours`) in the plan."""
    with session.lock:
        plan = session.plan
        known = [u for u in units if u in plan.units.index]
        hh = int(plan.units["households"].reindex(known).sum())
        names = (
            plan.units["name"].reindex(known).astype(str).tolist()
            if "name" in plan.units.columns
            else known
        )
        targets = [{"value": c, "label": plan.community_name(c)} for c in neighbours(plan, known)]
    return SelectionView(hh, names, targets)


# ---------------------------------------------------------------------- exports
def _exported(plan: Any, fmt: str, name: str) -> bytes:
    """One file of :meth:`gridmap.plans.Plan.export`, as bytes (written to a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="gridmap-export-") as tmp:
        files = plan.export(tmp, formats=(fmt,))
        return Path(files[name]).read_bytes()


def export_xlsx(plan: Any) -> bytes:
    """The change list (单元编码, 原社区, 新社区, 户数 …) as XLSX."""
    return _exported(plan, "xlsx", "changes.xlsx")


def export_gpkg(plan: Any) -> bytes:
    """The plan's communities (dissolved grids) with their size status, as a GeoPackage."""
    return _exported(plan, "gpkg", "communities.gpkg")
