"""How the AT driver talks to one modem: port, PIN and the bounds on waiting."""

from __future__ import annotations

from dataclasses import dataclass, field

from zimsend_common.config import Settings


@dataclass(frozen=True)
class DriverOptions:
    port: str
    baudrate: int = 115200
    pin: str = field(default="", repr=False)
    command_timeout: float = 10.0
    """Seconds an ordinary command may take."""
    send_timeout: float = 60.0
    """Seconds the network may take to accept one part."""
    network_wait: float = 60.0
    """Seconds ``open`` waits for registration before giving up."""
    sim_busy_wait: float = 20.0
    """Seconds a SIM may stay busy after its PIN is entered."""
    poll_interval: float = 0.5
    sweep_interval: float = 60.0
    """Seconds between reads of the SIM for messages no URC announced."""
    incomplete_after: float = field(kw_only=True)
    """Seconds after its first part when a message still missing parts is handed on as is
    (``multipart_wait_seconds``: no default here, so that the setting's is the one)."""
    sync_attempts: int = 5
    reopen_delay: float = 0.5
    """First pause before reopening a lost port; it doubles up to ``reopen_max_delay``."""
    reopen_max_delay: float = 30.0
    languages: tuple[str, ...] = ()
    """National language shift tables a text may be sent with (``sms_languages``)."""

    @classmethod
    def from_settings(cls, settings: Settings, port: str | None = None) -> DriverOptions:
        agent = settings.agent
        return cls(
            port=port or agent.modem_port,
            baudrate=agent.baudrate,
            pin=agent.sim_pin.get_secret_value(),
            send_timeout=agent.send_timeout_seconds,
            network_wait=agent.network_wait_seconds,
            incomplete_after=agent.multipart_wait_seconds,
            languages=settings.sms.sms_languages,
        )
