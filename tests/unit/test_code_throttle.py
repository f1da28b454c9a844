"""The alarm-code throttle (hub/core/throttle.py), with the time handed in (an injected clock).

Per caller: 3 wrong codes lock for 90 s, each further run of 3 twice as long, at most 1 h; a right
code forgets it all. Hub-wide: 10 wrong codes within an hour raise one alert, at most one an
hour. Kept in the database: a new throttle on the same file (a restarted hub) knows it all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.core.throttle import (
    ALERT_WINDOW,
    FIRST_LOCK,
    FORGET_AFTER,
    MAX_LOCK,
    CodeThrottle,
    lock_duration,
)
from hub.store.db import Database

T0 = 1_000_000.0


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[int, str]] = []

    async def __call__(self, count: int, by: str) -> None:
        self.raised.append((count, by))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "casahub.db")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def guess(throttle: CodeThrottle, key: str, now: float) -> float | None:
    """One wrong code of `key` at `now`; returns the wait it was refused with, or after it."""
    wait = await throttle.begin(key, now)
    if wait is not None:
        return wait
    await throttle.wrong(key, now)
    return throttle.retry_after(key, now)


async def run_until_locked(throttle: CodeThrottle, key: str, now: float) -> float:
    """Wrong codes 1 s apart from `now` until `key` is locked; returns the lock's length."""
    for i in range(3):
        wait = await guess(throttle, key, now + i)
        if wait is not None:
            assert i == 2, f"locked after {i + 1} wrong codes"
            return wait
    raise AssertionError("3 wrong codes did not lock")


def test_lock_durations_double_up_to_an_hour() -> None:
    assert [lock_duration(n) for n in range(8)] == [90, 180, 360, 720, 1440, 2880, 3600, 3600]
    assert lock_duration(10_000) == MAX_LOCK and lock_duration(-1) == FIRST_LOCK


@pytest.mark.parametrize("persistent", [False, True])
async def test_back_off_doubles_up_to_an_hour(db: Database, persistent: bool) -> None:
    throttle = CodeThrottle(db if persistent else None)
    now = T0
    locks = []
    for _ in range(8):
        wait = await run_until_locked(throttle, "mqtt", now)
        locks.append(wait)
        now += 2  # the third wrong code
        # Locked: refused (nothing counted) until the very end of the lock, free after it.
        assert await throttle.begin("mqtt", now + wait - 0.5) is not None
        assert throttle.retry_after("mqtt", now + wait) is None
        now += wait
    assert locks == [90, 180, 360, 720, 1440, 2880, 3600, 3600]


async def test_a_right_code_forgets_the_callers_run_and_back_off() -> None:
    throttle = CodeThrottle()
    assert await run_until_locked(throttle, "anna", T0) == 90
    assert await run_until_locked(throttle, "anna", T0 + 100) == 180
    assert await throttle.begin("anna", T0 + 300) is None
    await throttle.right("anna")
    assert await run_until_locked(throttle, "anna", T0 + 301) == 90  # from the start: 90 s, not 360 s


async def test_callers_are_locked_separately() -> None:
    throttle = CodeThrottle()
    await run_until_locked(throttle, "mqtt", T0)
    assert throttle.retry_after("mqtt", T0 + 3) is not None
    assert await throttle.begin("anna", T0 + 3) is None


async def test_back_off_is_forgotten_a_day_after_the_last_wrong_code() -> None:
    throttle = CodeThrottle()
    await run_until_locked(throttle, "anna", T0)
    assert await run_until_locked(throttle, "anna", T0 + 200) == 180
    # Waiting out the longest lock is not enough to start again from 90 s ...
    assert await run_until_locked(throttle, "anna", T0 + 200 + MAX_LOCK) == 360
    # ... a day without wrong codes is.
    assert await run_until_locked(throttle, "anna", T0 + 200 + MAX_LOCK + 2 + FORGET_AFTER) == 90


async def test_a_run_restarts_after_an_hour_without_wrong_codes() -> None:
    throttle = CodeThrottle()
    assert await guess(throttle, "anna", T0) is None
    assert await guess(throttle, "anna", T0 + 10) is None
    assert await guess(throttle, "anna", T0 + 10 + 3600) is None  # a new run: 1 of 3
    assert await guess(throttle, "anna", T0 + 10 + 3601) is None
    assert await guess(throttle, "anna", T0 + 10 + 3602) == 90


async def test_concurrent_guesses_are_counted_before_their_check() -> None:
    throttle = CodeThrottle()
    assert [await throttle.begin("anna", T0) for _ in range(3)] == [None, None, None]
    assert await throttle.begin("anna", T0) == 90  # the fourth waits although none was checked yet


async def test_a_lock_never_outlasts_an_hour_when_the_clock_goes_back() -> None:
    throttle = CodeThrottle()
    await run_until_locked(throttle, "anna", T0)
    assert throttle.retry_after("anna", T0 - 86400) == MAX_LOCK


