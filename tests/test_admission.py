"""The serving gate (dashboards.server.Admission): a few requests run at once, the rest in order."""

from __future__ import annotations

import threading
import time

import flask
import pytest

from dashboards.server import DEFAULT_RUNNING, Admission, ServeSettings, settings_from_config


def test_waiting_requests_get_their_turn_in_order_of_arrival():
    gate = Admission(1, patience=30)
    assert gate.enter()
    order: list[str] = []

    def request(name: str) -> None:
        assert gate.enter()
        order.append(name)
        gate.leave()

    threads = []
    for name in "abcd":
        th = threading.Thread(target=request, args=(name,))
        th.start()
        threads.append(th)
        time.sleep(0.15)  # each arrives after the one before is waiting
    assert order == []  # nobody ran while the turn was held
    gate.leave()
    for th in threads:
        th.join(10)
    assert order == list("abcd")


def test_a_request_runs_without_a_turn_after_its_patience():
    gate = Admission(1, patience=0.05)
    assert gate.enter()
    t0 = time.perf_counter()
    assert gate.enter() is False  # waited, then runs anyway
    assert 0.04 <= time.perf_counter() - t0 < 5
    gate.leave()  # the turn is free again
    assert gate.enter()
    gate.leave()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_never_more_than_n_turns_held_and_every_turn_given_back(n):
    gate = Admission(n, patience=0.002)  # short: hand-overs race with timeouts
    held, most, lock = [0], [0], threading.Lock()
    turns = [0]

    def worker() -> None:
        for _ in range(300):
            if gate.enter():
                with lock:
                    held[0] += 1
                    most[0] = max(most[0], held[0])
                    turns[0] += 1
                time.sleep(0)
                with lock:
                    held[0] -= 1
                gate.leave()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert most[0] <= n and turns[0] > 0
    # every turn came back: n requests enter at once without waiting
    gate.patience = 0
    assert all(gate.enter() for _ in range(n))
    assert gate.enter() is False


def test_install_takes_a_turn_per_request_and_gives_it_back():
    app = flask.Flask("gate")
    seen: list[bool] = []

    @app.route("/")
    def index() -> str:
        seen.append(flask.g.gridmap_turn)
        return "ok"

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    gate = Admission(1, patience=0.01)

    class App:
        server = app

    gate.install(App())  # type: ignore[arg-type]
    client = app.test_client()
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert client.get("/boom").status_code == 500  # a failing request gives its turn back too
    assert client.get("/").status_code == 200
    assert seen == [True] * 4


def test_running_from_the_config_within_bounds(tmp_path):
    assert settings_from_config(None).running == DEFAULT_RUNNING == ServeSettings().running
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text("[dashboard]\nrunning = 4\n", encoding="utf-8")
    assert settings_from_config(cfg).running == 4
    for bad in (0, 65, "2", True):
        cfg.write_text(
            f"[dashboard]\nrunning = {bad!r}\n".replace("'", '"').replace("True", "true")
        )
        with pytest.raises(ValueError, match="running must be a whole number from 1 to 64"):
            settings_from_config(cfg)


def test_serve_runs_waitress_behind_the_gate(monkeypatch):
    waitress = pytest.importorskip("waitress")
    from dashboards.server import serve

    app = flask.Flask("served")
    seen: list[object] = []

    @app.route("/")
    def index() -> str:
        seen.append(flask.g.get("gridmap_turn"))
        return "ok"

    class App:
        server = app

    called: dict = {}
    monkeypatch.setattr(waitress, "serve", lambda wsgi, **kw: called.update(kw, app=wsgi))
    serve(App(), ServeSettings(threads=6, running=1))  # type: ignore[arg-type]
    assert called["app"] is app and called["threads"] == 6
    assert app.test_client().get("/").status_code == 200
    assert seen == [True]


def test_static_files_and_tiles_take_no_turn():
    """A page's bundles and its map's tiles load while callbacks hold every turn."""
    app = flask.Flask("gate")
    seen: list[object] = []

    @app.route("/assets/<name>")
    @app.route("/_dash-component-suites/<name>")
    @app.route("/_gridmap/tiles/<name>")
    def static_file(name: str) -> str:
        seen.append(flask.g.get("gridmap_turn", "none"))
        return name

    @app.route("/_dash-update-component", methods=["POST"])
    def callback() -> str:
        seen.append(flask.g.gridmap_turn)
        return "ok"

    gate = Admission(1, patience=5)

    class App:
        server = app

    gate.install(App())  # type: ignore[arg-type]
    assert gate.enter()  # a callback holds the only turn
    client = app.test_client()
    t0 = time.perf_counter()
    for path in ("/assets/a.css", "/_dash-component-suites/b.js", "/_gridmap/tiles/c.pbf"):
        assert client.get(path).status_code == 200
    assert time.perf_counter() - t0 < 2  # none waited for the turn (patience 5 s)
    assert seen == ["none"] * 3
    gate.leave()
    assert client.post("/_dash-update-component").status_code == 200  # callbacks take a turn
    assert seen[-1] is True
    gate.patience = 0
    assert gate.enter() and not gate.enter()  # ... and give it back; static files took none
    gate.leave()
