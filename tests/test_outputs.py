"""``--out`` holds exactly one run's files; a bad ``--out`` exits 2 with a clear message (issue #10).

The rules (``gridmap/_atomic.py``, README "Outputs"): a run's files replace the
earlier run's together; files listed in the earlier run's manifest that this run
does not write are removed; files gridmap did not write are never removed (a
folder holding such files and no manifest is refused); a lock serialises runs
into one folder; every failure to write is exit 2 with one paragraph naming the
path and the fix, and leaves no partial file and the earlier results intact.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pyogrio
import pytest
from conftest import write_study_gpkg
from matplotlib.backends import backend_pdf

from gridmap import _atomic
from gridmap._atomic import LOCK, MANIFEST, OutputError, atomic_path, staged_dir
from gridmap.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def gpkg(tmp_path):
    return write_study_gpkg(tmp_path / "区.gpkg", facilities=True)


def _layers(gpkg, *, grids=True):
    args = ["--communities", f"{gpkg}:社区", "--households", f"{gpkg}:楼栋"]
    return args + (["--grids", f"{gpkg}:网格"] if grids else [])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- one run's files


def test_run_without_grids_leaves_no_grids_or_coverage_of_the_earlier_run(gpkg, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "coverage",
                *_layers(gpkg),
                "--facilities",
                f"{gpkg}:设施",
                "--types",
                "幼儿园",
                "--radius",
                "300",
                "--household-level",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert {"grids.csv", "coverage.csv"} <= set(_names(out))
    assert main(["check", *_layers(gpkg, grids=False), "--out", str(out)]) == 0
    assert "grids.csv" not in capsys.readouterr().out.splitlines()[-1]
    run = ["communities.csv", "findings.csv", "problems.csv", "result.gpkg", "summary.json"]
    assert _names(out) == sorted(
        [MANIFEST, *run]
    )  # no grids.csv, no coverage.csv, no lock, no stage
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["grids"] == 0
    m = _manifest(out)
    assert m["files"] == run and m["complete"] is True


def test_files_the_user_put_next_to_the_outputs_are_kept(gpkg, tmp_path):
    out = tmp_path / "out"
    assert main(["check", *_layers(gpkg), "--out", str(out)]) == 0
    (out / "备注.txt").write_text("我的笔记", encoding="utf-8")
    (out / "图").mkdir()
    assert main(["check", *_layers(gpkg, grids=False), "--out", str(out)]) == 0
    assert (out / "备注.txt").read_text(encoding="utf-8") == "我的笔记" and (out / "图").is_dir()
    assert not (out / "grids.csv").exists()
    assert "备注.txt" not in _manifest(out)["files"]


def test_folder_with_other_files_and_no_manifest_is_refused_untouched(gpkg, tmp_path, capsys):
    folder = tmp_path  # holds the user's input 区.gpkg
    before = _snapshot(folder)
    assert main(["check", *_layers(gpkg), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "区.gpkg" in err and str(folder) in err and MANIFEST in err and "Traceback" not in err
    assert "换一个空的或新的文件夹" in err and "use an empty or new folder" in err
    assert _snapshot(folder) == before and _names(folder) == ["区.gpkg"]


def test_results_of_a_gridmap_without_manifest_are_overwritten_when_all_are_rewritten(
    gpkg, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("communities.csv", "grids.csv", "summary.json"):
        (out / name).write_text("old", encoding="utf-8")
    assert main(["check", *_layers(gpkg), "--out", str(out)]) == 0
    assert (out / "grids.csv").read_text(encoding="utf-8-sig") != "old" and (
        out / MANIFEST
    ).exists()


def test_interrupted_commit_is_cleaned_up_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.csv", "b.csv", "keep.txt"):
        (out / name).write_text(name)
    (out / ".gridmap-stage-killed").mkdir()  # stage of a killed run
    (out / MANIFEST).write_text(json.dumps({"files": ["a.csv", "b.csv"], "complete": False}))
    with staged_dir(out) as (stage, written):
        (stage / "c.csv").write_text("new")
    assert _names(out) == sorted([MANIFEST, "c.csv", "keep.txt"])
    assert written == {"c.csv": out / "c.csv"}


def test_nested_writers_share_one_commit(tmp_path):
    out = tmp_path / "out"
    with staged_dir(out) as (stage, written):
        with staged_dir(stage) as (
            inner,
            inner_written,
        ):  # e.g. CheckResult.to_dir inside the CLI's stage
            assert inner == stage
            (inner / "a.csv").write_text("a")
        assert inner_written == {"a.csv": stage / "a.csv"} and not (out / "a.csv").exists()
        (stage / "b.json").write_text("{}")
    assert sorted(written) == ["a.csv", "b.json"] and _manifest(out)["files"] == ["a.csv", "b.json"]


def test_rebalance_twice_into_one_folder(gpkg, tmp_path, capsys):
    out = tmp_path / "rb"
    for _ in range(
        2
    ):  # the second run used to fail: its plan name was taken in the earlier run's workspace
        assert main(["rebalance", *_layers(gpkg), "--out", str(out)]) == 0
    assert {"rebalance.json", "workspace.gpkg", "changes.csv", "plan.json"} <= set(
        _manifest(out)["files"]
    )
    from gridmap.plans import list_plans

    assert len(list_plans(out / "workspace.gpkg")) == 1  # this run's plan


# ----------------------------------------------------------------------------- the lock


def test_second_writer_waits_for_the_first_and_then_writes_its_own_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    first_in, release, second_waits = threading.Event(), threading.Event(), threading.Event()
    monkeypatch.setattr(_atomic, "_wait_note", lambda *a: second_waits.set())
    errors = []

    def first():
        with staged_dir(out) as (stage, _):
            (stage / "grids.csv").write_text("first")
            first_in.set()
            release.wait(60)
            (stage / "summary.json").write_text("first")

    def second():
        try:
            with staged_dir(out) as (stage, _):
                (stage / "summary.json").write_text("second")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    a = threading.Thread(target=first)
    a.start()
    assert first_in.wait(60)
    b = threading.Thread(target=second)
    b.start()
    assert second_waits.wait(60)  # the second is blocked on the lock
    assert not (out / "summary.json").exists()
    release.set()
    a.join(60)
    b.join(60)
    assert not errors
    assert _names(out) == [MANIFEST, "summary.json"]  # the second run's files only, whole
    assert (out / "summary.json").read_text() == "second"


def _cli(*args, env=None, **kw):
    return [sys.executable, "-m", "gridmap.cli", *args], {
        "cwd": REPO,
        "env": {**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        **kw,
    }


def test_another_process_fails_clearly_when_the_lock_is_held_too_long(gpkg, tmp_path):
    out = tmp_path / "out"
    with staged_dir(out) as (stage, _):
        (stage / "x.csv").write_text("held")
        cmd, kw = _cli(
            "check", *_layers(gpkg), "--out", str(out), env={"GRIDMAP_LOCK_TIMEOUT": "0"}
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    assert proc.returncode == 2, proc.stderr
    assert (
        "另一个 gridmap 运行正在写入" in proc.stderr
        and str(out) in proc.stderr
        and "Traceback" not in proc.stderr
    )
    assert f"pid {os.getpid()}" in proc.stderr
    assert _names(out) == [MANIFEST, "x.csv"]


def test_another_process_waits_then_replaces_the_folder(gpkg, tmp_path):
    out = tmp_path / "out"
    with staged_dir(out) as (stage, _):
        (stage / "x.csv").write_text("held")
        cmd, kw = _cli("check", *_layers(gpkg), "--out", str(out))
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
        )
        line = proc.stderr.readline()  # the waiting note: the other process is blocked now
    stdout, stderr = proc.communicate(timeout=120)
    assert "正在等待另一个 gridmap 运行写完" in line, line + stderr
    assert proc.returncode == 0, stderr
    assert "x.csv" not in _names(out) and "grids.csv" in _names(out) and LOCK not in _names(out)


# ----------------------------------------------------------------------------- bad --out


def test_out_that_is_a_file_exits_2(gpkg, tmp_path, capsys):
    target = tmp_path / "结果"
    target.write_text("not a folder")
    for out in (target, target / "sub"):
        assert main(["check", *_layers(gpkg), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert (
            str(target) in err
            and "是一个已有的文件，不是文件夹" in err
            and "is an existing file" in err
        )
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "not a folder"
    assert main(["demo", "--out", str(target)]) == 2
    assert "是一个已有的文件" in capsys.readouterr().err


def test_out_in_a_folder_that_cannot_be_written_exits_2(gpkg, tmp_path, capsys):
    if os.geteuid() == 0:  # root ignores permission bits; sysfs refuses new folders even to root
        if not Path("/sys/kernel").is_dir():
            pytest.skip("running as root without /sys")
        out = Path("/sys/gridmap-test-out")
    else:
        locked = tmp_path / "只读"
        locked.mkdir()
        locked.chmod(0o555)
        out = locked / "out"
    try:
        assert main(["check", *_layers(gpkg), "--out", str(out)]) == 2
    finally:
        if os.geteuid() != 0:
            out.parent.chmod(0o755)
    err = capsys.readouterr().err
    assert str(out) in err and ("没有权限写入" in err or "只读" in err) and "Traceback" not in err
    assert not out.exists()


def test_permission_denied_names_the_path_and_the_fix(gpkg, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"

    def denied(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    assert main(["check", *_layers(gpkg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        f"没有权限写入 {out}" in err
        and "请换一个有写权限的文件夹" in err
        and "permission denied" in err
    )


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        sqlite3.OperationalError("database or disk is full"),  # how SQLite/GDAL say it
    ],
)
def test_full_disk_exits_2_leaving_earlier_results_intact(
    gpkg, tmp_path, capsys, monkeypatch, failure
):
    out = tmp_path / "out"
    assert main(["check", *_layers(gpkg), "--out", str(out)]) == 0
    before = _snapshot(out)
    capsys.readouterr()
    real = pyogrio.write_dataframe  # what gridmap.io.write_gpkg writes every layer with

    def full(frame, path, *a, **k):
        if Path(path).name.startswith(
            ".tmp-"
        ):  # result.gpkg inside the stage: half-written, then the disk is full
            real(frame, path, *a, **k)
            raise failure
        return real(frame, path, *a, **k)

    monkeypatch.setattr(pyogrio, "write_dataframe", full)
    assert main(["check", *_layers(gpkg, grids=False), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        "磁盘空间不足" in err
        and str(out) in err
        and "no space left" in err
        and "Traceback" not in err
    )
    assert (
        _snapshot(out) == before
    )  # earlier results intact; no stage, no temporary file, no lock left
    assert _names(out) == sorted(Path(n).name for n in before)


def test_full_disk_while_committing_leaves_earlier_results_intact(
    gpkg, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    assert main(["check", *_layers(gpkg), "--out", str(out)]) == 0
    before = _snapshot(out)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / f"{MANIFEST}.tmp"))

    monkeypatch.setattr(_atomic, "_write_manifest", full)
    assert main(["check", *_layers(gpkg, grids=False), "--out", str(out)]) == 2
    assert "磁盘空间不足" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_single_file_outputs_exit_2(gpkg, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "报告.pdf"
    folder.mkdir()
    assert main(["report", *_layers(gpkg), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and "是一个已有的文件夹" in err and "Traceback" not in err

    pdf = tmp_path / "报告" / "r.pdf"
    pdf.parent.mkdir()
    pdf.write_bytes(b"%PDF earlier report")

    def full(*a, **k):  # the PDF is half-written when the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backend_pdf.PdfPages, "savefig", full)
    assert main(["report", *_layers(gpkg), "--out", str(pdf)]) == 2
    err = capsys.readouterr().err
    assert "磁盘空间不足" in err and str(pdf) in err
    assert _names(pdf.parent) == ["r.pdf"] and pdf.read_bytes() == b"%PDF earlier report"


def test_atomic_path_errors_name_the_final_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="a-file") as info:
        with atomic_path(blocker / "r.xlsx"):
            pass
    assert info.value.reason == "is_file"

    def denied(*a, dir=None, suffix="", **k):
        raise PermissionError(
            errno.EACCES, "Permission denied", os.path.join(dir, ".tmp-abc" + suffix)
        )

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_atomic.tempfile, "mkstemp", denied)
        with pytest.raises(OutputError, match="没有权限写入") as info:
            with atomic_path(tmp_path / "r.pdf"):
                pass
    assert info.value.path == tmp_path / "r.pdf"
    with pytest.raises(OutputError) as info:  # an error inside a stage names the file's final place
        with staged_dir(tmp_path / "out") as (stage, _):
            with atomic_path(stage / "result.gpkg"):
                raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.reason == "no_space" and info.value.path == tmp_path / "out" / "result.gpkg"


def test_errors_not_about_the_output_pass_through(tmp_path):
    with pytest.raises(KeyError):
        with staged_dir(tmp_path / "out") as (stage, _):
            raise KeyError("a bug stays a bug")
    with pytest.raises(FileNotFoundError):  # an input that is missing is not an output problem
        with staged_dir(tmp_path / "out") as (stage, _):
            (tmp_path / "missing-input.csv").read_text()
    assert not (tmp_path / "out").exists()


def test_a_users_folder_named_like_an_output_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    (out / "summary.json").mkdir(parents=True)
    (out / "summary.json" / "mine.txt").write_text("x")
    with pytest.raises(OutputError, match="summary.json") as info:
        with staged_dir(out) as (stage, _):
            (stage / "summary.json").write_text("{}")
    assert (
        info.value.reason == "is_folder" and (out / "summary.json" / "mine.txt").read_text() == "x"
    )
    assert _names(out) == ["summary.json"]


def test_failed_first_run_leaves_no_folder(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(OutputError, match="磁盘空间不足"):
        with staged_dir(out) as (stage, _):
            (stage / "a.csv").write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert not out.exists()


def test_to_dir_syncs_the_geopackage_once_before_the_commit(tmp_path, monkeypatch):
    """result.gpkg is flushed to disk once (on a thread, while the CSVs are written), and the
    flush has ended before the files are moved into the output folder."""
    import gridmap
    from gridmap import datasets

    result = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    events = []
    real_fsync, real_commit = os.fsync, _atomic._commit
    monkeypatch.setattr(
        os, "fsync", lambda fd: events.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd)
    )
    monkeypatch.setattr(
        _atomic, "_commit", lambda stage, out: events.append("commit") or real_commit(stage, out)
    )
    result.to_dir(tmp_path / "out")
    assert [Path(e).name for e in events] == ["result.gpkg", "commit"]
    assert pyogrio.read_dataframe(tmp_path / "out" / "result.gpkg", layer="grids").shape[0] == len(
        result.grids
    )


def test_to_gpkg_without_sync_still_replaces_an_existing_file_with_a_flushed_one(
    tmp_path, monkeypatch
):
    """sync=False leaves a new file for the caller to flush, but never renames an unflushed
    file over the planner's existing one."""
    import gridmap
    from gridmap import datasets

    result = gridmap.check(gridmap.read_study(**datasets.demo_config()))
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd)
    )
    path = tmp_path / "result.gpkg"
    result.to_gpkg(path, sync=False)  # new: the caller flushes it
    assert not [p for p in synced if p.endswith(".gpkg")]
    result.to_gpkg(path, sync=False)  # replaces the file above: flushed before the rename
    assert [p for p in synced if p.endswith(".gpkg")]
