"""Text encodings of Shapefile attribute tables, told from their raw bytes.

Chinese government shapefiles are often GBK, with a ``.cpg`` or without one,
and the ``.cpg`` sometimes lies. :func:`detect_dbf_encoding` reads the DBF
itself (strict UTF-8 first, then the ``.cpg``, the language driver id, GBK and
GB18030, last charset-normalizer's guess); the private helpers turn ``.cpg``
text and user-given names into codec names both Python and GDAL understand.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from gridmap.io._problems import _fail
from gridmap.io.sources import _sidecar

__all__ = ["detect_dbf_encoding", "DBF_CHUNK_BYTES"]


#: bytes of DBF records read at a time while detecting the encoding
DBF_CHUNK_BYTES = 16 * 1024 * 1024


def _explicit_codec(encoding: object, shown: str, *, layer: object = None) -> str:
    """The codec of a user-given ``encoding=``, or an InputError naming the file."""
    codec = _codec_name(str(encoding))
    if codec is None:
        raise _fail(
            "encoding.unknown",
            f"未知的编码 {encoding!r}",
            "Pass a known encoding= such as 'GBK', 'GB18030' or 'UTF-8'.",
            file=shown,
            layer=layer,
            param="encoding",
        )
    return codec


def _codec_name(name: str) -> str | None:
    """A name both Python and GDAL (iconv) understand, or None if unknown."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    return {
        "utf-8": "UTF-8",
        "gbk": "GBK",
        "gb2312": "GBK",  # GBK is a superset; files labelled GB2312 often hold GBK
        "gb18030": "GB18030",
        "big5": "BIG5",
        "big5hkscs": "BIG5-HKSCS",
        "iso8859-1": "ISO-8859-1",
        "latin-1": "ISO-8859-1",
        "ascii": "UTF-8",
    }.get(canonical, canonical.upper())


def _codec_from_cpg(text: str) -> str | None:
    """Map the content of a ``.cpg`` file to an encoding name (None if unknown)."""
    value = text.strip().strip("\ufeff").strip()
    if not value:
        return None
    upper = value.upper()
    number = re.fullmatch(r"(?:ANSI|OEM|CP|WINDOWS-|MS)?\s*(\d{3,5})", upper)
    if number:
        page = number.group(1)
        if page == "65001":
            return "UTF-8"
        if page in ("88591", "28591"):
            return "ISO-8859-1"
        return _codec_name(f"cp{page}")
    if upper in ("SYSTEM", "OEM", "ANSI"):  # "the machine's code page": unknown
        return None
    return _codec_name(value.replace("_", "-"))


# dBase language driver ids of CJK code pages (used only as a hint).
_LDID_CJK = {
    0x4D: "GBK",
    0x7A: "GBK",
    0x4F: "BIG5",
    0x78: "BIG5",
    0x4E: "CP949",
    0x79: "CP949",
    0x7B: "CP932",
    0x4C: "CP932",
}


