"""边界调整 Plans: edit a plan of grids → communities on the map, watch the KPIs, rebalance, save, export.

The plan lives on the server, one per browser tab: :class:`PlanStore` keeps a
:class:`PlanSession` per session id (a random id the tab holds in a
``sessionStorage`` ``dcc.Store``), so several tabs never share a plan. Callbacks
stay thin: they read the session, call :mod:`gridmap.plans` and hand back small
payloads (one class per grid for the map, KPI cards, tables).

The map shows grids coloured by their community in the plan (or by whether the
community is within the household band); clicking grids selects them (outlined).
The band, its exemption and every KPI come from the plan under the profile chosen
at the top of the app (:attr:`gridmap.plans.Plan.band`, :meth:`~gridmap.plans.Plan.kpis`):
the same figures as the overview, ``gridmap check`` and the reports. The rebalancer
runs through the provider (:meth:`DashboardProvider.rebalance`).
Edits: move the selection to a neighbouring community, make a new community of it,
split a community into k, merge communities; undo/redo; the rebalancer's result is
shown first and applied on request. The as-is map and a KPI table sit below for
comparison. Plans are saved to (and loaded from) the provider's workspace GeoPackage.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update

from dashboards.components import legend, map_view, register_map
from dashboards.i18n import t
from dashboards.ids import ID, map_ids
from dashboards.pages._common import geo_url
from dashboards.provider import DashboardProvider

__all__ = ["PlanSession", "PlanStore", "neighbours", "plan_payload", "band_table", "band_text", "compare_rows", "layout", "register"]

PAGE = "plans"
BASE = "plans-base"
PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#a6cee3", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
           "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f"]
BAND_COLORS = {"pass": "#1a9850", "too_small": "#fdae61", "too_large": "#d73027", "not_assessed": "#bababa"}
BAND_ORDER = ("pass", "too_small", "too_large", "not_assessed")


# ---------------------------------------------------------------------- server-side plans per session
class PlanSession:
    """One tab's plan, its community colours and the rebalancer result waiting to be applied."""

    def __init__(self, plan, colors: dict[str, int]):
        self.plan = plan
        self.colors = dict(colors)
        self.pending = None  # (journal length when computed, EditResult)
        self.lock = threading.RLock()

    def color_of(self, cid: str) -> int:
        """A palette index for a community, unlike its neighbours' (new communities get one on first sight)."""
        if cid not in self.colors:
            from gridmap.edits import community_adjacency

            adj = community_adjacency(self.plan.labels, self.plan.graph)
            self.colors[cid] = _pick_color(self.colors, adj.get(cid, ()))
        return self.colors[cid]


def _pick_color(colors: dict[str, int], neighbours) -> int:
    """The least used palette colour that no neighbour has (colours spread over the whole palette)."""
    used = {colors.get(n) for n in neighbours}
    counts = np.bincount([c for c in colors.values() if c is not None], minlength=len(PALETTE))
    free = [i for i in range(len(PALETTE)) if i not in used] or list(range(len(PALETTE)))
    return min(free, key=lambda i: (counts[i], i))


