"""A software GSM modem on a pseudo-terminal, for tests, demos and trying things out.

    from gateway_agent.emulator import ModemEmulator, EmulatorConfig
    emu = ModemEmulator(EmulatorConfig(report_delay=0.2)).start()
    emu.port_path   # open this as a serial port
"""

from gateway_agent.emulator.config import EmulatorConfig, SentRecord
from gateway_agent.emulator.emulator import ModemEmulator

__all__ = ["EmulatorConfig", "ModemEmulator", "SentRecord"]
