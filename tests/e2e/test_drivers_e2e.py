"""Real sensor paths through the daemon: zigbee2mqtt on a real mosquitto, NUT on a real
upsd, a BTHome advert through the BLE callback, and a silent device."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.peers.mosquitto import Mosquitto
from tests.peers.nut import NutServer, require_nut

IEEE = "0x00158d0001a2b3c4"


async def wait_for(api: Api, path: str, predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        body = await api.get(path)
        if predicate(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: condition not met; last: {body}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    directory = tmp_path / "mqtt"
    directory.mkdir()
    server = Mosquitto(directory)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def logged_in(running: RunningHub, session: aiohttp.ClientSession) -> Api:
    api = Api(running.base, session)
    await api.login()
    return api


async def test_zigbee2mqtt_water_leak_and_availability(
    tmp_path: Path, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.core.supervision.GROUP_WINDOW", 0.0)
    cfg = tmp_path / "casahub.toml"
    cfg.write_text(
        f'[alarm]\noffline_grace = 1\n\n[[drivers]]\ntype = "zigbee2mqtt"\nhost = "127.0.0.1"\nport = {broker.port}\n'
    )
    running = await start_hub(tmp_path / "data", config=cfg)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = await logged_in(running, session)
            async with aiomqtt.Client("127.0.0.1", broker.port) as mqtt:
                devices = [
                    {
                        "ieee_address": IEEE,
                        "friendly_name": "kitchen_leak",
                        "type": "EndDevice",
                        "definition": {"model": "SJCGQ11LM", "vendor": "Aqara", "exposes": []},
                    }
                ]
                await mqtt.publish("zigbee2mqtt/bridge/devices", json.dumps(devices), retain=True)
                status, device = await api.post(
                    "/api/v1/devices",
                    {
                        "driver": "zigbee2mqtt",
                        "address": IEEE,
                        "name": "Perdita cucina",
                        "room": "Cucina",
                        "zones": [{"kind": "water"}],
                    },
                )
                assert status == 201, device
                await asyncio.sleep(0.3)  # the driver has the device list
                state = {"battery": 100, "battery_low": False, "linkquality": 132, "water_leak": True}
                await mqtt.publish("zigbee2mqtt/kitchen_leak", json.dumps(state))
                incidents = await wait_for(
                    api, "/api/v1/incidents", lambda b: [i for i in b["items"] if i["kind"] == "water"]
                )
                incident = next(i for i in incidents["items"] if i["kind"] == "water")
                assert incident["activations"][0]["zone"] == device["zones"][0]
                await wait_for(
                    api,
                    f"/api/v1/notifications?incident={incident['id']}",
                    lambda b: {"sms", "push", "email", "centre"} <= {r["channel"] for r in b["items"]},
                )
                # The sensor drops off the network: a fault after the grace, never an intrusion.
                await mqtt.publish("zigbee2mqtt/kitchen_leak/availability", json.dumps({"state": "offline"}))
                anomalies = await wait_for(
                    api, "/api/v1/anomalies", lambda b: [a for a in b["items"] if a["kind"] == "sensor_offline"]
                )
                assert [a["device"] for a in anomalies["items"] if a["kind"] == "sensor_offline"] == [device["id"]]
                assert [i["kind"] for i in (await api.get("/api/v1/incidents"))["items"]] == ["water"]
    finally:
        await running.stop()


async def test_nut_mains_loss_is_a_power_incident_after_the_debounce(tmp_path: Path) -> None:
    require_nut()
    nut = NutServer(tmp_path / "nut")
    await nut.start()
    cfg = tmp_path / "casahub.toml"
    cfg.write_text(
        f'[[drivers]]\ntype = "nut"\nhost = "127.0.0.1"\nport = {nut.port}\nups = "{nut.ups}"\n'
        f'username = "{nut.username}"\npassword = "{nut.password}"\ndebounce = 1\npoll = 0.3\n'
    )
    running = await start_hub(tmp_path / "data", config=cfg)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = await logged_in(running, session)
            zones = await wait_for(
                api,
                "/api/v1/zones",
                lambda b: [z for z in b["items"] if z["kind"] == "power" and z["device"].startswith("nut")],
            )
            ups_zone = next(z for z in zones["items"] if z["device"].startswith("nut"))
            nut.set_status("OB DISCHRG")
            incidents = await wait_for(
                api, "/api/v1/incidents", lambda b: [i for i in b["items"] if i["kind"] == "power"]
            )
            power = next(i for i in incidents["items"] if i["kind"] == "power")
            assert power["activations"][0]["zone"] == ups_zone["id"]
            nut.set_status("OL")
            await wait_for(api, f"/api/v1/zones/{ups_zone['id']}", lambda z: z["active"] is False)
    finally:
        await running.stop()
        await nut.stop()


async def test_bthome_smoke_advert_is_a_fire_incident(tmp_path: Path) -> None:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from drivers.base import DriverContext
    from drivers.bthome import BTHOME_UUID, BTHomeDriver
    from hub.core.pairing import pair_device
    from hub.daemon import _pump

    class QuietScanner:
        async def start(self) -> None:
            pass

        async def stop(self) -> None:
            pass

    running = await start_hub(tmp_path / "data")
    hub = running.hub
    mac = "3C:2E:F5:AA:BB:CC"
    try:
        await pair_device(
            hub,
            driver="bthome",
            address=mac,
            name="Fumo cucina",
            room="Cucina",
            model="DIY",
            bindkey=None,
            zones=[("smoke", None, None, None)],
            by="test",
        )
        context = DriverContext(paired=lambda: {d.address for d in hub.devices.values() if d.driver == "bthome"})
        driver = BTHomeDriver({}, context, scanner_factory=lambda callback, mode: QuietScanner())
        async with driver:
            pump = asyncio.create_task(_pump(hub, "bthome", driver))
            # BTHome v2, not encrypted: packet id 1, battery 90 %, smoke detected.
            frame = bytes.fromhex("400001015a2901")
            device = BLEDevice(mac, "DIY-smoke", None)
            adv = AdvertisementData(
                local_name="DIY-smoke",
                manufacturer_data={},
                service_data={BTHOME_UUID: frame},
                service_uuids=[],
                tx_power=None,
                rssi=-70,
                platform_data=(),
            )
            driver.handle_advertisement(device, adv)
            for _ in range(100):
                if any(i.kind == "fire" for i in hub.state.incidents.values()):
                    break
                await asyncio.sleep(0.02)
            fire = [i for i in hub.state.incidents.values() if i.kind == "fire"]
            assert fire and fire[0].activations[0].zone == hub.device_by_address("bthome", mac).id  # type: ignore[union-attr]
            assert hub.devices[fire[0].activations[0].zone].battery == 90
            pump.cancel()
    finally:
        await running.stop()