@pytest.mark.parametrize("persistent", [False, True])
async def test_ten_wrong_codes_within_an_hour_from_anyone_alert_once(db: Database, persistent: bool) -> None:
    alerts = Alerts()
    throttle = CodeThrottle(db if persistent else None, alerts)
    callers = ["anna", "mqtt", "token:ab12", "bruno", "carla"]
    for i in range(9):  # 2 each (nobody is locked), spread over 50 minutes
        assert await guess(throttle, callers[i % 5], T0 + i * 300) is None
    assert alerts.raised == []
    await guess(throttle, "carla", T0 + 2700)  # the 10th: carla's 2nd
    assert alerts.raised == [(10, "carla")]
    # More wrong codes within the hour after the alert: no second alert ...
    for i in range(12):
        await guess(throttle, f"user{i}", T0 + 2800 + i)
    assert len(alerts.raised) == 1
    # ... but a wrong code an hour after it raises the next one: 12 more came since the first.
    await guess(throttle, "other", T0 + 2700 + ALERT_WINDOW - 1)
    assert len(alerts.raised) == 1
    await guess(throttle, "other", T0 + 2700 + ALERT_WINDOW)
    assert alerts.raised == [(10, "carla"), (14, "other")]
    # Then quiet for an hour: the next alert needs 10 wrong codes again.
    later = T0 + 2700 + 2 * ALERT_WINDOW
    for i in range(9):
        await guess(throttle, f"late{i}", later + i)
    assert len(alerts.raised) == 2
    await guess(throttle, "late9", later + 9)
    assert alerts.raised[-1] == (10, "late9")


async def test_wrong_codes_older_than_an_hour_do_not_count() -> None:
    alerts = Alerts()
    throttle = CodeThrottle(None, alerts)
    for i in range(20):  # one every 7 minutes: never 10 within an hour
        await guess(throttle, f"user{i}", T0 + i * 420)
    assert alerts.raised == []


async def test_a_right_code_does_not_clear_the_hub_wide_count() -> None:
    alerts = Alerts()
    throttle = CodeThrottle(None, alerts)
    for i in range(9):
        await guess(throttle, f"user{i % 3}", T0 + i)
        await throttle.begin(f"user{i % 3}", T0 + i)
        await throttle.right(f"user{i % 3}")
    await guess(throttle, "user0", T0 + 20)
    assert alerts.raised == [(10, "user0")]


async def test_the_alert_names_who_typed_the_last_code() -> None:
    alerts = Alerts()
    throttle = CodeThrottle(None, alerts)
    for i in range(10):
        if await throttle.begin(f"u{i}", T0 + i) is None:
            await throttle.wrong(f"u{i}", T0 + i, by="MQTT (Home Assistant)" if i == 9 else None)
    assert alerts.raised == [(10, "MQTT (Home Assistant)")]


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    """A new throttle on the same database (the hub after kill -9) keeps locks, back-off, the
    hub-wide count and the last alert."""
    path = tmp_path / "casahub.db"
    alerts = Alerts()
    first = Database(path)
    await first.open()
    throttle = CodeThrottle(first, alerts)
    await run_until_locked(throttle, "mqtt", T0)
    await run_until_locked(throttle, "mqtt", T0 + 100)  # the second lock: 180 s from T0 + 102
    for i in range(3):
        await guess(throttle, f"user{i}", T0 + 110 + i)  # 9 wrong codes so far
    await first.close()  # no clean-up happens on close: a kill loses nothing more

    again = Database(path)
    await again.open()
    try:
        restarted = CodeThrottle(again, alerts)
        assert await restarted.begin("mqtt", T0 + 150) == pytest.approx(T0 + 102 + 180 - (T0 + 150))
        assert await run_until_locked(restarted, "mqtt", T0 + 102 + 180) == 360
        assert alerts.raised == [(10, "mqtt")]  # its first wrong code was the 10th in the hour
    finally:
        await again.close()

    third = Database(path)
    await third.open()
    try:
        restarted = CodeThrottle(third, alerts)
        for i in range(10):  # the alert of the first start is remembered: not again within the hour
            await guess(restarted, f"later{i}", T0 + 300 + i)
        assert alerts.raised == [(10, "mqtt")]
        rows = await third.fetchall("SELECT caller, locks FROM code_lockouts ORDER BY caller")
        assert ("mqtt", 3) in [(r["caller"], r["locks"]) for r in rows]
    finally:
        await third.close()


async def test_a_failing_database_still_locks_in_memory(tmp_path: Path) -> None:
    """Storage errors are logged, never raised: the caller still gets its answer and its lock."""
    broken = Database(tmp_path / "casahub.db")  # never opened: every statement fails
    alerts = Alerts()
    throttle = CodeThrottle(broken, alerts)
    assert await run_until_locked(throttle, "anna", T0) == FIRST_LOCK
    await throttle.right("anna")
    for i in range(7):
        await guess(throttle, f"user{i}", T0 + 10 + i)
    assert alerts.raised == [(10, "user6")]
