"""Which device Gammu talks to, and how: a gammurc section or port and connection.

``[gammu] gammurc`` (with ``gammu_section``) names a file in Gammu's own format,
so a phone that already works with the ``gammu`` command works here unchanged.
Without it, ``[agent] modem_port`` and ``[gammu] gammu_connection`` say it all.

Either way the state machine is configured by reading a gammurc: python-gammu's
``SetConfig`` leaves the AT driver's ``AT+CNMI`` choices at zero, which turns
off incoming-message notices and, on most modems, status reports altogether.
Port and connection given directly are written to a private gammurc for that.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gammu

from zimsend_common.config import ConfigError, Settings


@dataclass(frozen=True)
class Connection:
    """A gammurc section, or the port and connection to write one from."""

    gammurc: Path | None = None
    section: int = 0
    device: str = ""
    connection: str = ""

    def apply(self, sm: gammu.StateMachine) -> None:
        """Configure ``sm`` for this device; ConfigError when Gammu cannot use it."""
        if self.gammurc is not None:
            _read(sm, self.gammurc, self.section)
            return
        with tempfile.TemporaryDirectory(prefix="zimsend-gammu-") as directory:
            path = Path(directory) / "gammurc"
            path.write_text(f"[gammu]\ndevice = {self.device}\nconnection = {self.connection}\n")
            _read(sm, path, 0)


def connection_for(settings: Settings) -> Connection:
    """The device ``settings`` name; ConfigError when they name none."""
    if settings.gammu.gammurc:
        path = Path(settings.gammu.gammurc)
        if not path.is_file():
            raise ConfigError(f"gammurc file {path} does not exist")
        return Connection(gammurc=path, section=settings.gammu.gammu_section)
    if settings.agent.modem_port:
        _single_line(settings.agent.modem_port, settings.gammu.gammu_connection)
        return Connection(device=settings.agent.modem_port, connection=settings.gammu.gammu_connection)
    raise ConfigError("the gammu backend needs [gammu] gammurc, or [agent] modem_port with [gammu] gammu_connection")


def _read(sm: gammu.StateMachine, path: Path, section: int) -> None:
    try:
        sm.ReadConfig(Section=section, Configuration=0, Filename=str(path))
    except gammu.GSMError as exc:
        raise ConfigError(f"cannot use section {section} of gammurc file {path}: {exc}") from exc
    if not sm.GetConfig(0).get("Device"):
        raise ConfigError(f"section {section} of gammurc file {path} names no device")


def _single_line(*values: str) -> None:
    # Each value becomes one line of a gammurc: a line break would smuggle in others.
    if any("\n" in value or "\r" in value for value in values):
        raise ConfigError("modem_port and gammu_connection must not contain line breaks")
