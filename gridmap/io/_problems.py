"""The one-problem errors every reader raises: file, layer, column, row and the fix."""

from __future__ import annotations

from typing import Any

from gridmap._errors import InputError, Problem


def _problem(
    code: str,
    message: str,
    fix: str = "",
    *,
    file: object = "",
    layer: object = None,
    column: object = "",
    row: object = None,
    param: str = "",
    **extra: Any,
) -> Problem:
    """An error :class:`Problem` naming where it is (``extra``: machine-readable detail)."""
    return Problem(
        "error",
        code,
        message,
        fix=fix,
        file=str(file),
        layer="" if layer is None else str(layer),
        column="" if column is None else str(column),
        row=row,
        extra=extra,
        param=param,
    )


def _fail(code: str, message: str, fix: str = "", **where: Any) -> InputError:
    """Build an :class:`InputError` with one problem (the caller raises it)."""
    return InputError(_problem(code, message, fix, **where))


def _unreadable(shown: str, layer: object, exc: BaseException) -> InputError:
    """The file (or layer) cannot be read at all: the reader's own words, and what to try."""
    text = str(exc).strip() or type(exc).__name__
    return _fail(
        "file.unreadable",
        f"无法读取文件：{text}",
        "The file may be damaged, incomplete, or not what its extension says; "
        "open it in QGIS to check, or export it again.",
        file=shown,
        layer=layer,
        error=text,
    )
