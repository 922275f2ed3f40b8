"""`sift users ...` and `sift tokens ...`: account and token management from the command line.

The command line is the operator: it may do anything, and its audit events name "(cli)".
"""

import argparse
import getpass
import sys
from typing import Any

from app.auth.permissions import SCOPE_VALUES
from app.config import Settings
from app.errors import InvalidInput
from app.models import ROLE_VALUES


def read_password(from_stdin: bool) -> str:
    """A new password from stdin's first line, or typed twice at a terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput("password", "stdin is not a terminal; use --password-stdin")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise InvalidInput("password", "the two passwords differ")
    return password


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    """Create and list accounts, change roles and passwords, grant dataset membership."""
    from app.cli import session_scope
    from app.services import accounts, datasets

    with session_scope(settings) as session:
        if args.action == "list":
            for user in accounts.list_users(session):
                kind = "service" if user.is_service else "person"
                state = "active" if user.is_active else "disabled"
                print(f"{user.username}\t{user.role}\t{kind}\t{state}")
            return 0
        if args.action == "create":
            password = None if args.service else read_password(args.password_stdin)
            user = accounts.create_user(
                session, None, args.username, args.role, password, service=args.service
            )
            message = f"created {user.role} {user.username}"
        else:
            user = accounts.get_user(session, args.username)
            if args.action == "set-role":
                accounts.set_role(session, None, user, args.role)
                message = f"{user.username} is now {user.role}"
            elif args.action == "set-password":
                accounts.change_password(session, None, user, read_password(args.password_stdin))
                message = f"password of {user.username} changed; their sessions ended"
            elif args.action in ("disable", "enable"):
                accounts.set_active(session, None, user, args.action == "enable")
                message = f"{user.username} {args.action}d"
            else:
                dataset = datasets.get_dataset(session, args.dataset)
                if args.action == "grant":
                    accounts.grant(session, None, dataset, user)
                    message = f"{user.username} is a member of {dataset.slug}"
                else:
                    accounts.revoke(session, None, dataset, user)
                    message = f"{user.username} is not a member of {dataset.slug}"
        session.commit()
    print(message)
    return 0


def cmd_tokens(args: argparse.Namespace, settings: Settings) -> int:
    """Create, list and revoke API tokens."""
    from app.cli import session_scope
    from app.services import accounts, datasets, tokens

    with session_scope(settings) as session:
        if args.action == "create":
            owner = accounts.get_user(session, args.user)
            dataset = datasets.get_dataset(session, args.dataset) if args.dataset else None
            name = args.name or f"cli {'+'.join(sorted(set(args.scope)))}"
            issued = tokens.issue_token(
                session, None, owner, name, args.scope, dataset, args.expires_days
            )
            session.commit()
            print(issued.secret)
            return 0
        if args.action == "revoke":
            token = tokens.get_token(session, None, args.token_id)
            tokens.revoke_token(session, None, token)
            session.commit()
            print(f"revoked token {token.id} ({token.prefix}…) of {token.user.username}")
            return 0
        listed = (
            tokens.list_user_tokens(session, accounts.get_user(session, args.user))
            if args.user
            else tokens.list_all_tokens(session)
        )
        for t in listed:
            state = "revoked" if t.revoked_at else "active"
            fields: list[Any] = [
                t.id,
                t.prefix + "…",
                t.user.username,
                ",".join(t.scope_list),
                t.dataset.slug if t.dataset else "*",
                t.expires_at.date().isoformat() if t.expires_at else "never",
                t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never",
                state,
                t.name,
            ]
            print("\t".join(str(f) for f in fields))
    return 0


def add_commands(sub: Any) -> None:
    """Register `users` and `tokens` on the `sift` parser's sub-commands."""
    users = sub.add_parser("users", help="manage accounts and dataset membership")
    users_sub = users.add_subparsers(dest="action", required=True)
    create = users_sub.add_parser("create", help="create an account")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=ROLE_VALUES)
    create.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    create.add_argument("--service", action="store_true", help="no password; tokens only")
    users_sub.add_parser("list", help="list accounts")
    set_role = users_sub.add_parser("set-role", help="change an account's role")
    set_role.add_argument("username")
    set_role.add_argument("role", choices=ROLE_VALUES)
    set_password = users_sub.add_parser("set-password", help="set a password; ends sessions")
    set_password.add_argument("username")
    set_password.add_argument("--password-stdin", action="store_true")
    for action in ("disable", "enable"):
        users_sub.add_parser(action, help=f"{action} an account").add_argument("username")
    for action in ("grant", "revoke"):
        member = users_sub.add_parser(action, help=f"{action} membership of a dataset")
        member.add_argument("username")
        member.add_argument("--dataset", required=True, metavar="SLUG")
    users.set_defaults(func=cmd_users)

    toks = sub.add_parser("tokens", help="manage API tokens")
    toks_sub = toks.add_subparsers(dest="action", required=True)
    tcreate = toks_sub.add_parser("create", help="create a token; prints it alone on stdout")
    tcreate.add_argument("--user", required=True, metavar="USERNAME")
    tcreate.add_argument(
        "--scope", required=True, action="append", choices=SCOPE_VALUES, help="repeatable"
    )
    tcreate.add_argument("--dataset", metavar="SLUG", help="only this dataset")
    tcreate.add_argument("--expires-days", type=int, metavar="N")
    tcreate.add_argument("--name", help="a label to tell tokens apart")
    tlist = toks_sub.add_parser("list", help="list tokens (never their secrets)")
    tlist.add_argument("--user", metavar="USERNAME")
    trevoke = toks_sub.add_parser("revoke", help="revoke a token by id")
    trevoke.add_argument("token_id", type=int)
    toks.set_defaults(func=cmd_tokens)
