"""What the Plans page lists from the workspace, read again only when the workspace changed.

Every drawing of the Plans page shows the plans saved in the workspace and the user's drafts
in other tabs. :class:`WorkspaceListings` keeps both under the workspace's change stamp
(:func:`gridmap.plans.storage.workspace_stamp`: the GeoPackage file's size, time and SQLite
change counter, read without SQLite's lock): a save, delete, rename or draft written by this
server, by a second ``gridmap serve`` on the same workspace or by the CLI changes the stamp,
and the next drawing reads the listing anew — except the saved plans after a draft written by
this server alone (:meth:`WorkspaceListings.drafts_written`: the draft's transaction was the
only change, known from SQLite's change counter), so planners editing at once do not make
every drawing read the saved plans again. A PostGIS workspace has no stamp to read without a
round trip to the database, so its listings are read every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pandas as pd

from gridmap.lru import BoundedLRU
from gridmap.plans import list_plans
from gridmap.plans.drafts import unsaved_drafts
from gridmap.plans.storage import workspace_stamp

__all__ = ["WorkspaceListings"]


class WorkspaceListings:
    """Saved plans and users' drafts of a workspace, kept until the workspace changes.

    Thread-safe and bounded (the least recently used listings beyond ``size`` are dropped).

    Parameters
    ----------
    workspace
        Called for the workspace at each listing (a GeoPackage path or a PostGIS URL).
    size
        How many listings to keep (one for the saved plans, one per tab for its user's drafts).
    """

    def __init__(self, workspace: Callable[[], Path | str], size: int = 256) -> None:
        self._workspace = workspace
        self.size = size
        self._kept: BoundedLRU[Hashable, tuple[tuple, Any]] = BoundedLRU(size)
        self._lock = threading.Lock()
        self.reads = 0  #: listings read from the workspace (not served from memory)
        #: stamp before -> (stamp after, drafts written) of drafts alone (:meth:`drafts_written`)
        self._drafts_only: dict[tuple, tuple[tuple, tuple]] = {}

    def drafts_written(self, stamps: tuple | None) -> None:
        """Tell the listings the workspace changed by drafts alone (what ``write_draft`` says).

        The saved plans listed before stay valid after it, and so do a user's other drafts
        when none of theirs (but the asking tab's) was written: a draft written by this server
        does not make every drawing read the listings again.
        """
        if stamps is None:
            return
        with self._lock:
            if len(self._drafts_only) >= self.size:  # forgotten: one listing read again
                self._drafts_only.clear()
            self._drafts_only[stamps[0]] = (stamps[1], stamps[2])

    def _still(self, held: tuple, stamp: tuple, keeps: Callable[[tuple], bool]) -> bool:
        """Whether only drafts ``keeps`` accepts were written between ``held`` and ``stamp``."""
        seen = held
        for _ in range(len(self._drafts_only)):
            step = self._drafts_only.get(seen)
            if step is None or not keeps(step[1]):
                return False
            seen = step[0]
            if seen == stamp:
                return True
        return False

    def _get(
        self,
        key: Hashable,
        read: Callable[[Path | str], Any],
        keeps: Callable[[tuple], bool] | None = None,
    ) -> Any:
        """The listing ``read`` gives, kept under the workspace's stamp.

        ``keeps``: whether writing the drafts given (``(key, user)`` pairs) leaves the listing
        as it is (then it is kept across such writes by this server).
        """
        workspace = self._workspace()
        stamp = workspace_stamp(workspace)  # before the read: the listing is at least as new
        if stamp is not None:
            with self._lock:
                held = self._kept.get(key)
                if held is not None and keeps is not None and self._still(held[0], stamp, keeps):
                    held = (stamp, held[1])
                    self._kept.put(key, held)
                if held is not None and held[0] == stamp:
                    return held[1]
        value = read(workspace)
        with self._lock:
            self.reads += 1
            if stamp is not None:
                self._kept.put(key, (stamp, value))
        return value

    def saved(self) -> pd.DataFrame:
        """The plans saved in the workspace (:func:`gridmap.plans.list_plans`), a copy."""
        return self._get(("saved",), list_plans, lambda written: True).copy()

    def drafts(self, user: str, besides: str) -> list[tuple]:
        """``user``'s drafts with unsaved edits but tab ``besides``'s (see :func:`unsaved_drafts`)."""
        rows = self._get(
            ("drafts", user, besides),
            lambda ws: unsaved_drafts(ws, user, besides=besides),
            lambda written: all(u != user or k == besides for k, u in written),
        )
        return list(rows)
