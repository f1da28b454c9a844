"""The sections about the hub itself.

[hub], [web], [alarm], [escalation], [mqtt_export], [led], [storage], [outputs], [backup] and [log].
"""

from __future__ import annotations

import ipaddress
import re
import stat
import zoneinfo
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any

from alarms.model import ARM_TARGETS, AlarmSettings, AreaConfig, ArmTarget, ModeDelays
from hub.config.addresses import parse_listen
from hub.config.errors import _Context
from hub.config.model import (
    ENV_VARS,
    LANGUAGES,
    LOG_FORMATS,
    LOG_LEVELS,
    MAX_ENTRY_DELAY,
    OUTPUT_DEADLINE_RANGE,
    SIREN_TIME_RANGE,
    TLS_MODES,
    BackupConfig,
    EscalationConfig,
    HubConfig,
    LedConfig,
    LogConfig,
    MqttExportConfig,
    OutputsConfig,
    Secret,
    StorageConfig,
    TlsFiles,
    TlsMode,
    WebConfig,
)
from hub.config.toml_load import _describe, _suggest, _Table


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
    "panic_audible",
    *ARM_TARGETS,  # [alarm.night] exit_delay / entry_delay: that armed mode's own delays
)


def _mode_delays(ctx: _Context, raw: Mapping[str, Any]) -> dict[ArmTarget, ModeDelays]:
    """`[alarm.<mode>]` tables: a mode's own exit and entry delays (night often has no entry delay)."""
    delays: dict[ArmTarget, ModeDelays] = {}
    for target in ARM_TARGETS:
        value = raw.get(target)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            ctx.error(f"alarm.{target}", "must be a table: [alarm.night] with exit_delay and entry_delay")
            continue
        t = _Table(ctx, value, f"alarm.{target}", ("exit_delay", "entry_delay"))
        exit_delay = t.duration("exit_delay", -1) if t.has("exit_delay") else None
        entry_delay = t.duration("entry_delay", -1) if t.has("entry_delay") else None
        own = ModeDelays(
            exit_delay=exit_delay if exit_delay is not None and exit_delay >= 0 else None,
            entry_delay=entry_delay if entry_delay is not None and entry_delay >= 0 else None,
        )
        if own != ModeDelays():
            delays[target] = own
        if own.entry_delay is not None and own.entry_delay > MAX_ENTRY_DELAY:
            t.warn(
                "entry_delay", f"{own.entry_delay:g} s is over {MAX_ENTRY_DELAY:g} s, outside EN 50131 grade-2 practice"
            )
    return delays


_AREA_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_AREAS = 8  # the centre numbers areas as partitions; eight cover any house (and a shop below it)


def _areas(ctx: _Context, raw: list[dict[str, Any]]) -> tuple[AreaConfig, ...]:
    """`[[areas]] id, name, exit_delay?, entry_delay?`: the house's areas, in the order the centre
    numbers them. None configured: one area, the whole house."""
    if not raw:
        return AlarmSettings().areas
    areas: list[AreaConfig] = []
    if len(raw) > MAX_AREAS:
        ctx.error("areas", f"at most {MAX_AREAS} areas, got {len(raw)}")
    for index, item in enumerate(raw[:MAX_AREAS]):
        t = _Table(ctx, item, f"areas[{index}]", ("id", "name", "exit_delay", "entry_delay"))
        area_id = t.required_string("id")
        name = t.required_string("name")
        if area_id and not _AREA_ID.fullmatch(area_id):
            t.error("id", "lowercase letters, digits, - and _ (at most 32), starting with a letter or digit")
            continue
        if area_id and any(a.id == area_id for a in areas):
            t.error("id", f"area {area_id!r} is defined twice")
            continue
        if not area_id or not name:
            continue
        exit_delay = t.duration("exit_delay", -1) if t.has("exit_delay") else None
        entry_delay = t.duration("entry_delay", -1) if t.has("entry_delay") else None
        areas.append(
            AreaConfig(
                id=area_id,
                name=name,
                exit_delay=exit_delay if exit_delay is not None and exit_delay >= 0 else None,
                entry_delay=entry_delay if entry_delay is not None and entry_delay >= 0 else None,
            )
        )
    return tuple(areas) or AlarmSettings().areas


def _alarm(ctx: _Context, raw: Mapping[str, Any], areas: list[dict[str, Any]] | None = None) -> AlarmSettings:
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
        panic_audible=t.boolean("panic_audible", base.panic_audible),
        modes=_mode_delays(ctx, raw),
        areas=_areas(ctx, areas or []),
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


def _outputs(ctx: _Context, raw: Mapping[str, Any]) -> OutputsConfig:
    t = _Table(ctx, raw, "outputs", ("deadline",))
    base = OutputsConfig()
    deadline = t.duration("deadline", base.deadline, positive=True)
    low, high = OUTPUT_DEADLINE_RANGE
    if not low <= deadline <= high:
        t.error("deadline", f"must be between {low:g} and {high:g} seconds, got {deadline:g}")
        deadline = base.deadline
    return OutputsConfig(deadline=deadline)


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
