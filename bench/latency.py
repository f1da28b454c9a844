"""Alarm latency, end to end: from a reading at the driver boundary to each person and the centre.

A demo hub runs in-process with every channel configured against the loopback peers of
`tests.peers.household` (Twilio double, aiosmtpd with STARTTLS + AUTH, a push service over
HTTPS, the pysiaalarm DC-09 receiver with AES-128), as in tests/e2e; the peers run in a
process of their own, as real services would, so their CPU is not in the hub's latencies
(bench/rig.py, bench/remote_peers.py). Each
alarm is a new incident, injected at the driver boundary (the simulated driver's
`set_active`), the kinds in turn:

- water, smoke, panic, power: 24h zones; restored, then the incident is resolved through the API;
- motion (a follower zone, instant when no entry delay runs) and the door (an entry zone with
  entry_delay 0: the entry delay ends at once and the deadline timer opens the incident, so
  two steps commit) while armed away: armed with exit_delay 0 by `hub.submit(ArmRequest)`
  before, disarmed after (within the abort window: the incident is cancelled).

Between two alarms the outbox is drained, so each alarm is timed on a quiet hub. Per alarm,
from `time.perf_counter()` just before `set_active` to:
- committed: COMMIT returned for the engine step that opened the incident;
- centre:    pysiaalarm ACKed the DC-09 report;
- sms:       the Twilio double answered 201 to the SMS;
- push:      the push service decrypted and accepted the push;
- email:     aiosmtpd accepted the message (DATA).
The peers stamp arrivals themselves (`time.perf_counter()`, CLOCK_MONOTONIC: one clock across
processes), so the pace of the polling here does not count.

    python -m bench.latency [--alarms N] [--output bench/results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from alarms.model import ArmRequest, Configure, DisarmRequest, IncidentOpened
from bench.common import DEFAULT_OUTPUT, Report, Row, latency_row, merge_results, now_iso
from bench.rig import Rig, bench_hub
from tests.peers import wait_until

SECTION = "2. alarm latency (quiet hub, all peers)"
STAGES = {
    "committed": ("(a) incident committed", 10.0),
    "centre": ("(b) DC-09 ACKed by pysiaalarm", 25.0),
    "sms": ("(c) SMS at the Twilio double", 50.0),
    "push": ("(d) push at the push service", 50.0),
    "email": ("(e) email accepted by aiosmtpd", 100.0),
}
COMMIT_FLOOR_X = 3.0  # (a) also within 3x the bare commit
WAIT = 60.0  # a delivery retried after a transient failure (backoff 2 s, 4 s, ...) still counts, as an outlier
# (kind, simulated address, armed): intrusion zones alarm only while armed.
ZONES = (
    ("water", "sim-water-1", False),
    ("smoke", "sim-smoke-1", False),
    ("panic", "sim-panic-1", False),
    ("power", "sim-power-1", False),
    ("motion", "sim-motion-1", True),
    ("contact", "sim-contact-1", True),
)


async def measure(rig: Rig, alarms: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Seconds from the reading to each stage, one sample per alarm and stage; and 'committed' per kind."""
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    samples["published"] = []  # submit() returned: after the dashboards' fan-out (for reference)
    by_kind: dict[str, list[float]] = {kind: [] for kind, _, _ in ZONES}
    hub, peers, api, driver = rig.hub, rig.peers, rig.api, rig.simulated
    opened: list[tuple[float, float, str]] = []  # (commit time, submit returned, incident id)
    problems = rig.problems

    def listener(event: Any, step: Any, committed: float, done: float) -> None:
        for effect in step.effects:
            if isinstance(effect, IncidentOpened):
                opened.append((committed, done, effect.incident.id))

    rig.listeners.append(listener)
    settings = msgspec.structs.replace(hub.state.settings, exit_delay=0.0, entry_delay=0.0)
    await hub.submit(Configure(settings=settings), actor="bench")

    for n in range(alarms):
        kind, address, armed = ZONES[n % len(ZONES)]
        if armed:
            await hub.submit(ArmRequest(mode="away", by="bench"))
            assert hub.state.mode == "armed_away", hub.state.mode
        await rig.outbox_idle()
        await asyncio.sleep(0.02)  # the peers note a delivery just after answering it: let them
        await peers.refresh()
        sms, mails = len(peers.twilio.accepted), len(peers.emails())
        reports, incidents = len(peers.centre.reports()), len(opened)

        started = time.perf_counter()
        await driver.set_active(address, kind, True)

        await wait_until(lambda: len(opened) > incidents, WAIT, f"alarm {n}: the incident")
        committed_at, done_at, incident = opened[incidents]
        await rig.wait_peers(
            lambda: (
                len(peers.twilio.accepted) > sms
                and len(peers.emails()) > mails
                and peers.pushes(incident)
                and len(peers.centre.reports()) > reports
            ),
            WAIT,
            f"alarm {n}: every delivery",
        )
        samples["committed"].append(committed_at - started)
        samples["published"].append(done_at - started)
        by_kind[kind].append(committed_at - started)
        samples["sms"].append(peers.twilio.accepted[sms].at - started)
        samples["email"].append(peers.emails()[mails].at - started)
        samples["push"].append(peers.pushes(incident)[0].at - started)
        samples["centre"].append(peers.centre.report_times()[reports] - started)

        # restore (a restore report to the centre); then the next alarm must be a new incident
        await driver.set_active(address, kind, False)
        try:
            await rig.wait_peers(lambda: len(peers.centre.reports()) > reports + 1, WAIT, f"alarm {n}: restore")
        except AssertionError as exc:  # the alarm is measured; note what went wrong and go on
            problems.append(f"{exc}; {await _diagnose(rig, reports)}")
            await rig.outbox_idle(WAIT)
        if armed:
            await hub.submit(DisarmRequest(by="bench"))  # within the abort window: cancelled
        else:
            status, body = await api.post(f"/api/v1/incidents/{incident}/resolve")
            assert status == 200, body
    rig.listeners.remove(listener)
    await rig.outbox_idle()
    return samples, by_kind


