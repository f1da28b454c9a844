"""The zigbee2mqtt driver: Zigbee sensors through a zigbee2mqtt bridge, read from its MQTT broker.

Theory of operation. zigbee2mqtt (z2m) publishes everything under one base topic (default
"zigbee2mqtt"); the driver subscribes to `<base>/#` and feeds each message to `BridgeView`,
a protocol core without I/O (no sockets, no clock: the caller passes the message and its
time), which keeps what the bridge said about its devices and returns readings. The
driver around it owns the MQTT connection and the readings queue.

A device's casahub `address` is its IEEE address (`0x00158d0001a2b3c4`, lower case), which
never changes; z2m addresses messages by friendly name, which the user may change. The
retained `<base>/bridge/devices` list maps one to the other, and z2m republishes it after
every rename, join, interview and removal: the map is rebuilt from each copy. A device's
default friendly name is its IEEE address, which resolves by itself. State that arrives for
a name not (yet) in the map, as retained states do when they come before the retained
device list, waits in a small buffer per name and is replayed once the name resolves.

Topics under the base topic, and what they give:

    bridge/devices                  the device list (ieee_address, friendly_name, type,
                                    definition {model, vendor, exposes}, power_source, disabled)
    bridge/event                    device_joined / device_interview (status "successful",
                                    with definition) -> pairing candidates; device_leave -> forgotten
    bridge/response/device/rename   {"data": {"from", "to"}} -> the rename, before the new device list
    bridge/response/permit_join     a failed permit_join is logged
    bridge/<anything else>          ignored (info, state, logging, groups, requests...)
    <name>/availability             {"state": "online"|"offline"} (z2m >= 1.22; legacy: plain
                                    "online"/"offline") -> HealthReading(online=...)
    <name>/set, <name>/get, ...     commands and other subtopics: ignored
    <name>                          the device state, a JSON object, mapped by STATE_KINDS and
                                    STATE_HEALTH below

Every well-formed state message yields one HealthReading (the fields it reported, the others
None; all None when it reported none) so that the hub hears from the device on each message,
plus one SensorReading per sensing field present. z2m's `contact: true` means the contact is
CLOSED (magnet near), so a contact channel is active when `contact` is false. Readings are
emitted for every device, paired or not: the hub ignores the unpaired ones.

Bad input never raises out of the driver: a payload that is not JSON, not an object, or a
field of the wrong type (or out of range: battery outside 0..100, linkquality outside
0..255) is logged at warning the first time for each device (then at debug), and the
message's other fields are still used.

Pairing: candidates are the devices in the device list (not the coordinator, not disabled)
and those announced by bridge/event, less the ones in `context.paired()`. Their kinds come
from the definition's exposes (properties water_leak, smoke, occupancy, contact, searched
through nested features), from the sensing fields the device has reported, and from
MODEL_KINDS for models recorded from real devices. A device whose definition is known and
which has none of those channels (a plug, a bulb) is not offered. `scan(seconds)` publishes
`{"time": seconds}` (the z2m 2.x payload, 1..254 s) to `bridge/request/permit_join`.

Supervision: `expected_interval` is 3600 s for every device unless the `expected_interval`
option says otherwise. Aqara/Xiaomi battery sensors send a heartbeat about every 50 min,
which fits. z2m's own passive availability timeout for battery devices is 25 h, far too long
for a security hub; but some battery devices report only when something changes and on
their battery reporting interval (z2m configures it up to 62000 s), so a bridge of such
devices needs a longer `expected_interval` to avoid false "offline" anomalies. The hub
decides offline from the last report plus this interval, or at once from availability
"offline", whichever comes first (docs/architecture.md section 5).

Connection: the driver (re)connects forever with exponential backoff from 1 s, doubled on
each failure up to 30 s, and reset once connected; on each connection it resubscribes, so
the broker redelivers the retained device list and states. `readings()` goes on across
reconnects and ends only when the driver stops. `connected` says whether the broker link is
up now (for the hub's status page).

Options: host (required), port = 1883, base_topic = "zigbee2mqtt", username, password
(a plain string; needs username), expected_interval = 3600 (seconds). A `type` key equal
to "zigbee2mqtt" is tolerated, so the hub may pass a whole `[[drivers]]` table. Not
supported: z2m's `output: attribute` mode (one topic per attribute); use the default
`output: json`.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import math
import re
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self

import aiomqtt

from alarms.model import ZONE_KINDS, ZoneKind
from drivers.base import (
    Candidate,
    DriverContext,
    DriverError,
    FixedDevice,
    HealthReading,
    Reading,
    ReadingStream,
    SensorReading,
    stop_task,
)

__all__ = [
    "DEFAULT_EXPECTED_INTERVAL",
    "MODEL_KINDS",
    "STATE_HEALTH",
    "STATE_KINDS",
    "BridgeView",
    "Zigbee2MqttDriver",
    "Zigbee2MqttOptions",
    "parse_availability",
    "parse_options",
    "state_readings",
]

log = logging.getLogger("drivers.zigbee2mqtt")  # one logger per driver, as [log] levels name it

# --------------------------------------------------------------------------- the mapping

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

# Models recorded from real devices (docs/architecture.md section 5), for when a definition has no exposes.
MODEL_KINDS: Mapping[str, tuple[ZoneKind, ...]] = {
    "SJCGQ11LM": ("water",),  # Aqara water leak sensor
    "HS1SA": ("smoke",),  # Heiman smoke detector
    "RTCGQ11LM": ("motion",),  # Aqara human body motion sensor
    "MCCGQ11LM": ("contact",),  # Aqara door & window contact sensor
}

DEFAULT_EXPECTED_INTERVAL = 3600.0
DEFAULT_PORT = 1883
DEFAULT_BASE_TOPIC = "zigbee2mqtt"
PERMIT_JOIN_MAX = 254  # z2m refuses longer permit_join times

_IEEE = re.compile(r"0x[0-9a-fA-F]{16}")
_PENDING_PER_NAME = 4  # state messages kept for a name not yet in the device list
_PENDING_NAMES = 64
_COMMAND_SUFFIXES = ("/set", "/get")


# --------------------------------------------------------------------------- payloads


def _decode_json(payload: bytes | str) -> tuple[Any, str | None]:
    """The JSON value of `payload`, or (None, the reason it is not JSON)."""
    try:
        return json.loads(payload), None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, f"not JSON ({type(exc).__name__})"


def _short(value: Any) -> str:
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
            problems.append(f"{name} = {_short(value)} is not true/false")
    health: dict[str, Any] = {}
    battery = state.get("battery")
    if battery is not None:
        if isinstance(battery, int | float) and not isinstance(battery, bool) and 0 <= battery <= 100:
            health["battery"] = float(battery)
        else:
            problems.append(f"battery = {_short(battery)} is not a percentage")
    for name in ("battery_low", "tamper"):
        value = state.get(name)
        if isinstance(value, bool):
            health[name] = value
        elif value is not None:
            problems.append(f"{name} = {_short(value)} is not true/false")
    linkquality = state.get("linkquality")
    if linkquality is not None:
        if (
            isinstance(linkquality, int | float)
            and not isinstance(linkquality, bool)
            and 0 <= linkquality <= 255  # also rejects NaN
        ):
            health["signal"] = round(linkquality)
        else:
            problems.append(f"linkquality = {_short(linkquality)} is not an LQI (0..255)")
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
    value, _ = _decode_json(text)
    if isinstance(value, dict):
        state = value.get("state")
        if state in ("online", "offline"):
            return bool(state == "online")
    return None


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


# --------------------------------------------------------------------------- the protocol core


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
        if not self.model and isinstance(model_id, str) and model_id:
            self.model = model_id


class BridgeView:
    """What a zigbee2mqtt bridge has said, fed one MQTT message at a time; no I/O, no clock.

    `feed(topic, payload, at)` returns the readings the message gives; problems in a device's
    payloads are logged at warning once per device (then at debug), bridge payloads likewise
    once per topic. Nothing it is fed makes it raise.
    """

    def __init__(self, base_topic: str = DEFAULT_BASE_TOPIC) -> None:
        self.base_topic = base_topic
        self._prefix = base_topic + "/"
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

    def candidates(self, driver: str, paired: set[str]) -> list[Candidate]:
        """Devices listed or announced, not paired, not the coordinator, with a channel the hub uses."""
        result = []
        for device in self._devices.values():
            if device.coordinator or device.disabled or device.ieee in paired:
                continue
            if not (device.listed or device.announced):
                continue
            kinds = device.kinds
            if device.definition_known and not kinds:
                continue  # a plug, a bulb, a remote: nothing an alarm zone can use
            result.append(
                Candidate(
                    id=f"{driver}:{device.ieee}",
                    driver=driver,
                    address=device.ieee,
                    model=device.model or "unknown",
                    kinds=kinds,
                    signal=device.signal,
                    battery=device.battery,
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
        value, error = _decode_json(payload)
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
                else:
                    device.battery = reading.battery if reading.battery is not None else device.battery
                    device.signal = reading.signal if reading.signal is not None else device.signal
        return readings

    def _availability(self, name: str, payload: bytes | str, at: float) -> list[Reading]:
        address = self.address_of(name)
        if address is None:
            self._hold(name + "/availability", payload, at)
            return []
        online = parse_availability(payload)
        if online is None:
            self._warn(address, f"zigbee2mqtt device {address} ({name!r}): availability {_short(payload)} ignored")
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
        value, error = _decode_json(payload)
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
            self._warn("bridge/event", f"zigbee2mqtt bridge/event: unexpected payload {_short(value)}")
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
            log.warning("zigbee2mqtt refused permit_join: %s", _short(value.get("error")))
        return []


# --------------------------------------------------------------------------- options


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
            if options[key] != Zigbee2MqttDriver.type:
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


# --------------------------------------------------------------------------- the driver


class Zigbee2MqttDriver:
    """Zigbee devices through zigbee2mqtt: one MQTT connection, kept up until the driver stops."""

    type: ClassVar[str] = "zigbee2mqtt"

    # Reconnection backoff (seconds): first delay, and the cap it doubles up to.
    reconnect_initial: float = 1.0
    reconnect_max: float = 30.0

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        self.options = parse_options(options)
        self._context = context
        self._view = BridgeView(self.options.base_topic)
        self._stream = ReadingStream(self.type)
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._state = "new"  # new -> running -> stopped; a driver runs once
        self.connections = 0  # successful connections so far (1 + reconnections)

    @property
    def connected(self) -> bool:
        """Connected to the broker and subscribed now."""
        return self._client is not None

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a Zigbee2MqttDriver runs once; create a new one to start again")
        self._state = "running"
        self._task = asyncio.create_task(self._run(), name=f"zigbee2mqtt-{self.options.host}:{self.options.port}")
        self._task.add_done_callback(self._stream.end_on_failure)
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "stopped"
        task, self._task = self._task, None
        try:
            await stop_task(task)
        finally:
            self._client = None
            self._stream.end()

    # ------------------------------------------------------------------ the Driver protocol

    def readings(self) -> AsyncIterator[Reading]:
        return self._stream.readings()

    async def candidates(self) -> list[Candidate]:
        return self._view.candidates(self.type, self._context.paired())

    async def scan(self, seconds: float) -> None:
        """Ask zigbee2mqtt to permit joining for `seconds` (1..254; 0 or less closes joining)."""
        client = self._client
        if client is None:
            raise DriverError(
                f"zigbee2mqtt: not connected to the MQTT broker at {self.options.host}:{self.options.port}; "
                "check that the broker runs and the driver's host/port/credentials, then retry"
            )
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds):
            raise DriverError(f"zigbee2mqtt: scan time must be a number of seconds, got {seconds!r}")
        time = 0 if seconds <= 0 else max(1, min(PERMIT_JOIN_MAX, math.ceil(seconds)))
        topic = f"{self.options.base_topic}/bridge/request/permit_join"
        try:
            await client.publish(topic, json.dumps({"time": time}), qos=1)
        except aiomqtt.MqttError as exc:
            raise DriverError(f"zigbee2mqtt: could not ask the bridge to permit joining: {exc}") from exc

    def fixed_devices(self) -> list[FixedDevice]:
        return []

    def expected_interval(self, address: str) -> float | None:
        return self.options.expected_interval

    def friendly_name(self, address: str) -> str | None:
        """zigbee2mqtt's current name for the device at `address` (IEEE), if the bridge said it."""
        return self._view.name_of(address)

    # ------------------------------------------------------------------ the connection

    async def _run(self) -> None:
        opts = self.options
        delay = self.reconnect_initial
        failures = 0
        while True:
            try:
                async with aiomqtt.Client(
                    opts.host,
                    opts.port,
                    username=opts.username,
                    password=opts.password,
                    keepalive=30,
                ) as client:
                    await client.subscribe(f"{opts.base_topic}/#", qos=1)
                    self._client = client
                    self.connections += 1
                    delay, failures = self.reconnect_initial, 0
                    log.info(
                        "zigbee2mqtt: connected to %s:%s, listening on %s/#", opts.host, opts.port, opts.base_topic
                    )
                    async for message in client.messages:
                        self._deliver(message)
            except aiomqtt.MqttError as exc:
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(
                    level,
                    "zigbee2mqtt: MQTT broker %s:%s unreachable or lost (%s); retrying in %g s (backoff up to %g s)",
                    opts.host,
                    opts.port,
                    exc,
                    delay,
                    self.reconnect_max,
                )
            finally:
                self._client = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max)

    def _deliver(self, message: aiomqtt.Message) -> None:
        raw = message.payload
        payload: bytes | str
        if isinstance(raw, bytes | str):
            payload = raw
        elif isinstance(raw, bytearray):
            payload = bytes(raw)
        else:
            payload = b"" if raw is None else str(raw)
        try:
            readings = self._view.feed(message.topic.value, payload, self._context.clock())
        except Exception:  # a bug in the view must not stop the bridge; the next message may be fine
            log.exception("zigbee2mqtt: could not handle a message on %s", message.topic.value)
            return
        for reading in readings:
            self._stream.put(reading)
