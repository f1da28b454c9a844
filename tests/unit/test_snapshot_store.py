"""The engine snapshot in rows: only the zones a step changed are rewritten, and what is read
back is always the state that was written (hub/store/snapshot.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import aiosqlite
import msgspec
import pytest

from alarms.engine import handle, initial_state
from alarms.model import SensorChanged, State, ZoneRemove, ZoneUpsert
from hub.store.db import Database
from hub.store.snapshot import SnapshotStore, load_state


def house(zones: int) -> State:
    state = initial_state()
    for n in range(zones):
        kind = "motion" if n % 2 else "contact"
        state = handle(state, ZoneUpsert(id=f"z{n}", name=f"Zone {n}", kind=kind, behaviour="instant"), 0).state
    return state


class Counted:
    """The transaction's connection, counting the zone rows each statement writes."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.zone_rows = 0
        self.deleted_all = False

    async def execute(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Cursor:
        self.deleted_all |= sql == "DELETE FROM engine_zones"
        return await self.conn.execute(sql, params)

    async def executemany(self, sql: str, rows: list[tuple[object, ...]]) -> aiosqlite.Cursor:
        if sql.startswith("INSERT INTO engine_zones"):
            self.zone_rows += len(rows)
        return await self.conn.executemany(sql, rows)


async def save(db: Database, store: SnapshotStore, state: State) -> Counted:
    async with db.transaction() as conn:
        counted = Counted(conn)
        await store.save(counted, state, 1)  # type: ignore[arg-type]
    store.committed()
    return counted


async def test_a_step_rewrites_only_the_zones_it_changed(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db")
    await db.open()
    try:
        store = SnapshotStore()
        state = house(200)
        first = await save(db, store, state)
        assert (first.zone_rows, first.deleted_all) == (200, True)  # nothing known yet: all of them

        opened = handle(state, SensorChanged(zone="z7", active=True), 10).state
        step = await save(db, store, opened)
        assert (step.zone_rows, step.deleted_all) == (1, False)
        assert await load_state(db.conn) == opened

        gone = handle(opened, ZoneRemove(id="z3"), 20).state
        step = await save(db, store, gone)
        assert step.zone_rows == 0
        assert await load_state(db.conn) == gone and "z3" not in gone.zones

        row = await db.fetchone("SELECT length(state) FROM engine_state")
        assert row is not None and row[0] < 2_000  # the state row no longer carries the zones
    finally:
        await db.close()


async def test_after_a_rolled_back_step_every_zone_is_written_again(tmp_path: Path) -> None:
    """A step that did not commit (a full disk) must not leave its zones believed written."""
    db = Database(tmp_path / "hub.db")
    await db.open()
    try:
        store = SnapshotStore()
        state = house(10)
        await save(db, store, state)
        lost = handle(state, SensorChanged(zone="z1", active=True), 5).state
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await store.save(conn, lost, 2)
                raise RuntimeError("COMMIT failed")
        store.rolled_back()
        assert await load_state(db.conn) == state  # the rolled-back zone is not in the rows

        later = handle(lost, SensorChanged(zone="z2", active=True), 6).state
        step = await save(db, store, later)
        assert (step.zone_rows, step.deleted_all) == (10, True)
        assert await load_state(db.conn) == later
    finally:
        await db.close()


async def test_a_snapshot_written_whole_loads_and_is_then_split(tmp_path: Path) -> None:
    """A hub upgraded from the whole-state snapshot keeps its zones, and writes them as rows."""
    state = house(5)
    db = Database(tmp_path / "hub.db")
    await db.open()
    await db.close()
    conn = sqlite3.connect(tmp_path / "hub.db")
    whole = json.loads(msgspec.json.encode(state))
    conn.execute("INSERT INTO engine_state (id, state, last_event) VALUES (1, ?, 0)", (json.dumps(whole),))
    conn.commit()
    conn.close()

    db = Database(tmp_path / "hub.db")
    await db.open()
    try:
        store = SnapshotStore()
        loaded = await store.load(db.conn)
        assert loaded == state
        step = await save(db, store, handle(state, SensorChanged(zone="z0", active=True), 1).state)
        assert (step.zone_rows, step.deleted_all) == (5, True)
        rows = await db.fetchall("SELECT id FROM engine_zones ORDER BY id")
        assert [r[0] for r in rows] == [f"z{n}" for n in range(5)]
    finally:
        await db.close()
