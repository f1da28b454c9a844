"""A siren's commands survive kill -9 and a full disk (issue 16, docs/architecture.md: the durability rule).

`casahub serve --demo` runs as a child process (tests/reliability/hub_process.py) with a
zigbee2mqtt driver on a real Mosquitto; the test plays zigbee2mqtt with the `Bridge` of
tests/integration/test_outputs_zigbee.py (a door contact and a Woox siren that publishes
`alarm`), paired through the API.

- kill -9 while triggered: the restarted hub commands the siren again for the siren time left
  (a `recover` row); killed again and restarted after the siren time ended, it commands `stop`.
- a full disk (the data dir a tmpfs filled to the last byte, no reserve): the alarm still
  sounds the siren, from memory, and the command is written with its state once there is room.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.conftest import Api
from tests.integration import test_zigbee2mqtt as sensors
from tests.integration.test_backup_schedule import mount_tmpfs
from tests.integration.test_outputs_zigbee import BASE, DOOR, NAMES, WOOX, Bridge, device_list, warning
from tests.peers import wait_until
from tests.peers.mosquitto import Mosquitto
from tests.reliability.hub_process import HubProcess, db_rows
from tests.reliability.test_crash import client
from tests.reliability.test_disk_full import fill, unfill

CODE = "12345"
SIREN_TIME = 12
CONFIG = """
[alarm]
exit_delay = 0
entry_delay = 1
siren_time = {siren_time}

[storage]
reserve_mb = 0

[[drivers]]
type = "zigbee2mqtt"
host = "127.0.0.1"
port = {port}
"""


@asynccontextmanager
async def zigbee(tmp_path: Path) -> AsyncIterator[tuple[Mosquitto, Bridge]]:
    broker = Mosquitto(tmp_path / "mosquitto")
    await broker.start()
    try:
        async with aiomqtt.Client(broker.host, broker.port) as mqtt:
            await mqtt.subscribe(f"{BASE}/+/set", qos=1)
            await mqtt.publish(f"{BASE}/bridge/devices", json.dumps(device_list()), qos=1, retain=True)
            bridge = Bridge(mqtt)
            serving = asyncio.create_task(bridge.serve())
            try:
                yield broker, bridge
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
    finally:
        broker.kill()


def hub_process(tmp_path: Path, data_dir: Path, broker: Mosquitto) -> HubProcess:
    config = tmp_path / "casahub.toml"
    config.write_text(CONFIG.format(siren_time=SIREN_TIME, port=broker.port), encoding="utf-8")
    return HubProcess(data_dir, config, dict(os.environ), tmp_path / "hub.log")


async def pair(api: Api, bridge: Bridge) -> tuple[str, str]:
    """The door (entry) and the Woox siren, paired through the API; (door zone, siren output)."""
    wanted = {f"zigbee2mqtt:{DOOR}", f"zigbee2mqtt:{WOOX}"}
    for _ in range(200):
        if wanted <= {c["id"] for c in (await api.get("/api/v1/pairing/candidates"))["items"]}:
            break
        await asyncio.sleep(0.05)
    status, door = await api.post(
        "/api/v1/devices",
        {"candidate": f"zigbee2mqtt:{DOOR}", "name": NAMES[DOOR], "zones": [{"kind": "contact", "behaviour": "entry"}]},
    )
    assert status == 201, door
    status, siren = await api.post(
        "/api/v1/devices", {"candidate": f"zigbee2mqtt:{WOOX}", "name": NAMES[WOOX], "outputs": [{"kind": "siren"}]}
    )
    assert status == 201, siren
    zone = next(z["id"] for z in (await api.get("/api/v1/zones"))["items"] if z["device"] == door["id"])
    await bridge.publish(DOOR, {**sensors.DOOR_STATE, "contact": True})
    return zone, "sirena-esterna"


async def arm(api: Api) -> None:
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
    assert status == 200 and body["mode"] == "armed_away", body


async def intrusion(bridge: Bridge) -> float:
    """The door opens; returns when the siren's burglar command reached the bridge."""
    since = len(bridge.sets)
    await bridge.publish(DOOR, {**sensors.DOOR_STATE, "contact": False})
    await bridge.wait(WOOX, warning("burglar"), since)
    return time.time()