async def _diagnose(rig: Rig, reports: int) -> str:
    """What the outbox and the centre say, for a delivery that did not come."""
    await rig.peers.refresh()
    rows = await rig.hub.db.fetchall(
        "SELECT id, channel, template, state, attempts, last_error, payload FROM outbox"
        " WHERE channel = 'centre' ORDER BY id DESC LIMIT 4"
    )
    got = [(e.event_qualifier, e.event_type, e.ri) for e in rig.peers.centre.reports()[reports:]]
    zones = {z.id: (z.active, z.alarmed) for z in rig.hub.state.zones.values() if z.active or z.alarmed}
    return (
        f"centre rows (newest first): {[dict(r) for r in rows]}; ACKed since the alarm: {got}; "
        f"mode {rig.hub.state.mode}; zones (active, alarmed): {zones}"
    )


async def retries(rig: Rig) -> dict[str, Any]:
    """Delivery attempts that failed (each one explains an outlier): count and the first few."""
    rows = await rig.hub.db.fetchall(
        "SELECT transport, outcome, detail FROM outbox_attempts WHERE outcome != 'delivered' ORDER BY id"
    )
    return {
        "failed_attempts": len(rows),
        "first": [f"{r['transport']}: {r['outcome']}: {r['detail']}" for r in rows[:5]],
    }


def report_rows(
    report: Report, section: str, samples: dict[str, list[float]], floor: dict[str, float] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage, (label, target) in STAGES.items():
        row, entry = latency_row(
            section,
            label,
            samples[stage],
            floor,
            p99_max_ms=target,
            floor_p99_max_x=COMMIT_FLOOR_X if stage == "committed" else None,
        )
        report.add(row)
        out[stage] = entry
    if samples.get("published"):
        row, entry = latency_row(section, "    step done (after dashboard fan-out)", samples["published"], floor)
        report.add(row)
        out["published"] = entry
    return out


async def _run(folder: Path, alarms: int) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, Any]]:
    async with bench_hub(folder) as rig:
        samples, by_kind = await measure(rig, alarms)
        failed = await retries(rig)
        failed["restore_not_seen"] = rig.problems
        return samples, by_kind, failed


def run(folder: Path, report: Report, floor: dict[str, float] | None, *, alarms: int = 200) -> dict[str, Any]:
    started = time.monotonic()
    samples, by_kind, failed = asyncio.run(_run(folder, alarms))
    stages = report_rows(report, SECTION, samples, floor)
    kinds: dict[str, Any] = {}
    for kind, values in by_kind.items():
        if values:  # with its ratio to the floor, as every latency
            label = f"    committed, {kind}{' (armed away)' if kind in ('motion', 'contact') else ''}"
            row, kinds[kind] = latency_row(SECTION, label, values, floor)
            report.add(row)
    report.add(Row(SECTION, "    failed delivery attempts (retried)", value=str(failed["failed_attempts"])))
    if failed["restore_not_seen"]:
        report.add(
            Row(SECTION, "    restore reports never seen at pysiaalarm", value=str(len(failed["restore_not_seen"])))
        )
    return {
        "date": now_iso(),
        "alarms": alarms,
        "kinds": [kind for kind, _, _ in ZONES],
        "seconds": round(time.monotonic() - started, 1),
        "stages": stages,
        "committed_by_kind": kinds,
        "delivery_retries": failed,
        "method": "simulated driver set_active -> peers' own arrival stamps; outbox drained between alarms",
    }


def main(argv: list[str] | None = None) -> int:
    from bench import floor as floor_mod

    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    parser.add_argument("--alarms", type=int, default=200, help="alarms to time (default 200)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to merge results into")
    args = parser.parse_args(argv)
    if args.alarms < 1:
        parser.error("--alarms must be at least 1")
    logging.basicConfig(level=logging.ERROR)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="casahub-bench-") as folder:
        floor = floor_mod.run(Path(folder) / "floor", report)
        result = run(Path(folder) / "latency", report, floor["sqlite_commit"], alarms=args.alarms)
    print(report.render())
    merge_results(args.output, {"floor": floor, "latency": result})
    print(f"results merged into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
