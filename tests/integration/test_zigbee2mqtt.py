"""The zigbee2mqtt driver against a real Mosquitto broker on loopback (tests.peers.mosquitto).

The test plays zigbee2mqtt: it publishes, with the real aiomqtt client, payloads recorded from
real devices (Aqara SJCGQ11LM water leak, Heiman HS1SA smoke, Aqara RTCGQ11LM motion, Aqara
MCCGQ11LM door contact), the retained device list, availability, bridge events; it receives
the driver's permit_join request; it kills and restarts the broker under the driver.

mosquitto missing: a failure under CI=true, a one-line skip ("apt-get install mosquitto") otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from drivers.base import Candidate, DriverContext, DriverError, HealthReading, Reading, SensorReading
from drivers.registry import load_driver
from drivers.zigbee2mqtt import DEFAULT_EXPECTED_INTERVAL, Zigbee2MqttDriver
from hub.config import Secret
from tests.peers import free_port, wait_until
from tests.peers.mosquitto import Mosquitto

BASE = "zigbee2mqtt"
NOW = 1_750_000_000.0

WATER = "0x00158d0001a2b3c4"
SMOKE = "0x000d6f0011d4e5f6"
MOTION = "0x00158d0002c3d4e5"
DOOR = "0x00158d0003d4e5f6"
COORDINATOR = "0x00124b0018e2a1b0"
BULB = "0x0017880104a1b2c3"
NEWCOMER = "0x00158d0004e5f6a7"

# State payloads recorded from real devices.
WATER_STATE = {
    "battery": 100,
    "battery_low": False,
    "device_temperature": 30,
    "linkquality": 132,
    "power_outage_count": 4,
    "voltage": 3025,
    "water_leak": True,
}
SMOKE_STATE = {"battery": 100, "battery_low": False, "linkquality": 90, "smoke": True, "tamper": False}
MOTION_STATE = {
    "battery": 100,
    "illuminance": 12,
    "illuminance_lux": 12,
    "linkquality": 120,
    "occupancy": True,
    "voltage": 3005,
}
DOOR_STATE = {"battery": 100, "contact": False, "linkquality": 115, "voltage": 3025}


def _binary(name: str) -> dict[str, Any]:
    return {"access": 1, "name": name, "property": name, "type": "binary", "value_off": False, "value_on": True}


def _numeric(name: str, unit: str = "") -> dict[str, Any]:
    return {"access": 1, "name": name, "property": name, "type": "numeric", "unit": unit}


def _device(
    ieee: str, name: str, model: str, vendor: str, exposes: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "ieee_address": ieee,
        "friendly_name": name,
        "type": "EndDevice",
        "power_source": "Battery",
        "interview_completed": True,
        "supported": True,
        "disabled": False,
        "model_id": extra.pop("model_id", model),
        "definition": {"model": model, "vendor": vendor, "description": "", "exposes": exposes, "options": []},
        **extra,
    }


def device_list(names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The bridge/devices of a test network; `names` renames devices (IEEE -> friendly name)."""
    names = names or {}
    battery = [_numeric("battery", "%"), _binary("battery_low"), _numeric("linkquality", "lqi")]
    return [
        {
            "ieee_address": COORDINATOR,
            "friendly_name": "Coordinator",
            "type": "Coordinator",
            "definition": None,
            "disabled": False,
        },
        _device(WATER, names.get(WATER, "Cucina acqua"), "SJCGQ11LM", "Aqara", [_binary("water_leak"), *battery]),
        _device(SMOKE, names.get(SMOKE, "Corridoio fumo"), "HS1SA", "HEIMAN", [_binary("smoke"), *battery]),
        # No exposes (an older z2m): the kind comes from the model table.
        _device(MOTION, names.get(MOTION, "Soggiorno movimento"), "RTCGQ11LM", "Aqara", []),
        _device(DOOR, names.get(DOOR, "Porta ingresso"), "MCCGQ11LM", "Aqara", [_binary("contact"), *battery]),
        _device(
            BULB,
            names.get(BULB, "Lampada"),
            "9290012573A",
            "Philips",
            [{"type": "light", "features": [{"name": "state", "property": "state", "type": "binary"}]}],
            type="Router",
            power_source="Mains (single phase)",
        ),
    ]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path / "mosquitto")
    await mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.kill()


