"""zigbee2mqtt's outputs, pure and total: which outputs a definition's exposes offer, the `/set`
payload of a `Command`, and the `OutputReading`s a state message gives.

The exposes shapes are zigbee-herdsman-converters' (src/lib/exposes.ts):

    siren   {"type": "composite", "name": "warning", "property": "warning", "access": 2,
             "features": [{"type": "enum", "name": "mode", "values": ["stop", "burglar", "fire",
             "emergency", ...]}, {"name": "level"}, {"name": "strobe"}, {"name": "duration"}, ...]}
    squawk  {"type": "composite", "name": "squawk", "property": "squawk", "features": [{"name":
             "state", "values": ["system_is_armed", "system_is_disarmed"]}, {"name": "level"}, ...]}
    relay   {"type": "switch", "features": [{"type": "binary", "name": "state", "property":
             "state", "access": 7, "value_on": "ON", "value_off": "OFF", "value_toggle": "TOGGLE"}]}
            (e.switch(): plugs, relays, the SONOFF SWV valve), or a top-level binary `state`
            (e.valve_switch(): Sinopé's valves, value_on "OPEN", value_off "CLOSE")
    alarm   {"type": "binary", "name": "alarm", "access": 1 or 3, "value_on": true, ...}: a
            siren that publishes whether it sounds (Woox R7051, TuYa sirens)

Only the relay's own `state` counts: a light's `state` is inside a `light` expose, a
multi-gang relay's are `state_l1`, `state_l2`... (not offered). A relay is offered as a valve
and a switch (the installer picks; the first is the likelier, "valve" when the definition
says so), and its on value opens a valve and closes a relay; `invert` swaps them for a device
wired the other way.

Sirens: z2m publishes nothing after a `warning` command (its converter returns no state), so
a siren that does not expose `alarm` with the state bit cannot confirm a sound: the driver
then reports the status it asked for once the broker has the command (`assumed_status`). A
siren whose modes list lacks the one asked (Heiman HS2WD-E offers only stop and emergency)
sounds `emergency`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alarms.outputs import CONFIRMED_BY, Command, OutputKind, OutputStatus
from drivers.base import OutputReading

__all__ = [
    "DEFAULT_SOUND_SECONDS",
    "WARNING_SECONDS_MAX",
    "OutputTraits",
    "assumed_status",
    "command_payload",
    "output_readings",
    "output_traits",
]

# Seconds a siren sounds when the command gives none: the engine's default siren_time (alarms/model.py).
DEFAULT_SOUND_SECONDS = 180
WARNING_SECONDS_MAX = 65_535  # the IAS WD start-warning duration is a 16-bit field
SQUAWK_SECONDS = 1  # a squawk emulated with a warning, on a siren without `squawk`
_SOUNDING = ("burglar", "fire", "emergency")
_ACCESS_STATE, _ACCESS_SET = 1, 2  # exposes access bits (published, settable)


@dataclass(frozen=True)
class OutputTraits:
    """The outputs a device's exposes offer."""

    siren: bool = False
    squawk: bool = False
    modes: tuple[str, ...] = ()  # the warning modes listed (empty: not listed, all allowed)
    reports_alarm: bool = False  # publishes `alarm` (whether it sounds)
    relay: bool = False  # a settable `state`
    value_on: str = "ON"
    value_off: str = "OFF"
    valve_likely: bool = False  # the definition calls it a valve

    @property
    def kinds(self) -> tuple[OutputKind, ...]:
        """What the device can be paired as, the likelier first."""
        kinds: list[OutputKind] = ["siren"] if self.siren else []
        if self.relay:
            kinds += ["valve", "switch"] if self.valve_likely else ["switch", "valve"]
        return tuple(kinds)


NO_OUTPUTS = OutputTraits()


