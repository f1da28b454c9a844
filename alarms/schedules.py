"""The household's schedules ("arm night at 23:30 Mon-Fri", "disarm at 07:00", "remind me at 09:00
if still disarmed on weekdays"): the rule, its checks, and when it runs.

Theory of operation
-------------------
A `Rule` says what to do (`arm` in a mode, `disarm` a mode, or `remind`), at which local time `at`
("HH:MM" in the hub's time zone) and on which `weekdays` (none: every day). Its occurrences are
that wall-clock time on each of those days, as Unix times. On the night the clocks go forward a
time that does not exist (02:30) falls an hour later; on the night they go back a time that
exists twice is the first one: an occurrence is one per day, never two, never none.

`decide(rule, now, since, tz)` is the whole timing rule, and the shell (hub/core/scheduler.py)
only asks it: the latest occurrence at or before `now` is *due* when it is after `since` (the
schedule's creation or the occurrence it last dealt with, its `last_run`) and at most
`grace_minutes` old; an older one is *missed* and is never run late. The shell records the
occurrence it ran or missed as `last_run`, so the same occurrence is never dealt with twice: not
after a restart, not after the clock stepped back over it. Earlier occurrences that a long outage
or a clock step jumped over are forgotten: only the latest one counts, once.

Nothing here reads a clock or the time zone database: `now` and `tz` come from the shell.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Literal, get_args

from alarms.errors import AlarmsError
from alarms.model import ArmTarget, Struct

__all__ = [
    "GRACE_DEFAULT",
    "GRACE_MAX",
    "NAME_MAX",
    "SCHEDULE_ACTIONS",
    "WEEKDAYS",
    "Decision",
    "Rule",
    "ScheduleAction",
    "ScheduleError",
    "Weekday",
    "check_rule",
    "decide",
    "label",
    "last_occurrence",
    "next_occurrence",
    "occurrence_on",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)  # Monday first, as datetime.weekday() counts
ScheduleAction = Literal["arm", "disarm", "remind"]
SCHEDULE_ACTIONS: tuple[ScheduleAction, ...] = get_args(ScheduleAction)

NAME_MAX = 64  # as hub/bounds.py NAME_MAX: a schedule's name goes into an SMS and the event log
GRACE_DEFAULT = 10  # minutes: a hub restarting within this after the time still runs it
GRACE_MAX = 120  # minutes: an "arm at 23:30" done at 01:30 is still useful; later it is a surprise
_AT = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_LOOKAHEAD_DAYS = 8  # a rule runs on at least one weekday, so within any 8 days


class ScheduleError(AlarmsError):
    """A rule that cannot be kept: `field` is the JSON field at fault, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Rule(Struct, frozen=True):
    """One schedule, as the API takes it and the `schedules` table keeps it (JSON)."""

    name: str
    action: ScheduleAction
    at: str  # "HH:MM", the hub's local time
    # `arm`: the mode it arms in; `disarm`: the only armed mode it ends (alarms.model.ARM_TARGETS)
    mode: ArmTarget | None = None
    weekdays: tuple[Weekday, ...] = ()  # empty: every day
    force: bool = False  # an `arm` that is not ready arms anyway, excluding what is open
    grace_minutes: int = GRACE_DEFAULT

    @property
    def hour_minute(self) -> tuple[int, int]:
        match = _AT.match(self.at)
        if match is None:
            raise ScheduleError("at", f"must be HH:MM (00:00 to 23:59), got {self.at!r}")
        return int(match.group(1)), int(match.group(2))


class Decision(Struct, frozen=True):
    """What to do now: `run` the occurrence `at`, note it `missed`, or `wait`."""

    what: Literal["run", "missed", "wait"]
    at: float | None = None


def label(rule: Rule) -> str:
    """Who the event log names as having done what the schedule did."""
    return f"programma: {rule.name}"


