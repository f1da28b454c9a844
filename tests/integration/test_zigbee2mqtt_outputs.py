"""The zigbee2mqtt driver's outputs (sirens, valves, relays) against a real Mosquitto broker.

The test plays zigbee2mqtt as tests/integration/test_zigbee2mqtt.py does: it publishes a
retained device list whose exposes are shaped as zigbee-herdsman-converters builds them
(src/lib/exposes.ts: `e.warning()`, `e.squawk()`, `e.switch()`, `e.valve_switch()`, for the
Develco SIRZB-110, Woox R7051 and Heiman HS2WD-E sirens, the SONOFF SWV and Sinopé VA4220ZB
valves and a TuYa plug), subscribes to `zigbee2mqtt/+/set` with a real aiomqtt client to see
exactly what the driver asks, and publishes the devices' state messages back.

mosquitto missing: a failure under CI=true, a one-line skip ("apt-get install mosquitto") otherwise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from alarms.outputs import Command, OutputKind
from drivers.base import DriverContext, DriverError, HealthReading, OutputReading, Reading
from drivers.capabilities import OutputDriver
from drivers.nut import NutDriver
from drivers.zigbee2mqtt import Zigbee2MqttDriver
from tests.peers import free_port, wait_until
from tests.peers.mosquitto import Mosquitto

BASE = "zigbee2mqtt"
NOW = 1_750_000_000.0

DEVELCO = "0x0015bc001e00a1b2"  # siren with squawk; publishes `alarm` from its IAS zone, not exposed as state
WOOX = "0xa4c138f1e2d3c4b5"  # siren that publishes `alarm`; no squawk
HEIMAN = "0x00124b0029a8b7c6"  # siren with two modes only (stop, emergency)
SWV = "0x00124b002d1e2f30"  # SONOFF water valve (a `switch` expose)
SINOPE = "0x500b91400001a2b3"  # Sinopé valve (a top-level `state` binary, OPEN/CLOSE)
PLUG = "0xa4c1380a0b0c0d0e"  # a TuYa plug: a relay
BULB = "0x0017880104a1b2c3"  # a light: its `state` is a light's, not an output

NAMES = {
    DEVELCO: "Sirena ingresso",
    WOOX: "Sirena esterna",
    HEIMAN: "Sirena garage",
    SWV: "Valvola cucina",
    SINOPE: "Valvola bagno",
    PLUG: "Campanello",
    BULB: "Lampada",
}

ALL, STATE, SET, STATE_SET = 7, 1, 2, 3  # exposes access bits


def _enum(name: str, access: int, values: list[str], description: str = "") -> dict[str, Any]:
    return {
        "type": "enum",
        "name": name,
        "label": name.capitalize(),
        "access": access,
        "property": name,
        "values": values,
        "description": description,
    }


def _binary(name: str, access: int, on: Any, off: Any, description: str = "") -> dict[str, Any]:
    item = {"type": "binary", "name": name, "label": name.capitalize(), "access": access, "property": name}
    return {**item, "value_on": on, "value_off": off, "description": description}


def _numeric(name: str, access: int, unit: str = "") -> dict[str, Any]:
    item = {"type": "numeric", "name": name, "label": name.capitalize(), "access": access, "property": name}
    return {**item, "unit": unit} if unit else item


LEVELS = ["low", "medium", "high", "very_high"]
MODES = ["stop", "burglar", "fire", "emergency", "police_panic", "fire_panic", "emergency_panic"]


def warning(modes: list[str] = MODES, *, level: bool = True, strobe: bool = True) -> dict[str, Any]:
    """e.warning(), with features removed as definitions do."""
    features = [_enum("mode", SET, modes, "Mode of the warning (sound effect)")]
    if level:
        features.append(_enum("level", SET, LEVELS, "Sound level"))
        features.append(_enum("strobe_level", SET, LEVELS, "Intensity of the strobe"))
    if strobe:
        features.append(_binary("strobe", SET, True, False, "Turn on/off the strobe (light) during warning"))
        features.append(_numeric("strobe_duty_cycle", SET))
    features.append(_numeric("duration", SET, "s"))
    return {
        "type": "composite",
        "name": "warning",
        "label": "Warning",
        "property": "warning",
        "access": SET,
        "features": features,
    }


def squawk() -> dict[str, Any]:
    return {
        "type": "composite",
        "name": "squawk",
        "label": "Squawk",
        "property": "squawk",
        "access": SET,
        "features": [
            _enum("state", SET, ["system_is_armed", "system_is_disarmed"], "Set Squawk state"),
            _enum("level", SET, LEVELS, "Sound level"),
            _binary("strobe", SET, True, False, "Turn on/off the strobe (light) for Squawk"),
        ],
    }


def switch() -> dict[str, Any]:
    """e.switch(): what m.onOff() exposes (plugs, relays, the SONOFF SWV)."""
    state = _binary("state", ALL, "ON", "OFF", "On/off state of the switch")
    return {"type": "switch", "features": [{**state, "value_toggle": "TOGGLE"}]}


def light() -> dict[str, Any]:
    state = _binary("state", ALL, "ON", "OFF", "On/off state of this light")
    return {"type": "light", "features": [{**state, "value_toggle": "TOGGLE"}, _numeric("brightness", ALL)]}


BATTERY = [_numeric("battery", STATE, "%"), _numeric("linkquality", STATE, "lqi")]


def _device(ieee: str, model: str, vendor: str, description: str, exposes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ieee_address": ieee,
        "friendly_name": NAMES[ieee],
        "type": "Router",
        "power_source": "Mains (single phase)",
        "interview_completed": True,
        "supported": True,
        "disabled": False,
        "model_id": model,
        "definition": {
            "model": model,
            "vendor": vendor,
            "description": description,
            "exposes": exposes,
            "options": [],
        },
    }


def device_list() -> list[dict[str, Any]]:
    return [
        {
            "ieee_address": "0x00124b0018e2a1b0",
            "friendly_name": "Coordinator",
            "type": "Coordinator",
            "definition": None,
        },
        _device(
            DEVELCO,
            "SIRZB-110",
            "Develco",
            "Customizable siren",
            [
                _binary("battery_low", STATE, True, False),
                _binary("test", STATE, True, False),
                warning(),
                squawk(),
                _binary("alarm", SET, "START", "OFF", "Manual start of the siren"),
            ],
        ),
        _device(
            WOOX,
            "R7051",
            "Woox",
            "Smart siren",
            [*BATTERY, warning(), _binary("alarm", STATE, True, False), _numeric("volume", ALL)],
        ),
        _device(
            HEIMAN,
            "HS2WD-E",
            "Heiman",
            "Smart siren",
            [_numeric("battery", STATE, "%"), warning(["stop", "emergency"], level=False)],
        ),
        _device(
            SWV,
            "SWV",
            "SONOFF",
            "Zigbee smart water valve",
            [_numeric("flow", STATE, "m³/h"), *BATTERY, switch()],
        ),
        _device(
            SINOPE,
            "VA4220ZB",
            "Sinopé",
            "Sedna smart water valve",
            [
                _binary("state", ALL, "OPEN", "CLOSE", "Valve state if open or closed"),
                _numeric("position", STATE, "%"),
                _binary("battery_low", STATE, True, False),
                _numeric("battery", STATE, "%"),
            ],
        ),
        _device(
            PLUG, "TS011F_plug_1", "Tuya", "Smart plug (with power monitoring)", [switch(), _numeric("power", STATE)]
        ),
        _device(BULB, "9290012573A", "Philips", "Hue white and color ambiance E26/E27", [light()]),
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


async def publish(client: aiomqtt.Client, topic: str, payload: Any, *, retain: bool = False) -> None:
    await client.publish(f"{BASE}/{topic}", json.dumps(payload), qos=1, retain=retain)


class Bridge:
    """The fake zigbee2mqtt: what the driver published to `<name>/set`, in order."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.sets: list[tuple[str, Any]] = []

    async def listen(self) -> None:
        async for message in self.client.messages:
            name = message.topic.value[len(BASE) + 1 : -len("/set")]
            self.sets.append((name, json.loads(bytes(message.payload))))  # type: ignore[arg-type]


