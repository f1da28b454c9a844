"""[[drivers]]: each entry's type must be registered; the built-in types' options are checked here."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from alarms.model import BEHAVIOURS, ZONE_KINDS
from hub.config.errors import _Context
from hub.config.model import MQTT_PASSWORD_ENV, DriverConfig
from hub.config.toml_load import _describe, _read_secret_file, _suggest, _Table

BUILTIN_DRIVERS: tuple[str, ...] = ("simulated", "bthome", "zigbee2mqtt", "nut", "power_supply", "gpio", "camera")
DRIVER_ENTRY_POINT_GROUP = "casahub.drivers"


def known_driver_types() -> tuple[str, ...]:
    """The built-in driver types plus every name registered in the `casahub.drivers` entry-point group."""
    # Looked up on the package, where it was when hub.config was one module: whoever replaces
    # hub.config.entry_points (tests/unit/test_config.py does) is heard here too.
    import hub.config

    names = set(BUILTIN_DRIVERS)
    try:
        names.update(ep.name for ep in hub.config.entry_points(group=DRIVER_ENTRY_POINT_GROUP))
    except Exception:  # a broken installed distribution must not make every config invalid
        pass
    return tuple(sorted(names))


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
