"""zigbee2mqtt's device payloads: a state or availability message to readings, pure and total."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from alarms.model import ZoneKind
from drivers.base import HealthReading, Reading, SensorReading

__all__ = ["STATE_HEALTH", "STATE_KINDS", "decode_json", "parse_availability", "short_repr", "state_readings"]

# State field -> (zone kind, whether the channel is active when the field is true).
STATE_KINDS: Mapping[str, tuple[ZoneKind, bool]] = {
    "water_leak": ("water", True),
    "smoke": ("smoke", True),
    "occupancy": ("motion", True),
    "contact": ("contact", False),  # z2m: contact true = closed; the channel is active when open
}

# State field -> HealthReading field.
STATE_HEALTH: Mapping[str, str] = {
    "battery": "battery",
    "battery_low": "battery_low",
    "linkquality": "signal",
    "tamper": "tamper",
}


def decode_json(payload: bytes | str) -> tuple[Any, str | None]:
    """The JSON value of `payload`, or (None, the reason it is not JSON)."""
    try:
        return json.loads(payload), None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, f"not JSON ({type(exc).__name__})"


def short_repr(value: Any) -> str:
    """`repr(value)`, cut to 60 characters for a log line; never raises."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int over 4300 digits, a very deep list
        return f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def state_readings(address: str, state: Any, at: float) -> tuple[list[Reading], list[str]]:
    """The readings a decoded z2m state message gives, and the problems found in it.

    Pure and total: any `state` (a JSON value) gives a result, never an exception. A state
    that is not an object gives no reading; a field of the wrong type is a problem and is
    left out, the others are used.
    """
    if not isinstance(state, dict):
        return [], [f"state is not a JSON object but {type(state).__name__}"]
    readings: list[Reading] = []
    problems: list[str] = []
    for name, (kind, active_when_true) in STATE_KINDS.items():
        if name not in state:
            continue
        value = state[name]
        if isinstance(value, bool):
            readings.append(SensorReading(address=address, kind=kind, active=value == active_when_true, at=at))
        elif value is not None:  # z2m sends null for a value it has not received yet
            problems.append(f"{name} = {short_repr(value)} is not true/false")
    health: dict[str, Any] = {}
    battery = state.get("battery")
    if battery is not None:
        if isinstance(battery, int | float) and not isinstance(battery, bool) and 0 <= battery <= 100:
            health["battery"] = float(battery)
        else:
            problems.append(f"battery = {short_repr(battery)} is not a percentage")
    for name in ("battery_low", "tamper"):
        value = state.get(name)
        if isinstance(value, bool):
            health[name] = value
        elif value is not None:
            problems.append(f"{name} = {short_repr(value)} is not true/false")
    linkquality = state.get("linkquality")
    if linkquality is not None:
        if (
            isinstance(linkquality, int | float)
            and not isinstance(linkquality, bool)
            and 0 <= linkquality <= 255  # also rejects NaN
        ):
            health["signal"] = round(linkquality)
        else:
            problems.append(f"linkquality = {short_repr(linkquality)} is not an LQI (0..255)")
    readings.insert(0, HealthReading(address=address, at=at, **health))
    return readings, problems


def parse_availability(payload: bytes | str) -> bool | None:
    """True/False for online/offline, from `{"state": ...}` or legacy plain text; None when neither."""
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            return None
    else:
        text = payload.strip()
    if text in ("online", "offline"):
        return text == "online"
    value, _ = decode_json(text)
    if isinstance(value, dict):
        state = value.get("state")
        if state in ("online", "offline"):
            return bool(state == "online")
    return None