class PlanStore:
    """Plans per session id (least recently used dropped beyond ``max_sessions``); thread-safe.

    Every plan shares the unit adjacency of one template plan (computed once per provider).
    """

    def __init__(self, provider: DashboardProvider, max_sessions: int = 32):
        self.provider = provider
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, PlanSession] = OrderedDict()
        self._lock = threading.RLock()
        self._template = None
        self._colors: dict[str, int] | None = None

    def template(self):
        with self._lock:
            if self._template is None:
                from gridmap.edits import community_adjacency

                self._template = self.provider.plan(name="现状")
                adj = community_adjacency(self._template.labels, self._template.graph)
                colors: dict[str, int] = {}
                for cid in sorted(adj, key=lambda c: (-len(adj[c]), c)):  # greedy colouring, busiest first
                    colors[cid] = _pick_color(colors, adj[cid])
                self._colors = colors
            return self._template

    def new_plan(self, name: str | None = None, profile: str | None = None):
        tpl = self.template()
        return self.provider.plan(profile, name=name or f"方案 {uuid.uuid4().hex[:4]}", graph=tpl.graph)

    def get(self, sid: str | None, profile: str | None = None) -> PlanSession:
        """The session's plan (made from the as-is assignment on first use), evaluated under
        ``profile`` (the app's profile selector; the provider's default when None)."""
        sid = str(sid or "anonymous")
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None:
                self._sessions.move_to_end(sid)
        if session is None:
            session = PlanSession(self.new_plan(profile=profile), self._colors_copy())
            with self._lock:
                session = self._sessions.setdefault(sid, session)
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
        if profile is not None:
            with session.lock:
                self.provider.use_profile(session.plan, profile)
        return session

    def _colors_copy(self) -> dict[str, int]:
        self.template()
        return dict(self._colors or {})

    def reset(self, sid: str, profile: str | None = None) -> PlanSession:
        s = self.get(sid, profile)
        with s.lock:
            s.plan, s.pending = self.new_plan(profile=profile), None
        return s

    def load(self, sid: str, name: str, profile: str | None = None) -> PlanSession:
        """Replace the session's plan by a saved one (by name or id) from the workspace."""
        from gridmap.plans import load_plan

        tpl = self.template()
        plan = load_plan(self.provider.plans_workspace(), name, graph=tpl.graph)
        if not plan.units.index.equals(tpl.units.index):  # another unit set: its own adjacency
            plan = load_plan(self.provider.plans_workspace(), name)
        s = self.get(sid, profile)
        with s.lock:
            if profile is not None:
                self.provider.use_profile(plan, profile)
            s.plan, s.pending = plan, None
        return s

    def saved(self) -> pd.DataFrame:
        from gridmap.plans import list_plans

        return list_plans(self.provider.plans_workspace())

    def __len__(self) -> int:
        return len(self._sessions)


# ---------------------------------------------------------------------- pure helpers (tested without a browser)
def neighbours(plan, units: list[str]) -> list[str]:
    """Communities bordering the selected units (the move targets), excluding the selection's only community."""
    if not units:
        return []
    labels = plan.labels
    pos = labels.index.get_indexer([str(u) for u in units])
    pos = pos[pos >= 0]
    if not len(pos):
        return []
    graph = plan.graph
    nb = np.unique(np.concatenate([graph.indices[graph.indptr[p]:graph.indptr[p + 1]] for p in pos]))
    own = set(labels.iloc[pos])
    out = set(labels.iloc[nb]) if len(nb) else set()
    if len(own) == 1:
        out -= own
    return sorted(out)


def band_table(plan, *, base: bool = False) -> pd.DataFrame:
    """Per community of the plan (or the as-is assignment): name, households (outside units
    included), units and size status — :meth:`gridmap.plans.Plan.communities`, nothing recomputed here."""
    return plan.communities(base=base)


def _hh_text(x, lang: str) -> str:
    return t("pl.status.not_assessed", lang) if pd.isna(x) else f"{int(x):,} {'户' if lang != 'en' else 'hh'}"


def plan_payload(session: PlanSession, grid_ids: pd.Index, url: str, *, base: bool = False, mode: str = "community",
                 lang: str = "zh") -> dict:
    """The map's values: grids (in feature order) coloured by community or by the community's band status."""
    plan = session.plan
    labels = plan.base if base else plan.labels
    table = band_table(plan, base=base)
    lab = labels.reindex(grid_ids)  # grids outside every community: no data
    values = plan.units["households"].reindex(grid_ids).to_numpy(dtype="float64")
    status_lbl = {s: t(f"pl.status.{s}", lang) for s in BAND_ORDER}
    counts = table["status"].value_counts()
    band_legend = [{"color": BAND_COLORS[s], "label": status_lbl[s], "count": int(counts.get(s, 0))} for s in BAND_ORDER
                   if s != "not_assessed" or counts.get(s, 0)]
    if mode == "status":
        lut = {s: i for i, s in enumerate(BAND_ORDER)}
        st = lab.map(table["status"])
        classes = np.array([lut.get(s, -1) if isinstance(s, str) else -1 for s in st], dtype="int64")
        palette = [BAND_COLORS[s] for s in BAND_ORDER]
        labels_out = [status_lbl[s] for s in BAND_ORDER]
    else:
        comms = list(table.index)
        lut = {c: i for i, c in enumerate(comms)}
        classes = np.array([lut.get(c, -1) if isinstance(c, str) else -1 for c in lab], dtype="int64")
        palette = [PALETTE[session.color_of(c) % len(PALETTE)] for c in comms]
        labels_out = [f"{table.at[c, 'name']} · {_hh_text(table.at[c, 'households'], lang)} · "
                      f"{status_lbl[table.at[c, 'status']]}" for c in comms]
    version = f"{'base' if base else len(plan.journal)}|{mode}|{plan.profile.id}|{lang}|{plan.plan_id}"
    return {"url": url, "level": "grid", "version": version, "c": classes.tolist(),
            "v": [None if np.isnan(x) else float(x) for x in values], "palette": palette, "nodata": "#e0e0e0",
            "labels": labels_out, "legend": band_legend}


