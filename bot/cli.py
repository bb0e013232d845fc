"""Administration commands.

``python -m bot.cli create-agent --username wang --display-name 王芳 --role agent``
reads the password from stdin (or from the variable named by ``--password-env``).
``set-password`` changes it the same way. ``metrics`` and ``demo-history``: see
``bot/metrics/cli.py`` (docs/metrics.md).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from bot.inbox.passwords import hash_password
from bot.metrics import cli as metrics_cli
from bot.settings import Settings
from bot.store import Stores
from bot.store.agents import ROLES, AgentExists

MIN_PASSWORD = 8


def _read_password(env_name: str | None) -> str:
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise SystemExit(f"environment variable {env_name} is empty or not set")
        return value
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise SystemExit("passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-agent", help="create an inbox account")
    create.add_argument("--username", required=True)
    create.add_argument("--display-name", required=True)
    create.add_argument("--role", choices=ROLES, default="agent")
    create.add_argument("--password-env", help="read the password from this variable")
    change = commands.add_parser("set-password", help="change an account's password")
    change.add_argument("--username", required=True)
    change.add_argument("--password-env", help="read the password from this variable")
    metrics_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    status = metrics_cli.run(args, settings)
    if status is not None:
        return status
    stores = Stores.connect(settings.database_url)
    stores.db.create_schema()
    password = _read_password(args.password_env)
    if len(password) < MIN_PASSWORD:
        print(f"password must have at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 2
    try:
        if args.command == "create-agent":
            agent = stores.agents.create_sync(
                args.username.strip(),
                args.display_name.strip(),
                args.role,
                hash_password(password),
            )
            print(f"created {agent.role} {agent.username} (id {agent.id})")
        else:
            if not stores.agents.set_password_sync(args.username, hash_password(password)):
                print(f"no account named {args.username}", file=sys.stderr)
                return 1
            print(f"password changed for {args.username}")
    except AgentExists:
        print(f"an account named {args.username} already exists", file=sys.stderr)
        return 1
    finally:
        stores.db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
