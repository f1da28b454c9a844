"""Wall-clock steps (NTP after an RTC-less boot, a manual change) do not move running delays."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from hub.core.clock import SteadyClock
from tests.conftest import Api, start_hub


def test_steady_clock_ignores_steps_until_detected() -> None:
    wall = [1000.0]
    mono = [5.0]
    clock = SteadyClock(wall=lambda: wall[0], mono=lambda: mono[0])
    mono[0] += 10
    wall[0] += 10 + 3600  # someone set the clock an hour ahead
    assert clock() == 1010.0
    assert clock.detect_step() == 3600.0
    assert clock() == wall[0]
    assert clock.detect_step() is None
    wall[0] += 1.0  # small drift below the threshold is not a step
    mono[0] += 0.5
    assert clock.detect_step() is None


async def _run_step_scenario(tmp_path: Path, step: float) -> None:
    skew = [0.0]
    clock = SteadyClock(wall=lambda: time.time() + skew[0])
    cfg = tmp_path / "casahub.toml"
    cfg.write_text("[alarm]\nexit_delay = 1\nentry_delay = 5\n\n[escalation]\nack_timeout = 30\n")
    running = await start_hub(tmp_path / "data", config=cfg, clock=clock)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            water, door = await api.zone_id("water"), await api.zone_id("contact")
            await api.trigger(water)
            status, _ = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
            assert status == 200
            for _ in range(60):
                if (await api.get("/api/v1/system"))["mode"] == "armed_away":
                    break
                await asyncio.sleep(0.05)
            await api.trigger(door)
            before = await api.get("/api/v1/system")
            assert before["mode"] == "pending"
            reminder_before = await running.hub.db.fetchone(
                "SELECT due_at FROM outbox WHERE template = 'incident.reminder'"
            )
            skew[0] = step
            await asyncio.sleep(1.6)  # the watch checks every second
            after = await api.get("/api/v1/system")
            # The entry delay neither ended at once (clock ahead) nor got an hour longer (clock back).
            assert after["mode"] == "pending", after
            assert 1.0 < after["delays"]["entry"]["remaining"] <= 4.0, after["delays"]
            reminder_after = await running.hub.db.fetchone(
                "SELECT due_at FROM outbox WHERE template = 'incident.reminder'"
            )
            assert reminder_before is not None and reminder_after is not None
            assert abs(reminder_after["due_at"] - reminder_before["due_at"] - step) < 0.01
            # Timestamps follow the new wall time (what the centre will see).
            assert abs(running.hub.clock() - (time.time() + step)) < 0.5
            for _ in range(100):
                if (await api.get("/api/v1/system"))["mode"] == "triggered":
                    break
                await asyncio.sleep(0.05)
            assert (await api.get("/api/v1/system"))["mode"] == "triggered"
            events = (await api.get("/api/v1/events?kind=clock_step"))["items"]
            assert events
    finally:
        await running.stop()


async def test_clock_stepped_forward_keeps_the_entry_delay(tmp_path: Path) -> None:
    await _run_step_scenario(tmp_path, 3600.0)


async def test_clock_stepped_back_keeps_the_entry_delay(tmp_path: Path) -> None:
    await _run_step_scenario(tmp_path, -3600.0)
