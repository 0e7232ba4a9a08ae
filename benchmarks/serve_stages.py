"""Where each request's time goes in ``bench_serve.py``'s server (``--stages``, on by default).

Measured inside the server child: each callback request's wall time and its own processor time
(its thread's CPU), waiting for a turn of plan work and computing under it, writing its draft
(the group commit, waiting for other tabs' drafts included) and reading the workspace's
listings (saved plans, drafts); ``rest`` is what is left: waiting for the processor (other
threads, the GIL) outside those. Bench-only: it wraps the server's objects in place.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

#: where each request's time went, measured in the server child (``--stages``): its own
#: waiting for its turn to run (``dashboards.server.Admission``), its own processor time (this
#: thread's CPU), waiting for a turn of plan work, computing under it,
#: writing its draft (the group commit, waiting for other tabs' drafts included) and of that
#: the batch commit this thread wrote itself, reading the workspace's listings (saved plans,
#: drafts)
STAGES = ("wall", "queue", "cpu", "turn_wait", "turn_held", "draft", "commit", "listing")


def instrument(app, provider, label: Callable[[dict], str], path: str) -> None:
    """Time every request's stages in this process; ``GET /_bench/stages`` returns them.

    Bench-only (the server child of ``--stages``): wraps the plan store's turn, draft writes
    and listings, and measures each callback request's (POSTs to ``path``, named by ``label``
    from their body) wall time and its thread's processor time.
    """
    import flask

    import dashboards.provider.plans as plan_store
    from dashboards.provider.listings import WorkspaceListings
    from gridmap.plans.draft_tables import GeoPackageDrafts

    local = threading.local()
    rows: list[dict] = []
    batches: list[dict] = []  #: every group commit: drafts in it, its wall and CPU time
    lock = threading.Lock()

    def add(stage: str, seconds: float) -> None:
        if getattr(local, "row", None) is not None:
            local.row[stage] = local.row.get(stage, 0.0) + seconds

    class TimedTurn:
        """The store's turns, timed where a thread first enters them (they are re-entrant)."""

        def __init__(self, inner) -> None:
            self.inner = inner

        def __enter__(self):
            depth = getattr(local, "depth", 0)
            t0 = time.perf_counter()
            self.inner.__enter__()
            if depth == 0:
                local.held = time.perf_counter()
                add("turn_wait", local.held - t0)
            local.depth = depth + 1
            return self

        def __exit__(self, *exc):
            local.depth -= 1
            if local.depth == 0:
                add("turn_held", time.perf_counter() - local.held)
            return self.inner.__exit__(*exc)

        def __deepcopy__(self, memo):
            return self

    store = provider.plan_sessions
    store.work = TimedTurn(store.work)
    write = plan_store.write_draft

    def timed_write(*a, **k):
        t0 = time.perf_counter()
        try:
            return write(*a, **k)
        finally:
            add("draft", time.perf_counter() - t0)

    plan_store.write_draft = timed_write
    get = WorkspaceListings._get

    def timed_get(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return get(self, *a, **k)
        finally:
            add("listing", time.perf_counter() - t0)

    WorkspaceListings._get = timed_get
    commit = GeoPackageDrafts.write

    def timed_commit(self, rows_, *a, **k):
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return commit(self, rows_, *a, **k)
        finally:
            wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
            add("commit", wall)
            with lock:
                batches.append({"drafts": len(rows_), "wall": wall, "cpu": cpu})

    GeoPackageDrafts.write = timed_commit
    server = app.server

    @server.before_request
    def _start() -> None:
        local.row = {"t0": time.perf_counter(), "c0": time.thread_time()}

    @server.after_request
    def _end(response):
        row = getattr(local, "row", None)
        if row is not None and flask.request.path == path:
            row["wall"] = time.perf_counter() - row.pop("t0")
            row["cpu"] = time.thread_time() - row.pop("c0")
            row["queue"] = flask.g.get("gridmap_queued", 0.0)
            body = flask.request.get_json(silent=True) or {}
            row["label"] = label(body) if "output" in body else "?"
            with lock:
                rows.append(row)
        local.row = None
        return response

    @server.route("/_bench/stages")
    def _stages():
        with lock:
            out = {"requests": list(rows), "batches": list(batches)}
            rows.clear()
            batches.clear()
        return flask.jsonify(out)


def stage_summary(timed: dict | list) -> dict:
    """Per callback, the median of each stage (ms) and ``rest``: waiting for the processor.

    With ``"group commit"``: the draft batches written (how many, drafts per batch, each
    batch's wall and processor time, median and p95).
    """
    rows = timed.get("requests", []) if isinstance(timed, dict) else timed
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["label"], []).append(r)
        if r["label"].startswith("plan edit"):
            by.setdefault("plan edits", []).append(r)
    out: dict[str, dict] = {}
    for name, rs in sorted(by.items()):
        med = {s: round(statistics.median(r.get(s, 0.0) for r in rs) * 1000, 1) for s in STAGES}
        known = med["queue"] + med["cpu"] + med["turn_wait"] + med["draft"] + med["listing"]
        med["rest"] = round(max(med["wall"] - known, 0.0), 1)
        out[name] = {"n": len(rs), **med}
    batches = timed.get("batches", []) if isinstance(timed, dict) else []
    if batches:
        walls = sorted(b["wall"] * 1000 for b in batches)
        out["group commit"] = {
            "batches": len(batches),
            "drafts_per_batch": round(sum(b["drafts"] for b in batches) / len(batches), 2),
            "wall_p50": round(statistics.median(walls), 1),
            "wall_p95": round(walls[min(len(walls) - 1, int(0.95 * len(walls)))], 1),
            "cpu_p50": round(statistics.median(b["cpu"] * 1000 for b in batches), 1),
        }
    return out


def print_stages(run: dict) -> None:
    """Where the plan work's time went under load and alone (medians per callback, ms)."""
    for when, table in run.get("stages", {}).items():
        rows = {k: v for k, v in table.items() if k.startswith(("plan", "gm-map-plans"))}
        if not rows:
            continue
        print(
            f"\n== {run['server']}, {when}: where the plan work's time goes (medians, ms; rest = "
            "waiting for the processor: other threads, the GIL)"
        )
        print(f"{'callback':28} {'n':>5}" + "".join(f" {s:>9}" for s in (*STAGES, "rest")))
        for name, r in rows.items():
            cells = "".join(f" {r[s]:>9}" for s in (*STAGES, "rest"))
            print(f"{name:28} {r['n']:>5}{cells}")
        g = table.get("group commit")
        if g:
            print(
                f"{'draft group commits':28} {g['batches']:>5} batches, "
                f"{g['drafts_per_batch']} drafts each; a batch's commit p50 {g['wall_p50']} ms, "
                f"p95 {g['wall_p95']} ms (its own CPU p50 {g['cpu_p50']} ms)"
            )
