"""Combining journals: one planner's unsaved edits re-applied on another's saved plan.

:func:`rebased_entries` is what :meth:`gridmap.plans.Plan.rebase` replays on the stored plan:
the edits of a copy made since it was loaded, renumbered after the entries saved meanwhile,
refused with :class:`~gridmap.plans.PlanConflict` when both sides changed a unit.
"""

from __future__ import annotations

from gridmap.plans.records import PlanConflict, changed_units

__all__ = ["rebased_entries"]

#: undo / redo of an entry older than the rebased edits become plain edits with these names
_REBASED_OPS = {"undo": ("revert", "undoes", "reverts"), "redo": ("reapply", "redoes", "reapplies")}


def _authors(entries: list[dict]) -> list[str]:
    return list(dict.fromkeys(e["author"] or "?" for e in entries))


def rebased_entries(
    mine: list[dict], base: int, theirs: list[dict], *, same_units: bool = True, name: str = ""
) -> list[dict]:
    """``mine[base:]`` renumbered to follow ``theirs``, ready to replay on the stored plan.

    ``mine`` is a copy's journal whose first ``base`` entries were loaded from the store;
    ``theirs`` the stored journal now. Entries keep their op, author, time and comment. An
    undo or redo of an entry older than ``base`` (no longer on top of the undo stack once
    other edits were stored) becomes a plain edit: ``revert`` / ``reapply`` of that entry.

    Raises
    ------
    ValueError
        When the stored plan is not the one ``mine`` was loaded from.
    gridmap.plans.PlanConflict
        When both sides changed a unit (nothing can be re-applied safely).

    Examples
    --------
    >>> e = lambda seq, unit, op="move", **p: {"seq": seq, "op": op, "time": str(seq),
    ...     "author": "", "params": p, "changes": [[unit, "A", "B"]], "comment": ""}
    >>> [(x["seq"], x["op"], x["params"]) for x in rebased_entries(
    ...     [e(0, "u1"), e(1, "u2"), e(2, "u2", "undo", undoes=1), e(3, "u1", "undo", undoes=0)],
    ...     1, [e(0, "u1"), e(1, "u3")])]
    [(2, 'move', {}), (3, 'undo', {'undoes': 2}), (4, 'revert', {'reverts': 0})]
    """
    known = [(e["seq"], e["op"], e["time"]) for e in mine[:base]]
    if not same_units or [(e["seq"], e["op"], e["time"]) for e in theirs[:base]] != known:
        raise ValueError(
            f"方案 {name!r} 的存储版本不是本副本的来源，无法重放 "
            "(the stored plan is not the one this copy was loaded from: cannot rebase)"
        )
    ours, newer = mine[base:], theirs[base:]
    if set(changed_units(ours)) & set(changed_units(newer)):
        raise PlanConflict(
            name, _authors(newer), "?", len(newer), changed_units(newer), mine=changed_units(ours)
        )
    shift = len(theirs) - base
    entries = []
    for e in ours:
        entry = {**e, "seq": e["seq"] + shift, "params": dict(e["params"])}
        if e["op"] in _REBASED_OPS:
            op, key, new_key = _REBASED_OPS[e["op"]]
            target = int(e["params"].get(key, -1))
            if target >= base:
                entry["params"][key] = target + shift
            else:
                entry["op"], entry["params"] = op, {new_key: target}
        entries.append(entry)
    return entries
