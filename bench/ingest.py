"""Ingest: 1,000 paired devices reporting at once, and what an alarm costs under that load.

The hub of bench/rig.py (demo hub, every peer) gets 1,000 devices paired through
`pair_device` (hub/core/pairing.py) on a driver of its own (`FeedDriver` "bench", known to the daemon so that
supervision asks it for intervals): 984 motion sensors and 4 each of water, smoke, panic and
power. The system stays disarmed. Readings go in at the driver boundary (the driver's queue;
a pump feeds `hub.ingest` as the daemon's does), all through the one driver, in order:

- 99 % telemetry: `HealthReading` battery/signal of the next device round-robin;
- 1 % state changes: a motion zone toggling (disarmed: journaled, no alarm).

Phase 1, paced: readings are offered at `rate` per second for `seconds` s (open loop, in
5 ms slices). Every 300 ms an alarm goes in *through the same queue* (a 24h zone of the
bench driver: water, smoke, panic, power in turn), is timed from the put to the COMMIT of
the step that opened its incident, restored, and its incident resolved. Throughput is what
the hub finished per second; the backlog is sampled every 100 ms.
Phase 2, saturated: the queue is kept full for `saturate` s: the hub's ceiling.

Checked afterwards: every state change fed is one `sensor_changed` journal row, and after
`flush_telemetry` every device row holds the last battery and signal it reported.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import time
from pathlib import Path
from typing import Any

from alarms.model import IncidentOpened, Resolve, SensorChanged
from bench.common import Report, Row, fmt_rate, latency_row, now_iso, proc_status, say
from bench.rig import Rig, bench_hub
from drivers import base as drivers_base
from drivers.base import HealthReading, SensorReading
from hub.core.pairing import pair_device
from tests.peers import wait_until

SECTION = "3. ingest (1,000 devices, 99 % telemetry / 1 % state changes)"
TARGET_RATE = 20_000.0
ALARM_KINDS = ("water", "smoke", "panic", "power")
ALARM_DEVICES_PER_KIND = 4
SLICE = 0.005
STATE_CHANGE_EVERY = 100  # 1 %
# A generator that fell behind (the loop was busy) catches up by at most this many slices at
# once: a burst of tens of thousands of readings made in one go is the generator's own lag, and
# an alarm put just before it would wait for it (the alarm's wait is also given net of it).
CATCH_UP_SLICES = 4


class Busy:
    """The intervals the load generator spent making and putting readings, in time order, so an
    alarm's wait can be given net of the generator's own work (it shares the hub's event loop)."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []

    def note(self, start: float, end: float) -> None:
        self.starts.append(start)
        self.ends.append(end)

    def within(self, start: float, end: float) -> float:
        """Seconds the generator was busy between `start` and `end`."""
        total = 0.0
        i = max(0, bisect.bisect_right(self.starts, start) - 1)
        while i < len(self.starts) and self.starts[i] < end:
            total += max(0.0, min(end, self.ends[i]) - max(start, self.starts[i]))
            i += 1
        return total


def shed(name: str) -> int:
    """Telemetry the driver's stream coalesced or refused so far (drivers/base.py)."""
    return sum(n for (stream, _), n in drivers_base.TELEMETRY_SHED.items() if stream == name)


def rss_mb() -> float:
    return proc_status().get("VmRSS", 0) / 1024


class Load:
    """Generates the readings: telemetry round-robin, every 100th a motion zone toggling."""

    def __init__(self, addresses: list[str], motion: list[str]) -> None:
        self.addresses = addresses
        self.motion = motion
        self.motion_state = dict.fromkeys(motion, False)
        self.n = 0
        self.changes = 0
        self.last: dict[str, tuple[float, int]] = {}  # address -> (battery, signal) last reported

    def make(self, count: int, at: float) -> list[Any]:
        out: list[Any] = []
        addresses, motion = self.addresses, self.motion
        for _ in range(count):
            n = self.n
            self.n = n + 1
            if n % STATE_CHANGE_EVERY == STATE_CHANGE_EVERY - 1:
                address = motion[(n // STATE_CHANGE_EVERY) % len(motion)]
                active = not self.motion_state[address]
                self.motion_state[address] = active
                self.changes += 1
                out.append(SensorReading(address=address, kind="motion", active=active, at=at))
            else:
                address = addresses[n % len(addresses)]
                battery, signal = float(50 + n % 47), -50 - n % 37
                self.last[address] = (battery, signal)
                out.append(HealthReading(address=address, at=at, battery=battery, signal=signal))
        return out


async def pair(rig: Rig, devices: int) -> tuple[list[str], list[str], dict[str, list[str]], float]:
    hub = rig.hub
    started = time.monotonic()
    addresses: list[str] = []
    motion: list[str] = []
    alarm: dict[str, list[str]] = {kind: [] for kind in ALARM_KINDS}
    for i in range(devices):
        kind = ALARM_KINDS[i // ALARM_DEVICES_PER_KIND] if i < len(ALARM_KINDS) * ALARM_DEVICES_PER_KIND else "motion"
        address = f"b{i:04d}"
        # by="config": declared devices are not news to the household (no push per device)
        await pair_device(
            hub,
            driver="bench",
            address=address,
            name=f"Bench {kind} {i}",
            room="Bench",
            model="BENCH-1",
            bindkey=None,
            zones=[(kind, None, None, None)],
            by="config",
        )
        addresses.append(address)
        (motion if kind == "motion" else alarm[kind]).append(address)
    return addresses, motion, alarm, time.monotonic() - started


async def measure(
    rig: Rig, *, devices: int, seconds: float, rate: float, saturate: float, floor: dict[str, float] | None
) -> dict[str, Any]:
    hub = rig.hub
    say(f"  ingest: pairing {devices} devices ...")
    addresses, motion, alarm_devices, pairing_s = await pair(rig, devices)
    await rig.outbox_idle()
    feed, pump_task = rig.add_feed("bench", interval=60.0)
    load = Load(addresses, motion)
    zone_of = {d.address: d.id for d in hub.devices.values() if d.driver == "bench"}  # one zone each

    changes_before = await rig.count("SELECT COUNT(*) FROM events WHERE kind = 'sensor_changed'")
    # Every device reports once before timing (their first reading takes them from 'never heard').
    at = time.time()
    for reading in load.make(len(addresses), at):
        feed.queue.put_nowait(reading)
    await wait_until(lambda: feed.queue.empty() and feed.done + shed("bench") >= load.n, 60, "warm-up readings")

    alarm_latency: list[float] = []
    alarm_queue_wait: list[float] = []
    alarm_latency_net: list[float] = []  # less the time the load generator ran meanwhile
    alarm_queue_wait_net: list[float] = []
    busy = Busy()
    alarms_fed = 0
    opened: dict[str, tuple[float, str]] = {}  # zone -> (commit time, incident)

    def listener(event: Any, step: Any, committed: float, done: float) -> None:
        if isinstance(event, SensorChanged) and event.active:
            for effect in step.effects:
                if isinstance(effect, IncidentOpened):
                    opened[event.zone] = (committed, effect.incident.id)

    rig.listeners.append(listener)
    ingest_started: dict[str, float] = {}
    original_ingest = hub.ingest

    async def ingest(driver: str, reading: Any) -> None:
        if isinstance(reading, SensorReading) and reading.kind != "motion":
            ingest_started[reading.address] = time.perf_counter()
        await original_ingest(driver, reading)

    hub.ingest = ingest

    stop = asyncio.Event()
    backlog: list[int] = []
    backlog_over = 0  # samples above the bound: one per device, plus the urgent readings not yet read

    async def sample_backlog() -> None:
        nonlocal backlog_over
        while not stop.is_set():
            size = feed.queue.qsize()
            backlog.append(size)
            backlog_over += size > devices + len(feed.queue.stream._urgent)
            await asyncio.sleep(0.1)

    async def alarms() -> None:
        nonlocal alarms_fed
        n = 0
        while not stop.is_set():
            await asyncio.sleep(0.3)
            if stop.is_set():
                return
            kind = ALARM_KINDS[n % len(ALARM_KINDS)]
            address = alarm_devices[kind][(n // len(ALARM_KINDS)) % ALARM_DEVICES_PER_KIND]
            zone = zone_of[address]
            n += 1
            opened.pop(zone, None)
            started = time.perf_counter()
            feed.queue.put_nowait(SensorReading(address=address, kind=kind, active=True, at=time.time()))
            alarms_fed += 1
            try:
                await wait_until(lambda: zone in opened, 30, f"alarm on {zone}")
            except AssertionError:
                say(f"  ingest: alarm on {zone} not committed within 30 s")
                continue
            committed, incident = opened[zone]
            picked = ingest_started.get(address, started)
            alarm_latency.append(committed - started)
            alarm_queue_wait.append(picked - started)
            alarm_latency_net.append(committed - started - busy.within(started, committed))
            alarm_queue_wait_net.append(picked - started - busy.within(started, picked))
            await asyncio.sleep(0.05)
            feed.queue.put_nowait(SensorReading(address=address, kind=kind, active=False, at=time.time()))
            alarms_fed += 1
            await hub.submit(Resolve(incident=incident, by="bench"), actor="bench")

    async def offer(duration: float, paced: bool) -> tuple[int, int, float, float]:
        """Feed for `duration` s; returns (readings offered, readings the hub ingested, seconds, CPU
        seconds of this process). Paced: `rate` per second. Saturated: the queue kept full (one
        waiting reading per device: more would only be coalesced)."""
        done0, t0, cpu0 = feed.done, time.perf_counter(), time.process_time()
        offered = 0
        while (elapsed := time.perf_counter() - t0) < duration:
            if paced:
                due = min(int(rate * elapsed) - offered, int(rate * SLICE * CATCH_UP_SLICES))
            else:
                due = max(0, devices - feed.queue.qsize())
            if due > 0:
                began = time.perf_counter()
                at = time.time()
                for reading in load.make(due, at):
                    feed.queue.put_nowait(reading)
                offered += due
                busy.note(began, time.perf_counter())
            await asyncio.sleep(SLICE)
        return offered, feed.done - done0, time.perf_counter() - t0, time.process_time() - cpu0

    say(f"  ingest: {rate:,.0f} readings/s offered for {seconds:g} s, alarms every 300 ms ...")
    tasks = [asyncio.create_task(sample_backlog()), asyncio.create_task(alarms())]
    shed_before, rss_before = shed("bench"), rss_mb()
    paced_offered, paced_done, paced_s, paced_cpu = await offer(seconds, paced=True)
    paced_shed, rss_after = shed("bench") - shed_before, rss_mb()
    stop.set()
    await asyncio.gather(*tasks)
    paced_backlog_end = feed.queue.qsize()
    await wait_until(lambda: feed.queue.empty(), 120, "the paced backlog to drain")
    drained_at = time.perf_counter()

    say(f"  ingest: saturating for {saturate:g} s ...")
    _, sat_done, sat_s, sat_cpu = await offer(saturate, paced=False)
    await wait_until(lambda: feed.queue.empty(), 120, "the saturated backlog to drain")
    drain_s = time.perf_counter() - drained_at - sat_s
    await asyncio.sleep(0.05)
    hub.ingest = original_ingest
    rig.listeners.remove(listener)

    # nothing lost: one journal row per state change, the last telemetry in every device row
    await hub.flush_telemetry()
    changes_after = await rig.count("SELECT COUNT(*) FROM events WHERE kind = 'sensor_changed'")
    journaled = changes_after - changes_before
    expected = load.changes + alarms_fed
    rows = await hub.db.fetchall("SELECT address, battery, signal FROM devices WHERE driver = 'bench'")
    stale = sum(1 for r in rows if load.last.get(r["address"]) not in (None, (r["battery"], r["signal"])))
    feed.queue.put_nowait(None)
    await pump_task
    await rig.outbox_idle(60)

    paced_rate = paced_done / paced_s
    offered_rate = paced_offered / paced_s
    accepted_rate = (paced_done + paced_shed) / paced_s  # ingested, or coalesced into a newer value
    sat_rate = sat_done / sat_s
    row, alarm_entry = latency_row(
        SECTION, "(a) alarm committed under the paced load", alarm_latency, floor, p99_max_ms=10.0, floor_p99_max_x=3.0
    )
    wait_row, wait_entry = latency_row(SECTION, "    of which waiting in the driver queue", alarm_queue_wait, floor)
    net_row, net_entry = latency_row(
        SECTION, "    committed, less the load generator's own work", alarm_latency_net, floor, p99_max_ms=25.0
    )
    net_wait_row, net_wait_entry = latency_row(
        SECTION, "    waiting in the queue, less the generator's work", alarm_queue_wait_net, floor
    )
    return {
        "rows": [
            Row(SECTION, f"pairing {devices} devices (pair_device)", value=f"{pairing_s:.1f} s"),
            Row(
                SECTION,
                f"readings/s accepted, {offered_rate:,.0f}/s offered {seconds:g} s",
                value=f"{fmt_rate(accepted_rate)}/s",
                target=f">= {TARGET_RATE:,.0f}/s",
                met=accepted_rate >= TARGET_RATE * 0.98 and backlog_over == 0,
            ),
            Row(
                SECTION,
                "    of which ingested / coalesced (shed, newer value kept)",
                value=f"{fmt_rate(paced_rate)}/s / {fmt_rate(paced_shed / paced_s)}/s",
            ),
            Row(
                SECTION,
                f"    driver queue max / at end (bound: {devices:,} devices + urgent)",
                value=f"{max(backlog, default=0):,} / {paced_backlog_end:,}",
                target="within the bound",
                met=backlog_over == 0,
            ),
            Row(SECTION, "    RSS of the bench process before / after", value=f"{rss_before:.0f} / {rss_after:.0f} MB"),
            Row(
                SECTION,
                "    CPU of the bench process (hub+load, no peers)",
                value=f"{100 * paced_cpu / paced_s:.0f} % of a core",
            ),
            Row(
                SECTION,
                f"readings/s, queue kept full {saturate:g} s (ceiling)",
                value=f"{fmt_rate(sat_rate)}/s",
                target=f">= {TARGET_RATE:,.0f}/s",
                met=sat_rate >= TARGET_RATE,
            ),
            Row(
                SECTION,
                "state changes journaled / fed",
                value=f"{journaled:,} / {expected:,}",
                target="all",
                met=journaled == expected,
            ),
            Row(
                SECTION,
                "device rows with stale telemetry after flush",
                value=f"{stale} of {len(rows)}",
                target="0",
                met=stale == 0,
            ),
            row,
            wait_row,
            net_row,
            net_wait_row,
        ],
        "devices": devices,
        "pairing_seconds": round(pairing_s, 2),
        "paced": {
            "offered_per_s": rate,
            "offered_per_s_achieved": round(offered_rate),
            "accepted_per_s": round(accepted_rate),
            "shed": paced_shed,
            "backlog_samples_over_bound": backlog_over,
            "rss_mb_before": round(rss_before, 1),
            "rss_mb_after": round(rss_after, 1),
            "seconds": round(paced_s, 2),
            "readings": paced_done,
            "readings_per_s": round(paced_rate),
            "backlog_max": max(backlog, default=0),
            "backlog_end": paced_backlog_end,
            "cpu_percent_of_one_core": round(100 * paced_cpu / paced_s, 1),
        },
        "saturated": {
            "seconds": round(sat_s, 2),
            "readings": sat_done,
            "readings_per_s": round(sat_rate),
            "cpu_percent_of_one_core": round(100 * sat_cpu / sat_s, 1),
            "drain_seconds_after": round(drain_s, 2),
        },
        "state_changes_fed": expected,
        "state_changes_journaled": journaled,
        "alarms_fed": alarms_fed,
        "stale_device_rows": stale,
        "alarm_committed": alarm_entry,
        "alarm_queue_wait": wait_entry,
        "alarm_committed_net_of_generator": net_entry,
        "alarm_queue_wait_net_of_generator": net_wait_entry,
        "target_readings_per_s": TARGET_RATE,
        "cores": os.cpu_count(),
    }


async def _run(folder: Path, **kwargs: Any) -> dict[str, Any]:
    async with bench_hub(folder) as rig:
        return await measure(rig, **kwargs)


def run(
    folder: Path,
    report: Report,
    floor: dict[str, float] | None,
    *,
    devices: int = 1000,
    seconds: float = 30.0,
    rate: float = TARGET_RATE,
    saturate: float = 10.0,
) -> dict[str, Any]:
    started = time.monotonic()
    result = asyncio.run(_run(folder, devices=devices, seconds=seconds, rate=rate, saturate=saturate, floor=floor))
    report.add(*result.pop("rows"))
    result["date"] = now_iso()
    result["took_seconds"] = round(time.monotonic() - started, 1)
    return result
