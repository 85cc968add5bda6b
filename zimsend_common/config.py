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

Settings are validated with msgspec, not with pydantic as the HTTP bodies are:
every process loads them, one agent runs for each modem, and pydantic's first
model costs a process about 9 MB where msgspec costs about 1 MB.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_origin
from urllib.parse import urlsplit

import msgspec

from zimsend_common.gsm7_national import BY_CODE

DEFAULT_CONFIG_PATH = Path("/etc/zimsend/zimsend.toml")
ENV_PREFIX = "ZIMSEND_"
# Where an OTP template puts the code: ``{{code}}`` (spaces inside allowed) or ``{code}``.
OTP_PLACEHOLDER = r"\{\{\s*code\s*\}\}|\{code\}"
# What a yes-or-no setting may be written as, besides true and false.
_BOOLEAN_WORDS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class ConfigError(Exception):
    """The configuration file or an environment variable holds a bad value."""


class Secret:
    """A secret setting (a password, a PIN, a key): ``get_secret_value()`` reads it; its repr never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        """Whether one is set."""
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class RedisUrl(str):
    """A ``redis://``, ``rediss://`` or ``unix://`` URL whose port redis-py can read: one it
    cannot is refused when the settings are read, before any command acts, not at the first
    connection. What is wrong is said, never the URL, which may hold a password."""

    __slots__ = ()

    @classmethod
    def checked(cls, text: str) -> RedisUrl:
        """``text`` as a Redis URL; ValueError saying what is wrong with it."""
        if text.partition("://")[0] not in ("redis", "rediss", "unix"):
            raise ValueError("not a Redis URL: it must begin redis://, rediss:// or unix://")
        try:
            port = urlsplit(text).port  # as redis-py's from_url reads it, and fails
        except ValueError as exc:  # urllib's reason may quote the URL
            raise ValueError("not a Redis URL: its host or its port cannot be read") from exc
        if port == 0:  # redis-py would take it for no port, and connect to 6379
            raise ValueError("not a Redis URL: its port must be 1 to 65535")
        return cls(text)


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A table of settings. Its subclasses inherit both options; they repeat
    ``frozen`` for type checkers, which do not see it inherited."""


SectionT = TypeVar("SectionT", bound=_Section)


