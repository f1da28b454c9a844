"""hub.host_health: the assessment (pure), the probes on real temp dirs, the loop with injected probes."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.system import host_health
from hub.system.host_health import (
    CLOCK,
    DISK_SPACE,
    READ_ONLY,
    DiskUsage,
    HostStatus,
    Probes,
    check_host,
    clock_synced,
    clock_synced_timedatectl,
    clock_synced_timesyncd,
    disk_usage,
    faults_for,
    network_up,
    run_host_health,
    write_probe,
)

MB = 1024 * 1024
GB = 1024 * MB
HEALTHY_DISK = DiskUsage(free=10 * GB, total=32 * GB, read_only=False)


def status(
    clock: bool | None = True, disk: DiskUsage | None = HEALTHY_DISK, write_error: OSError | None = None
) -> HostStatus:
    return HostStatus(clock_synced=clock, disk=disk, write_error=write_error)


# --------------------------------------------------------------------------- faults_for (pure)


def test_a_healthy_host_clears_everything() -> None:
    assert faults_for(status(), {}, unsynced_since=None, now=0) == {CLOCK: False, DISK_SPACE: False, READ_ONLY: False}


def test_an_unsynchronised_clock_is_tolerated_for_the_grace_time() -> None:
    s = status(clock=False)
    assert CLOCK not in faults_for(s, {}, unsynced_since=100.0, now=100.0 + 899, clock_grace=900)
    assert faults_for(s, {}, unsynced_since=100.0, now=100.0 + 900, clock_grace=900)[CLOCK] is True
    # Already raised (before a restart): stays raised without waiting again.
    assert faults_for(s, {CLOCK: True}, unsynced_since=5.0, now=5.0)[CLOCK] is True


def test_an_unknown_clock_changes_nothing() -> None:
    assert CLOCK not in faults_for(status(clock=None), {CLOCK: True}, unsynced_since=None, now=0)


@pytest.mark.parametrize(
    ("free", "total", "low"),
    [
        (10 * GB, 32 * GB, False),
        (int(0.049 * 32 * GB), 32 * GB, True),  # under 5 %
        (int(0.051 * 32 * GB), 32 * GB, False),
        (199 * MB, 2 * GB, True),  # 10 % but under 200 MB
        (201 * MB, 2 * GB, False),
    ],
)
def test_low_disk_space(free: int, total: int, low: bool) -> None:
    wanted = faults_for(status(disk=DiskUsage(free, total, False)), {}, unsynced_since=None, now=0)
    assert wanted[DISK_SPACE] is low
    assert wanted[READ_ONLY] is False


def test_low_disk_space_clears_only_with_some_margin() -> None:
    just_above = DiskUsage(free=int(0.055 * 32 * GB), total=32 * GB, read_only=False)
    assert faults_for(status(disk=just_above), {DISK_SPACE: True}, unsynced_since=None, now=0)[DISK_SPACE] is True
    assert faults_for(status(disk=just_above), {DISK_SPACE: False}, unsynced_since=None, now=0)[DISK_SPACE] is False
    roomy = DiskUsage(free=int(0.07 * 32 * GB), total=32 * GB, read_only=False)
    assert faults_for(status(disk=roomy), {DISK_SPACE: True}, unsynced_since=None, now=0)[DISK_SPACE] is False


def test_read_only_file_system() -> None:
    ro = DiskUsage(free=10 * GB, total=32 * GB, read_only=True)
    assert faults_for(status(disk=ro), {}, unsynced_since=None, now=0)[READ_ONLY] is True
    erofs = OSError(errno.EROFS, "Read-only file system")
    assert faults_for(status(write_error=erofs), {}, unsynced_since=None, now=0)[READ_ONLY] is True


def test_a_full_disk_is_low_space_not_read_only() -> None:
    enospc = OSError(errno.ENOSPC, "No space left on device")
    wanted = faults_for(status(write_error=enospc), {}, unsynced_since=None, now=0)
    assert wanted[DISK_SPACE] is True
    assert wanted[READ_ONLY] is False


def test_an_unexaminable_data_dir_leaves_storage_alone() -> None:
    wanted = faults_for(status(disk=None), {DISK_SPACE: True}, unsynced_since=None, now=0)
    assert DISK_SPACE not in wanted and READ_ONLY not in wanted


# --------------------------------------------------------------------------- probes


def test_disk_usage_and_write_probe_on_a_real_dir(tmp_path: Path) -> None:
    usage = disk_usage(tmp_path)
    assert 0 < usage.free <= usage.total
    assert usage.read_only is False
    assert write_probe(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


def test_write_probe_reports_the_error(tmp_path: Path) -> None:
    error = write_probe(tmp_path / "missing")
    assert isinstance(error, FileNotFoundError)


def test_check_host_skips_the_write_probe_on_a_read_only_mount(tmp_path: Path) -> None:
    probed: list[Path] = []

    def probe(path: Path) -> OSError | None:
        probed.append(path)
        return None

    probes = Probes(
        clock_synced=lambda: True,
        disk_usage=lambda p: DiskUsage(1 * GB, 2 * GB, read_only=True),
        write_probe=probe,
    )
    result = check_host(tmp_path, probes)
    assert result.read_only and probed == []


def test_check_host_notes_a_statvfs_failure(tmp_path: Path) -> None:
    def broken(path: Path) -> DiskUsage:
        raise OSError(errno.EIO, "I/O error")

    result = check_host(tmp_path, Probes(clock_synced=lambda: None, disk_usage=broken, write_probe=lambda p: None))
    assert result.disk is None and result.notes and "I/O error" in result.notes[0]


def test_clock_probes_are_asked_in_order_until_one_knows() -> None:
    asked: list[str] = []

    def probe(name: str, answer: bool | None) -> Callable[[], bool | None]:
        def run() -> bool | None:
            asked.append(name)
            return answer

        return run

    def broken() -> bool | None:
        asked.append("broken")
        raise OSError("no")

    assert clock_synced((broken, probe("a", None), probe("b", False), probe("c", True))) is False
    assert asked == ["broken", "a", "b"]
    assert clock_synced((probe("x", None),)) is None


def test_the_kernel_clock_probe_answers_here() -> None:
    # Linux: the read-only adjtimex call needs no privilege; the answer depends on the machine.
    assert host_health.clock_synced_adjtimex() in (True, False)


def test_timesyncd_flag(tmp_path: Path) -> None:
    flag = tmp_path / "timesync" / "synchronized"
    assert clock_synced_timesyncd(flag) is None  # no timesyncd here: cannot tell
    flag.parent.mkdir()
    assert clock_synced_timesyncd(flag) is False
    flag.touch()
    assert clock_synced_timesyncd(flag) is True


@pytest.mark.parametrize(("output", "code", "expected"), [("yes", 0, True), ("no", 0, False), ("", 1, None)])
def test_timedatectl_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, code: int, expected: bool | None
) -> None:
    fake = tmp_path / "timedatectl"
    fake.write_text(f'#!/bin/sh\n[ "$*" = "show -p NTPSynchronized --value" ] || exit 9\necho {output}\nexit {code}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert clock_synced_timedatectl() is expected


def test_timedatectl_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert clock_synced_timedatectl() is None


ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def test_network_up_reads_the_default_route(tmp_path: Path) -> None:
    route, route6 = tmp_path / "route", tmp_path / "ipv6_route"
    route.write_text(ROUTE_HEADER + "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    route6.write_text("")
    assert network_up((route, route6)) is False
    route.write_text(ROUTE_HEADER + "eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n")
    assert network_up((route, route6)) is True
    route.write_text(ROUTE_HEADER)
    route6.write_text(
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n"
    )
    assert network_up((route, route6)) is True
    assert network_up((tmp_path / "none", tmp_path / "none6")) is True  # cannot tell: do not cry wolf


# --------------------------------------------------------------------------- the loop


class Host:
    """Injected probes whose answers the test changes; counts the checks."""

    def __init__(self) -> None:
        self.clock: bool | None = True
        self.disk = HEALTHY_DISK
        self.write_error: OSError | None = None
        self.now = 0.0
        self.checks = 0

    def probes(self) -> Probes:
        def clock() -> bool | None:  # asked once per check, last
            self.checks += 1
            return self.clock

        def disk(path: Path) -> DiskUsage:
            return self.disk

        def write(path: Path) -> OSError | None:
            return self.write_error

        return Probes(clock_synced=clock, disk_usage=disk, write_probe=write, monotonic=lambda: self.now)

    async def next_checks(self, n: int = 2) -> None:
        target = self.checks + n
        for _ in range(500):
            if self.checks >= target:
                await asyncio.sleep(0.02)  # let the loop act on it
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the loop stopped checking")


class Faults:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, bool]] = []

    async def __call__(self, kind: str, subject: str | None, active: bool) -> None:
        self.calls.append((kind, subject, active))


@pytest.fixture
async def loop_of() -> object:
    tasks: list[asyncio.Task[None]] = []

    def start(faults: Faults, host: Host, **kwargs: object) -> None:
        tasks.append(
            asyncio.create_task(
                run_host_health(faults, Path("/data"), interval=0.01, probes=host.probes(), **kwargs)  # type: ignore[arg-type]
            )
        )

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_loop_reports_only_changes(loop_of: Callable[..., None]) -> None:
    host, faults = Host(), Faults()
    loop_of(faults, host, clock_grace=600)
    await host.next_checks()
    # Without is_active the first look states everything once.
    assert sorted(faults.calls) == sorted(
        [
            ("clock_unsynced", "clock", False),
            ("storage_error", "disk_space", False),
            ("storage_error", "read_only", False),
        ]
    )
    faults.calls.clear()
    await host.next_checks(3)
    assert faults.calls == []

    host.disk = DiskUsage(free=100 * MB, total=32 * GB, read_only=False)
    await host.next_checks()
    assert faults.calls == [("storage_error", "disk_space", True)]
    await host.next_checks(3)
    assert faults.calls == [("storage_error", "disk_space", True)]

    host.disk = DiskUsage(free=10 * GB, total=32 * GB, read_only=True)
    await host.next_checks()
    assert faults.calls[1:] == [("storage_error", "disk_space", False), ("storage_error", "read_only", True)]

    faults.calls.clear()
    host.disk = HEALTHY_DISK
    await host.next_checks()
    assert faults.calls == [("storage_error", "read_only", False)]


async def test_the_clock_anomaly_waits_for_the_grace_time(loop_of: Callable[..., None]) -> None:
    host, faults = Host(), Faults()
    host.clock = False
    loop_of(faults, host, clock_grace=600, is_active=lambda kind, subject: False)
    await host.next_checks(3)
    assert faults.calls == []  # booting without NTP yet: fine
    host.now = 599.0
    await host.next_checks()
    assert faults.calls == []
    host.now = 601.0
    await host.next_checks()
    assert faults.calls == [("clock_unsynced", "clock", True)]
    host.clock = True
    await host.next_checks()
    assert faults.calls[-1] == ("clock_unsynced", "clock", False)
    host.clock = False  # unsynchronised again: a new grace period starts
    host.now = 700.0
    await host.next_checks(3)
    assert len(faults.calls) == 2


async def test_anomalies_recovered_from_the_journal_are_not_repeated(loop_of: Callable[..., None]) -> None:
    host, faults = Host(), Faults()
    host.clock = False
    active = {("clock_unsynced", "clock"), ("storage_error", "disk_space")}
    loop_of(faults, host, is_active=lambda kind, subject: (kind, subject) in active)
    await host.next_checks(3)
    # Clock still unsynchronised: stays raised, silently. Disk fine again: cleared once.
    assert faults.calls == [("storage_error", "disk_space", False)]


async def test_a_failing_raise_fault_is_retried(loop_of: Callable[..., None]) -> None:
    host = Host()
    calls: list[tuple[str, str | None, bool]] = []

    async def flaky(kind: str, subject: str | None, active: bool) -> None:
        calls.append((kind, subject, active))
        if len(calls) == 1:
            raise RuntimeError("storage busy")

    host.write_error = OSError(errno.EROFS, "Read-only file system")
    loop_of(flaky, host, is_active=lambda kind, subject: False)
    await host.next_checks(3)
    assert calls.count(("storage_error", "read_only", True)) == 2


async def test_run_host_health_on_the_real_probes(tmp_path: Path) -> None:
    faults = Faults()
    task = asyncio.create_task(run_host_health(faults, tmp_path, interval=0.01, clock_grace=3600))
    for _ in range(500):
        if ("storage_error", "read_only", False) in faults.calls:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert ("storage_error", "read_only", False) in faults.calls
    assert not any(active for kind, subject, active in faults.calls if (kind, subject) == READ_ONLY)
    # Free space is the machine's own (a CI disk may well be over 95 % full): the finding
    # must only agree with what statvfs says, whichever side of the threshold that is.
    low = HostStatus(clock_synced=None, disk=disk_usage(tmp_path)).low_disk()
    assert ("storage_error", "disk_space", low) in faults.calls
    assert os.listdir(tmp_path) == []
