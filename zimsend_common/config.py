"""Configuration: one TOML file plus environment variables.

Where settings come from, later sources winning:

1. the defaults below;
2. the TOML file named by ``ZIMSEND_CONFIG`` (else ``/etc/zimsend/zimsend.toml``
   when it exists), with one table per section: ``[relay]``, ``[agent]``,
   ``[gammu]``, ``[smsgate]``, ``[sms]``, ``[logging]``;
3. environment variables ``ZIMSEND_<NAME>``, where NAME is the setting's name
   in upper case (``ZIMSEND_DATABASE_URL``, ``ZIMSEND_DEVICE_PASSWORD``...).

Every setting's name is unique across sections, so one environment variable
names exactly one setting. The README lists them all.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from zimsend_common.gsm7_national import BY_CODE

DEFAULT_CONFIG_PATH = Path("/etc/zimsend/zimsend.toml")
ENV_PREFIX = "ZIMSEND_"
# Where an OTP template puts the code: ``{{code}}`` (spaces inside allowed) or ``{code}``.
OTP_PLACEHOLDER = r"\{\{\s*code\s*\}\}|\{code\}"


class ConfigError(Exception):
    """The configuration file or an environment variable holds a bad value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelaySettings(_Section):
    """The HTTP relay and its worker."""

    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: a SQLite file in data_dir
    redis_url: str = "redis://127.0.0.1:6379/0"
    host: str = "127.0.0.1"
    http_port: int = Field(5040, ge=1, le=65535)
    http_workers: int = Field(0, ge=0)  # 0: one server process per core
    public_url: str = ""  # how phones reach the relay, e.g. https://sms.example.org; empty: http://host:port
    rate_limit_per_minute: int = Field(100, ge=1)
    auth_failures_per_client_address: int = Field(10, ge=1)
    auth_failures_per_address: int = Field(50, ge=1)
    auth_failure_window_seconds: int = Field(300, ge=1)
    trusted_proxy_hops: int = Field(0, ge=0)
    retention_days: int = Field(90, ge=1)
    device_offline_after_seconds: int = Field(60, ge=5)
    recovery_grace_seconds: float = Field(60.0, ge=0)
    due_check_seconds: float = Field(1.0, gt=0)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    webhook_allow_http: bool = False
    webhook_allow_private_hosts: bool = False
    otp_secret: SecretStr = SecretStr("")  # empty: a key file made in data_dir
    console_secret: SecretStr = SecretStr("")  # signs console sessions; empty: a key file made in data_dir
    otp_template: str = Field("Votre code de vérification est : {{code}}", pattern=OTP_PLACEHOLDER)
    # Delays between a webhook's attempts after the first, immediate one:
    # "60,300,1800,7200,21600,86400" in a variable or a TOML list.
    webhook_retry_delays_seconds: tuple[float, ...] = (60, 300, 1800, 7200, 21600, 86400)
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    webhook_poll_seconds: float = Field(1.0, gt=0)
    webhook_workers: int = Field(16, ge=1)
    webhook_client_concurrency: int = Field(4, ge=1)
    webhook_secret_overlap_seconds: int = Field(24 * 3600, ge=0)
    metrics_allow_remote: bool = False  # False: /metrics answers loopback addresses only
    clock_skew_warn_seconds: float = Field(5.0, gt=0)
    min_free_disk_bytes: int = Field(500 * 1024 * 1024, ge=0)

    @field_validator("webhook_retry_delays_seconds", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("webhook_retry_delays_seconds")
    @classmethod
    def _not_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("webhook retry delays must not be negative")
        return value

    def resolved_database_url(self) -> str:
        """The database URL to use: the configured one, else SQLite in data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zimsend.sqlite3').resolve()}"


class AgentSettings(_Section):
    """One device agent and its modem."""

    device_id: str = ""
    device_password: str = ""
    backend: Literal["at", "gammu", "emulator", "smsgate-local"] = "emulator"
    modem_port: str = ""
    baudrate: int = Field(115200, ge=300)
    sim_pin: str = ""
    send_rate_per_minute: int = Field(20, ge=1)
    heartbeat_seconds: float = Field(5.0, gt=0)
    network_wait_seconds: float = Field(60.0, gt=0)
    send_timeout_seconds: float = Field(60.0, gt=0)
    send_retries: int = Field(3, ge=0)
    retry_backoff_seconds: float = Field(2.0, ge=0)
    event_rehand_seconds: float = Field(30.0, gt=0)

    def longest_send_seconds(self) -> float:
        """The longest one send may take: every attempt running to its timeout,
        with the back-off between attempts."""
        attempts = self.send_retries + 1
        return attempts * self.send_timeout_seconds + self.retry_backoff_seconds * (2**attempts)


class GammuSettings(_Section):
    """The python-gammu backend: a gammurc section, or port and connection."""

    gammurc: str = ""
    gammu_section: int = Field(0, ge=0)
    gammu_connection: str = "at"


class SmsGateSettings(_Section):
    """The ``smsgate-local`` backend: the SMSGate app's local server on the phone."""

    smsgate_url: str = "http://127.0.0.1:8080"  # the app's "Local address", or adb forward's end
    smsgate_username: str = "sms"
    smsgate_password: str = ""
    smsgate_sim_number: int = Field(0, ge=0, le=8)  # 1 = first SIM; 0: the app's default
    smsgate_poll_seconds: float = Field(2.0, gt=0)


class SmsSettings(_Section):
    """How texts are written into SMS, the same for the relay (which counts parts) and the agents."""

    sms_languages: tuple[str, ...] = ()
    """National language shift tables (TS 23.038 Annex A) a text may be sent with, by language code."""

    @field_validator("sms_languages", mode="before")
    @classmethod
    def _language_codes(cls, value: Any) -> Any:
        codes = value.split(",") if isinstance(value, str) else value
        if not isinstance(codes, (list, tuple)):
            return value
        codes = [str(code).strip().lower() for code in codes if str(code).strip()]
        unknown = [code for code in codes if code not in BY_CODE]
        if unknown:
            raise ValueError(f"no national language table for {unknown}; known: {', '.join(BY_CODE)}")
        return tuple(codes)


class LoggingSettings(_Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["json", "text"] = "json"


class Settings(_Section):
    relay: RelaySettings = RelaySettings()
    agent: AgentSettings = AgentSettings()
    gammu: GammuSettings = GammuSettings()
    smsgate: SmsGateSettings = SmsGateSettings()
    sms: SmsSettings = SmsSettings()
    logging: LoggingSettings = LoggingSettings()


SECTIONS: dict[str, type[_Section]] = {
    "relay": RelaySettings,
    "agent": AgentSettings,
    "gammu": GammuSettings,
    "smsgate": SmsGateSettings,
    "sms": SmsSettings,
    "logging": LoggingSettings,
}


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the TOML file and the environment into validated settings.

    Raises ConfigError naming the file or variable at fault.
    """
    environ = dict(os.environ if environ is None else environ)
    values = _read_file(_config_path(path, environ))
    for section, model in SECTIONS.items():
        for name in model.model_fields:
            env_value = environ.get(ENV_PREFIX + name.upper())
            if env_value is not None:
                values.setdefault(section, {})[name] = env_value
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


def _config_path(path: str | Path | None, environ: dict[str, str]) -> Path | None:
    if path is not None:
        return Path(path)
    if environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def _read_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc}") from exc