class Running:
    def __init__(self, driver: Zigbee2MqttDriver, bridge: Bridge) -> None:
        self.driver = driver
        self.bridge = bridge
        self.readings: list[Reading] = []

    def outputs(self, address: str) -> list[str]:
        return [r.status for r in self.readings if isinstance(r, OutputReading) and r.address == address]

    async def sent(self, address: str, command: Command) -> Any:
        """Command the device; the JSON the bridge received on its /set topic."""
        count = len(self.bridge.sets)
        await self.driver.command(address, command)
        await wait_until(lambda: len(self.bridge.sets) > count, 10, f"{command.action} on {address}")
        name, payload = self.bridge.sets[count]
        assert name == NAMES[address]
        return payload

    async def marker(self) -> None:
        """Everything published before this is handled once the bulb's marker state is read."""
        count = sum(1 for r in self.readings if isinstance(r, HealthReading) and r.address == BULB)
        await publish(self.bridge.client, NAMES[BULB], {"linkquality": 1})
        await wait_until(
            lambda: sum(1 for r in self.readings if isinstance(r, HealthReading) and r.address == BULB) > count,
            10,
            "the marker",
        )


def make_driver(broker: Mosquitto, context: DriverContext | None = None, **options: Any) -> Zigbee2MqttDriver:
    driver = Zigbee2MqttDriver(
        {"host": broker.host, "port": broker.port, **options}, context or DriverContext(clock=lambda: NOW)
    )
    driver.reconnect_initial = 0.05
    driver.reconnect_max = 0.5
    return driver


