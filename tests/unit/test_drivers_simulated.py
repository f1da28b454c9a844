"""The driver contract, the entry-point registry and the simulated demo kit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib.metadata import EntryPoint
from typing import Any

import msgspec
import pytest

from alarms.model import ZONE_KINDS
from alarms.outputs import Command
from drivers import registry
from drivers.base import (
    Candidate,
    Driver,
    DriverContext,
    DriverError,
    HealthReading,
    OutputReading,
    Reading,
    SensorReading,
    UnknownDriver,
)
from drivers.capabilities import OutputDriver
from drivers.registry import driver_types, load_driver
from drivers.simulated import KIT, OUTPUT_KIT, SPARES, SimulatedDriver

NOW = 1_700_000_000.0


def make_driver(paired: set[str] | None = None, **options: Any) -> SimulatedDriver:
    context = DriverContext(clock=lambda: NOW, paired=lambda: set(paired or ()))
    return SimulatedDriver({"heartbeat": 3600, **options}, context)


async def next_matching(readings: AsyncIterator[Reading], kind: type[Reading]) -> Reading:
    async with asyncio.timeout(2):
        async for reading in readings:
            if isinstance(reading, kind):
                return reading
    raise AssertionError("readings ended")


# --------------------------------------------------------------------------- registry


def test_registry_finds_simulated_through_entry_points() -> None:
    assert driver_types()["simulated"] == "drivers.simulated:SimulatedDriver"
    assert load_driver("simulated") is SimulatedDriver


def test_unknown_type_lists_known_types() -> None:
    with pytest.raises(UnknownDriver, match=r"unknown driver type 'zwave'; known types: .*simulated"):
        load_driver("zwave")
    assert issubclass(UnknownDriver, DriverError)


def test_broken_entry_points_are_driver_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = [
        EntryPoint(name="missing", value="casahub_no_such_module:Driver", group=registry.GROUP),
        EntryPoint(name="notaclass", value="drivers.simulated:KIT", group=registry.GROUP),
        EntryPoint(name="misnamed", value="drivers.simulated:SimulatedDriver", group=registry.GROUP),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep for ep in fake if ep.group == group])
    assert sorted(driver_types()) == ["misnamed", "missing", "notaclass"]
    with pytest.raises(DriverError, match="cannot be loaded"):
        load_driver("missing")
    with pytest.raises(DriverError, match="not a class"):
        load_driver("notaclass")
    with pytest.raises(DriverError, match="declares type 'simulated'"):
        load_driver("misnamed")


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "red"}, "unknown option 'colour'"),
        ({"heartbeat": 0}, "'heartbeat' must be a positive number"),
        ({"heartbeat": -5}, "'heartbeat' must be a positive number"),
        ({"heartbeat": "60"}, "'heartbeat' must be a positive number"),
        ({"heartbeat": True}, "'heartbeat' must be a positive number"),
        ({"heartbeat": float("inf")}, "'heartbeat' must be a positive number"),
        ({"type": "bthome"}, "type = 'bthome'"),
    ],
)
def test_bad_option_is_a_driver_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DriverError, match=message):
        SimulatedDriver(options, DriverContext())


def test_options_defaults_and_whole_config_table() -> None:
    assert SimulatedDriver({}, DriverContext()).heartbeat == 60
    assert SimulatedDriver({"type": "simulated", "heartbeat": 5}, DriverContext()).heartbeat == 5


# --------------------------------------------------------------------------- the kit


def test_kit_is_one_device_of_each_kind_with_the_demo_behaviours() -> None:
    assert sorted(device.kind for device in KIT) == sorted(ZONE_KINDS)
    behaviours = {device.kind: device.behaviour for device in KIT}
    assert behaviours == {
        "water": "24h",
        "smoke": "24h",
        "power": "24h",
        "panic": "24h",
        "contact": "entry",
        "motion": "follower",
        "camera": "instant",
    }
    assert [device.address for device in KIT if device.home] == ["sim-contact-1"]
    water = next(device for device in KIT if device.kind == "water")
    assert (water.address, water.name, water.model, water.room) == (
        "sim-water-1",
        "Sensore acqua",
        "SIM-WATER",
        "Cucina",
    )


def test_fixed_devices_declare_the_kit() -> None:
    devices = make_driver().fixed_devices()
    assert [(d.address, d.name, d.model, d.kinds, d.room) for d in devices] == [
        (k.address, k.name, k.model, (k.kind,), k.room) for k in KIT
    ]


def test_expected_interval_is_the_heartbeat_for_simulated_devices_only() -> None:
    driver = make_driver(heartbeat=30)
    assert driver.expected_interval("sim-smoke-1") == 30
    assert driver.expected_interval("sim-window-2") == 30
    assert driver.expected_interval("0x00158d0001a2b3c4") is None


async def test_candidates_exclude_paired_addresses() -> None:
    paired = {"sim-window-2", "sim-water-1"}
    driver = make_driver(paired)
    candidates = await driver.candidates()
    assert [c.id for c in candidates] == ["simulated:sim-water-2", "simulated:sim-motion-2"]
    water = candidates[0]
    assert isinstance(water, Candidate)
    assert (water.driver, water.address, water.model, water.kinds) == (
        "simulated",
        "sim-water-2",
        "SIM-WATER",
        ("water",),
    )
    assert water.battery is not None and 80 <= water.battery <= 100
    assert water.signal is not None and water.signal < 0
    paired.update(d.address for d in SPARES)
    assert await driver.candidates() == []
    await driver.scan(1)  # a no-op, but part of the contract


# --------------------------------------------------------------------------- readings


async def test_set_active_yields_a_sensor_reading() -> None:
    async with make_driver() as driver:
        await driver.set_active("sim-water-1", "water", True)
        reading = await next_matching(driver.readings(), SensorReading)
    assert reading == SensorReading(address="sim-water-1", kind="water", active=True, at=NOW)


async def test_set_active_rejects_an_unknown_device_or_kind() -> None:
    async with make_driver() as driver:
        with pytest.raises(DriverError, match="no simulated device 'sim-lava-1'"):
            await driver.set_active("sim-lava-1", "water", True)
        with pytest.raises(DriverError, match="senses 'water', not 'smoke'"):
            await driver.set_active("sim-water-1", "smoke", True)
    with pytest.raises(DriverError, match="not running"):
        await driver.set_active("sim-water-1", "water", True)


async def test_heartbeat_reports_kit_and_paired_spares() -> None:
    async with make_driver({"sim-motion-2"}, heartbeat=0.01) as driver:
        seen: dict[str, list[HealthReading]] = {}
        async with asyncio.timeout(2):
            async for reading in driver.readings():
                assert isinstance(reading, HealthReading)
                seen.setdefault(reading.address, []).append(reading)
                if len(seen) == len(KIT) + 1 and all(len(beats) >= 3 for beats in seen.values()):
                    break
    assert set(seen) == {d.address for d in KIT} | {"sim-motion-2"}
    for beats in seen.values():
        for beat in beats:
            assert beat.online is True and beat.at == NOW
            assert beat.battery is not None and 80 <= beat.battery <= 100
            assert beat.battery_low is False
            assert beat.signal is not None and -90 < beat.signal < -40
    # the signal wobbles a little, deterministically
    assert len({beat.signal for beats in seen.values() for beat in beats}) > len(seen)
    again = make_driver({"sim-motion-2"}, heartbeat=0.01)
    async with again:
        stream = again.readings()
        first = [await next_matching(stream, HealthReading) for _ in seen]
    assert first == [beats[0] for beats in seen.values()]


async def test_set_online_and_set_battery_report_at_once() -> None:
    async with make_driver(heartbeat=0.01) as driver:
        readings = driver.readings()
        await driver.set_online("sim-smoke-1", False)
        offline = HealthReading(address="sim-smoke-1", at=NOW, online=False)
        async with asyncio.timeout(2):
            async for reading in readings:
                if reading == offline:
                    break
        # an offline device sends no heartbeat; it is back after set_online(True)
        async with asyncio.timeout(2):
            addresses = {(await next_matching(readings, HealthReading)).address for _ in range(3 * len(KIT))}
        assert "sim-smoke-1" not in addresses
        await driver.set_online("sim-smoke-1", True)
        await driver.set_battery("sim-smoke-1", 12)
        async with asyncio.timeout(2):
            async for reading in readings:
                if isinstance(reading, HealthReading) and reading.address == "sim-smoke-1" and reading.online is None:
                    break
        assert isinstance(reading, HealthReading)
        assert (reading.battery, reading.battery_low) == (12, True)
        with pytest.raises(DriverError, match="between 0 and 100"):
            await driver.set_battery("sim-smoke-1", 140)


async def test_readings_end_and_no_task_remains_after_exit() -> None:
    before = asyncio.all_tasks()
    received: list[Reading] = []

    async def consume(driver: SimulatedDriver) -> None:
        async for reading in driver.readings():
            received.append(reading)

    driver = make_driver(heartbeat=0.01)
    async with driver:
        consumer = asyncio.create_task(consume(driver))
        await driver.set_active("sim-contact-1", "contact", True)
        await asyncio.sleep(0.05)
    async with asyncio.timeout(2):
        await consumer  # the iterator ended on its own
    assert asyncio.all_tasks() == before
    assert any(isinstance(r, SensorReading) for r in received)
    assert [r async for r in driver.readings()] == []  # a late reader ends at once too
    with pytest.raises(DriverError, match="runs once"):
        await driver.__aenter__()


async def test_a_failing_heartbeat_ends_readings_with_a_driver_error() -> None:
    def broken() -> set[str]:
        raise RuntimeError("database is locked")

    driver = SimulatedDriver({}, DriverContext(paired=broken))
    async with driver:
        with pytest.raises(DriverError, match="database is locked"):
            async with asyncio.timeout(2):
                async for _ in driver.readings():
                    pass


def test_readings_round_trip_as_tagged_json() -> None:
    readings: list[Reading] = [
        SensorReading(address="sim-water-1", kind="water", active=True, at=NOW),
        HealthReading(address="sim-water-1", at=NOW, battery=93.5, signal=-61),
    ]
    decoder = msgspec.json.Decoder(list[Reading])
    assert decoder.decode(msgspec.json.encode(readings)) == readings


def test_simulated_driver_satisfies_the_driver_protocol() -> None:
    # Checked by mypy --strict: the class is a `type[Driver]`, constructed as the hub does.
    cls: type[Driver] = SimulatedDriver
    driver: Driver = cls({}, DriverContext())
    assert driver.type == "simulated"


# --------------------------------------------------------------------------- outputs (issue 16)


def test_output_readings_round_trip_as_tagged_json() -> None:
    readings: list[Reading] = [
        OutputReading(address="sim-siren-1", status="sounding", at=NOW),
        SensorReading(address="sim-water-1", kind="water", active=True, at=NOW),
    ]
    encoded = msgspec.json.encode(readings)
    assert b'"type":"output"' in encoded
    assert msgspec.json.Decoder(list[Reading]).decode(encoded) == readings


def test_output_kit_is_declared_only_with_outputs_on() -> None:
    assert [(o.address, o.name, o.output, o.room) for o in OUTPUT_KIT] == [
        ("sim-siren-1", "Sirena interna", "siren", "Ingresso"),
        ("sim-valve-1", "Valvola acqua", "valve", "Cucina"),
    ]
    assert len(make_driver().fixed_devices()) == len(KIT)
    devices = make_driver(outputs=True).fixed_devices()
    assert [(d.address, d.kinds, d.outputs) for d in devices[len(KIT) :]] == [
        ("sim-siren-1", (), ("siren",)),
        ("sim-valve-1", (), ("valve",)),
    ]
    assert devices[: len(KIT)] == make_driver().fixed_devices()
    assert make_driver(outputs=True).expected_interval("sim-siren-1") == 3600
    assert make_driver().expected_interval("sim-siren-1") is None
    assert isinstance(make_driver(), OutputDriver)


async def outputs_of(driver: SimulatedDriver, count: int) -> list[OutputReading]:
    found: list[OutputReading] = []
    async with asyncio.timeout(3):
        async for reading in driver.readings():
            if isinstance(reading, OutputReading):
                found.append(reading)
                if len(found) == count:
                    return found
    raise AssertionError("readings ended")


async def test_commands_are_recorded_and_confirmed() -> None:
    async with make_driver(outputs=True) as driver:
        assert driver.status == {"sim-siren-1": "silent", "sim-valve-1": "open"}
        await driver.command("sim-siren-1", Command(action="burglar", seconds=180))
        await driver.command("sim-valve-1", Command(action="close"))
        confirmations = await outputs_of(driver, 2)
        assert confirmations == [
            OutputReading(address="sim-siren-1", status="sounding", at=NOW),
            OutputReading(address="sim-valve-1", status="closed", at=NOW),
        ]
        await driver.command("sim-siren-1", Command(action="stop"))
        assert await outputs_of(driver, 1) == [OutputReading(address="sim-siren-1", status="silent", at=NOW)]
        assert driver.commands == [
            ("sim-siren-1", Command(action="burglar", seconds=180)),
            ("sim-valve-1", Command(action="close")),
            ("sim-siren-1", Command(action="stop")),
        ]
        assert driver.status == {"sim-siren-1": "silent", "sim-valve-1": "closed"}


async def test_a_squawk_sounds_briefly() -> None:
    async with make_driver(outputs=True) as driver:
        await driver.command("sim-siren-1", Command(action="chime", seconds=0.05))
        assert [r.status for r in await outputs_of(driver, 2)] == ["sounding", "silent"]


async def test_an_offline_output_confirms_nothing() -> None:
    async with make_driver(outputs=True) as driver:
        await driver.set_online("sim-valve-1", False)
        await driver.command("sim-valve-1", Command(action="close"))
        await asyncio.sleep(0.2)
        assert not any(isinstance(r, OutputReading) for r in driver._stream.take_all())
        assert driver.commands == [("sim-valve-1", Command(action="close"))]


async def test_bad_commands_are_driver_errors() -> None:
    async with make_driver(outputs=True) as driver:
        with pytest.raises(DriverError, match="cannot 'burglar'"):
            await driver.command("sim-valve-1", Command(action="burglar"))
        with pytest.raises(DriverError, match="no simulated output 'sim-water-1'"):
            await driver.command("sim-water-1", Command(action="close"))
        with pytest.raises(DriverError, match="senses nothing"):
            await driver.set_active("sim-siren-1", "contact", True)
    async with make_driver() as driver:
        with pytest.raises(DriverError, match=r"outputs: none \(outputs = false\)"):
            await driver.command("sim-siren-1", Command(action="stop"))
    assert driver.commands == []
