"""Which device Gammu talks to, and how: a gammurc section or port and connection.

``[gammu] gammurc`` (with ``gammu_section``) names a file in Gammu's own format,
so a phone that already works with the ``gammu`` command works here unchanged.
Without it, ``[agent] modem_port`` and ``[gammu] gammu_connection`` say it all.
"""

from __future__ import annotations

from pathlib import Path

import gammu

from zimsend_common.config import ConfigError, Settings

GammuConfig = dict[str, object]


def gammu_config(settings: Settings) -> GammuConfig:
    """The configuration to give ``StateMachine.SetConfig``, checked now.

    Raises ConfigError when neither a readable gammurc section nor a port is
    given.
    """
    if settings.gammu.gammurc:
        return _from_gammurc(Path(settings.gammu.gammurc), settings.gammu.gammu_section)
    if not settings.agent.modem_port:
        raise ConfigError(
            "the gammu backend needs [gammu] gammurc, or [agent] modem_port "
            "with [gammu] gammu_connection"
        )
    return {
        "Device": settings.agent.modem_port,
        "Connection": settings.gammu.gammu_connection,
        "Model": "",
    }


def _from_gammurc(path: Path, section: int) -> GammuConfig:
    if not path.is_file():
        raise ConfigError(f"gammurc file {path} does not exist")
    reader = gammu.StateMachine()
    try:
        reader.ReadConfig(Section=section, Configuration=0, Filename=str(path))
    except gammu.GSMError as exc:
        raise ConfigError(f"cannot use section {section} of gammurc file {path}: {exc}") from exc
    config = reader.GetConfig(0)
    if not config.get("Device"):
        raise ConfigError(f"section {section} of gammurc file {path} names no device")
    return config
