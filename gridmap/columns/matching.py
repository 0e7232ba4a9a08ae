"""Finding canonical columns in a file: explicit mapping first, then the built-in aliases.

Names are compared after NFKC normalisation, case-folding and removing spaces, brackets and
unit suffixes; UTF-8 Shapefile field names cut at 10 bytes are recognised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from gridmap.columns.names import ALIASES

__all__ = ["find_columns", "parse_mapping"]

_STRIP = re.compile(r"[\s_\-—·•/\\()（）\[\]【】{}:：]+")
_UNITS = re.compile(r"(m2|m²|㎡|平方米|平米|户|人|个|名|次|%|万元|元)$")


def _key(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    text = _STRIP.sub("", text)
    return _UNITS.sub("", text) or text


def parse_mapping(items: Mapping[str, str] | list[str] | None) -> dict[str, str]:
    """Parse ``["households=住户数", …]`` (a list, as a command line gives it) into a dict.

    Parameters
    ----------
    items : list of str, mapping or None
        ``canonical=source`` strings, or a mapping (returned with keys and values stripped).

    Returns
    -------
    dict
        ``{canonical: source}``.


    Raises
    ------
    ValueError
        When an item has no ``=``.
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in items.items()}
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(
                f"列映射 {item!r} 格式错误：应为 标准列名=源列名，例如 households=住户数 "
                "(expected canonical=source, e.g. households=住户数)"
            )
        canonical, source = item.split("=", 1)
        out[canonical.strip()] = source.strip()
    return out


def find_columns(
    columns: list[str], kind: str, *, mapping: Mapping[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Match source columns to canonical names.

    Parameters
    ----------
    columns
        The source column names (geometry excluded).
    kind
        Layer kind: ``communities``, ``grids``, ``households``, ``facilities``, ``network``.
    mapping
        Explicit ``{canonical: source}``; wins over aliases. A ``canonical`` key
        that is not known for the kind is still honoured (kept as a column).

    Returns
    -------
    found, missing_explicit
        ``found`` maps canonical -> source column. ``missing_explicit`` maps
        canonical -> source for explicit mappings naming a column that does not exist.

    Examples
    --------
    >>> find_columns(["社区代码", "社区名称", "总户数"], "communities")[0]
    {'community_id': '社区代码', 'name': '社区名称', 'households': '总户数'}

    UTF-8 Shapefile field names cut at 10 bytes are recognised:

    >>> find_columns(["网格编", "协理员人"], "grids")[0]
    {'grid_id': '网格编', 'coordinators': '协理员人'}
    """
    mapping = dict(mapping or {})
    aliases = ALIASES[kind]
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    used: set[str] = set()
    for canonical, source in mapping.items():
        # an unknown canonical name is kept as given: users may add their own indicators
        if source in columns:
            found[canonical] = source
            used.add(source)
        else:
            missing[canonical] = source
    keyed: dict[str, str] = {}
    for col in columns:
        keyed.setdefault(_key(col), col)
    # DBF field names hold 10 bytes: UTF-8 Chinese names arrive cut ("网格编码" -> "网格编")
    cut = {
        _key(c): c
        for c in columns
        if 7 <= len(str(c).encode("utf-8")) <= 10 and not str(c).isascii()
    }
    for canonical, names in aliases.items():
        if canonical in found or canonical in missing:
            continue
        for candidate in (canonical, *names):
            match = keyed.get(_key(candidate))
            if match is None:
                full = _key(candidate)
                match = next(
                    (c for k, c in cut.items() if len(k) >= 3 and full.startswith(k) and full != k),
                    None,
                )
            if match is not None and match not in used:
                found[canonical] = match
                used.add(match)
                break
    return found, missing