def check_rule(rule: Rule) -> Rule:
    """`rule` with its name trimmed and weekdays in week order, or ScheduleError naming the field."""
    name = unicodedata.normalize("NFC", rule.name).strip()
    if not name:
        raise ScheduleError("name", "give the schedule a name (it appears in the event log and messages)")
    if len(name) > NAME_MAX:
        raise ScheduleError("name", f"at most {NAME_MAX} characters, got {len(name)}")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ScheduleError("name", "no control characters")
    rule.hour_minute  # noqa: B018 - raises ScheduleError for a bad `at`
    if rule.action == "arm" and rule.mode is None:
        raise ScheduleError("mode", "an arm schedule needs the mode to arm in")
    if rule.action == "disarm" and rule.mode is None:
        # Named, so that "disarm at 07:00" ends the night and never the holiday armed `away`.
        raise ScheduleError("mode", "a disarm schedule names the armed mode it ends (it leaves any other armed)")
    if rule.action == "remind" and rule.mode is not None:
        raise ScheduleError("mode", "a reminder has no mode: it reminds while the alarm is off")
    if rule.action != "arm" and rule.force:
        raise ScheduleError("force", "only an arm schedule can force arming")
    if not 1 <= rule.grace_minutes <= GRACE_MAX:
        raise ScheduleError("grace_minutes", f"must be 1 to {GRACE_MAX} minutes, got {rule.grace_minutes}")
    weekdays = tuple(day for day in WEEKDAYS if day in rule.weekdays)
    if len(weekdays) != len(rule.weekdays):
        raise ScheduleError("weekdays", "a day is listed twice")
    return Rule(
        name=name,
        action=rule.action,
        at=rule.at,
        mode=rule.mode,
        weekdays=weekdays,
        force=rule.force,
        grace_minutes=rule.grace_minutes,
    )


# --------------------------------------------------------------------------- when


def _runs_on(rule: Rule, day: datetime.date) -> bool:
    return not rule.weekdays or WEEKDAYS[day.weekday()] in rule.weekdays


def occurrence_on(rule: Rule, day: datetime.date, tz: datetime.tzinfo) -> float:
    """The Unix time of `rule.at` on the local date `day` (whether or not the rule runs that day).

    fold=0: a time that exists twice is the first; a time the clocks skip is read with the offset
    before the change, which is an hour later on the new clock."""
    hour, minute = rule.hour_minute
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz).timestamp()


def last_occurrence(rule: Rule, now: float, tz: datetime.tzinfo) -> float | None:
    """The latest occurrence at or before `now` (within the last week), or None."""
    today = datetime.datetime.fromtimestamp(now, tz).date()
    for back in range(_LOOKAHEAD_DAYS + 1):
        day = today - datetime.timedelta(days=back)
        if _runs_on(rule, day):
            at = occurrence_on(rule, day, tz)
            if at <= now:
                return at
    return None


def next_occurrence(rule: Rule, after: float, tz: datetime.tzinfo) -> float:
    """The first occurrence strictly after `after`."""
    today = datetime.datetime.fromtimestamp(after, tz).date()
    for ahead in range(-1, _LOOKAHEAD_DAYS + 2):
        day = today + datetime.timedelta(days=ahead)
        if _runs_on(rule, day):
            at = occurrence_on(rule, day, tz)
            if at > after:
                return at
    raise ScheduleError("weekdays", "the rule never runs")  # unreachable: a week has every weekday


def decide(rule: Rule, now: float, since: float, tz: datetime.tzinfo) -> Decision:
    """Whether the latest occurrence at or before `now` is to run, was missed, or is dealt with.

    `since`: the schedule's creation time, or the occurrence it last ran or missed (`last_run`),
    whichever is later; an occurrence at or before it is never dealt with again."""
    at = last_occurrence(rule, now, tz)
    if at is None or at <= since:
        return Decision(what="wait")
    if now - at <= rule.grace_minutes * 60:
        return Decision(what="run", at=at)
    return Decision(what="missed", at=at)
