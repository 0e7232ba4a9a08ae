"""``gridmap users add|remove|list``: the accounts of a shared dashboard, kept in the workspace.

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> add_users_parser(sub)
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

__all__ = ["add_users_parser"]


def _workspace(args: argparse.Namespace) -> Path | str:
    """The workspace of ``--workspace``, else of ``--config``, else of ./gridmap.toml."""
    # lazy: gridmap.plans loads pandas/geopandas; `gridmap --help` does not need it
    from gridmap.plans import as_workspace

    if args.workspace:
        return as_workspace(args.workspace)  # a postgresql:// URL stays a str
    config = args.config or ("gridmap.toml" if Path("gridmap.toml").is_file() else None)
    if config is None:
        raise ValueError(
            "请指明工作区：--workspace plans.gpkg 或 --config gridmap.toml "
            "(name the workspace: --workspace plans.gpkg or --config gridmap.toml)"
        )
    # heavy: importing dashboards loads Dash; only the users command needs the config's workspace
    from dashboards.provider.config import dashboard_settings

    return as_workspace(dashboard_settings(config)["workspace"])


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 / password: ")
    if getpass.getpass("再次输入 / again: ") != first:
        raise ValueError("两次输入的密码不一致 / the passwords differ")
    return first


def _cmd_users(args: argparse.Namespace) -> int:
    # heavy: importing dashboards loads Dash, which no other command needs
    from dashboards.auth import AccountStore

    store = AccountStore(_workspace(args))
    if args.action == "list":
        accounts = store.list()
        for a in accounts:
            print(f"{a.name}\t{a.role}\t{a.updated}")
        if not accounts:
            print(f"（没有账户 / no accounts in {store.location}）", file=sys.stderr)
    elif args.action == "add":
        store.add(args.name, _password(args), role=args.role, replace=args.replace)
        print(f"已保存账户 / saved account {args.name} ({args.role})", file=sys.stderr)
    else:
        store.remove(args.name)
        print(f"已删除账户 / removed account {args.name}", file=sys.stderr)
    return 0


def add_users_parser(sub) -> None:
    """Register ``gridmap users add NAME --role ROLE | remove NAME | list`` on ``sub``.

    Parameters
    ----------
    sub
        The subparsers object of an :class:`argparse.ArgumentParser`.
    """
    p = sub.add_parser("users", help="accounts for a shared dashboard (gridmap serve)")
    actions = p.add_subparsers(dest="action", required=True)

    def where(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--workspace", help="workspace holding the accounts: a GeoPackage or postgresql://…"
        )
        q.add_argument("--config", help="gridmap.toml whose workspace holds the accounts")
        q.set_defaults(func=_cmd_users)

    q = actions.add_parser("add", help="add an account (password prompted)")
    q.add_argument("name")
    q.add_argument(
        "--role",
        default="viewer",
        help="viewer (default): look and export; editor: also edit and save plans; admin",
    )
    q.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    q.add_argument("--replace", action="store_true", help="change an existing account")
    where(q)
    q = actions.add_parser("remove", help="remove an account")
    q.add_argument("name")
    where(q)
    where(actions.add_parser("list", help="list the accounts"))
