"""The household's schedules, in the hub database (table `schedules`, schema 12).

A row is the rule as JSON (alarms/schedules.py `Rule`), who set it up and when, and `last_run`:
the occurrence it last ran or missed, written before anything the run does, so that a restart
neither repeats nor forgets a run (hub/core/scheduler.py). A row whose rule no longer decodes (a
mode that a downgrade does not know) is listed with `rule` None and never run.

`changes(db)` is the one signal that the table changed: the API sets it after a write, the
scheduler waits on it, so a schedule added a minute ahead is timed at once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from dataclasses import dataclass

import msgspec

from alarms.schedules import Rule
from hub.store.db import Database

__all__ = ["MAX_SCHEDULES", "ScheduleStore", "StoredSchedule", "TooManySchedules", "changes"]

log = logging.getLogger("hub.schedules")

MAX_SCHEDULES = 50  # a household has a handful; the table, the page and the loop stay small
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Rule)
_CHANGES: weakref.WeakKeyDictionary[Database, asyncio.Event] = weakref.WeakKeyDictionary()


class TooManySchedules(Exception):
    """The household already has MAX_SCHEDULES schedules."""


@dataclass(frozen=True)
class StoredSchedule:
    id: int
    rule: Rule | None  # None: stored by a newer casahub, not understood here
    created_at: float
    created_by: str
    last_run: float | None


def changes(db: Database) -> asyncio.Event:
    """Set whenever a schedule of `db` is added or removed."""
    event = _CHANGES.get(db)
    if event is None:
        event = _CHANGES[db] = asyncio.Event()
    return event


def _row(row: sqlite3.Row) -> StoredSchedule:
    try:
        rule: Rule | None = _DECODER.decode(row["rule"])
    except (msgspec.DecodeError, ValueError) as exc:
        log.warning("schedule %s: its rule cannot be read (%s): it will not run", row["id"], exc)
        rule = None
    return StoredSchedule(
        id=int(row["id"]),
        rule=rule,
        created_at=float(row["created_at"]),
        created_by=str(row["created_by"]),
        last_run=None if row["last_run"] is None else float(row["last_run"]),
    )


class ScheduleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[StoredSchedule]:
        return [_row(row) for row in await self.db.fetchall("SELECT * FROM schedules ORDER BY id")]

    async def get(self, schedule_id: int) -> StoredSchedule | None:
        row = await self.db.fetchone("SELECT * FROM schedules WHERE id = ?", (schedule_id,))
        return None if row is None else _row(row)

    async def add(self, rule: Rule, *, now: float, created_by: str) -> StoredSchedule:
        """Store a checked rule; TooManySchedules beyond MAX_SCHEDULES."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT COUNT(*) FROM schedules") as cur:
                found = await cur.fetchone()
            if found is not None and int(found[0]) >= MAX_SCHEDULES:
                raise TooManySchedules(f"at most {MAX_SCHEDULES} schedules: delete one first")
            cur = await conn.execute(
                "INSERT INTO schedules (rule, created_at, created_by, last_run) VALUES (?, ?, ?, NULL)",
                (_ENCODER.encode(rule).decode(), now, created_by),
            )
            schedule_id = cur.lastrowid or 0
        changes(self.db).set()
        return StoredSchedule(id=schedule_id, rule=rule, created_at=now, created_by=created_by, last_run=None)

    async def remove(self, schedule_id: int) -> bool:
        """Delete a schedule; False when there was none with this id."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
            removed = cur.rowcount > 0
        changes(self.db).set()
        return removed

    async def mark_run(self, schedule_id: int, occurrence: float) -> None:
        """Record that the occurrence `occurrence` was dealt with (run or missed)."""
        await self.db.execute("UPDATE schedules SET last_run = ? WHERE id = ?", (occurrence, schedule_id))
