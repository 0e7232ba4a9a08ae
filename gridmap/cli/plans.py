"""``gridmap plan list|subplan|merge``: the plans of a workspace, sub-plans for streets, merging.

A district plan is saved in a workspace (a GeoPackage or ``postgresql://…?schema=…``, e.g. by
``gridmap rebalance --workspace``). ``gridmap plan subplan`` cuts it down to one street's
communities and saves that as a plan of its own, for the street's planner to edit (dashboard
or Python); ``gridmap plan merge`` brings sub-plans back into the district plan and saves it,
listing the sub-plans held back and why (:func:`gridmap.plans.merge_subplans`).

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> add_plan_parser(sub)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gridmap._errors import InputError

__all__ = ["add_plan_parser"]

#: the conflict reasons in the planner's words (zh, en)
REASONS = {
    "district_changed": ("区级方案在拆分后也改了这个单元", "the district plan changed it since"),
    "both_changed": ("另一个子方案也改了这个单元", "another sub-plan changed it too"),
    "new_id_taken": ("新社区编码已被占用", "its new community id is taken"),
}


def _workspace(args: argparse.Namespace) -> Path | str:
    # lazy: gridmap.plans loads pandas/geopandas; `gridmap --help` does not need it
    from gridmap.plans import as_workspace

    return as_workspace(args.workspace)


def _communities(plan: Any, given: list[str]) -> list[str]:
    """Community ids from ids or names (comma-separated or repeated)."""
    by_name: dict[str, list[str]] = {}
    for cid, name in plan.community_names.items():
        by_name.setdefault(str(name), []).append(str(cid))
    ids = set(map(str, plan.community_names))
    out = []
    for token in (t.strip() for g in given for t in g.split(",")):
        if not token:
            continue
        if token in ids or len(by_name.get(token, [])) != 1:
            out.append(token)  # an id, or unknown/ambiguous: subplan() names what is missing
        else:
            out.append(by_name[token][0])
    return out


def _cmd_list(args: argparse.Namespace) -> int:
    # lazy: gridmap.plans loads pandas/geopandas (same reason as above)
    from gridmap.plans import list_plans, open_store

    ws = _workspace(args)
    plans = list_plans(ws)
    if args.json:
        print(plans.to_json(orient="records", force_ascii=False, indent=2))
        return 0
    if plans.empty:
        print(f"（没有方案 / no plans in {open_store(ws).location}）", file=sys.stderr)
    for row in plans.itertuples():
        print(f"{row.name}\t{row.author or ''}\t{row.updated}\t{row.units}\t{row.journal_entries}")
    return 0


def _cmd_subplan(args: argparse.Namespace) -> int:
    # lazy: gridmap.plans loads pandas/geopandas (same reason as above)
    from gridmap.plans import list_plans, load_plan, open_store, subplan

    ws = _workspace(args)
    if args.name in set(list_plans(ws)["name"]):
        raise InputError(
            f"工作区中已有名为“{args.name}”的方案：请换一个 --name "
            f"(a plan named {args.name!r} is already in the workspace: choose another --name)"
        )
    district = load_plan(ws, args.district)
    try:
        sub = subplan(
            district,
            _communities(district, args.communities),
            name=args.name,
            author=args.author,
        )
    except ValueError as exc:
        raise InputError(str(exc).replace("communities=", "--communities")) from exc
    sub.save(ws)
    communities = sub.labels.nunique()
    print(
        f"已保存子方案“{sub.name}”：{communities} 个社区、{len(sub.units)} 个单元，"
        f"来自“{district.name}”（第 {district.version} 版）；工作区 {open_store(ws).location}\n"
        f"(saved sub-plan {sub.name!r}: {communities} communities, "
        f"{len(sub.units)} units of {district.name!r} version {district.version})"
    )
    return 0


def _merge_report(res: Any, zh: bool) -> list[str]:
    lines = []
    if res.merged:
        lines.append(("已合并：" if zh else "merged: ") + "、".join(res.merged))
    if res.held_back:
        lines.append(
            ("未合并（有冲突）：" if zh else "held back (conflicts): ") + "、".join(res.held_back)
        )
    for row in res.conflicts.itertuples():
        why = REASONS.get(row.reason, (row.reason, row.reason))[0 if zh else 1]
        other = f"（{row.other}）" if isinstance(row.other, str) and row.other else ""
        lines.append(f"  - {row.subplan}: {row.unit_id} → {row.community_id}: {why}{other}")
    return lines


def _cmd_merge(args: argparse.Namespace) -> int:
    # lazy: gridmap.plans loads pandas/geopandas (same reason as above)
    from gridmap.plans import load_plan, merge_subplans, open_store

    ws = _workspace(args)
    district = load_plan(ws, args.district)
    subs = [load_plan(ws, name) for name in args.subplans]
    res = merge_subplans(district, subs, author=args.author, comment=args.comment)
    if args.conflicts:
        res.conflicts.to_csv(args.conflicts, index=False, encoding="utf-8-sig")
    saved = bool(res.merged) and not args.dry_run
    if saved:
        district.save(ws)  # refused (exit 2, nothing written) when someone saved it meanwhile
    if args.json:
        report = {
            "plan": district.name,
            "version": district.version,
            "saved": saved,
            "merged": res.merged,
            "held_back": res.held_back,
            "conflicts": res.conflicts.to_dict(orient="records"),
        }
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return 0
    zh = args.lang == "zh"
    lines = _merge_report(res, zh)
    where = open_store(ws).location
    if saved:
        lines.append(
            f"方案“{district.name}”已保存（第 {district.version} 版），工作区 {where}"
            if zh
            else f"plan {district.name!r} saved (version {district.version}) in {where}"
        )
    else:
        lines.append("未保存 / not saved" + (" (--dry-run)" if args.dry_run else ""))
    print("\n".join(lines))
    return 0


def add_plan_parser(sub) -> None:
    """Register ``gridmap plan list | subplan DISTRICT | merge DISTRICT SUB…`` on ``sub``.

    Parameters
    ----------
    sub
        The subparsers object of an :class:`argparse.ArgumentParser`.
    """
    p = sub.add_parser("plan", help="plans of a workspace: list, sub-plans for streets, merge")
    actions = p.add_subparsers(dest="action", required=True)

    def where(q: argparse.ArgumentParser, func) -> None:
        q.add_argument(
            "--workspace",
            required=True,
            help="the plans workspace: a GeoPackage or postgresql://user@host/db?schema=NAME",
        )
        q.add_argument("--json", action="store_true", help="print the result as JSON")
        q.add_argument("--lang", choices=("zh", "en"), default="zh", help="message language")
        q.set_defaults(func=func)

    where(actions.add_parser("list", help="list the saved plans"), _cmd_list)
    q = actions.add_parser("subplan", help="save a street's part of a plan as a sub-plan")
    q.add_argument("district", help="the plan to cut (name or id)")
    q.add_argument(
        "--communities",
        action="append",
        required=True,
        metavar="ID,…",
        help="communities of the sub-plan, by id or name (comma-separated or repeated)",
    )
    q.add_argument("--name", required=True, help="the sub-plan's name (new in the workspace)")
    q.add_argument("--author", default="", help="author recorded in the journal")
    where(q, _cmd_subplan)
    q = actions.add_parser("merge", help="merge sub-plans into their plan and save it")
    q.add_argument("district", help="the plan the sub-plans were cut from (name or id)")
    q.add_argument("subplans", nargs="+", metavar="SUBPLAN", help="sub-plans to merge, in order")
    q.add_argument(
        "--author", default="", help="author of the merge entries (default: each sub-plan's)"
    )
    q.add_argument("--comment", default="", help="comment of the merge entries")
    q.add_argument("--conflicts", metavar="FILE.csv", help="write the conflicts table here")
    q.add_argument("--dry-run", action="store_true", help="report only; save nothing")
    where(q, _cmd_merge)
