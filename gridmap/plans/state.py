"""What a plan holds: its units, their as-is and current community, the journal, the profile.

:class:`PlanState` is the base of :class:`gridmap.plans.Plan`: the data and the few accessors
every other part (evaluation, outputs, edits) reads. It changes only through
:meth:`PlanState._change`, which keeps the per-community piece counts current.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterable

import numpy as np
import pandas as pd
import shapely
from geopandas import GeoDataFrame
from scipy import sparse

from gridmap import edits as _edits
from gridmap.rules import Profile, SizeBand, load_profile

__all__ = ["PlanState"]


def now() -> str:
    """The current UTC time, ISO 8601 to the millisecond (journal entries, saved plans)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def touched(changes: Iterable) -> tuple[str, ...]:
    """The communities ``(unit, from, to)`` changes touch."""
    changes = list(changes)
    return tuple(sorted({c[1] for c in changes} | {c[2] for c in changes}))


class PlanState:
    """The state of a :class:`gridmap.plans.Plan` (see there for the parameters)."""

    def __init__(
        self,
        units: GeoDataFrame,
        *,
        name: str = "方案",
        author: str = "",
        community_names: dict | None = None,
        graph: sparse.csr_array | None = None,
        unit_kind: str = "grids",
        plan_id: str | None = None,
        tolerance: float = 1.0,
        community_offsets: dict | None = None,
        community_attrs: pd.DataFrame | None = None,
        profile: str | Profile = "national",
    ) -> None:
        missing = [c for c in ("community_id", "households") if c not in units.columns]
        if missing:
            raise ValueError(
                f"units lack columns {missing}; a plan needs community_id and households per unit"
            )
        if units["community_id"].isna().any():
            bad = units.index[units["community_id"].isna()][:5].tolist()
            raise ValueError(
                f"units without a community cannot be planned (e.g. {bad}); "
                "drop or assign them first"
            )
        units = units.copy()
        units.index = units.index.astype(str)
        units.index.name = "unit_id"
        units["community_id"] = units["community_id"].astype(str).astype(object)
        hh = pd.to_numeric(units["households"], errors="coerce")
        self._hh_float = hh.astype("float64").to_numpy()  # NaN = unknown (not assessed, never 0)
        units["households"] = hh.fillna(0).astype("int64")
        self.units = units
        self.name = name
        self.author = author
        self.plan_id = plan_id or uuid.uuid4().hex[:12]
        self.unit_kind = unit_kind
        self.community_names = {str(k): str(v) for k, v in (community_names or {}).items()}
        self.offsets = {str(k): int(v) for k, v in (community_offsets or {}).items() if int(v)}
        self.community_attrs = (
            community_attrs
            if community_attrs is not None
            else pd.DataFrame(index=pd.Index([], dtype=object))
        )
        self._profile = load_profile(profile)
        self._version = 0
        self._cache: dict = {}
        self.created = now()
        self.excluded: list[str] = []
        self._graph = graph
        self._tolerance = tolerance
        self._labels = units["community_id"].copy()
        self.journal: list[dict] = []
        self._saved = 0
        self._stored_version = 0  # the stored version this copy is based on (0: not saved)
        #: a sub-plan's origin: ``{"plan_id", "name", "version", "communities"}`` (else None)
        self.parent: dict | None = None
        self._undo: list[int] = []
        self._redo: list[int] = []
        self._hh = self.units["households"].to_numpy()
        self._pieces = (
            _edits.community_pieces(self._labels, self.graph)
            if len(units)
            else pd.Series(dtype=int)
        )

    @property
    def graph(self) -> sparse.csr_array:
        """The unit adjacency (positional like ``units``).

        The one given (``from_check``: the planning adjacency), else grids that touch
        (:func:`gridmap.adjacency.unit_adjacency`).
        """
        if self._graph is None:
            self._graph = _edits.unit_adjacency(
                self.units, tolerance=self._tolerance, min_shared=min(3 * self._tolerance, 20.0)
            )
        return self._graph

    @property
    def labels(self) -> pd.Series:
        """The current community of each unit (a copy)."""
        return self._labels.copy()

    @property
    def base(self) -> pd.Series:
        """The as-is community of each unit."""
        return self.units["community_id"].copy()

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return bool(self._redo)

    @property
    def dirty(self) -> bool:
        """True when the journal has entries not yet saved."""
        return len(self.journal) > self._saved

    def coords(self) -> np.ndarray:
        """Representative point of each unit (n × 2), for compactness."""
        pts = shapely.point_on_surface(np.asarray(self.units.geometry.values))
        return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])

    def community_name(self, cid: str) -> str:
        """The name of community ``cid`` (its id when it has none)."""
        return self.community_names.get(str(cid), str(cid))

    # ------------------------------------------------------------------ profile
    @property
    def profile(self) -> Profile:
        """The rule profile the plan is evaluated under (set it to re-evaluate under another)."""
        return self._profile

    @profile.setter
    def profile(self, profile: str | Profile) -> None:
        self._profile = load_profile(profile)
        self._version += 1

    @property
    def band(self) -> SizeBand | None:
        """The household band of :attr:`profile`, None when it has none.

        See :meth:`gridmap.rules.Profile.size_band`.
        """
        return self._profile.size_band()

    def set_profile(
        self, profile: str | Profile, *, community_attrs: pd.DataFrame | None = None
    ) -> None:
        """Evaluate the plan under another profile.

        With that profile's check figures per community (``community_attrs``, e.g. the
        communities of a check under ``profile``) when given.
        """
        if community_attrs is not None:
            self.community_attrs = community_attrs
        self.profile = profile

    @property
    def community_attrs(self) -> pd.DataFrame:
        """The communities' own attributes and the check's figures, indexed by community id."""
        return self._attrs

    @community_attrs.setter
    def community_attrs(self, frame: pd.DataFrame) -> None:
        frame = pd.DataFrame(frame)
        frame = frame.drop(columns=[c for c in frame.columns if str(frame[c].dtype) == "geometry"])
        self._attrs = frame.set_axis(frame.index.astype(str), axis=0)
        self._attrs_gen = getattr(self, "_attrs_gen", 0) + 1

    # ------------------------------------------------------------------ change
    def _change(self, changes) -> None:
        """Apply changes and update only the touched communities' piece counts."""
        self._labels = _edits.apply_changes(self._labels, changes)
        self._version += 1
        for cid in touched(changes):
            members = np.flatnonzero((self._labels == cid).to_numpy())
            if len(members):
                self._pieces.loc[cid] = len(_edits.connected_parts(members, self.graph))
            elif cid in self._pieces.index:
                self._pieces = self._pieces.drop(cid)
