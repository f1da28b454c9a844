"""An engine step's transaction with its statements on the loop's thread (hub/store/inline_tx.py):
all or nothing, as `transaction()`, and the same answers as aiosqlite gives."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hub.store.db import Database


async def test_the_step_commits_together_and_reads_its_own_rows(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db")
    await db.open()
    try:
        async with db.step_transaction() as conn:
            first = await conn.execute("INSERT INTO events (at, kind) VALUES (1, 'a')")
            second = await conn.execute("INSERT INTO events (at, kind) VALUES (2, 'b')")
            assert (first.lastrowid, second.lastrowid) == (1, 2)
            await conn.executemany("INSERT INTO events (at, kind) VALUES (?, ?)", [(3, "c"), (4, "d")])
            async with conn.execute("SELECT kind FROM events ORDER BY id") as cur:
                assert [r["kind"] for r in await cur.fetchall()] == ["a", "b", "c", "d"]
            cur = await conn.execute("SELECT COUNT(*) FROM events")
            assert (await cur.fetchone())[0] == 4
            # Not committed yet: the reader sees none of it.
            assert (await db.fetchone("SELECT COUNT(*) FROM events"))[0] == 0  # type: ignore[index]
        assert (await db.fetchone("SELECT COUNT(*) FROM events"))[0] == 4  # type: ignore[index]
    finally:
        await db.close()


async def test_a_failing_step_leaves_nothing_and_the_next_one_works(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db")
    await db.open()
    try:
        with pytest.raises(Exception, match="NOT NULL"):
            async with db.step_transaction() as conn:
                await conn.execute("INSERT INTO events (at, kind) VALUES (1, 'kept?')")
                await conn.execute("INSERT INTO events (at, kind) VALUES (2, NULL)")
        assert (await db.fetchone("SELECT COUNT(*) FROM events"))[0] == 0  # type: ignore[index]
        with pytest.raises(RuntimeError):
            async with db.step_transaction() as conn:
                await conn.execute("INSERT INTO events (at, kind) VALUES (1, 'kept?')")
                raise RuntimeError("the step failed after its statements")
        assert (await db.fetchone("SELECT COUNT(*) FROM events"))[0] == 0  # type: ignore[index]
        # The writer is usable again, through both paths.
        await db.execute("INSERT INTO events (at, kind) VALUES (1, 'x')")
        async with db.step_transaction() as conn:
            await conn.execute("INSERT INTO events (at, kind) VALUES (2, 'y')")
        assert (await db.fetchone("SELECT COUNT(*) FROM events"))[0] == 2  # type: ignore[index]
    finally:
        await db.close()


async def test_an_engine_step_passes_the_writers_already_waiting(tmp_path: Path) -> None:
    """The dispatcher's records and a telemetry flush wait; an alarm's step does not queue behind them."""
    db = Database(tmp_path / "hub.db")
    await db.open()
    order: list[str] = []
    try:
        held = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO events (at, kind) VALUES (0, 'holder')")
                held.set()
                await release.wait()
            order.append("holder")

        async def record(n: int) -> None:
            await db.execute("INSERT INTO events (at, kind) VALUES (?, 'record')", (n,))
            order.append(f"record {n}")

        async def step() -> None:
            async with db.step_transaction() as conn:
                await conn.execute("INSERT INTO events (at, kind) VALUES (9, 'step')")
            order.append("step")

        first = asyncio.create_task(holder())
        await held.wait()
        records = [asyncio.create_task(record(n)) for n in range(3)]
        await asyncio.sleep(0)  # the records queue first
        urgent = asyncio.create_task(step())
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, urgent, *records)
        assert order == ["holder", "step", "record 0", "record 1", "record 2"]

        # A step cancelled while it waits leaves no priority behind: the others still get through.
        held.clear()
        release.clear()
        first = asyncio.create_task(holder())
        await held.wait()
        cancelled = asyncio.create_task(step())
        await asyncio.sleep(0)
        cancelled.cancel()
        late = asyncio.create_task(record(7))
        release.set()
        await asyncio.gather(first, late)
        assert order[-1] == "record 7"
        assert (await db.fetchone("SELECT COUNT(*) FROM events"))[0] == 7  # type: ignore[index]
    finally:
        await db.close()


async def test_a_step_waits_for_another_process_on_the_writer_thread_not_on_the_loop(tmp_path: Path) -> None:
    """The CLI writing at the same moment: the step's BEGIN cannot begin at once; it waits on the
    writer's thread (busy_timeout) while the event loop goes on, and then commits."""
    db = Database(tmp_path / "hub.db")
    await db.open()
    other = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO events (at, kind) VALUES (1, 'cli')")

        async def step() -> None:
            async with db.step_transaction() as conn:
                await conn.execute("INSERT INTO events (at, kind) VALUES (2, 'step')")

        waiting = asyncio.create_task(step())
        for _ in range(20):  # the loop keeps running while the step waits for the lock
            await asyncio.sleep(0.01)
        assert not waiting.done()
        other.execute("COMMIT")
        await waiting
        rows = await db.fetchall("SELECT kind FROM events ORDER BY id")
        assert [r["kind"] for r in rows] == ["cli", "step"]
    finally:
        other.close()
        await db.close()
