"""Host health: the Pi's clock, the data dir's free space and whether it can still be written.

Anomalies raised and cleared through `raise_fault(kind, subject, active)`:

    clock_unsynced  subject "clock"       the system clock is not synchronised (after `clock_grace`:
                                          a Pi has no RTC, NTP needs a minute after boot)
    storage_error   subject "disk_space"  the data dir's file system has < 5 % or < 200 MB free
                                          (cleared above 6 % and 250 MB, so it does not flap)
    storage_error   subject "read_only"   the data dir's file system is mounted read-only (an SD
                                          card remounted after I/O errors) or a file cannot be made there

API:

    status = check_host(data_dir)                  # one look (blocking; HostStatus)
    await run_host_health(raise_fault, data_dir)   # every 60 s; calls raise_fault only on changes
    network_up()                                   # a default route exists (for the status LED)

The clock probe asks the kernel first (adjtimex, the source `timedatectl` itself reads:
synchronised when the maximum error is under 16 s, as systemd decides), then
`timedatectl show -p NTPSynchronized`, then `/run/systemd/timesync/synchronized`; a probe
that cannot tell passes to the next, and when none can the clock is left alone. Every probe
is injectable through `Probes` for tests.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DiskUsage",
    "HostStatus",
    "Probes",
    "check_host",
    "clock_synced",
    "disk_usage",
    "faults_for",
    "network_up",
    "run_host_health",
    "write_probe",
]

log = logging.getLogger("casahub.host_health")

LOW_DISK_FRACTION = 0.05
LOW_DISK_BYTES = 200 * 1024 * 1024
CLEAR_DISK_FRACTION = 0.06
CLEAR_DISK_BYTES = 250 * 1024 * 1024
CLOCK_GRACE = 900.0  # seconds the clock may be unsynchronised (after boot) before it is an anomaly
CHECK_TIMEOUT = 30.0
PROBE_FILE = ".casahub-write-probe"
# The kernel's NTP_PHASE_LIMIT: at this maximum error it considers the clock unsynchronised.
_MAXERROR_UNSYNCED_US = 16_000_000
_SYNCED_FLAG = Path("/run/systemd/timesync/synchronized")

Key = tuple[str, str | None]
CLOCK: Key = ("clock_unsynced", "clock")
DISK_SPACE: Key = ("storage_error", "disk_space")
READ_ONLY: Key = ("storage_error", "read_only")
KEYS: tuple[Key, ...] = (CLOCK, DISK_SPACE, READ_ONLY)


# --------------------------------------------------------------------------- probes


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h> with the `adjtimex` symbol's native long/timeval layout.
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 16),  # the 11 spare ints, with room to spare
    )


def clock_synced_adjtimex() -> bool | None:
    """The kernel's view (read-only adjtimex): synchronised when maxerror < 16 s; None if unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):
        return None
    tx = _Timex()  # modes = 0: read only, needs no privilege
    if adjtimex(ctypes.byref(tx)) < 0:
        return None
    return bool(tx.maxerror < _MAXERROR_UNSYNCED_US)


def clock_synced_timedatectl(timeout: float = 10.0) -> bool | None:
    """`timedatectl show -p NTPSynchronized --value`: yes/no; None when missing or failing."""
    exe = shutil.which("timedatectl")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip().lower()
    if out.returncode != 0 or value not in ("yes", "no"):
        return None
    return value == "yes"


def clock_synced_timesyncd(flag: Path = _SYNCED_FLAG) -> bool | None:
    """systemd-timesyncd touches this file once synchronised; tells nothing when timesyncd is not used."""
    if flag.exists():
        return True
    return False if flag.parent.is_dir() else None


def clock_synced(
    probes: tuple[Callable[[], bool | None], ...] = (
        clock_synced_adjtimex,
        clock_synced_timedatectl,
        clock_synced_timesyncd,
    ),
) -> bool | None:
    """The first answer of the probes, in order; None when none can tell."""
    for probe in probes:
        try:
            answer = probe()
        except Exception:
            log.debug("clock probe %s failed", getattr(probe, "__name__", probe), exc_info=True)
            continue
        if answer is not None:
            return answer
    return None


@dataclass(frozen=True, slots=True)
class DiskUsage:
    free: int  # bytes available to an unprivileged user
    total: int
    read_only: bool

    @property
    def free_fraction(self) -> float:
        return self.free / self.total if self.total > 0 else 1.0


def disk_usage(path: Path) -> DiskUsage:
    st = os.statvfs(path)
    return DiskUsage(
        free=st.f_bavail * st.f_frsize,
        total=st.f_blocks * st.f_frsize,
        read_only=bool(st.f_flag & os.ST_RDONLY),
    )


def write_probe(path: Path) -> OSError | None:
    """Create, write and remove a small file in `path`; the error, or None when it worked."""
    probe = path / PROBE_FILE
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"ok\n")
        finally:
            os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc
    return None


def network_up(route_files: tuple[Path, ...] = (Path("/proc/net/route"), Path("/proc/net/ipv6_route"))) -> bool:
    """Whether a default route exists (IPv4 or IPv6). True when it cannot be told (no /proc)."""
    known = False
    for route_file in route_files:
        try:
            lines = route_file.read_text().splitlines()
        except OSError:
            continue
        known = True
        if route_file.name == "route":
            for line in lines[1:]:
                fields = line.split()
                # Iface Destination Gateway Flags ...: default = destination 0, flags RTF_UP (0x1)
                if len(fields) > 3 and fields[1] == "00000000" and int(fields[3], 16) & 0x1:
                    return True
        else:
            for line in lines:
                fields = line.split()
                # dest dest_len src src_len next_hop metric refcnt use flags iface
                if (
                    len(fields) >= 10
                    and fields[0] == "0" * 32
                    and fields[1] == "00"
                    and fields[9] != "lo"
                    and int(fields[8], 16) & 0x1
                ):
                    return True
    return not known


