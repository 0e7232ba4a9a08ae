"""Atomic outputs: a file or a folder of files appears complete, or not at all.

A failed run leaves earlier results intact: everything is written to a
temporary name in the destination folder and moved into place with
:func:`os.replace` only when the whole block succeeded.

An output folder holds exactly one run's files. :func:`staged_dir` records the
names it wrote in a manifest, ``.gridmap.manifest.json``; the next run into the
folder removes the files of that list it does not write again (a run without
grids leaves no ``grids.csv`` from an earlier run with grids). Files gridmap did
not write are never removed: a folder that holds files this run does not write
and no manifest (the user's own files, or results of a gridmap without
manifests) is refused with :class:`OutputError`, and nothing is written. While
a run writes into a folder it holds a lock (``.gridmap.lock``, removed again),
so two runs into one folder cannot interleave: the second waits for the first
(``GRIDMAP_LOCK_TIMEOUT`` seconds, default 600) and then writes its own files.

Every failure to write (the path is an existing file, no permission, a
read-only or full disk, a lock held too long) raises :class:`OutputError`, whose
message is one Chinese paragraph with an English gist naming the path and the
fix; the CLI prints it and exits 2.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gridmap._version import __version__

if sys.platform == "win32":  # pragma: no cover
    fcntl = None  # msvcrt locks instead (see _try_lock)
else:
    import fcntl

__all__ = ["atomic_path", "staged_dir", "OutputError", "output_error", "MANIFEST", "LOCK"]

MANIFEST = ".gridmap.manifest.json"
LOCK = ".gridmap.lock"
_STAGE_PREFIX = ".gridmap-stage-"
_OLD_STAGE_PREFIX = ".gridmap-"  # stage folders of a run that was killed (also of older versions)
#: written by file browsers, never a reason to refuse
_LITTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
#: stages of enclosing staged_dir blocks: nested writers write straight into them
_ACTIVE_STAGES: set[str] = set()
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)
_DISK_FULL_TEXT = (
    "no space left on device",
    "database or disk is full",
    "disk quota exceeded",
    "file too large",
)


class OutputError(OSError):
    """An output could not be written; nothing partial was left and earlier results are intact.

    An ``OSError``, so code that caught those from writers still catches it.

    ``path`` is the file or folder, ``reason`` one of ``"is_file"`` (a folder was
    asked for and the path is a file), ``"is_folder"`` (the reverse),
    ``"permission"``, ``"read_only"``, ``"no_space"``, ``"locked"``,
    ``"foreign_files"`` or ``"other"``; ``detail`` the underlying error. ``str()``
    is one Chinese paragraph with an English gist, naming the path and the fix.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        reason: str,
        detail: str = "",
        *,
        files: list[str] | None = None,
    ):
        self.path = Path(path)
        self.reason = reason
        self.detail = detail
        self.files = list(files or [])
        super().__init__(_message(self.path, reason, detail, self.files))

    def at(self, path: str | os.PathLike[str]) -> OutputError:
        """The same error naming ``path`` (a stage's file → its final place)."""
        return OutputError(path, self.reason, self.detail, files=self.files)


def _message(given: Path, reason: str, detail: str, files: list[str]) -> str:
    path = os.path.abspath(given)  # "." or "out" alone do not say where
    kept = "已有的结果未被改动，也没有留下写了一半的文件。"
    if reason == "is_file":
        return (
            f"输出位置 {path} 是一个已有的文件，不是文件夹：请换一个文件夹名"
            f"（例如 {Path(path).name}_结果），或先移走该文件。{kept}"
            f" (the output folder {path} is an existing file: choose another folder name or "
            "move the file away)"
        )
    if reason == "is_folder":
        return (
            f"输出文件 {path} 是一个已有的文件夹：请换一个文件名，或先移走该文件夹。{kept}"
            f" (the output file {path} is an existing folder: choose another file name or "
            "move the folder away)"
        )
    if reason == "permission":
        return (
            f"没有权限写入 {path}：请换一个有写权限的文件夹（例如自己的用户目录），"
            f"或请管理员开放写权限。{kept}"
            f" (permission denied writing {path}: choose a folder you can write to; "
            "earlier results are intact)"
        )
    if reason == "read_only":
        return (
            f"{path} 所在的磁盘是只读的：请把输出写到可写磁盘上的文件夹。{kept}"
            f" ({path} is on a read-only file system: write the outputs to a writable disk)"
        )
    if reason == "no_space":
        return (
            f"磁盘空间不足，写入 {path} 失败：请清理磁盘空间，或把输出写到另一块磁盘上的文件夹。"
            f"{kept} (no space left on the device writing {path}: free some space or write "
            "to another disk; nothing partial was left and earlier results are intact)"
        )
    if reason == "locked":
        return (
            f"另一个 gridmap 运行正在写入 {path}（{detail}），等待后仍未结束："
            "请等它完成后再运行，或换一个输出文件夹；"
            "可用环境变量 GRIDMAP_LOCK_TIMEOUT 设置等待秒数。本次没有写入任何文件。"
            f" (another gridmap run is writing into {path}; wait for it to finish or choose "
            "another output folder)"
        )
    if reason == "foreign_files":
        shown = "、".join(files[:5]) + (f" 等 {len(files)} 个" if len(files) > 5 else "")
        return (
            f"输出文件夹 {path} 中已有不是本次运行要写的文件（{shown}），"
            f"且没有 gridmap 的输出清单 {MANIFEST}，无法判断它们是旧的结果还是您的文件。"
            "为了不把旧结果混进本次结果、也不删除您的文件，本次没有写入任何东西："
            "请换一个空的或新的文件夹，或先移走这些文件（若它们是旧版 gridmap 的结果，可直接删除）。"
            f" (the output folder {path} holds files this run does not write "
            f"({', '.join(files[:5])}) and no gridmap manifest, so they may be your files or "
            "results of an earlier run: use an empty or new folder, or move them away)"
        )
    return (
        f"无法写入 {path}：{detail}。请检查该位置，或换一个输出文件夹。{kept}"
        f" (cannot write {path}: {detail})"
    )


