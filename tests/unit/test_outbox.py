"""The outbox dispatcher: retry with backoff, dead-lettering, escalation promotion, crash safety."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import msgspec

from alarms.policy import PlannedMessage
from hub.core import outbox
from hub.store.db import Database
from hub.transports.base import Delivered, Outcome, OutgoingMessage, Permanent, Transient
from tests.peers import wait_until


class ScriptedChannel:
    transport = "scripted"

    def __init__(self, outcomes: list[Outcome | Exception]) -> None:
        self.outcomes = outcomes
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> Outcome:
        self.sent.append(message)
        outcome = self.outcomes.pop(0) if self.outcomes else Delivered()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def message(delay: float = 0, step: int = 0) -> PlannedMessage:
    return PlannedMessage(
        channel="sms",
        recipient="Anna",
        address="+393331234567",
        language="it",
        template="test",
        params={},
        delay=delay,
        step=step,
        incident="inc-1",
    )


async def setup(tmp_path: Path, channel: ScriptedChannel, clock: Clock, dead: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    db = Database(tmp_path / "hub.db")
    await db.open()

    async def on_dead(channel_name: str, reason: str) -> None:
        dead.append((channel_name, reason))

    dispatcher = outbox.OutboxDispatcher(db, {"log": channel, "scripted": channel}, clock=clock, on_dead=on_dead)
    return db, dispatcher


async def enqueue(db: Database, clock: Clock, msg: PlannedMessage) -> int:
    async with db.transaction() as conn:
        return await outbox.enqueue(conn, msg, now=clock(), transport="scripted", extra_params={"time": "now"})


async def test_transient_failures_are_retried_with_backoff_then_sent(tmp_path: Path) -> None:
    clock, dead = Clock(), []
    channel = ScriptedChannel([Transient("busy"), RuntimeError("bug in channel"), Delivered()])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    row_id = await enqueue(db, clock, message())
    await dispatcher.run_once()
    row = await db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
    assert row is not None and row["state"] == "pending" and row["attempts"] == 1 and row["last_error"] == "busy"
    assert row["due_at"] > clock.now
    await dispatcher.run_once()  # not due yet: nothing sent
    assert len(channel.sent) == 1
    clock.now = row["due_at"]
    await dispatcher.run_once()
    row = await db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
    assert row is not None and row["attempts"] == 2 and "RuntimeError" in row["last_error"]
    clock.now = row["due_at"]
    await dispatcher.run_once()
    row = await db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
    assert row is not None and row["state"] == "sent" and row["attempts"] == 3 and row["last_error"] is None
    history = await db.fetchall("SELECT outcome, detail FROM outbox_attempts WHERE outbox = ? ORDER BY id", (row_id,))
    assert [h["outcome"] for h in history] == ["transient", "transient", "delivered"]
    assert history[0]["detail"] == "busy"
    assert dead == []
    await db.close()


async def test_permanent_failure_dead_letters_and_raises_channel_failure(tmp_path: Path) -> None:
    clock, dead = Clock(), []
    channel = ScriptedChannel([Permanent("21211 invalid number")])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    row_id = await enqueue(db, clock, message())
    await dispatcher.run_once()
    row = await db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
    assert row is not None and row["state"] == "dead" and row["last_error"] == "21211 invalid number"
    assert dead == [("sms", "21211 invalid number")]
    await db.close()


async def test_scheduled_escalation_waits_then_sends_and_can_be_cancelled(tmp_path: Path) -> None:
    clock, dead = Clock(), []
    channel = ScriptedChannel([])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    later = await enqueue(db, clock, message(delay=120, step=1))
    cancelled = await enqueue(db, clock, message(delay=240, step=2))
    wait = await dispatcher.run_once()
    assert channel.sent == [] and 0 < wait <= 60
    clock.now += 121
    await dispatcher.run_once()
    assert [m.id for m in channel.sent] == [later]
    async with db.transaction() as conn:
        assert await outbox.cancel_escalation(conn, "inc-1") == 1
    clock.now += 500
    await dispatcher.run_once()
    row = await db.fetchone("SELECT state FROM outbox WHERE id = ?", (cancelled,))
    assert row is not None and row["state"] == "cancelled" and len(channel.sent) == 1
    await db.close()


async def test_rows_survive_a_restart_unsent(tmp_path: Path) -> None:
    clock, dead = Clock(), []
    db, _ = await setup(tmp_path, ScriptedChannel([]), clock, dead)
    row_id = await enqueue(db, clock, message())
    await db.close()  # "crash" before the dispatcher ran
    channel = ScriptedChannel([])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    await dispatcher.run_once()
    assert [m.id for m in channel.sent] == [row_id]
    await db.close()


def test_backoff_grows_is_capped_and_honours_hints() -> None:
    rng = random.Random(1)
    delays = [outbox.backoff(n, None, rng) for n in range(1, 20)]
    assert delays[0] < delays[3] < delays[6]
    assert max(delays) <= outbox.MAX_BACKOFF * 1.2
    assert outbox.backoff(1, 90, rng) == 90


async def test_order_per_recipient_and_independence_across_recipients(tmp_path: Path) -> None:
    clock, dead = Clock(), []
    channel = ScriptedChannel([Transient("down"), Delivered(), Delivered(), Delivered()])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    first = await enqueue(db, clock, message())
    second = await enqueue(db, clock, message())
    other = await enqueue(db, clock, msgspec.structs.replace(message(), recipient="Bruno", address="+393339999999"))
    await dispatcher.run_once()
    # Anna's first message failed: her second waits behind it; Bruno's goes out anyway.
    assert [m.id for m in channel.sent] == [first, other] or [m.id for m in channel.sent] == [other, first]
    row = await db.fetchone("SELECT due_at FROM outbox WHERE id = ?", (first,))
    assert row is not None
    clock.now = row["due_at"]
    await dispatcher.run_once()
    assert [m.id for m in channel.sent][-2:] == [first, second]
    await db.close()


async def test_sms_falls_back_to_gsm_when_twilio_is_unreachable(tmp_path: Path) -> None:
    clock = Clock()
    db = Database(tmp_path / "hub.db")
    await db.open()
    twilio = ScriptedChannel([Transient("connection refused")])
    twilio.transport = "twilio"
    gsm = ScriptedChannel([Delivered("+CMGS: 7")])
    gsm.transport = "gsm"
    dispatcher = outbox.OutboxDispatcher(db, {"log": twilio, "twilio": twilio, "gsm": gsm}, clock=clock)
    async with db.transaction() as conn:
        row_id = await outbox.enqueue(conn, message(), now=clock(), transport="twilio", extra_params={})
    await dispatcher.run_once()
    row = await db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
    assert row is not None and row["state"] == "sent" and row["transport"] == "gsm"
    assert "connection refused" in row["last_error"]
    assert len(gsm.sent) == 1
    await db.close()


async def test_retry_now_after_reconnection(tmp_path: Path) -> None:
    clock, dead = Clock(), []
    channel = ScriptedChannel([Transient("centre down")])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    row_id = await enqueue(db, clock, message())
    await dispatcher.run_once()
    await dispatcher.retry_now("scripted")
    await dispatcher.run_once()
    row = await db.fetchone("SELECT state FROM outbox WHERE id = ?", (row_id,))
    assert row is not None and row["state"] == "sent"
    await db.close()


async def test_sustained_transient_failures_raise_and_delivery_clears_channel_failure(tmp_path: Path) -> None:
    clock = Clock()
    db = Database(tmp_path / "hub.db")
    await db.open()
    channel = ScriptedChannel([Transient("smtp down")] * 3)
    troubles: list[tuple[str, bool]] = []

    async def on_trouble(name: str, active: bool) -> None:
        troubles.append((name, active))

    dispatcher = outbox.OutboxDispatcher(db, {"log": channel, "scripted": channel}, clock=clock, on_trouble=on_trouble)
    row_id = await enqueue(db, clock, message())
    for _ in range(3):
        await dispatcher.run_once()
        row = await db.fetchone("SELECT due_at FROM outbox WHERE id = ?", (row_id,))
        assert row is not None
        clock.now = row["due_at"]
    assert troubles == [("sms", True)]
    await dispatcher.run_once()
    assert troubles == [("sms", True), ("sms", False)]
    await db.close()


async def test_a_channel_without_transport_is_never_sent(tmp_path: Path) -> None:
    """Outside the demo no log stands in: the row is dead, "not_configured", and nothing failed
    (no channel_failure: config check, doctor and no_notification_channel tell that story)."""
    clock = Clock()
    db = Database(tmp_path / "hub.db")
    await db.open()
    channel = ScriptedChannel([])
    troubles: list[tuple[str, bool]] = []
    dead: list[tuple[str, str]] = []

    async def on_trouble(name: str, active: bool) -> None:
        troubles.append((name, active))

    async def on_dead(name: str, reason: str) -> None:
        dead.append((name, reason))

    dispatcher = outbox.OutboxDispatcher(db, {"scripted": channel}, clock=clock, on_trouble=on_trouble)
    async with db.transaction() as conn:
        planned = await outbox.enqueue(conn, message(), now=clock(), transport="none", extra_params={"time": "now"})
        reminder = await outbox.enqueue(
            conn, message(delay=120, step=1), now=clock(), transport="none", extra_params={"time": "now"}
        )
        # Written while [sms] was configured, then the section went away: ends the same way.
        stale = await outbox.enqueue(conn, message(), now=clock(), transport="twilio", extra_params={"time": "now"})
    for row_id in (planned, reminder):
        row = await db.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
        assert row is not None
        assert (row["state"], row["last_error"], row["transport"], row["attempts"]) == (
            "dead",
            "not_configured",
            "none",
            0,
        )
    await dispatcher.run_once()
    row = await db.fetchone("SELECT * FROM outbox WHERE id = ?", (stale,))
    assert row is not None and (row["state"], row["last_error"]) == ("dead", "not_configured")
    assert channel.sent == [] and troubles == []
    quiet = outbox.OutboxDispatcher(db, {}, clock=clock, on_dead=on_dead)
    async with db.transaction() as conn:
        await outbox.enqueue(conn, message(), now=clock(), transport="twilio", extra_params={"time": "now"})
    await quiet.run_once()
    assert dead == []
    assert await db.fetchone("SELECT 1 FROM outbox WHERE state = 'sent'") is None
    await db.close()


async def test_a_row_committed_while_the_dispatcher_finishes_a_round_is_sent_at_once(tmp_path: Path) -> None:
    """The wake of a message committed during a round (after its queries) must not be lost: it
    used to be cleared after the round, and the message waited up to a minute."""
    clock, dead = Clock(), []
    channel = ScriptedChannel([])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    first_round = dispatcher.run_once
    late: list[int] = []

    async def run_once(**kwargs: bool) -> float:
        delay = await first_round(**kwargs)
        if not late:  # an alarm commits just as the first round ends: its wake comes now
            late.append(await enqueue(db, clock, message()))
            dispatcher.wake()
            return 60.0  # what the round computed before the row existed
        return delay

    dispatcher.run_once = run_once  # type: ignore[method-assign]
    task = asyncio.create_task(dispatcher.run())
    try:
        await wait_until(lambda: len(channel.sent) == 1, 10, what="the late message sent")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.close()


class HeldChannel:
    """A channel whose sends wait until released: a mail server that is slow to answer."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.started: list[OutgoingMessage] = []
        self.release = asyncio.Event()

    async def send(self, message: OutgoingMessage) -> Outcome:
        self.started.append(message)
        await self.release.wait()
        return Delivered()


