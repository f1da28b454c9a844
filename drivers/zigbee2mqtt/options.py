"""The zigbee2mqtt driver's options: a `[[drivers]]` table checked, and the defaults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.base import DriverError

__all__ = [
    "DEFAULT_BASE_TOPIC",
    "DEFAULT_EXPECTED_INTERVAL",
    "DEFAULT_PORT",
    "TYPE",
    "Zigbee2MqttOptions",
    "parse_options",
]

TYPE = "zigbee2mqtt"  # Zigbee2MqttDriver.type, and the only `type` key its options may carry
DEFAULT_EXPECTED_INTERVAL = 3600.0
DEFAULT_PORT = 1883
DEFAULT_BASE_TOPIC = "zigbee2mqtt"


@dataclass(frozen=True)
class Zigbee2MqttOptions:
    host: str
    port: int = DEFAULT_PORT
    base_topic: str = DEFAULT_BASE_TOPIC
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    expected_interval: float = DEFAULT_EXPECTED_INTERVAL


_OPTIONS = ("host", "port", "base_topic", "username", "password", "expected_interval")


def parse_options(options: Mapping[str, Any]) -> Zigbee2MqttOptions:
    """Validate a `[[drivers]]` table for zigbee2mqtt; DriverError names the bad key."""
    where = "zigbee2mqtt driver"
    for key in options:
        if key == "type":
            if options[key] != TYPE:
                raise DriverError(f"{where} given option type = {options[key]!r}")
        elif key not in _OPTIONS:
            raise DriverError(f"{where}: unknown option {key!r}; known options: {', '.join(_OPTIONS)}")

    def text(key: str) -> str | None:
        value = options.get(key)
        if value is None:
            return None
        if key == "password" and not isinstance(value, str) and callable(getattr(value, "reveal", None)):
            value = value.reveal()  # a hub.config.Secret
        if not isinstance(value, str) or not value.strip():
            shown = "a hidden value" if key == "password" else repr(value)
            raise DriverError(f"{where}: option {key!r} must be a non-empty string, got {shown}")
        return value

    host = text("host")
    if host is None:
        raise DriverError(f"{where}: option 'host' is required (the MQTT broker zigbee2mqtt publishes to)")
    port = options.get("port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise DriverError(f"{where}: option 'port' must be a TCP port (1-65535), got {port!r}")
    base_topic = (text("base_topic") or DEFAULT_BASE_TOPIC).rstrip("/")
    if not base_topic or any(c in base_topic for c in "+#\0"):
        raise DriverError(f"{where}: option 'base_topic' must be an MQTT topic without wildcards, got {base_topic!r}")
    username, password = text("username"), text("password")
    if password is not None and username is None:
        raise DriverError(f"{where}: option 'password' needs 'username' (MQTT 3.1.1 sends no password alone)")
    interval = options.get("expected_interval", DEFAULT_EXPECTED_INTERVAL)
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise DriverError(f"{where}: option 'expected_interval' must be a positive number of seconds, got {interval!r}")
    return Zigbee2MqttOptions(
        host=host,
        port=port,
        base_topic=base_topic,
        username=username,
        password=password,
        expected_interval=float(interval),
    )