class RelaySettings(_Section, frozen=True):
    """The HTTP relay and its worker."""

    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: a SQLite file in data_dir
    # PostgreSQL's statement_timeout for the HTTP server's requests; 0: none.
    database_statement_timeout_seconds: NonNegativeFloat = 30.0
    # PostgreSQL's statement_timeout for the worker's statements (its rounds, the purge); 0: none.
    worker_statement_timeout_seconds: NonNegativeFloat = 120.0
    redis_url: RedisUrl = RedisUrl("redis://127.0.0.1:6379/0")
    host: str = "127.0.0.1"
    http_port: Port = 5040
    http_workers: NonNegativeInt = 0  # 0: one server process per core
    public_url: str = ""  # how phones reach the relay, e.g. https://sms.example.org; empty: http://host:port
    rate_limit_per_minute: PositiveInt = 100
    auth_failures_per_client_address: PositiveInt = 10
    auth_failures_per_address: PositiveInt = 50
    auth_failure_window_seconds: PositiveInt = 300
    trusted_proxy_hops: NonNegativeInt = 0
    retention_days: PositiveInt = 90
    device_offline_after_seconds: Annotated[int, msgspec.Meta(ge=5)] = 60
    recovery_grace_seconds: NonNegativeFloat = 60.0
    # Well within a claim's life in Redis (7 days), past which the message would be placed anew.
    claim_abandoned_after_seconds: Annotated[int, msgspec.Meta(ge=600, le=3 * 24 * 3600)] = 3600
    due_check_seconds: PositiveFloat = 1.0
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1024 * 1024
    webhook_allow_http: bool = False
    webhook_allow_private_hosts: bool = False
    otp_secret: Secret = msgspec.field(default_factory=Secret)  # empty: a key file made in data_dir
    # Signs console sessions; empty: a key file made in data_dir.
    console_secret: Secret = msgspec.field(default_factory=Secret)
    otp_template: Annotated[str, msgspec.Meta(pattern=OTP_PLACEHOLDER)] = "Votre code de vérification est : {{code}}"
    # Delays between a webhook's attempts after the first, immediate one:
    # "0,60,300,1800,7200,21600,86400" in a variable or a TOML list.
    webhook_retry_delays_seconds: tuple[NonNegativeFloat, ...] = (0, 60, 300, 1800, 7200, 21600, 86400)
    webhook_timeout_seconds: PositiveFloat = 5.0
    webhook_poll_seconds: PositiveFloat = 1.0
    webhook_workers: PositiveInt = 16
    webhook_client_concurrency: PositiveInt = 4
    webhook_secret_overlap_seconds: NonNegativeInt = 24 * 3600
    metrics_allow_remote: bool = False  # False: /metrics answers loopback addresses only
    # A STOP reply blocks its sender for the client, START unblocks it (``store.blocked_numbers``).
    block_opt_outs: bool = True
    clock_skew_warn_seconds: PositiveFloat = 5.0
    min_free_disk_bytes: NonNegativeInt = 500 * 1024 * 1024

    def resolved_database_url(self) -> str:
        """The database URL to use: the configured one, else SQLite in data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zimsend.sqlite3').resolve()}"


class AgentSettings(_Section, frozen=True):
    """One device agent and its modem."""

    device_id: str = ""
    device_password: Secret = msgspec.field(default_factory=Secret)
    backend: Literal["at", "gammu", "emulator", "smsgate-local"] = "emulator"
    modem_port: str = ""
    baudrate: Annotated[int, msgspec.Meta(ge=300)] = 115200
    sim_pin: Secret = msgspec.field(default_factory=Secret)
    send_rate_per_minute: PositiveInt = 20
    # At most this many SMS parts accepted by the network a day (from the host's local
    # midnight), as operators cap a prepaid SIM; 0: no limit (``agent.daily_cap``).
    daily_send_limit: NonNegativeInt = 0
    heartbeat_seconds: PositiveFloat = 5.0
    network_wait_seconds: PositiveFloat = 60.0
    send_timeout_seconds: PositiveFloat = 60.0
    send_retries: NonNegativeInt = 3
    retry_backoff_seconds: NonNegativeFloat = 2.0
    event_rehand_seconds: PositiveFloat = 30.0
    # How long an incoming SMS missing parts waits for them (the at, emulator and gammu
    # backends alike) before what came is handed on as it is. 3GPP sets no limit; the
    # network may resend a part it could not deliver minutes or hours later.
    multipart_wait_seconds: PositiveFloat = 3600.0
    # After its SIM refused a send for want of credit, how long the agent leaves its
    # client's shared queues to the other devices (its own queue it still serves). None
    # by default: the device then declines each shared message it takes, and when every
    # device is without credit each message fails NO_CREDIT as soon as all have refused
    # it; a pause spares the others those declines, but holds such messages queued.
    no_credit_pause_seconds: NonNegativeFloat = 0.0

    def longest_send_seconds(self) -> float:
        """The longest one send may take: every attempt running to its timeout,
        with the back-off between attempts."""
        attempts = self.send_retries + 1
        return attempts * self.send_timeout_seconds + self.retry_backoff_seconds * (2**attempts)


class GammuSettings(_Section, frozen=True):
    """The python-gammu backend: a gammurc section, or port and connection."""

    gammurc: str = ""
    gammu_section: NonNegativeInt = 0
    gammu_connection: str = "at"


class SmsGateSettings(_Section, frozen=True):
    """The ``smsgate-local`` backend: the SMSGate app's local server on the phone."""

    smsgate_url: str = "http://127.0.0.1:8080"  # the app's "Local address", or adb forward's end
    smsgate_username: str = "sms"
    smsgate_password: Secret = msgspec.field(default_factory=Secret)
    smsgate_sim_number: Annotated[int, msgspec.Meta(ge=0, le=8)] = 0  # 1 = first SIM; 0: the app's default
    smsgate_poll_seconds: PositiveFloat = 2.0


