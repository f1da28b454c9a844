"""An engine step's statements run on the event loop's thread, inside the writer's transaction.

Through aiosqlite every statement is a trip to its thread and back: a queue, a wake-up, a
callback through the loop's self-pipe. An alarm step has a dozen statements (journal row,
incident, events, one outbox row per message, the snapshot), so a dozen trips, each one a
chance for the 2 cores of a Pi to be busy elsewhere: that, not SQLite, was most of the
alarm's commit time (issue 19: median 3.3 -> 2.2 ms, p99 11-16 -> 8 ms on the bench machine).
Inside a transaction those statements only touch SQLite's page cache (pages reach the WAL at
COMMIT), so they take microseconds and are run here directly. BEGIN IMMEDIATE (which may wait
for another process's lock) and COMMIT (the fsync) still go to the writer's thread.

`InlineTx` offers the part of aiosqlite's Connection that the step's writers use
(`await conn.execute(...)`, `async with conn.execute(...) as cur`, `executemany`), on the
raw sqlite3 connection the writer thread also uses; the write lock keeps them from ever
running at the same time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterable, Sequence
from types import TracebackType
from typing import Any


class InlineCursor:
    """What a step reads back from a statement: its rowid, or its rows."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self.lastrowid = cursor.lastrowid
        self.rowcount = cursor.rowcount

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineResult:
    """The statement has already run (raising at once if it failed): awaiting it or entering it
    gives its cursor, as aiosqlite's `execute` result does."""

    def __init__(self, cursor: InlineCursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, InlineCursor]:
        return self._done().__await__()

    async def _done(self) -> InlineCursor:
        return self._cursor

    async def __aenter__(self) -> InlineCursor:
        return self._cursor

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._cursor.close()


class InlineTx:
    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> InlineResult:
        return InlineResult(InlineCursor(self._raw.execute(sql, tuple(parameters or ()))))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        return InlineCursor(self._raw.executemany(sql, parameters))

    @property
    def in_transaction(self) -> bool:
        return self._raw.in_transaction
