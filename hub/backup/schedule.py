"""The nightly backup (`[backup]`): one `casahub backup` file a day in `dir`, the newest `keep` kept.

Theory of operation
-------------------
`BackupSchedule.run()` lives in the daemon's task group. Once, shortly after start, it
catches up: if the newest backup in `dir` is older than a day (the hub was off at the
backup time, or has never made one), it makes one. Then it wakes at `time` (local time of
`[hub] timezone`) every day. It never sleeps the whole day in one go: it wakes at least every
`check_interval` and compares the wall clock with the due time, because a Pi has no
real-time clock and NTP may step the clock by hours after boot. A due time that the clock
stepped over by more than `LATE_LIMIT` is not run late (the catch-up rule covers a missed
day); one missed by less is.

Each backup is `hub.backup.create_backup` (the same code as `casahub backup`: SQLite online
backup, the config file, certificates and keys, encrypted with `passphrase_file`), run in a
worker thread so the event loop keeps serving alarms. `create_backup` writes into a staging
directory beside the destination and renames the finished file into place, so a backup cut
short (power loss, stick pulled) never leaves a file that looks complete. The file is named
`casahub-<hub>-YYYYmmdd-HHMMSS.chb` (<hub>: the hub name as lowercase ASCII letters, digits and
dashes; the time in the hub's time zone); rotation then deletes the oldest files with exactly
this hub's name pattern beyond `keep`, and nothing else: another hub's backups, or files the
household put on the stick, are never touched.

A failure (directory missing or not mounted, read-only, full, database unreadable) is
logged with the reason and raises the `backup_failed` anomaly (subject "backup") through the
engine, once; the next success clears it. Nothing a backup does can stop the daemon.

The outcome of the last attempt is kept in memory for `/metrics` and written to
`backup-status.json` in the data dir for `casahub doctor` (and read back at start, so the
last success survives a restart). The passphrase is never logged nor written there.

The pure parts (`next_run`, `backup_name`, `backup_time`, `backups_in`, `rotate`) take the
clock as an argument; `BackupSchedule` takes `now()` and `sleep()` so tests drive time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import json
import logging
import os
import re
import shutil
import tempfile
import time
import unicodedata
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hub.backup.archive import BackupInfo, create_backup
from hub.backup.encryption import DEFAULT_SCRYPT_LOG2_N
from hub.backup.layout import BackupError
from hub.config import BackupConfig

__all__ = [
    "ANOMALY",
    "BackupSchedule",
    "BackupStatus",
    "backup_name",
    "backup_time",
    "backups_in",
    "hub_slug",
    "next_run",
    "read_status",
    "rotate",
]

log = logging.getLogger("casahub.backup")

ANOMALY = ("backup_failed", "backup")  # (kind, subject) of the anomaly a failure raises
EXTENSION = ".chb"
STATUS_FILE = "backup-status.json"
STAGING_PREFIX = ".casahub-backup-"  # create_backup's staging directories
MAX_AGE = 24 * 3600.0  # older than this, the newest backup is caught up at start
START_DELAY = 60.0  # let the hub settle (drivers, NTP) before a catch-up backup
CHECK_INTERVAL = 60.0
LATE_LIMIT = 3600.0
STALE_STAGING = 6 * 3600.0  # a staging dir this old is left over from a backup that was cut short

RaiseFault = Callable[[str, str | None, bool], Awaitable[None]]


# --------------------------------------------------------------------------- names and times


def hub_slug(name: str) -> str:
    """The hub name as it appears in file names: "Casa Già" -> "casa-gia"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:40].strip("-") or "hub"


def _pattern(hub_name: str) -> re.Pattern[str]:
    return re.compile(rf"^casahub-{re.escape(hub_slug(hub_name))}-(\d{{8}}-\d{{6}}){re.escape(EXTENSION)}$")


def backup_name(hub_name: str, when: datetime.datetime) -> str:
    """`casahub-<hub>-YYYYmmdd-HHMMSS.chb` for the local time `when`."""
    return f"casahub-{hub_slug(hub_name)}-{when.strftime('%Y%m%d-%H%M%S')}{EXTENSION}"


def backup_time(path: Path, hub_name: str, tz: datetime.tzinfo) -> float | None:
    """When the backup was made (from its name), or None if it is not one of this hub's backups."""
    match = _pattern(hub_name).match(path.name)
    if match is None:
        return None
    try:
        when = datetime.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=tz)
    except ValueError:  # 20261399-...: looks like ours, is not
        return None
    return when.timestamp()


def backups_in(directory: Path, hub_name: str, tz: datetime.tzinfo) -> list[tuple[float, Path]]:
    """This hub's backups in `directory`, oldest first. Raises OSError when it cannot be listed."""
    found: list[tuple[float, Path]] = []
    for entry in directory.iterdir():
        made = backup_time(entry, hub_name, tz)
        if made is not None and entry.is_file():
            found.append((made, entry))
    found.sort(key=lambda item: (item[0], item[1].name))
    return found


