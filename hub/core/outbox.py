"""The notification outbox: rows written with the event that caused them, sent by one dispatcher.

Row states: `scheduled` (an escalation step not yet due), `pending` (to send now or at
`due_at` after a failed attempt), `sent`, `dead` (gave up: permanent error or too many
attempts; a `channel_failure` anomaly is raised), `cancelled` (a scheduled step that an
acknowledgement made unnecessary). A row leaves `pending` only after its channel said
so, so a crash mid-send means the message is sent again: at least once.

A message for a channel that has no transport (no `[sms]` for a contact's phone; transport
`none`, hub/transports/registry.py) is written `dead` at once with `last_error` "not_configured": it
is never `sent`, and it raises no `channel_failure` (nothing failed: there is nothing to
send with; `config check`, `doctor` and `no_notification_channel` say so). A row whose
transport went away from the config since it was written ends the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiosqlite

from alarms.messages import render
from alarms.policy import PlannedMessage
from hub.core.clock import wait_set
from hub.core.degraded import STORAGE_ERRORS
from hub.store.db import Database
from hub.transports.base import Channel, Delivered, NoRecipient, Outcome, OutgoingMessage, Permanent, Transient
from hub.transports.registry import NOT_CONFIGURED, NOT_CONFIGURED_ERROR

log = logging.getLogger("hub.outbox")  # the name users' [log] levels know (README)

MAX_BACKOFF = 300.0
# About a day of retries with the backoff capped at 5 minutes: an alarm message is not
# given up on while there is any reasonable chance to deliver it.
MAX_ATTEMPTS = 300
SEND_TIMEOUT = 30.0
PER_TRANSPORT_CONCURRENCY = 4
START_ORDER = {"centre": 0, "sms": 1, "voice": 1, "gsm": 1, "push": 2, "ntfy": 2, "email": 3}  # run_once
ANOMALY_REPEAT_WINDOW = 6 * 3600.0
UPDATE_INTERVAL = 60.0
UPDATE_TEMPLATE = "incident.update"
TROUBLE_ATTEMPTS = 3
RETRY_AFTER_ERROR = 5.0  # seconds, after a storage error or a channel bug
GroupKey = tuple[str, str, str]  # (transport, channel, recipient): sent one row at a time, in order
# (channel, transport) -> the transport that takes over when the first fails transiently.
FALLBACK = {("sms", "twilio"): "gsm"}


async def enqueue(
    conn: aiosqlite.Connection,
    message: PlannedMessage,
    *,
    now: float,
    transport: str,
    extra_params: Mapping[str, str],
    payload: dict[str, Any] | None = None,
) -> int:
    """Write one outbox row; returns its id, or 0 when the rules below made it unnecessary.

    Two rules keep a storm or a flapping fault from flooding phones:
    - an anomaly of the same kind on the same device is not re-sent to the same person
      on the same channel within ANOMALY_REPEAT_WINDOW (the centre always hears of it);
    - incident updates (another zone joined an open incident) go out at most once per
      UPDATE_INTERVAL per person and channel: a waiting update takes the newest text.
    """
    params = {**message.params, **extra_params}
    text = render(message.template, message.language, params)
    state = "scheduled" if message.delay > 0 else "pending"
    due_at = now + message.delay
    last_error = None
    if transport == NOT_CONFIGURED:
        state, due_at, last_error = "dead", now, NOT_CONFIGURED_ERROR
    if message.anomaly and message.channel != "centre" and await _anomaly_told_recently(conn, message, now):
        return 0
    if message.template == UPDATE_TEMPLATE and state != "dead":
        async with conn.execute(
            # Only a row still waiting its turn takes the newer text; a pending one may be on the wire.
            "SELECT id FROM outbox WHERE incident IS ? AND channel = ? AND recipient = ? AND template = ?"
            " AND state = 'scheduled' ORDER BY id DESC LIMIT 1",
            (message.incident, message.channel, message.recipient, message.template),
        ) as cur:
            waiting = await cur.fetchone()
        if waiting is not None:
            await conn.execute(
                "UPDATE outbox SET subject = ?, body = ?, short = ? WHERE id = ?",
                (text.subject, text.body, text.short, waiting[0]),
            )
            return int(waiting[0])
        async with conn.execute(
            "SELECT MAX(COALESCE(sent_at, due_at)) FROM outbox WHERE incident IS ? AND channel = ?"
            " AND recipient = ? AND template = ? AND state IN ('pending', 'sent')",
            (message.incident, message.channel, message.recipient, message.template),
        ) as cur:
            last = await cur.fetchone()
        if last is not None and last[0] is not None and now - last[0] < UPDATE_INTERVAL:
            state, due_at = "scheduled", last[0] + UPDATE_INTERVAL
    cur = await conn.execute(
        "INSERT INTO outbox (created_at, due_at, incident, anomaly, channel, transport, recipient, address, language,"
        " template, subject, body, short, payload, step, state, last_error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            now,
            due_at,
            message.incident,
            message.anomaly,
            message.channel,
            transport,
            message.recipient,
            message.address,
            message.language,
            message.template,
            text.subject,
            text.body,
            text.short,
            json.dumps(payload) if payload is not None else None,
            message.step,
            state,
            last_error,
        ),
    )
    return cur.lastrowid or 0


async def insert_memory_row(conn: aiosqlite.Connection, row: Any) -> int:
    """Write a message that was kept (and maybe sent) in memory while storage failed."""
    m = row.message
    cur = await conn.execute(
        "INSERT INTO outbox (created_at, due_at, incident, anomaly, channel, transport, recipient, address, language,"
        " template, subject, body, short, payload, step, state, attempts, last_error, sent_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.created_at,
            row.due_at,
            m.incident,
            m.anomaly,
            m.channel,
            row.transport,
            m.recipient,
            m.address,
            m.language,
            row.template,
            m.subject,
            m.body,
            m.short,
            json.dumps(m.payload) if m.payload is not None else None,
            row.step,
            row.state,
            row.attempts,
            row.last_error,
            row.sent_at,
        ),
    )
    return cur.lastrowid or 0


async def _anomaly_told_recently(conn: aiosqlite.Connection, message: PlannedMessage, now: float) -> bool:
    async with conn.execute(
        "SELECT 1 FROM outbox o JOIN anomalies a ON o.anomaly = a.id"
        " JOIN anomalies cur ON cur.id = ?"
        " WHERE a.kind = cur.kind AND a.device IS cur.device AND a.subject IS cur.subject AND a.id != cur.id"
        " AND o.channel = ? AND o.recipient = ? AND o.template = ? AND o.created_at > ?"
        " AND o.state != 'cancelled' LIMIT 1",
        (message.anomaly, message.channel, message.recipient, message.template, now - ANOMALY_REPEAT_WINDOW),
    ) as cur:
        return await cur.fetchone() is not None


async def cancel_escalation(conn: aiosqlite.Connection, incident: str) -> int:
    cur = await conn.execute(
        "UPDATE outbox SET state = 'cancelled' WHERE incident = ? AND state = 'scheduled'", (incident,)
    )
    return cur.rowcount


def backoff(attempts: int, hint: float | None, rng: random.Random, cap: float = MAX_BACKOFF) -> float:
    """Exponential backoff with jitter, capped; a peer's Retry-After hint wins when longer."""
    base = min(cap, 2.0 ** min(attempts, 16))
    delay = base * rng.uniform(0.8, 1.2)
    return max(delay, hint or 0.0)


