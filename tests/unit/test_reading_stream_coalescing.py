"""ReadingStream under a flood (issue 19): routine telemetry is coalesced to the newest value per
device and field, the queue stays bounded by the number of addresses whatever the input rate,
state changes and health news are never dropped and keep their order, and what is shed is
counted (drivers/base.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import base
from drivers.base import HealthReading, Reading, ReadingStream, SensorReading, is_routine

ADDRESSES = [f"d{n}" for n in range(6)]

sensors = st.builds(
    SensorReading,
    address=st.sampled_from(ADDRESSES),
    kind=st.just("water"),
    active=st.booleans(),
    at=st.floats(0, 1e6),
)
news = st.builds(
    HealthReading,
    address=st.sampled_from(ADDRESSES),
    at=st.floats(0, 1e6),
    online=st.one_of(st.none(), st.booleans()),
    tamper=st.one_of(st.none(), st.booleans()),
    battery_low=st.booleans(),
)
telemetry = st.builds(
    HealthReading,
    address=st.sampled_from(ADDRESSES),
    at=st.floats(0, 1e6),
    battery=st.one_of(st.none(), st.floats(0, 100)),
    signal=st.one_of(st.none(), st.integers(-100, 0)),
)
readings = st.lists(st.one_of(sensors, news, telemetry, telemetry, telemetry), max_size=200)


def drain(stream: ReadingStream) -> list[Reading]:
    return stream.take_all()


@settings(max_examples=300, deadline=None)
@given(readings)
def test_urgent_readings_all_come_out_in_their_order(fed: list[Reading]) -> None:
    stream = ReadingStream("test")
    for reading in fed:
        stream.put(reading)
    got = drain(stream)
    assert [r for r in got if not is_routine(r)] == [r for r in fed if not is_routine(r)]


@settings(max_examples=300, deadline=None)
@given(readings, st.lists(st.integers(0, 5), max_size=20))
def test_the_queue_never_holds_more_telemetry_than_addresses(fed: list[Reading], reads: list[int]) -> None:
    """Readers take some readings now and then: the routine lane still holds one per address."""
    stream = ReadingStream("test")
    urgent_waiting = 0
    taken: list[Reading] = []
    for n, reading in enumerate(fed):
        stream.put(reading)
        urgent_waiting += not is_routine(reading)
        if reads and n % 7 == 0:
            for _ in range(reads[n % len(reads)]):
                if (one := stream._next()) is not None:
                    taken.append(one)
                    urgent_waiting -= not is_routine(one)
        assert len(stream._waiting) <= len(ADDRESSES)
        assert stream.qsize() <= len(ADDRESSES) * 2 + urgent_waiting  # taken along + waiting
    taken += drain(stream)
    assert [r for r in taken if not is_routine(r)] == [r for r in fed if not is_routine(r)]


@settings(max_examples=300, deadline=None)
@given(readings)
def test_the_hub_ends_with_each_devices_newest_battery_and_signal(fed: list[Reading]) -> None:
    stream = ReadingStream("test")
    for reading in fed:
        stream.put(reading)
    got = drain(stream)
    for field in ("battery", "signal"):
        fed_last: dict[str, object] = {}
        for r in fed:
            if isinstance(r, HealthReading) and is_routine(r) and getattr(r, field) is not None:
                fed_last[r.address] = getattr(r, field)
        got_last: dict[str, object] = {}
        for r in got:
            if isinstance(r, HealthReading) and is_routine(r) and getattr(r, field) is not None:
                got_last[r.address] = getattr(r, field)
        assert got_last == fed_last


@settings(max_examples=200, deadline=None)
@given(readings)
def test_one_devices_readings_keep_their_order(fed: list[Reading]) -> None:
    """Per device, what comes out is what went in, each run of telemetry between two pieces of
    news shortened to its newest reading: telemetry is never moved past the device's news."""
    stream = ReadingStream("test")
    for reading in fed:
        stream.put(reading)
    got = drain(stream)
    for address in ADDRESSES:
        mine = [r for r in got if r.address == address]
        news_positions = [n for n, r in enumerate(mine) if not is_routine(r)]
        # between two pieces of news at most one telemetry reading, never two
        for before, after in zip([-1, *news_positions], [*news_positions, len(mine)], strict=True):
            assert after - before - 1 <= 1
        ats_fed = [r.at for r in fed if r.address == address and not is_routine(r)]
        assert [r.at for r in mine if not is_routine(r)] == ats_fed


def test_a_flood_is_counted_as_shed_and_bounded() -> None:
    stream = ReadingStream("flood")
    before = dict(base.TELEMETRY_SHED)
    for n in range(10_000):
        stream.put(HealthReading(address=f"d{n % 100}", at=float(n), battery=float(n % 100), signal=-n % 90))
    stream.put(SensorReading(address="door", kind="contact", active=True, at=1.0))
    assert stream.qsize() == 101
    assert base.TELEMETRY_SHED["flood", "coalesced"] - before.get(("flood", "coalesced"), 0) == 9_900
    assert stream._next() == SensorReading(address="door", kind="contact", active=True, at=1.0)


def test_past_the_address_limit_new_addresses_are_shed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "ROUTINE_ADDRESSES", 3)
    stream = ReadingStream("street")
    before = base.TELEMETRY_SHED["street", "full"]
    for n in range(5):
        stream.put(HealthReading(address=f"n{n}", at=1.0, battery=50.0))
    stream.put(HealthReading(address="n9", at=1.0, tamper=True))  # news is never refused
    assert stream.qsize() == 4
    assert base.TELEMETRY_SHED["street", "full"] - before == 2


def test_a_battery_alone_keeps_the_waiting_signal() -> None:
    stream = ReadingStream("test")
    stream.put(HealthReading(address="a", at=1.0, battery=80.0, signal=-70))
    stream.put(HealthReading(address="a", at=2.0, battery=79.0))
    assert stream.take_all() == [HealthReading(address="a", at=2.0, battery=79.0, signal=-70)]
