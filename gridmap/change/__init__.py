"""Change across time and across layers: snapshot comparison (more to come in this package).

- :mod:`~gridmap.change.snapshot`: a check output read back (:func:`read_snapshot`), or a
  :class:`gridmap.CheckResult` taken as one (:func:`snapshot_of`);
- :mod:`~gridmap.change.compare`: what changed between two snapshots (:func:`compare`).

The features share the matching of units of two layers by geometry (``_match``) and the
writing of Chinese-headed tables, XLSX workbooks and GeoPackages (``_write``).
"""

from gridmap.change.compare import (
    CHANGE_KINDS,
    CHANGE_ZH,
    COMPARE_HEADERS_ZH,
    LEVEL_ZH,
    Comparison,
    compare,
)
from gridmap.change.snapshot import Snapshot, read_snapshot, snapshot_of

__all__ = [
    "CHANGE_KINDS",
    "CHANGE_ZH",
    "LEVEL_ZH",
    "COMPARE_HEADERS_ZH",
    "Comparison",
    "Snapshot",
    "compare",
    "read_snapshot",
    "snapshot_of",
]
