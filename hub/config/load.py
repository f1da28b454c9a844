"""load_config: read the file, walk its sections, raise ConfigError listing every problem; and `config check`."""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.config.channels import _centre, _contacts, _email, _gsm, _ntfy, _push, _sms, _unreachable_contacts
from hub.config.drivers import _drivers
from hub.config.errors import ConfigError, ConfigIssue, _Context
from hub.config.model import ENV_VARS, Config, LoadedConfig
from hub.config.sections import (
    _alarm,
    _backup,
    _escalation,
    _hub,
    _led,
    _log,
    _mqtt_export,
    _outputs,
    _storage,
    _web,
)
from hub.config.toml_load import _describe, _suggest

DEFAULTS_LABEL = "<defaults>"

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
    "outputs",
)
_ARRAY_SECTIONS = ("contacts", "drivers", "areas")
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
        alarm=_alarm(ctx, table("alarm"), _array(ctx, data, "areas")),
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
        outputs=_outputs(ctx, table("outputs")),
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
