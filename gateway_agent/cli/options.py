"""What every ``zimsend-agent`` command shares: the modem options, the configuration, exit statuses."""

from __future__ import annotations

import argparse
import sys

import msgspec

from gateway_agent.backends import BACKENDS, open_modem
from gateway_agent.modem import Modem
from zimsend_common.config import Settings, load_settings
from zimsend_common.logs import configure_logging

EXIT_USAGE = 2
EXIT_MODEM = 3


def add_modem_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose a modem: backend, port and configuration file."""
    parser.add_argument("--backend", choices=BACKENDS, help="modem backend (default: from configuration)")
    parser.add_argument("--port", help="serial port of the modem (default: from configuration)")
    parser.add_argument("--config", help="configuration file (default: ZIMSEND_CONFIG)")


def modem_settings(args: argparse.Namespace) -> Settings:
    """The configuration with ``--backend``, ``--port`` and ``--device-id`` (where the command
    has it) applied; ConfigError when it is bad."""
    settings = load_settings(args.config)
    overrides = {}
    if args.backend:
        overrides["backend"] = args.backend
    if args.port:
        overrides["modem_port"] = args.port
    if getattr(args, "device_id", None):
        overrides["device_id"] = args.device_id
    settings = msgspec.structs.replace(settings, agent=msgspec.structs.replace(settings.agent, **overrides))
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