def compare_rows(plan, lang: str = "zh") -> list[tuple[str, str, str]]:
    """(metric, as-is, plan) rows of the comparison table: :meth:`gridmap.plans.Plan.kpis` of both."""
    b, k = plan.kpis(base=True), plan.kpis()
    na = t("pl.status.not_assessed", lang)

    def cell(v):
        return na if v is None else (f"{v:,}" if isinstance(v, int) else v)

    def in_band(x):
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
        rows.insert(3, (t("pl.status.not_assessed", lang), cell(b["size_not_assessed"]), cell(k["size_not_assessed"])))
    return rows


def run_edit(session: PlanSession, action: str, *, selection: list[str], target=None, community=None, k=2,
             communities=None, time_limit=10.0, lang="zh", provider: DashboardProvider | None = None
             ) -> tuple[bool, list[str]]:
    """Apply one action of the page to the session's plan; returns (changed, message lines).

    ``rebalance`` runs the solver through ``provider`` (:meth:`DashboardProvider.rebalance`)."""
    plan = session.plan
    with session.lock:
        if action in ("move", "create") and not selection:
            return False, [t("pl.need.selection", lang)]
        if action == "move":
            if not target:
                return False, [t("pl.need.target", lang)]
            res = plan.move(selection, str(target))
        elif action == "create":
            res = plan.create(selection)
        elif action == "split":
            if not community:
                return False, [t("pl.need.community", lang)]
            res = plan.split(str(community), int(k or 2))
        elif action == "merge":
            if not communities or len(communities) < 2:
                return False, [t("pl.need.two", lang)]
            res = plan.merge([str(c) for c in communities])
        elif action == "undo":
            res = plan.undo()
        elif action == "redo":
            res = plan.redo()
        elif action == "rebalance":
            if provider is None:
                return False, [t("pl.nothing", lang)]
            return False, _rebalance(session, provider, time_limit, lang)
        elif action == "apply":
            if session.pending is None or session.pending[0] != len(plan.journal):
                session.pending = None
                return False, [t("pl.rb.stale", lang)]
            res = plan.apply(session.pending[1])
            session.pending = None
            return True, [t("pl.rb.applied", lang, n=len(res.changes))]
        else:
            return False, [t("pl.nothing", lang)]
        if res is None:
            return False, [t("pl.nothing", lang)]
        op = t(f"pl.op.{res.op}", lang)
        if not res.ok:
            return False, [t("pl.refused", lang, op=op), *res.reasons]
        session.pending = None
        return True, [t("pl.done", lang, op=op, n=len(res.changes)), *res.warnings]


def _rebalance(session: PlanSession, provider: DashboardProvider, time_limit, lang) -> list[str]:
    plan = session.plan
    if plan.band is None:
        session.pending = None
        return [t("pl.band.none", lang, profile=plan.profile.id)]
    rb = provider.rebalance(plan, time_limit=float(time_limit or 10))
    if rb.status_ == "no_violations":
        session.pending = None
        return [t("pl.rb.none", lang)]
    edit = rb.to_edit()
    session.pending = (len(plan.journal), edit) if edit.changes else None
    return [t("pl.rb.result", lang, status=rb.status_, units=rb.units_moved_, hh=int(rb.households_moved_),
              left=rb.violations_after_, s=rb.seconds_), *rb.explanations_]


