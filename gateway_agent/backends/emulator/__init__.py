"""The ``emulator`` backend: a software GSM modem on a pseudo-terminal, driven by the AT driver.

The modem itself is for tests, demos and trying things out:

    from gateway_agent.backends.emulator import ModemEmulator, EmulatorConfig
    emu = ModemEmulator(EmulatorConfig(report_delay=0.2)).start()
    emu.port_path   # open this as a serial port

``create`` starts one for an agent (the demo's device); ``FakeModem`` in
``fake_modem`` is the in-memory modem the agent's logic tests use.
"""

from gateway_agent.backends.emulator.config import EmulatorConfig, SentRecord
from gateway_agent.backends.emulator.emulated_modem import EmulatedModem, create
from gateway_agent.backends.emulator.emulator import ModemEmulator

__all__ = ["EmulatedModem", "EmulatorConfig", "ModemEmulator", "SentRecord", "create"]
