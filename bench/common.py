"""What every benchmark shares: statistics, machine facts, the results file and the table.

Latencies are kept in seconds while measuring and reported in milliseconds. Percentiles are
nearest-rank (the p99 of 200 samples is the 198th smallest), so a reported p99 is always a
sample that happened. Nothing here asserts on a time: benchmarks report, tests never time.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_OUTPUT = BENCH_DIR / "results.json"


# --------------------------------------------------------------------------- statistics


def nearest_rank(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """Seconds in, milliseconds out: n, min, median, mean, p90, p99, max."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min_ms": round(min(values) * 1000, 3),
        "median_ms": round(statistics.median(values) * 1000, 3),
        "mean_ms": round(statistics.fmean(values) * 1000, 3),
        "p90_ms": round(nearest_rank(values, 0.90) * 1000, 3),
        "p99_ms": round(nearest_rank(values, 0.99) * 1000, 3),
        "max_ms": round(max(values) * 1000, 3),
    }


def ratio_to_floor(stats: dict[str, float], floor: dict[str, float] | None) -> dict[str, float] | None:
    """median / floor median and p99 / floor p99 (the floor: a bare SQLite WAL FULL commit)."""
    if not floor or not stats.get("n") or not floor.get("median_ms"):
        return None
    return {
        "median_x": round(stats["median_ms"] / floor["median_ms"], 2),
        "p99_x": round(stats["p99_ms"] / floor["p99_ms"], 2),
    }


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _mem_total_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 0)
    except OSError:
        pass
    return None


def disk_of(path: Path) -> dict[str, Any]:
    """The block device and file system that hold `path` (from /proc/self/mountinfo)."""
    path = path.resolve()
    best: tuple[int, dict[str, Any]] = (-1, {})
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            parts, rest = left.split(), right.split()
            mount_point = parts[4]
            if (str(path) + "/").startswith(mount_point.rstrip("/") + "/") and len(mount_point) > best[0]:
                best = (
                    len(mount_point),
                    {"mount": mount_point, "fs": rest[0], "source": rest[1], "options": parts[5]},
                )
    except (OSError, IndexError):
        pass
    info = best[1]
    source = str(info.get("source", ""))
    if source.startswith("/dev/"):
        name = Path(source).name
        try:
            rotational = Path(f"/sys/block/{name}/queue/rotational").read_text().strip()
            info["rotational"] = rotational == "1"
        except OSError:
            pass
    return info


def git_revision() -> str | None:
    """The checked-out commit, read from .git (no git command is run)."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        ref_file = git / ref
        if ref_file.exists():
            return ref_file.read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def machine_info(data_path: Path | None = None) -> dict[str, Any]:
    import sqlite3

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_mb": _mem_total_mb(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "disk": disk_of(data_path or Path(os.environ.get("TMPDIR", "/tmp"))),
        "revision": git_revision(),
    }


# --------------------------------------------------------------------------- results


def load_results(path: Path) -> dict[str, Any]:
    try:
        results = json.loads(path.read_text())
        return results if isinstance(results, dict) else {}
    except (OSError, ValueError):
        return {}


def merge_results(path: Path, updates: dict[str, Any]) -> None:
    """Merge top-level keys into `path`, keeping what other benchmarks wrote there."""
    results = load_results(path)
    results.update(updates)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the table


@dataclass
class Row:
    """One line of the printed table; `stats` in ms (summary_ms), or a plain `value`."""

    section: str
    label: str
    stats: dict[str, float] | None = None
    value: str | None = None
    floor_x: dict[str, float] | None = None
    target: str = ""
    met: bool | None = None  # None: no target


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def targets(self) -> list[dict[str, Any]]:
        return [
            {"section": r.section, "metric": r.label, "target": r.target, "met": r.met}
            for r in self.rows
            if r.met is not None
        ]

    def render(self) -> str:
        head = f"{'metric':<50} {'n':>6} {'median':>9} {'p99':>9} {'max':>9} {'x floor':>11}  {'target':<22} result"
        lines = []
        section = None
        for r in self.rows:
            if r.section != section:
                section = r.section
                lines.append("")
                lines.append(f"== {section} ".ljust(len(head), "="))
                lines.append(head)
            if r.stats and r.stats.get("n"):
                s = r.stats
                nums = f"{s['n']:>6} {s['median_ms']:>9.2f} {s['p99_ms']:>9.2f} {s['max_ms']:>9.2f}"
            else:
                nums = f"{'':>6} {(r.value or ''):>29}" if r.value and len(r.value) <= 29 else f"{r.value or '':>36}"
            fx = f"{r.floor_x['median_x']:.1f}/{r.floor_x['p99_x']:.1f}" if r.floor_x else ""
            result = "" if r.met is None else ("met" if r.met else "MISSED")
            lines.append(f"{r.label[:50]:<50} {nums} {fx:>11}  {r.target[:22]:<22} {result}")
        lines.append("")
        lines.append(
            "latencies in ms; 'x floor' = median/p99 as multiples of the bare SQLite WAL synchronous=FULL commit"
        )
        return "\n".join(lines)


def latency_row(
    section: str,
    label: str,
    values: Sequence[float],
    floor: dict[str, float] | None,
    *,
    p99_max_ms: float | None = None,
    floor_p99_max_x: float | None = None,
) -> tuple[Row, dict[str, Any]]:
    """A latency row with an optional target on its p99 (absolute, and as multiples of the floor)."""
    stats = summary_ms(values)
    fx = ratio_to_floor(stats, floor)
    met: bool | None = None
    target = ""
    if p99_max_ms is not None and stats.get("n"):
        met = stats["p99_ms"] <= p99_max_ms
        target = f"p99 <= {p99_max_ms:g} ms"
        if floor_p99_max_x is not None and fx is not None:
            met = met and fx["p99_x"] <= floor_p99_max_x
            target += f", <= {floor_p99_max_x:g}x"
    elif p99_max_ms is not None:
        met, target = False, f"p99 <= {p99_max_ms:g} ms"
    entry: dict[str, Any] = {**stats, "loadavg": loadavg()}  # the machine's load when it was measured
    if fx is not None:
        entry["x_floor"] = fx
    if met is not None:
        entry["target"] = target
        entry["met"] = met
    return Row(section, label, stats, None, fx, target, met), entry


# --------------------------------------------------------------------------- small helpers


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages: a shared machine's numbers need them beside."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def proc_io(pid: int | str = "self") -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            key, _, value = line.partition(":")
            out[key.strip()] = int(value)
    except OSError:
        pass
    return out


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile... in kB."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[key] = int(parts[0])
    except OSError:
        pass
    return out


def proc_pss_kb(pid: int | str = "self") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def disk_sectors_written(path: Path) -> int | None:
    """Sectors (512 B) written to the block device holding `path`, whole device (every process)."""
    source = str(disk_of(path).get("source", ""))
    if not source.startswith("/dev/"):
        return None
    name = Path(source).name
    try:
        for line in Path("/proc/diskstats").read_text().splitlines():
            parts = line.split()
            if parts[2] == name:
                return int(parts[9])
    except (OSError, IndexError):
        pass
    return None


@contextmanager
def quiet_logs() -> Iterator[None]:
    import logging

    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(old)


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


class Timer:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def first(items: Iterable[Any], default: Any = None) -> Any:
    return next(iter(items), default)
