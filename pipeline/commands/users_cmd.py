"""`counterwatch users add|list|disable|enable|remove`: accounts for the review UI (stored in the data dir's
database). Disabling or removing a user, or resetting its password, ends its web sessions at once."""

from __future__ import annotations

import argparse
import getpass
import sys

from pipeline.core.errors import ConfigError
from pipeline.events.store import EventStore
from pipeline.web.auth import ROLES, add_user, list_users, remove_user, set_disabled


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="manage web UI users")
    s = p.add_subparsers(dest="users_cmd", required=True)
    a = s.add_parser("add", help="add a user (or reset one with --replace)")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    a.add_argument("--replace", action="store_true", help="reset the role and password of an existing user")
    _common(a)
    a.set_defaults(func=_add)
    ls = s.add_parser("list", help="list users and roles")
    _common(ls)
    ls.set_defaults(func=_list)
    for name, help_ in (("disable", "refuse a user's logins and end its sessions now"),
                        ("enable", "allow a disabled user to log in again"),
                        ("remove", "delete a user and end its sessions (its verdicts are kept)")):
        c = s.add_parser(name, help=help_)
        c.add_argument("name")
        _common(c)
        c.set_defaults(func=_change, change=name)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="data", help="data folder holding counterwatch.db (default: ./data)")
    p.add_argument("--db-url", default=None, help="database URL instead of the data folder's SQLite file")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
        if not pw:
            raise ConfigError("--password-stdin: no password on stdin")
        return pw
    if not sys.stdin.isatty():  # getpass would read stdin anyway, or die with EOFError on an empty one
        raise ConfigError("password: no terminal to ask for it; pipe it in with --password-stdin "
                          "(printf '%s\\n' \"$PW\" | counterwatch users add NAME --role ROLE --password-stdin)")
    try:
        pw = getpass.getpass("password: ")
        if pw != getpass.getpass("again: "):
            raise ConfigError("password: the two entries differ")
    except EOFError:
        raise ConfigError("password: input ended before a password was entered (or use --password-stdin)") from None
    return pw


def _add(args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    store = EventStore.for_dir(args.data, args.db_url)
    try:
        add_user(store, args.name, args.role, password, replace=args.replace)
    finally:
        store.close()
    print(f"user {args.name!r} {'updated' if args.replace else 'added'} with role {args.role}")
    return 0


def _list(args: argparse.Namespace) -> int:
    store = EventStore.for_dir(args.data, args.db_url)
    try:
        users = list_users(store)
    finally:
        store.close()
    if not users:
        print("no users; add one with: counterwatch users add NAME --role admin")
    for u in users:
        print(f"{u['username']}\t{u['role']}\t{u['created_at'][:19]}" + ("\tdisabled" if u["disabled"] else ""))
    return 0


def _change(args: argparse.Namespace) -> int:
    store = EventStore.for_dir(args.data, args.db_url)
    try:
        if args.change == "remove":
            ended = remove_user(store, args.name)
        else:
            ended = set_disabled(store, args.name, args.change == "disable")
    finally:
        store.close()
    done = {"disable": "disabled", "enable": "enabled", "remove": "removed"}[args.change]
    print(f"user {args.name!r} {done}" + (f"; {ended} session(s) ended" if args.change != "enable" else ""))
    return 0
