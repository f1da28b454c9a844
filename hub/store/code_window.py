"""When a user's codes work: a temporary code's window (a guest for a week, the cleaner on
Tuesdays 9-12). Stored as JSON in `users.code_window` (NULL: always); pure, no clock read:
callers pass the time and the hub's time zone (`[hub] timezone`).

- `valid_from` is inclusive, `valid_until` exclusive: a guest "until the 14th at 12:00" is
  refused at 12:00:00. A bare date means the whole day in the hub's time zone: `valid_from`
  2026-12-07 starts at its 00:00, `valid_until` 2026-12-14 ends at the 15th's 00:00.
  A time without an offset is the hub's local time.
- `weekdays` and `hours` are the hub's wall clock: 09:00-12:00 is 09:00 local in winter and in
  summer. Across a DST change the wall clock rules: a span inside the hour that does not exist
  in spring has no instant in it that night, and the hour repeated in autumn counts twice.
- An hours span whose end comes before its start crosses midnight ("22:00-06:00"), and belongs
  to the weekday it starts on (Friday 22:00-06:00 is Friday night into Saturday morning).
  The end may be 24:00.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

# The days' names are the schedules' (one vocabulary for the household's week), Monday first.
from alarms.schedules import WEEKDAYS, Weekday

FIELDS = ("valid_from", "valid_until", "weekdays", "hours")
MAX_TEXT = 40  # an ISO 8601 time with offset and microseconds is 32 characters
DAY = 24 * 60
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_HELP = "an ISO 8601 date or time, e.g. 2026-12-01 or 2026-12-01T09:00"
_HOURS = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?-([0-9]{1,2})(?::([0-9]{2}))?")


class WindowError(ValueError):
    """A window that cannot be used; `field` names the part ("window.hours"), `reason` is a stable
    code the dashboard words in its own language."""

    def __init__(self, field: str, message: str, reason: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class CodeWindow:
    valid_from: datetime | None = None  # aware, inclusive
    valid_until: datetime | None = None  # aware, exclusive
    weekdays: tuple[Weekday, ...] = ()  # in week order; empty: every day
    hours: tuple[int, int] | None = None  # minutes after local midnight: start inclusive, end exclusive

    def as_json(self) -> dict[str, Any]:
        return {
            "valid_from": None if self.valid_from is None else self.valid_from.isoformat(),
            "valid_until": None if self.valid_until is None else self.valid_until.isoformat(),
            "weekdays": list(self.weekdays),
            "hours": None if self.hours is None else format_hours(self.hours),
        }

    def describe(self) -> str:
        """One line for the CLI: "from 2026-12-01 00:00 until 2026-12-08 00:00, tue, 09:00-12:00"."""
        parts = []
        if self.valid_from is not None:
            parts.append(f"from {self.valid_from:%Y-%m-%d %H:%M}")
        if self.valid_until is not None:
            parts.append(f"until {self.valid_until:%Y-%m-%d %H:%M}")
        text = " ".join(parts)
        extra = [",".join(self.weekdays)] if self.weekdays else []
        extra += [format_hours(self.hours)] if self.hours is not None else []
        return ", ".join([text, *extra] if text else extra)


# A stored window that cannot be read: the code never works (a hand-edited database), rather than always.
NEVER = CodeWindow(valid_until=datetime(1970, 1, 1, tzinfo=UTC))


def format_hours(hours: tuple[int, int]) -> str:
    start, end = hours
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def inside(window: CodeWindow | None, t: float, tz: tzinfo) -> bool:
    """Whether a code with `window` works at `t` (seconds since the epoch) in the hub's zone `tz`."""
    if window is None:
        return True
    if window.valid_from is not None and t < window.valid_from.timestamp():
        return False
    if window.valid_until is not None and t >= window.valid_until.timestamp():
        return False
    if not window.weekdays and window.hours is None:
        return True
    days = {WEEKDAYS.index(d) for d in window.weekdays} or set(range(7))
    local = datetime.fromtimestamp(t, tz)
    day = local.weekday()
    if window.hours is None:
        return day in days
    minute = local.hour * 60 + local.minute
    start, end = window.hours
    if start < end:
        return day in days and start <= minute < end
    # Across midnight: the evening of a chosen day, or the morning after one.
    return (minute >= start and day in days) or (minute < end and (day - 1) % 7 in days)


