"""Combining journals: one planner's unsaved edits re-applied on another's saved plan.

:func:`rebased_entries` is what :meth:`gridmap.plans.Plan.rebase` replays on the stored plan:
the edits of a copy made since it was loaded, renumbered after the entries saved meanwhile,
refused with :class:`~gridmap.plans.PlanConflict` when both sides changed a unit.
"""

from __future__ import annotations

from gridmap.plans.records import PlanConflict, changed_units

__all__ = ["rebased_entries", "undo_stacks"]

#: undo / redo of an entry older than the rebased edits become plain edits with these names
_REBASED_OPS = {"undo": ("revert", "undoes", "reverts"), "redo": ("reapply", "redoes", "reapplies")}


def _authors(entries: list[dict]) -> list[str]:
    return list(dict.fromkeys(e["author"] or "?" for e in entries))


def undo_stacks(journal: list[dict]) -> tuple[list[int], list[int]]:
    """The undo and redo stacks (entry numbers) after ``journal``, as a replay builds them.

    Examples
    --------
    >>> undo_stacks([{"seq": 0, "op": "move"}, {"seq": 1, "op": "move"}, {"seq": 2, "op": "undo"}])
    ([0], [1])
    """
    undo: list[int] = []
    redo: list[int] = []
    for e in journal:
        if e["op"] == "undo":
            redo.append(undo.pop())
        elif e["op"] == "redo":
            undo.append(redo.pop())
        else:
            undo.append(e["seq"])
            redo.clear()
    return undo, redo


def rebased_entries(
    mine: list[dict], base: int, newer: list[dict], *, name: str = ""
) -> list[dict]:
    """``mine[base:]`` renumbered to follow ``newer`` (the entries stored after ``base``).

    ``mine`` is a copy's journal whose first ``base`` entries were loaded from the store.
    Entries keep their op, author, time and comment. An undo or redo of an entry older than
    ``base`` (no longer on top of the undo stack once other edits were stored) becomes a
    plain edit: ``revert`` / ``reapply`` of that entry.

    Raises
    ------
    gridmap.plans.PlanConflict
        When both sides changed a unit (nothing can be re-applied safely).

    Examples
    --------
    >>> e = lambda seq, unit, op="move", **p: {"seq": seq, "op": op, "time": str(seq),
    ...     "author": "", "params": p, "changes": [[unit, "A", "B"]], "comment": ""}
    >>> [(x["seq"], x["op"], x["params"]) for x in rebased_entries(
    ...     [e(0, "u1"), e(1, "u2"), e(2, "u2", "undo", undoes=1), e(3, "u1", "undo", undoes=0)],
    ...     1, [e(1, "u3")])]
    [(2, 'move', {}), (3, 'undo', {'undoes': 2}), (4, 'revert', {'reverts': 0})]
    """
    ours = mine[base:]
    if set(changed_units(ours)) & set(changed_units(newer)):
        raise PlanConflict(
            name, _authors(newer), "?", len(newer), changed_units(newer), mine=changed_units(ours)
        )
    shift = len(newer)
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
