"""How a plan is evaluated: the check's own evaluation on the plan's communities.

:class:`PlanEvaluation` gives :class:`gridmap.plans.Plan` its community table, KPIs and
findings. The household band and its exemption and every community rule come from the
plan's profile (:attr:`~gridmap.plans.Plan.band`), and the rules run through
:func:`gridmap.evaluation.evaluate_units` — the function :func:`gridmap.check` uses — on the
plan's communities: unit sums plus the households outside every unit (fixed remainders), so
an unedited plan reports exactly what the check reports. Results are kept by the content of
the plan's state (:mod:`gridmap.plans.evaluation_cache`); what the plan derives from them (its
community table, KPIs, change list) is kept per state of the plan until its next change, so a
page drawing them several times computes each once. Evaluating a new state takes a turn of the
plan's :attr:`~PlanEvaluation.turn` (shared by a server's plans).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from gridmap import edits as _edits
from gridmap.evaluation import Evaluation, add_required_coordinators, evaluate_units
from gridmap.plans.evaluation_cache import (
    EvaluationCache,
    content_digest,
    labels_digest,
    profile_digest,
)
from gridmap.plans.state import PlanState
from gridmap.rules import FINDING_COLUMNS, Profile, exempt_flags, load_profile

__all__ = ["PlanEvaluation"]

T = TypeVar("T")

#: community columns a plan recomputes from its units (the rest are the community's own attributes)
_DERIVED = (
    "name",
    "households",
    "grids",
    "coordinators",
    "coordinators_required",
    "status",
    "size_status",
    "units",
    "geometry",
)
#: community figures that depend on its territory: known for as-is communities, not assessed once
#: the plan changes which units a community holds (until a check is run on the new boundaries)
_TERRITORIAL = (
    "facility_types",
    "facilities",
    "floor_area_m2:",
    "coverage:",
    "covered:",
    "coverage_bound:",
    "covered_bound:",
    "area_km2",
    "population",
)


class PlanEvaluation(PlanState):
    """Community table, KPIs and findings of a plan (the base of :class:`gridmap.plans.Plan`)."""

    def _remainders(self) -> pd.Series:
        """Households per community outside every unit.

        The offsets, plus the whole size of the communities that hold no unit at all (known from
        ``community_attrs``).
        """
        rem = pd.Series(self.offsets, dtype="float64")
        attrs = self.community_attrs
        if "households" in attrs.columns:
            unitless = attrs.index[~attrs.index.isin(self.units["community_id"].unique())]
            extra = pd.to_numeric(attrs.loc[unitless, "households"], errors="coerce")
            rem = pd.concat([rem, extra[~extra.index.isin(rem.index)]])
        return rem

    def _touched_since_base(self, labels: pd.Series) -> set[str]:
        base = self.units["community_id"]
        moved = base.to_numpy() != labels.to_numpy()
        return set(base[moved]) | set(labels[moved])

    def _table(self, labels: pd.Series, profile: Profile) -> pd.DataFrame:
        """The community metrics of an assignment, in the shape :func:`gridmap.check` evaluates.

        Unit sums plus the fixed remainders, and the community's own attributes (figures that
        depend on the territory are kept for as-is communities only).
        """
        coords = (
            pd.to_numeric(self.units["coordinators"], errors="coerce").to_numpy(dtype="float64")
            if "coordinators" in self.units.columns
            else np.full(len(self.units), np.nan)
        )
        per_unit = pd.DataFrame(
            {
                "community_id": labels.to_numpy(),
                "households": self._hh_float,
                "coordinators": coords,
            },
            index=self.units.index,
        )
        g = per_unit.groupby("community_id")
        t = pd.DataFrame(
            {
                "units": g.size(),
                "households": g["households"].sum(min_count=1),
                "coordinators": g["coordinators"].sum(min_count=1),
            }
        )
        rem = self._remainders()
        keep = rem[(rem.fillna(0) != 0) | ~rem.index.isin(self.units["community_id"].unique())]
        t = t.reindex(t.index.union(keep.index))
        t["units"] = t["units"].fillna(0).astype("int64")
        extra = rem.reindex(t.index)
        known = t["households"].notna() | extra.notna()
        t["households"] = t["households"].add(extra, fill_value=0).where(known)
        t = t.sort_index()
        t.index.name = "community_id"
        add_required_coordinators(per_unit, t, profile)  # as the check does
        t.insert(0, "name", [self.community_name(c) for c in t.index])
        if self.unit_kind == "grids":
            t["grids"] = t["units"]
        attrs = self.community_attrs
        cols = [c for c in attrs.columns if c not in _DERIVED]
        if cols:
            joined = attrs[cols].reindex(t.index)
            changed = t.index.isin(sorted(self._touched_since_base(labels)))
            own = {}
            for c in cols:
                col = joined[c]
                if changed.any() and str(c).startswith(_TERRITORIAL):
                    col = col.astype(object).where(~changed, np.nan)
                own[c] = col.to_numpy()
            # all at once: inserting ~70 columns one by one cost more than evaluating the rules
            t = pd.concat([t, pd.DataFrame(own, index=t.index)], axis=1)
        return t

    @property
    def evaluations(self) -> EvaluationCache:
        """Where the plan keeps its evaluations, by content (:class:`EvaluationCache`).

        The plan's own by default; plans of one study may share one (set it), so a state any
        of them evaluated is not evaluated again.
        """
        cache = self.__dict__.get("_evaluations")
        if cache is None:
            cache = self.__dict__["_evaluations"] = EvaluationCache(size=32)
        return cache

    @evaluations.setter
    def evaluations(self, cache: EvaluationCache) -> None:
        self.__dict__["_evaluations"] = cache

    @property
    def turn(self) -> contextlib.AbstractContextManager:
        """Held while the plan evaluates a state not evaluated before (none by default).

        Plans of one server share one (:class:`gridmap.plans.turns.Turns`), so only a few
        evaluations run at once; drawing a state already evaluated takes no turn.
        """
        return self.__dict__.get("_turn") or contextlib.nullcontext()

    @turn.setter
    def turn(self, turns: contextlib.AbstractContextManager) -> None:
        self.__dict__["_turn"] = turns

    def _content_key(self) -> str:
        """A digest of everything but the assignment an evaluation depends on.

        The units (ids, as-is community, households, coordinators), remainders, community
        names and attributes, the unit kind. Recomputed when the attributes or names change.
        """
        names = tuple(sorted(self.community_names.items()))
        stamp = (self._attrs_gen, len(names), hash(names), tuple(sorted(self.offsets.items())))
        held = self._cache.get("content_key")
        if held is not None and held[0] == stamp:
            return held[1]
        coords = (
            self.units["coordinators"].to_numpy() if "coordinators" in self.units.columns else None
        )
        key = content_digest(
            labels_digest(self.units["community_id"]),
            self._hh_float,
            coords,
            names,
            stamp[3],
            self.community_attrs,
            self.unit_kind,
        )
        self._cache["content_key"] = (stamp, key)
        return key

    def _labels_key(self, base: bool) -> str:
        """:func:`labels_digest` of the current (or as-is) assignment, once per plan state."""
        which = "base" if base else self._version
        held = self._cache.get(("labels_key", base))
        if held is None or held[0] != which:
            labels = self.units["community_id"] if base else self._labels
            held = self._cache[("labels_key", base)] = (which, labels_digest(labels))
        return held[1]

    def _unit_names_key(self) -> str:
        """:func:`labels_digest` of the units' names (the change list shows them), once per units."""
        held = self._cache.get("unit_names_key")
        if held is None or held[0] is not self.units:
            names = self.units["name"] if "name" in self.units.columns else self.units.index
            held = self._cache["unit_names_key"] = (self.units, labels_digest(pd.Series(names)))
        return held[1]

    def _profile_key(self, profile: Profile) -> str:
        """:func:`profile_digest` of ``profile``, once per profile object."""
        held = self._cache.get("profile_key")
        if held is None or held[0] is not profile:
            held = self._cache["profile_key"] = (profile, profile_digest(profile))
        return held[1]

    def _memo(self, what: tuple, compute: Callable[[], T], *, base: bool = False) -> T:
        """``compute()`` kept until the plan changes (``base``: until its profile or content do).

        For what the plan derives from its evaluation: the community table, KPIs, changes.
        Also shared by content through :attr:`evaluations` (:meth:`EvaluationCache.derived`):
        keyed by the plan's content, the (current or as-is) assignment, the profile's content
        and the unit adjacency, so undo, redo and another tab in the same state reuse it.
        Callers get the kept object itself: copy it before handing it out.
        """
        stamp = (self._content_key(), id(self._profile), "base" if base else self._version)
        slot = "memo_base" if base else "memo"
        held = self._cache.get(slot)
        if held is None or held[0] != stamp or held[1] is not self._profile:
            held = self._cache[slot] = (stamp, self._profile, {})
        kept: dict[tuple, Any] = held[2]
        if what not in kept:
            graph = self.graph
            key = (
                "derived",
                what,
                base,
                stamp[0],
                self._labels_key(base),
                self._profile_key(self._profile),
                self._unit_names_key(),
                id(graph),  # the value holds the graph: its id is not reused while kept
            )
            kept[what] = self.evaluations.derived(key, lambda: (compute(), graph))[0]
        return kept[what]

    def _evaluate(
        self, *, base: bool = False, lang: str = "zh", profile: Profile | None = None
    ) -> tuple:
        """The community table and evaluation of the current (or as-is) assignment.

        ``(table, Evaluation)``, kept in :attr:`evaluations` by content: the assignment, the
        plan's units and attributes, the profile and the language. Shared: never modify them.
        """
        profile = profile or self._profile
        labels = self.units["community_id"] if base else self._labels
        key = (
            "communities",
            self._content_key(),
            self._labels_key(base),
            self._profile_key(profile),
            lang,
        )

        def compute() -> tuple:
            with self.turn:
                table = self._table(labels, profile)
                return table, evaluate_units(table, profile, level="community", lang=lang)

        return self.evaluations.get(key, compute)

    def _profile_for(self, min_households, max_households) -> Profile:
        """The plan's profile, or a copy with an explicit band override (``with_band``)."""
        if min_households is None and max_households is None:
            return self._profile
        return self._profile.with_band(min=min_households, max=max_households)

    def evaluation(self, *, base: bool = False, lang: str = "zh") -> Evaluation:
        """The evaluation of the plan's communities (or the as-is ones).

        The :func:`gridmap.evaluation.evaluate_units` result.
        """
        return self._evaluate(base=base, lang=lang)[1]

    def communities(
        self,
        *,
        base: bool = False,
        min_households: int | None = None,
        max_households: int | None = None,
    ) -> pd.DataFrame:
        """The plan's communities: households, units, pieces and statuses.

        ``name``, ``households`` (remainders outside units included), ``units``, ``pieces``,
        ``contiguous``, ``status`` (the size status against :attr:`band`: ``pass`` /
        ``too_small`` / ``too_large`` / ``not_assessed``) and ``rules_status`` (overall status
        of every rule of the profile, as :func:`gridmap.check` gives it).

        ``base=True`` evaluates the as-is assignment. ``min_households`` / ``max_households``
        override the profile's band explicitly (the band's rule is re-run with them too).
        """
        key = ("communities", min_households, max_households)
        return self._memo(
            key, lambda: self._communities(base, min_households, max_households), base=base
        ).copy()

    def _communities(
        self, base: bool, min_households: int | None, max_households: int | None
    ) -> pd.DataFrame:
        profile = self._profile_for(min_households, max_households)
        table, ev = self._evaluate(base=base, profile=profile)
        t = table[["name", "households", "units"]].copy()
        pieces = self._base_pieces() if base else self._pieces
        t["pieces"] = pieces.reindex(t.index).fillna(0).astype("int64")
        t["contiguous"] = t["pieces"] <= 1
        t["status"] = ev.size.reindex(t.index).to_numpy()
        t["rules_status"] = ev.status.reindex(t.index).to_numpy()
        return t

    def _base_pieces(self) -> pd.Series:
        if "base_pieces" not in self._cache:
            base = self.units["community_id"]
            self._cache["base_pieces"] = (
                _edits.community_pieces(base, self.graph) if len(base) else pd.Series(dtype=int)
            )
        return self._cache["base_pieces"]

    def exempt_min(self) -> list[str]:
        """Communities exempt from the band's minimum.

        Those flagged by the band's ``exempt_min_if`` column (e.g. ``sparse`` 居民分散 under
        ``national``); none when the profile has no exemption.
        """
        band = self.band
        if band is None or not band.exempt_min_if:
            return []
        flag = exempt_flags(self.community_attrs, band.exempt_min_if)
        return sorted(flag.index[flag.to_numpy()].astype(str))

    def kpis(
        self,
        *,
        base: bool = False,
        min_households: int | None = None,
        max_households: int | None = None,
    ) -> dict:
        """Headline numbers of the plan (or of the as-is assignment).

        Communities per size status against :attr:`band` (``in_band``, ``too_small``,
        ``too_large``, ``size_not_assessed``; None when the profile has no band), overall rule
        status (``rules_fail`` …), moves and contiguity.
        """
        key = ("kpis", min_households, max_households)
        kpis = self._memo(key, lambda: self._kpis(base, min_households, max_households), base=base)
        out = {k: list(v) if isinstance(v, list) else v for k, v in kpis.items()}
        out["edits"] = len(self.journal)  # a base memo outlives edits
        return out

    def _kpis(self, base: bool, min_households: int | None, max_households: int | None) -> dict:
        t = self.communities(
            base=base, min_households=min_households, max_households=max_households
        )
        size = t["status"].value_counts()
        rules = t["rules_status"].value_counts()
        band = self._profile_for(min_households, max_households).size_band()
        ch = self.changes() if not base else self.changes().iloc[:0]
        hh = t["households"]
        return {
            "profile": self._profile.id,
            "band": [band.min, band.max] if band is not None else None,
            "exempt_min_if": band.exempt_min_if if band is not None else None,
            "communities": int(len(t)),
            "in_band": int(size.get("pass", 0)) if band is not None else None,
            "too_small": int(size.get("too_small", 0)) if band is not None else None,
            "too_large": int(size.get("too_large", 0)) if band is not None else None,
            "size_not_assessed": int(size.get("not_assessed", 0)),
            **{
                f"rules_{s}": int(rules.get(s, 0))
                for s in ("pass", "warning", "fail", "not_assessed")
            },
            "non_contiguous": int((~t.contiguous).sum()),
            "units_moved": int(len(ch)),
            "households_moved": int(ch["households"].sum()) if len(ch) else 0,
            "households_total": int(hh.fillna(0).sum()) if hh.notna().any() else None,
            "edits": len(self.journal),
        }

    def findings(self, profile=None, *, lang: str = "zh", base: bool = False) -> pd.DataFrame:
        """The community rules of the profile on the plan's communities.

        The check's evaluation (:func:`gridmap.evaluation.evaluate_units`).

        Households, grids, coordinators and required coordinators are summed over each
        community's units plus its remainder outside them; a community the plan changed keeps
        its own attributes (staff, flags, …) but figures that depend on its territory
        (facilities, coverage, population) are not assessed until a check runs on the new
        boundaries. Non-contiguous communities add a ``plan.contiguity`` finding. ``profile``
        (default: :attr:`profile`) evaluates under another profile explicitly.
        """
        prof = self._profile if profile is None else load_profile(profile)
        table, ev = self._evaluate(base=base, lang=lang, profile=prof)
        found = ev.findings
        changed = sorted(self._touched_since_base(self._labels)) if not base else []
        if changed and len(found):
            terr = {
                r.id for r in prof.rules if any(str(c).startswith(_TERRITORIAL) for c in r.inputs())
            }
            terr |= {r.id for r in prof.rules if r.kind in ("facilities", "floor_area", "coverage")}
            m = (
                found["unit_id"].isin(changed)
                & found["rule_id"].isin(terr)
                & (found["status"] == "not_assessed")
            )
            if m.any():
                found = found.copy()
                found.loc[m, "message"] = (
                    "未评估：方案调整了该社区的范围，请按新边界重新检查"
                    if lang == "zh"
                    else "not assessed: the plan changed this community's territory; re-run the "
                    "check on the new boundaries"
                )
        labels = self.units["community_id"] if base else self._labels
        extra = _edits.check_contiguity(labels, self.graph)
        if len(extra):
            rows = pd.DataFrame(
                {
                    "level": "community",
                    "unit_id": extra["community_id"],
                    "unit_name": [self.community_name(c) for c in extra["community_id"]],
                    "rule_id": "plan.contiguity",
                    "value": extra["pieces"].astype(float),
                    "threshold": "1",
                    "status": "fail",
                    "gap": (extra["pieces"] - 1).astype(float),
                    "message": extra["message"],
                    "source": "gridmap 方案检查：社区应为连续的一片",
                    "severity": "error",
                    "rule_title": "社区连续性",
                }
            )
            found = pd.concat([found, rows[FINDING_COLUMNS]], ignore_index=True)
        return found.reset_index(drop=True)

    def changes(self) -> pd.DataFrame:
        """The change list against the as-is plan.

        ``unit_id, unit_name, from_community, from_name, to_community, to_name, households``
        (:meth:`changes_zh` for Chinese headers).
        """
        return self._memo(("changes",), self._changes).copy()

    def _changes(self) -> pd.DataFrame:
        base, cur = self.units["community_id"], self._labels
        moved = base.index[base.to_numpy() != cur.to_numpy()]
        names = (
            self.units["name"]
            if "name" in self.units.columns
            else pd.Series(self.units.index, index=self.units.index)
        )
        return pd.DataFrame(
            {
                "unit_id": moved.astype(str),
                "unit_name": names.reindex(moved).astype(str).to_numpy(),
                "from_community": base.reindex(moved).to_numpy(),
                "from_name": [self.community_name(c) for c in base.reindex(moved)],
                "to_community": cur.reindex(moved).to_numpy(),
                "to_name": [self.community_name(c) for c in cur.reindex(moved)],
                "households": self.units["households"].reindex(moved).to_numpy(),
            }
        )
