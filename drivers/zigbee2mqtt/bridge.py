"""`BridgeView`: what a zigbee2mqtt bridge said (its device list, their exposes, names and
topics), fed one MQTT message at a time; no I/O, no clock. The driver owns the connection.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from alarms.model import ZONE_KINDS, ZoneKind
from alarms.outputs import Command, OutputKind, OutputStatus
from drivers.base import Candidate, DriverError, HealthReading, Reading, SensorReading
from drivers.zigbee2mqtt.options import DEFAULT_BASE_TOPIC
from drivers.zigbee2mqtt.outputs import (
    NO_OUTPUTS,
    OutputTraits,
    assumed_status,
    command_payload,
    output_readings,
    output_traits,
)
from drivers.zigbee2mqtt.payloads import STATE_KINDS, decode_json, parse_availability, short_repr, state_readings

__all__ = ["MODEL_KINDS", "BridgeView"]

log = logging.getLogger("drivers.zigbee2mqtt")  # one logger per driver, as [log] levels name it

# Models recorded from real devices (docs/architecture.md section 5), for when a definition has no exposes.
MODEL_KINDS: Mapping[str, tuple[ZoneKind, ...]] = {
    "SJCGQ11LM": ("water",),  # Aqara water leak sensor
    "HS1SA": ("smoke",),  # Heiman smoke detector
    "RTCGQ11LM": ("motion",),  # Aqara human body motion sensor
    "MCCGQ11LM": ("contact",),  # Aqara door & window contact sensor
}

_IEEE = re.compile(r"0x[0-9a-fA-F]{16}")
_PENDING_PER_NAME = 4  # state messages kept for a name not yet in the device list
_PENDING_NAMES = 64
_COMMAND_SUFFIXES = ("/set", "/get")


def _exposed_properties(exposes: Any, depth: int = 0) -> Iterator[str]:
    """The property names in a z2m `exposes` list, nested `features` included."""
    if depth > 8 or not isinstance(exposes, list):
        return
    for item in exposes:
        if not isinstance(item, dict):
            continue
        for key in ("property", "name"):
            value = item.get(key)
            if isinstance(value, str):
                yield value
        yield from _exposed_properties(item.get("features"), depth + 1)


def _ordered(kinds: set[ZoneKind]) -> tuple[ZoneKind, ...]:
    return tuple(kind for kind in ZONE_KINDS if kind in kinds)


@dataclass
class _Device:
    """What the bridge said about one device."""

    ieee: str
    name: str = ""
    model: str = ""
    vendor: str = ""
    definition_known: bool = False
    exposed: set[ZoneKind] = field(default_factory=set)
    reported: set[ZoneKind] = field(default_factory=set)  # sensing fields seen in its state
    listed: bool = False  # in the last bridge/devices
    announced: bool = False  # seen in bridge/event
    coordinator: bool = False
    disabled: bool = False
    battery: float | None = None
    signal: int | None = None
    outputs: OutputTraits = NO_OUTPUTS

    @property
    def kinds(self) -> tuple[ZoneKind, ...]:
        return _ordered(self.exposed | self.reported | set(MODEL_KINDS.get(self.model, ())))

    def learn_definition(self, definition: Any, model_id: Any = None) -> None:
        if isinstance(definition, dict):
            model, vendor = definition.get("model"), definition.get("vendor")
            if isinstance(model, str) and model:
                self.model = model
            if isinstance(vendor, str):
                self.vendor = vendor
            self.definition_known = True
            self.exposed = {
                STATE_KINDS[p][0] for p in _exposed_properties(definition.get("exposes")) if p in STATE_KINDS
            }
            self.outputs = output_traits(definition)
        if not self.model and isinstance(model_id, str) and model_id:
            self.model = model_id


class BridgeView:
    """What a zigbee2mqtt bridge has said, fed one MQTT message at a time; no I/O, no clock.

    `feed(topic, payload, at)` returns the readings the message gives; problems in a device's
    payloads are logged at warning once per device (then at debug), bridge payloads likewise
    once per topic. Nothing it is fed makes it raise. `command(address, command)` gives the
    message that asks a device to do something (drivers/zigbee2mqtt/outputs.py).

    `invert`: the IEEE addresses of relays wired the other way round; `output_kind`: the output
    kind an address is paired as (DriverContext.output_kind), which says whether a relay's
    `state` is a valve's or a switch's.
    """

    def __init__(
        self,
        base_topic: str = DEFAULT_BASE_TOPIC,
        *,
        invert: Collection[str] = (),
        output_kind: Callable[[str], OutputKind | None] = lambda address: None,
    ) -> None:
        self.base_topic = base_topic
        self._prefix = base_topic + "/"
        self._invert = frozenset(address.lower() for address in invert)
        self._output_kind = output_kind
        self._commanded: dict[str, OutputKind] = {}  # the relay kind each address was last commanded as
        self._devices: dict[str, _Device] = {}
        self._by_name: dict[str, str] = {}
        self._pending: OrderedDict[str, deque[tuple[bytes | str, float]]] = OrderedDict()
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ queries

    def address_of(self, name: str) -> str | None:
        """The IEEE address of the device called `name` now, if known."""
        ieee = self._by_name.get(name)
        if ieee is None and _IEEE.fullmatch(name):
            ieee = name.lower()
        return ieee

    def name_of(self, address: str) -> str | None:
        device = self._devices.get(address)
        return (device.name or None) if device is not None else None

    def relay_kind(self, address: str) -> OutputKind:
        """Whether the relay at `address` is a valve or a switch: as paired, else as last
        commanded, else the likelier from its definition."""
        paired = self._output_kind(address)
        if paired in ("valve", "switch"):
            return paired
        commanded = self._commanded.get(address)
        if commanded is not None:
            return commanded
        device = self._devices.get(address)
        return "valve" if device is not None and device.outputs.valve_likely else "switch"

    def command(self, address: str, command: Command) -> tuple[str, dict[str, Any], OutputStatus | None]:
        """The topic and JSON object that ask the device at `address` to do `command`, and the
        status to report once it is sent where the device cannot report it (else None).
        DriverError when the device is not known as an output that can do it."""
        device = self._devices.get(address)
        if device is None or not (device.listed or device.announced) or not device.outputs.kinds:
            raise DriverError(
                f"zigbee2mqtt: {address} is not a siren, valve or switch this bridge lists; "
                "check the address, and that zigbee2mqtt has interviewed the device"
            )
        try:
            payload = command_payload(device.outputs, command, invert=address in self._invert)
        except ValueError as exc:
            model = device.model or "unknown model"
            raise DriverError(f"zigbee2mqtt: {address} ({model}) cannot do that: {exc}") from None
        if command.action in ("close", "open"):
            self._commanded[address] = "valve"
        elif command.action in ("on", "off"):
            self._commanded[address] = "switch"
        topic = f"{self.base_topic}/{device.name or address}/set"
        return topic, payload, assumed_status(device.outputs, command)

    def candidates(self, driver: str, paired: set[str]) -> list[Candidate]:
        """Devices listed or announced, not paired, not the coordinator, with a channel or an output the hub uses."""
        result = []
        for device in self._devices.values():
            if device.coordinator or device.disabled or device.ieee in paired:
                continue
            if not (device.listed or device.announced):
                continue
            kinds, outputs = device.kinds, device.outputs.kinds
            if device.definition_known and not kinds and not outputs:
                continue  # a bulb, a remote: nothing an alarm zone or output can use
            result.append(
                Candidate(
                    id=f"{driver}:{device.ieee}",
                    driver=driver,
                    address=device.ieee,
                    model=device.model or "unknown",
                    kinds=kinds,
                    signal=device.signal,
                    battery=device.battery,
                    outputs=outputs,
                )
            )
        return result

    # ------------------------------------------------------------------ input

    def feed(self, topic: str, payload: bytes | str, at: float) -> list[Reading]:
        """The readings one MQTT message gives (often none)."""
        if not topic.startswith(self._prefix):
            return []
        rest = topic[len(self._prefix) :]
        if rest == "bridge" or rest.startswith("bridge/"):
            return self._bridge(rest, payload, at)
        if not payload:
            return []  # an emptied retained message: a device removed, nothing said
        if rest in self._by_name or _IEEE.fullmatch(rest):
            return self._state(rest, payload, at)
        if rest.endswith("/availability"):
            return self._availability(rest[: -len("/availability")], payload, at)
        if self._is_subtopic(rest):
            return []
        self._hold(rest, payload, at)
        return []

    # ------------------------------------------------------------------ devices

    def _state(self, name: str, payload: bytes | str, at: float) -> list[Reading]:
        address = self.address_of(name)
        if address is None:  # pragma: no cover - feed checked the name
            return []
        value, error = decode_json(payload)
        if error is not None:
            self._warn(address, f"zigbee2mqtt device {address} ({name!r}): state payload {error}; ignored")
            return []
        readings, problems = state_readings(address, value, at)
        if problems:
            self._warn(address, f"zigbee2mqtt device {address} ({name!r}): {'; '.join(problems)}; ignored")
        device = self._devices.get(address)
        if device is not None:
            for reading in readings:
                if isinstance(reading, SensorReading):
                    device.reported.add(reading.kind)
                elif isinstance(reading, HealthReading):
                    device.battery = reading.battery if reading.battery is not None else device.battery
                    device.signal = reading.signal if reading.signal is not None else device.signal
            if device.outputs.kinds:
                readings += output_readings(
                    address,
                    value,
                    at,
                    device.outputs,
                    relay_kind=self.relay_kind(address),
                    invert=address in self._invert,
                )
        return readings

    def _availability(self, name: str, payload: bytes | str, at: float) -> list[Reading]:
        address = self.address_of(name)
        if address is None:
            self._hold(name + "/availability", payload, at)
            return []
        online = parse_availability(payload)
        if online is None:
            self._warn(address, f"zigbee2mqtt device {address} ({name!r}): availability {short_repr(payload)} ignored")
            return []
        return [HealthReading(address=address, at=at, online=online)]

    def _is_subtopic(self, rest: str) -> bool:
        """A topic below a device's (commands, z2m's legacy per-attribute topics), not a device's own."""
        if rest.endswith(_COMMAND_SUFFIXES) or "/set/" in rest or "/get/" in rest:
            return True
        head = rest
        while "/" in head:
            head = head.rsplit("/", 1)[0]
            if self.address_of(head) is not None:
                return True
        return False

    def _hold(self, rest: str, payload: bytes | str, at: float) -> None:
        """Keep a message for a name not in the device list yet (retained states may come first)."""
        queue = self._pending.get(rest)
        if queue is None:
            if len(self._pending) >= _PENDING_NAMES:
                self._pending.popitem(last=False)
            queue = self._pending[rest] = deque(maxlen=_PENDING_PER_NAME)
        queue.append((payload, at))
        log.debug("zigbee2mqtt: message for unknown device %r held until the device list names it", rest)

    def _replay(self) -> list[Reading]:
        readings: list[Reading] = []
        for rest in list(self._pending):
            name = rest[: -len("/availability")] if rest.endswith("/availability") else rest
            if self.address_of(name) is None:
                continue
            for payload, at in self._pending.pop(rest):
                readings.extend(self.feed(self._prefix + rest, payload, at))
        return readings

    def _warn(self, key: str, message: str) -> None:
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        log.log(level, message)

    # ------------------------------------------------------------------ the bridge

    def _bridge(self, rest: str, payload: bytes | str, at: float) -> list[Reading]:
        handler = {
            "bridge/devices": self._devices_list,
            "bridge/event": self._event,
            "bridge/response/device/rename": self._renamed,
            "bridge/response/permit_join": self._permit_join_response,
        }.get(rest)
        if handler is None or not payload:
            return []
        value, error = decode_json(payload)
        if error is not None:
            self._warn(rest, f"zigbee2mqtt {rest}: payload {error}; ignored")
            return []
        return handler(value)

    def _device(self, ieee: str) -> _Device:
        device = self._devices.get(ieee)
        if device is None:
            device = self._devices[ieee] = _Device(ieee=ieee)
        return device

    def _reindex(self) -> list[Reading]:
        self._by_name = {d.name: d.ieee for d in self._devices.values() if d.name and (d.listed or d.announced)}
        return self._replay()

    def _devices_list(self, value: Any) -> list[Reading]:
        if not isinstance(value, list):
            self._warn("bridge/devices", f"zigbee2mqtt bridge/devices: expected a list, got {type(value).__name__}")
            return []
        was_listed = {ieee for ieee, device in self._devices.items() if device.listed}
        for device in self._devices.values():
            device.listed = False
        skipped = 0
        for item in value:
            ieee = item.get("ieee_address") if isinstance(item, dict) else None
            name = item.get("friendly_name") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(ieee, str) or not _IEEE.fullmatch(ieee):
                skipped += 1
                continue
            device = self._device(ieee.lower())
            device.listed = True
            device.name = name if isinstance(name, str) and name else ieee.lower()
            device.coordinator = item.get("type") == "Coordinator"
            device.disabled = item.get("disabled") is True
            device.learn_definition(item.get("definition"), item.get("model_id"))
        for ieee in was_listed:
            if not self._devices[ieee].listed:
                del self._devices[ieee]  # removed from the network
        if skipped:
            self._warn("bridge/devices", f"zigbee2mqtt bridge/devices: {skipped} entries without an IEEE address")
        return self._reindex()

    def _event(self, value: Any) -> list[Reading]:
        if not isinstance(value, dict) or not isinstance(value.get("data"), dict):
            self._warn("bridge/event", f"zigbee2mqtt bridge/event: unexpected payload {short_repr(value)}")
            return []
        kind, data = value.get("type"), value["data"]
        ieee, name = data.get("ieee_address"), data.get("friendly_name")
        if not isinstance(ieee, str) or not _IEEE.fullmatch(ieee):
            return []
        ieee = ieee.lower()
        if kind == "device_leave":
            self._devices.pop(ieee, None)
            return self._reindex()
        if kind not in ("device_joined", "device_announce", "device_interview"):
            return []
        if kind == "device_interview" and data.get("status") != "successful":
            return []
        device = self._device(ieee)
        device.announced = True
        if isinstance(name, str) and name and not device.listed:
            device.name = name
        if kind == "device_interview":
            device.learn_definition(data.get("definition"))
        log.info("zigbee2mqtt: %s %s (%r)", kind.replace("_", " "), ieee, device.name)
        return self._reindex()

    def _renamed(self, value: Any) -> list[Reading]:
        data = value.get("data") if isinstance(value, dict) else None
        if not isinstance(data, dict) or value.get("status") != "ok":
            return []
        old, new = data.get("from"), data.get("to")
        ieee = self.address_of(old) if isinstance(old, str) else None
        if ieee is None or not isinstance(new, str) or not new:
            return []
        self._device(ieee).name = new
        return self._reindex()

    def _permit_join_response(self, value: Any) -> list[Reading]:
        if isinstance(value, dict) and value.get("status") == "error":
            log.warning("zigbee2mqtt refused permit_join: %s", short_repr(value.get("error")))
        return []
