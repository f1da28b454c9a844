"""Load and check casahub.toml: every key of config/casahub.toml, typed, validated, secrets kept out of logs.

Theory of operation
-------------------
`load_config(path)` reads the TOML file and walks it section by section. Each section is
read through a `_Table`, which knows the section's keys: an unknown key is reported (with
the closest known key as a suggestion), and every getter checks the TOML type strictly
(`true` is not an integer, `30` is not a string) and the value's range. Nothing stops at
the first problem: every issue is collected, with the file, the dotted key
(`alarm.entry_delay`, `contacts[1].language`, `drivers[0].type`) and the reason, and
`ConfigError` carries them all. The daemon refuses to start on an error; `casahub config
check` prints them.

Two levels (docs/architecture.md, grade-2 practice):
- errors: only impossible values — wrong type, negative duration, unknown kind or enum
  value, malformed address, bad key length, a required key missing, an unreadable
  secret file;
- warnings (`LoadedConfig.warnings`): values outside EN 50131 grade-2 practice (entry
  delay over 45 s, siren time outside 2-15 min), which installers use to test, plus a few
  "probably not what you meant" notes (a secret file readable by everyone, a key that the
  chosen protocol ignores).

Secrets (`sms.auth_token`, `email.password`, `centre.key`, ...) may be written inline, read
from a file named by the `<key>_file` key (relative paths are relative to the config file;
the content is stripped), or taken from an environment variable, which wins over both:

    CASAHUB_SMS_AUTH_TOKEN   [sms] auth_token
    CASAHUB_EMAIL_PASSWORD   [email] password
    CASAHUB_CENTRE_KEY       [centre] key            (DC-09 AES key)
    CASAHUB_CENTRE_SECRET    [centre] secret         (webhook signing secret)
    CASAHUB_NTFY_TOKEN       [ntfy] token
    CASAHUB_MQTT_PASSWORD    [mqtt_export] password and the password of zigbee2mqtt drivers

An empty variable counts as unset; a variable whose section is absent is ignored with a
warning. Secret values are wrapped in `Secret`, whose repr and str are "***"; `.reveal()`
gives the value to the one place that needs it (the channel that logs in).

Relative paths in the file (`hub.data_dir`, TLS files, `*_file` keys) are relative to the
directory of the config file; `~` is expanded.
"""

from __future__ import annotations

import difflib
import hmac
import ipaddress
import math
import os
import re
import stat
import sys
import tomllib
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, TypeVar

from alarms.model import BEHAVIOURS, ZONE_KINDS, AlarmSettings
from hub.bounds import too_long

__all__ = [
    "BUILTIN_DRIVERS",
    "ENV_VARS",
    "LOG_LEVELS",
    "BackupConfig",
    "CentreConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ContactConfig",
    "DriverConfig",
    "EmailConfig",
    "EscalationConfig",
    "GsmConfig",
    "HubConfig",
    "LedConfig",
    "LoadedConfig",
    "LogConfig",
    "LogFormat",
    "MqttExportConfig",
    "NtfyConfig",
    "PushConfig",
    "Secret",
    "SmsConfig",
    "TlsFiles",
    "WebConfig",
    "check_main",
    "known_driver_types",
    "load_config",
    "parse_listen",
]

Language = Literal["it", "en"]
TlsMode = Literal["auto", "off"]
EmailSecurity = Literal["starttls", "tls", "none"]
CentreProtocol = Literal["dc09", "webhook"]
CentreFormat = Literal["cid", "sia"]
KeyFormat = Literal["hex", "ascii"]

LANGUAGES: tuple[Language, ...] = ("it", "en")
TLS_MODES: tuple[TlsMode, ...] = ("auto", "off")
SMS_PROVIDERS: tuple[Literal["twilio"], ...] = ("twilio",)
EMAIL_SECURITIES: tuple[EmailSecurity, ...] = ("starttls", "tls", "none")
CENTRE_PROTOCOLS: tuple[CentreProtocol, ...] = ("dc09", "webhook")
CENTRE_FORMATS: tuple[CentreFormat, ...] = ("cid", "sia")
KEY_FORMATS: tuple[KeyFormat, ...] = ("hex", "ascii")
BUILTIN_DRIVERS: tuple[str, ...] = ("simulated", "bthome", "zigbee2mqtt", "nut", "power_supply", "gpio", "camera")
DRIVER_ENTRY_POINT_GROUP = "casahub.drivers"

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

DEFAULTS_LABEL = "<defaults>"


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
    provider: Literal["twilio"] = "twilio"
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


LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
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


# --------------------------------------------------------------------------- results and errors


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    key: str  # dotted: "alarm.entry_delay", "contacts[1].language"; "" for the whole file
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}" if self.key else f"{self.file}: {self.reason}"


class ConfigError(Exception):
    """The config is invalid; `.issues` lists every error (file, key, reason), `.warnings` the warnings."""

    def __init__(self, issues: list[ConfigIssue], warnings: list[ConfigIssue] | None = None) -> None:
        self.issues = issues
        self.warnings = warnings or []
        super().__init__("\n".join(str(issue) for issue in issues))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: Config
    warnings: list[ConfigIssue] = field(default_factory=list)
    path: Path | None = None


# --------------------------------------------------------------------------- small parsers

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_NTFY_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.match(host))
    return True


