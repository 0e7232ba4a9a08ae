"""What the user or a file says the CRS is: :func:`parse_crs`, and a short label for it.

Accepted: the pseudo-CRS names and their Chinese aliases (``"gcj02"``,
``"火星坐标"``, ``"高德"``, ``"bd09"``, ``"百度"`` …), EPSG codes as text or
numbers, ``"WGS84"``/``"CGCS2000"``, WKT (also the custom local systems such
as Suzhou's "2000SZ"), a path to a ``.prj``/``.wkt`` file, or a ``pyproj.CRS``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
from pyproj.exceptions import CRSError

from gridmap.crs.webmap import BD09, GCJ02

__all__ = ["parse_crs", "crs_label"]


_ACCEPTED_FORMS = (
    'accepted forms / 可用写法: "gcj02" (also "GCJ-02", "火星坐标", "高德"), '
    '"bd09" (also "BD-09", "百度"), "EPSG:4490", "4490", "WGS84", "CGCS2000", '
    "a WKT string, a path to a .prj/.wkt file, or a pyproj.CRS"
)


_ALIASES = {
    GCJ02: {
        "gcj02",
        "gcj",
        "gcj2",
        "火星",
        "火星坐标",
        "火星坐标系",
        "国测局",
        "国测局坐标",
        "国测局坐标系",
        "高德",
        "高德坐标",
        "腾讯",
        "腾讯坐标",
        "amap",
        "gaode",
    },
    BD09: {"bd09", "bd09ll", "bd", "百度", "百度坐标", "百度坐标系", "百度经纬度", "baidu"},
}
_NAMED = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490", "cgcs": "EPSG:4490"}


def _norm(text: str) -> str:
    return "".join(ch for ch in text.strip().lower() if ch not in " -_")


def _read_crs_file(path: Path) -> str:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gbk"):
        try:
            return raw.decode(enc).strip()
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1").strip()


def parse_crs(value: Any) -> pyproj.CRS | str:
    """Turn a user- or file-supplied CRS into a :class:`pyproj.CRS` or a pseudo-CRS name.

    Parameters
    ----------
    value : str, int, os.PathLike or pyproj.CRS
        One of: ``"gcj02"`` / ``"GCJ-02"`` / ``"火星坐标"`` / ``"高德"``
        (-> :data:`GCJ02`); ``"bd09"`` / ``"BD-09"`` / ``"百度"`` (-> :data:`BD09`);
        ``"EPSG:4490"``, ``"4490"`` or ``4490``; ``"WGS84"``, ``"CGCS2000"``;
        a WKT string (or anything else :meth:`pyproj.CRS.from_user_input` takes);
        a path to a ``.prj`` / ``.wkt`` file; a :class:`pyproj.CRS`.

    Returns
    -------
    pyproj.CRS or str
        The CRS, or :data:`GCJ02` / :data:`BD09`.

    Raises
    ------
    ValueError
        If the value is none of the above; the message lists the accepted forms.
    """
    if isinstance(value, pyproj.CRS):
        return value
    if value is None or isinstance(value, bool):
        raise ValueError(f"CRS 为空或无效 / no CRS given: {value!r}; {_ACCEPTED_FORMS}")
    if isinstance(value, (int, np.integer)):
        return _crs_from(int(value), value)
    if isinstance(value, os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"CRS 文件不存在 / CRS file not found: {path}; {_ACCEPTED_FORMS}")
        return _crs_from(_read_crs_file(path), value)
    if not isinstance(value, str):
        return _crs_from(value, value)

    text = value.strip()
    key = _norm(text)
    if not key:
        raise ValueError(f"CRS 为空 / empty CRS string; {_ACCEPTED_FORMS}")
    for name, aliases in _ALIASES.items():
        if key in aliases:
            return name
    if key in ("bd09mc", "bdmc", "百度墨卡托"):
        raise ValueError(
            f"不支持 BD-09MC（百度墨卡托）/ BD-09MC (Baidu Mercator) is not supported: {value!r}; "
            "convert to BD-09 lon/lat first. " + _ACCEPTED_FORMS
        )
    if key in _NAMED:
        return pyproj.CRS.from_user_input(_NAMED[key])
    if key.isdigit():
        return _crs_from(int(key), value)
    # A path to a .prj / .wkt file (WKT itself never ends in these suffixes).
    if len(text) < 4096 and "[" not in text:
        path = Path(text).expanduser()
        if path.suffix.lower() in (".prj", ".wkt") or path.is_file():
            if not path.is_file():
                raise ValueError(f"CRS 文件不存在 / CRS file not found: {text}; {_ACCEPTED_FORMS}")
            return _crs_from(_read_crs_file(path), value)
    return _crs_from(text, value)


def _crs_from(spec: Any, original: Any) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(spec)
    except (CRSError, TypeError, ValueError) as exc:
        shown = repr(original)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        raise ValueError(
            f"无法识别的坐标系 / unrecognised CRS {shown}: {exc}. {_ACCEPTED_FORMS}"
        ) from None


def crs_label(crs: Any) -> str:
    """Short human-readable label for a CRS (cached: the authority lookup is slow).

    Parameters
    ----------
    crs : pyproj.CRS, pseudo-CRS name, anything :func:`parse_crs` accepts, or None

    Returns
    -------
    str
        ``"EPSG:4549 CGCS2000 / 3-degree Gauss-Kruger CM 120E"`` for a CRS
        with an authority code, ``"2000SZ (custom WKT)"`` for one without,
        ``"GCJ-02 (pseudo-CRS, lon/lat)"`` for a pseudo-CRS, ``"no CRS (未设置坐标系)"``
        for ``None``.
    """
    if crs is None:
        return "no CRS (未设置坐标系)"
    key = crs.to_wkt() if isinstance(crs, pyproj.CRS) else crs
    try:
        return _crs_label(key)
    except TypeError:  # unhashable input
        return _crs_label.__wrapped__(key)


@functools.lru_cache(maxsize=64)
def _crs_label(crs: Any) -> str:
    try:
        parsed = parse_crs(crs)
    except ValueError:
        return repr(crs)
    # a pseudo-CRS is a name; comparing a pyproj.CRS with one would make pyproj search its
    # database for that name (a quarter of a second each)
    if isinstance(parsed, str):
        if parsed == GCJ02:
            return "GCJ-02 (pseudo-CRS, lon/lat)"
        if parsed == BD09:
            return "BD-09 (pseudo-CRS, lon/lat)"
    assert isinstance(parsed, pyproj.CRS)
    name = parsed.name or ""
    auth = parsed.to_authority(min_confidence=100)
    if auth is not None:
        return f"{auth[0]}:{auth[1]} {name}".strip()
    if name.lower() not in ("", "unknown", "unnamed"):
        return f"{name} (custom WKT)"
    kind = (
        "projected" if parsed.is_projected else "geographic" if parsed.is_geographic else "custom"
    )
    op = parsed.coordinate_operation
    method = f", {op.method_name}" if op is not None and op.method_name else ""
    return f"unnamed {kind} CRS{method} (custom definition)"
