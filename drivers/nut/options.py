"""The NUT driver's options: a `[[drivers]]` table checked, and the defaults."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.base import DriverError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TYPE", "NutOptions", "parse_options"]

TYPE = "nut"  # NutDriver.type, and the only `type` key its options may carry
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3493
_OPTIONS = ("host", "port", "ups", "username", "password", "debounce", "poll", "timeout")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # a UPS name as ups.conf allows it: no spaces or quotes


@dataclass(frozen=True)
class NutOptions:
    host: str
    port: int
    ups: tuple[str, ...]
    username: str | None
    password: str | None = field(repr=False)
    debounce: float
    poll: float
    timeout: float


def parse_options(options: Mapping[str, Any]) -> NutOptions:
    """Validate a `[[drivers]]` table for nut; DriverError names the bad key."""
    for key in options:
        if key == "type":
            if options[key] != TYPE:
                raise DriverError(f"nut driver given option type = {options[key]!r}")
        elif key not in _OPTIONS:
            raise DriverError(f"nut driver: unknown option {key!r}; known options: {', '.join(_OPTIONS)}")
    host = _text(options, "host") or DEFAULT_HOST
    port = options.get("port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise DriverError(f"nut driver: option 'port' must be a TCP port (1-65535), got {port!r}")
    return NutOptions(
        host=host,
        port=port,
        ups=_ups_names(options.get("ups")),
        username=_text(options, "username"),
        password=_text(options, "password"),
        debounce=_seconds(options, "debounce", 60.0, zero_ok=True),
        poll=_seconds(options, "poll", 5.0, zero_ok=False),
        timeout=_seconds(options, "timeout", 10.0, zero_ok=False),
    )


def _text(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)  # a hub.config.Secret
    if callable(reveal):
        value = reveal()
    if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
        raise DriverError(f"nut driver: option {key!r} must be a non-empty string on one line")
    return value


def _ups_names(value: Any) -> tuple[str, ...]:
    if value is None:
        raise DriverError("nut driver: option 'ups' is required: the UPS name as in upsd's ups.conf (`upsc -l`)")
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names:
        raise DriverError(f"nut driver: option 'ups' must be a UPS name or a list of names, got {value!r}")
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DriverError(f"nut driver: {name!r} is not a UPS name (letters, digits, '_', '.', '-')")
    if len(set(names)) != len(names):
        raise DriverError(f"nut driver: option 'ups' names a UPS twice: {value!r}")
    return tuple(names)


def _seconds(options: Mapping[str, Any], key: str, default: float, *, zero_ok: bool) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise DriverError(f"nut driver: option {key!r} must be a number of seconds, got {value!r}")
    if value == 0 and not zero_ok:
        raise DriverError(f"nut driver: option {key!r} must be more than 0 seconds")
    return float(value)
