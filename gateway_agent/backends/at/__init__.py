"""The ``at`` backend: the project's own AT driver on ``settings.agent.modem_port``."""

from __future__ import annotations

from gateway_agent.at import ATModem, DriverOptions
from zimsend_common.config import Settings


def create(settings: Settings) -> ATModem:
    """An ``ATModem`` for the configured port, PIN and time bounds; not yet opened."""
    return ATModem(DriverOptions.from_settings(settings))