def output_error(exc: BaseException, path: str | os.PathLike[str]) -> OutputError | None:
    """``exc`` as an :class:`OutputError` about ``path``; None when it is not about writing there.

    A full disk counts wherever it happened (also GDAL's or SQLite's own errors
    saying so); other ``OSError``s count when they name ``path``, a file inside
    it, a folder above it or the temporary file :func:`atomic_path` writes next to it.
    """
    if isinstance(exc, OutputError):
        return exc
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for e in chain:
        full = isinstance(e, OSError) and e.errno in _DISK_FULL
        if full or any(t in str(e).lower() for t in _DISK_FULL_TEXT):
            return OutputError(path, "no_space", str(e))
    if not isinstance(exc, OSError):
        return None
    path = Path(path)
    named = Path(exc.filename) if exc.filename else path
    # atomic_path's temporary file
    ours = named.parent == path.parent and named.name.startswith(".tmp-")
    if not (_related(named, path) or ours):
        return None
    # a folder above the output, or the output itself
    where = named if _inside(path, named) else path
    blocked = isinstance(exc, (FileExistsError, NotADirectoryError))
    if blocked or exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return OutputError(_first_file(path) or named, "is_file", str(exc))
    if isinstance(exc, IsADirectoryError) or exc.errno == errno.EISDIR:
        return OutputError(path, "is_folder", str(exc))
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return OutputError(where, "permission", str(exc))
    if exc.errno == errno.EROFS:
        return OutputError(where, "read_only", str(exc))
    return OutputError(where, "other", exc.strerror or str(exc))


def _inside(a: Path, b: Path) -> bool:
    a, b = Path(os.path.abspath(a)), Path(os.path.abspath(b))
    return a == b or b in a.parents


def _related(a: Path, b: Path) -> bool:
    return _inside(a, b) or _inside(b, a)


def _first_file(path: Path) -> Path | None:
    """The first existing non-folder on the way down to ``path`` (what blocks creating it)."""
    for p in [*reversed(Path(os.path.abspath(path)).parents), Path(os.path.abspath(path))]:
        if p.exists() and not p.is_dir():
            return p
    return None


@contextlib.contextmanager
def _translated(path: Path, stage: Path | None = None) -> Iterator[None]:
    """Turn failures to write into :class:`OutputError` about ``path``.

    A stage's files are named by their final place.
    """
    try:
        yield
    except OutputError as exc:
        if stage is not None and _inside(exc.path, stage):
            raise exc.at(path / exc.path.relative_to(stage) if exc.path != stage else path) from exc
        raise
    except Exception as exc:
        err = output_error(exc, stage if stage is not None else path)
        if err is None:
            raise
        if stage is not None and _inside(err.path, stage):
            err = err.at(path / err.path.relative_to(stage) if err.path != stage else path)
        raise err from exc


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (not yet created); move it into place on success.

    Failures to write raise :class:`OutputError` naming ``path``; the temporary
    file is removed and an earlier ``path`` stays as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    >>> with atomic_path(target.parent) as tmp:  # doctest: +ELLIPSIS
    ...     pass
    Traceback (most recent call last):
    gridmap._atomic.OutputError: 输出文件 ... 是一个已有的文件夹：...
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is_folder")
    tmp = None
    with _translated(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix or path.suffix, dir=path.parent)
        os.close(fd)
        os.unlink(tmp)  # writers (GDAL, sqlite) want to create the file themselves
        try:
            yield Path(tmp)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        finally:
            for extra in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(tmp + extra):
                    os.unlink(tmp + extra)


def _lock_timeout() -> float:
    try:
        return float(os.environ.get("GRIDMAP_LOCK_TIMEOUT", "600"))
    except ValueError:
        return 600.0


def _wait_note(out: Path, holder: str) -> None:
    """Say once that this run waits for another (a hook the tests observe)."""
    print(
        f"正在等待另一个 gridmap 运行写完 {out}（{holder}）… "
        f"(waiting for another gridmap run writing into {out})",
        file=sys.stderr,
    )


