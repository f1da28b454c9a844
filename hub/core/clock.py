"""The hub's clock: wall time that advances with the monotonic clock.

Delays and escalation timers must not jump when someone (NTP after an RTC-less boot, a
user, a bad GPS) steps the wall clock. The hub therefore reads wall time once and then
advances it with `time.monotonic()`. A watch compares it with the real wall clock; when
they differ by more than `threshold` it re-anchors and reports the step, so the engine
moves its deadlines along (ClockStep) and timestamps sent out (DC-09) are right again.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable
from datetime import datetime, tzinfo


class SteadyClock:
    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        threshold: float = 2.0,
    ) -> None:
        self._wall = wall
        self._mono = mono
        self.threshold = threshold
        self._offset = wall() - mono()

    def __call__(self) -> float:
        return self._mono() + self._offset

    def detect_step(self) -> float | None:
        """Seconds the wall clock jumped since the last check (re-anchoring on it), or None."""
        delta = self._wall() - self()
        if abs(delta) < self.threshold:
            return None
        self._offset += delta
        return delta


async def wait_set(event: asyncio.Event, timeout: float | None) -> None:
    """Wait until `event` is set, at most `timeout` seconds (TimeoutError), like
    `asyncio.wait_for(event.wait(), timeout)`, but without its Python 3.11 flaw: a cancellation
    that arrives while the event is being set is lost there, the task never stops and the
    daemon's TaskGroup waits for it forever at shutdown. `asyncio.timeout` keeps it."""
    async with asyncio.timeout(timeout):
        await event.wait()


def iso_seconds(ts: float, tz: tzinfo) -> str:
    """`ts` in `tz` as ISO 8601 to the second, as every API timestamp is shown.

    Cached by whole second: a dashboard's lists (notifications, events, devices) show the same
    few seconds over and over, and a zoneinfo conversion cost more than the rest of a row's JSON
    (the storm with 100 API requests/s)."""
    # The second datetime itself would show: it rounds to the microsecond first (half even).
    frac, whole = math.modf(ts)
    micro, second = round(frac * 1e6), int(whole)
    if micro >= 1_000_000:
        second += 1
    elif micro < 0:
        second -= 1
    return _iso_second(second, tz)


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(second, tz).isoformat(timespec="seconds")
