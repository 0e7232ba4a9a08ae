"""Writing the contract's CSV tables: pandas' exact bytes, built column-wise through Arrow.

``frame.to_csv(path, index=False, encoding="utf-8-sig")`` formats and quotes cell by cell
through Python's :mod:`csv` writer: 1 s for the 160 k findings of a city. :func:`write_csv`
writes the same bytes (UTF-8 with BOM, ``,`` between cells, a newline after each row, a cell
quoted when it holds ``,``, ``"`` or a newline, quotes doubled, missing values empty, floats
as numpy prints them, integers and booleans with or without ``<NA>``) by formatting each
column at once and joining them with Arrow's string kernels. Frames with other column types
(dates, categories, mixed objects, a single column) go through pandas unchanged.

The text is built in memory of the system allocator (:func:`pyarrow.system_memory_pool`), not
Arrow's default mimalloc: mimalloc asks the kernel for transparent huge pages, and the first
touch of each 2 MB page can stall in the kernel compacting memory (0.1–0.15 s of system time
for the 30 MB ``findings.csv`` of a city, the first time a process writes it); the system
allocator's pages cost about a tenth of that and the same every time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["write_csv"]

_BOM = "\ufeff".encode()
_NEEDS_QUOTES = r'[,"\n]'
#: where the text is built (see the module docstring for why not Arrow's default pool)
_POOL = pa.system_memory_pool()


@overload
def write_csv(frame: pd.DataFrame, path: str | os.PathLike, *, header: bool = True) -> Path: ...


@overload
def write_csv(frame: pd.DataFrame, path: BinaryIO, *, header: bool = True) -> BinaryIO: ...


def write_csv(
    frame: pd.DataFrame, path: str | os.PathLike | BinaryIO, *, header: bool = True
) -> Path | BinaryIO:
    """Write ``frame`` as ``frame.to_csv(path, index=False, encoding="utf-8-sig")`` does.

    Parameters
    ----------
    frame
        The table (its index is not written).
    path
        The ``.csv`` file, or a file open for writing bytes (written at its position, left
        open): a table written chunk by chunk into one file.
    header
        False: the rows only, without the byte order mark and the header line (a chunk
        after the first): the bytes of the whole file less those of ``frame.iloc[:0]``.

    Returns
    -------
    pathlib.Path or file
        ``path`` (a :class:`pathlib.Path` when a path was given).

    Examples
    --------
    >>> import io, tempfile
    >>> df = pd.DataFrame({"id": ["a,1", None], "value": [0.1, np.nan]})
    >>> path = write_csv(df, Path(tempfile.mkdtemp()) / "t.csv")
    >>> path.read_bytes() == df.to_csv(index=False).encode("utf-8-sig")
    True
    >>> chunks = io.BytesIO()
    >>> _ = write_csv(df.iloc[:1], chunks), write_csv(df.iloc[1:], chunks, header=False)
    >>> chunks.getvalue() == path.read_bytes()
    True
    """
    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
        with open(path, "wb") as fh:
            _write(frame, fh, header)
        return path
    _write(frame, path, header)
    return path


def _write(frame: pd.DataFrame, fh: BinaryIO, header: bool) -> None:
    """The bytes of :func:`write_csv` into ``fh``."""
    cells = _columns(frame)
    if cells is None:  # pandas' own writer: the same text, encoded as to_csv(path) does
        fh.write((_BOM if header else b"") + frame.to_csv(index=False, header=header).encode())
        return
    if header:
        names = ",".join(_quote_text(str(c)) for c in frame.columns) + "\n"
        fh.write(_BOM + names.encode())
    if len(frame):
        string = pa.large_string()
        empty, newline = pa.scalar("", type=string), pa.scalar("\n", type=string)
        # ends each row
        cells[-1] = pc.binary_join_element_wise(cells[-1], empty, newline, memory_pool=_POOL)
        rows = pc.binary_join_element_wise(*cells, pa.scalar(",", type=string), memory_pool=_POOL)
        fh.write(_contiguous_bytes(rows))


def _columns(frame: pd.DataFrame) -> list[pa.Array] | None:
    """Each column's cells as CSV text, or None when a column is not one of the fast kinds."""
    if frame.shape[1] < 2 or not frame.columns.is_unique:
        return None  # a single empty cell is quoted on its own row: leave that to pandas
    out = []
    for _, col in frame.items():
        dtype = col.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
            out.append(_number_text(col.to_numpy()))
        elif _nullable_integer_or_boolean(dtype):
            # Int64 / boolean with <NA>: the values as numpy prints them, missing ones empty
            values = col.to_numpy(dtype=dtype.numpy_dtype, na_value=dtype.kind != "b" and 0)
            missing = pa.array(col.isna().to_numpy(), memory_pool=_POOL)
            out.append(pc.if_else(missing, "", _number_text(values), memory_pool=_POOL))
        elif isinstance(dtype, pd.StringDtype) or (
            dtype == np.dtype(object)
            and pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty")
        ):
            if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
                values = pa.array(col.array)  # Arrow already: no copy
                if isinstance(values, pa.ChunkedArray):
                    values = values.combine_chunks(memory_pool=_POOL)
            else:
                values = pa.array(
                    col.to_numpy(dtype=object, na_value=None), type=pa.string(), memory_pool=_POOL
                )
            # quoting decided once per distinct text (rule ids, statuses, sources repeat)
            text = pc.cast(values, pa.large_string(), memory_pool=_POOL)
            text = pc.coalesce(text, pa.scalar("", type=text.type), memory_pool=_POOL)
            codes = pc.dictionary_encode(text, memory_pool=_POOL)
            out.append(pc.take(_quoted(codes.dictionary), codes.indices, memory_pool=_POOL))
        else:
            return None
    return out


