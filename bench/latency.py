"""Alarm latency, end to end: from a reading at the driver boundary to each person and the centre.

A demo hub runs in-process with every channel configured against the loopback peers of
`tests.peers.household` (Twilio double, aiosmtpd with STARTTLS + AUTH, a push service over
HTTPS, the pysiaalarm DC-09 receiver with AES-128), as in tests/e2e. Each alarm is a new
incident: the simulated driver's `set_active` is called directly (water, smoke and panic in
turn), then the zone restores and the incident is resolved through the API before the next one.

Per alarm, from `time.perf_counter()` just before `set_active` to:
- committed: the engine step that opened the incident has committed (hub.submit returned);
- sms:       the Twilio double answered 201 to the SMS;
- email:     aiosmtpd accepted the message (DATA);
- push:      the push service decrypted and accepted the push;
- centre:    pysiaalarm ACKed the DC-09 report.
The peers stamp arrivals themselves, so the pace of the polling here does not count.

    python -m bench.latency [--alarms N] [--output bench/results.json]

Prints a table (median, p99, max in ms) and merges the "latency" key into the JSON file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alarms.model import IncidentOpened
from tests.conftest import start_hub
from tests.peers import wait_until
from tests.peers.household import household, logged_in, subscribe_app
from tests.peers.tls import trusted

STAGES = {
    "committed": "incident committed",
    "sms": "SMS at the Twilio double",
    "email": "email accepted by aiosmtpd",
    "push": "push at the push service",
    "centre": "DC-09 ACKed by pysiaalarm",
}
ZONES = (("water", "sim-water-1"), ("smoke", "sim-smoke-1"), ("panic", "sim-panic-1"))
DEFAULT_OUTPUT = Path(__file__).with_name("results.json")


async def measure(alarms: int, folder: Path) -> dict[str, list[float]]:
    """Seconds from the reading to each stage, one sample per alarm and stage."""
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    async with household(folder / "peers") as peers:
        config = peers.write_config(folder / "casahub.toml", language="en")
        with trusted(peers.cert):
            running = await start_hub(folder / "data", config)
            try:
                async with logged_in(running.base) as api:
                    await subscribe_app(api, peers.push)
                    hub = running.hub
                    driver = running.daemon.drivers["simulated"]
                    opened: list[tuple[float, str]] = []  # (commit time, incident id)
                    submit = hub.submit

                    async def timed_submit(event: Any, *, actor: str | None = None) -> Any:
                        step = await submit(event, actor=actor)
                        for effect in step.effects:
                            if isinstance(effect, IncidentOpened):
                                opened.append((time.perf_counter(), effect.incident.id))
                        return step

                    hub.submit = timed_submit  # the driver pump calls hub.ingest -> self.submit

                    async def one_alarm(n: int) -> None:
                        kind, address = ZONES[n % len(ZONES)]
                        sms, mails = len(peers.twilio.accepted), len(peers.emails())
                        reports, incidents = len(peers.centre.reports()), len(opened)

                        started = time.perf_counter()
                        await driver.set_active(address, kind, True)

                        await wait_until(lambda: len(opened) > incidents, 10, f"alarm {n}: the incident")
                        committed_at, incident = opened[incidents]
                        await wait_until(
                            lambda: (
                                len(peers.twilio.accepted) > sms
                                and len(peers.emails()) > mails
                                and peers.pushes(incident)
                                and len(peers.centre.reports()) > reports
                            ),
                            10,
                            f"alarm {n}: every delivery",
                        )
                        samples["committed"].append(committed_at - started)
                        samples["sms"].append(peers.twilio.accepted[sms].at - started)
                        samples["email"].append(peers.emails()[mails].at - started)
                        samples["push"].append(peers.pushes(incident)[0].at - started)
                        samples["centre"].append(peers.centre.report_times()[reports] - started)

                        # restore (a restore report to the centre) and resolve: the next alarm is a new incident
                        await driver.set_active(address, kind, False)
                        await wait_until(lambda: len(peers.centre.reports()) > reports + 1, 10, f"alarm {n}: restore")
                        status, body = await api.post(f"/api/v1/incidents/{incident}/resolve")
                        assert status == 200, body

                    for n in range(alarms):
                        await one_alarm(n)
            finally:
                await running.stop()
    return samples


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarise(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        stage: {
            "median_ms": round(statistics.median(values) * 1000, 2),
            "p99_ms": round(nearest_rank(values, 0.99) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2),
            "min_ms": round(min(values) * 1000, 2),
            "mean_ms": round(statistics.fmean(values) * 1000, 2),
        }
        for stage, values in samples.items()
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def table(summary: dict[str, dict[str, float]], alarms: int) -> str:
    lines = [
        f"casahub alarm latency: {alarms} alarms, from the reading at the driver boundary (ms)",
        f"{'stage':<30} {'median':>8} {'p99':>8} {'max':>8}",
    ]
    for stage, label in STAGES.items():
        row = summary[stage]
        lines.append(f"{label:<30} {row['median_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f}")
    return "\n".join(lines)


def write_results(path: Path, summary: dict[str, dict[str, float]], alarms: int, took: float) -> None:
    """Merge the "latency" key into `path`, keeping whatever else other benchmarks wrote there."""
    try:
        results = json.loads(path.read_text())
        if not isinstance(results, dict):
            results = {}
    except (OSError, ValueError):
        results = {}
    results["latency"] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "alarms": alarms,
        "zones": [kind for kind, _ in ZONES],
        "seconds": round(took, 1),
        "stages": summary,
    }
    path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    parser.add_argument("--alarms", type=int, default=100, help="alarms to time (default 100)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to merge results into")
    args = parser.parse_args(argv)
    if args.alarms < 1:
        parser.error("--alarms must be at least 1")
    logging.basicConfig(level=logging.ERROR)  # the hub's and aiosmtpd's warnings would drown the table
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="casahub-bench-") as folder:
        samples = asyncio.run(measure(args.alarms, Path(folder)))
    took = time.monotonic() - started
    summary = summarise(samples)
    print(table(summary, args.alarms))
    print(f"({took:.0f} s; Python {platform.python_version()}; {cpu_model()})")
    write_results(args.output, summary, args.alarms, took)
    print(f"results merged into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
