"""drivers.nut against the real upsd + dummy-ups (Debian nut-server), on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from drivers.base import DriverContext, HealthReading, Reading, SensorReading
from drivers.nut import NutClient, NutDriver, NutReplyError
from tests.peers import wait_until
from tests.peers.nut import NutServer, require_nut

DEBOUNCE = 1.0
TIMEOUT = 20.0  # generous: upsd re-reads the driver socket and our backoff doubles up to several seconds


# One upsd + dummy-ups for the module (starting them takes ~3 s); `nut` resets it for each test.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def nut_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NutServer]:
    require_nut()
    server = NutServer(tmp_path_factory.mktemp("nut"))
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def nut(nut_server: NutServer) -> NutServer:
    await nut_server.reset()
    return nut_server


class Recorder:
    """Runs a NutDriver and keeps every reading it yields."""

    def __init__(self, driver: NutDriver) -> None:
        self.driver = driver
        self.readings: list[Reading] = []

    def sensor(self, address: str) -> list[bool]:
        return [r.active for r in self.readings if isinstance(r, SensorReading) and r.address == address]

    def health(self, address: str) -> list[HealthReading]:
        return [r for r in self.readings if isinstance(r, HealthReading) and r.address == address]

    def last_online(self, address: str) -> bool | None:
        online = [h.online for h in self.health(address) if h.online is not None]
        return online[-1] if online else None

    async def until(self, condition: Callable[[], object], what: str) -> None:
        await wait_until(condition, TIMEOUT, what)

    def mark(self) -> int:
        return len(self.readings)

    def since(self, mark: int) -> list[Reading]:
        return self.readings[mark:]


@contextlib.asynccontextmanager
async def running(server: NutServer, **options: Any) -> AsyncIterator[Recorder]:
    opts = {
        "host": "127.0.0.1",
        "port": server.port,
        "ups": server.ups,
        "debounce": DEBOUNCE,
        "poll": 0.2,
        "timeout": 3,
        **options,
    }
    async with NutDriver(opts, DriverContext()) as driver:
        recorder = Recorder(driver)

        async def pump() -> None:
            async for reading in driver.readings():
                recorder.readings.append(reading)

        task = asyncio.create_task(pump())
        try:
            yield recorder
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_client_speaks_the_protocol(nut: NutServer) -> None:
    client = await NutClient.connect("127.0.0.1", nut.port)
    try:
        assert await client.list_ups() == {"ups1": "test UPS"}
        variables = await client.list_var("ups1")
        assert variables["ups.status"] == "OL"
        assert variables["battery.charge"] == "100"
        assert (await client.request("GET VAR ups1 ups.status")).words == ("ups1", "ups.status", "OL")
        with pytest.raises(NutReplyError) as err:
            await client.list_var("nope")
        assert err.value.code == "UNKNOWN-UPS"
        # the connection stays usable after an ERR
        assert (await client.list_var("ups1"))["ups.status"] == "OL"
    finally:
        await client.close()


async def test_on_line_reports_the_zone_restored_and_no_alarm(nut: NutServer) -> None:
    async with running(nut, username=nut.username, password=nut.password) as rec:
        await rec.until(lambda: rec.sensor(nut.address) and rec.health(nut.address), "the first poll")
        health = rec.health(nut.address)[0]
        assert health.online is True
        assert health.battery == 100.0
        assert health.battery_low is False
        await asyncio.sleep(DEBOUNCE * 1.5)
        assert rec.sensor(nut.address) == [False]
        assert rec.driver.variables(nut.address)["ups.model"] == "dummy"


async def test_outage_raises_the_power_zone_after_the_debounce_and_restores_at_once(nut: NutServer) -> None:
    async with running(nut) as rec:
        await rec.until(lambda: rec.sensor(nut.address) == [False], "the zone restored at start")
        nut.set_status("OB DISCHRG", charge=80)
        await rec.until(lambda: rec.sensor(nut.address) == [False, True], "mains lost after the debounce")
        # on battery, the charge is reported; the battery is not low yet
        assert any(h.battery == 80.0 and h.battery_low is False for h in rec.health(nut.address))
        nut.set_status("OL CHRG", charge=81)
        await rec.until(lambda: rec.sensor(nut.address) == [False, True, False], "mains restored")


async def test_a_blip_shorter_than_the_debounce_is_not_reported(nut: NutServer) -> None:
    async with running(nut, debounce=20) as rec:
        await rec.until(lambda: rec.sensor(nut.address) == [False], "the zone restored at start")
        nut.set_status("OB DISCHRG")
        await rec.until(lambda: rec.driver.variables(nut.address).get("ups.status") == "OB DISCHRG", "OB seen")
        nut.set_status("OL")
        await rec.until(lambda: rec.driver.variables(nut.address).get("ups.status") == "OL", "OL seen")
        await asyncio.sleep(1)
        assert rec.sensor(nut.address) == [False]


async def test_low_battery_and_forced_shutdown_report_battery_low(nut: NutServer) -> None:
    async with running(nut) as rec:
        await rec.until(lambda: rec.health(nut.address), "the first poll")
        nut.set_status("OB DISCHRG LB", charge=9)
        await rec.until(lambda: any(h.battery_low and h.battery == 9.0 for h in rec.health(nut.address)), "battery_low")
        nut.set_status("OL CHRG", charge=30)
        await rec.until(lambda: rec.health(nut.address)[-1].battery_low is False, "battery_low cleared")
        nut.set_status("FSD OB", charge=5)
        await rec.until(lambda: rec.health(nut.address)[-1].battery_low is True, "FSD -> battery_low")


async def test_driver_lost_is_a_fault_not_an_alarm_and_recovers(nut: NutServer) -> None:
    async with running(nut) as rec:
        await rec.until(lambda: rec.last_online(nut.address) is True, "online")
        nut.set_status("OB DISCHRG")
        await rec.until(lambda: rec.sensor(nut.address)[-1:] == [True], "mains lost")
        mark = rec.mark()
        await nut.stop_driver()  # upsd now answers ERR DRIVER-NOT-CONNECTED
        await rec.until(lambda: rec.last_online(nut.address) is False, "offline")
        assert not any(isinstance(r, SensorReading) for r in rec.since(mark)), "a lost UPS must not restore or alarm"
        nut.set_status("OL")
        await nut.start_driver()
        await rec.until(lambda: rec.last_online(nut.address) is True, "back online")
        await rec.until(lambda: rec.sensor(nut.address)[-1:] == [False], "the real state after recovery")


async def test_upsd_gone_is_a_fault_and_the_driver_reconnects(nut: NutServer) -> None:
    async with running(nut) as rec:
        await rec.until(lambda: rec.last_online(nut.address) is True, "online")
        mark = rec.mark()
        await nut.stop_upsd()
        await rec.until(lambda: rec.last_online(nut.address) is False, "offline")
        await asyncio.sleep(2)  # a couple of failed reconnects: still one offline report, no alarm
        assert [r for r in rec.since(mark) if isinstance(r, HealthReading)] == [rec.health(nut.address)[-1]]
        assert not any(isinstance(r, SensorReading) for r in rec.since(mark))
        await nut.start_upsd()
        await rec.until(lambda: rec.last_online(nut.address) is True, "reconnected")
        assert rec.sensor(nut.address)[-1] is False


async def test_unknown_ups_is_offline(nut: NutServer) -> None:
    async with running(nut, ups=["nope", nut.ups]) as rec:
        gone = "nope@127.0.0.1:" + str(nut.port)
        await rec.until(lambda: rec.last_online(gone) is False, "the unknown UPS offline")
        await rec.until(lambda: rec.last_online(nut.address) is True, "the known UPS online")
        assert not rec.sensor(gone)


async def test_readings_end_when_the_driver_stops(nut: NutServer) -> None:
    driver = NutDriver({"port": nut.port, "ups": nut.ups, "poll": 0.2}, DriverContext())
    async with driver:
        stream = driver.readings()
        first = await asyncio.wait_for(anext(stream), TIMEOUT)
        assert first.address == nut.address
    rest = [r async for r in stream]
    assert all(r.address == nut.address for r in rest)