def commands(hub: HubProcess, output: str) -> list[dict[str, Any]]:
    rows = db_rows(hub.db_path, "SELECT * FROM output_commands WHERE output = ? ORDER BY id", (output,))
    return [dict(r) for r in rows]


async def test_kill_9_while_triggered_sounds_again_for_the_time_left_then_stops(tmp_path: Path) -> None:
    async with zigbee(tmp_path) as (broker, bridge):
        hub = hub_process(tmp_path, tmp_path / "data", broker)
        await hub.start()
        try:
            async with client(hub.base) as api:
                _, siren = await pair(api, bridge)
                await arm(api)
                triggered = await intrusion(bridge)
                assert (await api.get("/api/v1/system"))["mode"] == "triggered"
            hub.kill_9()
            since = len(bridge.sets)
            await hub.start()
            # Within the siren time: sounded again, for what is left of it.
            [again] = await bridge.wait(WOOX, warning("burglar"), since)
            assert 1 <= again["warning"]["duration"] <= SIREN_TIME
            recover = [r for r in commands(hub, siren) if r["reason"] == "recover"]
            assert [r["action"] for r in recover] == ["burglar"]
            assert json.loads(recover[0]["command"])["seconds"] < SIREN_TIME
            hub.kill_9()
            # Killed again; back after the siren time ended: the siren is told to stop.
            await asyncio.sleep(max(0.0, triggered + SIREN_TIME + 1 - time.time()))
            since = len(bridge.sets)
            await hub.start()
            assert (await bridge.wait(WOOX, warning("stop"), since)) == [{"warning": {"mode": "stop"}}]
            assert bridge.to(WOOX, since)[0] == {"warning": {"mode": "stop"}}  # no burglar first
            await wait_until(lambda: commands(hub, siren)[-1]["state"] == "confirmed", 10, "the stop confirmed")
            rows = commands(hub, siren)
            assert (rows[-1]["action"], rows[-1]["reason"]) == ("stop", "time_over")
            assert hub.terminate() == 0
        finally:
            hub.kill_9(expect_running=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> AsyncIterator[Path]:
    data = tmp_path / "data"
    mount_tmpfs(data, "24m")
    yield data  # type: ignore[misc]
    subprocess.run(["umount", "-l", str(data)], check=False)


async def test_a_full_disk_still_sounds_the_siren_and_writes_it_later(tmp_path: Path, small_disk: Path) -> None:
    async with zigbee(tmp_path) as (broker, bridge):
        hub = hub_process(tmp_path, small_disk, broker)
        await hub.start()
        try:
            async with client(hub.base) as api:
                _, siren = await pair(api, bridge)
                await arm(api)
                fill(small_disk)
                await intrusion(bridge)  # the alarm's steps could not be written: sent from memory
                system = await api.get("/api/v1/system")
                assert system["mode"] == "triggered"
                assert "storage_error" in [a["kind"] for a in system["anomalies"]]
                assert [r["action"] for r in commands(hub, siren)] == []  # not on disk
                # Room again: the storage probe writes what was kept in memory, with its state.
                unfill(small_disk)
                # The probe runs every 5 s (hub/core/degraded.py PROBE_INTERVAL).
                try:
                    await wait_until(lambda: bool(commands(hub, siren)), 30, "the siren's command written")
                except AssertionError as exc:
                    raise AssertionError(f"{exc}; the hub's log:\n{hub.tail()}") from None
                rows = commands(hub, siren)
                assert [(r["action"], r["reason"], r["state"]) for r in rows] == [
                    ("burglar", "intrusion", "confirmed")
                ], hub.tail()
                since = len(bridge.sets)
                status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
                assert status == 200, body
                await bridge.wait(WOOX, warning("stop"), since)
            assert hub.terminate() == 0
        finally:
            hub.kill_9(expect_running=False)