async def test_a_slow_email_does_not_hold_back_a_new_alarms_centre_report(tmp_path: Path) -> None:
    """A round used to wait for every send it started: an e-mail in its TLS handshake (or a
    mail server answering at the 30 s timeout) held the next alarm's centre report back."""
    clock = Clock()
    mail, centre = HeldChannel("smtp"), ScriptedChannel([])
    db = Database(tmp_path / "hub.db")
    await db.open()
    dispatcher = outbox.OutboxDispatcher(db, {"smtp": mail, "dc09": centre}, clock=clock)

    async def add(channel: str, transport: str) -> int:
        planned = msgspec.structs.replace(message(), channel=channel, recipient=channel)
        async with db.transaction() as conn:
            return await outbox.enqueue(conn, planned, now=clock(), transport=transport, extra_params={})

    first_mail = await add("email", "smtp")
    task = asyncio.create_task(dispatcher.run())
    try:
        await wait_until(lambda: len(mail.started) == 1, 10, what="the e-mail on its way")
        report = await add("centre", "dc09")
        second_mail = await add("email", "smtp")  # queued behind the first, in order
        dispatcher.wake()
        await wait_until(lambda: len(centre.sent) == 1, 10, what="the centre report, the e-mail still held")
        assert [m.id for m in mail.started] == [first_mail]
        await wait_until(lambda: dispatcher._busy == {("smtp", "email", "email")}, 10, what="the centre's sender done")
        state = await db.fetchone("SELECT state FROM outbox WHERE id = ?", (report,))
        assert state is not None and state["state"] == "sent"
        mail.release.set()
        await wait_until(lambda: len(mail.started) == 2, 10, what="the second e-mail, after the first")
        assert [m.id for m in mail.started] == [first_mail, second_mail]
        await wait_until(lambda: not dispatcher._busy, 10, what="every sender done")
        rows = await db.fetchall("SELECT state FROM outbox ORDER BY id")
        assert [r["state"] for r in rows] == ["sent", "sent", "sent"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.close()


async def test_a_message_waiting_for_its_retry_leaves_the_dispatcher_idle(tmp_path: Path) -> None:
    """A group whose first row is not due must not be started: its sender would stop at once,
    wake the dispatcher, and be started again, round after round."""
    clock, dead = Clock(), []
    channel = ScriptedChannel([Transient("busy")])
    db, dispatcher = await setup(tmp_path, channel, clock, dead)
    await enqueue(db, clock, message())
    rounds = 0
    first_round = dispatcher.run_once

    async def run_once(**kwargs: bool) -> float:
        nonlocal rounds
        rounds += 1
        return await first_round(**kwargs)

    dispatcher.run_once = run_once  # type: ignore[method-assign]
    task = asyncio.create_task(dispatcher.run())
    try:
        await wait_until(lambda: len(channel.sent) == 1, 10, what="the first attempt")
        await wait_until(lambda: not dispatcher._busy, 10, what="its sender done")
        settled = rounds
        await asyncio.sleep(0.3)  # the retry is seconds away on the (frozen) clock: nothing to do
        assert rounds - settled <= 1, f"{rounds - settled} rounds while nothing was due"
        assert len(channel.sent) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.close()
