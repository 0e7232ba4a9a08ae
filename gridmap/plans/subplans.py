"""Sub-plans: a street (街道) plans its own communities; the district merges the sub-plans.

:func:`subplan` cuts a plan down to some communities — their units as they stand in the
district plan now (the sub-plan's as-is), their adjacency, figures and profile — and records
where it came from (``plan.parent``). It is an ordinary plan: edited, journalled, saved in the
same workspace under its own name (the store keeps ``parent``), by another planner.

:func:`merge_subplans` brings sub-plans back into the district plan. Each sub-plan's net
change (units whose community differs from its as-is) becomes one journal entry
``merge_subplan`` of the district plan. A sub-plan is merged whole or not at all: it is held
back, with every reason listed in :attr:`MergeResult.conflicts`, when

- ``district_changed``: the district plan changed one of its changed units since it was cut;
- ``both_changed``: another sub-plan changed the same unit;
- ``new_id_taken``: a community it made up has an id the district or another sub-plan uses.

The merged plan is not saved: the caller checks it and saves it (as any save, refused with
:class:`~gridmap.plans.PlanConflict` when someone saved the district plan meanwhile).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from gridmap.edits import EditResult
from gridmap.plans.plan import Plan
from gridmap.plans.state import touched

__all__ = ["CONFLICT_COLUMNS", "MergeResult", "merge_subplans", "subplan"]

#: the columns of :attr:`MergeResult.conflicts`
CONFLICT_COLUMNS = ["subplan", "unit_id", "community_id", "reason", "district", "other"]


def subplan(plan: Plan, communities: Iterable[str], *, name: str, author: str = "") -> Plan:
    """A new plan of ``communities``' units as they are in ``plan`` now, for one street to edit.

    Parameters
    ----------
    plan
        The district plan (saved or not; its current assignment is the sub-plan's as-is).
    communities
        The communities the sub-plan covers (e.g. a street's).
    name, author
        The sub-plan's name (unique in the workspace) and author.

    Raises
    ------
    ValueError
        When a community is not in the plan.
    """
    comms = [str(c) for c in communities]
    missing = sorted(set(comms) - set(plan._labels))
    if missing or not comms:
        raise ValueError(
            f"子方案的社区不在方案 {plan.name!r} 中：{', '.join(missing) or '（未给出社区）'} "
            f"(communities= must name communities of the plan; missing: {missing})"
        )
    idx = np.flatnonzero(plan._labels.isin(comms).to_numpy())
    units = plan.units.iloc[idx].copy()
    units["community_id"] = plan._labels.iloc[idx].to_numpy()
    units["households"] = plan._hh_float[idx]  # unknown stays unknown (NaN), not 0
    attrs = plan.community_attrs
    sub = Plan(
        units,
        name=name,
        author=author or plan.author,
        community_names={c: n for c, n in plan.community_names.items() if c in comms},
        graph=sparse.csr_array(plan.graph)[idx][:, idx],
        unit_kind=plan.unit_kind,
        community_offsets={c: v for c, v in plan.offsets.items() if c in comms},
        community_attrs=attrs[attrs.index.isin(comms)],
        profile=plan.profile,
    )
    sub.parent = {
        "plan_id": plan.plan_id,
        "name": plan.name,
        "version": plan.version,
        "communities": comms,
    }
    return sub


@dataclass
class MergeResult:
    """What :func:`merge_subplans` did.

    Attributes
    ----------
    plan
        The district plan with the merged sub-plans' edits (not saved).
    merged
        The names of the sub-plans merged, in order.
    held_back
        The names of the sub-plans not merged (see :attr:`conflicts`).
    conflicts
        One row per reason a sub-plan was held back (:data:`CONFLICT_COLUMNS`): the unit, the
        community the sub-plan wants for it, the reason code, the unit's community in the
        district plan now, the other sub-plan involved.
    """

    plan: Plan
    merged: list[str]
    held_back: list[str]
    conflicts: pd.DataFrame


def _net(sub: Plan) -> pd.Series:
    """The sub-plan's changed units: unit → its new community."""
    labels = sub._labels.astype(str)
    return labels[labels != sub.base.astype(str)]


def merge_subplans(
    district: Plan, subplans: Sequence[Plan], *, author: str = "", comment: str = ""
) -> MergeResult:
    """Merge sub-plans of ``district`` into it (in place), holding back the conflicting ones.

    Raises
    ------
    ValueError
        When a plan given is not a sub-plan of ``district``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> units = gpd.GeoDataFrame({"community_id": list("AABBCC"), "households": [500] * 6},
    ...     geometry=[box(i, 0, i + 1, 1) for i in range(6)], crs=4549)
    >>> district = Plan(units, name="区", tolerance=0.01)
    >>> east, west = subplan(district, ["A", "B"], name="东"), subplan(district, ["B", "C"], name="西")
    >>> east.move(["1"], "B").ok, west.move(["3"], "C").ok
    (True, True)
    >>> res = merge_subplans(district, [east, west])
    >>> res.merged, res.held_back, district.labels.tolist()
    (['东', '西'], [], ['A', 'B', 'B', 'C', 'C', 'C'])
    """
    for sub in subplans:
        if not sub.parent or sub.parent.get("plan_id") != district.plan_id:
            raise ValueError(
                f"方案 {sub.name!r} 不是 {district.name!r} 的子方案 "
                f"(plan {sub.name!r} is not a sub-plan of {district.name!r})"
            )
    nets = {sub.name: _net(sub) for sub in subplans}
    conflicts = _conflicts(district, subplans, nets)
    held = set(conflicts["subplan"])
    merged = []
    for sub in subplans:
        net = nets[sub.name]
        if sub.name in held:
            continue
        merged.append(sub.name)
        if net.empty:
            continue
        changes = tuple((str(u), str(district._labels[u]), str(c)) for u, c in net.items())
        params = {"subplan": sub.name, "subplan_id": sub.plan_id, "subplan_version": sub.version}
        district.apply(
            EditResult("merge_subplan", params, changes, touched(changes)),
            author=author or sub.author,
            comment=comment or f"合并子方案 {sub.name}",
        )
    held_back = [s.name for s in subplans if s.name in held]
    return MergeResult(district, merged, held_back, conflicts)


def _conflicts(
    district: Plan, subplans: Sequence[Plan], nets: dict[str, pd.Series]
) -> pd.DataFrame:
    """Every reason a sub-plan cannot be merged (:data:`CONFLICT_COLUMNS`)."""
    rows: list[list] = []
    owners: dict[str, list[str]] = {}
    for name, net in nets.items():
        for unit in net.index:
            owners.setdefault(str(unit), []).append(name)
    made = {s.name: set(nets[s.name]) - set(s.base.astype(str)) for s in subplans}
    made_count = Counter(c for ids in made.values() for c in ids)
    for sub in subplans:
        net, base = nets[sub.name], sub.base.astype(str)
        outside = set(district._labels.drop(index=sub.units.index).astype(str))
        for unit, target in net.items():
            now = str(district._labels[unit])
            if now != base[unit]:
                rows.append([sub.name, unit, target, "district_changed", now, ""])
            others = [o for o in owners[str(unit)] if o != sub.name]
            if others:
                rows.append([sub.name, unit, target, "both_changed", now, "、".join(others)])
            if target in made[sub.name] and (target in outside or made_count[target] > 1):
                other = [o for o, ids in made.items() if target in ids and o != sub.name]
                rows.append([sub.name, unit, target, "new_id_taken", now, "、".join(other)])
    return pd.DataFrame(rows, columns=CONFLICT_COLUMNS)
