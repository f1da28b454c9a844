"""SD-card wear: bytes written to storage for one simulated day of a 50-sensor home.

A child process (`python -m bench.wear --child DIR HOURS`) runs the hub core alone, with
nothing else writing: `hub.storage.Database` + `hub.runtime.Hub` on a fake clock, 50 paired
sensors (10 each of contact, motion, water, smoke, and 5 power + 5 panic). Then, per simulated
minute: every sensor reports a HealthReading (battery slowly draining, signal wobbling) with
that minute's timestamp, and `flush_telemetry()` runs as the 60 s timer would (1,440 times a
day). 10 state changes an hour (a door or a motion zone opening or closing, system disarmed,
as in daily life) go in at their minutes. Time is compressed: a day takes seconds.

Measured over the day (after pairing): `write_bytes` of the child from /proc/self/io (what it
caused to be written to the storage layer: WAL frames, checkpoints into the database file, the
-shm index), `wchar` (bytes handed to write(2)), the sectors the whole block device wrote
meanwhile (includes the file system's journal; other processes may add noise), and the
number of commits. Target: <= 20 MB a day.

Not part of the hub core and so computed apart: the DC-09 link supervision (a NULL poll every
`supervision_interval` = 90 s uses a sequence number; the file is rewritten with two fsyncs once per
`SEQUENCE_BLOCK` numbers): the child times the bytes of 100 sequence-file writes and the figure
is scaled to a day's polls.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, Report, Row, disk_sectors_written, proc_io

SECTION = "5. SD-card wear (50 sensors, 1 report/min, 10 changes/h)"
TARGET_MB = 20.0
SENSORS = (("contact", 10), ("motion", 10), ("water", 10), ("smoke", 10), ("power", 5), ("panic", 5))
CHANGES_PER_HOUR = 10
SUPERVISION_INTERVAL = 90.0


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


async def child(folder: Path, hours: int) -> dict[str, Any]:
    from alarms.model import AlarmSettings
    from alarms.policy import Contact, Escalation
    from drivers.base import HealthReading, SensorReading
    from hub.core.pairing import pair_device
    from hub.core.runtime import Hub
    from hub.store.db import Database

    clock = FakeClock(1_767_225_600.0)  # 2026-01-01 00:00 UTC
    db = Database(folder / "casahub.db")
    await db.open()
    hub = Hub(
        db,
        settings=AlarmSettings(),
        contacts=[Contact(name="Anna", phone="+393331234567", email="anna@casa.example")],
        escalation=Escalation(),
        transports={},
        clock=clock,
    )
    await hub.recover()
    addresses: list[tuple[str, str]] = []
    for kind, count in SENSORS:
        for i in range(count):
            address = f"0x00158d00{len(addresses):08x}"
            await pair_device(
                hub,
                driver="zigbee2mqtt",
                address=address,
                name=f"{kind} {i}",
                room="casa",
                model="BENCH",
                bindkey=None,
                zones=[(kind, None, None, None)],  # type: ignore[list-item]
                by="config",
            )
            addresses.append((address, kind))
    changing = [a for a, kind in addresses if kind in ("contact", "motion")]
    open_state = dict.fromkeys(changing, False)
    await db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the day starts from a settled database

    def files() -> dict[str, int]:
        return {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}

    io0, sectors0, files0 = proc_io(), disk_sectors_written(folder), files()
    commits = 0
    original_transaction = db.transaction

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def counting(**kwargs: Any) -> Any:
        nonlocal commits
        async with original_transaction(**kwargs) as conn:
            yield conn
        commits += 1

    db.transaction = counting  # type: ignore[method-assign]
    original_step = db.step_transaction

    @asynccontextmanager
    async def counting_steps() -> Any:  # engine steps have their own (hub/store/inline_tx.py)
        nonlocal commits
        async with original_step() as conn:
            yield conn
        commits += 1

    db.step_transaction = counting_steps  # type: ignore[method-assign]
    battery = {a: 95.0 - i % 7 for i, (a, _) in enumerate(addresses)}
    minutes = hours * 60
    change_minutes = {round(k * 60 / CHANGES_PER_HOUR) for k in range(CHANGES_PER_HOUR)}
    changes = 0
    started = time.monotonic()
    for minute in range(minutes):
        clock.now += 60.0
        for n, (address, _) in enumerate(addresses):
            battery[address] = max(20.0, battery[address] - 0.0007)  # ~1 % a day
            at = clock.now - 59.0 + n  # the sensors' reports spread over the minute
            await hub.ingest(
                "zigbee2mqtt",
                HealthReading(
                    address=address, at=at, battery=round(battery[address], 1), signal=-60 - (minute + n) % 5
                ),
            )
        if minute % 60 in change_minutes:
            address = changing[changes % len(changing)]
            kind = dict(addresses)[address]
            open_state[address] = not open_state[address]
            await hub.ingest(
                "zigbee2mqtt", SensorReading(address=address, kind=kind, active=open_state[address], at=clock.now)
            )
            changes += 1
        await hub.flush_telemetry()
    took = time.monotonic() - started
    io1, sectors1, files1 = proc_io(), disk_sectors_written(folder), files()
    journaled = await db.fetchone("SELECT COUNT(*) FROM events WHERE kind = 'sensor_changed'")
    await db.close()

    # The DC-09 sequence file, rewritten (atomic replace + 2 fsyncs) once per block of numbers.
    from hub.transports.dc09 import SEQUENCE_BLOCK, _write_sequence

    seq_path = folder / "centre.seq"
    io2 = proc_io()
    for n in range(100):
        _write_sequence(seq_path, n + 1)
    io3 = proc_io()
    per_frame = (io3.get("write_bytes", 0) - io2.get("write_bytes", 0)) / 100 / SEQUENCE_BLOCK

    return {
        "hours": hours,
        "sensors": len(addresses),
        "readings": minutes * len(addresses),
        "state_changes": changes,
        "state_changes_journaled": int(journaled[0]) if journaled else 0,
        "flushes": minutes,
        "commits": commits,
        "seconds": round(took, 1),
        "write_bytes": io1.get("write_bytes", 0) - io0.get("write_bytes", 0),
        "wchar": io1.get("wchar", 0) - io0.get("wchar", 0),
        "syscw": io1.get("syscw", 0) - io0.get("syscw", 0),
        "device_bytes": (sectors1 - sectors0) * 512 if sectors0 is not None and sectors1 is not None else None,
        "files_before": files0,
        "files_after": files1,
        "dc09_sequence_write_bytes": per_frame,
    }


def run(folder: Path, report: Report, *, hours: int = 24) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "bench.wear", "--child", str(folder), str(hours)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"wear child failed: {done.stderr.strip().splitlines()[-1:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    scale = 24 / r["hours"]
    per_day = r["write_bytes"] * scale / 1e6
    wchar_day = r["wchar"] * scale / 1e6
    device_day = r["device_bytes"] * scale / 1e6 if r["device_bytes"] is not None else None
    polls = 86400 / SUPERVISION_INTERVAL
    dc09_day = r["dc09_sequence_write_bytes"] * polls / 1e6
    per_flush = r["write_bytes"] / max(1, r["flushes"] + r["state_changes"])
    report.add(
        Row(
            SECTION,
            "bytes written a day, hub process (/proc io write_bytes)",
            value=f"{per_day:.1f} MB",
            target=f"<= {TARGET_MB:g} MB/day",
            met=per_day <= TARGET_MB,
        ),
        Row(SECTION, "    handed to write(2) (wchar)", value=f"{wchar_day:.1f} MB"),
        Row(
            SECTION,
            "    whole block device meanwhile (+ fs journal)",
            value=f"{device_day:.1f} MB" if device_day is not None else "n/a",
        ),
        Row(SECTION, "    per commit (telemetry flush or state change)", value=f"{per_flush / 1024:.1f} KiB"),
        Row(
            SECTION, "    state changes journaled / fed", value=f"{r['state_changes_journaled']} / {r['state_changes']}"
        ),
        Row(
            SECTION,
            f"+ DC-09 NULL poll every {SUPERVISION_INTERVAL:g} s (sequence file)",
            value=f"{dc09_day:.1f} MB/day",
        ),
        Row(
            SECTION,
            "total with the centre link supervision",
            value=f"{per_day + dc09_day:.1f} MB",
            target=f"<= {TARGET_MB:g} MB/day",
            met=per_day + dc09_day <= TARGET_MB,
        ),
    )
    return {
        **r,
        "mb_per_day": round(per_day, 2),
        "wchar_mb_per_day": round(wchar_day, 2),
        "device_mb_per_day": round(device_day, 2) if device_day is not None else None,
        "dc09_supervision_mb_per_day": round(dc09_day, 2),
        "total_mb_per_day": round(per_day + dc09_day, 2),
        "target_mb_per_day": TARGET_MB,
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        import logging

        logging.basicConfig(level=logging.ERROR)
        print(json.dumps(asyncio.run(child(Path(sys.argv[2]), int(sys.argv[3])))))
    else:
        sys.exit("usage: python -m bench.wear --child DIR HOURS (bench/__main__.py runs it)")
