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
  each sequence `candidates()` must answer too.
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
from drivers.base import Candidate, HealthReading, SensorReading
from drivers.zigbee2mqtt import STATE_HEALTH, STATE_KINDS, BridgeView, parse_availability, state_readings
from tests.reliability.fuzz_helpers import fuzz_settings, report

STATE_CASES = 600
AVAILABILITY_CASES = 300
BRIDGE_CASES = 300
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
            assert isinstance(reading, SensorReading | HealthReading)
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