_MASKED = (
    pd.BooleanDtype,
    *(getattr(pd, f"{kind}{bits}Dtype") for kind in ("Int", "UInt") for bits in (8, 16, 32, 64)),
)


def _nullable_integer_or_boolean(dtype: object) -> bool:
    """Whether ``dtype`` is a masked integer (``Int64``, ``UInt8``, ...) or ``boolean`` dtype."""
    return isinstance(dtype, _MASKED)


def _number_text(values: np.ndarray) -> pa.Array:
    """Numbers (or booleans) as pandas writes them: integers by Arrow's cast, the rest by numpy.

    Arrow writes an integer exactly as numpy and pandas do (``-12``) and ten times faster;
    floats keep numpy's shortest round-trip text (``0.1``, ``1e-09``), NaN an empty cell.
    """
    if values.dtype.kind in "iu":
        return pc.cast(pa.array(values, memory_pool=_POOL), pa.large_string(), memory_pool=_POOL)
    if values.dtype.kind != "f" or values.itemsize not in (2, 4, 8):
        # True/False, 0.1
        text = pa.array(values.astype(str), type=pa.large_string(), memory_pool=_POOL)
        if values.dtype.kind == "f":
            text = pc.if_else(pa.array(np.isnan(values)), "", text, memory_pool=_POOL)
        return text
    # each distinct float formatted once (measures and thresholds repeat): distinct by bit
    # pattern, so 0.0 and -0.0 keep their own text; NaN an empty cell
    bits = np.ascontiguousarray(values).view(f"i{values.itemsize}")
    distinct, where = np.unique(bits, return_inverse=True)
    floats = distinct.view(values.dtype)
    text = pa.array(floats.astype(str), type=pa.large_string())  # 0.1, 1e+16, 123.0
    text = pc.if_else(pa.array(np.isnan(floats)), "", text)
    return pc.take(text, pa.array(where.reshape(-1)), memory_pool=_POOL)


def _quoted(values: pa.Array) -> pa.Array:
    """Cells holding ``,``, ``"`` or a newline in quotes, their quotes doubled."""
    needs = pc.match_substring_regex(values, _NEEDS_QUOTES, memory_pool=_POOL)
    if not pc.any(needs).as_py():
        return values
    doubled = pc.replace_substring(values, '"', '""', memory_pool=_POOL)
    quote, empty = (pa.scalar(t, type=values.type) for t in ('"', ""))
    wrapped = pc.binary_join_element_wise(quote, doubled, quote, empty, memory_pool=_POOL)
    return pc.if_else(needs, wrapped, values, memory_pool=_POOL)


def _quote_text(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text


def _contiguous_bytes(rows: pa.Array) -> memoryview:
    """The UTF-8 bytes of all rows one after another (Arrow keeps them in one buffer).

    A view of Arrow's own buffer, written without a copy.
    """
    rows = pa.concat_arrays([rows], memory_pool=_POOL) if rows.offset else rows
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[: len(rows) + 1]
    return memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]
