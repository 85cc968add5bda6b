"""``zimsend-relay add-operator NAME``: a console operator, whose password is printed once."""

from __future__ import annotations

import argparse
import re

NAME_SHAPE = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``add-operator`` to the relay's command line."""
    parser = subparsers.add_parser(
        "add-operator", help="add an operator of the web console (sees every client); prints its password once"
    )
    parser.add_argument("name", help="the name the operator signs in with (letters, digits, . _ @ -)")
    parser.set_defaults(handler=_add_operator)


def _add_operator(args: argparse.Namespace) -> int:
    # The command line's plumbing, imported here: cli imports this module to list it.
    from relay_server import cli
    from relay_server.store import operators

    if not NAME_SHAPE.fullmatch(args.name):
        raise cli.CommandError("INVALID_NAME", "an operator's name is 1 to 64 letters, digits or . _ @ -")
    with cli._store(cli._settings()) as store:
        try:
            password = operators.add(store.engine, args.name)
        except operators.OperatorExists:
            raise cli.CommandError("OPERATOR_EXISTS", f"an operator {args.name} already exists") from None
    cli._print({"operator": args.name, "password": password})
    return 0
