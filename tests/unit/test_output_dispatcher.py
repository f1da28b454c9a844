"""The output dispatcher (hub/core/outputs.py) and the hub around it: rows written with the step,
sent at once, re-sent with backoff until a reading confirms them or the deadline passes, beeps
done once sent, newer commands superseding older ones, resuming after a restart, re-asserting a
siren within its siren time, and sending from memory while storage fails.

The clock is the hub's (a settable one); the dispatcher is driven step by step (`step_all`)
except where `run` itself is under test. The driver is a fake OutputDriver that records
commands and can be told to fail, hang or answer from inside `command()`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from alarms.model import (
    AlarmSettings,
    ArmRequest,
    DisarmRequest,
    OutputUpsert,
    SensorChanged,
    ZoneUpsert,
)
from alarms.outputs import Action, Command
from alarms.policy import Escalation
from drivers.base import DriverError, HealthReading, OutputReading
from hub.core import outputs
from hub.core.devices import DeviceRecord
from hub.core.outputs import CommandRow, OutputDispatcher
from hub.core.runtime import Hub
from hub.store.db import MIGRATIONS, Database, open_sync

NOW = 1_750_000_000.0
SIREN = Command(action="burglar", seconds=180)
_OPEN: list[Database] = []  # closed after each test


@pytest.fixture(autouse=True)
async def close_databases() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().close()


async def open_db(path: Path) -> Database:
    db = Database(path)
    await db.open()
    _OPEN.append(db)
    return db


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class FakeDriver:
    """An OutputDriver: records (address, command); `fail` raises DriverError that many times,
    `hang` never returns, `answer` is called inside command() (a reading before it returns)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Command]] = []
        self.fail = 0
        self.hang = False
        self.answer: Callable[[str, Command], None] | None = None

    async def command(self, address: str, command: Command) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.fail:
            self.fail -= 1
            raise DriverError("broker down")
        self.sent.append((address, command))
        if self.answer is not None:
            self.answer(address, command)

    def actions(self) -> list[str]:
        return [c.action for _, c in self.sent]


class Failures:
    def __init__(self) -> None:
        self.items: list[tuple[str, Action, str]] = []

    async def __call__(self, output: str, action: Action, detail: str) -> None:
        self.items.append((output, action, detail))


async def dispatcher_at(
    tmp_path: Path, clock: Clock, driver: FakeDriver, **kwargs: Any
) -> tuple[Database, OutputDispatcher, Failures]:
    db = await open_db(tmp_path / "hub.db")
    failures = Failures()
    dispatcher = OutputDispatcher(
        db, clock=clock, drivers=lambda kind: [driver] if kind == "fake" else [], on_failed=failures, **kwargs
    )
    return db, dispatcher, failures


async def write(
    db: Database, clock: Clock, command: Command, output: str = "siren", reason: str = "intrusion"
) -> CommandRow:
    """A command as the hub writes one in a step's transaction."""
    row = outputs.new_row(
        output, command, reason, device="dev-1", driver="fake", address="0x01", now=clock(), deadline=60.0
    )
    async with db.transaction() as conn:
        await outputs.supersede(conn, row, clock())
        row.id = await outputs.insert(conn, row)
    return row


async def state_of(db: Database, row_id: int) -> dict[str, Any]:
    record = await db.fetchone("SELECT * FROM output_commands WHERE id = ?", (row_id,))
    assert record is not None
    return dict(record)


# ------------------------------------------------------------------------- the dispatcher


