"""Room kept for the journal on a disk that fills up.

A Pi's SD card can fill (a log gone wild, a camera's photos, another program). The hub keeps a
preallocated file in its data dir; the first commit that fails for lack of space deletes it, so
the commit can be retried and the alarm journal goes on for a while (32 MB is weeks of events),
and the household is told ("disk almost full", the `storage_error` anomaly). When space comes
back the file is made again. The file holds zeros and nothing reads it: losing it costs nothing.

This module never raises on an I/O error: a reserve that cannot be made is simply not there.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("hub.disk_reserve")  # the name users' [log] levels know (README)

RESERVE_NAME = "casahub.reserve"
_CHUNK = 1 << 20


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's "database or disk is full" (SQLITE_FULL) or an OSError ENOSPC/EDQUOT."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return False


class DiskReserve:
    """`size` bytes preallocated at `directory`/casahub.reserve (nothing when `size` is 0)."""

    def __init__(self, directory: Path, size: int) -> None:
        self.path = directory / RESERVE_NAME
        self.size = size

    @property
    def present(self) -> bool:
        try:
            return self.size > 0 and self.path.stat().st_size >= self.size
        except OSError:
            return False

    def ensure(self) -> bool:
        """Make the reserve if it is missing and the disk has room for it and as much again
        (so that making it never fills the disk by itself); True when it is there."""
        if self.size <= 0 or self.present:
            return True
        try:
            free = os.statvfs(self.path.parent)
            if free.f_bavail * free.f_frsize < 2 * self.size:
                return False
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, self.size)
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise
                    # tmpfs and some FUSE file systems cannot preallocate: write the zeros.
                    zeros = bytes(_CHUNK)
                    for offset in range(0, self.size, _CHUNK):
                        os.pwrite(fd, zeros[: min(_CHUNK, self.size - offset)], offset)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("cannot keep a %d MB disk reserve in %s: %s", self.size >> 20, self.path.parent, exc)
            self.release()
            return False
        log.info("disk reserve of %d MB kept at %s", self.size >> 20, self.path)
        return True

    def release(self) -> bool:
        """Free the reserve's room; True when there was one to free."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.error("cannot release the disk reserve %s: %s", self.path, exc)
            return False
        log.warning("disk full: released the %d MB reserve so that the journal goes on", self.size >> 20)
        return True