@contextlib.contextmanager
def _folder_lock(out: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` (``out/.gridmap.lock``); wait up to ``timeout`` seconds.

    The lock file is removed on release while still locked; a waiter that then
    holds a lock on the removed file notices and locks the new one.
    """
    path = out / LOCK
    deadline = time.monotonic() + max(timeout, 0.0)
    noted = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if _try_lock(fd):
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(path))
                except FileNotFoundError:
                    same = False
                if same:
                    break
            else:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    raise OutputError(out, "locked", holder)
                if not noted:
                    _wait_note(out, holder)
                    noted = True
                time.sleep(0.1)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.write(fd, f"pid {os.getpid()}, {now}".encode())
        yield
    finally:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
        os.close(fd)  # closing releases the lock


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    import msvcrt  # Windows: lock the first byte; the lock file stays

    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return path.read_text(encoding="utf-8").strip() or "pid ?"
    return "pid ?"


def _read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return None
    return data


def _write_manifest(out: Path, files: list[str], *, complete: bool) -> None:
    data = {
        "generator": f"gridmap {__version__}",
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "complete": complete,
        "files": sorted(files),
    }
    tmp = out / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _ours(name: str) -> bool:
    return (
        name in (MANIFEST, f"{MANIFEST}.tmp", LOCK)
        or name.startswith(_OLD_STAGE_PREFIX)
        or name in _LITTER
    )


def _commit(stage: Path, out: Path) -> list[str]:
    """Move the stage's entries into ``out``; remove the earlier run's files not written again."""
    new = sorted(p.name for p in stage.iterdir())
    present = {p.name for p in out.iterdir() if not _ours(p.name)}
    manifest = _read_manifest(out)
    if manifest is None:
        foreign = sorted(present - set(new))
        if foreign:
            raise OutputError(out, "foreign_files", files=foreign)
        before: set[str] = set()
    else:
        before = {str(n) for n in manifest["files"]} & present
    # the manifest claims every file that may be gridmap's before anything moves, so an
    # interrupted commit still leaves a folder the next run can clean up
    for name in new:  # a folder of the user's where a file goes: refuse before anything moves
        if name not in before and (out / name).is_dir() and not (stage / name).is_dir():
            raise OutputError(out / name, "is_folder")
    _write_manifest(out, sorted(before | set(new)), complete=False)
    for name in new:
        target = out / name
        if name in before and target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(stage / name, target)
    for name in sorted(before - set(new)):
        _remove(out / name)
    _write_manifest(out, new, complete=True)
    return new


@contextlib.contextmanager
def staged_dir(
    out: str | os.PathLike[str], *, lock_timeout: float | None = None
) -> Iterator[tuple[Path, dict[str, Path]]]:
    """Yield ``(stage, written)``: files written into ``stage`` replace ``out``'s earlier run.

    ``written`` is filled with ``{name: final path}`` after the block. Afterwards
    ``out`` holds this run's files, the manifest, and any files the user keeps
    there that no gridmap run wrote. Inside an enclosing ``staged_dir`` block,
    ``staged_dir(stage)`` writes straight into that stage (one run, one commit).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with staged_dir(out) as (stage, written):
    ...     _ = (stage / "grids.csv").write_text("grid_id")
    ...     _ = (stage / "summary.json").write_text("{}")
    >>> with staged_dir(out) as (stage, written):  # a run without grids
    ...     _ = (stage / "summary.json").write_text('{"grids": 0}')
    >>> sorted(p.name for p in out.iterdir())
    ['.gridmap.manifest.json', 'summary.json']
    """
    out = Path(out)
    key = os.path.abspath(out)
    if key in _ACTIVE_STAGES:  # nested: the enclosing block commits
        written: dict[str, Path] = {}
        before = {p.name for p in out.iterdir()}
        yield out, written
        written.update(
            {p.name: out / p.name for p in sorted(out.iterdir()) if p.name not in before}
        )
        return
    if out.exists() and not out.is_dir():
        raise OutputError(out, "is_file")
    timeout = _lock_timeout() if lock_timeout is None else lock_timeout
    written = {}
    created = not out.exists()
    try:
        with _translated(out):
            out.mkdir(parents=True, exist_ok=True)
            with _folder_lock(out, timeout):
                yield from _write(out, written)
    except BaseException:
        if created:  # a failed first run leaves no empty folder behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def _write(out: Path, written: dict[str, Path]) -> Iterator[tuple[Path, dict[str, Path]]]:
    """The locked part of :func:`staged_dir`: a fresh stage, the caller's block, the commit."""
    # stages of killed runs (we hold the lock: nobody else is writing)
    for leftover in out.iterdir():
        stale = leftover.name.startswith(_OLD_STAGE_PREFIX)
        if stale and leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=out))
    _ACTIVE_STAGES.add(os.path.abspath(stage))
    try:
        with _translated(out, stage):
            yield stage, written
            names = _commit(stage, out)
        written.update({name: out / name for name in names})
    finally:
        _ACTIVE_STAGES.discard(os.path.abspath(stage))
        shutil.rmtree(stage, ignore_errors=True)