def _items(exposes: Any, depth: int = 0) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every expose item with the `type` of the expose holding it (None at the top)."""
    if depth > 8 or not isinstance(exposes, list):
        return
    for item in exposes:
        if isinstance(item, dict):
            yield item, None
            parent = item.get("type") if isinstance(item.get("type"), str) else ""
            for feature, _ in _items(item.get("features"), depth + 1):
                yield feature, parent


def _named(item: dict[str, Any], name: str) -> bool:
    return item.get("property") == name or (item.get("property") is None and item.get("name") == name)


def _access(item: dict[str, Any]) -> int:
    access = item.get("access")
    # No access given (an old z2m): settable and published, as z2m's own default.
    return access if isinstance(access, int) and not isinstance(access, bool) else _ACCESS_STATE | _ACCESS_SET


def output_traits(definition: Any) -> OutputTraits:
    """What a z2m device definition offers as outputs; NO_OUTPUTS for anything else. Never raises."""
    if not isinstance(definition, dict):
        return NO_OUTPUTS
    siren = squawk = reports_alarm = relay = False
    modes: tuple[str, ...] = ()
    value_on, value_off = "ON", "OFF"
    for item, parent in _items(definition.get("exposes")):
        if parent is None and item.get("type") == "composite" and _named(item, "warning"):
            siren = True
            for feature, _ in _items(item.get("features")):
                values = feature.get("values")
                if feature.get("name") == "mode" and isinstance(values, list):
                    modes = tuple(v for v in values if isinstance(v, str))
        elif parent is None and item.get("type") == "composite" and _named(item, "squawk"):
            squawk = True
        elif parent is None and item.get("type") == "binary" and _named(item, "alarm"):
            reports_alarm = bool(_access(item) & _ACCESS_STATE)
        elif (
            parent in (None, "switch")
            and item.get("type") == "binary"
            and item.get("property", item.get("name")) == "state"
            and _access(item) & _ACCESS_SET
            and not relay
        ):
            on, off = item.get("value_on", "ON"), item.get("value_off", "OFF")
            if isinstance(on, str) and isinstance(off, str) and on and off and on != off:
                relay, value_on, value_off = True, on, off
    if not (siren or relay):
        return NO_OUTPUTS
    words = " ".join(str(definition.get(key, "")) for key in ("description", "model")).lower()
    return OutputTraits(
        siren=siren,
        squawk=siren and squawk,
        modes=modes,
        reports_alarm=siren and reports_alarm,
        relay=relay,
        value_on=value_on,
        value_off=value_off,
        valve_likely="valve" in words,
    )


def _seconds(command: Command, default: float) -> int:
    seconds = default if command.seconds is None else command.seconds
    return max(1, min(WARNING_SECONDS_MAX, math.ceil(seconds)))


def command_payload(traits: OutputTraits, command: Command, *, invert: bool = False) -> dict[str, Any]:
    """The JSON object to publish to `<base>/<name>/set`; ValueError when the device cannot do it."""
    action = command.action
    if action in ("close", "open", "on", "off"):
        if not traits.relay:
            raise ValueError(f"it has no switchable state for {action!r}")
        energise = action in ("open", "on")  # the on value opens a valve and closes a relay
        return {"state": traits.value_on if energise != invert else traits.value_off}
    if not traits.siren:
        raise ValueError(f"it is not a siren (no `warning` expose) for {action!r}")
    if action == "stop":
        return {"warning": {"mode": "stop"}}
    if action in _SOUNDING:
        mode = action if not traits.modes or action in traits.modes else "emergency"
        return {
            "warning": {
                "mode": mode,
                "level": command.level,
                "strobe": command.strobe,
                "duration": _seconds(command, DEFAULT_SOUND_SECONDS),
            }
        }
    # squawk_armed, squawk_disarmed, chime: a short confirmation beep
    if traits.squawk:
        state = "system_is_armed" if action == "squawk_armed" else "system_is_disarmed"
        return {"squawk": {"state": state, "level": "low", "strobe": False}}
    return {
        "warning": {"mode": "emergency", "level": "low", "strobe": False, "duration": _seconds(command, SQUAWK_SECONDS)}
    }


def assumed_status(traits: OutputTraits, command: Command) -> OutputStatus | None:
    """The status to report once the broker has the command, for a siren that cannot report its
    own (no `alarm` published); None where the device reports it, or nothing confirms the action."""
    if command.action not in ("burglar", "fire", "emergency", "stop") or traits.reports_alarm:
        return None
    return CONFIRMED_BY[command.action]


def _relay_on(value: Any, traits: OutputTraits) -> bool | None:
    if value == traits.value_on:
        return True
    if value == traits.value_off:
        return False
    return None


def _sounding(state: dict[str, Any]) -> bool | None:
    alarm = state.get("alarm")
    if isinstance(alarm, bool):
        return alarm
    if isinstance(alarm, str) and alarm.upper() in ("ON", "START", "OFF", "STOP"):
        return alarm.upper() in ("ON", "START")
    warning = state.get("warning")
    mode = warning.get("mode") if isinstance(warning, dict) else None
    if isinstance(mode, str) and mode:
        return mode != "stop"
    return None


def output_readings(
    address: str, state: Any, at: float, traits: OutputTraits, *, relay_kind: OutputKind, invert: bool = False
) -> list[OutputReading]:
    """The OutputReadings a decoded state message gives: whether a siren sounds (`alarm`, or a
    `warning` echoed back), and a relay's `state` as a valve's open/closed or a switch's on/off
    (`relay_kind`), swapped by `invert`. Pure and total; a value it does not know gives nothing."""
    if not isinstance(state, dict):
        return []
    readings: list[OutputReading] = []
    if traits.siren:
        sounding = _sounding(state)
        if sounding is not None:
            readings.append(OutputReading(address=address, status="sounding" if sounding else "silent", at=at))
    if traits.relay:
        on = _relay_on(state.get("state"), traits)
        if on is not None:
            energised = on != invert
            status: OutputStatus
            if relay_kind == "valve":
                status = "open" if energised else "closed"
            else:
                status = "on" if energised else "off"
            readings.append(OutputReading(address=address, status=status, at=at))
    return readings