class SmsSettings(_Section, frozen=True):
    """How texts are written into SMS, the same for the relay (which counts parts) and the agents."""

    sms_languages: tuple[str, ...] = ()
    """National language shift tables (TS 23.038 Annex A) a text may be sent with, by language code."""

    def __post_init__(self) -> None:
        # Written in a TOML list as freely as in a variable (which ``_worded`` splits and strips).
        codes = tuple(code.lower() for code in map(str.strip, self.sms_languages) if code)
        unknown = [code for code in codes if code not in BY_CODE]
        if unknown:
            raise ValueError(f"no national language table for {unknown}; known: {', '.join(BY_CODE)}")
        msgspec.structs.force_setattr(self, "sms_languages", codes)


class LoggingSettings(_Section, frozen=True):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["json", "text"] = "json"


class Settings(_Section, frozen=True):
    relay: RelaySettings = msgspec.field(default_factory=RelaySettings)
    agent: AgentSettings = msgspec.field(default_factory=AgentSettings)
    gammu: GammuSettings = msgspec.field(default_factory=GammuSettings)
    smsgate: SmsGateSettings = msgspec.field(default_factory=SmsGateSettings)
    sms: SmsSettings = msgspec.field(default_factory=SmsSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)


# Each table of the file, by name: Settings' own fields.
SECTIONS: dict[str, type[_Section]] = {field.name: field.type for field in msgspec.structs.fields(Settings)}


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the TOML file and the environment into validated settings.

    Raises ConfigError naming the file or variable at fault.
    """
    environ = dict(os.environ if environ is None else environ)
    file = _config_path(path, environ)
    values = _read_file(file)
    from_environment = set()
    for section, model in SECTIONS.items():
        for name in model.__struct_fields__:
            # An empty variable is an unset one, as a unit's ``Environment=NAME=`` means.
            env_value = environ.get(ENV_PREFIX + name.upper())
            if env_value:
                values.setdefault(section, {})[name] = env_value
                from_environment.add(f"$.{section}.{name}")
    try:
        return validated(Settings, values)
    except ConfigError as exc:
        raise ConfigError(f"{exc} ({_source(str(exc), from_environment, file)})") from exc


def _source(message: str, from_environment: set[str], file: Path | None) -> str:
    """Where the setting ``message`` names was given: its variable, else the file. A table's
    own check (``__post_init__``) names the table alone: then its settings given by variables."""
    found = re.search(r"\$\.(\w+)(?:\.(\w+))?", message)
    if found:
        section, name = found.groups()
        given = sorted(
            path
            for path in from_environment
            if path == f"$.{section}.{name}" or (name is None and path.startswith(f"$.{section}."))
        )
        if given:
            return "set by " + " or ".join(ENV_PREFIX + path.rsplit(".", 1)[1].upper() for path in given)
    return f"set in {file}" if file is not None else f"set by a {ENV_PREFIX} variable"


def validated(model: type[SectionT], values: Any) -> SectionT:
    """``values`` (a TOML table, or a section's tables) as ``model``; ConfigError naming what is bad.

    Text is read as what each setting holds, as a variable must be written:
    ``"5040"`` as a number, ``"yes"`` or ``"off"`` as a boolean, ``"60,300"``
    as a list.
    """
    try:
        return msgspec.convert(_worded(model, values), model, strict=False, dec_hook=_decoded)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


def _worded(model: type[_Section], values: Any) -> Any:
    """``values`` with the text of list and boolean settings written as msgspec reads them."""
    if not isinstance(values, dict):
        return values
    fields = {field.name: field.type for field in msgspec.structs.fields(model)}
    return {name: _worded_value(fields.get(name), value) for name, value in values.items()}


def _worded_value(kind: Any, value: Any) -> Any:
    if isinstance(kind, type) and issubclass(kind, _Section):
        return _worded(kind, value)
    if not isinstance(value, str):
        return value
    if get_origin(kind) is tuple:
        return [part.strip() for part in value.split(",") if part.strip()]
    if kind is bool:
        return _BOOLEAN_WORDS.get(value.strip().lower(), value)
    return value


def _decoded(kind: type, value: Any) -> Any:
    """The settings' own types, from their text in a file or a variable; anything but text
    is refused with the setting's name (a PIN written as a TOML number would lose its zeros)."""
    if kind not in (Path, Secret, RedisUrl):
        raise NotImplementedError
    if not isinstance(value, str):
        raise TypeError(f"Expected `str` (quoted in TOML), got `{type(value).__name__}`")
    return RedisUrl.checked(value) if kind is RedisUrl else kind(value)


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
