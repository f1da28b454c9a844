"""Event log retention (hub/store/journal.py): the oldest events beyond `[storage] max_events` go, in
small batches, but never fewer than 10,000 events, never one younger than 400 days and never an
event of an open incident or anomaly; a running daemon prunes on its own and keeps serving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.store import journal
from hub.store.db import Database

DAY = 86400.0
NOW = 1_800_000_000.0
OLD = NOW - 500 * DAY  # older than KEEP_DAYS


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "casahub.db")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def _fill(db: Database, count: int, at: float, **columns: str) -> None:
    names = ", ".join(columns)
    marks = ", ?" * len(columns)
    async with db.transaction() as conn:
        await conn.executemany(
            f"INSERT INTO events (at, kind{', ' + names if names else ''}) VALUES (?, 'zone_renamed'{marks})",
            [(at + i, *columns.values()) for i in range(count)],
        )


async def _count(db: Database, where: str = "1") -> int:
    row = await db.fetchone(f"SELECT COUNT(*) FROM events WHERE {where}")
    assert row is not None
    return int(row[0])


async def _prune_all(db: Database, max_events: int) -> int:
    total = 0
    while (n := await journal.prune_events(db, now=NOW, max_events=max_events)) > 0:
        assert n <= journal.PRUNE_BATCH
        total += n
    return total


async def test_the_oldest_beyond_max_events_go_but_open_incidents_and_anomalies_stay(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO incidents (id, kind, state, opened_at, data) VALUES ('inc-open', 'water', 'active', ?, '{}')",
            (OLD,),
        )
        await conn.execute(
            "INSERT INTO incidents (id, kind, state, opened_at, closed_at, data)"
            " VALUES ('inc-done', 'water', 'resolved', ?, ?, '{}')",
            (OLD, OLD + 60),
        )
        await conn.execute(
            "INSERT INTO anomalies (id, kind, state, opened_at) VALUES ('an-open', 'low_battery', 'active', ?)", (OLD,)
        )
    await _fill(db, 5, OLD - 10, incident="inc-open")
    await _fill(db, 5, OLD - 10, incident="inc-done")
    await _fill(db, 5, OLD - 10, anomaly="an-open")
    await _fill(db, 12_000, OLD)
    await _fill(db, 100, NOW - DAY)  # recent
    assert await _count(db) == 12_115

    pruned = await _prune_all(db, max_events=10_000)

    assert pruned == 12_115 - 10_000 - 10  # down to 10,000 and the open incident's and anomaly's events
    assert await _count(db) == 10_010
    assert await _count(db, "incident = 'inc-open'") == 5
    assert await _count(db, "anomaly = 'an-open'") == 5
    assert await _count(db, "incident = 'inc-done'") == 0  # a closed incident's events age out
    assert await _count(db, f"at >= {NOW - DAY}") == 100
    # The newest 10,000 are what is left (beside the open ones).
    row = await db.fetchone("SELECT MIN(id) FROM events WHERE incident IS NULL AND anomaly IS NULL")
    top = await db.fetchone("SELECT MAX(id) FROM events")
    assert row is not None and top is not None and top[0] - row[0] + 1 == 10_000


async def test_never_fewer_than_10000_events_nor_any_younger_than_400_days(db: Database) -> None:
    await _fill(db, 9_000, OLD)
    assert await _prune_all(db, max_events=1_000) == 0  # max_events below the floor counts as 10,000
    await _fill(db, 20_000, NOW - 300 * DAY)
    assert await _prune_all(db, max_events=10_000) == 9_000  # only the ones older than 400 days
    assert await _count(db) == 20_000


async def test_retention_runs_beside_the_alarm_path(db: Database) -> None:
    """The retention task prunes in batches and lets other writers in between."""
    await _fill(db, 12_000, OLD)
    retention = journal.run_retention(db, max_events=10_000, clock=lambda: NOW, interval=3600, first_after=0)
    task = asyncio.create_task(retention)
    try:
        deadline = time.monotonic() + 20
        writes: list[float] = []
        while await _count(db, "kind = 'zone_renamed'") > 10_000:
            assert time.monotonic() < deadline, "retention did not prune"
            started = time.monotonic()
            await db.execute("INSERT INTO events (at, kind) VALUES (?, 'armed')", (NOW,))
            writes.append(time.monotonic() - started)
            await asyncio.sleep(0.005)
        assert writes and max(writes) < 0.5, max(writes)  # a write never waited for a whole pass
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
