"""The schedules' pure rule (alarms/schedules.py) and texts (alarms/messages/schedules.py): when a
schedule runs, across weekdays, DST nights and clock steps, and what it tells the household."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alarms.messages import EVENT_NAMES, MISSING, render
from alarms.messages.schedules import MODE_WORDS, REASON_WORDS, schedule_params
from alarms.model import ARM_TARGETS
from alarms.schedules import (
    GRACE_MAX,
    SCHEDULE_ACTIONS,
    WEEKDAYS,
    Rule,
    ScheduleError,
    check_rule,
    decide,
    label,
    last_occurrence,
    next_occurrence,
)

ROME = zoneinfo.ZoneInfo("Europe/Rome")
ZONES = [ROME, zoneinfo.ZoneInfo("America/New_York"), zoneinfo.ZoneInfo("Australia/Lord_Howe"), datetime.UTC]


def at(y: int, mo: int, d: int, h: int, mi: int, tz: datetime.tzinfo = ROME) -> float:
    return datetime.datetime(y, mo, d, h, mi, tzinfo=tz).timestamp()


def local(ts: float, tz: datetime.tzinfo = ROME) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, tz)


NIGHT = Rule(name="Notte", action="arm", mode=ARM_TARGETS[-1], at="23:30", weekdays=("mon", "tue", "wed", "thu", "fri"))


# --------------------------------------------------------------------------- checks


def test_a_good_rule_is_kept_trimmed_and_in_week_order() -> None:
    rule = check_rule(Rule(name="  Notte ", action="remind", at="09:00", weekdays=("fri", "mon")))
    assert (rule.name, rule.weekdays) == ("Notte", ("mon", "fri"))
    assert label(rule) == "programma: Notte"


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (Rule(name=" ", action="remind", at="09:00"), "name"),
        (Rule(name="x" * 65, action="remind", at="09:00"), "name"),
        (Rule(name="a\nb", action="remind", at="09:00"), "name"),
        (Rule(name="n", action="remind", at="24:00"), "at"),
        (Rule(name="n", action="remind", at="9:00"), "at"),
        (Rule(name="n", action="arm", at="09:00"), "mode"),
        (Rule(name="n", action="disarm", at="09:00"), "mode"),
        (Rule(name="n", action="remind", at="09:00", mode="home"), "mode"),
        (Rule(name="n", action="disarm", at="09:00", mode="home", force=True), "force"),
        (Rule(name="n", action="remind", at="09:00", grace_minutes=0), "grace_minutes"),
        (Rule(name="n", action="remind", at="09:00", grace_minutes=GRACE_MAX + 1), "grace_minutes"),
        (Rule(name="n", action="remind", at="09:00", weekdays=("mon", "mon")), "weekdays"),
    ],
)
def test_a_bad_rule_names_its_field(rule: Rule, field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        check_rule(rule)
    assert caught.value.field == field


def test_every_arm_target_is_a_mode_a_schedule_can_arm_and_say() -> None:
    for mode in ARM_TARGETS:
        check_rule(Rule(name="n", action="arm", mode=mode, at="23:30"))
        assert set(MODE_WORDS[mode]) == {"it", "en"}
    assert SCHEDULE_ACTIONS == ("arm", "disarm", "remind") and len(WEEKDAYS) == 7


# --------------------------------------------------------------------------- when


def test_weekdays_only() -> None:
    friday_night = at(2026, 3, 6, 23, 30)  # a Friday
    after = next_occurrence(NIGHT, friday_night, ROME)
    assert local(after) == datetime.datetime(2026, 3, 9, 23, 30, tzinfo=ROME)  # Monday
    assert last_occurrence(NIGHT, at(2026, 3, 8, 12, 0), ROME) == friday_night  # Sunday looks back to Friday


def test_the_night_clocks_go_forward_a_missing_time_runs_an_hour_later() -> None:
    rule = Rule(name="n", action="remind", at="02:30")
    due = next_occurrence(rule, at(2026, 3, 29, 0, 0), ROME)  # 29 March 2026: 02:00 -> 03:00
    assert local(due).strftime("%H:%M") == "03:30"
    assert next_occurrence(rule, due, ROME) == at(2026, 3, 30, 2, 30)


def test_the_night_clocks_go_back_a_double_time_runs_once() -> None:
    rule = Rule(name="n", action="remind", at="02:30")
    first = next_occurrence(rule, at(2026, 10, 25, 0, 0), ROME)  # 25 October 2026: 03:00 -> 02:00
    assert next_occurrence(rule, first, ROME) == at(2026, 10, 26, 2, 30)
    assert next_occurrence(rule, first, ROME) - first == 25 * 3600


def test_due_within_grace_missed_after_and_never_twice() -> None:
    rule = Rule(name="n", action="remind", at="09:00", grace_minutes=10)
    due = at(2026, 3, 2, 9, 0)
    created = due - 3600
    assert decide(rule, due - 1, created, ROME).what == "wait"
    assert (decide(rule, due + 9 * 60, created, ROME).what, decide(rule, due, created, ROME).at) == ("run", due)
    assert decide(rule, due + 11 * 60, created, ROME).what == "missed"
    # Dealt with (last_run = due): not again, neither later nor after the clock went back over it.
    assert decide(rule, due + 60, due, ROME).what == "wait"
    assert decide(rule, due - 3 * 3600, due, ROME).what == "wait"
    # A schedule set up after today's time does not run for it.
    assert decide(rule, due + 120, due + 60, ROME).what == "wait"


# --------------------------------------------------------------------------- properties

rules = st.builds(
    Rule,
    name=st.just("n"),
    action=st.just("remind"),
    at=st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    weekdays=st.lists(st.sampled_from(WEEKDAYS), unique=True, max_size=7).map(
        lambda days: tuple(d for d in WEEKDAYS if d in days)
    ),
    grace_minutes=st.integers(1, GRACE_MAX),
)
instants = st.floats(min_value=at(2025, 1, 1, 0, 0), max_value=at(2028, 12, 31, 0, 0), allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(rule=rules, now=instants, tz=st.sampled_from(ZONES))
def test_next_occurrence_is_the_first_on_a_scheduled_day(rule: Rule, now: float, tz: datetime.tzinfo) -> None:
    due = next_occurrence(rule, now, tz)
    assert now < due <= now + 8 * 86400
    assert last_occurrence(rule, due, tz) == due
    previous = last_occurrence(rule, due - 1e-3, tz)
    assert previous is None or previous <= now  # nothing in between was skipped
    # A time the clocks skip moves later the same night (the zones here change at 02:00 or so).
    assert not rule.weekdays or WEEKDAYS[local(due, tz).weekday()] in rule.weekdays


@settings(max_examples=200, deadline=None)
@given(
    rule=rules,
    start=instants,
    steps=st.lists(st.floats(min_value=-6 * 3600, max_value=2 * 86400, allow_nan=False), min_size=1, max_size=40),
    tz=st.sampled_from(ZONES),
)
def test_clock_steps_and_restarts_never_run_twice_or_late(
    rule: Rule, start: float, steps: list[float], tz: datetime.tzinfo
) -> None:
    """The scheduler's loop, with a clock that jumps both ways and restarts that keep only
    `last_run`: every occurrence runs at most once, never beyond its grace, never before its time."""
    created, last_run = start, None
    now, ran = start, []
    for step in steps:
        now += step
        since = max(created, last_run or created)
        decision = decide(rule, now, since, tz)
        if decision.what != "wait":
            assert decision.at is not None and decision.at <= now
            last_run = decision.at
            if decision.what == "run":
                assert now - decision.at <= rule.grace_minutes * 60
                ran.append(decision.at)
            else:
                assert now - decision.at > rule.grace_minutes * 60
    assert len(ran) == len(set(ran))
    assert all(t > created for t in ran)


# --------------------------------------------------------------------------- what it says


def test_the_not_ready_notice_names_zones_and_reasons_in_each_language() -> None:
    params = schedule_params("Notte", "night", [("Finestra camera", "open"), ("Sirena", "siren_offline")])
    it = render("event.schedule_not_ready", "it", {**params, "time": "23:30"})
    en = render("event.schedule_not_ready", "en", {**params, "time": "23:30"})
    assert "Finestra camera (aperta), Sirena (sirena non raggiungibile)" in it.body
    assert "notte" in it.body and "NON inserito" in it.subject
    assert "Finestra camera (open), Sirena (siren offline)" in en.body
    assert "night mode" in en.body and "NOT armed" in en.subject
    for text in (it, en):
        assert MISSING not in text.body + text.short and "not_ready" not in text.body


def test_the_reminder_says_the_alarm_is_still_off() -> None:
    params = schedule_params("Mattina", None)
    assert render("event.schedule_reminder", "it", params).subject == "L'allarme è ancora disinserito"
    assert render("event.schedule_reminder", "en", params).subject == "The alarm is still off"
    assert {"schedule_reminder", "schedule_not_ready"} <= EVENT_NAMES


def test_every_readiness_reason_has_words() -> None:
    # alarms/engine.py readiness: open, offline, tamper; alarms/output_rules.py: siren_offline
    assert set(REASON_WORDS) == {"open", "offline", "tamper", "siren_offline"}
