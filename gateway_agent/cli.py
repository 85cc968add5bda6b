"""``zimsend-agent``: the device agent's command line.

Each subcommand lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``handler`` (``args -> exit status``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway_agent.backends import BACKENDS, open_modem
from gateway_agent.modem import Modem
from zimsend_common.config import Settings, load_settings
from zimsend_common.logs import configure_logging

SUBCOMMANDS = (
    "gateway_agent.info_command",
    "gateway_agent.send_command",
    "gateway_agent.run_command",
)

EXIT_USAGE = 2
EXIT_MODEM = 3


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zimsend-agent", description="The ZimSend device agent.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def add_modem_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose a modem: backend, port and configuration file."""
    parser.add_argument("--backend", choices=BACKENDS, help="modem backend (default: from configuration)")
    parser.add_argument("--port", help="serial port of the modem (default: from configuration)")
    parser.add_argument("--config", help="configuration file (default: ZIMSEND_CONFIG)")


def modem_settings(args: argparse.Namespace) -> Settings:
    """The configuration with ``--backend`` and ``--port`` applied; ConfigError when it is bad."""
    settings = load_settings(args.config)
    overrides = {}
    if args.backend:
        overrides["backend"] = args.backend
    if args.port:
        overrides["modem_port"] = args.port
    settings = settings.model_copy(update={"agent": settings.agent.model_copy(update=overrides)})
    configure_logging(settings.logging)
    return settings


def open_modem_for(settings: Settings) -> Modem:
    """The configured modem, opened (a ModemError says why not)."""
    modem = open_modem(settings)  # raises NotReady when the backend cannot load
    try:
        modem.open()
    except BaseException:
        modem.close()
        raise
    return modem


def fail(command: str, message: str, status: int) -> int:
    """Tell the person what went wrong, on stderr; the exit status to return."""
    print(f"zimsend-agent {command}: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