def _exported(plan, fmt: str, name: str) -> bytes:
    """One file of :meth:`gridmap.plans.Plan.export`, as bytes (written to a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="gridmap-export-") as tmp:
        files = plan.export(tmp, formats=(fmt,))
        return Path(files[name]).read_bytes()


def export_xlsx(plan) -> bytes:
    """The change list (单元编码, 原社区, 新社区, 户数 …) as XLSX."""
    return _exported(plan, "xlsx", "changes.xlsx")


def export_gpkg(plan) -> bytes:
    """The plan's communities (dissolved grids) with their size status under the plan's profile, as a GeoPackage."""
    return _exported(plan, "gpkg", "communities.gpkg")


# ---------------------------------------------------------------------- layout
def band_text(plan, lang: str) -> str:
    """The plan's band and profile, e.g. ``1,000–3,000 户（规则配置 national …）``."""
    band = plan.band
    if band is None:
        return t("pl.band.none", lang, profile=plan.profile.id)
    return t("pl.band.value", lang, band=band.label(lang), profile=plan.profile.id)


def _in_band_card(plan, k: dict, lang: str) -> tuple[str, str, str]:
    if k["in_band"] is None or k["size_not_assessed"] == k["communities"]:
        return "in_band", t("pl.status.not_assessed", lang), t("pl.kpi.in_band.na", lang, profile=plan.profile.id)
    key = "pl.kpi.in_band.partial" if k["size_not_assessed"] else "pl.kpi.in_band.note"
    return "in_band", f"{k['in_band']}/{k['communities']}", t(key, lang, small=k["too_small"], large=k["too_large"],
                                                                na=k["size_not_assessed"], band=plan.band.label(lang),
                                                                profile=plan.profile.id)


def _kpi_cards(plan, lang: str) -> list:
    k = plan.kpis()
    total = "—" if k["households_total"] is None else f"{k['households_total']:,}"
    cards = [
        _in_band_card(plan, k, lang),
        ("units_moved", f"{k['units_moved']:,}", t("pl.kpi.units_moved.note", lang, n=k["edits"])),
        ("households_moved", f"{k['households_moved']:,}", t("pl.kpi.households_moved.note", lang, n=total)),
        ("contiguity", f"{k['non_contiguous']}", t("pl.kpi.contiguity.note", lang)),
    ]
    return [html.Div([html.Div(t(f"pl.kpi.{key}", lang), className="gm-kpi-label"),
                      html.Div(value, className="gm-kpi-value", id=f"pl-kpi-{key}"),
                      html.Div(note, className="gm-kpi-note")], className="gm-kpi") for key, value, note in cards]


def _legend(items: list[dict], mode: str):
    if mode == "status":
        return legend(items)
    return html.Div(" · ".join(f"{it['label']} {it['count']:,}" for it in items), className="gm-legend gm-muted")


def _table(head: list[str], rows: list, id_: str) -> html.Table:
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                       html.Tbody([html.Tr([html.Td(str(c)) for c in r]) for r in rows])], className="gm-table", id=id_)


def _button(id_, label, **kw):
    return html.Button(label, id=id_, n_clicks=0, className="gm-button", **kw)


