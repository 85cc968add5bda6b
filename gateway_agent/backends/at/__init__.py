"""The ``at`` backend: the project's own AT driver, GSM modems over a serial port, SMS in PDU mode.

``ATModem`` implements ``gateway_agent.modem.Modem``; ``create`` builds one on
``settings.agent.modem_port``.
"""

from gateway_agent.backends.at.driver import ATModem
from gateway_agent.backends.at.options import DriverOptions
from zimsend_common.config import Settings

__all__ = ["ATModem", "DriverOptions", "create"]


def create(settings: Settings) -> ATModem:
    """An ``ATModem`` for the configured port, PIN and time bounds; not yet opened."""
    return ATModem(DriverOptions.from_settings(settings))
