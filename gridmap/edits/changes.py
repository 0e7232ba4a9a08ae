"""Edits of an assignment: move units, split, merge, create communities, apply changes.

Every edit is a pure function: an assignment (``labels``: a Series unit id →
community id) and the unit adjacency in, an :class:`EditResult` out, listing the
changes ``(unit, from, to)``, the communities it touches, refusal ``reasons`` and
``warnings`` in Chinese. An edit that would split a community into pieces is
refused (``allow_islands=True`` downgrades it to a warning).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from gridmap.edits.contiguity import _neighbours, connected_parts
from gridmap.edits.partition import partition_contiguous

__all__ = [
    "EditResult",
    "move_units",
    "split_community",
    "merge_communities",
    "new_community",
    "apply_changes",
    "edit_from_labels",
]


@dataclass(frozen=True)
class EditResult:
    """The outcome of one edit (nothing applied yet).

    Attributes
    ----------
    op
        ``"move"``, ``"split"``, ``"merge"``, ``"create"``, ``"rebalance"`` ….
    params
        The edit's arguments (JSON-serialisable), for the journal.
    changes
        ``(unit, from, to)`` per unit whose community changes.
    touched
        Communities whose membership changes (re-evaluate only these).
    reasons
        Why the edit is refused; empty when ``ok``.
    warnings
        Things the planner should know (enclaves, islands allowed, emptied communities).
    """

    op: str
    params: dict
    changes: tuple[tuple[str, str, str], ...] = ()
    touched: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    info: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        """True when the edit can be applied."""
        return not self.reasons


def _positions(labels: pd.Series, units: Sequence) -> tuple[np.ndarray, list[str]]:
    idx = labels.index.astype(str)
    pos = idx.get_indexer([str(u) for u in units])
    missing = [str(u) for u, p in zip(units, pos, strict=True) if p < 0]
    return pos[pos >= 0], missing


def _island_reasons(
    labels: pd.Series, graph, communities: Iterable[str], after: np.ndarray, kind: str
) -> list[str]:
    out = []
    for cid in communities:
        members = np.flatnonzero(after == cid)
        if len(members) <= 1:
            continue
        comps = connected_parts(members, graph)
        if len(comps) > 1:
            comps.sort(key=len, reverse=True)
            stray = [str(labels.index[i]) for c in comps[1:] for i in c]
            out.append(
                f"{kind}后社区 {cid} 会被分成 {len(comps)} 块（孤立单元：{'、'.join(stray[:10])}）"
            )
    return out


_OP_ZH = {"move": "移动", "split": "拆分", "merge": "合并", "create": "新建"}


def _finish(
    op, params, labels, graph, after, *, allow_islands, extra_reasons=(), warnings=(), check=None
) -> EditResult:
    before = labels.astype("object").to_numpy()
    changed = np.flatnonzero(before != after)
    changes = tuple((str(labels.index[i]), str(before[i]), str(after[i])) for i in changed)
    touched = tuple(sorted({str(before[i]) for i in changed} | {str(after[i]) for i in changed}))
    reasons = list(extra_reasons)
    warns = list(warnings)
    if not reasons:
        islands = _island_reasons(
            labels, graph, check if check is not None else touched, after, _OP_ZH.get(op, op)
        )
        (warns if allow_islands else reasons).extend(islands)
        emptied = [c for c in touched if c in set(before[changed]) and not (after == c).any()]
        if emptied and op == "move":
            warns.append(f"社区 {'、'.join(emptied)} 的全部单元被移出，该社区将消失")
    if reasons:
        return EditResult(op, params, reasons=tuple(reasons), warnings=tuple(warns))
    return EditResult(op, params, changes, touched, (), tuple(warns))


def move_units(
    labels: pd.Series,
    units: Sequence,
    to: str,
    *,
    graph: sparse.csr_array,
    allow_islands: bool = False,
) -> EditResult:
    """Move ``units`` into the neighbouring community ``to``.

    Refused (with reasons) when a unit is unknown, when the moved units do not
    border ``to`` (each connected group of moved units must touch it), or when the
    move would split the source or target community — unless ``allow_islands``,
    which turns island reasons into warnings.
    """
    to = str(to)
    units = [str(u) for u in units]
    params = {"units": units, "to": to}
    pos, missing = _positions(labels, units)
    if missing:
        return EditResult("move", params, reasons=(f"未知单元：{'、'.join(missing)}",))
    after = labels.astype("object").to_numpy().copy()
    reasons = []
    moving = set(pos.tolist())
    target = set(np.flatnonzero(after == to).tolist())
    if not target and to not in set(map(str, after)):
        reasons.append(f"社区 {to} 不存在；新建社区请用 new_community")
    else:
        for comp in connected_parts(pos, graph):
            if not any(
                int(v) in target and int(v) not in moving
                for u in comp
                for v in _neighbours(graph, u)
            ):
                names = "、".join(str(labels.index[u]) for u in comp[:5])
                reasons.append(f"单元 {names} 与社区 {to} 不相邻，只能移到相邻社区")
    after[pos] = to
    return _finish(
        "move", params, labels, graph, after, allow_islands=allow_islands, extra_reasons=reasons
    )


def new_community(
    labels: pd.Series,
    units: Sequence,
    *,
    graph: sparse.csr_array,
    new_id: str | None = None,
    allow_islands: bool = False,
) -> EditResult:
    """Make a new community of the selected ``units`` (which must be contiguous)."""
    units = [str(u) for u in units]
    existing = set(map(str, labels.astype("object")))
    new_id = str(new_id) if new_id else _fresh_id(existing, "新社区")
    params = {"units": units, "new_id": new_id}
    pos, missing = _positions(labels, units)
    reasons = [f"未知单元：{'、'.join(missing)}"] if missing else []
    if not units:
        reasons.append("没有选择单元")
    if new_id in existing:
        reasons.append(f"社区编码 {new_id} 已存在")
    after = labels.astype("object").to_numpy().copy()
    if not reasons:
        after[pos] = new_id
    return _finish(
        "create", params, labels, graph, after, allow_islands=allow_islands, extra_reasons=reasons
    )


def merge_communities(
    labels: pd.Series,
    communities: Sequence[str],
    *,
    graph: sparse.csr_array,
    into: str | None = None,
) -> EditResult:
    """Merge ``communities`` into one (``into``, default the first).

    They must form a contiguous whole.
    """
    communities = [str(c) for c in communities]
    into = str(into) if into else communities[0]
    params = {"communities": communities, "into": into}
    before = labels.astype("object").to_numpy()
    present = set(map(str, before))
    reasons = [f"社区 {c} 不存在" for c in communities if c not in present]
    if len(communities) < 2:
        reasons.append("合并至少需要两个社区")
    if into not in communities:
        reasons.append(f"合并目标 {into} 必须是被合并的社区之一")
    after = before.copy()
    if not reasons:
        after[np.isin(before.astype(str), communities)] = into
    return _finish(
        "merge",
        params,
        labels,
        graph,
        after,
        allow_islands=False,
        extra_reasons=reasons,
        check=[into],
    )


def split_community(
    labels: pd.Series,
    community: str,
    k: int = 2,
    *,
    graph: sparse.csr_array,
    households: pd.Series | None = None,
    coords: np.ndarray | None = None,
    new_ids: Sequence[str] | None = None,
) -> EditResult:
    """Split ``community`` into ``k`` contiguous parts of balanced households.

    The part keeping the old id is the one with the most units; the others get
    ``new_ids`` (default ``<id>-2``, ``<id>-3`` …). ``coords`` (n × 2, positional)
    makes the parts compact; without it, graph distance is used.
    """
    community = str(community)
    params = {"community": community, "k": int(k), "new_ids": list(new_ids) if new_ids else None}
    before = labels.astype("object").to_numpy()
    members = np.flatnonzero(before.astype(str) == community)
    reasons = []
    if not len(members):
        reasons.append(f"社区 {community} 不存在")
    elif k < 2:
        reasons.append("k 至少为 2")
    elif len(members) < k:
        reasons.append(f"社区 {community} 只有 {len(members)} 个单元，不能分成 {k} 块")
    elif len(connected_parts(members, graph)) > 1:
        reasons.append(f"社区 {community} 本身不连通，请先处理飞地")
    if reasons:
        return EditResult("split", params, reasons=tuple(reasons))
    w = (
        households.reindex(labels.index).fillna(0).to_numpy(dtype=float)
        if households is not None
        else np.ones(len(labels))
    )
    parts = partition_contiguous(graph, w, k=k, members=members, coords=coords)
    existing = set(map(str, before))
    order = sorted(range(k), key=lambda p: -int((parts == p).sum()))
    ids = list(new_ids) if new_ids else []
    while len(ids) < k - 1:
        ids.append(_fresh_id(existing | set(ids), f"{community}-"))
    params["new_ids"] = ids[: k - 1]
    after = before.copy()
    for rank, p in enumerate(order[1:]):
        after[members[parts == p]] = ids[rank]
    return _finish("split", params, labels, graph, after, allow_islands=False)


def _fresh_id(existing: set[str], stem: str) -> str:
    i = 2 if stem.endswith("-") else 1
    while f"{stem}{i}" in existing:
        i += 1
    return f"{stem}{i}"


def apply_changes(labels: pd.Series, changes: Iterable[tuple[str, str, str]]) -> pd.Series:
    """A new assignment with ``changes`` applied (checks each ``from`` matches).

    Examples
    --------
    >>> apply_changes(pd.Series(["A", "B"], index=["u1", "u2"]), [("u1", "A", "B")]).tolist()
    ['B', 'B']
    """
    out = labels.astype("object").copy()
    pos = {u: i for i, u in enumerate(out.index.astype(str))}
    values = out.to_numpy().copy()
    for unit, old, new in changes:
        i = pos[str(unit)]
        if str(values[i]) != str(old):
            raise ValueError(
                f"change {unit}: {old} → {new} does not match the plan (unit is in {values[i]})"
            )
        values[i] = new
    return pd.Series(values, index=labels.index, name=labels.name, dtype=object)


def edit_from_labels(
    labels: pd.Series,
    new: pd.Series,
    *,
    op: str = "replace",
    params: dict | None = None,
    warnings: Sequence[str] = (),
) -> EditResult:
    """The edit that turns ``labels`` into ``new`` (e.g. a solver's or a from-scratch plan).

    Examples
    --------
    >>> old = pd.Series(["A", "A", "B"], index=["u1", "u2", "u3"])
    >>> edit_from_labels(old, pd.Series(["A", "B", "B"], index=old.index)).changes
    (('u2', 'A', 'B'),)
    """
    before = labels.astype("object").to_numpy()
    after = new.reindex(labels.index).astype("object").to_numpy()
    changed = np.flatnonzero(before != after)
    changes = tuple((str(labels.index[i]), str(before[i]), str(after[i])) for i in changed)
    touched = tuple(sorted(set(before[changed]) | set(after[changed])))
    return EditResult(op, dict(params or {}), changes, touched, (), tuple(warnings))