def rotate(directory: Path, hub_name: str, tz: datetime.tzinfo, keep: int) -> list[Path]:
    """Delete this hub's oldest backups beyond the newest `keep`; returns what was deleted."""
    backups = backups_in(directory, hub_name, tz)
    doomed = [path for _, path in backups[: max(0, len(backups) - keep)]]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def next_run(now: float, hour: int, minute: int, tz: datetime.tzinfo) -> float:
    """The first `hour:minute` in `tz` strictly after `now` (Unix time).

    On the night clocks go forward a time that does not exist (02:30) falls an hour later;
    on the night they go back a time that exists twice runs at the first one.
    """
    local = datetime.datetime.fromtimestamp(now, tz)
    day = local.date()
    for _ in range(3):
        candidate = datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz).timestamp()
        if candidate > now:
            return candidate
        day += datetime.timedelta(days=1)
    raise AssertionError("unreachable: a day later is always after now")


def _zone(name: str | None) -> datetime.tzinfo:
    if name:
        with contextlib.suppress(ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
            return zoneinfo.ZoneInfo(name)
    local = datetime.datetime.now().astimezone().tzinfo
    return local if local is not None else datetime.UTC


# --------------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class BackupStatus:
    """The outcome of the last backup attempt (times are Unix times)."""

    last_attempt: float | None = None
    ok: bool | None = None  # None: never tried
    error: str | None = None  # why the last attempt failed
    last_success: float | None = None
    file: str | None = None  # the last good backup
    bytes: int | None = None
    duration: float | None = None  # seconds the last good backup took
    dir: str | None = None


def read_status(data_dir: Path) -> BackupStatus | None:
    """What the daemon recorded in `backup-status.json`, or None (never written, unreadable)."""
    try:
        raw = json.loads((Path(data_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    known = {name: raw[name] for name in BackupStatus.__slots__ if name in raw}
    try:
        return BackupStatus(**known)
    except TypeError:
        return None


def _write_status(data_dir: Path, status: BackupStatus) -> None:
    # Atomic: `doctor` may read it at any moment. Four small writes a night: no SD wear.
    fd, name = tempfile.mkstemp(prefix=f".{STATUS_FILE}.", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(status), fh, indent=2)
            fh.write("\n")
        os.replace(name, Path(data_dir) / STATUS_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


# --------------------------------------------------------------------------- one backup


def _reason(exc: BaseException, directory: Path) -> str:
    """One line saying why, with the likely fix for the errors a USB stick gives."""
    if isinstance(exc, BackupError):
        text = str(exc)
        if text.startswith("no such directory"):
            return f"{text} (is the USB stick mounted?)"
        return text
    if isinstance(exc, OSError):
        hints = {
            errno.ENOSPC: "the backup disk is full",
            errno.EROFS: "the backup disk is read-only (is the USB stick mounted, and writable?)",
            errno.EACCES: f"no permission to write in {directory}",
            errno.EPERM: f"no permission to write in {directory}",
            errno.ENOENT: f"{directory} is missing (is the USB stick mounted?)",
            errno.EIO: "input/output error on the backup disk (the USB stick may be failing)",
        }
        detail = exc.strerror or str(exc)
        hint = hints.get(exc.errno or 0)
        return f"{hint}: {detail}" if hint else f"cannot write the backup in {directory}: {detail}"
    return f"{type(exc).__name__}: {exc}"


def _clean_staging(directory: Path, now: float) -> None:
    # create_backup removes its staging dir itself; only a power cut leaves one behind.
    for entry in directory.iterdir():
        if not entry.name.startswith(STAGING_PREFIX) or not entry.is_dir():
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > STALE_STAGING:
                shutil.rmtree(entry)


# --------------------------------------------------------------------------- the schedule


class BackupSchedule:
    """Runs `[backup]` inside the daemon. `now()` is the wall clock (Unix time); `sleep` waits."""

    def __init__(
        self,
        config: BackupConfig,
        *,
        data_dir: Path,
        hub_name: str,
        timezone: str | None,
        config_path: Path | None,
        raise_fault: RaiseFault,
        is_active: Callable[[], bool] | None = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        start_delay: float | None = None,
        check_interval: float = CHECK_INTERVAL,
        scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N,
    ) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self.hub_name = hub_name
        self.tz = _zone(timezone)
        self.config_path = config_path
        self.raise_fault = raise_fault
        self.is_active = is_active
        self.now = now
        self.sleep = sleep
        self.start_delay = START_DELAY if start_delay is None else start_delay
        self.check_interval = check_interval
        self.scrypt_log2_n = scrypt_log2_n
        self.status = read_status(self.data_dir) or BackupStatus()
        self._fault: bool | None = None  # whether our anomaly is active; None: ask is_active

    # -- timing

    def newest_backup(self) -> float | None:
        """When the newest backup in `dir` was made; None when there is none or `dir` cannot be read."""
        try:
            found = backups_in(self.config.dir, self.hub_name, self.tz)
        except OSError:
            return None
        return found[-1][0] if found else None

    def catch_up_due(self) -> bool:
        newest = self.newest_backup()
        return newest is None or self.now() - newest > MAX_AGE

    def next_due(self, after: float) -> float:
        hour, minute = self.config.hour_minute
        return next_run(after, hour, minute, self.tz)

    async def run(self) -> None:
        """Catch up once, then back up every day at `time`; runs until cancelled."""
        if self.start_delay > 0:
            await self.sleep(self.start_delay)
        if self.catch_up_due():
            log.info("backup: the newest backup in %s is older than a day: making one now", self.config.dir)
            await self.run_once()
        due = self.next_due(self.now())
        while True:
            try:
                due = await self._step(due)
            except Exception:  # a bug here must cost a backup at most, never the daemon
                log.exception("backup schedule failed; trying again in %.0f s", self.check_interval)
                await self.sleep(self.check_interval)
                due = self.next_due(self.now())

    async def _step(self, due: float) -> float:
        """Run the backup if `due` has come, else sleep a while; returns the next due time."""
        now = self.now()
        if now >= due:
            if now - due <= LATE_LIMIT or self.catch_up_due():
                await self.run_once()
            else:
                log.info("backup: the clock jumped past the backup time; next backup at the next one")
            return self.next_due(self.now())
        if due - now > MAX_AGE + LATE_LIMIT:
            return self.next_due(now)  # the clock went back by more than a day: start over
        await self.sleep(min(due - now, self.check_interval))
        return due

    # -- one backup

    async def run_once(self) -> bool:
        """Make one backup now, rotate, record the outcome, raise or clear the anomaly. Never raises."""
        started = self.now()
        clock = time.monotonic()
        directory = self.config.dir
        try:
            info, deleted = await asyncio.to_thread(self._backup_and_rotate, started)
        except Exception as exc:
            reason = _reason(exc, directory)
            if isinstance(exc, BackupError | OSError):
                log.error("backup failed: %s", reason)
            else:
                log.exception("backup failed: %s", reason)
            self._record(
                BackupStatus(
                    last_attempt=started,
                    ok=False,
                    error=reason,
                    last_success=self.status.last_success,
                    file=self.status.file,
                    bytes=self.status.bytes,
                    duration=self.status.duration,
                    dir=str(directory),
                )
            )
            await self._set_fault(True)
            return False
        duration = time.monotonic() - clock
        log.info(
            "backup written: %s (%d bytes, %s, %.1f s)%s",
            info.path,
            info.bytes,
            "encrypted" if info.encrypted else "NOT encrypted",
            duration,
            f"; deleted {len(deleted)} old backup(s): {', '.join(p.name for p in deleted)}" if deleted else "",
        )
        self._record(
            BackupStatus(
                last_attempt=started,
                ok=True,
                last_success=started,
                file=str(info.path),
                bytes=info.bytes,
                duration=round(duration, 3),
                dir=str(directory),
            )
        )
        await self._set_fault(False)
        return True

    def _backup_and_rotate(self, started: float) -> tuple[BackupInfo, list[Path]]:
        directory = self.config.dir
        if not directory.is_dir():
            if directory.exists():
                raise BackupError(f"{directory} is not a directory")
            raise BackupError(f"no such directory: {directory}")
        _clean_staging(directory, started)
        when = datetime.datetime.fromtimestamp(started, self.tz)
        dest = directory / backup_name(self.hub_name, when)
        passphrase = self.config.passphrase.reveal() if self.config.passphrase is not None else None
        info = create_backup(
            self.data_dir,
            dest,
            config_path=self.config_path,
            passphrase=passphrase,
            scrypt_log2_n=self.scrypt_log2_n,
        )
        try:
            deleted = rotate(directory, self.hub_name, self.tz, self.config.keep)
        except OSError as exc:
            # The backup itself is good: a stale file that cannot be deleted is only noted.
            log.warning("backup: cannot delete old backups in %s: %s", directory, exc.strerror or exc)
            deleted = []
        return info, deleted

    def _record(self, status: BackupStatus) -> None:
        self.status = status
        try:
            _write_status(self.data_dir, status)
        except OSError as exc:  # the data dir's own trouble is host health's to report
            log.warning("backup: cannot record the outcome in %s: %s", self.data_dir, exc.strerror or exc)

    async def _set_fault(self, active: bool) -> None:
        if self._fault is None:
            # Without is_active (the anomalies recovered from the journal) assume none is active.
            self._fault = bool(self.is_active()) if self.is_active is not None else False
        if self._fault == active:
            return
        try:
            await self.raise_fault(ANOMALY[0], ANOMALY[1], active)
        except Exception:
            log.exception("backup: could not %s the backup_failed anomaly", "raise" if active else "clear")
            return
        self._fault = active