def parse_listen(text: str) -> tuple[str, int]:
    """Split "HOST:PORT" ("0.0.0.0:8443", "[::1]:8080", "hub.local:80"); ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError("expected HOST:PORT")
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ValueError(f"expected [IPV6]:PORT, got {text!r}")
        host, port_text = text[1:end], text[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        if ":" in host:
            raise ValueError(f"put an IPv6 address in brackets: [{host}]:{port_text}")
        if not host:
            raise ValueError(f"missing host in {text!r} (use 0.0.0.0 for every interface)")
        if not _valid_host(host):
            raise ValueError(f"{host!r} is not a valid host name or IP address")
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"port {port_text!r} is not a number")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port {port} is out of range (0-65535)")
    return host, port


def known_driver_types() -> tuple[str, ...]:
    """The built-in driver types plus every name registered in the `casahub.drivers` entry-point group."""
    names = set(BUILTIN_DRIVERS)
    try:
        names.update(ep.name for ep in entry_points(group=DRIVER_ENTRY_POINT_GROUP))
    except Exception:  # a broken installed distribution must not make every config invalid
        pass
    return tuple(sorted(names))


def _describe(value: Any, *, sensitive: bool = False) -> str:
    """What the TOML value is, for messages; a secret's value is never shown."""
    if isinstance(value, bool):
        kind, shown = "a boolean", str(value).lower()
    elif isinstance(value, int):
        kind, shown = "an integer", str(value)
    elif isinstance(value, float):
        kind, shown = "a float", repr(value)
    elif isinstance(value, str):
        kind, shown = "a string", repr(value if len(value) <= 40 else value[:37] + "...")
    elif isinstance(value, list):
        return "an array"
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, datetime | date | time):
        return "a date/time"
    else:  # pragma: no cover - tomllib produces nothing else
        return type(value).__name__
    return kind if sensitive else f"{kind} ({shown})"


