"""Atomic outputs: a file or a set of files appears complete, or not at all.

A failed run leaves earlier results intact: everything is written to a
temporary name in the destination folder and moved into place with
:func:`os.replace` only when the whole block succeeded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "staged_dir"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (not yet created); move it into place on success.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
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
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike) -> Iterator[tuple[Path, dict[str, Path]]]:
    """Yield ``(stage, written)``: write files into ``stage``; on success they move into ``out``.

    ``written`` is filled with ``{name: final path}`` after the block.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".gridmap-", dir=out))
    written: dict[str, Path] = {}
    try:
        yield stage, written
        for item in sorted(stage.iterdir()):
            os.replace(item, out / item.name)
            written[item.name] = out / item.name
    finally:
        shutil.rmtree(stage, ignore_errors=True)
