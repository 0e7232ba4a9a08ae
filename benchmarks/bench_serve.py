"""Benchmark: the dashboard under concurrent users, waitress (``gridmap serve``) against Flask's
development server, the same hardened app on 127.0.0.1.

Traffic: the Dash callback POST bodies Chromium sends while a planner logs in and opens every
page (recorded with Playwright from the running server), plus interactions built from the
app's callback map — map recolour (every "colour by" of both levels), unit detail (a map click),
plan edits (move a grid, then undo). Each simulated user logs in to its own editor account
(its own session cookie), opens the Plans page (its own server-issued tab, so edits are real
edits of its own plan), then sends ``--requests`` callbacks, cycling through that mix from a
different start; ``--users`` users at once, with no pause between requests (a closed loop:
the load of many planners clicking at once). Loops are bounded by count and by
``--time-limit`` seconds; every server is a child process on 127.0.0.1 with a fresh workspace,
stopped at the end. ``--mix FILE`` replays saved traffic (recorded and saved when absent), so
runs on different days or code compare like with like.

Reported per callback: count, p50 / p95 / max latency, errors (any non-200 answer or
exception) under load (``callbacks``) and for one user alone after the warm-up, each callback's
own cost without waiting behind other users' requests (``one_user``); the plan edits (move
and undo) together (``plan_edits``: n, p50 / p95 / max, errors); server RSS after start, after a
one-user warm-up, and after the run (psutil);
the first server's p50 / p95 divided by each baseline's of the same run: Flask's development
server, and with ``--before REF`` waitress serving the code of git ``REF`` (e.g. ``main``).

``--servers waitress:T:R``: waitress with T threads, R of them running at once, in the same run.
``--stages`` (default) splits each plan callback's time inside the server (``serve_stages.py``).

    python benchmarks/bench_serve.py [--users 20] [--requests 50] [--time-limit 300] [--json]
                                     [--mix FILE] [--before REF] [--servers waitress,flask-dev]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from serve_stages import instrument, print_stages, stage_summary  # noqa: E402

from dashboards.ids import ID, PAGES, map_ids  # noqa: E402
from dashboards.testing import callback_body  # noqa: E402

PASSWORD = "bench-password-1"
UPDATE = "/_dash-update-component"
SERVERS = ("waitress", "flask-dev")
#: issue #19: every callback p50 at most this under 20 users
TARGET_P50_MS = 200
#: issue #13: plan edits (move, undo) p95 at most this under 20 users
TARGET_EDIT_P95_MS = 500


# ------------------------------------------------------------------------------ child server
def serve_child(kind: str, port: int, workspace: str, stages: bool = False) -> None:
    """Run in the child process: the demo dashboard, hardened, on ``kind`` (never returns).

    Prepared as ``gridmap serve`` prepares it (:func:`gridmap.cli.serve.warm`: the check, the
    map tiles, the forecast) and with its serving settings (threads, requests running at once;
    ``waitress:T:R``: T threads of which R run at once, :func:`server_name`).
    """
    kind, *shape = kind.split(":")
    from dashboards.app import create_app
    from dashboards.auth import AccountStore, Gate, SessionStore
    from dashboards.provider import DashboardProvider
    from dashboards.server import ServeSettings, protect, serve

    provider = DashboardProvider.from_config(None, workspace=workspace)
    app = create_app(provider)
    try:
        from gridmap.cli.serve import warm
    except ImportError:  # an older tree (--before) without it: what its benchmark warmed
        provider.result()
        for level in ("community", "grid"):
            provider.geojson(level)
    else:
        warm(provider, time.perf_counter(), tiles=app.server.extensions.get("gridmap_study_tiles"))
    settings = ServeSettings(host="127.0.0.1", port=port)
    if shape:
        running = int(shape[1]) if len(shape) > 1 else settings.running
        settings = ServeSettings(
            host="127.0.0.1", port=port, threads=int(shape[0]), running=running
        )
    protect(app, settings, Gate(settings.auth, AccountStore(workspace), SessionStore()))
    if stages:
        instrument(app, provider, label, UPDATE)
    if kind == "waitress":
        serve(app, settings)
    else:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app.server.run(host="127.0.0.1", port=port, threaded=True)


def server_name(kind: str) -> str:
    """How a run is named in the report: ``waitress:24:1`` is ``waitress 24 threads, 1 running``.

    ``waitress:T`` and ``waitress:T:R``: waitress with T worker threads (R of them running the
    app at once; the server's default when not given).
    """
    kind, *shape = kind.split(":")
    if not shape:
        return kind
    return f"{kind} {shape[0]} threads" + (f", {shape[1]} running" if len(shape) > 1 else "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A child process serving the dashboard; stopped on exit."""

    def __init__(self, kind: str, workspace: Path, root: Path = ROOT, stages: bool = False) -> None:
        self.kind, self.port = kind, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = root / "benchmarks" / Path(__file__).name  # a --before tree serves its own code
        cmd = [sys.executable, str(script), "--serve-only", kind, "--port", str(self.port)]
        cmd += ["--workspace", str(workspace)] + (["--stages"] if stages else [])
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/_gridmap/login", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.3)
            if self.proc.poll() is not None:
                raise RuntimeError(
                    self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ""
                )
        self.stop()
        raise RuntimeError(f"{kind} did not start within 120 s")

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def workspace_with_accounts(users: int) -> Path:
    """A fresh plans workspace with the editor ``bench`` and one editor per simulated user.

    One account per user, as in a street office: each planner's unsaved drafts count against
    their own limit (20 per user), and no run inherits another run's drafts.
    """
    from dashboards.auth import AccountStore

    workspace = Path(tempfile.mkdtemp(prefix="gridmap-bench-serve-")) / "plans.gpkg"
    accounts = AccountStore(workspace)
    for name in ["bench", *(user_name(n) for n in range(users))]:
        accounts.add(name, PASSWORD, role="editor")
    return workspace


def user_name(n: int) -> str:
    """The account of simulated user ``n``."""
    return f"bench{n:02d}"


def login(url: str, name: str = "bench") -> requests.Session:
    s = requests.Session()
    r = s.post(url + "/_gridmap/login", data={"name": name, "password": PASSWORD}, timeout=60)
    r.raise_for_status()
    return s


# ------------------------------------------------------------------------------ traffic
def record(url: str) -> list[dict]:
    """The callback bodies Chromium POSTs while logging in and opening every page."""
    from playwright.sync_api import sync_playwright

    from dashboards.testing import launch_chromium

    bodies: list[dict] = []

    def keep(req) -> None:
        if req.method == "POST" and urlsplit(req.url).path == UPDATE:
            bodies.append(json.loads(req.post_data))

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        page.goto(url + "/_gridmap/login")
        page.fill("#name", "bench")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        page.on("request", keep)
        for path in PAGES.values():
            page.goto(url + path)
            page.wait_for_load_state("networkidle", timeout=120_000)  # slow on a busy machine
            page.wait_for_timeout(1500)
        browser.close()
    return bodies


def interactions(deps: list[dict]) -> list[dict]:
    """Map recolours, unit details and plan edits (move + undo) built from the callback map."""
    from dashboards.provider import DashboardProvider
    from dashboards.provider.plan_views import neighbours
    from gridmap.plans import Plan

    provider = DashboardProvider.from_config(None)
    base = {f"{ID.PROFILE}.value": "national", f"{ID.LANG}.value": "zh"}
    out = []
    cm = map_ids("map")
    for level in ("community", "grid"):
        for opt in provider.color_options(level, "national", "zh")[:8]:
            v = {**base, f"{ID.CM_LEVEL}.value": level, f"{ID.CM_COLOR_BY}.value": opt["value"]}
            out.append(callback_body(deps, f"{ID.CM_COLOR_BY}.value", v))
        for i, uid in enumerate(provider.ids(level)[:6]):
            click = {"index": i, "unit_id": str(uid), "level": level, "ts": i}
            out.append(callback_body(deps, f"{cm.click}.data", {**base, f"{cm.click}.data": click}))
    plan = Plan.from_check(provider.result())
    moves = []
    for i, uid in enumerate(provider.ids("grid")):
        for target in neighbours(plan, [uid]):
            if plan.move([uid], target).ok:
                plan.undo()
                moves.append((i, str(uid), target))
                break
        if len(moves) == 4:
            break
    plan_base = {**base, f"{ID.PL_RB_TIME}.value": 10, f"{ID.PL_SPLIT_K}.value": 2}
    for i, uid, target in moves:
        sel = {"units": [uid], "index": [i]}
        v = {**plan_base, f"{ID.PL_SELECTION}.data": sel, f"{ID.PL_MOVE_TO}.value": target}
        out.append(
            callback_body(deps, f"{ID.PL_MOVE}.n_clicks", {**v, f"{ID.PL_MOVE}.n_clicks": 1})
        )
        out.append(
            callback_body(deps, f"{ID.PL_UNDO}.n_clicks", {**v, f"{ID.PL_UNDO}.n_clicks": 1})
        )
    return out


def label(body: dict) -> str:
    """A readable name of the callback a body calls."""
    out, changed = body["output"], (body.get("changedPropIds") or [""])[0]
    if f"{ID.PAGE}.children" in out:
        return "page (route)"
    if f"{ID.CM_LEGEND}.children" in out:
        return "map recolour"
    if f"{ID.CM_DETAIL}.children" in out:
        return "detail"
    if f"{ID.PL_REV}.data" in out:
        return "plan edit: " + changed.partition(".")[0].removeprefix("pl-")
    first = out.strip(".").split("...")[0]
    return first.rpartition(".")[0] or first


def for_user(body: dict, session: str) -> dict:
    """The body with the user's own plan tab id (in inputs and state)."""

    def mine(items: list[dict]) -> list[dict]:
        return [{**i, "value": session} if i.get("id") == ID.PL_SESSION else i for i in items]

    return {**body, "inputs": mine(body.get("inputs", [])), "state": mine(body.get("state", []))}


def _store_data(tree: object, cid: str) -> object:
    """The ``data`` of the component ``cid`` anywhere in a Dash layout (None when absent)."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("id") == cid:
            return props.get("data")
        return next((d for v in tree.values() if (d := _store_data(v, cid)) is not None), None)
    if isinstance(tree, list):
        return next((d for v in tree if (d := _store_data(v, cid)) is not None), None)
    return None


def open_tab(s: requests.Session, url: str, deps: list[dict]) -> str:
    """Open the Plans page as the logged-in user; the tab id the server issued to this tab.

    Every simulated user edits its own plan: the id is signed for the user, so a made-up
    one would only be refused (and measure the refusal, not the edit).
    """
    values: dict[str, object] = {f"{ID.URL}.pathname": PAGES["plans"], f"{ID.LANG}.value": "zh"}
    body = callback_body(deps, f"{ID.URL}.pathname", values)
    r = s.post(url + UPDATE, json=body, timeout=60)
    r.raise_for_status()
    sid = _store_data(r.json(), str(ID.PL_SESSION))
    if not isinstance(sid, str) or not sid:
        raise RuntimeError("the Plans page issued no tab id")
    return sid


# ------------------------------------------------------------------------------ load
def run_load(
    url: str, deps: list[dict], mix: list[dict], users: int, per_user: int, limit: float
) -> list[tuple]:
    """Every user logs in, opens a Plans tab, sends ``per_user`` callbacks; (label, seconds, ok)."""
    results: list[tuple] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + limit

    def user(n: int) -> None:
        s = login(url, user_name(n))
        sid = open_tab(s, url, deps)
        mine = []
        for k in range(per_user):
            if time.monotonic() > stop_at:
                break
            body = for_user(mix[(n * 7 + k) % len(mix)], sid)
            t0 = time.perf_counter()
            try:
                ok = s.post(url + UPDATE, json=body, timeout=60).status_code in (200, 204)
            except requests.RequestException:
                ok = False
            mine.append((label(body), time.perf_counter() - t0, ok))
        with lock:
            results.extend(mine)

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(user, range(users)))
    return results


def summarise(results: list[tuple]) -> dict:
    by: dict[str, list] = {}
    for name, secs, ok in results:
        by.setdefault(name, []).append((secs, ok))
    by["all"] = [(s, ok) for _, s, ok in results]
    out = {}
    for name, rows in sorted(by.items()):
        times = sorted(s * 1000 for s, _ in rows)
        q = statistics.quantiles(times, n=20, method="inclusive") if len(times) > 1 else times * 19
        out[name] = {
            "n": len(rows),
            "p50_ms": round(statistics.median(times)),
            "p95_ms": round(q[18]),
            "max_ms": round(times[-1]),
            "errors": sum(not ok for _, ok in rows),
        }
    return out


def checkout(ref: str) -> tuple[Path, str]:
    """The tree of git ``ref`` of this repository in a temporary folder, and its short hash."""
    short = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = Path(tempfile.mkdtemp(prefix=f"gridmap-bench-{short}-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree, short


def bench(kind: str, mix_cache: dict, args, root: Path = ROOT, name: str = "") -> dict:
    workspace = workspace_with_accounts(args.users)
    try:
        return _bench(kind, mix_cache, args, root, name, workspace)
    finally:
        shutil.rmtree(workspace.parent, ignore_errors=True)  # the run's own temporary folder


def _bench(kind: str, mix_cache: dict, args, root: Path, name: str, workspace: Path) -> dict:
    stages = args.stages and root == ROOT  # an older tree's benchmark cannot measure them
    with Server(kind, workspace, root, stages=stages) as server:
        rss_start = server.rss_mb()
        s = login(server.url)
        if "deps" not in mix_cache:
            mix_cache["deps"] = s.get(server.url + "/_dash-dependencies", timeout=60).json()
        if "mix" not in mix_cache:
            recorded = record(server.url)
            mix = recorded + interactions(mix_cache["deps"])
            random.Random(0).shuffle(mix)  # each user's run of the cycle meets every kind
            mix_cache["mix"] = mix
            mix_cache["recorded"] = len(recorded)
            if args.mix:
                Path(args.mix).write_text(
                    json.dumps({k: mix_cache[k] for k in ("mix", "recorded")})
                )
        mix, deps = mix_cache["mix"], mix_cache["deps"]
        warm = run_load(server.url, deps, mix, 1, len(mix), args.time_limit)
        rss_warm = server.rss_mb()
        timed = {"alone": [], "load": []}
        if stages:  # the warm-up's timings, dropped
            s.get(server.url + "/_bench/stages", timeout=60)
        # one user alone, warm: each callback's own cost, without waiting for other users'
        alone = run_load(server.url, deps, mix, 1, 2 * len(mix), args.time_limit)
        if stages:
            timed["alone"] = s.get(server.url + "/_bench/stages", timeout=60).json()
        t0 = time.perf_counter()
        results = run_load(server.url, deps, mix, args.users, args.requests, args.time_limit)
        wall = time.perf_counter() - t0
        if stages:
            timed["load"] = s.get(server.url + "/_bench/stages", timeout=60).json()
        rss_end = server.rss_mb()
    return {
        "server": name or kind,
        "wall_s": round(wall, 1),
        "requests": len(results),
        "warmup_errors": sum(not ok for *_, ok in warm),
        "rss_mb": {"start": round(rss_start), "warm": round(rss_warm), "end": round(rss_end)},
        "callbacks": summarise(results),
        "one_user": summarise(alone),
        "slowest": slowest(summarise(results), summarise(alone)),
        "plan_edits": summarise([r for r in results if r[0].startswith("plan edit")]).get(
            "all", {}
        ),
        "stages": {k: stage_summary(v) for k, v in timed.items()} if stages else {},
    }


def slowest(load: dict, alone: dict) -> dict:
    """The callback with the highest p50 under load, its p50 alone, and what dominates it.

    ``"queueing"`` when most of its time under load is waiting behind other users' requests
    (the p50 alone is under half of it), else ``"own cost"`` (the callback's own work).
    """
    name, c = max(((n, c) for n, c in load.items() if n != "all"), key=lambda kv: kv[1]["p50_ms"])
    own = alone.get(name, {}).get("p50_ms")
    dominant = "queueing" if own is not None and own < c["p50_ms"] / 2 else "own cost"
    return {"callback": name, "p50_ms": c["p50_ms"], "alone_p50_ms": own, "dominant": dominant}


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        model = [ln for ln in info.read_text().splitlines() if ln.startswith("model name")]
        cpu = model[0].split(":", 1)[1].strip() if model else cpu
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{cpu}, {os.cpu_count()} cores{load}, Python {platform.python_version()}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--requests", type=int, default=50, help="callbacks per user")
    p.add_argument("--time-limit", type=float, default=300, help="seconds per load run")
    p.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="servers to run, in order (waitress:T[:R]: T worker threads, R of them running)",
    )
    p.add_argument(
        "--mix",
        metavar="FILE",
        help="replay the traffic saved in FILE (JSON); when FILE is absent, record and save it",
    )
    p.add_argument(
        "--before",
        metavar="REF",
        help="also run waitress on the code of git REF (e.g. main), same traffic, same run",
    )
    p.add_argument(
        "--no-stages",
        dest="stages",
        action="store_false",
        help="do not time each request's stages in the server (own CPU, plan turn, draft)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--serve-only", help=argparse.SUPPRESS)
    p.add_argument("--stages", dest="serve_stages", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--workspace", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_only:
        serve_child(args.serve_only, args.port, args.workspace, stages=args.serve_stages)
        return
    mix_cache: dict = {}
    if args.mix and Path(args.mix).exists():
        mix_cache.update(json.loads(Path(args.mix).read_text()))
    runs = [
        bench(kind, mix_cache, args, name=server_name(kind)) for kind in args.servers.split(",")
    ]
    if args.before:
        tree, short = checkout(args.before)
        name = f"waitress@{args.before} ({short})"
        try:
            runs.append(bench("waitress", mix_cache, args, tree, name))
        finally:
            shutil.rmtree(tree, ignore_errors=True)
    report = {
        "date": date.today().isoformat(),
        "machine": _machine(),
        "users": args.users,
        "requests_per_user": args.requests,
        "mix": {"recorded": mix_cache["recorded"], "total": len(mix_cache["mix"])},
        "runs": runs,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(
        f"{report['date']} · {report['machine']} · {args.users} users × {args.requests} callbacks"
    )
    print(
        f"mix: {report['mix']['recorded']} recorded in Chromium + "
        f"{report['mix']['total'] - report['mix']['recorded']} built interactions"
    )
    for run in runs:
        rss = run["rss_mb"]
        print(
            f"\n== {run['server']}: {run['requests']} requests in {run['wall_s']} s; "
            f"RSS {rss['start']} → {rss['warm']} (warm) → {rss['end']} MB"
        )
        print(f"{'callback':28} {'n':>5} {'p50':>7} {'p95':>7} {'max':>7} {'errors':>6}")
        for name, c in run["callbacks"].items():
            print(
                f"{name:28} {c['n']:>5} {c['p50_ms']:>5}ms {c['p95_ms']:>5}ms "
                f"{c['max_ms']:>5}ms {c['errors']:>6}"
            )
    for run in runs:
        w = run["slowest"]
        met = "met" if w["p50_ms"] <= TARGET_P50_MS else "missed"
        print(
            f"\n{run['server']}: slowest callback p50 {w['p50_ms']} ms ({w['callback']}; alone "
            f"{w['alone_p50_ms']} ms; dominated by {w['dominant']}) — every callback p50 ≤ "
            f"{TARGET_P50_MS} ms at {args.users} users (#19): {met}"
        )
    for run in runs:
        e = run["plan_edits"]
        if e:
            met = "met" if e["p95_ms"] <= TARGET_EDIT_P95_MS else "missed"
            print(
                f"{run['server']}: plan edits (move + undo, {e['n']}) p50 {e['p50_ms']} ms, "
                f"p95 {e['p95_ms']} ms — p95 ≤ {TARGET_EDIT_P95_MS} ms at {args.users} users "
                f"(#13): {met}"
            )
    for run in runs:
        print_stages(run)
    print("\n== one user alone (warm), p50 per callback: its own cost without queueing")
    print(f"{'callback':28}" + "".join(f" {run['server']:>26}" for run in runs))
    for name in runs[0]["one_user"]:
        cells = "".join(
            f" {run['one_user'].get(name, {}).get('p50_ms', '—'):>24}ms" for run in runs
        )
        print(f"{name:28}{cells}")
    if len(runs) > 1:
        print_ratios(runs)


def print_ratios(runs: list[dict]) -> None:
    """p50 and p95 of the first run against each other run of the same invocation (baselines)."""
    first, others = runs[0], runs[1:]
    print(f"\n== {first['server']} against the baselines of this run (its time ÷ theirs)")
    head = "".join(f" {'÷ ' + o['server']:>26}" for o in others)
    print(f"{'callback':28} {'p50':>7} {'p95':>7}{head}")
    for name, c in first["callbacks"].items():
        cells = ""
        for o in others:
            b = o["callbacks"].get(name)
            cells += (
                f" {c['p50_ms'] / max(b['p50_ms'], 1):>11.2f} p50 {c['p95_ms'] / max(b['p95_ms'], 1):>6.2f} p95"
                if b
                else f" {'—':>26}"
            )
        print(f"{name:28} {c['p50_ms']:>5}ms {c['p95_ms']:>5}ms{cells}")


if __name__ == "__main__":
    main()
