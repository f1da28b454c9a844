"""`python -m bench` (`make bench`): run every benchmark, print one table, write bench/results.json.

    python -m bench [--only floor,latency,ingest,footprint,wear,storm,camera,sirens] [--quick] [--output FILE]

Suites, in order (see each module's docstring for the method):
  floor      bare SQLite WAL synchronous=FULL commit, loopback TCP round trip   bench/floor.py
  latency    200 alarms, reading -> committed / DC-09 ACK / SMS / push / email  bench/latency.py
  ingest     1,000 devices at 20,000 readings/s, alarm latency under that load   bench/ingest.py
  footprint  `casahub serve` RSS and start-up time (Home Assistant: BENCH_HA=1)  bench/footprint.py
  wear       bytes written for one simulated day of 50 sensors (SD card)         bench/wear.py
  storm      100 zones in 1 s, then again with 20 dashboards + 100 API req/s     bench/storm.py
  camera     motion detection and MJPEG parsing, cost per frame                 bench/camera.py
  sirens     a door opens while armed -> the siren's command on the MQTT wire    bench/sirens.py

The whole run takes about 3-4 minutes on 2 cores; BENCH_HA=1 adds the Home Assistant
reference (its first run installs homeassistant==2024.3.3 into bench/.venv-ha, ~2 minutes).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench.common import (
    DEFAULT_OUTPUT,
    Report,
    Row,
    load_results,
    loadavg,
    machine_info,
    merge_results,
    now_iso,
    say,
)

SUITES = ("floor", "latency", "ingest", "footprint", "wear", "storm", "camera", "sirens")


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma-separated subset of {','.join(SUITES)}")
    parser.add_argument("--quick", action="store_true", help="fewer samples and shorter runs (a smoke run)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file (merged)")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    logging.basicConfig(level=logging.ERROR)  # the hub's and peers' warnings would drown the table
    quick = args.quick
    report = Report()
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="casahub-bench-") as tmp:
        folder = Path(tmp)
        results["machine"] = machine_info(folder)
        results["machine"]["loadavg_at_start"] = _loadavg()
        floor: dict[str, float] | None = None
        if "floor" in only:
            from bench import floor as floor_mod

            say("floor ...")
            results["floor"] = floor_mod.run(folder / "floor", report, commits=200 if quick else 1000)
        previous = results.get("floor") or load_results(args.output).get("floor")
        floor = (previous or {}).get("sqlite_commit")

        def suite(name: str, call: Any) -> None:
            if name not in only:
                return
            say(f"{name} ...")
            t0 = time.monotonic()
            before = loadavg()
            try:
                results[name] = call()
                # Every suite's numbers with the machine's load around them (a shared machine).
                results[name]["loadavg_before"], results[name]["loadavg_after"] = before, loadavg()
            except Exception as exc:  # one broken suite must not hide the others' numbers
                traceback.print_exc()
                errors[name] = f"{type(exc).__name__}: {exc}"
                report.add(Row(name, f"{name}: FAILED ({type(exc).__name__})", value=str(exc)[:36]))
            say(f"{name}: {time.monotonic() - t0:.0f} s")

        from bench import camera, footprint, ingest, latency, sirens, storm, wear

        suite("latency", lambda: latency.run(folder / "latency", report, floor, alarms=30 if quick else 200))
        suite(
            "ingest",
            lambda: ingest.run(
                folder / "ingest",
                report,
                floor,
                devices=200 if quick else 1000,
                seconds=5 if quick else 30,
                saturate=3 if quick else 10,
            ),
        )
        suite(
            "footprint",
            lambda: footprint.run(
                folder / "footprint", report, runs=2 if quick else 5, with_ha=os.environ.get("BENCH_HA") == "1"
            ),
        )
        suite("wear", lambda: wear.run(folder / "wear", report, hours=2 if quick else 24))
        suite("storm", lambda: storm.run(folder / "storm", report, floor))
        suite("camera", lambda: camera.run(report, samples=50 if quick else 200))
        suite("sirens", lambda: sirens.run(folder / "sirens", report, floor, samples=30 if quick else 200))
        if "floor" in only and len(only) > 1:
            # The disk of a shared or virtual machine changes under load: the floor again, at the end.
            from bench.common import summary_ms
            from bench.floor import SECTION, sqlite_commits

            again = summary_ms(sqlite_commits(folder / "floor", 200 if quick else 500))
            results["floor"]["sqlite_commit_at_end"] = again
            report.rows.insert(
                next(i for i, r in enumerate(report.rows) if r.section == SECTION) + 1,
                Row(SECTION, "  same commit again, after every other suite", again),
            )
        results["loadavg_at_end"] = _loadavg()

    print(report.render())
    took = time.monotonic() - started
    results["date"] = now_iso()
    results["took_seconds"] = round(took, 1)
    results["targets"] = report.targets()
    results["errors"] = errors  # replaces the previous run's
    merge_results(args.output, results)
    machine = results["machine"]
    print(
        f"({took:.0f} s; {machine['cpu']}, {machine['cores']} cores; Python {machine['python']}; "
        f"SQLite {machine['sqlite']}; disk {machine['disk'].get('source', '?')} {machine['disk'].get('fs', '')})"
    )
    busy = [float(x.split()[0]) for x in (machine.get("loadavg_at_start", "?"), results["loadavg_at_end"]) if x != "?"]
    if busy and max(busy) > 0.5 * (machine["cores"] or 1):
        print(
            f"warning: the machine was busy (load average {', '.join(f'{b:.1f}' for b in busy)} on "
            f"{machine['cores']} cores, start/end): latencies and throughput include that contention"
        )
    missed = [t for t in results["targets"] if not t["met"]]
    print(f"targets: {len(results['targets']) - len(missed)} met, {len(missed)} missed; results in {args.output}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
