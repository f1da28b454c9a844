"""Commands to sirens, valves and relays: journaled rows, sent by one dispatcher, retried until confirmed.

The engine decides what every output should do (alarms/output_rules.py) and says it with an
`OutputCommand` effect. The hub writes each one as an `output_commands` row in the same
transaction as the step that caused it (docs/architecture.md, the durability rule) and hands
it to this dispatcher right after the commit: commit -> `add` -> the output's worker -> the
driver's `command()`. Nothing else is on that path: no table scan, no wait behind the
notification outbox.

Row states: `pending` (to send at `due_at`), `sent` (the driver took it), `confirmed` (the
device reported the status that confirms it, alarms.outputs.CONFIRMED_BY), `failed` (given up
at `deadline`), `superseded` (a newer command to the same output replaced it).

- A short beep (chime, squawks: CONFIRMED_BY None) is done once sent: nothing can confirm it.
  It is given `BEEP_DEADLINE` to be sent at all; a chime a minute late means nothing.
- Any other action is re-sent with backoff (2, 4, 8, 16, 16... s after each attempt) until a
  reading confirms it or `deadline` (the `[outputs] deadline`, 60 s) passes; then the row is
  `failed` and `on_failed` tells the engine (`OutputFailed`: the `output_failure` anomaly). A
  driver that cannot send (DriverError, no answer within COMMAND_TIMEOUT, not running) is an
  attempt that failed, retried the same way.
- A newer command supersedes the output's older pending and sent ones, except a beep, which
  replaces nothing (a `stop` still waiting for its confirmation goes on being retried after
  the disarm squawk).
- A reading confirms only a command already sent, and only with a status heard at or after
  the first send (`at >= sent_at`): a device's cached state published before the command
  says nothing about it.

Each output has one worker task, so a slow bridge holds up only its own devices, and an
output's commands go out in the order they were written. Results are written back by row id;
while storage fails (hub/core/degraded.py) rows live in memory with negative ids, are sent all
the same (a full disk must not silence a siren), and are written when storage is back
(`Hub.flush_degraded`). After a restart, `resume` loads what was pending or waiting, and
`Hub.recover` re-asserts what the engine still wants (a siren within its siren time).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import msgspec

from alarms.outputs import CONFIRMED_BY, Action, Command, OutputStatus
from drivers.base import DriverError
from drivers.capabilities import OutputDriver
from hub.core.clock import wait_set
from hub.core.degraded import STORAGE_ERRORS
from hub.store.db import Database

log = logging.getLogger("hub.outputs")  # the name users' [log] levels know (README)

DEFAULT_DEADLINE = 60.0  # seconds; [outputs] deadline (hub/config/model.py OutputsConfig)
BEEP_DEADLINE = 10.0  # seconds to get a chime or squawk out at all
COMMAND_TIMEOUT = 5.0  # seconds a driver's command() may take (zigbee2mqtt waits for the broker's PUBACK)
RETRY_CAP = 16.0  # seconds: 2, 4, 8, 16, 16...
RECORD_RETRY = 5.0  # seconds between tries to write results that storage refused

ACTIVE = ("pending", "sent")
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Command)
_ids = itertools.count(-1, -1)  # in-memory rows (storage failing): never confused with table rows


def confirmable(action: Action) -> bool:
    return CONFIRMED_BY[action] is not None


def retry_delay(attempts: int) -> float:
    """Seconds from an attempt to the next: 2, 4, 8, 16, 16..."""
    return min(RETRY_CAP, 2.0 ** max(1, attempts))


@dataclass
class CommandRow:
    """One `output_commands` row, as the dispatcher works on it (`id` < 0: not written yet)."""

    id: int
    output: str
    device: str | None
    driver: str | None
    address: str | None
    command: Command
    reason: str
    created_at: float
    due_at: float
    deadline: float
    attempts: int = 0
    state: str = "pending"
    last_error: str | None = None
    sent_at: float | None = None
    done_at: float | None = None

    @property
    def action(self) -> Action:
        return self.command.action

    @property
    def waiting(self) -> bool:
        """Still to be sent, or sent and waiting for its confirmation."""
        return self.state == "pending" or (self.state == "sent" and confirmable(self.action))


def new_row(
    output: str,
    command: Command,
    reason: str,
    *,
    device: str | None,
    driver: str | None,
    address: str | None,
    now: float,
    deadline: float,
) -> CommandRow:
    """A command to write (its `id` is given by `insert`, or stays negative in memory)."""
    limit = deadline if confirmable(command.action) else min(deadline, BEEP_DEADLINE)
    return CommandRow(
        id=next(_ids),
        output=output,
        device=device,
        driver=driver,
        address=address,
        command=command,
        reason=reason,
        created_at=now,
        due_at=now,
        deadline=now + limit,
    )


async def supersede(conn: aiosqlite.Connection, row: CommandRow, now: float) -> None:
    """In the caller's transaction: `row` replaces the output's older pending and sent commands."""
    if confirmable(row.action):
        await conn.execute(
            "UPDATE output_commands SET state = 'superseded', done_at = ?"
            " WHERE output = ? AND state IN ('pending', 'sent')",
            (now, row.output),
        )


async def insert(conn: aiosqlite.Connection, row: CommandRow) -> int:
    """Write `row` as it is now, in the caller's transaction; returns its table id (the caller
    gives it to the row once the transaction is sure to commit)."""
    cur = await conn.execute(
        "INSERT INTO output_commands (output, device, driver, address, action, command, reason, created_at, due_at,"
        " attempts, state, deadline, last_error, sent_at, done_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.output,
            row.device,
            row.driver,
            row.address,
            row.action,
            _ENCODER.encode(row.command).decode(),
            row.reason,
            row.created_at,
            row.due_at,
            row.attempts,
            row.state,
            row.deadline,
            row.last_error,
            row.sent_at,
            row.done_at,
        ),
    )
    return cur.lastrowid or 0


def row_from_db(record: Any) -> CommandRow:
    return CommandRow(
        id=record["id"],
        output=record["output"],
        device=record["device"],
        driver=record["driver"],
        address=record["address"],
        command=_DECODER.decode(record["command"]),
        reason=record["reason"],
        created_at=record["created_at"],
        due_at=record["due_at"],
        deadline=record["deadline"],
        attempts=record["attempts"],
        state=record["state"],
        last_error=record["last_error"],
        sent_at=record["sent_at"],
        done_at=record["done_at"],
    )


class OutputDispatcher:
    """Sends output commands through their device's driver and follows each to its end.

    `drivers(type)`: the running drivers of a driver type (a device's `driver`); `known(id)`:
    the output still exists in the engine state; `on_failed(output, action, detail)`: a
    command was given up (the hub submits `OutputFailed`); `deadline`: seconds a command may
    stay unconfirmed.
    """

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], float],
        drivers: Callable[[str], Sequence[Any]],
        on_failed: Callable[[str, Action, str], Awaitable[object]],
        known: Callable[[str], bool] = lambda output: True,
        deadline: float = DEFAULT_DEADLINE,
        on_change: Callable[[CommandRow], None] = lambda row: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.drivers = drivers
        self.on_failed = on_failed
        self.known = known
        self.deadline = deadline
        self.on_change = on_change  # every state change (live views; tests)
        self._rows: dict[str, list[CommandRow]] = {}  # output -> its active rows, oldest first
        self._events: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._unrecorded: set[int] = set()  # row ids whose last write storage refused
        self._by_id: dict[int, CommandRow] = {}
        # output -> (status, at) last heard: a confirmation may arrive while its command is still
        # on its way (zigbee2mqtt reports a siren's assumed status from inside command()).
        self._heard: dict[str, tuple[OutputStatus, float]] = {}

    # ------------------------------------------------------------------ what the hub calls

    def add(self, rows: Iterable[CommandRow]) -> None:
        """Rows just committed (or kept in memory): they supersede the older ones, and go out now."""
        now = self.clock()
        for row in rows:
            mine = self._rows.setdefault(row.output, [])
            if confirmable(row.action):
                for old in mine:
                    if old.state in ACTIVE:
                        self._finish(old, "superseded", now)
            mine.append(row)
            self._prune(row.output)
            self._poke(row.output)
        self._wake.set()

    def confirm(self, output: str, status: OutputStatus, at: float) -> list[CommandRow]:
        """A reading says `output` is `status` (heard at `at`): the sent commands it confirms are done."""
        self._heard[output] = (status, at)
        done = [row for row in self._rows.get(output, []) if self._confirms(row, status, at)]
        now = self.clock()
        for row in done:
            self._finish(row, "confirmed", now)
        if done:
            self._prune(output)
            self._poke(output)
        return done

    def waiting(self, output: str | None = None) -> list[CommandRow]:
        """The rows still to send or to confirm (of one output, or all), oldest first."""
        outputs = [output] if output is not None else sorted(self._rows)
        return [row for o in outputs for row in self._rows.get(o, []) if row.waiting]

    def shift(self, delta: float) -> None:
        """The wall clock was stepped: waiting commands keep the time they had left."""
        for rows in self._rows.values():
            for row in rows:
                row.due_at += delta
                row.deadline += delta
                if row.sent_at is not None:
                    row.sent_at += delta
        self.poke_all()

    def poke_all(self) -> None:
        """Look at every output again now (the clock moved, storage came back)."""
        for output in self._rows:
            self._poke(output)
        self._wake.set()

    async def resume(self) -> list[CommandRow]:
        """At start: load the commands a stop or a crash left pending or unconfirmed. Each gets a
        fresh deadline (the hub was away, the device was not slow); a beep left behind is stale."""
        now = self.clock()
        rows = [
            row_from_db(r)
            for r in await self.db.fetchall(
                "SELECT * FROM output_commands WHERE state IN ('pending', 'sent') ORDER BY id"
            )
        ]
        resumed = []
        for row in rows:
            if not row.waiting:
                continue  # a beep that was sent: done
            if not confirmable(row.action):
                row.state, row.done_at, row.last_error = "failed", now, "not sent before the hub stopped"
                await self._record(row)
                continue
            row.due_at, row.deadline = now, now + self.deadline
            resumed.append(row)
        self.add(resumed)
        if resumed:
            log.warning("resuming %d output command(s) left unconfirmed", len(resumed))
        return resumed

    async def flush(self) -> None:
        """Write the results not written yet (a clean stop)."""
        await self._retry_records()

    async def record_all(self, rows: Iterable[CommandRow]) -> None:
        """Write the current state of rows just given table ids (storage came back)."""
        for row in rows:
            await self._record(row)

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """One worker per output with commands; writes storage refused are retried meanwhile."""
        async with asyncio.TaskGroup() as tasks:
            while True:
                self._wake.clear()
                for output, rows in list(self._rows.items()):
                    worker = self._workers.get(output)
                    if any(r.waiting for r in rows) and (worker is None or worker.done()):
                        self._workers[output] = tasks.create_task(self._work(output), name=f"output:{output}")
                if self._unrecorded:
                    try:
                        await self._retry_records()
                    except Exception:
                        log.exception("writing output command results failed")
                try:
                    await wait_set(self._wake, RECORD_RETRY if self._unrecorded else None)
                except TimeoutError:
                    pass

    async def _work(self, output: str) -> None:
        event = self._events.setdefault(output, asyncio.Event())
        while True:
            event.clear()
            try:
                delay = await self.step(output)
            except Exception:  # a bug here must not end the daemon's task group, nor the retries
                log.exception("output %s: dispatching failed; trying again in 1 s", output)
                delay = 1.0
            if delay is None:
                return
            try:
                await wait_set(event, delay)
            except TimeoutError:
                pass

    async def step_all(self) -> None:
        """Every output's due work, one after the other, and the results written (tests drive
        the dispatcher with this instead of `run`)."""
        for output in list(self._rows):
            await self.step(output)
        await self._retry_records()

    async def step(self, output: str) -> float | None:
        """Send what is due for `output`, give up what is past its deadline; returns the seconds
        until something is due again, or None when nothing of it is waiting."""
        for row in list(self._rows.get(output, [])):
            if not row.waiting:
                continue
            now = self.clock()
            if not self.known(row.output):
                self._finish(row, "superseded", now, error="the output was removed")
                await self._record(row)
                continue
            if now >= row.deadline:
                await self._give_up(row, now)
                continue
            if row.due_at <= now:
                await self._attempt(row)
        self._prune(output)
        waiting = [r for r in self._rows.get(output, []) if r.waiting]
        if not waiting:
            return None
        nxt = min(min(r.due_at, r.deadline) for r in waiting)
        return max(0.0, nxt - self.clock())

    async def _attempt(self, row: CommandRow) -> None:
        started = self.clock()
        error = await self._send(row)
        now = self.clock()
        if row.state != "pending" and row.state != "sent":
            await self._record(row)  # superseded or confirmed while it was on its way
            return
        row.attempts += 1
        row.due_at = now + retry_delay(row.attempts)
        row.last_error = error
        if error is None:
            if row.sent_at is None:
                row.sent_at = started
            row.state = "sent"
            if not confirmable(row.action):
                row.done_at = now
            log.info("output %s: %s sent (%s, attempt %d)", row.output, row.action, row.reason, row.attempts)
        else:
            log.warning("output %s: %s not sent (attempt %d): %s", row.output, row.action, row.attempts, error)
        self.on_change(row)
        heard = self._heard.get(row.output)
        if heard is not None and self._confirms(row, *heard):
            self._finish(row, "confirmed", now)  # it answered before send() returned
        await self._record(row)

    async def _send(self, row: CommandRow) -> str | None:
        """Hand the command to the device's driver; the reason it could not, or None."""
        if row.driver is None or row.address is None:
            return "the output has no device"
        running = [d for d in self.drivers(row.driver) if isinstance(d, OutputDriver)]
        if not running:
            return f"no running {row.driver} driver that drives outputs"
        error = ""
        for driver in running:  # two bridges of one type: the one that knows the address takes it
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    await driver.command(row.address, row.command)
                return None
            except TimeoutError:
                error = f"{row.driver}: no answer within {COMMAND_TIMEOUT:g} s"
            except DriverError as exc:
                error = str(exc)
            except Exception as exc:  # a driver's bug must not stop the siren's retries
                log.exception("driver %s failed on a command to %s", row.driver, row.address)
                error = f"{type(exc).__name__}: {exc}"
        return error[:500]

    async def _give_up(self, row: CommandRow, now: float) -> None:
        sent = row.state == "sent"
        seconds = row.deadline - row.created_at
        detail = f"no confirmation within {seconds:g} s" if sent else (row.last_error or "never sent")
        self._finish(row, "failed", now, error=detail)
        log.error("output %s: %s given up after %d attempt(s): %s", row.output, row.action, row.attempts, detail)
        await self._record(row)
        try:
            await self.on_failed(row.output, row.action, detail[:200])
        except Exception:
            log.exception("output %s: the failure could not be recorded", row.output)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _confirms(row: CommandRow, status: OutputStatus, at: float) -> bool:
        return (
            row.state == "sent" and CONFIRMED_BY[row.action] == status and row.sent_at is not None and at >= row.sent_at
        )

    def _finish(self, row: CommandRow, state: str, now: float, *, error: str | None = None) -> None:
        row.state, row.done_at = state, now
        if error is not None:
            row.last_error = error
        self.on_change(row)
        self._record_soon(row)

    def _record_soon(self, row: CommandRow) -> None:
        """Written by the run loop (or at once by a caller that can wait for it)."""
        if row.id > 0:
            self._unrecorded.add(row.id)
            self._by_id[row.id] = row
            self._wake.set()

    def _prune(self, output: str) -> None:
        rows = self._rows.get(output)
        if rows is None:
            return
        rows[:] = [r for r in rows if r.waiting]  # memory rows that are done stay in Degraded.commands
        if not rows:
            del self._rows[output]

    def _poke(self, output: str) -> None:
        self._events.setdefault(output, asyncio.Event()).set()

    async def _record(self, row: CommandRow) -> None:
        """Write `row`'s state; storage failing, keep it to write later (memory rows wait for
        `Hub.flush_degraded`)."""
        if row.id < 0:
            return
        try:
            await self.db.execute(
                "UPDATE output_commands SET state = ?, attempts = ?, due_at = ?, deadline = ?, last_error = ?,"
                " sent_at = ?, done_at = ? WHERE id = ?",
                (row.state, row.attempts, row.due_at, row.deadline, row.last_error, row.sent_at, row.done_at, row.id),
            )
        except STORAGE_ERRORS as exc:
            log.info("output command %d: result not written yet (%s)", row.id, exc)
            self._unrecorded.add(row.id)
            self._by_id[row.id] = row
            return
        self._unrecorded.discard(row.id)
        self._by_id.pop(row.id, None)

    async def _retry_records(self) -> None:
        for row_id in list(self._unrecorded):
            row = self._by_id.get(row_id)
            if row is None:
                self._unrecorded.discard(row_id)
                continue
            await self._record(row)
            if row_id in self._unrecorded:
                return  # still failing: later