@dataclass(frozen=True, slots=True)
class Probes:
    """The probes `check_host` runs; replace any of them in tests."""

    clock_synced: Callable[[], bool | None] = clock_synced
    disk_usage: Callable[[Path], DiskUsage] = disk_usage
    write_probe: Callable[[Path], OSError | None] = write_probe
    monotonic: Callable[[], float] = time.monotonic


DEFAULT_PROBES = Probes()

# --------------------------------------------------------------------------- assessment


@dataclass(frozen=True, slots=True)
class HostStatus:
    clock_synced: bool | None  # None: cannot tell
    disk: DiskUsage | None  # None: the data dir cannot be examined
    write_error: OSError | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def read_only(self) -> bool:
        if self.disk is not None and self.disk.read_only:
            return True
        return self.write_error is not None and self.write_error.errno != errno.ENOSPC

    def low_disk(self, clear: bool = False) -> bool:
        """Low on space; with clear=True the (higher) threshold used to clear the anomaly."""
        if self.write_error is not None and self.write_error.errno == errno.ENOSPC:
            return True
        if self.disk is None or self.disk.total <= 0:
            return False
        fraction, floor = (CLEAR_DISK_FRACTION, CLEAR_DISK_BYTES) if clear else (LOW_DISK_FRACTION, LOW_DISK_BYTES)
        return self.disk.free_fraction < fraction or self.disk.free < floor


def check_host(data_dir: Path, probes: Probes = DEFAULT_PROBES) -> HostStatus:
    """One look at the host (blocking: runs a subprocess and touches the disk)."""
    notes: list[str] = []
    disk: DiskUsage | None = None
    write_error: OSError | None = None
    try:
        disk = probes.disk_usage(data_dir)
    except OSError as exc:
        notes.append(f"statvfs {data_dir}: {exc}")
    if disk is None or not disk.read_only:
        write_error = probes.write_probe(data_dir)
        if write_error is not None:
            notes.append(f"cannot write in {data_dir}: {write_error}")
    return HostStatus(clock_synced=probes.clock_synced(), disk=disk, write_error=write_error, notes=tuple(notes))


def faults_for(
    status: HostStatus,
    previous: dict[Key, bool],
    *,
    unsynced_since: float | None,
    now: float,
    clock_grace: float = CLOCK_GRACE,
) -> dict[Key, bool]:
    """Which anomalies should be active now (pure). Keys missing from the result stay as they are.

    `previous` is what is active now; `unsynced_since` when the clock was first seen
    unsynchronised (monotonic), or None.
    """
    wanted: dict[Key, bool] = {}
    if status.clock_synced is True:
        wanted[CLOCK] = False
    elif status.clock_synced is False:
        if previous.get(CLOCK) or (unsynced_since is not None and now - unsynced_since >= clock_grace):
            wanted[CLOCK] = True
    if status.disk is not None or status.write_error is not None:
        if previous.get(DISK_SPACE):
            wanted[DISK_SPACE] = status.low_disk(clear=True)
        else:
            wanted[DISK_SPACE] = status.low_disk()
        wanted[READ_ONLY] = status.read_only
    return wanted


RaiseFault = Callable[[str, str | None, bool], Awaitable[None]]


async def run_host_health(
    raise_fault: RaiseFault,
    data_dir: Path,
    interval: float = 60.0,
    probes: Probes = DEFAULT_PROBES,
    *,
    is_active: Callable[[str, str | None], bool] | None = None,
    clock_grace: float = CLOCK_GRACE,
) -> None:
    """Check the host every `interval` seconds; call `raise_fault` only when an anomaly changes.

    `is_active(kind, subject)` tells which anomalies are already active (recovered from the
    journal), so a restart neither repeats nor forgets them; without it the first look
    sends every finding once. Runs until cancelled; the blocking checks run in a thread, and
    a check that hangs (a dying SD card) is waited for, never stacked.
    """
    previous: dict[Key, bool] = {}
    if is_active is not None:
        previous = {key: bool(is_active(*key)) for key in KEYS}
    unsynced_since: float | None = None
    pending: asyncio.Future[HostStatus] | None = None
    while True:
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(check_host, data_dir, probes))
        done, _ = await asyncio.wait({pending}, timeout=CHECK_TIMEOUT)
        if not done:
            log.warning("host health check has not finished after %.0f s", CHECK_TIMEOUT)
            await asyncio.sleep(interval)
            continue
        finished, pending = pending, None
        try:
            status = finished.result()
        except Exception:
            log.exception("host health check failed")
            await asyncio.sleep(interval)
            continue
        now = probes.monotonic()
        if status.clock_synced is False:
            unsynced_since = now if unsynced_since is None else unsynced_since
        elif status.clock_synced is True:
            unsynced_since = None
        for note in status.notes:
            log.info("host health: %s", note)
        wanted = faults_for(status, previous, unsynced_since=unsynced_since, now=now, clock_grace=clock_grace)
        for key, active in wanted.items():
            if key in previous and previous[key] == active:
                continue
            try:
                await raise_fault(key[0], key[1], active)
            except Exception:
                log.exception("could not %s %s/%s", "raise" if active else "clear", *key)
                continue
            previous[key] = active
        await asyncio.sleep(interval)