class OutboxDispatcher:
    """Sends due outbox rows through their transport and records every attempt."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        clock: Callable[[], float],
        on_change: Callable[[dict[str, Any]], None] = lambda row: None,
        on_dead: Callable[[str, str], Awaitable[None]] | None = None,
        memory: Callable[[], list[Any]] = list,
        on_trouble: Callable[[str, bool], Awaitable[None]] | None = None,
        troubled: set[str] | None = None,
    ) -> None:
        self.db = db
        self.channels = channels  # transport name -> implementation
        self.clock = clock
        self.on_change = on_change
        self.on_dead = on_dead
        self._wake = asyncio.Event()
        self._rng = random.Random()
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self.memory = memory  # rows kept in memory while storage fails (hub.degraded)
        # channel_failure while a channel keeps failing (TROUBLE_ATTEMPTS on one message, or a
        # dead letter), cleared by its next delivery. The DC-09 link has centre_unreachable instead.
        self.on_trouble = on_trouble
        self._troubled: set[str] = set(troubled or ())  # from the recovered anomalies after a restart
        # Results that could not be written (storage failing): row id -> the UPDATE to retry.
        # Those rows are not sent again meanwhile, so a full disk does not mean repeated SMS.
        self._unrecorded: dict[int, tuple[str, tuple[Any, ...]]] = {}
        self._busy: set[GroupKey] = set()  # groups whose rows are being sent now
        self._drains: asyncio.TaskGroup | None = None  # run()'s senders

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        # The groups being sent live here, not in a round: a round starts what is due and
        # returns, so a new alarm's centre report never waits for an e-mail still in its TLS
        # handshake (or for a mail server that answers only at SEND_TIMEOUT, 30 s).
        async with asyncio.TaskGroup() as drains:
            self._drains = drains
            try:
                await self._rounds()
            finally:
                self._drains = None

    async def _rounds(self) -> None:
        while True:
            # Cleared before the look, never after: a row committed while a round runs (after
            # its queries) wakes the next round at once. Cleared after, that wake was lost and
            # the alarm's messages waited for `delay`, up to a minute (seen in the latency bench).
            self._wake.clear()
            try:
                delay = await self.run_once(wait=False)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Storage trouble or a bug in a channel: never let the dispatcher die; try again soon.
                log.exception("outbox dispatcher error; retrying in %.0f s", RETRY_AFTER_ERROR)
                delay = RETRY_AFTER_ERROR
            try:
                await wait_set(self._wake, delay)
            except TimeoutError:
                pass

    async def run_once(self, *, wait: bool = True) -> float:
        """Send everything due now; returns the seconds until the next row is due (max 60).

        Rows are grouped by (transport, channel, recipient). Groups are sent concurrently
        (an SMS does not wait for an email), and within a group strictly in order: a row
        that is not due yet, or that failed, holds back the rows behind it, so the centre
        and each person receive messages in the order they were written. A group still
        being sent is left to its sender, which wakes the dispatcher when it is done.

        `wait=False` (run()) returns once the groups are started; by default the round waits
        for them and raises what they raised (tests).
        """
        # A group busy when the queries start is skipped even if its sender ends meanwhile: the
        # rows read may be older than what that sender recorded (it would send one twice).
        busy = set(self._busy)
        now = self.clock()
        await self._send_memory(now)
        for row_id, (sql, params) in list(self._unrecorded.items()):
            await self.db.execute(sql, params)  # raises while storage still fails: run() retries later
            del self._unrecorded[row_id]
        promoted = await self.db.fetchall("SELECT id FROM outbox WHERE state = 'scheduled' AND due_at <= ?", (now,))
        if promoted:
            await self.db.execute(
                "UPDATE outbox SET state = 'pending' WHERE state = 'scheduled' AND due_at <= ?", (now,)
            )
            for row in promoted:
                await self._announce(row["id"])
        rows = await self.db.fetchall("SELECT * FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1000")
        groups: dict[GroupKey, list[Any]] = {}
        for row in rows:
            key = (row["transport"], row["channel"], row["recipient"])
            if row["id"] in self._unrecorded or key in busy:
                continue
            groups.setdefault(key, []).append(row)
        # Started in this order on the one event loop, so the first steps of the lightest and
        # most urgent sends run first: the centre (it calls the household back; a DC-09 frame
        # is a few hundred bytes), then SMS, then push, and e-mail (a TLS handshake) last.
        # A group whose first row is not due yet waits (its sender would stop at once, wake the
        # dispatcher and be started again: a busy loop).
        due_now = {key: group for key, group in groups.items() if group[0]["due_at"] <= now}
        order = sorted(due_now.items(), key=lambda item: START_ORDER.get(item[0][1], 2))
        async with contextlib.AsyncExitStack() as stack:
            # run()'s senders outlive the round; otherwise the round waits for them and raises.
            run_on = self._drains
            if wait or run_on is None:
                run_on = await stack.enter_async_context(asyncio.TaskGroup())
            for key, group in order:
                self._busy.add(key)
                run_on.create_task(self._drain_group(key, group, now, log_errors=run_on is self._drains))
        # The next due row of a group that is not being sent (a sender wakes the dispatcher).
        due = await self.db.fetchall(
            "SELECT transport, channel, recipient, MIN(due_at) AS due FROM outbox"
            " WHERE state IN ('pending', 'scheduled') GROUP BY transport, channel, recipient"
        )
        waiting = [float(r["due"]) for r in due if (r["transport"], r["channel"], r["recipient"]) not in self._busy]
        if not waiting:
            return 60.0
        return max(0.0, min(60.0, min(waiting) - self.clock()))

    async def _drain_group(self, key: GroupKey, group: list[Any], now: float, *, log_errors: bool) -> None:
        try:
            await self._drain(group, now)
        except Exception:
            if not log_errors:
                raise
            # Storage trouble or a bug in a channel: the group waits, then the next round retries it.
            log.exception("outbox: sending to %s on %s failed; retrying in %.0f s", key[1], key[0], RETRY_AFTER_ERROR)
            await asyncio.sleep(RETRY_AFTER_ERROR)
        finally:
            self._busy.discard(key)
            self._wake.set()  # the rows behind this group's, and anything it held back

    async def _send_memory(self, now: float) -> None:
        """Send the rows kept in memory while storage fails: same order and fallback rules."""
        rows = self.memory()
        if not rows:
            return
        blocked: set[tuple[str, str, str]] = set()
        for row in rows:
            key = (row.transport, row.message.channel, row.message.recipient)
            if row.state == "scheduled" and row.due_at <= now:
                row.state = "pending"
            if row.state != "pending" or key in blocked:
                continue
            if row.due_at > now:
                blocked.add(key)
                continue
            outcome = await self._send(row.transport, row.message)
            fallback = FALLBACK.get((row.message.channel, row.transport))
            if isinstance(outcome, Transient) and fallback and fallback in self.channels:
                second = await self._send(fallback, row.message)
                if isinstance(second, Delivered):
                    row.transport, outcome = fallback, second
            row.attempts += 1
            if isinstance(outcome, Delivered):
                row.state, row.sent_at, row.last_error = "sent", self.clock(), None
            elif isinstance(outcome, Permanent):
                row.state, row.last_error = "dead", outcome.reason
            else:
                row.last_error = outcome.reason
                row.due_at = self.clock() + backoff(row.attempts, outcome.retry_after, self._rng)
                blocked.add(key)
            self.on_change(row.as_row())

    async def _record(self, row_id: int, sql: str, params: tuple[Any, ...]) -> None:
        try:
            await self.db.execute(sql, params)
        except STORAGE_ERRORS:
            self._unrecorded[row_id] = (sql, params)
            raise

    async def _drain(self, group: list[Any], now: float) -> None:
        for row in group:
            if row["due_at"] > now:
                return
            semaphore = self._semaphores.setdefault(row["transport"], asyncio.Semaphore(PER_TRANSPORT_CONCURRENCY))
            async with semaphore:
                delivered = await self._attempt(row)
            if not delivered:
                return

    async def retry_now(self, transport: str) -> None:
        """A peer came back (the centre link reconnected): retry its queue at once, in order."""
        await self.db.execute(
            "UPDATE outbox SET due_at = ? WHERE state = 'pending' AND transport = ? AND due_at > ?",
            (self.clock(), transport, self.clock()),
        )
        self.wake()

    async def _send(self, transport: str, message: OutgoingMessage) -> Outcome:
        channel = self.channels.get(transport)
        if channel is None:  # not configured (any more): nothing can carry it, and no log stands in
            return Permanent(NOT_CONFIGURED_ERROR)
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result of a send
            # that finishes as the dispatcher is cancelled, and the cancellation is lost (the
            # daemon then never stops: seen as a hung shutdown in CI).
            async with asyncio.timeout(SEND_TIMEOUT):
                return await channel.send(message)
        except TimeoutError:
            return Transient(f"no answer within {SEND_TIMEOUT:.0f} s")
        except Exception as exc:  # a channel bug must not lose the message: retry it
            log.exception("channel %s failed on message %s", transport, message.id)
            return Transient(f"{type(exc).__name__}: {exc}")

    async def _attempt(self, row: Any) -> bool:
        transport = row["transport"]
        message = OutgoingMessage(
            id=row["id"],
            channel=row["channel"],
            recipient=row["recipient"],
            address=row["address"],
            language=row["language"],
            subject=row["subject"],
            body=row["body"],
            short=row["short"],
            payload=json.loads(row["payload"]) if row["payload"] else None,
            incident=row["incident"],
            anomaly=row["anomaly"],
        )
        outcome = await self._send(transport, message)
        note = ""
        fallback = FALLBACK.get((row["channel"], transport))
        if isinstance(outcome, Transient) and fallback and fallback in self.channels:
            # The internet path failed (Twilio unreachable): the local GSM modem carries the SMS.
            second = await self._send(fallback, message)
            if isinstance(second, Delivered):
                note = f"{transport} failed ({outcome.reason}); sent by {fallback}"
                transport, outcome = fallback, second
        attempts = row["attempts"] + 1
        now = self.clock()
        detail = outcome.detail if isinstance(outcome, Delivered) else outcome.reason
        with contextlib.suppress(*STORAGE_ERRORS):  # the attempt log is nice to have; the state below is not
            await self.db.execute(
                "INSERT INTO outbox_attempts (outbox, at, transport, outcome, detail) VALUES (?, ?, ?, ?, ?)",
                (row["id"], now, transport, type(outcome).__name__.lower(), (note or detail)[:500]),
            )
        if isinstance(outcome, Delivered):
            await self._record(
                row["id"],
                "UPDATE outbox SET state = 'sent', attempts = ?, sent_at = ?, last_error = ?, transport = ?"
                " WHERE id = ?",
                (attempts, now, note or None, transport, row["id"]),
            )
        elif isinstance(outcome, Permanent) or attempts >= MAX_ATTEMPTS:
            await self._record(
                row["id"],
                "UPDATE outbox SET state = 'dead', attempts = ?, last_error = ? WHERE id = ?",
                (attempts, outcome.reason, row["id"]),
            )
            log.warning("message %s on %s gave up: %s", row["id"], row["channel"], outcome.reason)
            if outcome.reason == NOT_CONFIGURED_ERROR or isinstance(outcome, NoRecipient):
                await self._announce(row["id"])
                return False  # nothing failed: no transport (hub/transports/registry.py), or nobody on it
            if self.on_dead is not None and self.on_trouble is None:
                await self.on_dead(row["channel"], outcome.reason)
        else:
            cap = getattr(self.channels.get(transport), "max_backoff", None) or MAX_BACKOFF
            due = now + backoff(attempts, outcome.retry_after, self._rng, cap)
            await self._record(
                row["id"],
                "UPDATE outbox SET attempts = ?, last_error = ?, due_at = ? WHERE id = ?",
                (attempts, outcome.reason, due, row["id"]),
            )
        await self._announce(row["id"])
        await self._track_trouble(row["channel"], transport, outcome, attempts)
        return isinstance(outcome, Delivered)

    async def _track_trouble(self, channel: str, transport: str, outcome: Outcome, attempts: int) -> None:
        if self.on_trouble is None or transport == "dc09":
            return
        if isinstance(outcome, Delivered):
            if channel in self._troubled:
                self._troubled.discard(channel)
                await self.on_trouble(channel, False)
        elif channel not in self._troubled and (isinstance(outcome, Permanent) or attempts >= TROUBLE_ATTEMPTS):
            self._troubled.add(channel)
            await self.on_trouble(channel, True)

    async def _announce(self, row_id: int) -> None:
        row = await self.db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
        if row is not None:
            self.on_change(dict(row))
