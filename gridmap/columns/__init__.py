"""Column names: built-in Chinese/English aliases, explicit mapping, and value cleaning.

Planners' files name the same thing many ways (社区编码, 社区代码, SQBM …). Each layer kind has
canonical columns (DESIGN.md "Canonical names"); a column is found by an explicit mapping first
(``mapping={canonical: 源列名}``), then by the aliases, compared after NFKC normalisation,
case-folding and removing spaces, brackets and unit suffixes. Counts are cleaned where the
meaning is unambiguous and reported where it is not: such values become missing, never a guess.

The package: :mod:`~gridmap.columns.names` (the vocabulary: :data:`ALIASES`, value classes,
:data:`COMMUNITY_TYPES`), :mod:`~gridmap.columns.matching` (:func:`find_columns`,
:func:`parse_mapping`) and :mod:`~gridmap.columns.values` (the cleaners,
:func:`community_type`, :func:`problems_from_bad`).
"""

from __future__ import annotations

from gridmap.columns.matching import find_columns, parse_mapping
from gridmap.columns.names import (
    ALIASES,
    AREA_MEASURES,
    COMMUNITY_TYPES,
    COUNT_COLUMNS,
    FLAG_COLUMNS,
    IMPLAUSIBLE,
    NUMBER_COLUMNS,
    PLAUSIBLE_MAX,
    RATE_COLUMNS,
    REQUIRED,
)
from gridmap.columns.values import (
    clean_counts,
    clean_flags,
    clean_numbers,
    community_type,
    problems_from_bad,
)

__all__ = [
    "ALIASES",
    "REQUIRED",
    "COUNT_COLUMNS",
    "RATE_COLUMNS",
    "NUMBER_COLUMNS",
    "FLAG_COLUMNS",
    "PLAUSIBLE_MAX",
    "IMPLAUSIBLE",
    "find_columns",
    "clean_counts",
    "clean_numbers",
    "clean_flags",
    "parse_mapping",
    "COMMUNITY_TYPES",
    "AREA_MEASURES",
    "community_type",
    "problems_from_bad",
]
