"""A walk test lasts at most an hour (the alarms are off meanwhile) and always ends by itself."""

from __future__ import annotations

import msgspec
import pytest

from alarms.engine import handle, initial_state, next_deadline
from alarms.model import (
    EVENT_DECODER,
    AlarmSettings,
    IncidentOpened,
    LogEvent,
    SensorChanged,
    Tick,
    WalkTestStart,
    ZoneUpsert,
)


def test_a_walk_test_of_more_than_an_hour_is_not_a_valid_input() -> None:
    assert WalkTestStart(by="ivo").duration == 1800  # 30 minutes unless said otherwise
    for seconds in (60, 3600):
        EVENT_DECODER.decode(msgspec.json.encode({"type": "walk_test_start", "by": "ivo", "duration": seconds}))
    for seconds in (3601, 4 * 3600):
        with pytest.raises(msgspec.ValidationError):
            EVENT_DECODER.decode(msgspec.json.encode({"type": "walk_test_start", "by": "ivo", "duration": seconds}))


def test_the_longest_walk_test_ends_by_itself_within_the_hour() -> None:
    state = initial_state(AlarmSettings())
    state = handle(state, ZoneUpsert(id="smoke", name="Fumo", kind="smoke", behaviour="24h", device="d-smoke"), 0).state
    started = 1000.0
    state = handle(state, WalkTestStart(by="ivo", duration=3600), started).state
    assert state.walk_test is not None and next_deadline(state) == started + 3600
    state = handle(state, Tick(), started + 3599).state
    assert state.walk_test is not None  # still running one second before the hour
    step = handle(state, Tick(), started + 3600)
    assert step.state.walk_test is None
    assert [e.detail for e in step.effects if isinstance(e, LogEvent) and e.kind == "walk_test_ended"] == [
        "0 tested, 1 untested, time over"
    ]
    # after it, smoke alarms again
    step = handle(step.state, SensorChanged(zone="smoke", active=True), started + 3601)
    assert any(isinstance(e, IncidentOpened) for e in step.effects)