@asynccontextmanager
async def publisher(broker: Mosquitto, **credentials: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(broker.host, broker.port, **credentials) as client:  # type: ignore[arg-type]
        yield client


async def publish(client: aiomqtt.Client, topic: str, payload: Any, *, retain: bool = False) -> None:
    data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    await client.publish(f"{BASE}/{topic}", data, qos=1, retain=retain)


class Running:
    """A driver inside its `async with`, with its readings collected in `readings`."""

    def __init__(self, driver: Zigbee2MqttDriver) -> None:
        self.driver = driver
        self.readings: list[Reading] = []

    def of(self, address: str, cls: type[Reading] | None = None) -> list[Reading]:
        return [r for r in self.readings if r.address == address and (cls is None or isinstance(r, cls))]

    def sensor(self, address: str) -> list[SensorReading]:
        return [r for r in self.readings if isinstance(r, SensorReading) and r.address == address]

    def health(self, address: str) -> list[HealthReading]:
        return [r for r in self.readings if isinstance(r, HealthReading) and r.address == address]

    async def wait(self, condition: Callable[[], object], what: str) -> None:
        await wait_until(condition, 10, what)


def make_driver(broker: Mosquitto, paired: set[str] | None = None, **options: Any) -> Zigbee2MqttDriver:
    context = DriverContext(clock=lambda: NOW, paired=lambda: set(paired or ()))
    driver = Zigbee2MqttDriver({"host": broker.host, "port": broker.port, **options}, context)
    driver.reconnect_initial = 0.05  # the tests restart the broker: reconnect quickly
    driver.reconnect_max = 0.5
    return driver


@asynccontextmanager
async def running(driver: Zigbee2MqttDriver, *, wait_connected: bool = True) -> AsyncIterator[Running]:
    run = Running(driver)

    async def collect() -> None:
        async for reading in driver.readings():
            run.readings.append(reading)

    async with driver:
        task = asyncio.create_task(collect())
        if wait_connected:
            await run.wait(lambda: driver.connected, "the driver to connect")
        yield run
    await asyncio.wait_for(task, 5)  # readings() ends when the driver stops


# --------------------------------------------------------------------------- state and availability


async def test_recorded_device_payloads_become_readings(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m:
        await publish(z2m, "bridge/devices", device_list(), retain=True)
        async with running(make_driver(broker)) as run:
            await run.wait(lambda: run.driver.friendly_name(WATER) == "Cucina acqua", "the retained device list")
            await publish(z2m, "Cucina acqua", WATER_STATE)
            await publish(z2m, "Corridoio fumo", SMOKE_STATE)
            await publish(z2m, "Soggiorno movimento", MOTION_STATE)
            await publish(z2m, "Porta ingresso", DOOR_STATE)
            await run.wait(lambda: run.sensor(DOOR), "the door reading")

    assert run.sensor(WATER) == [SensorReading(address=WATER, kind="water", active=True, at=NOW)]
    assert run.sensor(SMOKE) == [SensorReading(address=SMOKE, kind="smoke", active=True, at=NOW)]
    assert run.sensor(MOTION) == [SensorReading(address=MOTION, kind="motion", active=True, at=NOW)]
    # z2m `contact: false` = the magnet is away = the door is open: the contact channel is active.
    assert run.sensor(DOOR) == [SensorReading(address=DOOR, kind="contact", active=True, at=NOW)]
    assert run.health(WATER) == [HealthReading(address=WATER, at=NOW, battery=100.0, battery_low=False, signal=132)]
    assert run.health(SMOKE) == [
        HealthReading(address=SMOKE, at=NOW, battery=100.0, battery_low=False, signal=90, tamper=False)
    ]
    assert run.health(MOTION) == [HealthReading(address=MOTION, at=NOW, battery=100.0, signal=120)]
    assert run.health(DOOR) == [HealthReading(address=DOOR, at=NOW, battery=100.0, signal=115)]


async def test_contact_true_is_closed_and_restores(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m:
        await publish(z2m, "bridge/devices", device_list(), retain=True)
        async with running(make_driver(broker)) as run:
            await run.wait(lambda: run.driver.friendly_name(DOOR), "the retained device list")
            for state in (DOOR_STATE, {**DOOR_STATE, "contact": True}, {"water_leak": False, "linkquality": 1}):
                await publish(z2m, "Porta ingresso", state)
            await publish(z2m, "Cucina acqua", {**WATER_STATE, "water_leak": False})
            await run.wait(lambda: run.sensor(WATER), "the water restore")
    assert [r.active for r in run.sensor(DOOR) if r.kind == "contact"] == [True, False]
    assert run.sensor(WATER) == [SensorReading(address=WATER, kind="water", active=False, at=NOW)]


async def test_availability_json_and_legacy(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m:
        await publish(z2m, "bridge/devices", device_list(), retain=True)
        async with running(make_driver(broker)) as run:
            await run.wait(lambda: run.driver.friendly_name(SMOKE), "the retained device list")
            await publish(z2m, "Corridoio fumo/availability", {"state": "offline"})
            await publish(z2m, "Corridoio fumo/availability", {"state": "online"})
            await publish(z2m, "Cucina acqua/availability", "offline")  # z2m < 1.22: plain text
            await publish(z2m, "Cucina acqua/availability", "online")
            await run.wait(lambda: len(run.health(WATER)) == 2, "legacy availability")
    assert [r.online for r in run.health(SMOKE)] == [False, True]
    assert run.health(WATER) == [
        HealthReading(address=WATER, at=NOW, online=False),
        HealthReading(address=WATER, at=NOW, online=True),
    ]


async def test_device_named_by_its_ieee_address_needs_no_device_list(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m, running(make_driver(broker)) as run:
        await publish(z2m, WATER, WATER_STATE)  # z2m's default friendly name is the IEEE address
        await publish(z2m, f"{SMOKE}/availability", {"state": "online"})
        await run.wait(lambda: run.sensor(WATER) and run.health(SMOKE), "readings by IEEE address")
    assert run.health(SMOKE) == [HealthReading(address=SMOKE, at=NOW, online=True)]


async def test_commands_and_unrelated_topics_give_nothing(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m:
        await publish(z2m, "bridge/devices", device_list(), retain=True)
        async with running(make_driver(broker)) as run:
            await run.wait(lambda: run.driver.friendly_name(WATER), "the retained device list")
            await publish(z2m, "Lampada/set", {"state": "ON"})
            await publish(z2m, "Cucina acqua/get", {"water_leak": ""})
            await publish(z2m, "bridge/state", {"state": "online"})
            await publish(z2m, "bridge/info", {"version": "2.1.0"})
            await publish(z2m, "bridge/logging", {"level": "info", "message": "x"})
            await z2m.publish("other/Cucina acqua", json.dumps(WATER_STATE))
            await publish(z2m, "Cucina acqua", {"linkquality": 7})  # a marker: everything before it is handled
            await run.wait(lambda: run.readings, "the marker")
    assert run.readings == [HealthReading(address=WATER, at=NOW, signal=7)]


# --------------------------------------------------------------------------- names


async def test_rename_keeps_the_ieee_address(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m:
        await publish(z2m, "bridge/devices", device_list(), retain=True)
        async with running(make_driver(broker)) as run:
            await run.wait(lambda: run.driver.friendly_name(WATER) == "Cucina acqua", "the retained device list")
            # What z2m does on a rename: answers the request, then republishes the device list.
            await publish(
                z2m,
                "bridge/response/device/rename",
                {"data": {"from": "Cucina acqua", "to": "Lavello"}, "status": "ok"},
            )
            await run.wait(lambda: run.driver.friendly_name(WATER) == "Lavello", "the rename response")
            await publish(z2m, "bridge/devices", device_list({WATER: "Bagno/lavatrice"}), retain=True)
            await run.wait(lambda: run.driver.friendly_name(WATER) == "Bagno/lavatrice", "the new device list")
            await publish(z2m, "Bagno/lavatrice", WATER_STATE)
            await publish(z2m, "Bagno/lavatrice/availability", {"state": "offline"})
            await run.wait(lambda: len(run.health(WATER)) == 2, "readings under the new name")
            await publish(z2m, "Cucina acqua", {**WATER_STATE, "water_leak": False})  # the old name: not ours any more
            await publish(z2m, "Bagno/lavatrice", {"linkquality": 3})
            await run.wait(lambda: len(run.health(WATER)) == 3, "the marker")
    assert run.sensor(WATER) == [SensorReading(address=WATER, kind="water", active=True, at=NOW)]
    assert run.health(WATER)[1:] == [
        HealthReading(address=WATER, at=NOW, online=False),
        HealthReading(address=WATER, at=NOW, signal=3),
    ]


async def test_state_before_the_device_list_is_replayed_once_named(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m, running(make_driver(broker)) as run:
        await publish(z2m, "Porta ingresso", DOOR_STATE)
        await publish(z2m, "Porta ingresso/availability", {"state": "online"})
        await asyncio.sleep(0.2)
        assert run.readings == []
        await publish(z2m, "bridge/devices", device_list())
        await run.wait(lambda: len(run.of(DOOR)) == 3, "the held readings")
    assert run.sensor(DOOR) == [SensorReading(address=DOOR, kind="contact", active=True, at=NOW)]
    assert HealthReading(address=DOOR, at=NOW, online=True) in run.health(DOOR)


# --------------------------------------------------------------------------- pairing


def _by_address(candidates: list[Candidate]) -> dict[str, Candidate]:
    return {c.address: c for c in candidates}


async def test_candidates_from_the_device_list_and_bridge_events(broker: Mosquitto) -> None:
    async with publisher(broker) as z2m:
        await publish(z2m, "bridge/devices", device_list(), retain=True)
        async with running(make_driver(broker, paired={WATER})) as run:
            driver = run.driver
            await run.wait(lambda: driver.friendly_name(DOOR), "the retained device list")
            await publish(z2m, "Porta ingresso", DOOR_STATE)
            await run.wait(lambda: run.sensor(DOOR), "the door state")
            found = _by_address(await driver.candidates())
            # Not the paired water sensor, not the coordinator, not a bulb.
            assert set(found) == {SMOKE, MOTION, DOOR}
            assert found[SMOKE] == Candidate(
                id=f"zigbee2mqtt:{SMOKE}", driver="zigbee2mqtt", address=SMOKE, model="HS1SA", kinds=("smoke",)
            )
            assert found[MOTION].kinds == ("motion",)  # from the model table: no exposes
            assert (found[DOOR].kinds, found[DOOR].battery, found[DOOR].signal) == (("contact",), 100.0, 115)

            await publish(
                z2m,
                "bridge/event",
                {"type": "device_joined", "data": {"friendly_name": NEWCOMER, "ieee_address": NEWCOMER}},
            )
            await run.wait(lambda: NEWCOMER in _by_address(candidates_now(driver)), "the joined device")
            joined = _by_address(await driver.candidates())[NEWCOMER]
            assert (joined.model, joined.kinds) == ("unknown", ())

            interview = {
                "type": "device_interview",
                "data": {
                    "friendly_name": NEWCOMER,
                    "ieee_address": NEWCOMER,
                    "status": "successful",
                    "supported": True,
                    "definition": {
                        "model": "SJCGQ11LM",
                        "vendor": "Aqara",
                        "description": "Water leak sensor",
                        "exposes": [_binary("water_leak"), _numeric("battery", "%")],
                    },
                },
            }
            await publish(z2m, "bridge/event", interview)
            await run.wait(lambda: _by_address(candidates_now(driver))[NEWCOMER].kinds == ("water",), "the interview")
            assert _by_address(await driver.candidates())[NEWCOMER].model == "SJCGQ11LM"

            await publish(z2m, NEWCOMER, {**WATER_STATE, "linkquality": 77})
            await run.wait(lambda: _by_address(candidates_now(driver))[NEWCOMER].signal == 77, "the newcomer's state")

            await publish(
                z2m,
                "bridge/event",
                {"type": "device_leave", "data": {"ieee_address": NEWCOMER, "friendly_name": NEWCOMER}},
            )
            await run.wait(lambda: NEWCOMER not in _by_address(candidates_now(driver)), "the device leaving")

            # Removed from the network: gone from the next device list.
            await publish(z2m, "bridge/devices", [d for d in device_list() if d["ieee_address"] != SMOKE], retain=True)
            await run.wait(lambda: SMOKE not in _by_address(candidates_now(driver)), "the removed device")


def candidates_now(driver: Zigbee2MqttDriver) -> list[Candidate]:
    """`await driver.candidates()` from a sync predicate: it does not await anything."""
    coro = driver.candidates()
    try:
        coro.send(None)
    except StopIteration as done:
        return list(done.value)
    raise AssertionError("candidates() awaited something")  # pragma: no cover


async def test_scan_publishes_permit_join(broker: Mosquitto) -> None:
    requests: list[Any] = []
    async with publisher(broker) as listener:
        await listener.subscribe(f"{BASE}/bridge/request/permit_join", qos=1)

        async def listen() -> None:
            async for message in listener.messages:
                requests.append(json.loads(message.payload))

        task = asyncio.create_task(listen())
        try:
            async with running(make_driver(broker)) as run:
                await run.driver.scan(120)
                await run.driver.scan(3600)  # z2m accepts at most 254 s
                await run.driver.scan(0)  # closes joining
                await wait_until(lambda: len(requests) == 3, 10, "three permit_join requests")
        finally:
            task.cancel()
    assert requests == [{"time": 120}, {"time": 254}, {"time": 0}]


async def test_scan_without_a_broker_is_a_driver_error() -> None:
    driver = Zigbee2MqttDriver({"host": "127.0.0.1", "port": free_port()}, DriverContext())
    async with driver:
        with pytest.raises(DriverError, match="not connected to the MQTT broker"):
            await driver.scan(60)


# --------------------------------------------------------------------------- the connection


async def test_broker_restart_reconnects_and_readings_go_on(broker: Mosquitto) -> None:
    async with running(make_driver(broker)) as run:
        async with publisher(broker) as z2m:
            await publish(z2m, "bridge/devices", device_list(), retain=True)
            await run.wait(lambda: run.driver.friendly_name(SMOKE), "the device list")
            await publish(z2m, "Corridoio fumo", SMOKE_STATE)
            await run.wait(lambda: run.sensor(SMOKE), "a reading before the restart")

        broker.kill()
        await run.wait(lambda: not run.driver.connected, "the driver to notice the broker is gone")
        await asyncio.sleep(0.3)  # a few failed reconnection attempts
        await broker.start()
        await run.wait(lambda: run.driver.connected and run.driver.connections == 2, "the driver to reconnect")

        async with publisher(broker) as z2m:
            # The restarted broker has lost its retained messages (no persistence): z2m republishes.
            await publish(z2m, "bridge/devices", device_list({SMOKE: "Corridoio"}), retain=True)
            await run.wait(lambda: run.driver.friendly_name(SMOKE) == "Corridoio", "the device list again")
            await publish(z2m, "Corridoio", {**SMOKE_STATE, "smoke": False})
            await run.wait(lambda: len(run.sensor(SMOKE)) == 2, "a reading after the restart")
    assert [r.active for r in run.sensor(SMOKE)] == [True, False]


async def test_driver_started_before_the_broker_connects_when_it_comes(tmp_path: Path) -> None:
    late = Mosquitto(tmp_path / "late")
    driver = make_driver(late)
    try:
        async with running(driver, wait_connected=False) as run:
            await asyncio.sleep(0.3)
            assert not driver.connected
            await late.start()
            await run.wait(lambda: driver.connected, "the driver to connect to the late broker")
            async with publisher(late) as z2m:
                await publish(z2m, DOOR, {**DOOR_STATE, "contact": True})
                await run.wait(lambda: run.sensor(DOOR), "a reading")
    finally:
        late.kill()
    assert run.sensor(DOOR) == [SensorReading(address=DOOR, kind="contact", active=False, at=NOW)]


async def test_username_and_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secured = Mosquitto(tmp_path / "auth", users={"casahub": "s3cret-pw", "zigbee2mqtt": "z2m-pw"})
    await secured.start()
    try:
        async with running(make_driver(secured, username="casahub", password="s3cret-pw")) as run:
            async with publisher(secured, username="zigbee2mqtt", password="z2m-pw") as z2m:
                await publish(z2m, WATER, WATER_STATE)
                await run.wait(lambda: run.sensor(WATER), "a reading over an authenticated link")

        caplog.set_level(logging.DEBUG, logger="drivers.zigbee2mqtt")
        refused = make_driver(secured, username="casahub", password="wrong")
        async with running(refused, wait_connected=False):
            await wait_until(lambda: "unreachable or lost" in caplog.text, 10, "the refusal to be logged")
            await asyncio.sleep(0.3)
            assert not refused.connected
            with pytest.raises(DriverError, match="not connected"):
                await refused.scan(30)
        assert "wrong" not in caplog.text  # the password never reaches the log
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "unreachable" in r.message]
        assert len(warnings) == 1  # then at debug while it keeps retrying
    finally:
        secured.kill()


# --------------------------------------------------------------------------- bad input


async def test_malformed_payloads_are_logged_once_and_later_messages_still_count(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="drivers.zigbee2mqtt")
    async with publisher(broker) as z2m:
        await publish(z2m, "bridge/devices", device_list(), retain=True)
        async with running(make_driver(broker)) as run:
            await run.wait(lambda: run.driver.friendly_name(WATER), "the device list")
            for bad in (b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"42", b"null", b'"water"', b"NaN"):
                await publish(z2m, "Cucina acqua", bad)
            await publish(z2m, "Cucina acqua", {"water_leak": "yes", "battery": "full", "linkquality": -5, "tamper": 1})
            await publish(z2m, "Cucina acqua", {"water_leak": True, "battery": 250, "linkquality": 40})
            await publish(z2m, "Cucina acqua/availability", b"maybe")
            await publish(z2m, "Cucina acqua/availability", {"state": 1})
            # Bridge topics with the wrong shapes.
            await publish(z2m, "bridge/event", b"{")
            await publish(z2m, "bridge/event", {"type": "device_joined", "data": "nope"})
            await publish(z2m, "bridge/event", {"type": "device_joined", "data": {"ieee_address": 12}})
            await publish(z2m, "bridge/devices", {"not": "a list"})
            await publish(z2m, "bridge/response/device/rename", {"data": {"from": 3, "to": None}, "status": "ok"})
            await publish(z2m, "bridge/devices", [1, None, {"ieee_address": "nope"}, *device_list()])
            # And then good messages: still handled.
            await publish(z2m, "Cucina acqua", WATER_STATE)
            await publish(z2m, "Corridoio fumo", SMOKE_STATE)
            await run.wait(lambda: run.sensor(SMOKE) and len(run.sensor(WATER)) == 2, "the good messages")
            assert run.driver.connected
            assert run.driver.friendly_name(WATER) == "Cucina acqua"

    assert [r.active for r in run.sensor(WATER)] == [True, True]
    assert run.health(WATER) == [
        HealthReading(address=WATER, at=NOW),  # heard from, nothing usable
        HealthReading(address=WATER, at=NOW, signal=40),  # battery 250 left out
        HealthReading(address=WATER, at=NOW, battery=100.0, battery_low=False, signal=132),
    ]
    about_water = [r for r in caplog.records if WATER in r.getMessage()]
    assert len(about_water) == 1, [r.getMessage() for r in about_water]  # once per device
    assert about_water[0].levelno == logging.WARNING
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --------------------------------------------------------------------------- options


def test_registered_under_its_type() -> None:
    assert load_driver("zigbee2mqtt") is Zigbee2MqttDriver
    assert Zigbee2MqttDriver.type == "zigbee2mqtt"


def test_options_defaults_and_overrides() -> None:
    driver = Zigbee2MqttDriver({"type": "zigbee2mqtt", "host": "mqtt.local"}, DriverContext())
    assert (driver.options.port, driver.options.base_topic) == (1883, "zigbee2mqtt")
    assert driver.expected_interval(WATER) == DEFAULT_EXPECTED_INTERVAL == 3600
    assert driver.fixed_devices() == []
    driver = Zigbee2MqttDriver(
        {
            "host": "10.0.0.2",
            "port": 8883,
            "base_topic": "z2m/house/",
            "username": "casahub",
            "password": "plain-string",
            "expected_interval": 90000,
        },
        DriverContext(),
    )
    assert driver.options.base_topic == "z2m/house"
    assert driver.options.password == "plain-string"
    assert "plain-string" not in repr(driver.options)
    assert driver.expected_interval(SMOKE) == 90000.0
    secret = Zigbee2MqttDriver({"host": "h", "username": "u", "password": Secret("from-a-file")}, DriverContext())
    assert secret.options.password == "from-a-file"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"host": "h", "keepalive": 5}, "'keepalive'"),
        ({"host": "h", "type": "nut"}, "type"),
        ({}, "'host'"),
        ({"host": ""}, "'host'"),
        ({"host": "h", "port": "1883"}, "'port'"),
        ({"host": "h", "port": 70000}, "'port'"),
        ({"host": "h", "port": True}, "'port'"),
        ({"host": "h", "base_topic": "z2m/#"}, "'base_topic'"),
        ({"host": "h", "password": "pw"}, "'password' needs 'username'"),
        ({"host": "h", "username": "u", "password": 42}, "'password'"),
        ({"host": "h", "expected_interval": 0}, "'expected_interval'"),
        ({"host": "h", "expected_interval": float("inf")}, "'expected_interval'"),
        ({"host": "h", "expected_interval": "1h"}, "'expected_interval'"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, Any], named: str) -> None:
    with pytest.raises(DriverError, match=re.escape(named)) as caught:
        Zigbee2MqttDriver(options, DriverContext())
    if options.get("password") == 42:
        assert "42" not in str(caught.value)  # never echo a password