def layout(provider: DashboardProvider, lang: str, query: dict | None = None) -> html.Div:
    box = {"display": "flex", "gap": "6px", "alignItems": "center", "flexWrap": "wrap", "margin": "4px 0"}
    tools = html.Div([
        html.Div(t("pl.hint", lang), className="gm-muted"),
        html.Div(id=ID.PL_SEL_INFO, className="gm-note"),
        html.Div([dcc.Dropdown(id=ID.PL_MOVE_TO, placeholder=t("pl.move_to", lang), style={"minWidth": "220px"}),
                  _button(ID.PL_MOVE, t("pl.move", lang)), _button(ID.PL_CREATE, t("pl.create", lang)),
                  _button(ID.PL_CLEAR, t("pl.clear", lang))], style=box),
        html.Div([html.Label(t("pl.split", lang)),
                  dcc.Dropdown(id=ID.PL_SPLIT_COMM, style={"minWidth": "180px"}),
                  dcc.Input(id=ID.PL_SPLIT_K, type="number", min=2, max=8, step=1, value=2, style={"width": "48px"}),
                  html.Span(t("pl.split.k", lang)),
                  _button(ID.PL_SPLIT, t("pl.split.go", lang))], style=box),
        html.Div([html.Label(t("pl.merge", lang)),
                  dcc.Dropdown(id=ID.PL_MERGE_COMMS, multi=True, style={"minWidth": "260px"}),
                  _button(ID.PL_MERGE, t("pl.merge.go", lang))], style=box),
        html.Div([_button(ID.PL_UNDO, "↶ " + t("pl.undo", lang)), _button(ID.PL_REDO, "↷ " + t("pl.redo", lang)),
                  _button(ID.PL_RESET, t("pl.reset", lang))], style=box),
        html.Div(id=ID.PL_MESSAGE, className="gm-plan-message"),
        html.H4(t("pl.rb", lang)),
        html.Div([html.Label(t("pl.band", lang)), html.Span(id=ID.PL_BAND, className="gm-note")], style=box),
        html.Div([html.Label(t("pl.rb.time", lang)),
                  dcc.Input(id=ID.PL_RB_TIME, type="number", value=10, min=1, max=300, step=1, style={"width": "56px"}),
                  _button(ID.PL_RB_RUN, t("pl.rb.run", lang)), _button(ID.PL_RB_APPLY, t("pl.rb.apply", lang), disabled=True)],
                 style=box),
        dcc.Loading(html.Div(id=ID.PL_RB_RESULT, className="gm-muted"), type="dot"),
        html.H4(t("pl.save", lang)),
        html.Div([dcc.Input(id=ID.PL_NAME, type="text", placeholder=t("pl.name", lang), style={"width": "160px"}),
                  _button(ID.PL_SAVE, t("pl.save", lang)),
                  dcc.Dropdown(id=ID.PL_SAVED, placeholder=t("pl.saved", lang), style={"minWidth": "180px"}),
                  _button(ID.PL_LOAD, t("pl.load", lang))], style=box),
        html.Div(t("pl.workspace", lang, path=str(provider.workspace or "…")), id=ID.PL_WORKSPACE, className="gm-muted"),
        html.Div([_button(ID.PL_EXPORT_XLSX, t("pl.export.xlsx", lang)), _button(ID.PL_EXPORT_GPKG, t("pl.export.gpkg", lang)),
                  dcc.Download(id=ID.PL_DOWNLOAD)], style=box),
    ], className="gm-col gm-col-detail")
    color = dcc.RadioItems(id=ID.PL_COLOR, value="community", inline=True, persistence=True, persistence_type="session",
                           options=[{"value": "community", "label": t("pl.color.community", lang)},
                                    {"value": "status", "label": t("pl.color.status", lang)}])
    return html.Div([
        dcc.Store(id=ID.PL_SESSION, storage_type="session", data=uuid.uuid4().hex),
        dcc.Store(id=ID.PL_REV, data=0), dcc.Store(id=ID.PL_SELECTION, data={"units": [], "index": []}),
        dcc.Store(id=f"{map_ids(PAGE).div}-selected"),
        html.Div(id=ID.PL_KPIS, className="gm-kpis"),
        html.Div([
            html.Div([html.Div([html.H3(t("pl.map.plan", lang), style={"margin": "0 12px 0 0"}),
                                html.Label(t("pl.color", lang)), color], className="gm-controls"),
                      map_view(PAGE, basemap=provider.basemap, attribution=provider.basemap_attribution, height="520px"),
                      html.Div(id=ID.PL_LEGEND)], className="gm-col gm-col-map"),
            tools,
        ], className="gm-row"),
        html.Div([
            html.Div([html.H3(t("pl.map.base", lang)),
                      map_view(BASE, basemap=provider.basemap, attribution=provider.basemap_attribution, height="380px"),
                      html.Div(id=ID.PL_BASE_LEGEND)], className="gm-col gm-col-map"),
            html.Div([html.H3(t("pl.compare", lang)), html.Div(id=ID.PL_COMPARE),
                      html.H3(t("pl.changes", lang)), html.Div(id=ID.PL_CHANGES)], className="gm-col gm-col-detail"),
        ], className="gm-row"),
    ], className="gm-page", id="page-plans")


# ---------------------------------------------------------------------- callbacks
_ACTIONS = {ID.PL_MOVE: "move", ID.PL_CREATE: "create", ID.PL_SPLIT: "split", ID.PL_MERGE: "merge",
            ID.PL_UNDO: "undo", ID.PL_REDO: "redo", ID.PL_RB_RUN: "rebalance", ID.PL_RB_APPLY: "apply"}


