"""One browser tab's plan: the :class:`gridmap.plans.Plan`, its community colours, a pending result.

Communities are coloured from a small qualitative palette so that neighbours never
share a colour; new communities (made by an edit) get a colour on first sight.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from gridmap.edits import community_adjacency

__all__ = ["PALETTE", "PlanSession", "community_colors", "pick_color"]

#: Community colours (ColorBrewer Set3, reordered).
PALETTE = [
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#a6cee3",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
]


def pick_color(colors: Mapping[str, int | None], neighbours: Iterable[str]) -> int:
    """The least used palette colour that no neighbour has (colours spread over the palette).

    Parameters
    ----------
    colors
        The palette index of each community coloured so far.
    neighbours
        The communities next to the one to colour.

    Returns
    -------
    int
        An index into :data:`PALETTE`.
    """
    used = {colors.get(n) for n in neighbours}
    counts = np.bincount([c for c in colors.values() if c is not None], minlength=len(PALETTE))
    free = [i for i in range(len(PALETTE)) if i not in used] or list(range(len(PALETTE)))
    return min(free, key=lambda i: (counts[i], i))


def community_colors(plan: Any) -> dict[str, int]:
    """A palette index per community of ``plan``: greedy colouring, busiest communities first."""
    adj = community_adjacency(plan.labels, plan.graph)
    colors: dict[str, int] = {}
    for cid in sorted(adj, key=lambda c: (-len(adj[c]), c)):
        colors[cid] = pick_color(colors, adj[cid])
    return colors


class PlanSession:
    """One tab's plan, its community colours and the rebalancer result waiting to be applied.

    Parameters
    ----------
    plan
        A :class:`gridmap.plans.Plan`.
    colors
        Palette index per community (copied).

    Attributes
    ----------
    pending
        ``(journal length when computed, EditResult)`` of the last rebalancer run, or None.
    lock
        Held while the plan is read or changed (one tab can send several requests at once).
    """

    def __init__(self, plan: Any, colors: dict[str, int]) -> None:
        self.plan = plan
        self.colors = dict(colors)
        self.pending: tuple[int, Any] | None = None
        self.lock = threading.RLock()

    def color_of(self, cid: str) -> int:
        """A palette index for a community, unlike its neighbours' (new ones get one now)."""
        if cid not in self.colors:
            adj = community_adjacency(self.plan.labels, self.plan.graph)
            self.colors[cid] = pick_color(self.colors, adj.get(cid, ()))
        return self.colors[cid]

    def pending_edit(self) -> Any:
        """The rebalancer's edit when it still applies to the plan as it is, else None."""
        if self.pending is None or self.pending[0] != len(self.plan.journal):
            return None
        return self.pending[1]