@asynccontextmanager
async def running(broker: Mosquitto, driver: Zigbee2MqttDriver | None = None) -> AsyncIterator[Running]:
    driver = driver or make_driver(broker)
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(f"{BASE}/+/set", qos=1)
        bridge = Bridge(client)
        listener = asyncio.create_task(bridge.listen())
        await publish(client, "bridge/devices", device_list(), retain=True)
        run = Running(driver, bridge)

        async def collect() -> None:
            async for reading in driver.readings():
                run.readings.append(reading)

        try:
            async with driver:
                task = asyncio.create_task(collect())
                await wait_until(lambda: driver.friendly_name(PLUG) == NAMES[PLUG], 10, "the retained device list")
                yield run
            await asyncio.wait_for(task, 5)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)


# --------------------------------------------------------------------------- pairing


async def test_candidates_offer_the_output_kinds(broker: Mosquitto) -> None:
    async with running(broker) as run:
        found = {c.address: c for c in await run.driver.candidates()}
    assert BULB not in found, "a light's state is not an output"
    assert {a: (c.kinds, c.outputs) for a, c in found.items()} == {
        DEVELCO: ((), ("siren",)),
        WOOX: ((), ("siren",)),
        HEIMAN: ((), ("siren",)),
        SWV: ((), ("valve", "switch")),  # the definition says valve: the likelier first
        SINOPE: ((), ("valve", "switch")),
        PLUG: ((), ("switch", "valve")),
    }
    assert found[SWV].model == "SWV" and found[SWV].id == f"zigbee2mqtt:{SWV}"


def test_zigbee2mqtt_is_an_output_driver_and_nut_is_not() -> None:
    assert issubclass(Zigbee2MqttDriver, OutputDriver)
    assert not issubclass(NutDriver, OutputDriver)


# --------------------------------------------------------------------------- commands


async def test_siren_actions_publish_warning_and_squawk(broker: Mosquitto) -> None:
    async with running(broker) as run:
        assert await run.sent(DEVELCO, Command(action="burglar", seconds=173)) == {
            "warning": {"mode": "burglar", "level": "high", "strobe": True, "duration": 173}
        }
        assert await run.sent(DEVELCO, Command(action="fire", seconds=180.2, level="very_high")) == {
            "warning": {"mode": "fire", "level": "very_high", "strobe": True, "duration": 181}
        }
        assert await run.sent(DEVELCO, Command(action="emergency", level="medium", strobe=False)) == {
            "warning": {"mode": "emergency", "level": "medium", "strobe": False, "duration": 180}
        }
        assert await run.sent(DEVELCO, Command(action="stop")) == {"warning": {"mode": "stop"}}
        armed = {"squawk": {"state": "system_is_armed", "level": "low", "strobe": False}}
        disarmed = {"squawk": {"state": "system_is_disarmed", "level": "low", "strobe": False}}
        assert await run.sent(DEVELCO, Command(action="squawk_armed")) == armed
        assert await run.sent(DEVELCO, Command(action="squawk_disarmed")) == disarmed
        assert await run.sent(DEVELCO, Command(action="chime")) == disarmed


