"""SQLite storage: connection settings, versioned migrations and the transaction helper.

One aiosqlite connection serves the whole daemon. Writes that matter for an alarm
(journal row, engine snapshot, incidents, outbox rows) go through `transaction()`,
which commits them together: after a crash either all of them are on disk or none is.
WAL with synchronous=FULL: a committed alarm survives a power cut, not only a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from hub.store.inline_tx import InlineTx
from hub.store.write_lock import WriteLock

T = TypeVar("T")

log = logging.getLogger("hub.storage")  # the name users' [log] levels know (README)

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT,
        zone TEXT,
        incident TEXT,
        anomaly TEXT,
        data TEXT,
        input TEXT            -- the engine input as JSON when this row is one (replayable journal)
    );
    CREATE INDEX events_kind ON events(kind, id);
    CREATE INDEX events_zone ON events(zone, id);
    CREATE TABLE engine_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL,
        last_event INTEGER NOT NULL
    );
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        opened_at REAL NOT NULL,
        closed_at REAL,
        data TEXT NOT NULL
    );
    CREATE INDEX incidents_state ON incidents(state);
    CREATE TABLE anomalies (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        device TEXT,
        subject TEXT,
        opened_at REAL NOT NULL,
        closed_at REAL
    );
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        driver TEXT NOT NULL,
        address TEXT NOT NULL,
        name TEXT NOT NULL,
        room TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        bindkey TEXT,
        battery REAL,
        signal INTEGER,
        last_seen REAL,
        online INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        UNIQUE (driver, address)
    );
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        code_hash TEXT,
        duress_hash TEXT,
        language TEXT NOT NULL DEFAULT 'it',
        created_at REAL NOT NULL
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        username TEXT,
        label TEXT,
        created_at REAL NOT NULL,
        expires_at REAL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at REAL NOT NULL,
        due_at REAL NOT NULL,
        incident TEXT,
        anomaly TEXT,
        channel TEXT NOT NULL,
        transport TEXT NOT NULL,
        recipient TEXT NOT NULL,
        address TEXT,
        language TEXT NOT NULL,
        template TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        short TEXT NOT NULL,
        payload TEXT,          -- structured data for machine channels (the centre report)
        step INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,   -- scheduled | pending | sent | dead | cancelled
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_at REAL
    );
    CREATE INDEX outbox_state_due ON outbox(state, due_at);
    CREATE INDEX outbox_incident ON outbox(incident);
    """,
    # 2: Web Push subscriptions of the dashboard app (hub/store/push_subscriptions.py)
    """
    CREATE TABLE push_subscriptions (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        endpoint TEXT NOT NULL UNIQUE,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        user_agent TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX push_subscriptions_user ON push_subscriptions(username);
    """,
    # Alarm receiving centres know zones and users by number (Contact ID: 3 digits).
    # A number, once given, is never reused for another zone, so the centre's records stay true.
    """
    CREATE TABLE zone_numbers (
        zone TEXT PRIMARY KEY,
        number INTEGER NOT NULL UNIQUE
    );
    """,
    # Every delivery attempt, for the notification detail view and for support.
    """
    CREATE TABLE outbox_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        outbox INTEGER NOT NULL,
        at REAL NOT NULL,
        transport TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX outbox_attempts_outbox ON outbox_attempts(outbox);
    """,
    # The commissioning report (hub/commissioning/). Only hashes of codes are stored, so whether
    # a code meets EN 50131 grade 2 (5+ digits) is noted when it is set: 1 yes, 0 no, NULL unknown
    # (set before this column existed). And the installer's test messages, one row per channel sent.
    """
    ALTER TABLE users ADD COLUMN code_grade2 INTEGER;
    ALTER TABLE users ADD COLUMN duress_grade2 INTEGER;
    CREATE TABLE test_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        channel TEXT NOT NULL,
        transport TEXT NOT NULL,
        recipient TEXT NOT NULL,   -- masked: the report is handed to the homeowner and the insurer
        state TEXT NOT NULL,       -- sent | failed | timeout
        error TEXT,
        actor TEXT
    );
    CREATE INDEX test_messages_channel ON test_messages(channel, id);
    """,
    # Contacts added from the dashboard (hub/store/contacts.py), used beside the config's
    # [[contacts]]; and whether a user chose their language (else the dashboard follows the browser).
    """
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        phone TEXT,
        email TEXT,
        language TEXT NOT NULL DEFAULT 'it',
        push INTEGER NOT NULL DEFAULT 1,
        voice INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    ALTER TABLE users ADD COLUMN language_saved INTEGER NOT NULL DEFAULT 0;
    """,
    # The owner's camera privacy choices (hub/cameras/settings.py), e.g. record_when_disarmed.
    """
    CREATE TABLE camera_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # The alarm timings the owner changed from the dashboard (hub/web/settings_api.py), applied
    # on top of the config's [alarm]: one row per overridden field.
    """
    CREATE TABLE alarm_settings (
        field TEXT PRIMARY KEY,
        value REAL NOT NULL,
        changed_at REAL NOT NULL,
        actor TEXT
    );
    """,
    # The alarm-code throttle (hub/core/throttle.py), kept so that neither a restart nor kill -9 gives a
    # guesser fresh tries: each caller's run of wrong codes and lock, every wrong code of the last
    # hour (the hub-wide count), and when the hub-wide alert was last raised.
    """
    CREATE TABLE code_lockouts (
        caller TEXT PRIMARY KEY,   -- a username, "token:<id>" or "mqtt"
        failures INTEGER NOT NULL, -- wrong codes in the current run (fewer than 3)
        locks INTEGER NOT NULL,    -- locks so far: the next one lasts 90 s * 2^locks, at most 1 h
        last_failure REAL NOT NULL,
        locked_until REAL
    );
    CREATE TABLE wrong_codes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        caller TEXT NOT NULL
    );
    CREATE INDEX wrong_codes_at ON wrong_codes(at);
    CREATE TABLE wrong_code_alerts (
        at REAL NOT NULL
    );
    """,
    # Commands to outputs (sirens, valves, relays; hub/core/outputs.py): written with the engine
    # step that asked for them, sent, re-sent until the device's reported status confirms them
    # or `deadline` passes. A newer command to the same output supersedes the older ones.
    """
    CREATE TABLE output_commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        output TEXT NOT NULL,      -- the engine's output id
        device TEXT,               -- its device then (NULL: none)
        driver TEXT,
        address TEXT,
        action TEXT NOT NULL,      -- alarms.outputs.Action
        command TEXT NOT NULL,     -- the alarms.outputs.Command as JSON
        reason TEXT NOT NULL,      -- OutputCommand.reason, or "recover" (re-asserted at start)
        created_at REAL NOT NULL,
        due_at REAL NOT NULL,      -- the next attempt
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,       -- pending | sent | confirmed | failed | superseded
        deadline REAL NOT NULL,    -- unconfirmed by then: failed, output_failure
        last_error TEXT,
        sent_at REAL,              -- the first time the driver took it
        done_at REAL               -- confirmed, failed or superseded at
    );
    CREATE INDEX output_commands_state ON output_commands(state, output);
    """,
    # 11: when a user's codes work (a guest for a week, the cleaner on Tuesdays 9-12), as JSON
    # {"valid_from","valid_until","weekdays","hours"} (NULL: always), and the areas a user may
    # arm and disarm (JSON list of area ids; NULL: every area).
    """
    ALTER TABLE users ADD COLUMN code_window TEXT;
    ALTER TABLE users ADD COLUMN areas TEXT;
    """,
    # 12: the household's schedules ("arm night at 23:30 Mon-Fri"): the rule as JSON, and when it
    # last ran so that a restart neither repeats nor forgets a run.
    """
    CREATE TABLE schedules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rule TEXT NOT NULL,
        created_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        last_run REAL
    );
    """,
    # 13: the engine snapshot's zones, one row each (hub/store/snapshot.py): a step rewrites only
    # the zones it changed, not the whole house. The first step after the upgrade fills it.
    """
    CREATE TABLE engine_zones (
        id TEXT PRIMARY KEY,
        zone TEXT NOT NULL
    );
    """,
)


class StorageError(Exception):
    """The database cannot be opened or written (disk full, read-only, corrupt)."""


class Database:
    """The daemon's single SQLite connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        # Reads (the API, the dispatcher's queries) go through a second connection: in WAL mode
        # it sees the last *committed* state, never the half of a transaction another task has
        # open on the writer, and it does not wait for writers.
        self._reader: aiosqlite.Connection | None = None
        # One connection is shared by every task: a transaction must not interleave with
        # another task's statements, so writers take this lock.
        # Engine steps go first (`urgent`): an alarm does not queue behind the dispatcher's
        # "sent" records or a telemetry flush, at most behind the one transaction in progress.
        self._write_lock = WriteLock()
        self._raw: sqlite3.Connection | None = None  # the writer's own sqlite3 connection

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StorageError("database is not open")
        return self._conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so one transaction spans many statements.
            # check_same_thread=False: an engine step's statements run on the loop's thread
            # (step_transaction), the rest on aiosqlite's; the write lock keeps them apart.
            path = self.path

            def connect() -> sqlite3.Connection:
                self._raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                return self._raw

            self._conn = await aiosqlite.Connection(connect, 64)
            self._conn.row_factory = sqlite3.Row
            await self._conn.execute("PRAGMA journal_mode=WAL")
            await self._conn.execute("PRAGMA synchronous=FULL")
            await self._conn.execute("PRAGMA foreign_keys=ON")
            await self._conn.execute("PRAGMA busy_timeout=5000")
            await self._migrate()
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            self._reader.row_factory = sqlite3.Row
            await self._reader.execute("PRAGMA busy_timeout=5000")
            await self._reader.execute("PRAGMA query_only=1")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _migrate(self) -> None:
        await self._on_writer(_apply_migrations, self.path)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; rolls back on any exception."""
        conn = self.conn
        async with self._write_lock.hold(urgent=False):
            await conn.execute("BEGIN IMMEDIATE")
            async with _commit_or_roll_back(conn):
                yield conn

    @asynccontextmanager
    async def step_transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """`transaction()` for an engine step, first in the write lock's queue, its statements on
        this thread (hub/store/inline_tx.py says why). BEGIN IMMEDIATE too, when the write lock is
        free; the fsync'd COMMIT, and a BEGIN that must wait for another process, on the writer's thread."""
        conn, raw = self.conn, self._raw
        if raw is None:
            raise StorageError("database is not open")
        async with self._write_lock.hold(urgent=True):
            if not _begin_at_once(raw):
                await conn.execute("BEGIN IMMEDIATE")
            async with _commit_or_roll_back(conn):
                # InlineTx offers what a step's writers use of aiosqlite's Connection.
                yield cast(aiosqlite.Connection, InlineTx(raw))

    @property
    def reader(self) -> aiosqlite.Connection:
        return self._reader if self._reader is not None else self.conn

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self.reader.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        async with self.reader.execute(sql, tuple(params)) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement in its own write transaction; returns lastrowid.

        BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout): a plain
        autocommit statement starts as a reader and fails at once with "database is locked"
        when another connection (the CLI, the account worker) wrote since its snapshot.
        """
        async with self._write_lock.hold(urgent=False):
            return await self._on_writer(_statement_in_transaction, sql, tuple(params))

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(raw, *args)` on the writer's thread, in one hop. BEGIN, statement and COMMIT as
        three hops held the write lock across three turns of a busy event loop: an engine step
        waited for them (the storm with 20 dashboards). If we are cancelled, the write lock is
        still held until `fn` has ended on that thread, so nothing else runs inside it."""
        raw = self._raw
        if raw is None:
            raise StorageError("database is not open")
        # aiosqlite's own way to run a function on its thread (Connection._execute): the one
        # thread must run it, behind the statements already queued there.
        run_on_thread: Callable[..., Awaitable[T]] = self.conn._execute
        job = asyncio.ensure_future(run_on_thread(fn, raw, *args))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            await asyncio.wait([job])
            raise


@asynccontextmanager
async def _commit_or_roll_back(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """COMMIT once the body is done; ROLLBACK on any exception, also when COMMIT itself failed
    (SQLITE_FULL leaves the transaction open): the next BEGIN must not find one, and nothing
    half-written may stay."""
    try:
        yield
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
        raise


def _apply_migrations(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations not applied yet, each in its own BEGIN IMMEDIATE ... COMMIT (ROLLBACK
    on any error: a failed upgrade leaves the schema it found). The version is read again inside
    each transaction: the daemon and the CLI (`install.sh` creating the owner) may open a new
    database at the same moment, and the second must not run again what the first just did."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= len(MIGRATIONS):
        return  # the usual case: no write lock taken
    while True:
        with _immediate(conn):
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version >= len(MIGRATIONS):
                return
            log.info("migrating database %s to schema version %d", path, version + 1)
            for statement in _split_sql(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")


def _statement_in_transaction(raw: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> int:
    """BEGIN IMMEDIATE, the statement, COMMIT (ROLLBACK on any error); its lastrowid."""
    with _immediate(raw):
        return raw.execute(sql, params).lastrowid or 0


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT on a plain sqlite3 connection (the writer's thread); ROLLBACK
    on any exception, also when COMMIT itself failed, as `_commit_or_roll_back` does."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _begin_at_once(raw: sqlite3.Connection) -> bool:
    """BEGIN IMMEDIATE without waiting: True when it began. The lock is free but while the CLI or
    the account worker writes; then False, and the writer's thread waits for it (busy_timeout)
    instead of this event loop. A thread hop fewer for every engine step."""
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
        return False
    finally:
        raw.execute("PRAGMA busy_timeout=5000")


def _split_sql(script: str) -> list[str]:
    statements = []
    for chunk in script.split(";"):
        lines = [line.split("--", 1)[0] for line in chunk.splitlines()]
        text = "\n".join(lines).strip()
        if text:
            statements.append(text)
    return statements


def open_sync(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection for account work (CLI, and the daemon's worker thread)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    _apply_migrations(conn, path)
    return conn
