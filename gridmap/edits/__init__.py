"""Edits of a plan: move units, split, merge, create communities — with contiguity checks.

The pure layer under :class:`gridmap.plans.Plan` (which journals the edits) and
:mod:`gridmap.rebalance` (which proposes them):

- :mod:`~gridmap.edits.changes`: the edits themselves. Each is a pure function — an
  assignment (``labels``: a Series unit id → community id) and the unit adjacency in,
  an :class:`EditResult` out (the changes ``(unit, from, to)``, the communities it
  touches — the only ones whose KPIs need re-evaluating —, refusal ``reasons`` and
  ``warnings`` in Chinese). Nothing is mutated; :func:`apply_changes` applies a result.
- :mod:`~gridmap.edits.contiguity`: pieces, neighbouring communities, enclaves.
- :mod:`~gridmap.edits.partition`: contiguous parts of about equal weight (no solver).

Contiguity is judged on the unit adjacency graph (:mod:`gridmap.adjacency`, re-exported
here: units sharing a boundary, with a digitising tolerance, or the planning adjacency
on real geometry). An edit that would split a community into pieces is refused with the
reason (``allow_islands=True`` downgrades it to a warning).

Examples
--------
>>> import geopandas as gpd
>>> import pandas as pd
>>> from shapely import box
>>> units = gpd.GeoDataFrame({"households": [400, 500, 600, 700]},
...     geometry=[box(i, 0, i + 1, 1) for i in range(4)], index=list("abcd"), crs=4549)
>>> graph = unit_adjacency(units, tolerance=0.01)
>>> labels = pd.Series(["A", "A", "B", "B"], index=units.index)
>>> move_units(labels, ["b"], "B", graph=graph).changes
(('b', 'A', 'B'),)
>>> move_units(labels, ["a"], "B", graph=graph).reasons[0]
'单元 a 与社区 B 不相邻，只能移到相邻社区'
"""

from gridmap.adjacency import (
    lattice_adjacency,
    planning_adjacency,
    unit_adjacency,
    unit_territories,
)
from gridmap.edits.changes import (
    EditResult,
    apply_changes,
    edit_from_labels,
    merge_communities,
    move_units,
    new_community,
    split_community,
)
from gridmap.edits.contiguity import (
    check_contiguity,
    community_adjacency,
    community_pieces,
    connected_parts,
    enclaves,
)
from gridmap.edits.partition import partition_contiguous

__all__ = [
    "EditResult",
    "unit_adjacency",
    "lattice_adjacency",
    "planning_adjacency",
    "unit_territories",
    "community_adjacency",
    "community_pieces",
    "connected_parts",
    "check_contiguity",
    "enclaves",
    "move_units",
    "split_community",
    "merge_communities",
    "new_community",
    "apply_changes",
    "partition_contiguous",
    "edit_from_labels",
]
