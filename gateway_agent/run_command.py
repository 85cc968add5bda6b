"""``zimsend-agent run``: serve one device until stopped.

The device's password and everything else come from the configuration
(``ZIMSEND_DEVICE_PASSWORD`` and friends); the command line names the device
and, when wanted, its backend and port.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gateway_agent.agent import Agent
from gateway_agent.backends import BACKENDS
from zimsend_common.config import ConfigError, Settings, load_settings
from zimsend_common.logs import configure_logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run`` to the agent's command line."""
    parser = subparsers.add_parser("run", help="serve one device: send its messages, report back")
    parser.add_argument("--device-id", required=True, help="the device, as zimsend-relay add-device named it")
    parser.add_argument("--backend", choices=BACKENDS, help="modem backend (default: from configuration)")
    parser.add_argument("--port", help="serial port of the modem (default: from configuration)")
    parser.add_argument("--config", help="configuration file (default: ZIMSEND_CONFIG)")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        settings = run_settings(load_settings(args.config), args)
        configure_logging(settings.logging)
        agent = Agent(settings)
    except ConfigError as error:
        log.error("cannot start the agent", extra={"error": str(error)})
        print(f"zimsend-agent run: {error}", file=sys.stderr)
        return 2
    agent.run()
    return 0


def run_settings(settings: Settings, args: argparse.Namespace) -> Settings:
    """The configuration with the command line's choices applied."""
    overrides = {"device_id": args.device_id}
    if args.backend:
        overrides["backend"] = args.backend
    if args.port:
        overrides["modem_port"] = args.port
    return settings.model_copy(update={"agent": settings.agent.model_copy(update=overrides)})
