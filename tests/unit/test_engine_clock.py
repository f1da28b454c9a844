"""ClockStep: running delays keep their remaining time when the wall clock jumps."""

from __future__ import annotations

from alarms import engine
from alarms.model import AlarmSettings, ArmRequest, ClockStep, DeviceHealth, SensorChanged, ZoneUpsert


def armed_pending() -> object:
    s = engine.initial_state(AlarmSettings(exit_delay=0, entry_delay=30))
    s = engine.handle(s, ZoneUpsert(id="door", name="Door", kind="contact", behaviour="entry", device="d1"), 0).state
    s = engine.handle(s, ArmRequest(mode="away", by="anna"), 0).state
    s = engine.handle(s, SensorChanged(zone="door", active=True), 100).state
    assert s.mode == "pending" and s.deadline == 130
    return s


def test_step_forward_does_not_end_the_entry_delay() -> None:
    s = armed_pending()
    step = engine.handle(s, ClockStep(delta=3600), 110 + 3600)  # type: ignore[arg-type]
    assert step.state.mode == "pending"
    assert step.state.deadline == 130 + 3600
    assert engine.handle(step.state, ClockStep(delta=0), 129.9 + 3600).state.mode == "pending"
    from alarms.model import Tick

    assert engine.handle(step.state, Tick(), 130 + 3600).state.mode == "triggered"


def test_step_back_does_not_stretch_the_entry_delay() -> None:
    s = armed_pending()
    step = engine.handle(s, ClockStep(delta=-3600), 110 - 3600)  # type: ignore[arg-type]
    assert step.state.deadline == 130 - 3600
    from alarms.model import Tick

    assert engine.handle(step.state, Tick(), 130 - 3600).state.mode == "triggered"


def test_step_moves_the_offline_grace_too() -> None:
    s = engine.initial_state(AlarmSettings(offline_grace=600))
    s = engine.handle(s, ZoneUpsert(id="w", name="Water", kind="water", behaviour="24h", device="d1"), 0).state
    s = engine.handle(s, DeviceHealth(device="d1", online=False), 100).state
    s = engine.handle(s, ClockStep(delta=3600), 200 + 3600).state
    assert not s.anomalies
    assert engine.next_deadline(s) == 700 + 3600
