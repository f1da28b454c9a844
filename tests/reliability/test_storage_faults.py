"""The database full or read-only: storage_error anomaly, alarms still notified, recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub


async def _fill_up(running: RunningHub) -> None:
    db = running.hub.db
    row = await db.fetchone("PRAGMA page_count")
    assert row is not None
    # No page may be added: the next write that needs space fails with SQLITE_FULL.
    await db.conn.execute(f"PRAGMA max_page_count = {int(row[0])}")
    filler = "x" * 4000
    with pytest.raises(Exception):  # noqa: B017 - whichever sqlite error "full" raises
        for _ in range(1000):
            await db.conn.execute("INSERT INTO events (at, kind, data) VALUES (0, 'filler', ?)", (filler,))


async def _sent_in_memory(running: RunningHub, template_prefix: str) -> list[object]:
    return [r for r in running.hub.degraded.outbox if r.template.startswith(template_prefix) and r.state == "sent"]


@pytest.mark.parametrize("fault", ["full", "readonly"])
async def test_alarm_is_notified_while_storage_fails_and_recorded_after(tmp_path: Path, fault: str) -> None:
    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            water = await api.zone_id("water")
            hub = running.hub
            if fault == "full":
                await _fill_up(running)
            else:
                await hub.db.conn.execute("PRAGMA query_only = 1")
            await api.trigger(water)
            system = await api.get("/api/v1/system")
            assert [i["kind"] for i in system["incidents"]] == ["water"]
            assert "storage_error" in [a["kind"] for a in system["anomalies"]]
            assert hub.degraded.active
            # The household hears of the leak and of the storage problem, from memory.
            for _ in range(100):
                if await _sent_in_memory(running, "incident.water") and await _sent_in_memory(
                    running, "anomaly.storage_error"
                ):
                    break
                await asyncio.sleep(0.05)
            assert await _sent_in_memory(running, "incident.water")
            assert await _sent_in_memory(running, "anomaly.storage_error")
            # Space comes back: everything kept in memory is written, the anomaly clears.
            if fault == "full":
                await hub.db.conn.execute("DELETE FROM events WHERE kind = 'filler'")
                await hub.db.conn.execute("PRAGMA max_page_count = 1073741823")
            else:
                await hub.db.conn.execute("PRAGMA query_only = 0")
            assert await hub.flush_degraded()
            assert not hub.degraded.active
            incidents = (await api.get("/api/v1/incidents"))["items"]
            assert [i["kind"] for i in incidents] == ["water"]
            rows = (await api.get("/api/v1/notifications"))["items"]
            water_rows = [r for r in rows if r["template"] == "incident.water"]
            assert water_rows and all(r["state"] == "sent" for r in water_rows)
            anomalies = (await api.get("/api/v1/anomalies?state=all"))["items"]
            storage = [a for a in anomalies if a["kind"] == "storage_error"]
            assert storage and storage[0]["state"] == "resolved"
            integrity = await hub.db.fetchone("PRAGMA integrity_check")
            assert integrity is not None and integrity[0] == "ok"
            from alarms import engine
            from hub.store import journal

            assert engine.replay(await journal.load_inputs(hub.db.conn)) == hub.state
    finally:
        await running.stop()


async def test_a_change_refused_while_storage_fails_is_not_made_in_memory_either(tmp_path: Path) -> None:
    """503 "not made" means not made: neither the change that found storage failing nor one that
    came while the hub already ran from memory may change the state behind the answer."""
    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            hub = running.hub
            await hub.db.conn.execute("PRAGMA query_only = 1")
            for attempt in ("storage found failing", "storage already failing"):
                status, body = await api.request("POST", "/api/v1/system/arm", {"mode": "home", "code": "12345"})
                assert (status, body["error"]) == (503, "storage_error"), (attempt, body)
                assert hub.degraded.active
                assert (await api.get("/api/v1/system"))["mode"] == "disarmed", attempt
                assert hub.state.mode == "disarmed", attempt
            await hub.db.conn.execute("PRAGMA query_only = 0")
            assert await hub.flush_degraded()
            from alarms import engine
            from hub.store import journal

            assert engine.replay(await journal.load_inputs(hub.db.conn)) == hub.state
    finally:
        await running.stop()
