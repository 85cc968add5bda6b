"""``zimsend-agent info``: what the modem says about itself, its SIM and its network, as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json

from gateway_agent.cli.options import EXIT_MODEM, EXIT_USAGE, add_modem_arguments, fail, modem_settings, open_modem_for
from gateway_agent.errors import ModemError
from zimsend_common.config import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="print the modem's identity, SIM state, operator and signal")
    add_modem_arguments(parser)
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        settings = modem_settings(args)
    except ConfigError as error:
        return fail("info", str(error), EXIT_USAGE)
    try:
        modem = open_modem_for(settings)
        try:
            identity, network = modem.identify(), modem.network_state()
        finally:
            modem.close()
    except ModemError as error:
        return fail("info", f"{error} ({error.failure})", EXIT_MODEM)
    document = dataclasses.asdict(identity) | dataclasses.asdict(network)
    print(json.dumps(document | {"registered": network.registered}, default=str, indent=2))
    return 0
