"""Fuzz the zigbee2mqtt payload parsing (drivers/zigbee2mqtt/): whatever a broker delivers,
the parsing functions return, never raise, and what they return is well-formed.

Targets, none of which needs a broker (the driver feeds every MQTT message to `BridgeView.feed`):

- `state_readings(address, value, at)` with arbitrary JSON values, and objects that carry the
  fields the driver reads (water_leak, smoke, occupancy, contact, battery, battery_low,
  linkquality, tamper) with values of every JSON type;
- `parse_availability(payload)` with arbitrary bytes and text, and JSON around "state";
- `BridgeView.feed(topic, payload, at)`: sequences of messages on device, availability,
  command and bridge topics (devices, event, rename response...), with schema-aware payloads,
  arbitrary JSON, and raw bytes (truncated JSON, invalid UTF-8, NaN, deep nesting); after
  each sequence `candidates()` must answer too;
- outputs (drivers/zigbee2mqtt/outputs.py): `output_traits` with exposes shaped like z2m's
  warning, squawk, switch and alarm (features, access, values of every JSON type),
  `output_readings` with states carrying `alarm`, `warning` and `state`, `command_payload`
  for every action, and `BridgeView.feed` sequences of output devices and their states
  followed by `command()`, which may refuse (DriverError) and must never fail otherwise.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alarms.model import ZONE_KINDS
from alarms.outputs import ACTIONS, OUTPUT_KINDS, OUTPUT_STATUSES, Command
from drivers.base import Candidate, DriverError, HealthReading, OutputReading, SensorReading
from drivers.zigbee2mqtt import (
    STATE_HEALTH,
    STATE_KINDS,
    BridgeView,
    OutputTraits,
    command_payload,
    output_readings,
    output_traits,
    parse_availability,
    state_readings,
)
from tests.reliability.fuzz_helpers import fuzz_settings, report

STATE_CASES = 600
AVAILABILITY_CASES = 300
BRIDGE_CASES = 300
OUTPUT_CASES = 300
ADDRESS = "0x00158d0001a2b3c4"
IEEES = (ADDRESS, "0x000d6f0011d4e5f6", "0x00124b0018e2a1b0")
NAMES = ("Cucina acqua", "Porta/ingresso", "0x00158d0001a2b3c4", "", "bridge", "a/set", "+")
FIELDS = (*STATE_KINDS, *STATE_HEALTH, "voltage", "illuminance", "state")

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
# Objects shaped like a z2m state: the fields the driver reads, with values of any JSON type.
states = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=8)


@pytest.fixture(autouse=True)
def quiet_driver_log() -> Iterator[None]:
    # The parser warns about bad payloads, which is every other case here; errors still show.
    logger = logging.getLogger("drivers.zigbee2mqtt")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def _encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


def _mangled(draw: Callable[[Any], Any], value: Any) -> bytes | str:
    """The JSON of `value`, sent as is, as text, truncated, with garbage, or replaced by random bytes."""
    data = _encoded(value)
    how = draw(st.sampled_from(("bytes", "text", "truncated", "garbage", "random", "deep")))
    if how == "text":
        return data.decode()
    if how == "truncated":
        return data[: draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))]
    if how == "garbage":
        junk: bytes = draw(st.binary(min_size=1, max_size=8))
        return data + junk
    if how == "random":
        return bytes(draw(st.binary(max_size=64)))
    if how == "deep":
        depth: int = draw(st.integers(min_value=100, max_value=5000))
        closed: int = draw(st.sampled_from((0, depth)))
        return b"[" * depth + b"]" * closed
    return data


# --------------------------------------------------------------------------- state_readings


def _check_readings(readings: list[Any], problems: list[str]) -> None:
    assert all(isinstance(p, str) for p in problems)
    for reading in readings:
        assert reading.address == ADDRESS
        if isinstance(reading, SensorReading):
            assert reading.kind in ZONE_KINDS
            assert isinstance(reading.active, bool)
        else:
            assert isinstance(reading, HealthReading)
            assert reading.battery is None or 0 <= reading.battery <= 100
            assert reading.signal is None or (isinstance(reading.signal, int) and 0 <= reading.signal <= 255)
            for flag in (reading.battery_low, reading.tamper, reading.online):
                assert flag is None or isinstance(flag, bool)


@fuzz_settings(STATE_CASES)
@given(value=json_values | states)
def test_state_readings_never_raise(value: Any) -> None:
    readings, problems = state_readings(ADDRESS, value, 1.0)
    _check_readings(readings, problems)
    if isinstance(value, dict):
        # One HealthReading first (the device was heard from), one SensorReading per boolean channel.
        assert isinstance(readings[0], HealthReading)
        channels = [name for name in STATE_KINDS if isinstance(value.get(name), bool)]
        assert [r.kind for r in readings[1:] if isinstance(r, SensorReading)] == [STATE_KINDS[n][0] for n in channels]
        if isinstance(value.get("contact"), bool):
            contact = next(r for r in readings if isinstance(r, SensorReading) and r.kind == "contact")
            assert contact.active is not value["contact"]  # z2m contact true = closed
    else:
        assert readings == [] and problems


@fuzz_settings(STATE_CASES)
@given(data=st.data(), value=states)
def test_state_payload_bytes_never_raise(data: st.DataObject, value: Any) -> None:
    view = BridgeView()
    payload = _mangled(data.draw, value)
    readings = view.feed(f"zigbee2mqtt/{ADDRESS}", payload, 1.0)
    _check_readings(readings, [])


def test_state_cases_reported(
    record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    report("zigbee2mqtt state", STATE_CASES * 2, record_property, capsys)


# --------------------------------------------------------------------------- availability


@fuzz_settings(AVAILABILITY_CASES)
@given(
    payload=st.binary(max_size=40)
    | st.text(max_size=40)
    | st.sampled_from((b"online", b" offline\n", "online", b'{"state":"online"}', b'{"state":"offline"}'))
    | json_values.map(_encoded)
    | st.dictionaries(st.just("state"), json_values, max_size=1).map(_encoded)
)
def test_availability_never_raises(payload: bytes | str) -> None:
    result = parse_availability(payload)
    assert result is None or isinstance(result, bool)
    text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
    if text.strip() in ("online", '{"state":"online"}', '{"state": "online"}'):
        assert result is True


# --------------------------------------------------------------------------- the bridge


ieee_values = st.sampled_from(IEEES) | st.sampled_from(IEEES).map(str.upper) | json_scalars
definitions = (
    st.none()
    | json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "model": st.sampled_from(("SJCGQ11LM", "HS1SA", "X")) | json_scalars,
            "vendor": json_scalars,
            "exposes": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "property": st.sampled_from(FIELDS) | json_scalars,
                        "name": st.sampled_from(FIELDS) | json_scalars,
                        "features": json_values,
                    },
                )
                | json_values,
                max_size=4,
            )
            | json_values,
        },
    )
)
devices = st.fixed_dictionaries(
    {},
    optional={
        "ieee_address": ieee_values,
        "friendly_name": st.sampled_from(NAMES) | json_scalars,
        "type": st.sampled_from(("Coordinator", "EndDevice", "Router")) | json_scalars,
        "disabled": json_scalars,
        "model_id": json_scalars,
        "definition": definitions,
    },
)
events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(("device_joined", "device_interview", "device_leave", "device_announce"))
        | json_scalars,
    },
    optional={
        "data": st.fixed_dictionaries(
            {},
            optional={
                "ieee_address": ieee_values,
                "friendly_name": st.sampled_from(NAMES) | json_scalars,
                "status": st.sampled_from(("started", "successful", "failed")) | json_scalars,
                "definition": definitions,
            },
        )
        | json_values
    },
)
renames = st.fixed_dictionaries(
    {
        "status": st.sampled_from(("ok", "error")) | json_scalars,
        "data": st.fixed_dictionaries(
            {"from": st.sampled_from(NAMES) | json_scalars, "to": st.sampled_from(NAMES) | json_scalars}
        )
        | json_values,
    }
)


@st.composite
def messages(draw: Callable[[Any], Any]) -> tuple[str, bytes | str]:
    name = draw(st.sampled_from(NAMES) | st.text(max_size=12))
    topic, strategy = draw(
        st.sampled_from(
            (
                ("bridge/devices", st.lists(devices | json_values, max_size=5) | json_values),
                ("bridge/event", events | json_values),
                ("bridge/response/device/rename", renames | json_values),
                ("bridge/response/permit_join", st.fixed_dictionaries({"status": json_scalars, "error": json_values})),
                ("bridge/state", json_values),
                (name, states | json_values),
                (f"{name}/availability", st.dictionaries(st.just("state"), json_values, max_size=1) | json_values),
                (f"{name}/set", json_values),
                (f"{name}/x/y", json_values),
            )
        )
    )
    value = draw(strategy)
    base = draw(st.sampled_from(("zigbee2mqtt/", "zigbee2mqtt", "other/", "")))
    return base + topic, _mangled(draw, value)


@fuzz_settings(BRIDGE_CASES)
@given(sequence=st.lists(messages(), max_size=12), paired=st.sets(st.sampled_from(IEEES)))
def test_bridge_feed_never_raises(sequence: list[tuple[str, bytes | str]], paired: set[str]) -> None:
    view = BridgeView()
    for at, (topic, payload) in enumerate(sequence):
        readings = view.feed(topic, payload, float(at))
        for reading in readings:
            assert isinstance(reading, SensorReading | HealthReading | OutputReading)
            assert reading.address.startswith("0x") and reading.address == reading.address.lower()
            assert math.isfinite(reading.at)
    candidates = view.candidates("zigbee2mqtt", paired)
    for candidate in candidates:
        assert isinstance(candidate, Candidate)
        assert candidate.address not in paired
        assert set(candidate.kinds) <= set(ZONE_KINDS)
        assert candidate.id == f"zigbee2mqtt:{candidate.address}"


def test_bridge_cases_reported(
    record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    report("zigbee2mqtt bridge", BRIDGE_CASES + AVAILABILITY_CASES, record_property, capsys)


# --------------------------------------------------------------------------- outputs

OUTPUT_FIELDS = ("warning", "squawk", "alarm", "state", "mode", "level", "strobe", "duration", "values")
access_values = st.integers(min_value=0, max_value=7) | json_scalars
features = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(("enum", "binary", "numeric", "composite")) | json_scalars,
            "name": st.sampled_from(OUTPUT_FIELDS) | json_scalars,
            "property": st.sampled_from(OUTPUT_FIELDS) | json_scalars,
            "access": access_values,
            "values": st.lists(st.sampled_from(("stop", "burglar", "fire", "emergency")) | json_scalars, max_size=5)
            | json_values,
            "value_on": st.sampled_from(("ON", "OPEN", True)) | json_scalars,
            "value_off": st.sampled_from(("OFF", "CLOSE", False)) | json_scalars,
        },
    )
    | json_values,
    max_size=5,
)
output_exposes = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(("composite", "switch", "binary", "light", "enum")) | json_scalars,
            "name": st.sampled_from(OUTPUT_FIELDS) | json_scalars,
            "property": st.sampled_from(OUTPUT_FIELDS) | json_scalars,
            "access": access_values,
            "value_on": st.sampled_from(("ON", "OPEN", "START", True)) | json_scalars,
            "value_off": st.sampled_from(("OFF", "CLOSE", False)) | json_scalars,
            "features": features | json_values,
        },
    )
    | json_values,
    max_size=6,
)
output_definitions = st.fixed_dictionaries(
    {"exposes": output_exposes | json_values},
    optional={
        "model": st.sampled_from(("SWV", "SIRZB-110", "R7051")) | json_scalars,
        "description": st.sampled_from(("Zigbee smart water valve", "Smart siren", "Smart plug")) | json_scalars,
    },
)
output_states = st.dictionaries(
    st.sampled_from(("alarm", "warning", "state", *STATE_KINDS, *STATE_HEALTH)) | st.text(max_size=8),
    st.sampled_from((True, False, "ON", "OFF", "OPEN", "CLOSE", "START", "TOGGLE", {"mode": "stop"}))
    | st.fixed_dictionaries({}, optional={"mode": json_scalars})
    | json_values,
    max_size=6,
)
commands = st.builds(
    Command,
    action=st.sampled_from(ACTIONS),
    seconds=st.none() | st.floats(min_value=0, max_value=86_400),
    level=st.sampled_from(("low", "medium", "high", "very_high")),
    strobe=st.booleans(),
)
traits = st.builds(
    OutputTraits,
    siren=st.booleans(),
    squawk=st.booleans(),
    modes=st.lists(st.sampled_from(("stop", "burglar", "fire", "emergency")) | st.text(max_size=8)).map(tuple),
    reports_alarm=st.booleans(),
    relay=st.booleans(),
    value_on=st.text(min_size=1, max_size=6),
    value_off=st.text(min_size=1, max_size=6),
    valve_likely=st.booleans(),
)


@fuzz_settings(OUTPUT_CASES)
@given(definition=output_definitions | definitions, state=output_states | json_values, invert=st.booleans())
def test_output_parsing_never_raises(definition: Any, state: Any, invert: bool) -> None:
    found = output_traits(definition)
    assert set(found.kinds) <= set(OUTPUT_KINDS)
    assert len(found.kinds) == len(set(found.kinds))
    for kind in ("valve", "switch"):
        readings = output_readings(ADDRESS, state, 1.0, found, relay_kind=kind, invert=invert)  # type: ignore[arg-type]
        for reading in readings:
            assert isinstance(reading, OutputReading) and reading.address == ADDRESS
            assert reading.status in OUTPUT_STATUSES
            assert reading.status in (("sounding", "silent") if not found.relay else OUTPUT_STATUSES)


@fuzz_settings(OUTPUT_CASES)
@given(device=traits, command=commands, invert=st.booleans())
def test_command_payload_is_json_or_a_refusal(device: OutputTraits, command: Command, invert: bool) -> None:
    try:
        payload = command_payload(device, command, invert=invert)
    except ValueError:
        return
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    (key,) = payload
    assert key in ("warning", "squawk", "state")
    if key == "warning" and payload["warning"]["mode"] != "stop":
        assert 1 <= payload["warning"]["duration"] <= 65_535


@st.composite
def output_messages(draw: Callable[[Any], Any]) -> tuple[str, bytes | str]:
    ieee = draw(st.sampled_from(IEEES))
    listed = {
        "ieee_address": ieee,
        "friendly_name": draw(st.sampled_from(NAMES)),
        "definition": draw(output_definitions),
    }
    topic, value = draw(
        st.sampled_from(
            (
                ("bridge/devices", st.lists(st.just(listed) | devices, max_size=3)),
                ("bridge/event", st.just({"type": "device_interview", "data": {**listed, "status": "successful"}})),
                (draw(st.sampled_from(NAMES)), output_states),
                (ieee, output_states),
                (f"{ieee}/availability", st.sampled_from(({"state": "offline"}, {"state": "online"}))),
            )
        )
    )
    return f"zigbee2mqtt/{topic}", _mangled(draw, draw(value))


@fuzz_settings(OUTPUT_CASES)
@given(
    sequence=st.lists(output_messages(), max_size=10),
    invert=st.sets(st.sampled_from(IEEES)),
    kind=st.sampled_from((None, *OUTPUT_KINDS)),
    asks=st.lists(st.tuples(st.sampled_from(IEEES), commands), max_size=4),
)
def test_output_devices_never_crash_the_bridge(
    sequence: list[tuple[str, bytes | str]], invert: set[str], kind: Any, asks: list[tuple[str, Command]]
) -> None:
    view = BridgeView(invert=invert, output_kind=lambda address: kind)
    for at, (topic, payload) in enumerate(sequence):
        for reading in view.feed(topic, payload, float(at)):
            assert isinstance(reading, SensorReading | HealthReading | OutputReading)
            if isinstance(reading, OutputReading):
                assert reading.status in OUTPUT_STATUSES
    for address, command in asks:
        try:
            topic, payload, assumed = view.command(address, command)
        except DriverError:
            continue
        assert topic.startswith("zigbee2mqtt/") and topic.endswith("/set")
        json.dumps(payload, allow_nan=False)
        assert assumed is None or assumed in ("sounding", "silent")
    for candidate in view.candidates("zigbee2mqtt", set()):
        assert set(candidate.outputs) <= set(OUTPUT_KINDS)


def test_output_cases_reported(
    record_property: Callable[[str, object], None], capsys: pytest.CaptureFixture[str]
) -> None:
    report("zigbee2mqtt outputs", OUTPUT_CASES * 3, record_property, capsys)
