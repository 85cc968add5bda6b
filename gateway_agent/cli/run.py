"""``zimsend-agent run``: serve one device until stopped.

The device's password and everything else come from the configuration
(``ZIMSEND_DEVICE_PASSWORD`` and friends); the command line names the device
and, when wanted, its backend and port. It refuses to start while another agent
serves the device on this host (``gateway_agent.agent.device_lock``). While an
agent on another host serves the device it waits, logging once why, and takes
over once that agent stopped (``gateway_agent.agent.instance``). It waits
rather than exits because systemd (``Restart=always``) would start it again
every few seconds, each start a failure and the same error in the journal,
and would still leave the device unserved for up to ``RestartSec`` after the
other stopped. When such an agent appears while it serves, it exits with the
busy lock's status, 2; restarted, it waits.
"""

from __future__ import annotations

import argparse

from gateway_agent.agent import Agent
from gateway_agent.agent.device_lock import DeviceBusy
from gateway_agent.agent.instance import DeviceTaken
from gateway_agent.cli.options import EXIT_MODEM, EXIT_USAGE, add_modem_arguments, fail, modem_settings
from gateway_agent.errors import NotReady
from zimsend_common.config import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run`` to the agent's command line."""
    parser = subparsers.add_parser("run", help="serve one device: send its messages, report back")
    parser.add_argument("--device-id", required=True, help="the device, as zimsend-relay add-device named it")
    add_modem_arguments(parser)
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        agent = Agent(modem_settings(args))
    except (ConfigError, ValueError, DeviceBusy) as error:
        return fail("run", str(error), EXIT_USAGE)
    except NotReady as error:  # the backend cannot load (python-gammu not installed): no retry mends that
        return fail("run", str(error), EXIT_MODEM)
    try:
        agent.run()
    except DeviceTaken as error:
        return fail("run", str(error), EXIT_USAGE)
    return 0
