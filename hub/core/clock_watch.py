"""The hub's watch on the wall clock: a step (NTP catching up, a manual change) moves running
delays, waiting messages and output commands along with it, so a delay keeps its remaining
time (docs/architecture.md). A function of the Hub, started by the daemon."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from alarms.model import ClockStep

log = logging.getLogger("hub.runtime")  # the name users' [log] levels know (README)


async def run_clock_watch(hub: Any, detect_step: Callable[[], float | None], interval: float = 1.0) -> None:
    """Notice wall-clock steps; move running delays and waiting messages along with them."""
    while True:
        await asyncio.sleep(interval)
        delta = detect_step()
        if delta is None:
            continue
        log.warning("wall clock stepped by %+.1f s; running delays keep their remaining time", delta)
        try:
            await hub.submit(ClockStep(delta=delta), actor="clock")
            if hub.outputs is not None:
                hub.outputs.shift(delta)
            await hub.db.execute(
                "UPDATE outbox SET due_at = due_at + ? WHERE state IN ('pending', 'scheduled')", (delta,)
            )
            if hub.dispatcher is not None:
                hub.dispatcher.wake()
        except Exception:
            log.exception("could not apply the clock step")
