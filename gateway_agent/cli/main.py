"""``zimsend-agent``: the device agent's command line.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``handler`` (``args -> exit status``); what
they share is in ``options``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway_agent.cli.threads_only import load_rq_without_greenlet

load_rq_without_greenlet()  # before the commands import RQ

from gateway_agent.cli import info, run, send  # noqa: E402

SUBCOMMANDS = (info, send, run)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zimsend-agent", description="The ZimSend device agent.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.register(subparsers)
    return parser


if __name__ == "__main__":
    sys.exit(main())
