"""A temporary code's window (hub/store/code_window.py): from inclusive, until exclusive, weekdays
and hours on the hub's wall clock, across midnight and across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alarms.schedules import WEEKDAYS
from hub.store.code_window import (
    NEVER,
    CodeWindow,
    WindowError,
    ended,
    from_stored,
    inside,
    parse_hours,
    parse_weekdays,
    parse_window,
    to_stored,
)

ROME = ZoneInfo("Europe/Rome")
# Rome (DST at 02:00/03:00), New York (at 02:00 local), Lord Howe (a 30-minute DST step).
ZONES = [ROME, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]

zones = st.sampled_from(ZONES)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
spans = st.tuples(minutes, st.integers(min_value=1, max_value=24 * 60)).filter(lambda s: s[0] != s[1])
weekday_sets = st.sets(st.sampled_from(WEEKDAYS)).map(lambda s: tuple(d for d in WEEKDAYS if d in s))


def wall(day: date, minute: int, tz: ZoneInfo, fold: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz, fold=fold)


def exists(moment: datetime) -> bool:
    """False for a wall time in a spring-forward gap (it does not round-trip through UTC)."""
    back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None) == moment.replace(tzinfo=None)


# ---------------------------------------------------------------- valid_from / valid_until
@given(zones, st.integers(min_value=0, max_value=4_000_000_000), st.integers(min_value=1, max_value=10**8))
def test_from_is_inclusive_and_until_exclusive(tz: ZoneInfo, start: int, length: int) -> None:
    window = CodeWindow(datetime.fromtimestamp(start, tz), datetime.fromtimestamp(start + length, tz))
    assert inside(window, start, tz)
    assert inside(window, start + length - 0.001, tz)
    assert not inside(window, start - 0.001, tz)
    assert not inside(window, start + length, tz)
    assert ended(window, start + length) and not ended(window, start + length - 1)


@given(zones, days, st.integers(min_value=0, max_value=30))
def test_a_bare_date_means_whole_days_in_the_hub_zone(tz: ZoneInfo, first: date, extra: int) -> None:
    last = first + timedelta(days=extra)
    window = parse_window({"valid_from": first.isoformat(), "valid_until": last.isoformat()}, tz)
    assert window is not None
    start = wall(first, 0, tz).timestamp()
    end = wall(last + timedelta(days=1), 0, tz).timestamp()
    assert inside(window, start, tz) and inside(window, end - 1, tz)
    assert not inside(window, start - 1, tz) and not inside(window, end, tz)


def test_a_time_without_offset_is_the_hubs_local_time() -> None:
    window = parse_window({"valid_until": "2026-07-01T12:00"}, ROME)
    assert window is not None and window.as_json()["valid_until"] == "2026-07-01T12:00:00+02:00"
    window = parse_window({"valid_from": "2026-07-01T10:00:00Z"}, ROME)  # shown in the hub's zone
    assert window is not None and window.as_json()["valid_from"] == "2026-07-01T12:00:00+02:00"


# ---------------------------------------------------------------- weekdays and hours
@given(zones, days, spans, weekday_sets, minutes, st.integers(min_value=0, max_value=1))
def test_hours_and_weekdays_follow_the_wall_clock(
    tz: ZoneInfo, day: date, span: tuple[int, int], chosen: tuple[str, ...], minute: int, fold: int
) -> None:
    """At any existing wall time the answer is the definition read off that wall time, DST or not."""
    moment = wall(day, minute, tz, fold)
    if not exists(moment):
        return
    window = CodeWindow(weekdays=chosen, hours=span)  # type: ignore[arg-type]
    start, end = span
    today = WEEKDAYS[day.weekday()] in chosen or not chosen
    yesterday = WEEKDAYS[(day.weekday() - 1) % 7] in chosen or not chosen
    if start < end:
        expected = today and start <= minute < end
    else:
        expected = (today and minute >= start) or (yesterday and minute < end)
    assert inside(window, moment.timestamp(), tz) is expected


@given(zones, days, spans)
def test_the_end_of_the_hours_is_exclusive_and_the_start_inclusive(
    tz: ZoneInfo, day: date, span: tuple[int, int]
) -> None:
    start, end = span
    window = CodeWindow(hours=span)
    at_start = wall(day, start, tz)
    if exists(at_start):
        assert inside(window, at_start.timestamp(), tz)
    end_day = day if end > start else day + timedelta(days=1)
    at_end = wall(end_day + timedelta(days=end // (24 * 60)), end % (24 * 60), tz)
    all_day = end % (24 * 60) == start  # "00:00-24:00": the next day's window starts where this one ends
    if exists(at_end) and exists(at_end - timedelta(minutes=1)) and not all_day:
        assert not inside(window, at_end.timestamp(), tz)
        assert inside(window, at_end.timestamp() - 0.5, tz)


def test_a_span_across_midnight_belongs_to_the_day_it_starts() -> None:
    window = parse_window({"weekdays": ["fri"], "hours": "22:00-06:00"}, ROME)
    friday = date(2026, 12, 4)
    at = [
        (friday, 21 * 60 + 59, False),
        (friday, 22 * 60, True),
        (friday, 23 * 60 + 59, True),
        (friday + timedelta(days=1), 0, True),  # Saturday's midnight
        (friday + timedelta(days=1), 5 * 60 + 59, True),
        (friday + timedelta(days=1), 6 * 60, False),
        (friday + timedelta(days=1), 22 * 60, False),  # Saturday evening is not Friday's
        (friday - timedelta(days=1), 23 * 60, False),
        (friday, 3 * 60, False),  # Friday morning belongs to Thursday night
    ]
    assert [inside(window, wall(d, m, ROME).timestamp(), ROME) for d, m, _ in at] == [x for _, _, x in at]


def _inside_seconds(window: CodeWindow, day: date, tz: ZoneInfo) -> float:
    start = wall(day, 0, tz).timestamp()
    end = wall(day + timedelta(days=1), 0, tz).timestamp()
    return sum(60.0 for t in range(int(start), int(end), 60) if inside(window, t, tz))


def test_dst_days_keep_the_wall_clock() -> None:
    spring, autumn = date(2026, 3, 29), date(2026, 10, 25)  # Rome: 02:00 -> 03:00, 03:00 -> 02:00
    cleaner = CodeWindow(hours=(9 * 60, 12 * 60))
    assert _inside_seconds(cleaner, spring, ROME) == _inside_seconds(cleaner, autumn, ROME) == 3 * 3600
    night = CodeWindow(hours=(1 * 60, 4 * 60))
    assert _inside_seconds(night, spring, ROME) == 2 * 3600  # 02:00-03:00 does not exist
    assert _inside_seconds(night, autumn, ROME) == 4 * 3600  # 02:00-03:00 happens twice
    whole = CodeWindow(hours=(0, 24 * 60))
    assert _inside_seconds(whole, spring, ROME) == 23 * 3600


# ---------------------------------------------------------------- parsing and storage
@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("tuesday", "window"),
        ({}, "window"),
        ({"valid_from": "2026-12-10", "valid_until": "2026-12-09"}, "window.valid_until"),
        ({"valid_from": "2026-12-10T10:00", "valid_until": "2026-12-10T10:00"}, "window.valid_until"),
        ({"valid_from": "yesterday"}, "window.valid_from"),
        ({"valid_until": "2026-12-10T10:00" + "0" * 40}, "window.valid_until"),
        ({"valid_until": 1_800_000_000}, "window.valid_until"),
        ({"weekdays": ["martedì"]}, "window.weekdays"),
        ({"weekdays": ["mon"] * 8}, "window.weekdays"),
        ({"hours": "9-9"}, "window.hours"),
        ({"hours": "25:00-26:00"}, "window.hours"),
        ({"hours": "09:00-24:30"}, "window.hours"),
        ({"hours": "09:60-10:00"}, "window.hours"),
        ({"hours": ["09:00", "12:00"]}, "window.hours"),
        ({"hours": "09:00-12:00", "areas": ["casa"]}, "window.areas"),
    ],
)
def test_bad_windows_name_their_part(raw: object, field: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_window(raw, ROME)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")


def test_people_s_shorthands() -> None:
    assert parse_weekdays("mon-fri") == ("mon", "tue", "wed", "thu", "fri")
    assert parse_weekdays("sat-mon") == ("mon", "sat", "sun")  # a range may wrap the week
    assert parse_weekdays(["sun", "tue", "tue"]) == ("tue", "sun")
    assert parse_hours("9-12") == (9 * 60, 12 * 60) and parse_hours("00:00-24:00") == (0, 24 * 60)
    assert parse_window(None, ROME) is None


@given(
    st.one_of(st.none(), st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1))),
    weekday_sets,
    st.one_of(st.none(), spans),
)
def test_stored_windows_read_back_the_same(
    start: datetime | None, chosen: tuple[str, ...], span: tuple[int, int] | None
) -> None:
    valid_from = None if start is None else start.replace(microsecond=0, tzinfo=ROME)
    window = CodeWindow(valid_from, None if valid_from is None else valid_from + timedelta(days=7), chosen, span)  # type: ignore[arg-type]
    back = from_stored(to_stored(window))
    if window == CodeWindow():
        assert back == NEVER  # an empty window is never stored by the API; read back it would be refused
    else:
        assert back is not None and back.as_json() == window.as_json()


def test_an_unreadable_stored_window_never_opens() -> None:
    assert from_stored("{not json") == NEVER and not inside(NEVER, 1_800_000_000, ROME)
    assert from_stored(None) is None and inside(None, 0, ROME)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20,
)
PART = st.sampled_from(["2026-12-07", "0001-01-01", "9999-12-31", "2026-12-07T25:00", "9-12", "24:00-00:00", "٠٩-١٢"])


@given(
    JSON
    | st.dictionaries(st.sampled_from(["valid_from", "valid_until", "weekdays", "hours"]), JSON | PART, max_size=4),
    st.sampled_from(ZONES),
)
def test_any_json_is_a_window_or_a_window_error(raw: object, tz: ZoneInfo) -> None:
    """Whatever a client sends: a window, None, or WindowError naming its part; never another error."""
    try:
        window = parse_window(raw, tz)
    except WindowError as exc:
        assert exc.field == "window" or exc.field.startswith("window.")
        return
    assert window is None or from_stored(to_stored(window)) == window
    if window is not None:
        inside(window, 1_800_000_000, tz)