def _suggest(name: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""


# --------------------------------------------------------------------------- the walker

T = TypeVar("T", bound=str)


class _Invalid:
    """Marker: the key was present but its value was wrong (already reported)."""


_INVALID = _Invalid()


class _Context:
    def __init__(self, file: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.env = env
        self.errors: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []

    def error(self, key: str, reason: str) -> None:
        self.errors.append(ConfigIssue(self.file, key, reason))

    def warn(self, key: str, reason: str) -> None:
        self.warnings.append(ConfigIssue(self.file, key, reason))

    def env_value(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value else None

    def resolve(self, text: str, key: str = "") -> Path:
        try:
            if "\x00" in text:
                raise ValueError("embedded NUL character")
            path = Path(text).expanduser()
        except (RuntimeError, ValueError) as exc:  # "~nosuchuser/...", NUL bytes
            self.error(key, f"invalid path {text!r}: {exc}")
            return self.base_dir
        return path if path.is_absolute() else self.base_dir / path


class _Table:
    """One TOML table being read: checks unknown keys at once, then typed getters report their own errors."""

    def __init__(
        self,
        ctx: _Context,
        data: Mapping[str, Any],
        path: str,
        known: Iterable[str],
        *,
        unknown_is_error: bool = True,
        what: str = "",
    ) -> None:
        self.ctx = ctx
        self.data = data
        self.path = path
        self.known = tuple(known)
        for name in data:
            if name not in self.known:
                reason = f"unknown key{what}{_suggest(name, self.known)}"
                (ctx.error if unknown_is_error else ctx.warn)(self.key(name), reason)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.data

    def error(self, name: str, reason: str) -> None:
        self.ctx.error(self.key(name), reason)

    def warn(self, name: str, reason: str) -> None:
        self.ctx.warn(self.key(name), reason)

    def missing(self, name: str) -> None:
        section = f"[{self.path}]" if self.path else "the file"
        self.error(name, f"required key missing in {section}")

    def typed(self, name: str, types: tuple[type, ...], expected: str, *, sensitive: bool = False) -> Any:
        """The raw value if it has one of `types` (bool is never an int), None if absent, else _INVALID."""
        if name not in self.data:
            return None
        value = self.data[name]
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            hint = ""
            if isinstance(value, int) and not isinstance(value, bool) and str in types:
                hint = f' (quote it: "{value}")' if not sensitive else " (quote it)"
            self.error(name, f"expected {expected}, got {_describe(value, sensitive=sensitive)}{hint}")
            return _INVALID
        return value

    # -- strings

    def opt_string(self, name: str, *, nonempty: bool = True) -> str | _Invalid | None:
        value = self.typed(name, (str,), "a string")
        if isinstance(value, str) and nonempty and not value.strip():
            self.error(name, "must not be empty")
            return _INVALID
        if isinstance(value, str) and not self.fits(name, value):
            return _INVALID
        return value  # type: ignore[no-any-return]

    def fits(self, name: str, value: str) -> bool:
        """Names and rooms are at most 64 characters, as everywhere they enter (hub/bounds.py)."""
        reason = too_long(value) if name in ("name", "room") else None
        if reason is not None:
            self.error(name, reason)
        return reason is None

    def string(self, name: str, default: str) -> str:
        value = self.opt_string(name)
        return value if isinstance(value, str) else default

    def optional_string(self, name: str) -> str | None:
        value = self.opt_string(name)
        return value if isinstance(value, str) else None

    def required_string(self, name: str) -> str:
        value = self.opt_string(name)
        if value is None:
            self.missing(name)
        return value if isinstance(value, str) else ""

    def choice(self, name: str, choices: tuple[T, ...], default: T) -> T:
        value = self.opt_string(name)
        if not isinstance(value, str):
            return default
        for option in choices:
            if value == option:
                return option
        listed = ", ".join(f'"{c}"' for c in choices)
        self.error(name, f'unknown value "{value}"; expected one of {listed}{_suggest(value, choices)}')
        return default

    def url(self, name: str, *, required: bool) -> str | None:
        value = self.required_string(name) if required else self.optional_string(name)
        if value and not re.match(r"^https?://[^/\s]+", value):
            self.error(name, f"expected an http:// or https:// URL, got {value!r}")
        return value

    def host(self, name: str, *, required: bool, default: str | None = None) -> str | None:
        value = self.required_string(name) if required else self.optional_string(name)
        if value and not _valid_host(value):
            self.error(name, f"{value!r} is not a valid host name or IP address")
        return value if value or required else default

    # -- numbers and booleans

    def boolean(self, name: str, default: bool) -> bool:
        value = self.typed(name, (bool,), "true or false")
        return value if isinstance(value, bool) else default

    def opt_integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self.typed(name, (int,), "an integer")
        if not isinstance(value, int):
            return None
        if minimum is not None and value < minimum:
            bound = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            self.error(name, f"{bound}, got {value}")
            return None
        if maximum is not None and value > maximum:
            self.error(name, f"must be at most {maximum}, got {value}")
            return None
        return value

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.opt_integer(name, minimum=minimum, maximum=maximum)
        return default if value is None else value

    def port(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        if required and name not in self.data:
            self.missing(name)
            return None
        value = self.opt_integer(name, minimum=1, maximum=65535)
        return default if value is None else value

    def duration(self, name: str, default: float, *, positive: bool = False) -> float:
        """Seconds: an integer or a float, finite, not negative (or > 0 when `positive`)."""
        value = self.typed(name, (int, float), "a number of seconds")
        if value is None or isinstance(value, _Invalid):
            return default
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self.error(name, f"must be a finite number of seconds, got {value}")
        elif number < 0:
            self.error(name, f"a duration cannot be negative, got {value}")
        elif positive and number == 0:
            self.error(name, "must be more than 0 seconds")
        else:
            return number
        return default

    # -- paths and secrets

    def path_value(self, name: str) -> Path | None:
        value = self.optional_string(name)
        return self.ctx.resolve(value, self.key(name)) if value else None

    def secret(self, name: str, *, env: str | None = None, required: bool = False) -> Secret | None:
        """`name` inline, or the stripped content of the file `name_file`; the variable `env` wins over both."""
        file_key = f"{name}_file"
        env_value = self.ctx.env_value(env) if env else None
        inline = self.typed(name, (str,), "a string", sensitive=True)
        file_name = self.opt_string(file_key)
        if isinstance(inline, str) and isinstance(file_name, str):
            self.error(file_key, f"give {name} or {file_key}, not both")
            return None
        if env_value is not None:
            return Secret(env_value)
        if isinstance(inline, str):
            if not inline.strip():
                self.error(name, "must not be empty")
                return None
            return Secret(inline)
        if isinstance(file_name, str):
            content = self.read_secret_file(file_key, file_name)
            return None if content is None else Secret(content)
        if required and not isinstance(inline, _Invalid) and not isinstance(file_name, _Invalid):
            via = f" or the {env} environment variable" if env else ""
            section = f"[{self.path}]"
            self.error(name, f"required key missing in {section} (set {name}, {file_key}{via})")
        return None

    def read_secret_file(self, file_key: str, file_name: str) -> str | None:
        return _read_secret_file(self.ctx, self.key(file_key), file_name)


def _read_secret_file(ctx: _Context, key: str, file_name: str) -> str | None:
    """The stripped content of a secret file, or None after reporting why it cannot be used."""
    path = ctx.resolve(file_name, key)
    try:
        content = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        ctx.error(key, f"cannot read {path}: {reason}")
        return None
    if not content:
        ctx.error(key, f"{path} is empty")
        return None
    if mode & stat.S_IROTH:
        ctx.warn(key, f"{path} is readable by every user; chmod 600 it")
    return content


# --------------------------------------------------------------------------- sections


def _hub(ctx: _Context, raw: Mapping[str, Any]) -> HubConfig:
    t = _Table(ctx, raw, "hub", ("name", "data_dir", "language", "timezone"))
    timezone = t.string("timezone", "Europe/Rome")
    if t.has("timezone") and isinstance(raw["timezone"], str):
        try:
            zoneinfo.ZoneInfo(timezone)
        except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
            if zoneinfo.available_timezones():
                t.error("timezone", f'unknown time zone "{timezone}" (use an IANA name such as "Europe/Rome")')
            else:
                t.warn("timezone", "cannot check the time zone: no time zone database here (install tzdata)")
    return HubConfig(
        name=t.string("name", "casahub"),
        data_dir=t.path_value("data_dir"),
        language=t.choice("language", LANGUAGES, "it"),
        timezone=timezone,
    )


def _web(ctx: _Context, raw: Mapping[str, Any]) -> WebConfig:
    t = _Table(ctx, raw, "web", ("listen", "tls", *_WEB_LIMITS))
    listen = t.string("listen", "0.0.0.0:8443")
    host: str | None = None
    if t.has("listen") and isinstance(raw["listen"], str):
        try:
            host, _ = parse_listen(listen)
        except ValueError as exc:
            t.error("listen", f"invalid listen address: {exc}")
    tls: TlsMode | TlsFiles = "auto"
    value = raw.get("tls", "auto")
    if isinstance(value, str):
        tls = t.choice("tls", TLS_MODES, "auto")
    elif isinstance(value, dict):
        files = _Table(ctx, value, "web.tls", ("cert", "key"))
        paths: list[Path] = []
        for name in ("cert", "key"):
            text = files.required_string(name)
            if text:
                path = ctx.resolve(text, f"web.tls.{name}")
                try:
                    found = path.is_file()
                except (OSError, ValueError):
                    found = False
                if not found:
                    files.error(name, f"file not found: {path}")
                paths.append(path)
        if len(paths) == 2:
            tls = TlsFiles(cert=paths[0], key=paths[1])
    else:
        t.error("tls", f'expected "auto", "off" or a table {{cert, key}}, got {_describe(value)}')
    if tls == "off" and host is not None and not _is_loopback(host):
        t.warn("tls", "TLS is off on a non-loopback address: passwords cross the network in clear")
    limits: dict[str, Any] = {}
    for name in ("header_timeout", "body_timeout", "idle_timeout"):
        low, high = _WEB_LIMITS[name]
        value = t.duration(name, float(getattr(WebConfig(), name)), positive=True)
        if not low <= value <= high:
            t.error(name, f"must be between {low:g} and {high:g} seconds, got {value:g}")
        limits[name] = value
    for name in ("max_connections", "max_connections_per_address", "max_websockets_per_user", "fd_reserve"):
        low, high = _WEB_LIMITS[name]
        limits[name] = t.integer(name, int(getattr(WebConfig(), name)), minimum=int(low), maximum=int(high))
    if limits["max_connections_per_address"] > limits["max_connections"]:
        t.error("max_connections_per_address", "cannot be more than max_connections")
    return WebConfig(listen=listen, tls=tls, **limits)


# [web] limits: (lowest, highest) accepted.
_WEB_LIMITS: dict[str, tuple[float, float]] = {
    "header_timeout": (1, 300),
    "body_timeout": (1, 600),
    "idle_timeout": (1, 3600),
    "max_connections": (8, 10000),
    "max_connections_per_address": (1, 10000),
    "max_websockets_per_user": (1, 100),
    "fd_reserve": (16, 10000),
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_ALARM_KEYS = (
    "exit_delay",
    "entry_delay",
    "siren_time",
    "abort_window",
    "confirmation_window",
    "swinger_limit",
    "offline_grace",
)


def _alarm(ctx: _Context, raw: Mapping[str, Any]) -> AlarmSettings:
    t = _Table(ctx, raw, "alarm", _ALARM_KEYS)
    base = AlarmSettings()
    settings = AlarmSettings(
        exit_delay=t.duration("exit_delay", base.exit_delay),
        entry_delay=t.duration("entry_delay", base.entry_delay),
        siren_time=t.duration("siren_time", base.siren_time),
        abort_window=t.duration("abort_window", base.abort_window),
        confirmation_window=t.duration("confirmation_window", base.confirmation_window),
        swinger_limit=t.integer("swinger_limit", base.swinger_limit, minimum=0),
        offline_grace=t.duration("offline_grace", base.offline_grace),
    )
    if settings.entry_delay > MAX_ENTRY_DELAY:
        t.warn(
            "entry_delay",
            f"{settings.entry_delay:g} s is over {MAX_ENTRY_DELAY:g} s, outside EN 50131 grade-2 practice "
            "(accepted; the commissioning report marks it failed)",
        )
    low, high = SIREN_TIME_RANGE
    if not low <= settings.siren_time <= high:
        t.warn(
            "siren_time",
            f"{settings.siren_time:g} s is outside {low / 60:g}-{high / 60:g} min, outside EN 50131 grade-2 practice "
            "(accepted; the commissioning report marks it failed)",
        )
    return settings


def _escalation(ctx: _Context, raw: Mapping[str, Any]) -> EscalationConfig:
    t = _Table(ctx, raw, "escalation", ("ack_timeout",))
    return EscalationConfig(ack_timeout=t.duration("ack_timeout", 120))


def _phone(t: _Table, name: str) -> str | None:
    value = t.optional_string(name)
    if value is None:
        return None
    normalised = re.sub(r"[\s().-]", "", value)
    if not _PHONE.match(normalised):
        t.error(name, f'{value!r} is not an international phone number (E.164, e.g. "+393331234567")')
        return None
    return normalised


def _contacts(ctx: _Context, items: list[Any], default_language: Language) -> tuple[ContactConfig, ...]:
    contacts: list[ContactConfig] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"contacts[{index}]"
        t = _Table(ctx, item, path, ("name", "phone", "email", "language", "push", "voice", "user"))
        name = t.required_string("name")
        if name in first_index:
            t.error("name", f'duplicate contact name "{name}" (also contacts[{first_index[name]}])')
        elif name:
            first_index[name] = index
        phone = _phone(t, "phone")
        email = t.optional_string("email")
        if email is not None and not _EMAIL.match(email):
            t.error("email", f"{email!r} is not an email address")
        voice = t.boolean("voice", False)
        if voice and phone is None and not t.has("phone"):
            t.error("voice", "voice = true needs a phone number")
        contacts.append(
            ContactConfig(
                name=name,
                phone=phone,
                email=email,
                language=t.choice("language", LANGUAGES, default_language),
                push=t.boolean("push", True),
                voice=voice,
                user=t.optional_string("user"),
            )
        )
    return tuple(contacts)


def _unreachable_contacts(
    ctx: _Context, contacts: Iterable[ContactConfig], *, sms: bool, email: bool, gsm: bool
) -> None:
    """Warn, per contact, of a way to reach them that no section carries: outside the demo nothing
    stands in for a missing channel (hub/transports/registry.py), so that message would never be sent."""
    for index, c in enumerate(contacts):
        path = f"contacts[{index}]"
        if c.phone and not sms and not gsm:
            ctx.warn(
                f"{path}.phone",
                f"{c.name} has a phone but no [sms] (or [gsm] modem) is configured: no SMS will be sent",
            )
        if c.email and not email:
            ctx.warn(
                f"{path}.email", f"{c.name} has an email address but no [email] is configured: no email will be sent"
            )
        if c.voice and not sms:
            ctx.warn(
                f"{path}.voice",
                f"{c.name} wants a voice call but no [sms] (Twilio) is configured: no call will be made",
            )
        reached = (c.phone and (sms or gsm)) or (c.email and email) or c.push
        if not reached:
            ctx.warn(path, f"{c.name} would not be told of any alarm: no configured channel reaches them")


def _sms(ctx: _Context, raw: Mapping[str, Any]) -> SmsConfig:
    t = _Table(ctx, raw, "sms", ("provider", "account_sid", "auth_token", "auth_token_file", "from", "base_url"))
    provider = t.choice("provider", SMS_PROVIDERS, "twilio")
    account_sid = t.required_string("account_sid")
    token = t.secret("auth_token", env=ENV_VARS["sms", "auth_token"], required=True)
    sender = t.required_string("from")
    return SmsConfig(
        provider=provider,
        account_sid=account_sid,
        auth_token=token or Secret(""),
        from_=sender,
        base_url=t.url("base_url", required=False),
    )


_EMAIL_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


def _email(ctx: _Context, raw: Mapping[str, Any]) -> EmailConfig:
    known = ("host", "port", "security", "username", "password", "password_file", "from")
    t = _Table(ctx, raw, "email", known)
    security = t.choice("security", EMAIL_SECURITIES, "starttls")
    host = t.host("host", required=True) or ""
    port = t.port("port", default=_EMAIL_PORTS[security])
    username = t.optional_string("username")
    password = t.secret("password", env=ENV_VARS["email", "password"])
    if username is not None and password is None and not t.has("password") and not t.has("password_file"):
        t.error(
            "password",
            "required key missing in [email] when username is set (set password, password_file "
            f"or the {ENV_VARS['email', 'password']} environment variable)",
        )
    if password is not None and username is None and not t.has("username"):
        t.warn("username", "a password is set but no username: it will not be used")
    sender = t.required_string("from")
    if sender:
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
        if not _EMAIL.match(address):
            t.error("from", f"{sender!r} is not an email address")
    return EmailConfig(
        host=host,
        port=port or _EMAIL_PORTS[security],
        security=security,
        username=username,
        password=password,
        from_=sender,
    )


def _push(ctx: _Context, raw: Mapping[str, Any]) -> PushConfig:
    t = _Table(ctx, raw, "push", ("vapid_private_key", "vapid_private_key_file", "subject", "allow_private_endpoints"))
    key = t.secret("vapid_private_key", required=False)
    subject = t.required_string("subject")
    if subject and not subject.startswith(("mailto:", "https://")):
        t.error("subject", f'expected "mailto:you@example.org" or an https:// URL, got {subject!r}')
    return PushConfig(
        vapid_private_key=key or Secret(""),
        subject=subject,
        vapid_private_key_file=t.path_value("vapid_private_key_file"),
        allow_private_endpoints=t.boolean("allow_private_endpoints", False),
    )


def _ntfy(ctx: _Context, raw: Mapping[str, Any]) -> NtfyConfig:
    t = _Table(ctx, raw, "ntfy", ("url", "topic", "token", "token_file"))
    url = t.url("url", required=True) or ""
    topic = t.required_string("topic")
    if topic and not _NTFY_TOPIC.match(topic):
        t.error("topic", f"{topic!r} is not an ntfy topic (1-64 letters, digits, - or _)")
    token = t.secret("token", env=ENV_VARS["ntfy", "token"])
    return NtfyConfig(url=url.rstrip("/"), topic=topic, token=token)


def _gsm(ctx: _Context, raw: Mapping[str, Any]) -> GsmConfig:
    t = _Table(ctx, raw, "gsm", ("device", "baudrate"))
    return GsmConfig(device=t.string("device", "/dev/ttyUSB2"), baudrate=t.integer("baudrate", 115200, minimum=1))


_CENTRE_DC09_KEYS = (
    "host",
    "port",
    "account",
    "receiver",
    "line",
    "format",
    "key",
    "key_file",
    "key_format",
    "backup_host",
    "backup_port",
)
_CENTRE_WEBHOOK_KEYS = ("url", "secret", "secret_file")
_CENTRE_KEYS = ("protocol", *_CENTRE_DC09_KEYS, "supervision_interval", *_CENTRE_WEBHOOK_KEYS)
_KEY_LENGTHS: dict[str, tuple[int, ...]] = {"hex": (32, 48, 64), "ascii": (16, 24, 32)}


def _hex_field(t: _Table, name: str, default: str | None, lengths: tuple[int, int]) -> str | None:
    value = t.optional_string(name)
    if value is None:
        return default
    low, high = lengths
    if not (_HEX.match(value) and low <= len(value) <= high):
        t.error(name, f"{value!r} must be {low}-{high} hex digits (0-9, A-F), as a quoted string")
        return default
    return value


def _centre(ctx: _Context, raw: Mapping[str, Any]) -> CentreConfig:
    t = _Table(ctx, raw, "centre", _CENTRE_KEYS)
    protocol = t.choice("protocol", CENTRE_PROTOCOLS, "dc09")
    # With an unknown protocol, which keys are required is unknown too: report only the protocol.
    known_protocol = raw.get("protocol", "dc09") in ("dc09", "webhook")
    dc09 = protocol == "dc09" and known_protocol
    webhook = protocol == "webhook" and known_protocol
    unused = _CENTRE_WEBHOOK_KEYS if dc09 else _CENTRE_DC09_KEYS if webhook else ()
    for name in unused:
        if t.has(name):
            t.warn(name, f'ignored with protocol = "{protocol}"')
    key_format = t.choice("key_format", KEY_FORMATS, "hex")
    key = t.secret("key", env=ENV_VARS["centre", "key"])
    if key is not None and raw.get("key_format", "hex") in KEY_FORMATS:
        _check_centre_key(t, key, key_format)
    host = t.host("host", required=dc09)
    port = t.port("port", required=dc09)
    account = _hex_field(t, "account", None, (3, 16))
    if dc09 and account is None and not t.has("account"):
        t.missing("account")
    backup_host = t.host("backup_host", required=False)
    backup_port = t.port("backup_port")
    if t.has("backup_host") != t.has("backup_port"):
        present, absent = ("backup_host", "backup_port") if t.has("backup_host") else ("backup_port", "backup_host")
        t.error(absent, f"required key missing in [centre] when {present} is set")
    url = t.url("url", required=webhook)
    secret = t.secret("secret", env=ENV_VARS["centre", "secret"], required=webhook)
    return CentreConfig(
        protocol=protocol,
        host=host,
        port=port,
        account=account,
        receiver=_hex_field(t, "receiver", "0", (1, 6)) or "0",
        line=_hex_field(t, "line", "0", (1, 6)) or "0",
        format=t.choice("format", CENTRE_FORMATS, "cid"),
        key=key,
        key_format=key_format,
        supervision_interval=t.duration("supervision_interval", 90, positive=True),
        backup_host=backup_host,
        backup_port=backup_port,
        url=url,
        secret=secret,
    )


def _check_centre_key(t: _Table, key: Secret, key_format: str) -> None:
    value = key.reveal()
    env = ENV_VARS["centre", "key"]
    where = f" (from {env})" if t.ctx.env_value(env) is not None else ""
    lengths = _KEY_LENGTHS[key_format]
    name = "key_file" if t.has("key_file") and not where else "key"
    if key_format == "hex":
        if not _HEX.match(value) or len(value) not in lengths:
            t.error(
                name,
                f'an AES key with key_format = "hex" must be 32, 48 or 64 hex digits{where} '
                f"(got {len(value)} characters{'' if _HEX.match(value) else ', not all hex digits'})",
            )
    elif len(value) not in lengths or not value.isascii():
        t.error(
            name,
            f'an AES key with key_format = "ascii" must be 16, 24 or 32 ASCII characters{where} (got {len(value)})',
        )


def _mqtt_export(ctx: _Context, raw: Mapping[str, Any]) -> MqttExportConfig:
    known = ("host", "port", "discovery_prefix", "username", "password", "password_file")
    t = _Table(ctx, raw, "mqtt_export", known)
    return MqttExportConfig(
        host=t.host("host", required=True) or "",
        port=t.port("port", default=1883) or 1883,
        discovery_prefix=t.string("discovery_prefix", "homeassistant"),
        username=t.optional_string("username"),
        password=t.secret("password", env=ENV_VARS["mqtt_export", "password"]),
    )


def _led(ctx: _Context, raw: Mapping[str, Any]) -> LedConfig:
    t = _Table(ctx, raw, "led", ("path", "line", "chip"))
    line = t.opt_integer("line", minimum=0)
    if t.has("path") and t.has("line"):
        t.error("line", "give path (a sysfs LED) or line (a GPIO line), not both")
    if t.has("path"):
        path = t.path_value("path")
    else:
        path = None if t.has("line") else Path("/sys/class/leds/ACT")
    return LedConfig(path=path, line=line, chip=t.string("chip", "/dev/gpiochip0"))


def _storage(ctx: _Context, raw: Mapping[str, Any]) -> StorageConfig:
    t = _Table(ctx, raw, "storage", ("reserve_mb", "max_events"))
    return StorageConfig(
        reserve_mb=t.integer("reserve_mb", 32, minimum=0, maximum=4096),
        max_events=t.integer("max_events", 100_000, minimum=10_000, maximum=100_000_000),
    )


_BACKUP_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def _backup(ctx: _Context, raw: Mapping[str, Any]) -> BackupConfig:
    t = _Table(ctx, raw, "backup", ("dir", "time", "keep", "passphrase_file"))
    directory = t.path_value("dir")
    if directory is None and not t.has("dir"):
        t.missing("dir")
    at = "03:30"
    value = raw.get("time")
    if isinstance(value, time) and value.tzinfo is None:  # a TOML local time: time = 03:30:00
        at = f"{value.hour:02d}:{value.minute:02d}"
    elif isinstance(value, str):
        match = _BACKUP_TIME.match(value.strip())
        if match is None:
            t.error("time", f'expected a time of day "HH:MM" (00:00-23:59), got {value!r}')
        else:
            at = f"{int(match.group(1)):02d}:{match.group(2)}"
    elif value is not None:
        t.error("time", f'expected a time of day "HH:MM", got {_describe(value)}')
    keep = t.integer("keep", 7, minimum=1, maximum=365)
    passphrase: Secret | None = None
    passphrase_file = t.path_value("passphrase_file")
    if passphrase_file is not None:
        passphrase = _read_passphrase_file(ctx, t.key("passphrase_file"), passphrase_file)
        if directory is not None and passphrase_file.is_relative_to(directory):
            t.warn("passphrase_file", "is inside the backup dir: whoever holds the backups holds the key")
    # A dir that is not there now is no error: the stick may be mounted after the hub starts.
    # Each backup checks it, and the daemon logs a warning at start when there is no passphrase.
    return BackupConfig(
        dir=directory or ctx.base_dir,
        time=at,
        keep=keep,
        passphrase=passphrase,
        passphrase_file=passphrase_file,
    )


def _read_passphrase_file(ctx: _Context, key: str, path: Path) -> Secret | None:
    # As `casahub restore --passphrase-file` reads it: only one final newline is dropped, so
    # the file that restores a backup is the file that made it, whatever spaces it holds.
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        ctx.error(key, f"cannot read {path}: {reason}")
        return None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        ctx.error(key, f"{path} is empty")
        return None
    if mode & stat.S_IROTH:
        ctx.warn(key, f"{path} is readable by every user; chmod 600 it")
    return Secret(text)


_LOGGER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _log_level(t: _Table, name: str, value: Any, default: str) -> str:
    if not isinstance(value, str):
        t.error(name, f"expected a log level ({', '.join(LOG_LEVELS)}), got {_describe(value)}")
        return default
    if value.lower() not in LOG_LEVELS:
        listed = ", ".join(f'"{level}"' for level in LOG_LEVELS)
        t.error(name, f'unknown log level "{value}"; expected one of {listed}{_suggest(value.lower(), LOG_LEVELS)}')
        return default
    return value.lower()


def _log(ctx: _Context, raw: Mapping[str, Any]) -> LogConfig:
    t = _Table(ctx, raw, "log", ("format", "level", "levels"))
    log_format = t.choice("format", LOG_FORMATS, "text")
    level = _log_level(t, "level", raw["level"], "info") if t.has("level") else "info"
    levels: list[tuple[str, str]] = []
    value = raw.get("levels")
    if isinstance(value, dict):
        # levels = { "hub.outbox" = "debug" }; an unquoted hub.outbox is a nested table in TOML:
        # both spell the same logger name.
        def walk(node: Mapping[str, Any], prefix: str) -> None:
            for key, item in node.items():
                name = f"{prefix}.{key}" if prefix else str(key)
                if isinstance(item, dict):
                    walk(item, name)
                    continue
                if not _LOGGER_NAME.match(name):
                    t.error(f"levels.{name}", "is not a logger name (dotted Python names, like hub.outbox)")
                    continue
                levels.append((name, _log_level(t, f"levels.{name}", item, "info")))

        walk(value, "")
    elif value is not None:
        t.error("levels", f'expected a table {{ "hub.outbox" = "debug", ... }}, got {_describe(value)}')
    return LogConfig(format=log_format, level=level, levels=tuple(levels))


# -- drivers: the built-in types' documented keys are type-checked; unknown keys only warn
#    (a driver may accept more than config/casahub.toml documents). Third-party types are not checked.

_DRIVER_KEYS: dict[str, dict[str, str]] = {
    "simulated": {},
    "bthome": {"adapter": "str", "passive": "bool"},
    "zigbee2mqtt": {
        "host": "host",
        "port": "port",
        "base_topic": "str",
        "username": "str",
        "password": "secret",
        "expected_interval": "duration",
    },
    "nut": {
        "host": "host",
        "port": "port",
        "ups": "str",
        "username": "str",
        "password": "secret",
        "debounce": "duration",
        "poll": "duration",
        "timeout": "duration",
    },
    "power_supply": {"path": "str", "debounce": "duration", "supply": "str", "battery": "str", "poll": "duration"},
    "gpio": {"chip": "str", "lines": "lines", "debounce_ms": "duration"},
    "camera": {
        "name": "str",
        "mjpeg_url": "url",
        "snapshot_url": "url",
        "rtsp_url": "str",
        "username": "str",
        "password": "secret",
        "motion": "motion",
        "room": "str",
        "offline_after": "duration",
        # checked below, in the camera's own block
        "sensitivity": "camera",
        "mask": "camera",
        "fps": "camera",
        "retention_days": "camera",
    },
}
_GPIO_LINE_KEYS = ("line", "name", "kind", "behaviour", "home", "room", "contact", "pull")


def _drivers(ctx: _Context, items: list[Any]) -> tuple[DriverConfig, ...]:
    known_types = known_driver_types()
    drivers: list[DriverConfig] = []
    cameras: dict[str, int] = {}  # a camera's device address is its name's slug: one per name
    for index, item in enumerate(items):
        path = f"drivers[{index}]"
        type_value = item.get("type")
        if type_value is None:
            ctx.error(f"{path}.type", "required key missing in [[drivers]]")
            continue
        if not isinstance(type_value, str):
            ctx.error(f"{path}.type", f"expected a string, got {_describe(type_value)}")
            continue
        if type_value not in known_types:
            listed = ", ".join(known_types)
            ctx.error(
                f"{path}.type",
                f'unknown driver type "{type_value}"{_suggest(type_value, known_types)} (known: {listed})',
            )
            continue
        options = {name: value for name, value in item.items() if name != "type"}
        schema = _DRIVER_KEYS.get(type_value)
        if schema is not None:
            _check_driver_options(ctx, path, type_value, schema, options)
        env_password = ctx.env_value(MQTT_PASSWORD_ENV) if type_value == "zigbee2mqtt" else None
        if "password_file" in options:
            file_name = options.pop("password_file")
            if "password" in options:
                ctx.error(f"{path}.password_file", "give password or password_file, not both")
            elif not isinstance(file_name, str) or not file_name:
                ctx.error(f"{path}.password_file", f"expected a file name, got {_describe(file_name)}")
            elif env_password is None:
                content = _read_secret_file(ctx, f"{path}.password_file", file_name)
                if content is not None:
                    options["password"] = content
        if env_password is not None:
            options["password"] = env_password
        camera_name = options.get("name") if type_value == "camera" else None
        if isinstance(camera_name, str) and camera_name.strip():
            slug = re.sub(r"[^a-z0-9]+", "-", camera_name.lower()).strip("-")
            if slug in cameras:
                ctx.error(f"{path}.name", f"drivers[{cameras[slug]}] is a camera with the same name; name each one")
            cameras.setdefault(slug, index)
        drivers.append(DriverConfig(type=type_value, options=options))
    return tuple(drivers)


def _check_driver_options(
    ctx: _Context, path: str, driver: str, schema: Mapping[str, str], options: dict[str, Any]
) -> None:
    known = ["type", *schema]
    if "password" in schema:
        known.append("password_file")
    t = _Table(ctx, {"type": driver, **options}, path, known, unknown_is_error=False, what=f" for the {driver} driver")
    for name, kind in schema.items():
        if kind in ("str", "secret"):
            value = t.typed(name, (str,), "a string", sensitive=kind == "secret")
            if isinstance(value, str) and not value.strip():
                t.error(name, "must not be empty")
            elif isinstance(value, str):
                t.fits(name, value)
        elif kind == "host":
            t.host(name, required=False)
        elif kind == "url":
            t.url(name, required=False)
        elif kind == "bool":
            t.boolean(name, False)
        elif kind == "port":
            t.port(name)
        elif kind == "duration":
            t.duration(name, 0)
        elif kind == "motion":
            t.choice(name, ("hub", "camera", "off"), "hub")
        elif kind == "lines":
            _gpio_lines(ctx, t, options)
    if driver == "camera":
        if not t.has("name"):
            t.missing("name")
        _camera_options(t)


def _camera_options(t: _Table) -> None:
    """The camera's keys beyond the generic types (drivers/camera/driver.py reads the same ranges)."""
    urls = [name for name in ("mjpeg_url", "snapshot_url", "rtsp_url") if t.has(name)]
    if not urls:
        t.error("mjpeg_url", "the camera needs one of mjpeg_url, snapshot_url or rtsp_url")
    elif len(urls) > 1:
        t.error(urls[1], f"give exactly one of mjpeg_url, snapshot_url or rtsp_url (got {', '.join(urls)})")
    rtsp = t.data.get("rtsp_url")
    if isinstance(rtsp, str) and not re.match(r"^rtsps?://[^/\s]+", rtsp):
        t.error("rtsp_url", "expected an rtsp:// or rtsps:// URL")
    for name, low, high, what in (
        ("sensitivity", 0.0001, 1.0, "a fraction of the picture between 0.0001 and 1"),
        ("fps", 0.1, 30.0, "frames per second between 0.1 and 30"),
        ("retention_days", 0.0, 3650.0, "a number of days between 0 and 3650"),
    ):
        value = t.typed(name, (int, float), what)
        if isinstance(value, int | float) and not (math.isfinite(value) and low <= value <= high):
            t.error(name, f"expected {what}, got {value}")
    masks = t.data.get("mask")
    if masks is not None:
        ok = isinstance(masks, list) and all(
            isinstance(m, list)
            and len(m) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in m)
            for m in masks
        )
        if not ok:
            t.error("mask", "expected a list of [x, y, width, height] rectangles, as fractions of the picture (0 to 1)")


def _gpio_lines(ctx: _Context, t: _Table, options: Mapping[str, Any]) -> None:
    if "lines" not in options:
        t.missing("lines")
        return
    lines = options["lines"]
    if not isinstance(lines, list) or not all(isinstance(item, dict) for item in lines):
        t.error("lines", f"expected an array of tables [{{line, name, kind}}, ...], got {_describe(lines)}")
        return
    if not lines:
        t.error("lines", "the gpio driver needs at least one line")
    seen: dict[int, int] = {}
    for index, item in enumerate(lines):
        line_table = _Table(ctx, item, f"{t.path}.lines[{index}]", _GPIO_LINE_KEYS)
        number = line_table.opt_integer("line", minimum=0)
        if not line_table.has("line"):
            line_table.missing("line")
        elif number is not None:
            if number in seen:
                line_table.error("line", f"line {number} is already used by lines[{seen[number]}]")
            seen.setdefault(number, index)
        line_table.required_string("name")
        if line_table.has("kind"):
            line_table.choice("kind", ZONE_KINDS, "contact")
        else:
            line_table.missing("kind")
        line_table.choice("behaviour", BEHAVIOURS, "instant")
        line_table.boolean("home", False)
        line_table.optional_string("room")
        line_table.choice("contact", ("no", "nc"), "no")
        line_table.choice("pull", ("up", "down", "none"), "up")


# --------------------------------------------------------------------------- top level

_TABLE_SECTIONS = (
    "hub",
    "web",
    "alarm",
    "escalation",
    "sms",
    "email",
    "push",
    "ntfy",
    "gsm",
    "centre",
    "mqtt_export",
    "led",
    "backup",
    "log",
    "storage",
)
_ARRAY_SECTIONS = ("contacts", "drivers")
SECTIONS: tuple[str, ...] = (*_TABLE_SECTIONS, *_ARRAY_SECTIONS)


def _section(ctx: _Context, data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.error(name, f"expected a table [{name}], got {_describe(value)}")
        return None
    return value


def _array(ctx: _Context, data: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        ctx.error(name, f"expected an array of tables [[{name}]], got {_describe(value)}")
        return []
    return value


def _build(ctx: _Context, data: Mapping[str, Any]) -> Config:
    for name in data:
        if name not in SECTIONS:
            ctx.error(name, f"unknown key{_suggest(name, SECTIONS)}")
    sections = {name: _section(ctx, data, name) for name in _TABLE_SECTIONS}
    for (section, key), variable in ENV_VARS.items():
        if ctx.env_value(variable) is not None and sections[section] is None:
            ctx.warn(f"{section}.{key}", f"{variable} is set but there is no [{section}] section: ignored")

    def table(name: str) -> dict[str, Any]:
        return sections[name] or {}

    hub = _hub(ctx, table("hub"))
    sms, email, push, ntfy = sections["sms"], sections["email"], sections["push"], sections["ntfy"]
    gsm, centre, mqtt_export, led = sections["gsm"], sections["centre"], sections["mqtt_export"], sections["led"]
    config = Config(
        hub=hub,
        web=_web(ctx, table("web")),
        alarm=_alarm(ctx, table("alarm")),
        escalation=_escalation(ctx, table("escalation")),
        contacts=_contacts(ctx, _array(ctx, data, "contacts"), hub.language),
        sms=None if sms is None else _sms(ctx, sms),
        email=None if email is None else _email(ctx, email),
        push=None if push is None else _push(ctx, push),
        ntfy=None if ntfy is None else _ntfy(ctx, ntfy),
        gsm=None if gsm is None else _gsm(ctx, gsm),
        centre=None if centre is None else _centre(ctx, centre),
        drivers=_drivers(ctx, _array(ctx, data, "drivers")),
        mqtt_export=None if mqtt_export is None else _mqtt_export(ctx, mqtt_export),
        led=None if led is None else _led(ctx, led),
        backup=None if sections["backup"] is None else _backup(ctx, sections["backup"]),
        log=_log(ctx, table("log")),
        storage=_storage(ctx, table("storage")),
    )
    _unreachable_contacts(ctx, config.contacts, sms=sms is not None, email=email is not None, gsm=gsm is not None)
    return config


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and check the config file (None: the built-in defaults). Raises ConfigError listing every error."""
    if path is None:
        return LoadedConfig(config=Config(), warnings=[], path=None)
    path = Path(path)
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(file, "", f"cannot read the config file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(file, "", f"not UTF-8 text: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, and tomllib's own limits (integers over 4300 digits)
        raise ConfigError([ConfigIssue(file, "", f"invalid TOML: {exc}")]) from None
    ctx = _Context(file, path.parent, os.environ if env is None else env)
    config = _build(ctx, data)
    if ctx.errors:
        raise ConfigError(ctx.errors, ctx.warnings)
    return LoadedConfig(config=config, warnings=ctx.warnings, path=path)


def check_main(path: Path | None, *, env: Mapping[str, str] | None = None) -> int:
    """`casahub config check [FILE]`: "OK: FILE" and warnings on stdout, errors on stderr; exit status 0 or 2."""
    label = DEFAULTS_LABEL if path is None else str(path)
    try:
        loaded = load_config(path, env=env)
    except ConfigError as exc:
        for warning in exc.warnings:
            print(f"warning: {warning}", file=sys.stdout)
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        count = len(exc.issues)
        print(f"{label}: {count} error{'s' if count != 1 else ''}; the daemon will not start", file=sys.stderr)
        return 2
    print(f"OK: {label}")
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    return 0
