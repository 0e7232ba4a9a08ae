"""The facility type vocabulary (社区服务站, 卫生服务站 …) and type normalisation.

Facility POIs name their type many ways ("社区卫生服务站", "卫生站"); profiles
refer to canonical keys (``health_station``). The vocabulary lives in
``facility_types.toml`` next to this module.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib.resources import files

import pandas as pd

from gridmap._toml import tomllib

__all__ = ["facility_types", "normalise_types", "type_label"]


@cache
def facility_types() -> dict[str, dict]:
    """The vocabulary: ``{key: {"zh": …, "en": …, "aliases": […]}}``."""
    text = files("gridmap").joinpath("facility_types.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).strip()
    for ch in " ()（）[]【】":
        text = text.replace(ch, "")
    return text.casefold()


@cache
def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for key, entry in facility_types().items():
        for name in (key, entry["zh"], entry["en"], *entry.get("aliases", ())):
            table.setdefault(_key(name), key)
    return table


def normalise_types(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Map raw type strings to vocabulary keys.

    Returns
    -------
    keys, unknown
        ``keys`` is the canonical key, or the raw (stripped) text when the type is
        not in the vocabulary; ``unknown`` is a boolean mask of those rows.

    Examples
    --------
    >>> keys, unknown = normalise_types(pd.Series(["社区卫生服务站", "卫生站", "网吧"]))
    >>> keys.tolist(), unknown.tolist()
    (['health_station', 'health_station', '网吧'], [False, False, True])
    """
    table = _lookup()
    raw = values.fillna("").astype(str).str.strip()
    keys = raw.map(lambda v: table.get(_key(v), v))
    unknown = ~raw.map(lambda v: _key(v) in table)
    return keys.rename(values.name), unknown.rename(values.name)


def type_label(key: str, *, lang: str = "zh") -> str:
    """The Chinese (default) or English name of a facility type key; unknown keys pass through."""
    entry = facility_types().get(key)
    return entry[lang] if entry else key
