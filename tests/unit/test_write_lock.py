"""The write lock: engine steps first, the other writers in the order they came (hub/store/write_lock.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hub.store.db import Database
from hub.store.write_lock import WriteLock


async def writer(
    lock: WriteLock, order: list[str], name: str, *, urgent: bool = False, hold: asyncio.Event | None = None
) -> None:
    """Take the lock, note `name`, keep it until `hold` is set."""
    async with lock.hold(urgent=urgent):
        order.append(name)
        if hold is not None:
            await hold.wait()


async def test_urgent_first_and_everyone_else_in_order() -> None:
    lock = WriteLock()
    order: list[str] = []
    release = asyncio.Event()

    first = asyncio.create_task(writer(lock, order, "holder", hold=release))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(writer(lock, order, f"sent {n}")) for n in range(3)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(writer(lock, order, "step 1", urgent=True)))
    tasks.append(asyncio.create_task(writer(lock, order, "confirmed")))
    tasks.append(asyncio.create_task(writer(lock, order, "step 2", urgent=True)))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *tasks)
    # The "sent" records keep their order, the "confirmed" after them: the last write stays.
    assert order == ["holder", "step 1", "step 2", "sent 0", "sent 1", "sent 2", "confirmed"]
    assert not lock.locked()


async def test_a_cancelled_waiter_leaves_no_trace_and_never_keeps_the_lock() -> None:
    lock = WriteLock()
    release = asyncio.Event()
    order: list[str] = []

    holder = asyncio.create_task(writer(lock, order, "holder", hold=release))
    await asyncio.sleep(0)
    gone = asyncio.create_task(writer(lock, order, "cancelled while waiting", urgent=True))
    late = asyncio.create_task(writer(lock, order, "late"))
    await asyncio.sleep(0)
    gone.cancel()
    release.set()
    await asyncio.gather(holder, late, gone, return_exceptions=True)
    assert order == ["holder", "late"]

    # Handed the lock at the moment it is cancelled: the lock goes on to the next one.
    release.clear()
    holder = asyncio.create_task(writer(lock, order, "holder", hold=release))
    await asyncio.sleep(0)
    handed = asyncio.create_task(writer(lock, order, "handed then cancelled"))
    after = asyncio.create_task(writer(lock, order, "after"))
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)  # the holder releases: `handed` now owns the lock, not yet resumed
    handed.cancel()
    await asyncio.gather(holder, after, handed, return_exceptions=True)
    assert order[-1] == "after" and "handed then cancelled" not in order
    assert not lock.locked()


async def test_a_waiter_cancelled_just_as_the_lock_is_released() -> None:
    """The holder releases first and drops the cancelled waiter; the waiter then ends cancelled
    (it once raised ValueError there, and the hub's shutdown hung on it)."""
    lock = WriteLock()
    release = asyncio.Event()

    async def holder() -> None:
        async with lock.hold(urgent=False):
            await release.wait()

    async def waiter() -> None:
        async with lock.hold(urgent=True):
            raise AssertionError("never gets the lock")

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    second = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    release.set()  # the holder's wake-up is scheduled first...
    second.cancel()  # ...the waiter's cancellation after it
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert results[0] is None and isinstance(results[1], asyncio.CancelledError)
    assert not lock.locked()
    async with lock.hold(urgent=False):  # free for the next one
        pass


async def test_a_cancelled_write_ends_before_the_next_transaction_begins(tmp_path: Path) -> None:
    """A one-statement write cancelled on its way (the dispatcher stopping) still runs to its
    end on the writer's thread; the next transaction must not begin inside it."""
    db = Database(tmp_path / "hub.db")
    await db.open()
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        for n in range(20):
            write = asyncio.create_task(db.execute("INSERT INTO t VALUES (1)"))
            for _ in range(n % 4):  # cancelled at different points of its way to the thread
                await asyncio.sleep(0)
            write.cancel()
            async with db.step_transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (2)")
            await asyncio.gather(write, return_exceptions=True)
        rows = await db.fetchall("SELECT x, COUNT(*) AS n FROM t GROUP BY x ORDER BY x")
        assert {r["x"]: r["n"] for r in rows}.get(2) == 20
        assert not db.conn.in_transaction
    finally:
        await db.close()
