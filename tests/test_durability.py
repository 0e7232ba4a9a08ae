"""Workspace durability: concurrent first saves keep every plan; full and read-only disks say so.

The concurrent-save tests run on a GeoPackage and on PostGIS (``workspace`` fixture); the disk
tests are about the GeoPackage file.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pg_fixtures import schema_url
from test_plans import small_plan

from gridmap import datasets
from gridmap.plans import WorkspaceError, list_plans, load_plan
from gridmap.plans.storage import ensure_workspace

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 20


def _round_workspaces(workspace: str | Path) -> list[str | Path]:
    """One fresh workspace per round, of the same kind as ``workspace``."""
    if isinstance(workspace, Path):
        return [workspace.with_name(f"ws{i}.gpkg") for i in range(ROUNDS)]
    base = workspace.rsplit("schema=", 1)[0].rstrip("?&")
    token = workspace.rsplit("schema=", 1)[1]
    return [schema_url(base, f"{token}_{i}") for i in range(ROUNDS)]


def _save_rounds(workspaces: list, name: str, barrier) -> None:
    """Save plan ``name`` into each round's fresh workspace, in step with the other saver."""
    for ws in workspaces:
        plan = small_plan(name)
        plan.move(["U001"], "C01")
        barrier.wait(60)
        plan.save(ws)


def _assert_both_kept(workspaces: list) -> None:
    for i, ws in enumerate(workspaces):
        assert set(list_plans(ws)["name"]) == {"甲", "乙"}, f"round {i}"
        for name in ("甲", "乙"):
            assert load_plan(ws, name).kpis()["units_moved"] == 1


def test_two_threads_first_saves_keep_both_plans(workspace):
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    rounds = _round_workspaces(workspace)

    def run(name: str) -> None:
        try:
            _save_rounds(rounds, name, barrier)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("甲", "乙")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
    assert not errors, errors
    _assert_both_kept(rounds)


def test_two_processes_first_saves_keep_both_plans(workspace):
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(2)
    rounds = _round_workspaces(workspace)
    procs = [mp.Process(target=_save_rounds, args=(rounds, n, barrier)) for n in ("甲", "乙")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    _assert_both_kept(rounds)


def test_an_existing_workspace_is_left_alone(tmp_path, workspace):
    ws = workspace
    assert list_plans(ws).empty
    ensure_workspace(ws)
    assert list_plans(ws).empty
    small_plan("甲").save(ws)
    ensure_workspace(ws)
    assert list_plans(ws)["name"].tolist() == ["甲"]
    bad = tmp_path / "notes.gpkg"
    bad.write_text("not a database", encoding="utf-8")
    with pytest.raises(ValueError, match="不是 GeoPackage"):
        small_plan().save(bad)


# ---------------------------------------------------------------------- full and read-only disks
_DISK_SCRIPT = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from test_plans import small_plan
from gridmap.plans import WorkspaceError, list_plans, load_plan
ws, mode = sys.argv[1] + "/w.gpkg", sys.argv[2]
if mode in ("full", "prep"):
    first = small_plan("first")
    first.move(["U001"], "C01")
    first.save(ws)
if mode == "prep":
    sys.exit(0)
if mode == "full":
    with open(sys.argv[1] + "/filler", "wb") as f:  # fill the disk
        try:
            while True:
                f.write(b"x" * 65536)
                f.flush()
        except OSError:
            pass
    plan = small_plan("big")
    plan.units["name"] = ["x" * 200_000] * len(plan.units)  # needs more pages than are left
else:  # the caller remounted the disk read-only
    plan = small_plan("second")
try:
    plan.save(ws)
except WorkspaceError as exc:
    print("REASON", exc.reason)
    print("MESSAGE", exc)
assert list_plans(ws)["name"].tolist() == ["first"]
assert load_plan(ws, "first").kpis()["units_moved"] == 1
print("KEPT")
"""


def _in_own_mount(
    tmp_path: Path, then: str, *, read_only: bool = False
) -> subprocess.CompletedProcess:
    """Run ``then`` (a shell command) with a small tmpfs at ``tmp_path/disk`` (own namespaces).

    With ``read_only``, the first plan is saved there and the disk remounted read-only first.
    """
    if not shutil.which("unshare") or sys.platform != "linux":
        pytest.skip("needs Linux with unshare to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "disk.py"
    script.write_text(_DISK_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    setup = f"mount -t tmpfs -o size=2m tmpfs {disk}"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{setup} && echo ok"], capture_output=True, text=True
    )
    if probe.returncode != 0 or "ok" not in probe.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.strip()[:200]}")
    if read_only:
        setup += f" && {sys.executable} {script} {disk} prep && mount -o remount,ro {disk}"
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{setup} && {then.format(script=script, disk=disk)}"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_full_disk_is_reported_as_such_and_keeps_the_last_plan(tmp_path):
    proc = _in_own_mount(tmp_path, f"{sys.executable} {{script}} {{disk}} full")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "REASON no_space" in proc.stdout and "磁盘空间不足" in proc.stdout
    assert "KEPT" in proc.stdout and "cannot rollback" not in proc.stdout


def test_read_only_disk_is_reported_as_such(tmp_path):
    proc = _in_own_mount(tmp_path, f"{sys.executable} {{script}} {{disk}} ro", read_only=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "REASON read_only" in proc.stdout and "只读" in proc.stdout and "KEPT" in proc.stdout


def test_cli_exits_2_on_a_read_only_workspace(tmp_path):
    """The CLI's words for an unwritable workspace: the reason, exit 2, no traceback."""
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text(datasets.demo_config_toml(datasets.get_path("demo").as_posix()), "utf-8")
    cli = (
        f"cd {ROOT} && {sys.executable} -m gridmap.cli rebalance {cfg} --out {tmp_path / 'out'} "
        "--workspace {disk}/w.gpkg --time-limit 1"
    )
    proc = _in_own_mount(tmp_path, cli, read_only=True)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "只读" in proc.stderr and "Traceback" not in proc.stderr
    assert "cannot rollback" not in proc.stderr


def test_no_permission_is_reported_as_such(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes regardless of file modes")
    ws = tmp_path / "ro" / "w.gpkg"
    small_plan("first").save(ws)
    os.chmod(ws, 0o444)
    os.chmod(ws.parent, 0o555)
    try:
        with pytest.raises(WorkspaceError, match="没有权限") as err:
            small_plan("second").save(ws)
        assert err.value.reason == "permission"
        assert list_plans(ws)["name"].tolist() == ["first"]
    finally:
        os.chmod(ws.parent, 0o755)
        os.chmod(ws, 0o644)