def ended(window: CodeWindow | None, t: float) -> bool:
    """The window's last day is behind `t`: the code will never work again (a warning, not an error)."""
    return window is not None and window.valid_until is not None and window.valid_until.timestamp() <= t


def parse_window(raw: object, tz: tzinfo, *, keep_offset: bool = False) -> CodeWindow | None:
    """The API's and the CLI's `window` (a JSON object, or None for always); raises WindowError.
    Times are shown in `tz` (the hub's zone), unless `keep_offset` (the stored ones already are)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise WindowError("window", "an object with valid_from, valid_until, weekdays, hours; or null", "window_empty")
    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    if unknown:
        raise WindowError(f"window.{unknown[0][:MAX_TEXT]}", "unknown field", "window_unknown")
    window = CodeWindow(
        valid_from=_moment(raw.get("valid_from"), "valid_from", tz, keep_offset),
        valid_until=_moment(raw.get("valid_until"), "valid_until", tz, keep_offset),
        weekdays=parse_weekdays(raw.get("weekdays")),
        hours=parse_hours(raw.get("hours")),
    )
    if window == CodeWindow():
        raise WindowError(
            "window", "give valid_from, valid_until, weekdays or hours (null: always valid)", "window_empty"
        )
    if window.valid_from is not None and window.valid_until is not None and window.valid_until <= window.valid_from:
        raise WindowError("window.valid_until", "must be after valid_from", "window_order")
    return window


def _moment(raw: object, name: str, tz: tzinfo, keep_offset: bool = False) -> datetime | None:
    field = f"window.{name}"
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_TEXT:
        raise WindowError(field, ISO_HELP, "window_time")
    try:
        if _DATE.fullmatch(raw):
            day = date.fromisoformat(raw) + timedelta(days=1 if name == "valid_until" else 0)
            return datetime(day.year, day.month, day.day, tzinfo=tz)
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment if keep_offset else moment.astimezone(tz)
    except (ValueError, OverflowError):
        raise WindowError(field, ISO_HELP, "window_time") from None


def parse_weekdays(raw: object) -> tuple[Weekday, ...]:
    """A list of "mon".."sun", or (the CLI) text such as "tue", "mon-fri" or "sat,sun"; week order."""
    if raw is None or raw == "":
        return ()
    names: list[object]
    if isinstance(raw, str) and len(raw) <= MAX_TEXT:
        names = []
        for part in raw.lower().replace(" ", "").split(","):
            first, _, last = part.partition("-")
            if first in WEEKDAYS and last in WEEKDAYS:
                a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
                names += [WEEKDAYS[(a + i) % 7] for i in range((b - a) % 7 + 1)]
            else:
                names.append(part)
    elif isinstance(raw, list) and len(raw) <= len(WEEKDAYS):
        names = list(raw)
    else:
        raise WindowError("window.weekdays", f"a list of {', '.join(WEEKDAYS)}", "window_weekdays")
    bad = [n for n in names if n not in WEEKDAYS]
    if bad:
        raise WindowError(
            "window.weekdays", f"{str(bad[0])[:MAX_TEXT]!r} is not one of {', '.join(WEEKDAYS)}", "window_weekdays"
        )
    return tuple(d for d in WEEKDAYS if d in names)


def parse_hours(raw: object) -> tuple[int, int] | None:
    """ "09:00-12:00" (or "9-12"): start inclusive, end exclusive (24:00 at most); "00:00-24:00" is all day."""
    if raw is None or raw == "":
        return None
    match = _HOURS.fullmatch(raw) if isinstance(raw, str) and len(raw) <= MAX_TEXT else None
    if match is None:
        raise WindowError("window.hours", 'a span of the day, e.g. "09:00-12:00"', "window_hours")
    h1, m1, h2, m2 = (int(g or 0) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > DAY:
        raise WindowError("window.hours", "times from 00:00 to 24:00", "window_hours")
    if start == end:
        raise WindowError("window.hours", "the end must differ from the start", "window_hours")
    return start, end


def to_stored(window: CodeWindow | None) -> str | None:
    return None if window is None else json.dumps(window.as_json(), separators=(",", ":"))


def from_stored(text: str | None) -> CodeWindow | None:
    """The column `users.code_window` back (times carry their offset, so no zone is needed)."""
    if text is None:
        return None
    try:
        return parse_window(json.loads(text), UTC, keep_offset=True)
    except (ValueError, WindowError):
        return NEVER