def register(app, provider: DashboardProvider) -> None:
    store = PlanStore(provider)
    app.plan_store = store  # for tests and tools; one store per app (no global state)
    ids, base_ids = map_ids(PAGE), map_ids(BASE)
    register_map(app, PAGE)
    register_map(app, BASE)
    app.clientside_callback(ClientsideFunction(namespace="gridmap", function_name="selection"),
                            Output(f"{ids.div}-selected", "data"), Input(ID.PL_SELECTION, "data"), State(ids.div, "id"))

    @app.callback(Output(ID.PL_SELECTION, "data"), Input(ids.click, "data"), Input(ID.PL_CLEAR, "n_clicks"),
                  State(ID.PL_SELECTION, "data"), prevent_initial_call=True)
    def _select(click, _clear, sel):
        if ctx.triggered_id == ID.PL_CLEAR or not click:
            return {"units": [], "index": []}
        units, index = list((sel or {}).get("units", [])), list((sel or {}).get("index", []))
        uid = str(click["unit_id"])
        if uid in units:
            i = units.index(uid)
            units.pop(i)
            index.pop(i)
        else:
            units.append(uid)
            index.append(int(click["index"]))
        return {"units": units, "index": index}

    @app.callback(Output(ID.PL_REV, "data"), Output(ID.PL_MESSAGE, "children"), Output(ID.PL_RB_RESULT, "children"),
                  Output(ID.PL_SELECTION, "data", allow_duplicate=True), Output(ID.PL_NAME, "value"),
                  [Input(k, "n_clicks") for k in (*_ACTIONS, ID.PL_SAVE, ID.PL_LOAD, ID.PL_RESET)],
                  State(ID.PL_SESSION, "data"), State(ID.PL_SELECTION, "data"), State(ID.PL_MOVE_TO, "value"),
                  State(ID.PL_SPLIT_COMM, "value"), State(ID.PL_SPLIT_K, "value"), State(ID.PL_MERGE_COMMS, "value"),
                  State(ID.PROFILE, "value"), State(ID.PL_RB_TIME, "value"),
                  State(ID.PL_NAME, "value"), State(ID.PL_SAVED, "value"), State(ID.PL_REV, "data"),
                  State(ID.LANG, "value"), prevent_initial_call=True)
    def _act(*args):
        (sid, sel, target, community, k, communities, profile, seconds, name, saved, rev, lang) = args[-12:]
        lang = lang or "zh"
        trig = ctx.triggered_id
        session = store.get(sid, profile)
        rev = (rev or 0) + 1
        keep = no_update
        if trig == ID.PL_SAVE:
            with session.lock:
                try:
                    if name:
                        session.plan.name = str(name).strip()
                    path = session.plan.save(provider.plans_workspace())
                except ValueError as exc:
                    return rev, html.Div(str(exc), className="gm-error"), no_update, keep, no_update
                return rev, t("pl.saved.ok", lang, name=session.plan.name, path=path), no_update, keep, session.plan.name
        if trig == ID.PL_LOAD:
            if not saved:
                return no_update, t("pl.need.saved", lang), no_update, keep, no_update
            try:
                s = store.load(sid, saved, profile)
            except (KeyError, ValueError) as exc:
                return rev, html.Div(str(exc), className="gm-error"), no_update, keep, no_update
            empty = {"units": [], "index": []}
            return rev, t("pl.loaded", lang, name=s.plan.name, n=len(s.plan.journal)), "", empty, s.plan.name
        if trig == ID.PL_RESET:
            store.reset(sid, profile)
            return rev, t("pl.reset.ok", lang), "", {"units": [], "index": []}, ""
        action = _ACTIONS.get(trig)
        changed, lines = run_edit(session, action, selection=(sel or {}).get("units", []), target=target,
                                  community=community, k=k, communities=communities,
                                  time_limit=seconds, lang=lang, provider=provider)
        msg = html.Div([html.Div(x) for x in lines], className="gm-ok" if changed else "gm-error")
        if action == "rebalance":
            return rev, no_update, msg, keep, no_update
        if changed and action in ("move", "create"):
            keep = {"units": [], "index": []}
        return rev, msg, "" if action == "apply" else no_update, keep, no_update

    @app.callback(Output(ids.values, "data"), Output(base_ids.values, "data"), Output(ID.PL_KPIS, "children"),
                  Output(ID.PL_LEGEND, "children"), Output(ID.PL_BASE_LEGEND, "children"),
                  Output(ID.PL_COMPARE, "children"), Output(ID.PL_CHANGES, "children"),
                  Output(ID.PL_UNDO, "disabled"), Output(ID.PL_REDO, "disabled"), Output(ID.PL_RB_APPLY, "disabled"),
                  Output(ID.PL_SPLIT_COMM, "options"), Output(ID.PL_MERGE_COMMS, "options"),
                  Output(ID.PL_SAVED, "options"), Output(ID.PL_WORKSPACE, "children"), Output(ID.PL_BAND, "children"),
                  Input(ID.PL_REV, "data"), Input(ID.PL_SESSION, "data"), Input(ID.PL_COLOR, "value"),
                  Input(ID.PROFILE, "value"), Input(ID.LANG, "value"))
    def _render(_rev, sid, mode, profile, lang):
        lang, mode = lang or "zh", mode or "community"
        session = store.get(sid, profile or None)
        url = geo_url(app, provider, "grid")
        grid_ids = provider.ids("grid")
        with session.lock:
            plan = session.plan
            payload = plan_payload(session, grid_ids, url, mode=mode, lang=lang)
            base = plan_payload(session, grid_ids, url, base=True, mode=mode, lang=lang)
            kpis = _kpi_cards(plan, lang)
            compare = _table([t("pl.compare.metric", lang), t("pl.map.base", lang), t("pl.map.plan", lang)],
                             compare_rows(plan, lang), "pl-compare-table")
            band = band_text(plan, lang)
            ch = plan.changes()
            changes = (_table([t("pl.col.unit", lang), t("pl.col.from", lang), t("pl.col.to", lang), t("col.households", lang)],
                              [(r.unit_name, r.from_name, r.to_name, f"{int(r.households):,}") for r in ch.head(200).itertuples()],
                              "pl-changes-table") if len(ch) else html.Div(t("pl.changes.none", lang), className="gm-muted"))
            table = band_table(plan)
            options = [{"value": c, "label": f"{r['name']} ({_hh_text(r['households'], lang)})"} for c, r in table.iterrows()
                       if r["units"] > 0]
            pending = session.pending is not None and session.pending[0] == len(plan.journal)
            undo, redo = not plan.can_undo, not plan.can_redo
        saved = [{"value": n, "label": n} for n in store.saved()["name"].astype(str)]
        ws = t("pl.workspace", lang, path=str(provider.plans_workspace()))
        return (payload, base, kpis, _legend(payload["legend"], mode), _legend(base["legend"], mode), compare, changes,
                undo, redo, not pending, options, options, saved, ws, band)

    @app.callback(Output(ID.PL_SEL_INFO, "children"), Output(ID.PL_MOVE_TO, "options"), Output(ID.PL_MOVE_TO, "value"),
                  Input(ID.PL_SELECTION, "data"), Input(ID.PL_REV, "data"), Input(ID.PL_SESSION, "data"),
                  Input(ID.LANG, "value"), State(ID.PL_MOVE_TO, "value"))
    def _selection(sel, _rev, sid, lang, current):  # the plan's profile does not matter for a selection
        lang = lang or "zh"
        units = (sel or {}).get("units", [])
        if not units:
            return t("pl.selection.none", lang), [], None
        session = store.get(sid)
        with session.lock:
            plan = session.plan
            known = [u for u in units if u in plan.units.index]
            hh = int(plan.units["households"].reindex(known).sum())
            names = plan.units["name"].reindex(known).astype(str).tolist() if "name" in plan.units.columns else known
            targets = neighbours(plan, known)
            opts = [{"value": c, "label": plan.community_name(c)} for c in targets]
        shown = "、".join(names[:6]) + ("…" if len(names) > 6 else "")
        value = current if current in targets else (targets[0] if len(targets) == 1 else None)
        return t("pl.selection", lang, n=len(units), hh=hh, names=shown), opts, value

    @app.callback(Output(ID.PL_DOWNLOAD, "data"), Input(ID.PL_EXPORT_XLSX, "n_clicks"), Input(ID.PL_EXPORT_GPKG, "n_clicks"),
                  State(ID.PL_SESSION, "data"), State(ID.PROFILE, "value"), prevent_initial_call=True)
    def _export(_x, _g, sid, profile):
        session = store.get(sid, profile)
        with session.lock:
            plan = session.plan
            stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in plan.name) or "plan"
            if ctx.triggered_id == ID.PL_EXPORT_XLSX:
                return dcc.send_bytes(export_xlsx(plan), f"{stem}-changes.xlsx")
            return dcc.send_bytes(export_gpkg(plan), f"{stem}-communities.gpkg")
