"""The disk reserve: made only with room to spare, released once, and what counts as a full disk."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from hub.store.disk_reserve import RESERVE_NAME, DiskReserve, is_disk_full


def test_the_reserve_is_made_released_and_made_again(tmp_path: Path) -> None:
    reserve = DiskReserve(tmp_path, 1 << 20)
    assert not reserve.present
    assert reserve.ensure() and reserve.present
    assert (tmp_path / RESERVE_NAME).stat().st_size == 1 << 20
    assert reserve.release() and not reserve.present
    assert not reserve.release()  # nothing left to free
    assert reserve.ensure() and reserve.present


def test_no_reserve_when_the_disk_has_no_room_for_twice_its_size(tmp_path: Path) -> None:
    huge = DiskReserve(tmp_path, 1 << 60)
    assert not huge.ensure() and not huge.present
    assert not (tmp_path / RESERVE_NAME).exists()
    assert DiskReserve(tmp_path, 0).ensure()  # a reserve of 0 is always "there": nothing to keep


@pytest.mark.parametrize(
    ("exc", "full"),
    [
        (sqlite3.OperationalError("database or disk is full"), True),
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EROFS, "Read-only file system"), False),
        (sqlite3.OperationalError("attempt to write a readonly database"), False),
        (ValueError("disk is full"), False),
    ],
)
def test_what_counts_as_a_full_disk(exc: BaseException, full: bool) -> None:
    assert is_disk_full(exc) is full
