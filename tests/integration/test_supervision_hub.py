"""Supervision through the hub: offline is a fault, never an intrusion; coming back applies the real state."""

from __future__ import annotations

import asyncio
import time

import pytest

from alarms.model import AlarmSettings, ArmRequest, Configure
from drivers.base import HealthReading, SensorReading
from hub.core.pairing import pair_device
from tests.conftest import Api, RunningHub


@pytest.fixture(autouse=True)
def short_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.core.supervision.GROUP_WINDOW", 0.0)


async def test_offline_door_is_a_fault_and_its_return_starts_the_entry_delay(api: Api, running_hub: RunningHub) -> None:
    hub = running_hub.hub
    await hub.submit(Configure(settings=AlarmSettings(exit_delay=0, entry_delay=30, offline_grace=1)))
    await hub.submit(ArmRequest(mode="away", by="test"))
    door = hub.device_by_address("simulated", "sim-contact-1")
    assert door is not None
    await hub.ingest("simulated", HealthReading(address="sim-contact-1", at=time.time(), online=False))
    await hub.supervision.check()
    system = await api.get("/api/v1/system")
    assert system["mode"] == "armed_away" and system["incidents"] == []
    zone = next(z for z in (await api.get("/api/v1/zones"))["items"] if z["device"] == door.id)
    assert zone["online"] is False
    await asyncio.sleep(1.3)  # past offline_grace: the timer ticks it
    for _ in range(50):
        anomalies = (await api.get("/api/v1/anomalies"))["items"]
        if anomalies:
            break
        await asyncio.sleep(0.05)
    assert [(a["kind"], a["device"]) for a in anomalies] == [("sensor_offline", door.id)]
    assert (await api.get("/api/v1/system"))["incidents"] == []  # never an intrusion
    # It comes back reporting the door open: that is an entry, the entry delay starts.
    await hub.ingest("simulated", SensorReading(address="sim-contact-1", kind="contact", active=True, at=time.time()))
    system = await api.get("/api/v1/system")
    assert system["mode"] == "pending"
    assert (await api.get("/api/v1/anomalies"))["items"] == []


async def test_many_devices_offline_together_make_one_bridge_anomaly(api: Api, running_hub: RunningHub) -> None:
    hub = running_hub.hub
    await hub.submit(Configure(settings=AlarmSettings(offline_grace=0.5)))
    addresses = [d.address for d in hub.devices.values() if d.driver == "simulated"]
    for address in addresses:
        await hub.ingest("simulated", HealthReading(address=address, at=time.time(), online=False))
    await hub.supervision.check()
    await asyncio.sleep(0.6)
    await hub.supervision.check()
    await asyncio.sleep(0.6)  # the engine's own grace timers must not fire for grouped devices
    anomalies = (await api.get("/api/v1/anomalies"))["items"]
    assert [(a["kind"], a["subject"]) for a in anomalies] == [("sensor_offline", "bridge:simulated")]
    for address in addresses:
        await hub.ingest("simulated", HealthReading(address=address, at=time.time(), online=True))
    assert (await api.get("/api/v1/anomalies"))["items"] == []


async def test_ups_low_battery_is_the_hubs(api: Api, running_hub: RunningHub) -> None:
    hub = running_hub.hub
    await pair_device(
        hub,
        driver="nut",
        address="ups1@127.0.0.1:3493",
        name="UPS",
        room="",
        model="dummy",
        bindkey=None,
        zones=[("power", None, None, None)],
        by="config",
    )
    await hub.ingest("nut", HealthReading(address="ups1@127.0.0.1:3493", at=time.time(), battery_low=True))
    anomalies = (await api.get("/api/v1/anomalies"))["items"]
    assert [a["kind"] for a in anomalies] == ["hub_battery_low"]
