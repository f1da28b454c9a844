"""The engine's `WrongCodes` input: someone keeps guessing the alarm code (hub/core/throttle.py counts).

The engine only has it logged, notified and reported; it changes no state, in any mode, and a
walk test holds nothing back. The DC-09 encoding of the report is a contract with centres.
"""

from __future__ import annotations

import msgspec
import pytest

from alarms import dc09
from alarms.engine import handle, initial_state, replay
from alarms.model import (
    EVENT_DECODER,
    EVENT_ENCODER,
    AlarmSettings,
    AnyEvent,
    ArmRequest,
    LogEvent,
    Notify,
    Report,
    SensorChanged,
    State,
    WalkTestStart,
    WrongCodes,
    ZoneUpsert,
)
from alarms.policy import plan_report

SETTINGS = AlarmSettings(exit_delay=0, entry_delay=30)


def kit() -> State:
    state = initial_state(SETTINGS)
    for event in (
        ZoneUpsert(id="door", name="Porta", kind="contact", behaviour="entry", device="d1"),
        ZoneUpsert(id="smoke", name="Fumo", kind="smoke", behaviour="24h", device="d2"),
    ):
        state = handle(state, event, 100.0).state
    return state


def test_wrong_codes_are_logged_notified_and_reported() -> None:
    state = kit()
    step = handle(state, WrongCodes(count=10, by="anna"), 200.0)
    assert step.effects == (
        LogEvent(kind="wrong_codes", by="anna", detail="10 wrong codes within an hour"),
        Notify(subject="event", event="wrong_codes", by="anna"),
        Report(code="wrong_code", user="anna"),
    )
    assert step.state == state  # nothing to remember: the shell keeps the counts


@pytest.mark.parametrize("mode", ["disarmed", "armed_away", "pending", "walk_test"])
def test_in_every_mode_and_without_touching_it(mode: str) -> None:
    state = kit()
    if mode in ("armed_away", "pending"):
        state = handle(state, ArmRequest(mode="away", by="anna"), 110.0).state
    if mode == "pending":
        state = handle(state, SensorChanged(zone="door", active=True), 120.0).state
    if mode == "walk_test":
        state = handle(state, WalkTestStart(by="installer"), 110.0).state
    assert state.mode == ("disarmed" if mode == "walk_test" else mode)
    step = handle(state, WrongCodes(count=12, by=None), 125.0)
    assert step.state == state
    assert [type(e) for e in step.effects] == [LogEvent, Notify, Report]
    assert Report(code="wrong_code", user=None) in step.effects  # a walk test holds back faults, not this


def test_the_input_survives_the_journal() -> None:
    event: AnyEvent = WrongCodes(count=10, by="MQTT (Home Assistant)")
    raw = EVENT_ENCODER.encode(event)
    assert b'"type":"wrong_code_limit"' in raw
    assert EVENT_DECODER.decode(raw) == event
    state = kit()
    assert replay([(event, 300.0)], state) == state
    with pytest.raises(msgspec.ValidationError):
        EVENT_DECODER.decode(b'{"type":"wrong_code_limit","count":-1}')


def test_the_centre_gets_cid_461_and_sia_ja() -> None:
    """Contact ID 1461 (wrong code entry, a new event: no restore exists) and SIA JA (user code
    tamper); the address field is the user number of the last caller, 000 when not a user."""
    assert dc09.contact_id_block("1234", "wrong_code") == "#1234|1461 01 000"
    assert dc09.contact_id_block("1234", "wrong_code", user_number=3, zone_number=9) == "#1234|1461 01 003"
    assert dc09.contact_id_block("1234", "wrong_code", restore=True) == "#1234|1461 01 000"
    assert dc09.sia_block("1234", "wrong_code", user_number=3) == "#1234|Nri1/JA003"
    assert dc09.sia_block("1234", "wrong_code", restore=True) == "#1234|Nri1/JA000"
    formats: tuple[dc09.ReportFormat, ...] = ("cid", "sia")
    for fmt in formats:
        raw = dc09.encode_report(fmt, "wrong_code", user_number=5, account="1234", sequence=7, timestamp=0)
        decoded = dc09.decode_report(dc09.decode_frame(raw))
        assert (decoded.kind, decoded.restore, decoded.number) == ("wrong_code", False, 5)
    message = plan_report(Report(code="wrong_code", user="anna"), kit(), "it")
    assert message.template == "centre.wrong_code" and message.params["code"] == "wrong_code"
