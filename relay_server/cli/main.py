"""``zimsend-relay``: the relay's command line.

Each subcommand is a ``register(subparsers)`` function in ``COMMANDS`` that
adds its parser and sets ``handler``, a function taking the parsed arguments
and returning the exit status. The administration commands live by subject:
``access`` (clients, API keys, console operators), ``devices`` and
``database``; ``serve``, ``install``, ``worker`` and ``doctor`` run the rest.
Configuration comes from ``zimsend_common.config.load_settings()`` (file and
``ZIMSEND_*`` variables).

Administration commands print one JSON object a line on stdout. A refusal
(``command.CommandRefused``) prints ``{"success": false, "error": {"code",
"message"}}`` on stderr and exits with status 1 (2 for a bad configuration),
having changed nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from relay_server.cli import access, command, database, devices, doctor, install
from relay_server.cli import serve as server
from relay_server.cli import worker as worker_command

# -- the HTTP server -------------------------------------------------------------


def register_serve(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP API, one process per core (migrates the database first)")
    parser.add_argument(
        "--workers", type=int, help="server processes (default: the http_workers setting, else one per core)"
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    settings = command.settings()
    workers = server.worker_count(args.workers, settings)
    if workers < 1:
        raise command.CommandRefused("INVALID_WORKERS", "--workers must be at least 1")
    # Migrated once, here, and a database that cannot be opened is said before any process starts.
    with command.open_store(settings):
        pass
    server.exec_server(workers)


# -- installing ------------------------------------------------------------------


def register_install(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "install", help="create the zimsend user, /etc/zimsend, /var/lib/zimsend and the systemd units (as root)"
    )
    parser.add_argument("--root", type=Path, default=Path("/"), help="install under this directory (default: /)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    parser.set_defaults(handler=_install)


def _install(args: argparse.Namespace) -> int:
    try:
        for step in install.install(args.root.resolve(), dry_run=args.dry_run, commands=install.bin_dir()):
            command.emit(step.document())
    except install.InstallError as exc:
        raise command.CommandRefused("INSTALL_FAILED", str(exc)) from exc
    return 0


# -- entry point -----------------------------------------------------------------

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    *access.COMMANDS,
    *devices.COMMANDS,
    *database.COMMANDS,
    register_serve,
    register_install,
    worker_command.register,
    doctor.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zimsend-relay", description="The ZimSend relay.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except command.CommandRefused as exc:
        error = {"code": exc.code, "message": str(exc)}
        print(json.dumps({"success": False, "error": error}, ensure_ascii=False), file=sys.stderr)
        return exc.status


if __name__ == "__main__":
    sys.exit(main())
