"""What a loaded casahub.toml is: one frozen dataclass per section, `Config` holding them all, and `Secret`.

The names and ranges of the values are read and checked in hub/config/sections.py,
channels.py and drivers.py; what lives here is only what the rest of the hub is handed.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

# The hub's languages are the message texts' (alarms/messages/text.py); named here too for hub.config's importers.
from alarms.messages import LANGUAGES as LANGUAGES
from alarms.messages import Language as Language
from alarms.model import AlarmSettings
from hub.config.addresses import parse_listen
from hub.config.errors import ConfigIssue

TlsMode = Literal["auto", "off"]
EmailSecurity = Literal["starttls", "tls", "none"]
CentreProtocol = Literal["dc09", "webhook"]
CentreFormat = Literal["cid", "sia"]
KeyFormat = Literal["hex", "ascii"]
SmsProvider = Literal["twilio"]

# The values a key accepts, from its Literal, so the check and the type never disagree.
TLS_MODES: tuple[TlsMode, ...] = get_args(TlsMode)
SMS_PROVIDERS: tuple[SmsProvider, ...] = get_args(SmsProvider)
EMAIL_SECURITIES: tuple[EmailSecurity, ...] = get_args(EmailSecurity)
CENTRE_PROTOCOLS: tuple[CentreProtocol, ...] = get_args(CentreProtocol)
CENTRE_FORMATS: tuple[CentreFormat, ...] = get_args(CentreFormat)
KEY_FORMATS: tuple[KeyFormat, ...] = get_args(KeyFormat)

# Environment variables that override a secret of the file: (section, key) -> variable.
ENV_VARS: dict[tuple[str, str], str] = {
    ("sms", "auth_token"): "CASAHUB_SMS_AUTH_TOKEN",
    ("email", "password"): "CASAHUB_EMAIL_PASSWORD",
    ("centre", "key"): "CASAHUB_CENTRE_KEY",
    ("centre", "secret"): "CASAHUB_CENTRE_SECRET",
    ("ntfy", "token"): "CASAHUB_NTFY_TOKEN",
    ("mqtt_export", "password"): "CASAHUB_MQTT_PASSWORD",
}
MQTT_PASSWORD_ENV = "CASAHUB_MQTT_PASSWORD"

# EN 50131 grade-2 practice (docs/architecture.md section 7): outside these, `config check` warns.
MAX_ENTRY_DELAY = 45.0
SIREN_TIME_RANGE = (120.0, 900.0)

# --------------------------------------------------------------------------- secrets


class Secret:
    """A password, token or key. Prints as "***" so that it never reaches a log; `.reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True)
class HubConfig:
    name: str = "casahub"
    data_dir: Path | None = None  # None: the command's --data-dir or its built-in default
    language: Language = "it"
    timezone: str = "Europe/Rome"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class WebConfig:
    listen: str = "0.0.0.0:8443"
    tls: TlsMode | TlsFiles = "auto"
    # Limits (hub/web/limits.py): a LAN client never holds the room the alarm path needs.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_connections: int = 256
    max_connections_per_address: int = 32
    max_websockets_per_user: int = 10
    fd_reserve: int = 64

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]


@dataclass(frozen=True, slots=True)
class EscalationConfig:
    ack_timeout: float = 120


@dataclass(frozen=True, slots=True)
class ContactConfig:
    name: str
    phone: str | None = None  # E.164, spaces removed: "+393331234567"
    email: str | None = None
    language: Language = "it"
    push: bool = True
    voice: bool = False
    user: str | None = None  # the dashboard user whose app gets this contact's push; default: same name


@dataclass(frozen=True, slots=True)
class SmsConfig:
    account_sid: str
    auth_token: Secret
    from_: str  # key "from"
    provider: SmsProvider = "twilio"
    base_url: str | None = None  # None: Twilio's own API


@dataclass(frozen=True, slots=True)
class EmailConfig:
    host: str
    from_: str  # key "from"
    port: int = 587  # default by security: starttls 587, tls 465, none 25
    security: EmailSecurity = "starttls"
    username: str | None = None
    password: Secret | None = None


@dataclass(frozen=True, slots=True)
class PushConfig:
    vapid_private_key: Secret  # content of vapid_private_key_file, stripped
    subject: str  # "mailto:..." or "https://..."
    vapid_private_key_file: Path | None = None
    # Browsers' push services are on the internet; a subscription naming a private address is
    # refused (SSRF) unless a push service on the LAN is meant.
    allow_private_endpoints: bool = False


@dataclass(frozen=True, slots=True)
class NtfyConfig:
    url: str
    topic: str
    token: Secret | None = None


@dataclass(frozen=True, slots=True)
class GsmConfig:
    device: str = "/dev/ttyUSB2"
    baudrate: int = 115200


@dataclass(frozen=True, slots=True)
class CentreConfig:
    protocol: CentreProtocol = "dc09"
    # dc09
    host: str | None = None
    port: int | None = None
    account: str | None = None
    receiver: str = "0"
    line: str = "0"
    format: CentreFormat = "cid"
    key: Secret | None = None  # None: unencrypted
    key_format: KeyFormat = "hex"
    supervision_interval: float = 90
    backup_host: str | None = None
    backup_port: int | None = None
    # webhook
    url: str | None = None
    secret: Secret | None = None

    def aes_key(self) -> bytes | None:
        """The DC-09 AES key as bytes (16, 24 or 32), or None when the link is not encrypted."""
        if self.key is None:
            return None
        raw = self.key.reveal()
        return bytes.fromhex(raw) if self.key_format == "hex" else raw.encode("ascii")


_SECRET_OPTION = re.compile(r"(password|secret|token|key)$", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)[^/@\s]*@")


def _mask_option(name: str, value: Any) -> Any:
    if _SECRET_OPTION.search(name) and not name.endswith("_file") and value is not None:
        return Secret(str(value))
    if isinstance(value, str):
        return _URL_USERINFO.sub(r"\g<head>***@", value)
    return value


@dataclass(frozen=True, slots=True, repr=False)
class DriverConfig:
    """One `[[drivers]]` entry: its type and every other key, as written (read-only by convention).

    `password_file` is resolved into `password` (a plain str: drivers hand it to their client).
    The repr masks passwords, tokens, keys and URL credentials.
    """

    type: str
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {name: _mask_option(name, value) for name, value in self.options.items()}
        return f"DriverConfig(type={self.type!r}, options={shown!r})"


@dataclass(frozen=True, slots=True)
class MqttExportConfig:
    host: str
    port: int = 1883
    discovery_prefix: str = "homeassistant"
    username: str | None = None
    password: Secret | None = None


@dataclass(frozen=True, slots=True)
class LedConfig:
    path: Path | None = Path("/sys/class/leds/ACT")  # a sysfs LED, or
    line: int | None = None  # a GPIO line on `chip`
    chip: str = "/dev/gpiochip0"


@dataclass(frozen=True, slots=True, repr=False)
class BackupConfig:
    """`[backup]`: the nightly backup (hub/backup/schedule.py). `passphrase` is the content of
    `passphrase_file`, read as `casahub restore --passphrase-file` reads it (one final newline
    dropped), so the same file restores what the hub wrote."""

    dir: Path
    time: str = "03:30"  # local time in [hub] timezone, "HH:MM"
    keep: int = 7
    passphrase: Secret | None = None
    passphrase_file: Path | None = None

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.time.split(":")
        return int(hour), int(minute)

    def __repr__(self) -> str:
        return (
            f"BackupConfig(dir={self.dir!r}, time={self.time!r}, keep={self.keep!r}, "
            f"passphrase={self.passphrase!r}, passphrase_file={self.passphrase_file!r})"
        )


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """`[storage]`: room kept for the journal (hub/store/disk_reserve.py) and how much of it is kept."""

    reserve_mb: int = 32  # preallocated, released when the disk fills so the journal goes on; 0: none
    max_events: int = 100_000  # the event log is pruned beyond this (never below 10,000 nor 400 days)


# [outputs] deadline: long enough for a radio siren to answer a few re-sends (2, 4, 8, 16 s
# apart), short enough that a siren that cannot sound is a fault while the alarm still runs.
OUTPUT_DEADLINE_RANGE = (1.0, 600.0)


@dataclass(frozen=True, slots=True)
class OutputsConfig:
    """`[outputs]`: how the hub drives sirens, valves and relays (hub/core/outputs.py).

    `deadline`: seconds a command may go unconfirmed by the device (re-sent meanwhile) before
    it is given up and the `output_failure` anomaly is raised."""

    deadline: float = 60.0


LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = get_args(LogFormat)
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class LogConfig:
    """`[log]`: how the daemon logs (hub/system/logs.py). `levels`: (logger name, level) pairs."""

    format: LogFormat = "text"
    level: str = "info"
    levels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    hub: HubConfig = field(default_factory=HubConfig)
    web: WebConfig = field(default_factory=WebConfig)
    alarm: AlarmSettings = field(default_factory=AlarmSettings)
    escalation: EscalationConfig = field(default_factory=EscalationConfig)
    contacts: tuple[ContactConfig, ...] = ()
    sms: SmsConfig | None = None
    email: EmailConfig | None = None
    push: PushConfig | None = None
    ntfy: NtfyConfig | None = None
    gsm: GsmConfig | None = None
    centre: CentreConfig | None = None
    drivers: tuple[DriverConfig, ...] = ()
    mqtt_export: MqttExportConfig | None = None
    led: LedConfig | None = None
    backup: BackupConfig | None = None
    log: LogConfig = field(default_factory=LogConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: Config
    warnings: list[ConfigIssue] = field(default_factory=list)
    path: Path | None = None