async def test_a_confirmed_command_is_sent_once(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, failures = await dispatcher_at(tmp_path, clock, driver)
    row = await write(db, clock, SIREN)
    dispatcher.add([row])
    await dispatcher.step_all()
    assert driver.sent == [("0x01", SIREN)]
    assert (await state_of(db, row.id))["state"] == "sent"
    clock.now += 0.3
    assert [r.id for r in dispatcher.confirm("siren", "sounding", clock())] == [row.id]
    await dispatcher.step_all()
    record = await state_of(db, row.id)
    assert record["state"] == "confirmed" and record["attempts"] == 1 and record["sent_at"] == NOW
    clock.now += 100
    await dispatcher.step_all()
    assert len(driver.sent) == 1 and failures.items == [] and dispatcher.waiting() == []


async def test_unconfirmed_is_resent_with_backoff_then_failed_at_the_deadline(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, failures = await dispatcher_at(tmp_path, clock, driver)
    row = await write(db, clock, SIREN)
    dispatcher.add([row])
    sends = []
    for second in range(0, 61):
        clock.now = NOW + second
        before = len(driver.sent)
        await dispatcher.step_all()
        if len(driver.sent) > before:
            sends.append(second)
        # A reading that says the opposite never confirms it.
        dispatcher.confirm("siren", "silent", clock())
    assert sends == [0, 2, 6, 14, 30, 46]
    assert failures.items == [("siren", "burglar", "no confirmation within 60 s")]
    record = await state_of(db, row.id)
    assert record["state"] == "failed" and record["attempts"] == 6
    assert record["last_error"] == "no confirmation within 60 s"


async def test_a_driver_that_cannot_send_is_retried_and_its_error_kept(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, failures = await dispatcher_at(tmp_path, clock, driver)
    driver.fail = 2
    row = await write(db, clock, Command(action="close"), output="valve", reason="water")
    dispatcher.add([row])
    await dispatcher.step_all()
    record = await state_of(db, row.id)
    assert record["state"] == "pending" and record["attempts"] == 1 and record["last_error"] == "broker down"
    assert record["due_at"] == NOW + 2
    clock.now = NOW + 2
    await dispatcher.step_all()
    clock.now = NOW + 6
    await dispatcher.step_all()
    assert driver.actions() == ["close"]
    record = await state_of(db, row.id)
    assert record["state"] == "sent" and record["attempts"] == 3 and record["sent_at"] == NOW + 6
    dispatcher.confirm("valve", "closed", clock())
    await dispatcher.step_all()
    assert (await state_of(db, row.id))["state"] == "confirmed" and failures.items == []


async def test_never_sent_fails_with_the_drivers_reason(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, failures = await dispatcher_at(tmp_path, clock, driver, deadline=5.0)
    driver.fail = 100
    row = await write(db, clock, SIREN)
    row.deadline = NOW + 5
    dispatcher.add([row])
    for second in range(6):
        clock.now = NOW + second
        await dispatcher.step_all()
    assert failures.items == [("siren", "burglar", "broker down")]
    assert (await state_of(db, row.id))["state"] == "failed"


async def test_a_beep_is_done_once_sent_and_never_confirmed(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, failures = await dispatcher_at(tmp_path, clock, driver)
    chime = Command(action="chime", seconds=1, level="low", strobe=False)
    row = await write(db, clock, chime, reason="chime")
    assert row.deadline == NOW + outputs.BEEP_DEADLINE
    dispatcher.add([row])
    await dispatcher.step_all()
    clock.now += 120
    await dispatcher.step_all()
    assert driver.actions() == ["chime"] and failures.items == []
    record = await state_of(db, row.id)
    assert record["state"] == "sent" and record["done_at"] == NOW


async def test_a_newer_command_supersedes_but_a_beep_does_not(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, failures = await dispatcher_at(tmp_path, clock, driver)
    burglar = await write(db, clock, SIREN)
    dispatcher.add([burglar])
    await dispatcher.step_all()
    clock.now += 1
    stop = await write(db, clock, Command(action="stop"), reason="disarm")
    squawk = await write(db, clock, Command(action="squawk_disarmed", level="low", strobe=False), reason="disarmed")
    dispatcher.add([stop, squawk])
    await dispatcher.step_all()
    assert driver.actions() == ["burglar", "stop", "squawk_disarmed"]
    assert (await state_of(db, burglar.id))["state"] == "superseded"
    # The squawk replaced nothing: the stop is re-sent until the siren says it is silent.
    clock.now += 2
    await dispatcher.step_all()
    assert driver.actions() == ["burglar", "stop", "squawk_disarmed", "stop"]
    dispatcher.confirm("siren", "silent", clock())
    await dispatcher.step_all()
    assert (await state_of(db, stop.id))["state"] == "confirmed" and failures.items == []


async def test_a_status_heard_before_the_command_confirms_nothing(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, _ = await dispatcher_at(tmp_path, clock, driver)
    row = await write(db, clock, Command(action="stop"), reason="disarm")
    dispatcher.confirm("siren", "silent", NOW - 1)  # cached state from before: not an answer
    dispatcher.add([row])
    await dispatcher.step_all()
    dispatcher.confirm("siren", "silent", NOW - 0.5)  # published before the command went out
    assert (await state_of(db, row.id))["state"] == "sent"
    dispatcher.confirm("siren", "silent", NOW + 0.1)
    await dispatcher.step_all()
    assert (await state_of(db, row.id))["state"] == "confirmed"


async def test_an_answer_before_command_returns_confirms_it(tmp_path: Path) -> None:
    """zigbee2mqtt reports a siren's assumed status from inside command()."""
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, failures = await dispatcher_at(tmp_path, clock, driver)
    driver.answer = lambda address, command: dispatcher.confirm("siren", "sounding", clock())
    row = await write(db, clock, SIREN)
    dispatcher.add([row])
    await dispatcher.step_all()
    assert (await state_of(db, row.id))["state"] == "confirmed"
    clock.now += 61
    await dispatcher.step_all()
    assert len(driver.sent) == 1 and failures.items == []


async def test_a_hanging_driver_is_an_attempt_that_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs, "COMMAND_TIMEOUT", 0.05)
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, _ = await dispatcher_at(tmp_path, clock, driver)
    driver.hang = True
    row = await write(db, clock, SIREN)
    dispatcher.add([row])
    await dispatcher.step_all()
    record = await state_of(db, row.id)
    assert record["state"] == "pending" and record["last_error"] == "fake: no answer within 0.05 s"


async def test_a_removed_output_and_a_missing_driver(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, dispatcher, _ = await dispatcher_at(tmp_path, clock, driver, known=lambda output: output != "gone")
    gone = await write(db, clock, SIREN, output="gone")
    orphan = outputs.new_row("siren", SIREN, "intrusion", device=None, driver=None, address=None, now=NOW, deadline=60)
    dispatcher.add([gone, orphan])
    await dispatcher.step_all()
    assert driver.sent == []
    assert (await state_of(db, gone.id))["state"] == "superseded"
    assert orphan.state == "pending" and orphan.last_error == "the output has no device"


async def test_resume_after_a_restart(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    db, first, _ = await dispatcher_at(tmp_path, clock, driver)
    burglar = await write(db, clock, SIREN)
    first.add([burglar])
    await first.step_all()  # sent, never confirmed: the hub is killed
    chime = await write(db, clock, Command(action="chime", seconds=1), output="indoor", reason="chime")
    valve = await write(db, clock, Command(action="close"), output="valve", reason="water")
    await db.close()
    clock.now = NOW + 600  # the hub was away for ten minutes
    db, second, failures = await dispatcher_at(tmp_path, clock, driver)
    resumed = await second.resume()
    assert [(r.output, r.action) for r in resumed] == [("siren", "burglar"), ("valve", "close")]
    assert all(r.deadline == clock.now + 60 for r in resumed)
    assert (await state_of(db, chime.id))["state"] == "failed"  # a chime ten minutes late means nothing
    await second.step_all()
    assert driver.actions() == ["burglar", "burglar", "close"]
    assert failures.items == [] and (await state_of(db, valve.id))["state"] == "sent"


async def test_run_sends_at_once_and_a_slow_output_holds_up_only_itself(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    slow = FakeDriver()
    slow.hang = True
    db = await open_db(tmp_path / "hub.db")
    dispatcher = OutputDispatcher(
        db, clock=clock, drivers=lambda kind: [driver] if kind == "fake" else [slow], on_failed=Failures()
    )
    task = asyncio.create_task(dispatcher.run())
    try:
        stuck = outputs.new_row(
            "bell",
            Command(action="on", seconds=5),
            "intrusion",
            device="d2",
            driver="slow",
            address="0x02",
            now=NOW,
            deadline=60,
        )
        dispatcher.add([stuck])
        await asyncio.sleep(0.01)
        row = await write(db, clock, SIREN)
        dispatcher.add([row])
        for _ in range(100):
            if driver.sent:
                break
            await asyncio.sleep(0.001)
        assert driver.actions() == ["burglar"]
        dispatcher.confirm("siren", "sounding", clock())
        for _ in range(100):
            if (await state_of(db, row.id))["state"] == "confirmed":
                break
            await asyncio.sleep(0.005)
        assert (await state_of(db, row.id))["state"] == "confirmed"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_migration_adds_the_table_to_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:-1], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version={number}")
    conn.execute("INSERT INTO events (at, kind) VALUES (1, 'kept')")
    conn.close()
    upgraded = open_sync(path)
    try:
        assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        columns = [r[1] for r in upgraded.execute("PRAGMA table_info(output_commands)")]
        assert columns == [
            "id", "output", "device", "driver", "address", "action", "command", "reason", "created_at",
            "due_at", "attempts", "state", "deadline", "last_error", "sent_at", "done_at",
        ]  # fmt: skip
        assert [tuple(r) for r in upgraded.execute("SELECT kind FROM events")] == [("kept",)]
    finally:
        upgraded.close()


# ------------------------------------------------------------------------- the hub around it


class Home:
    """A Hub on a real database: a door (entry, chime) and a siren (chime) of a fake driver."""

    def __init__(self, hub: Hub, driver: FakeDriver, clock: Clock) -> None:
        self.hub, self.driver, self.clock = hub, driver, clock

    async def rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.hub.db.fetchall("SELECT * FROM output_commands ORDER BY id")]

    async def send(self) -> None:
        assert self.hub.outputs is not None
        await self.hub.outputs.step_all()


async def home_at(tmp_path: Path, clock: Clock, driver: FakeDriver, db: Database | None = None) -> Home:
    if db is None:
        db = await open_db(tmp_path / "hub.db")
    settings = AlarmSettings(exit_delay=0, entry_delay=10, siren_time=180)
    hub = Hub(db, settings=settings, contacts=[], escalation=Escalation(), transports={}, clock=clock)
    hub.outputs = OutputDispatcher(
        db,
        clock=clock,
        drivers=lambda kind: [driver] if kind == "fake" else [],
        on_failed=hub.output_failed,
        known=lambda output: output in hub.state.outputs,
    )
    await hub.recover()
    return Home(hub, driver, clock)


async def paired_home(tmp_path: Path, clock: Clock, driver: FakeDriver) -> Home:
    home = await home_at(tmp_path, clock, driver)
    hub = home.hub
    for device_id, address in (("door", "0x10"), ("sirena", "0x01")):
        hub.devices[device_id] = DeviceRecord(
            id=device_id, driver="fake", address=address, name=device_id, room="", model="", created_at=NOW
        )
        async with hub.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO devices (id, driver, address, name, created_at) VALUES (?, 'fake', ?, ?, ?)",
                (device_id, address, device_id, NOW),
            )
    await hub.submit(ZoneUpsert(id="door", name="Porta", kind="contact", behaviour="entry", device="door", chime=True))
    await hub.submit(OutputUpsert(id="sirena", name="Sirena", kind="siren", device="sirena", chime=True))
    return home


async def trigger(home: Home) -> None:
    await home.hub.submit(ArmRequest(mode="away", by="test"))
    await home.hub.submit(SensorChanged(zone="door", active=True))
    home.clock.now += 10
    await home.hub.submit(SensorChanged(zone="door", active=False))
    from alarms.model import Tick

    await home.hub.submit(Tick())
    assert home.hub.state.mode == "triggered"


async def test_the_hub_writes_the_command_with_its_step_and_the_reading_confirms_it(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    home = await paired_home(tmp_path, clock, driver)
    await trigger(home)
    rows = await home.rows()
    assert [(r["output"], r["action"], r["reason"], r["state"]) for r in rows] == [
        ("sirena", "burglar", "intrusion", "pending")
    ]
    assert (rows[0]["driver"], rows[0]["address"], rows[0]["device"]) == ("fake", "0x01", "sirena")
    # The same transaction journaled the step that asked for it.
    journal = await home.hub.db.fetchall("SELECT kind, data FROM events WHERE kind = 'output_command'")
    assert [r["data"] for r in journal] == ['{"detail": "sirena: burglar (intrusion)"}']
    await home.send()
    assert driver.sent == [("0x01", Command(action="burglar", seconds=180))]
    clock.now += 0.2
    await home.hub.ingest("fake", OutputReading(address="0x01", status="sounding", at=clock()))
    await home.hub.ingest("fake", OutputReading(address="0x01", status="sounding", at=clock()))  # de-duplicated
    await home.send()
    assert (await home.rows())[0]["state"] == "confirmed"
    assert home.hub.state.outputs["sirena"].status == "sounding"
    reported = await home.hub.db.fetchall("SELECT kind FROM events WHERE kind = 'output_reported'")
    assert len(reported) == 1
    # Disarm: stop, confirmed by "silent".
    await home.hub.submit(DisarmRequest(by="test"))
    await home.send()
    assert driver.actions() == ["burglar", "stop"]
    await home.hub.ingest("fake", OutputReading(address="0x01", status="silent", at=clock()))
    await home.send()
    assert [r["state"] for r in await home.rows()] == ["confirmed", "confirmed"]


async def test_unconfirmed_raises_output_failure_and_a_confirmation_clears_it(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    home = await paired_home(tmp_path, clock, driver)
    await trigger(home)
    for _ in range(61):
        clock.now += 1
        await home.send()
    anomalies = [(a.kind, a.subject, a.device) for a in home.hub.state.anomalies.values()]
    assert anomalies == [("output_failure", "sirena", "sirena")]
    assert (await home.rows())[0]["state"] == "failed"
    await home.hub.ingest("fake", OutputReading(address="0x01", status="sounding", at=clock()))
    assert not home.hub.state.anomalies


async def test_output_only_device_health_reaches_the_engine(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    home = await paired_home(tmp_path, clock, driver)
    await home.hub.ingest("fake", HealthReading(address="0x01", at=clock(), battery=5.0, tamper=True))
    output = home.hub.state.outputs["sirena"]
    assert output.battery_low and output.tamper
    assert [a.kind for a in home.hub.state.anomalies.values()] == ["low_battery"]
    assert [i.kind for i in home.hub.state.incidents.values()] == ["tamper"]
    await home.hub.ingest("fake", HealthReading(address="0x01", at=clock(), online=False))
    assert not home.hub.devices["sirena"].online


async def test_a_restart_within_the_siren_time_sounds_again_for_the_time_left(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    home = await paired_home(tmp_path, clock, driver)
    await trigger(home)
    await home.send()
    await home.hub.ingest("fake", OutputReading(address="0x01", status="sounding", at=clock()))
    await home.send()
    path = home.hub.db.path
    await home.hub.db.close()  # as after kill -9: nothing else is written
    clock.now += 60
    db = await open_db(path)
    again = await home_at(tmp_path, clock, driver, db)
    assert again.hub.state.mode == "triggered"
    await again.send()
    assert driver.sent[-1] == ("0x01", Command(action="burglar", seconds=120))
    rows = await again.rows()
    assert (rows[-1]["reason"], rows[-1]["action"]) == ("recover", "burglar")
    # Past the siren time: the recovering Tick stops it, and nothing sounds again.
    await again.hub.db.close()
    clock.now += 200
    db = await open_db(path)
    third = await home_at(tmp_path, clock, driver, db)
    await third.send()
    assert driver.actions()[-1] == "stop"
    assert [(r["action"], r["reason"]) for r in (await third.rows())[-1:]] == [("stop", "time_over")]


async def test_while_storage_fails_the_siren_is_commanded_from_memory_and_written_after(tmp_path: Path) -> None:
    clock, driver = Clock(), FakeDriver()
    home = await paired_home(tmp_path, clock, driver)
    hub = home.hub
    await hub.db.conn.execute("PRAGMA query_only = 1")
    await trigger(home)
    assert hub.degraded.active and [r.action for r in hub.degraded.commands] == ["burglar"]
    await home.send()
    assert driver.actions() == ["burglar"]
    await hub.ingest("fake", OutputReading(address="0x01", status="sounding", at=clock()))
    assert [r.state for r in hub.degraded.commands] == ["confirmed"]
    await hub.db.conn.execute("PRAGMA query_only = 0")
    assert await hub.flush_degraded()
    rows = await home.rows()
    assert [(r["action"], r["state"], r["attempts"]) for r in rows] == [("burglar", "confirmed", 1)]
    assert rows[0]["id"] > 0 and hub.degraded.commands == []


async def test_a_silent_siren_goes_offline_and_arming_is_not_ready(tmp_path: Path) -> None:
    """Supervision covers output devices as sensors' (hub/core/supervision.py): silent past its
    expected interval, the siren is offline, which makes arming not ready (siren_offline)."""
    from alarms import engine

    clock, driver = Clock(), FakeDriver()
    home = await paired_home(tmp_path, clock, driver)
    hub = home.hub
    hub.expected_interval = lambda driver_type, address: 10.0 if address == "0x01" else None
    await hub.ingest("fake", HealthReading(address="0x01", at=clock(), battery=90.0))
    clock.now += 25  # two reports missed
    await hub.supervision.check()
    clock.now += 6  # past the window in which a bridge outage would group devices
    await hub.supervision.check()
    assert not hub.state.outputs["sirena"].online
    assert ("sirena", "siren_offline") in engine.readiness(hub.state, "away")
    await hub.ingest("fake", HealthReading(address="0x01", at=clock(), online=True))
    assert hub.state.outputs["sirena"].online
    assert engine.readiness(hub.state, "away") == []
