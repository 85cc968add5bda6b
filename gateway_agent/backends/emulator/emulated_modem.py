"""An emulated modem as a backend: a software modem in this process, driven by the AT driver.

The emulated modem lives on its own pty for as long as the ``Modem`` does:
closing the modem stops it. This is the device of the demo.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gateway_agent.backends.at import ATModem, DriverOptions
from gateway_agent.backends.emulator.config import EmulatorConfig
from gateway_agent.backends.emulator.emulator import ModemEmulator
from zimsend_common.config import Settings

REPORT_DELAY_SECONDS = 2.0


class EmulatedModem(ATModem):
    """An ``ATModem`` that owns the emulator it talks to."""

    def __init__(self, options: DriverOptions, emulator: ModemEmulator, workdir: Path) -> None:
        super().__init__(options)
        self.emulator = emulator
        self._workdir = workdir

    def close(self, *, handed_out_kept: bool = True) -> None:
        try:
            super().close(handed_out_kept=handed_out_kept)
        finally:
            self.emulator.stop()
            shutil.rmtree(self._workdir, ignore_errors=True)


def create(settings: Settings, config: EmulatorConfig | None = None) -> EmulatedModem:
    """Start an emulated modem (asking for ``sim_pin`` when one is set) and a driver for it."""
    workdir = Path(tempfile.mkdtemp(prefix="zimsend-modem-"))
    link = str(workdir / "modem")
    config = config or EmulatorConfig(
        report_delay=REPORT_DELAY_SECONDS, pin=settings.agent.sim_pin.get_secret_value() or None, link=link
    )
    emulator = ModemEmulator(config).start()
    return EmulatedModem(DriverOptions.from_settings(settings, port=emulator.port_path), emulator, workdir)