def _dbf_strings(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """Yield the non-ASCII text of a DBF as ``(kind, value)`` pairs.

    Parses the dBase header (record count, header and record length, 32-byte
    field descriptors) and reads the records in chunks. The first pair is
    ``("ldid", language driver id)``; then ``("name", bytes)`` for field names
    and ``("value", bytes)`` for character values holding a byte >= 0x80, each
    distinct value once per chunk.
    """
    header = stream.read(32)
    if len(header) < 32:
        return
    yield ("ldid", header[29])
    n_records = int.from_bytes(header[4:8], "little")
    header_len = int.from_bytes(header[8:10], "little")
    record_len = int.from_bytes(header[10:12], "little")
    descriptors = stream.read(max(header_len - 32, 0))
    fields = []
    offset = 1  # the deletion flag
    for i in range(0, len(descriptors) - 31, 32):
        d = descriptors[i : i + 32]
        if d[0] == 0x0D:
            break
        name = d[:11].split(b"\x00", 1)[0]
        ftype = chr(d[11]).upper()
        # shapelib: numeric fields use byte 16 as width, others bytes 16-17.
        width = d[16] if ftype in "NF" else d[16] + 256 * d[17]
        if any(b >= 0x80 for b in name):
            yield ("name", name)
        if ftype == "C" and width:
            fields.append((offset, width))
        offset += width
    if not fields or record_len <= 0 or n_records <= 0:
        return
    per_chunk = max(1, DBF_CHUNK_BYTES // record_len)
    remaining = n_records
    while remaining > 0:
        want = min(per_chunk, remaining)
        buf = stream.read(want * record_len)
        got = len(buf) // record_len
        if got == 0:
            break
        rows = np.frombuffer(buf, dtype=np.uint8, count=got * record_len).reshape(got, record_len)
        for start, width in fields:
            if start + width > record_len:
                continue
            block = rows[:, start : start + width]
            high = block[(block >= 0x80).any(axis=1)]
            if len(high):
                values = np.unique(np.ascontiguousarray(high).view(f"S{width}").ravel())
                for value in values.tolist():
                    yield ("value", value)
        remaining -= got


def _decodes(values: list[bytes], encoding: str) -> bool:
    """Whether every value decodes strictly (a cut-off last character is allowed).

    DBF fields have a fixed byte width, so a writer may cut a multi-byte
    character in half at the end of a value; that alone does not disqualify an
    encoding.
    """
    whole = [v.rstrip(b" \x00") for v in values]
    complete = [v for v in whole if v and v[-1] < 0x80]
    cut = [v for v in whole if v and v[-1] >= 0x80]
    try:
        b"\n".join(complete).decode(encoding)
        for value in cut:
            codecs.getincrementaldecoder(encoding)("strict").decode(value, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_dbf_encoding(stream: IO[bytes], preferred: str | None = None) -> tuple[str | None, str]:
    """Detect the encoding of a DBF's text from its raw bytes.

    Tried in order: strict UTF-8, then ``preferred`` (from a ``.cpg``), the
    DBF's CJK language driver id if any, GBK and GB18030, and last
    charset-normalizer's guess. A value cut in the middle of a multi-byte
    character at the end of its field still counts as decoding.

    Parameters
    ----------
    stream : binary file object
        The ``.dbf``, positioned at its start (read in chunks of
        :data:`DBF_CHUNK_BYTES`).
    preferred : str, optional
        The encoding a ``.cpg`` names, tried right after UTF-8.

    Returns
    -------
    encoding : str or None
        None when the text is pure ASCII or nothing fits.
    how : str
        ``"ascii"``, ``"bytes"``, ``"charset-normalizer"``, or ``"unknown"``
        when nothing fits.

    Examples
    --------
    >>> import io
    >>> header = bytes([3, 0, 0, 0]) + (1).to_bytes(4, "little")
    >>> header += (65).to_bytes(2, "little") + (9).to_bytes(2, "little") + bytes(20)
    >>> field = b"NAME" + bytes(7) + b"C" + bytes(4) + bytes([8]) + bytes(15)
    >>> dbf = header + field + bytes([13]) + b" " + "苏州".encode("gbk").ljust(8)
    >>> detect_dbf_encoding(io.BytesIO(dbf))
    ('GBK', 'bytes')
    """
    ldid = 0
    values: list[bytes] = []
    for kind, value in _dbf_strings(stream):
        if kind == "ldid":
            ldid = value
        else:
            values.append(value)
    if not values:
        return None, "ascii"
    # Strict UTF-8 first even over a .cpg: GBK text is practically never valid
    # UTF-8 (a cpg saying "UTF-8" over GBK data is the common lie), while UTF-8
    # Chinese often also decodes, wrongly, as GBK.
    candidates = ["UTF-8"]
    if preferred:
        candidates.append(preferred)
    if ldid in _LDID_CJK:
        candidates.append(_LDID_CJK[ldid])
    candidates += ["GBK", "GB18030"]
    seen = set()
    for enc in candidates:
        if enc in seen:
            continue
        seen.add(enc)
        if _decodes(values, enc):
            return enc, "bytes"
    guess = _charset_normalizer_guess(b"\n".join(values))
    if guess and _decodes(values, guess):
        return guess, "charset-normalizer"
    return None, "unknown"


def _charset_normalizer_guess(sample: bytes) -> str | None:
    """charset-normalizer's guess of the encoding of some text, as a codec name."""
    try:
        from charset_normalizer import from_bytes
    except ModuleNotFoundError:  # optional helper; detection above covers Chinese data
        return None
    best = from_bytes(sample[: 4 * 1024 * 1024]).best()
    return None if best is None else _codec_name(best.encoding)


def _shapefile_encoding(
    file: Path, fmt: str, layer: str | None, encoding: object, shown: str
) -> tuple[str, str]:
    """Decide the encoding to read a shapefile with.

    Returns (encoding, how): ``how`` is "explicit", "cpg", "detected", or
    "detected (cpg X does not decode the data)".
    """
    if encoding is not None:
        return _explicit_codec(encoding, shown, layer=layer), "explicit"

    if fmt == "shapefile-zip":
        with zipfile.ZipFile(file) as archive:
            members = {Path(n).name.lower(): n for n in archive.namelist()}
            stem = (layer or "").lower()
            cpg_name = members.get(f"{stem}.cpg")
            dbf_name = members.get(f"{stem}.dbf")
            cpg_text = archive.read(cpg_name).decode("ascii", "replace") if cpg_name else None
            if dbf_name is None:
                return "UTF-8", "detected"
            with archive.open(dbf_name) as stream:
                return _decide_encoding(stream, cpg_text, shown, layer)
    cpg = _sidecar(file, ".cpg")
    cpg_text = cpg.read_bytes().decode("ascii", "replace") if cpg else None
    dbf = _sidecar(file, ".dbf")
    if dbf is None:
        raise _fail(
            "file.unreadable",
            f"Shapefile 缺少属性文件 {file.with_suffix('.dbf').name}",
            "A shapefile is several files (.shp, .shx, .dbf, .prj, .cpg); copy all of them "
            "together.",
            file=shown,
            layer=layer,
        )
    with open(dbf, "rb") as stream:
        return _decide_encoding(stream, cpg_text, shown, layer)


def _decide_encoding(
    stream: IO[bytes], cpg_text: str | None, shown: str, layer: object
) -> tuple[str, str]:
    """The encoding from the DBF bytes and the ``.cpg``, and how it was decided."""
    stated = _codec_from_cpg(cpg_text) if cpg_text is not None else None
    found, how = detect_dbf_encoding(stream, preferred=stated)
    if found is None and how == "ascii":
        return (stated or "UTF-8"), ("cpg" if stated else "detected")
    if found is None:
        raise _fail(
            "encoding.unknown",
            "无法识别 Shapefile 属性表 (.dbf) 的文字编码（既不是 UTF-8 也不是 GBK/GB18030）",
            "Pass encoding= (e.g. 'BIG5'), or add a .cpg file next to the .shp naming the "
            "encoding.",
            file=shown,
            layer=layer,
            param="encoding",
        )
    if stated and found == stated:
        return found, "cpg"
    if stated and cpg_text is not None:
        return found, f"detected (.cpg says {cpg_text.strip()!r} but the data is not in it)"
    return found, "detected"
