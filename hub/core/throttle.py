"""Failure throttles for logins and alarm codes (brute-force protection).

Logins (`FailureThrottle`) are throttled in memory: a restart clears them, which costs an
attacker a restart per few guesses, and it keeps the SD card free of a write per failed login.

Alarm codes (`CodeThrottle`) are what stands between a guesser and a disarmed house, so their
throttle is kept in the database (tables `code_lockouts`, `wrong_codes`, `wrong_code_alerts`,
hub/store/db.py): neither a restart nor `kill -9` gives fresh tries. One throttle serves every
way a code is typed (dashboard, API, CLI through the API, MQTT), keyed by the caller: a
username, `token:<id>`, or `mqtt`.

- Per caller: 3 wrong codes lock it for 90 s; every further run of 3 wrong codes locks it twice
  as long as the lock before (180 s, 360 s, ...), at most 1 h. A run restarts after an hour
  without a wrong code; the back-off is forgotten 24 h after the caller's last wrong code (longer
  than the longest lock, so waiting out a lock never resets it) or at once by a right code.
  Over MQTT that leaves about 90 guesses on the first day and 72 a day after, instead of 2,880.
- Hub-wide: 10 wrong codes within an hour, from all callers together, raise one alert
  (`alert(count, by)`; the daemon makes it the engine input `WrongCodes`: event log, household
  SMS/push/email, centre CID 461 / SIA JA). At most one alert an hour: after one, the count starts
  again from zero, and the next alert needs 10 more wrong codes *and* an hour since the last. A
  right code never clears this count (one known code must not hide guesses at the others).
- A wrong code is counted before its (slow, threaded) hash check, so concurrent guesses cannot
  all get past a lock; a right code takes it back. A wrong code costs one small write
  transaction; a locked attempt writes nothing (its code is not even checked).

Nothing here reads a clock: callers pass `now` (the web context's or the export's clock).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.store.db import Database, StorageError

if TYPE_CHECKING:
    from hub.core.runtime import Hub

log = logging.getLogger("hub.throttle")  # the name users' [log] levels know (README)

CODE_RUN = 3  # wrong codes that lock a caller
FIRST_LOCK = 90.0  # seconds, the first lock of a caller
MAX_LOCK = 3600.0  # the longest lock
RUN_GAP = 3600.0  # a run of wrong codes restarts after this long without one
FORGET_AFTER = 86400.0  # a caller's back-off is forgotten this long after its last wrong code
ALERT_COUNT = 10  # hub-wide wrong codes ...
ALERT_WINDOW = 3600.0  # ... within this long raise an alert, at most once per this long

Alert = Callable[[int, str], Awaitable[object]]


def lock_duration(locks: int) -> float:
    """How long a caller's lock lasts when it already had `locks` locks: 90 s doubling, at most 1 h."""
    return min(FIRST_LOCK * float(2 ** min(max(locks, 0), 32)), MAX_LOCK)


