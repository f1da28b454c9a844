"""Sensor watch and zone modes in the engine (issue 17): a zone in daily use that stays silent for
its `watch_days` raises `sensor_inactive`; its next report clears it. Plus the first release's
`home` flag, in journals and in snapshots, becoming the modes it meant."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import msgspec

from alarms.engine import handle, initial_state, next_deadline, replay
from alarms.model import (
    ARM_TARGETS,
    EVENT_DECODER,
    AlarmSettings,
    AnomalyRaised,
    ArmRequest,
    ClockStep,
    DeviceHealth,
    ModeDelays,
    SensorChanged,
    State,
    Tick,
    ZoneRemove,
    ZoneUpsert,
)
from hub.store import snapshot
from hub.store.db import open_sync

DAY = 86400.0


def run(events: list[tuple[object, float]], state: State | None = None) -> tuple[State, list[object]]:
    current = state if state is not None else initial_state()
    effects: list[object] = []
    for event, now in events:
        step = handle(current, event, now)  # type: ignore[arg-type]
        current = step.state
        effects.extend(step.effects)
    return current, effects


def raised(effects: list[object]) -> list[str]:
    return [e.anomaly.subject or "" for e in effects if isinstance(e, AnomalyRaised)]


PIR = ZoneUpsert(id="pir", name="Soggiorno", kind="motion", behaviour="follower", device="d-pir")
SMOKE = ZoneUpsert(id="smoke", name="Cucina", kind="smoke", behaviour="24h", device="d-smoke")


def test_defaults_watch_motion_and_contacts_only() -> None:
    state, _ = run([(PIR, 0), (SMOKE, 0)])
    assert state.zones["pir"].watch_days == 14 and state.zones["smoke"].watch_days == 0
    assert next_deadline(state) == 14 * DAY


def test_a_silent_sensor_is_reported_once_at_its_time_and_cleared_when_it_speaks() -> None:
    state, effects = run([(PIR, 0), (Tick(), 14 * DAY - 1)])
    assert raised(effects) == []
    state, effects = run([(Tick(), 20 * DAY)], state)  # a late tick: the fault opens at its own time
    [anomaly] = [e.anomaly for e in effects if isinstance(e, AnomalyRaised)]
    assert (anomaly.kind, anomaly.subject, anomaly.device, anomaly.opened_at) == (
        "sensor_inactive",
        "pir",
        "d-pir",
        14 * DAY,
    )
    state, effects = run([(Tick(), 40 * DAY)], state)
    assert raised(effects) == []  # told once
    state, effects = run([(SensorChanged(zone="pir", active=True), 41 * DAY)], state)
    assert not state.anomalies
    assert next_deadline(state) == 55 * DAY  # watched again from its last report


def test_offline_excluded_and_unwatched_zones_are_not_reported_twice() -> None:
    off = ZoneUpsert(id="pir", name="x", kind="motion", behaviour="follower", device="d-pir", watch_days=0)
    state, effects = run([(off, 0), (Tick(), 100 * DAY)])
    assert raised(effects) == [] and next_deadline(state) is None
    # Offline: its own fault says it already; the watch waits for it to come back.
    state, effects = run([(PIR, 0), (DeviceHealth(device="d-pir", online=False), 1), (Tick(), 30 * DAY)])
    assert "pir" not in raised(effects)


def test_a_clock_step_moves_the_watch_and_a_reconfigured_zone_keeps_its_last_report() -> None:
    state, _ = run([(PIR, 1000), (ClockStep(delta=3600), 4600)])
    assert next_deadline(state) == 1000 + 3600 + 14 * DAY
    state, _ = run([(msgspec.structs.replace(PIR, name="Salotto", watch_days=3), 5000)], state)
    assert next_deadline(state) == 4600 + 3 * DAY
    state, effects = run([(Tick(), 4600 + 3 * DAY), (ZoneRemove(id="pir"), 4600 + 3 * DAY + 1)], state)
    assert raised(effects) == ["pir"] and not state.anomalies  # a removed zone's fault ends with it


def test_replay_gives_the_live_state() -> None:
    events: list[tuple[object, float]] = [
        (PIR, 0),
        (SMOKE, 0),
        (Tick(), 15 * DAY),
        (SensorChanged(zone="pir", active=True), 16 * DAY),
        (ClockStep(delta=-60), 17 * DAY),
        (Tick(), 40 * DAY),
    ]
    live, _ = run(events)
    assert replay(events) == live  # type: ignore[arg-type]


def test_the_home_flag_of_old_journals_becomes_modes_and_modes_win() -> None:
    old = EVENT_DECODER.decode(
        json.dumps(
            {"type": "zone_upsert", "id": "w", "name": "w", "kind": "contact", "behaviour": "instant", "home": False}
        )
    )
    state, _ = run([(old, 0)])
    assert state.zones["w"].modes == ("away", "vacation") and state.zones["w"].home is False
    state, _ = run([(msgspec.structs.replace(old, home=True), 1)], state)
    assert state.zones["w"].modes == ARM_TARGETS
    state, _ = run([(msgspec.structs.replace(old, home=True, modes=("vacation", "night", "night")), 2)], state)
    assert state.zones["w"].modes == ("night", "vacation")  # one spelling: ARM_TARGETS order, no repeats
    fresh, _ = run([(ZoneUpsert(id="m", name="m", kind="motion", behaviour="follower"), 0)])
    assert fresh.zones["m"].modes == ("away", "vacation")  # the kind's default


def test_each_mode_has_its_own_delays() -> None:
    settings = AlarmSettings(exit_delay=30, entry_delay=30, modes={"night": ModeDelays(exit_delay=5, entry_delay=0)})
    door = ZoneUpsert(id="door", name="door", kind="contact", behaviour="entry")
    state, _ = run([(door, 0), (ArmRequest(mode="night", by="anna"), 0)], initial_state(settings))
    assert (state.mode, state.deadline) == ("arming_night", 5)
    state, _ = run([(Tick(), 5), (SensorChanged(zone="door", active=True), 10), (Tick(), 10)], state)
    assert state.mode == "triggered"  # no entry delay at night
    state, _ = run([(door, 0), (ArmRequest(mode="away", by="anna"), 0)], initial_state(settings))
    assert state.deadline == 30


def test_an_old_snapshot_gets_modes_and_the_watch_of_its_kind(tmp_path: Path) -> None:
    conn: sqlite3.Connection = open_sync(tmp_path / "hub.db")
    state, _ = run([(PIR, 0), (SMOKE, 0)])
    raw = json.loads(msgspec.json.encode(state))
    for zone in raw["zones"].values():  # as the first release wrote it
        del zone["modes"], zone["watch_days"], zone["changed_at"]
        zone["home"] = zone["id"] == "smoke"
    conn.execute("INSERT INTO engine_state (id, state, last_event) VALUES (1, ?, 0)", (json.dumps(raw),))
    conn.commit()
    conn.close()

    async def load() -> State | None:
        import aiosqlite

        async with aiosqlite.connect(tmp_path / "hub.db") as db:
            return await snapshot.load_state(db)

    import asyncio

    upgraded = asyncio.run(load())
    assert upgraded is not None
    assert upgraded.zones["pir"].modes == ("away", "vacation") and upgraded.zones["smoke"].modes == ARM_TARGETS
    assert (upgraded.zones["pir"].watch_days, upgraded.zones["pir"].changed_at) == (14, None)
    # The first step starts the watch: the sensor gets its full 14 days from the upgrade.
    after = handle(upgraded, Tick(), 5 * DAY).state
    assert next_deadline(after) == 19 * DAY
