"""ReadingStream: state changes and health news overtake routine telemetry, each lane keeps
its order, readings put before the end are delivered, and an error ends every reader."""

from __future__ import annotations

import asyncio

import pytest

from drivers.base import DriverError, HealthReading, Reading, ReadingStream, SensorReading, is_routine


def sensor(address: str, active: bool = True) -> SensorReading:
    return SensorReading(address=address, kind="water", active=active, at=1.0)


def telemetry(address: str, battery: float = 90.0) -> HealthReading:
    return HealthReading(address=address, at=1.0, battery=battery, signal=-60)


async def collect(stream: ReadingStream) -> list[Reading]:
    return [r async for r in stream.readings()]


def test_only_pure_telemetry_is_routine() -> None:
    assert is_routine(telemetry("a"))
    assert not is_routine(sensor("a"))
    for news in ({"online": False}, {"tamper": True}, {"battery_low": True}):
        assert not is_routine(HealthReading(address="a", at=1.0, battery=10.0, **news))


async def test_an_alarm_overtakes_queued_telemetry_and_lanes_keep_their_order() -> None:
    stream = ReadingStream("test")
    backlog = [telemetry(f"t{n}", battery=n) for n in range(1000)]
    for reading in backlog[:500]:
        stream.put(reading)
    stream.put(sensor("door"))
    stream.put(HealthReading(address="siren", at=1.0, tamper=True))
    for reading in backlog[500:]:
        stream.put(reading)
    stream.put(sensor("door", active=False))
    assert stream.qsize() == 1003
    stream.end()
    got = await collect(stream)
    assert got[:3] == [sensor("door"), HealthReading(address="siren", at=1.0, tamper=True), sensor("door", False)]
    assert got[3:] == backlog


async def test_one_device_keeps_its_order_its_telemetry_goes_along_with_its_news() -> None:
    stream = ReadingStream("test")
    stream.put(telemetry("other", battery=1))
    stream.put(telemetry("door", battery=50))
    stream.put(telemetry("other", battery=2))
    stream.put(telemetry("door", battery=49))
    stream.put(sensor("door"))
    stream.put(telemetry("door", battery=48))
    stream.end()
    got = await collect(stream)
    # The door's waiting telemetry was coalesced to its newest value (issue 19), and goes along.
    assert got[:2] == [telemetry("door", battery=49), sensor("door")]
    # The rest: each device's newest telemetry.
    rest = got[2:]
    assert [r for r in rest if r.address == "other"] == [telemetry("other", battery=2)]
    assert [r for r in rest if r.address == "door"] == [telemetry("door", battery=48)]
    assert stream.qsize() == 0 and not stream._waiting  # the bookkeeping ends empty with the queue


async def test_a_waiting_reader_wakes_for_a_reading_and_for_the_end() -> None:
    stream = ReadingStream("test")
    reader = asyncio.create_task(collect(stream))
    await asyncio.sleep(0)
    stream.put(sensor("door"))
    await asyncio.sleep(0)
    stream.end()
    assert await asyncio.wait_for(reader, 5) == [sensor("door")]


async def test_an_error_ends_every_reader_after_what_was_queued() -> None:
    stream = ReadingStream("test")
    stream.put(telemetry("a"))
    stream.end(OSError("adapter gone"))
    stream.end()  # a second end changes nothing

    async def first_then_error() -> list[Reading]:
        got: list[Reading] = []
        with pytest.raises(DriverError, match="adapter gone"):
            async for reading in stream.readings():
                got.append(reading)
        return got

    assert await first_then_error() == [telemetry("a")]
    with pytest.raises(DriverError):
        await collect(stream)