async def test_a_siren_without_squawk_beeps_a_short_low_warning(broker: Mosquitto) -> None:
    async with running(broker) as run:
        beep = {"warning": {"mode": "emergency", "level": "low", "strobe": False, "duration": 1}}
        assert await run.sent(WOOX, Command(action="squawk_armed")) == beep
        assert await run.sent(WOOX, Command(action="squawk_disarmed")) == beep
        assert await run.sent(WOOX, Command(action="chime")) == beep
        assert await run.sent(WOOX, Command(action="chime", seconds=2)) == {
            "warning": {"mode": "emergency", "level": "low", "strobe": False, "duration": 2}
        }
        assert await run.sent(WOOX, Command(action="fire", seconds=60)) == {
            "warning": {"mode": "fire", "level": "high", "strobe": True, "duration": 60}
        }


async def test_a_siren_without_the_mode_sounds_emergency(broker: Mosquitto) -> None:
    async with running(broker) as run:
        assert await run.sent(HEIMAN, Command(action="burglar", seconds=10)) == {
            "warning": {"mode": "emergency", "level": "high", "strobe": True, "duration": 10}
        }
        assert await run.sent(HEIMAN, Command(action="stop")) == {"warning": {"mode": "stop"}}


async def test_valve_and_switch_actions_publish_state(broker: Mosquitto) -> None:
    async with running(broker) as run:
        assert await run.sent(SWV, Command(action="close")) == {"state": "OFF"}
        assert await run.sent(SWV, Command(action="open")) == {"state": "ON"}
        assert await run.sent(PLUG, Command(action="on")) == {"state": "ON"}
        assert await run.sent(PLUG, Command(action="off")) == {"state": "OFF"}
        # e.valve_switch(): the device's own values
        assert await run.sent(SINOPE, Command(action="close")) == {"state": "CLOSE"}
        assert await run.sent(SINOPE, Command(action="open")) == {"state": "OPEN"}


async def test_invert_swaps_commands_and_reported_states(broker: Mosquitto) -> None:
    async with running(broker, make_driver(broker, invert=[SWV.upper()])) as run:
        assert run.driver.options.invert == [SWV]
        assert await run.sent(SWV, Command(action="close")) == {"state": "ON"}
        assert await run.sent(SWV, Command(action="open")) == {"state": "OFF"}
        assert await run.sent(PLUG, Command(action="on")) == {"state": "ON"}  # not inverted
        await publish(run.bridge.client, NAMES[SWV], {"state": "ON", "flow": 0})
        await publish(run.bridge.client, NAMES[SWV], {"state": "OFF", "flow": 0})
        await run.marker()
    assert run.outputs(SWV) == ["closed", "open"]


async def test_a_command_the_device_cannot_do_is_a_driver_error(broker: Mosquitto) -> None:
    async with running(broker) as run:
        with pytest.raises(DriverError, match="not a siren"):
            await run.driver.command(SWV, Command(action="burglar"))
        with pytest.raises(DriverError, match="no switchable state"):
            await run.driver.command(WOOX, Command(action="close"))
        with pytest.raises(DriverError, match="is not a siren, valve or switch"):
            await run.driver.command(BULB, Command(action="on"))
        with pytest.raises(DriverError, match="is not a siren, valve or switch"):
            await run.driver.command("0x00000000000000ff", Command(action="stop"))
        await run.marker()
    assert run.bridge.sets == []


# --------------------------------------------------------------------------- confirmations


async def test_state_messages_become_output_readings(broker: Mosquitto) -> None:
    async with running(broker) as run:
        z2m = run.bridge.client
        await publish(z2m, NAMES[WOOX], {"alarm": True, "battery": 90, "linkquality": 120})
        await publish(z2m, NAMES[WOOX], {"alarm": False, "battery": 90, "linkquality": 120})
        await publish(z2m, NAMES[SWV], {"state": "OFF", "flow": 0, "battery": 100, "linkquality": 80})
        await publish(z2m, NAMES[SWV], {"state": "ON", "flow": 0.4})
        await publish(z2m, NAMES[SINOPE], {"state": "CLOSE", "position": 0})
        await publish(z2m, NAMES[PLUG], {"state": "ON", "power": 3})
        await publish(z2m, NAMES[PLUG], {"state": "TOGGLE"})  # not a state: nothing
        await publish(z2m, NAMES[BULB], {"state": "ON", "brightness": 200})  # a light: nothing
        await publish(z2m, NAMES[DEVELCO], {"alarm": "START"})
        await publish(z2m, NAMES[DEVELCO], {"alarm": False, "tamper": False})
        await run.marker()
    assert run.outputs(WOOX) == ["sounding", "silent"]
    assert run.outputs(SWV) == ["closed", "open"]
    assert run.outputs(SINOPE) == ["closed"]
    assert run.outputs(PLUG) == ["on"]
    assert run.outputs(BULB) == []
    assert run.outputs(DEVELCO) == ["sounding", "silent"]
    woox = [r for r in run.readings if r.address == WOOX]
    assert woox[:2] == [
        HealthReading(address=WOOX, at=NOW, battery=90.0, signal=120),
        OutputReading(address=WOOX, status="sounding", at=NOW),
    ]


