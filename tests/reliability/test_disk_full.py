"""A full disk: changes are durable or refused, the reserve keeps the journal going, disarm always works.

The hub runs as a child process on a small tmpfs (its whole data dir) that a filler file fills
to the last byte, and is killed with SIGKILL: what it answered 2xx for must be there after a
restart. A tmpfs needs root (CI runs as root: there a failed mount fails the test).
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from hub.store.disk_reserve import RESERVE_NAME
from tests.integration.test_backup_schedule import mount_tmpfs
from tests.peers import wait_until
from tests.reliability.hub_process import HubProcess
from tests.reliability.test_crash import client

CODE = "12345"
RESERVE_MB = 2


async def reserve_made(reserve: Path) -> None:
    """The hub makes its reserve just after it answers health 200 (it may take a while on an SD
    card without fallocate): wait for it rather than read the file half made."""
    await wait_until(lambda: reserve.exists() and reserve.stat().st_size == RESERVE_MB << 20, 10, what="the reserve")


def fill(directory: Path) -> Path:
    """Write a filler file until the file system has not one byte left."""
    filler = directory / f"filler-{len(list(directory.glob('filler-*')))}"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 4096, 1):
            chunk = b"\0" * size
            try:
                while out.write(chunk):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def unfill(directory: Path) -> None:
    for filler in directory.glob("filler-*"):
        filler.unlink()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    mount_tmpfs(data, "24m")
    yield data
    subprocess.run(["umount", "-l", str(data)], check=False)


async def test_changes_are_durable_or_refused_and_disarm_still_works(tmp_path: Path, data_dir: Path) -> None:
    config = tmp_path / "casahub.toml"
    config.write_text(f"[storage]\nreserve_mb = {RESERVE_MB}\n", encoding="utf-8")
    hub = HubProcess(data_dir, config, dict(os.environ), tmp_path / "hub.log")
    await hub.start()
    reserve = data_dir / RESERVE_NAME
    try:
        await reserve_made(reserve)
        async with client(hub.base) as api:
            door = await api.zone_id("contact")
            water = await api.zone_id("water")

            # 1. The disk is full: the reserve gives the journal room, the change is made and kept.
            fill(data_dir)
            status, body = await api.request("PATCH", f"/api/v1/zones/{door}", {"name": "Porta blindata"})
            assert status == 200, body
            assert not reserve.exists()
            system = await api.get("/api/v1/system")
            faults = [(a["kind"], a.get("subject")) for a in system["anomalies"]]
            assert ("storage_error", "disk") in faults, faults
        hub.kill_9()
        unfill(data_dir)
        await hub.start()
        async with client(hub.base) as api:
            assert (await api.get(f"/api/v1/zones/{door}"))["name"] == "Porta blindata"
            assert reserve.stat().st_size == RESERVE_MB << 20  # made again once there was room
            kinds = [(a["kind"], a.get("subject")) for a in (await api.get("/api/v1/system"))["anomalies"]]
            assert ("storage_error", "disk") not in kinds, kinds

            # 2. Armed, the disk fills: an alarm uses the reserve and is kept...
            status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
            assert status == 200, body
            fill(data_dir)
            await api.trigger(water)
            assert not reserve.exists()
            fill(data_dir)  # ... and now there is no room at all.
            status, body = await api.post("/api/v1/system/arm", {"mode": "home", "code": CODE})
            assert (status, body["error"]) == (503, "storage_error"), body
            assert (await api.get("/api/v1/system"))["mode"] == "arming_away"  # not made
            status, body = await api.post(
                f"/api/v1/incidents/{(await api.get('/api/v1/incidents'))['items'][0]['id']}/ack"
            )
            assert (status, body["error"]) == (503, "storage_error"), body
            # People first: a disarm works even when it cannot be written.
            status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
            assert status == 200 and body["mode"] == "disarmed", body
        hub.kill_9()
        unfill(data_dir)
        await hub.start()
        async with client(hub.base) as api:
            system = await api.get("/api/v1/system")
            # What was answered 2xx and written is there: the arming and the water alarm. The
            # disarm was only in memory when the hub was killed (it is written once storage works).
            assert system["mode"] in ("arming_away", "armed_away"), system
            assert [i["kind"] for i in system["incidents"]] == ["water"], system["incidents"]
            assert (await api.get(f"/api/v1/zones/{door}"))["name"] == "Porta blindata"
    finally:
        hub.kill_9(expect_running=False)
