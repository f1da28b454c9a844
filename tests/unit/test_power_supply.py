"""drivers.power_supply over a temporary sysfs tree, and the mains debounce it shares with drivers.nut."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from drivers.base import DriverContext, DriverError, HealthReading, Reading, SensorReading
from drivers.power_supply import MainsMonitor, MainsWatch, PowerSupplyDriver, find_supplies, read_snapshot
from tests.peers import wait_until


def supply(root: Path, name: str, **files: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, content in files.items():
        (folder / file).write_text(content + "\n")
    return folder


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """A Raspberry Pi with a UPS HAT: mains adapter, the HAT's battery, and a wireless mouse's battery."""
    root = tmp_path / "power_supply"
    supply(root, "ac", type="Mains", online="1")
    supply(root, "hat-battery", type="Battery", capacity="95", capacity_level="Full", status="Charging")
    supply(root, "hid-mouse-battery", type="Battery", scope="Device", capacity="3", capacity_level="Critical")
    return root


class Run:
    def __init__(self, driver: PowerSupplyDriver) -> None:
        self.driver = driver
        self.readings: list[Reading] = []

    def states(self) -> list[bool]:
        return [r.active for r in self.readings if isinstance(r, SensorReading)]

    def health(self) -> list[HealthReading]:
        return [r for r in self.readings if isinstance(r, HealthReading)]


@contextlib.asynccontextmanager
async def running(root: Path, **options: Any) -> AsyncIterator[Run]:
    driver = PowerSupplyDriver({"path": str(root), "poll": 0.02, **options}, DriverContext())
    async with driver:
        run = Run(driver)

        async def pump() -> None:
            async for reading in driver.readings():
                run.readings.append(reading)

        task = asyncio.create_task(pump())
        try:
            await wait_until(lambda: run.health(), what="the first poll")
            yield run
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# --------------------------------------------------------------------------- sysfs


def test_find_supplies_skips_peripherals(sysfs: Path) -> None:
    assert find_supplies(sysfs) == (["ac"], ["hat-battery"])
    assert find_supplies(sysfs / "missing") == ([], [])


def test_read_snapshot(sysfs: Path) -> None:
    snap = read_snapshot(sysfs, "ac", "hat-battery")
    assert (snap.readable, snap.mains, snap.battery, snap.battery_low) == (True, True, 95.0, False)
    supply(sysfs, "ac", online="0")
    supply(sysfs, "hat-battery", capacity="7", capacity_level="Critical")
    snap = read_snapshot(sysfs, "ac", "hat-battery")
    assert (snap.mains, snap.battery, snap.battery_low) == (False, 7.0, True)
    supply(sysfs, "hat-battery", capacity_level="Low")
    assert read_snapshot(sysfs, "ac", "hat-battery").battery_low is True
    (sysfs / "hat-battery" / "capacity_level").unlink()
    supply(sysfs, "hat-battery", capacity="garbage")
    snap = read_snapshot(sysfs, "ac", "hat-battery")
    assert (snap.battery, snap.battery_low) == (None, None)
    supply(sysfs, "ac", online="?")
    assert read_snapshot(sysfs, "ac", None).mains is None
    assert read_snapshot(sysfs, "gone", None).readable is False


# --------------------------------------------------------------------------- the driver


async def test_mains_present_at_start_reports_restored_and_battery(sysfs: Path) -> None:
    async with running(sysfs, debounce=0.2) as run:
        await wait_until(lambda: run.states(), what="the zone state")
        assert run.states() == [False]
        health = run.health()[0]
        assert (health.address, health.online, health.battery, health.battery_low) == ("ac", True, 95.0, False)
        assert run.driver.fixed_devices()[0].address == "ac"
        assert run.driver.fixed_devices()[0].kinds == ("power",)
        assert run.driver.expected_interval("ac") == 60.0
        assert run.driver.expected_interval("hat-battery") is None


async def test_outage_after_debounce_and_restore_at_once(sysfs: Path) -> None:
    async with running(sysfs, debounce=0.3) as run:
        await wait_until(lambda: run.states() == [False], what="restored at start")
        supply(sysfs, "ac", online="0")
        await asyncio.sleep(0.1)
        assert run.states() == [False], "not before the debounce"
        await wait_until(lambda: run.states() == [False, True], what="mains lost")
        supply(sysfs, "ac", online="1")
        await wait_until(lambda: run.states() == [False, True, False], what="mains back")


async def test_a_flicker_shorter_than_the_debounce_is_not_reported(sysfs: Path) -> None:
    async with running(sysfs, debounce=0.5) as run:
        await wait_until(lambda: run.states() == [False], what="restored at start")
        supply(sysfs, "ac", online="0")
        await asyncio.sleep(0.15)
        supply(sysfs, "ac", online="1")
        await asyncio.sleep(0.6)
        assert run.states() == [False]


async def test_low_battery_is_reported(sysfs: Path) -> None:
    async with running(sysfs, debounce=0) as run:
        supply(sysfs, "ac", online="0")
        supply(sysfs, "hat-battery", capacity="9", capacity_level="Critical")
        await wait_until(lambda: run.health()[-1].battery_low is True, what="battery_low")
        assert run.health()[-1].battery == 9.0
        assert run.states()[-1] is True


async def test_supply_gone_is_a_fault_and_comes_back(sysfs: Path) -> None:
    async with running(sysfs, debounce=0.1) as run:
        await wait_until(lambda: run.states() == [False], what="restored at start")
        moved = sysfs.parent / "away"
        shutil.move(sysfs / "ac", moved)  # a USB UPS unplugged
        await wait_until(lambda: run.health()[-1].online is False, what="offline")
        await asyncio.sleep(0.1)
        assert run.states() == [False], "a fault is never a power alarm"
        assert [h.online for h in run.health()].count(False) == 1, "offline is reported once"
        shutil.move(moved, sysfs / "ac")
        await wait_until(lambda: run.health()[-1].online is True, what="online again")
        await wait_until(lambda: run.states() == [False, False], what="the real state again")


async def test_supply_named_by_option(sysfs: Path) -> None:
    supply(sysfs, "usb-c", type="USB", online="0")
    async with running(sysfs, supply="usb-c", battery="hat-battery", debounce=0) as run:
        await wait_until(lambda: run.states() == [True], what="usb-c offline is mains lost")
        assert run.driver.fixed_devices()[0].address == "usb-c"


async def test_no_mains_supply_fails_start_with_advice(tmp_path: Path) -> None:
    root = tmp_path / "power_supply"
    supply(root, "BAT0", type="Battery", capacity="50")
    driver = PowerSupplyDriver({"path": str(root)}, DriverContext())
    assert driver.fixed_devices() == []
    with pytest.raises(DriverError, match="set `supply`"):
        async with driver:
            pass


async def test_readings_end_when_the_driver_stops(sysfs: Path) -> None:
    driver = PowerSupplyDriver({"path": str(sysfs), "poll": 0.01}, DriverContext())
    async with driver:
        stream = driver.readings()
        assert (await anext(stream)).address == "ac"
    assert all(r.address == "ac" for r in [r async for r in stream])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"debounce": -1}, "debounce"),
        ({"poll": 0}, "poll"),
        ({"poll": "fast"}, "poll"),
        ({"supply": ""}, "supply"),
        ({"supply": "../etc"}, "supply"),
        ({"path": 3}, "path"),
        ({"colour": "red"}, "colour"),
        ({"type": "nut"}, "type"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DriverError, match=message):
        PowerSupplyDriver(options, DriverContext())


# --------------------------------------------------------------------------- the pure part


def test_mains_watch_debounces_loss_and_restores_at_once() -> None:
    w = MainsWatch(60)
    assert w.observe(True, 0) is False  # first observation: the real state
    assert w.observe(True, 5) is None
    assert w.observe(False, 10) is None
    assert w.observe(False, 69) is None
    assert w.observe(False, 70) is True
    assert w.observe(False, 75) is None
    assert w.observe(True, 76) is False
    assert w.observe(False, 80) is None
    assert w.observe(None, 100) is None  # unknown breaks the count
    assert w.observe(False, 141) is None
    assert w.observe(False, 201) is True


def test_mains_watch_zero_debounce_and_absent_at_start() -> None:
    w = MainsWatch(0)
    assert w.observe(False, 0) is True
    w = MainsWatch(10)
    assert w.observe(False, 0) is None
    assert w.lost is None  # nothing reported until the debounce confirms
    assert w.observe(False, 10) is True


def test_mains_monitor_health_changes_and_heartbeat() -> None:
    m = MainsMonitor("ac", debounce=10, heartbeat=60)
    out = m.observe(True, 90.0, False, now=0, at=1000)
    assert out == [
        SensorReading(address="ac", kind="power", active=False, at=1000),
        HealthReading(address="ac", at=1000, online=True, battery=90.0, battery_low=False),
    ]
    assert m.observe(True, 90.0, False, now=30, at=1030) == []
    assert m.observe(True, 89.0, False, now=31, at=1031) == [
        HealthReading(address="ac", at=1031, online=True, battery=89.0, battery_low=False)
    ]
    assert m.observe(True, 89.0, False, now=91, at=1091) == [
        HealthReading(address="ac", at=1091, online=True, battery=89.0, battery_low=False)
    ]
    assert m.unreachable(at=1100) == [HealthReading(address="ac", at=1100, online=False)]
    assert m.unreachable(at=1101) == []
    back = m.observe(True, 89.0, False, now=120, at=1120)
    assert [type(r).__name__ for r in back] == ["SensorReading", "HealthReading"]


def test_the_example_config_builds_the_three_drivers() -> None:
    """config/examples/power.toml loads without warnings and each entry constructs its driver."""
    from drivers.registry import load_driver
    from hub.config import load_config

    loaded = load_config(Path(__file__).parents[2] / "config" / "examples" / "power.toml")
    assert loaded.warnings == []
    types = []
    for entry in loaded.config.drivers:
        load_driver(entry.type)(entry.options, DriverContext())
        types.append(entry.type)
    assert types == ["nut", "power_supply", "gpio"]