async def test_a_siren_that_cannot_report_is_reported_as_asked(broker: Mosquitto) -> None:
    async with running(broker) as run:
        await run.sent(DEVELCO, Command(action="burglar", seconds=30))
        await run.sent(DEVELCO, Command(action="squawk_armed"))  # a beep: nothing to confirm
        await run.sent(DEVELCO, Command(action="stop"))
        await run.sent(WOOX, Command(action="burglar", seconds=30))  # it reports `alarm` itself
        await run.marker()
    assert run.outputs(DEVELCO) == ["sounding", "silent"]
    assert run.outputs(WOOX) == []


async def test_the_paired_kind_says_valve_or_switch(broker: Mosquitto) -> None:
    kinds: dict[str, OutputKind] = {SWV: "switch", PLUG: "valve"}
    context = DriverContext(clock=lambda: NOW, output_kind=kinds.get)
    async with running(broker, make_driver(broker, context)) as run:
        await publish(run.bridge.client, NAMES[SWV], {"state": "OFF"})
        await publish(run.bridge.client, NAMES[PLUG], {"state": "OFF"})
        await publish(run.bridge.client, NAMES[SINOPE], {"state": "OPEN"})  # not paired: from its definition
        await run.marker()
    assert (run.outputs(SWV), run.outputs(PLUG), run.outputs(SINOPE)) == (["off"], ["closed"], ["open"])


async def test_unpaired_relay_follows_the_last_command(broker: Mosquitto) -> None:
    async with running(broker) as run:
        await publish(run.bridge.client, NAMES[PLUG], {"state": "OFF"})
        await run.marker()
        await run.sent(PLUG, Command(action="close"))
        await publish(run.bridge.client, NAMES[PLUG], {"state": "OFF"})
        await run.marker()
    assert run.outputs(PLUG) == ["off", "closed"]


async def test_availability_offline_applies_to_outputs(broker: Mosquitto) -> None:
    async with running(broker) as run:
        await publish(run.bridge.client, f"{NAMES[WOOX]}/availability", {"state": "offline"})
        await run.marker()
    assert [r for r in run.readings if r.address == WOOX] == [HealthReading(address=WOOX, at=NOW, online=False)]


# --------------------------------------------------------------------------- the broker


async def test_broker_down_is_a_driver_error(broker: Mosquitto) -> None:
    async with running(broker) as run:
        assert await run.sent(SWV, Command(action="close")) == {"state": "OFF"}
        broker.kill()
        await wait_until(lambda: not run.driver.connected, 10, "the driver to notice the broker is gone")
        with pytest.raises(DriverError, match="not connected to the MQTT broker"):
            await run.driver.command(SWV, Command(action="close"))
        await broker.start()
        await wait_until(lambda: run.driver.connected, 10, "the reconnection")
        await run.driver.command(SWV, Command(action="open"))  # the list is still known: the command goes


async def test_a_driver_that_never_connected_refuses_commands() -> None:
    driver = Zigbee2MqttDriver({"host": "127.0.0.1", "port": free_port()}, DriverContext())
    async with driver:
        with pytest.raises(DriverError, match="not connected to the MQTT broker"):
            await driver.command(SWV, Command(action="close"))


# --------------------------------------------------------------------------- options


def test_invert_takes_ieee_addresses_only() -> None:
    options = {"host": "127.0.0.1"}
    assert Zigbee2MqttDriver(options, DriverContext()).options.invert == []
    with pytest.raises(DriverError, match=r"option 'invert' must be an array of IEEE addresses.*'kitchen'"):
        Zigbee2MqttDriver({**options, "invert": ["kitchen"]}, DriverContext())
    with pytest.raises(DriverError, match="option 'invert' must be an array"):
        Zigbee2MqttDriver({**options, "invert": SWV}, DriverContext())