class FailureThrottle:
    """At most `limit` failures per key within `window` seconds; then locked.

    With `lockout` set, reaching the limit locks the key for `lockout` seconds from the
    last failure (alarm codes: 3 wrong -> 90 s). Without it, the key is locked until the
    oldest counted failure leaves the window (logins: 5 in 15 minutes).
    """

    def __init__(self, limit: int, window: float, lockout: float | None = None) -> None:
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until `key` may try again, or None when it may try now."""
        failures = self._failures.get(key)
        if not failures:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) < self.limit:
            if not failures:
                del self._failures[key]
            return None
        until = failures[-1] + self.lockout if self.lockout is not None else failures[0] + self.window
        if until <= now:
            failures.clear()
            return None
        return until - now

    def failure(self, key: str, now: float) -> None:
        failures = self._failures.setdefault(key, deque())
        failures.append(now)
        while len(failures) > self.limit:
            failures.popleft()

    def success(self, key: str) -> None:
        self._failures.pop(key, None)

    def forget(self, key: str, at: float) -> None:
        """Take back one failure counted at `at` (it turned out to be a success), keep the others."""
        failures = self._failures.get(key)
        if failures and at in failures:
            failures.remove(at)


@dataclass
class _Caller:
    failures: int = 0  # wrong codes in the current run (fewer than CODE_RUN)
    locks: int = 0  # locks so far: the next one lasts lock_duration(locks)
    last_failure: float = 0.0
    locked_until: float | None = None


class CodeThrottle:
    """The alarm-code throttle of one hub (see the module's first lines for the rules).

    A check is `begin` (None: go on, the attempt is counted; else the seconds to wait), then
    `wrong` or `right` once the code was checked. Without a database (`db=None`, tests that
    build a web context by hand) it keeps everything in memory.
    """

    limit = CODE_RUN  # the commissioning report reads these two
    lockout = FIRST_LOCK

    def __init__(self, db: Database | None = None, alert: Alert | None = None) -> None:
        self.db = db
        self.alert = alert
        self._callers: dict[str, _Caller] = {}
        self._loaded = db is None
        self._load_lock = asyncio.Lock()
        self._wrong: deque[float] = deque()  # without a database: the wrong codes since the last alert
        self._last_alert: float | None = None

    async def load(self) -> None:
        """Read the callers' state from the database (once; `begin` does it when needed)."""
        if self._loaded or self.db is None:
            return
        async with self._load_lock:
            if self._loaded:
                return
            try:
                rows = await self.db.fetchall("SELECT * FROM code_lockouts")
            except (sqlite3.Error, StorageError) as exc:
                # A failing disk must not stop the household from disarming: count in memory.
                log.warning("alarm-code locks not read, counting from now: %s", exc)
                rows = []
            for row in rows:
                self._callers[row["caller"]] = _Caller(
                    failures=int(row["failures"]),
                    locks=int(row["locks"]),
                    last_failure=float(row["last_failure"]),
                    locked_until=row["locked_until"],
                )
            self._loaded = True

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until `key` may try a code again, or None when it may try now."""
        caller = self._callers.get(key)
        if caller is None or caller.locked_until is None or caller.locked_until <= now:
            return None
        if caller.locked_until - now > MAX_LOCK:  # the clock went back: no lock outlasts MAX_LOCK
            caller.locked_until = now + MAX_LOCK
        return caller.locked_until - now

    async def begin(self, key: str, now: float) -> float | None:
        """Before checking a code of `key`: the seconds to wait when locked (nothing counted), or
        None after counting the attempt as wrong until `right` takes it back."""
        await self.load()
        # From here on no await: the check and the count are one step for concurrent guesses.
        wait = self.retry_after(key, now)
        if wait is not None:
            return wait
        caller = self._callers.get(key) or _Caller()
        if now - caller.last_failure >= FORGET_AFTER:
            caller = _Caller()
        elif now - caller.last_failure >= RUN_GAP:
            caller.failures = 0
        caller.failures += 1
        caller.last_failure = now
        if caller.failures >= CODE_RUN:
            caller.locked_until = now + lock_duration(caller.locks)
            caller.locks += 1
            caller.failures = 0
        self._callers[key] = caller
        return None

    async def wrong(self, key: str, now: float, *, by: str | None = None) -> None:
        """The code `begin` counted was wrong: store it, and raise the hub-wide alert when due.

        `by` names the caller in the alert (default `key`). A storage failure is logged, never
        raised: the code was wrong whatever the disk says, and the caller gets its answer.
        """
        caller = self._callers.get(key) or _Caller(failures=1, last_failure=now)
        count = 0
        last_alert = self._last_alert
        try:
            if self.db is None:
                count = self._count_in_memory(now)
            else:
                async with self.db.transaction() as conn:
                    await conn.execute(
                        "INSERT INTO code_lockouts (caller, failures, locks, last_failure, locked_until)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (caller) DO UPDATE SET failures = excluded.failures,"
                        " locks = excluded.locks, last_failure = excluded.last_failure,"
                        " locked_until = excluded.locked_until",
                        (key, caller.failures, caller.locks, caller.last_failure, caller.locked_until),
                    )
                    await conn.execute("DELETE FROM code_lockouts WHERE last_failure < ?", (now - FORGET_AFTER,))
                    await conn.execute("INSERT INTO wrong_codes (at, caller) VALUES (?, ?)", (now, key))
                    await conn.execute("DELETE FROM wrong_codes WHERE at <= ?", (now - ALERT_WINDOW,))
                    async with conn.execute("SELECT MAX(at) FROM wrong_code_alerts") as cur:
                        row = await cur.fetchone()
                    if row is not None and row[0] is not None:
                        last_alert = max(float(row[0]), last_alert or float(row[0]))
                    since = now - ALERT_WINDOW if last_alert is None else max(now - ALERT_WINDOW, last_alert)
                    async with conn.execute("SELECT COUNT(*) FROM wrong_codes WHERE at > ?", (since,)) as cur:
                        row = await cur.fetchone()
                    count = int(row[0]) if row is not None else 0
        except (sqlite3.Error, StorageError) as exc:
            log.warning("wrong alarm code of %s not stored: %s", key, exc)
            count = self._count_in_memory(now)
        if count < ALERT_COUNT or (last_alert is not None and now - last_alert < ALERT_WINDOW):
            return
        if self._last_alert is not None and now - self._last_alert < ALERT_WINDOW:
            return  # a concurrent wrong code raised it a moment ago
        self._last_alert = now
        self._wrong.clear()
        log.warning("%d wrong alarm codes within an hour (the last by %s): alerting", count, by or key)
        try:
            if self.alert is not None:
                await self.alert(count, by or key)
            if self.db is not None:
                # After the alert: a crash in between repeats the alert, never loses it.
                await self.db.execute("INSERT INTO wrong_code_alerts (at) VALUES (?)", (now,))
        except Exception:
            log.exception("the wrong-code alert failed")

    def _count_in_memory(self, now: float) -> int:
        self._wrong.append(now)
        since = now - ALERT_WINDOW if self._last_alert is None else max(now - ALERT_WINDOW, self._last_alert)
        while self._wrong and self._wrong[0] <= since:
            self._wrong.popleft()
        return len(self._wrong)

    def forgive(self, key: str, now: float) -> None:
        """Take back the attempt `begin` counted at `now` without clearing the caller's earlier wrong
        codes (an owner's code outside its window: refused, but no lockout penalty). Writes nothing:
        `begin` wrote nothing either, so the stored state is still the one before it."""
        caller = self._callers.get(key)
        if caller is None:
            return
        if caller.failures > 0:
            caller.failures -= 1
        elif caller.locks > 0 and caller.locked_until is not None and caller.last_failure == now:
            # This attempt completed a run and locked the caller: the lock goes with it.
            caller.locks -= 1
            caller.locked_until = None
            caller.failures = CODE_RUN - 1
        if caller.failures == 0 and caller.locks == 0:
            del self._callers[key]

    async def right(self, key: str) -> None:
        """A right code: the caller's run and back-off are forgotten (the hub-wide count is not)."""
        if self._callers.pop(key, None) is None or self.db is None:
            return
        try:
            await self.db.execute("DELETE FROM code_lockouts WHERE caller = ?", (key,))
        except (sqlite3.Error, StorageError) as exc:
            log.warning("cleared code lock of %s not stored: %s", key, exc)


def hub_code_throttle(hub: Hub) -> CodeThrottle:
    """The code throttle over `hub`'s database whose alert is the engine input `WrongCodes`."""
    from alarms.model import WrongCodes

    async def alert(count: int, by: str) -> None:
        await hub.submit(WrongCodes(count=count, by=by))

    return CodeThrottle(hub.db, alert)
