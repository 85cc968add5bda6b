"""The project's own AT driver: GSM modems over a serial port, SMS in PDU mode.

``ATModem`` implements ``gateway_agent.modem.Modem``; ``ReportMatcher`` pairs
status reports with the sends they are about.
"""

from gateway_agent.at.driver import ATModem
from gateway_agent.at.matcher import ReportMatcher, SentPart
from gateway_agent.at.options import DriverOptions

__all__ = ["ATModem", "DriverOptions", "ReportMatcher", "SentPart"]
