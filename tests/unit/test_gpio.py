"""drivers.gpio with a fake edge source (no gpio-sim kernel module on the test machines)."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import pytest

from drivers.base import DriverContext, DriverError, HealthReading, Reading, SensorReading
from drivers.gpio import GpioDriver, GpioLine, LibgpiodEdgeSource, LineDebounce
from tests.peers import wait_until

CHIP = "/dev/gpiochip0"


class FakeEdgeSource:
    """An EdgeSource whose levels the test sets; edges are stamped with time.monotonic()."""

    def __init__(self, levels: Mapping[int, bool], *, debounced: bool = False) -> None:
        self.levels = dict(levels)
        self.debounced = debounced
        self.opened = 0
        self.closed = 0
        self.requested: tuple[str, tuple[GpioLine, ...], float] | None = None
        self._edges: asyncio.Queue[tuple[int, bool, float] | BaseException] = asyncio.Queue()

    def factory(self, chip: str, lines: Sequence[GpioLine], debounce: float) -> Self:
        self.requested = (chip, tuple(lines), debounce)
        return self

    async def __aenter__(self) -> Self:
        self.opened += 1
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed += 1

    def initial_levels(self) -> Mapping[int, bool]:
        return dict(self.levels)

    async def events(self) -> AsyncIterator[tuple[int, bool, float]]:
        while True:
            item = await self._edges.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def set(self, line: int, level: bool) -> None:
        """The line's level changes (one edge)."""
        self.levels[line] = level
        self._edges.put_nowait((line, level, time.monotonic()))

    def fail(self, error: BaseException) -> None:
        self._edges.put_nowait(error)


class Run:
    def __init__(self, driver: GpioDriver) -> None:
        self.driver = driver
        self.readings: list[Reading] = []

    def states(self, line: int) -> list[bool]:
        address = f"line{line}@{CHIP}"
        return [r.active for r in self.readings if isinstance(r, SensorReading) and r.address == address]

    def health(self, line: int) -> list[bool | None]:
        address = f"line{line}@{CHIP}"
        return [r.online for r in self.readings if isinstance(r, HealthReading) and r.address == address]


@contextlib.asynccontextmanager
async def running(source: FakeEdgeSource, lines: list[dict[str, Any]], **options: Any) -> AsyncIterator[Run]:
    driver = GpioDriver({"chip": CHIP, "lines": lines, **options}, DriverContext(), edge_source=source.factory)
    async with driver:
        run = Run(driver)

        async def pump() -> None:
            async for reading in driver.readings():
                run.readings.append(reading)

        task = asyncio.create_task(pump())
        try:
            await wait_until(lambda: len(run.readings) >= 2 * len(lines), what="the initial readings")
            yield run
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def line(n: int, kind: str = "contact", **extra: Any) -> dict[str, Any]:
    return {"line": n, "name": f"Line {n}", "kind": kind, **extra}


# --------------------------------------------------------------------------- level -> zone


@pytest.mark.parametrize(
    ("pull", "contact", "level", "active"),
    [
        # pull-up, contact to GND: closed reads low
        ("up", "no", False, True),
        ("up", "no", True, False),
        ("up", "nc", False, False),
        ("up", "nc", True, True),
        # pull-down, contact to 3V3: closed reads high
        ("down", "no", True, True),
        ("down", "no", False, False),
        ("down", "nc", True, False),
        ("down", "nc", False, True),
        # no internal bias: an external pull-up, contact to GND
        ("none", "no", False, True),
        ("none", "nc", True, True),
    ],
)
def test_level_to_zone(pull: str, contact: str, level: bool, active: bool) -> None:
    assert GpioLine(line=1, name="x", kind="contact", contact=contact, pull=pull).active(level) is active  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the driver


async def test_initial_state_is_read_and_reported() -> None:
    source = FakeEdgeSource({4: True, 17: False, 27: True})
    lines = [line(4, contact="nc"), line(17, "panic"), line(27, "water", pull="down")]
    async with running(source, lines) as run:
        assert run.health(4) == [True] and run.health(17) == [True] and run.health(27) == [True]
        assert run.states(4) == [True]  # NC, pulled up, high: the contact is open -> active
        assert run.states(17) == [True]  # NO, pulled up, low: the button is pressed -> active
        assert run.states(27) == [True]  # NO, pulled down, high: the probe is closed -> active
        kinds = {r.address: r.kind for r in run.readings if isinstance(r, SensorReading)}
        assert kinds == {f"line4@{CHIP}": "contact", f"line17@{CHIP}": "panic", f"line27@{CHIP}": "water"}
    assert source.opened == 1 and source.closed == 1


async def test_normally_closed_door_opens_and_closes() -> None:
    source = FakeEdgeSource({4: False})
    async with running(source, [line(4, contact="nc")], debounce_ms=20) as run:
        assert run.states(4) == [False]
        source.set(4, True)  # the door opens: the loop opens, the pull-up lifts the line
        await wait_until(lambda: run.states(4) == [False, True], what="door open")
        source.set(4, False)
        await wait_until(lambda: run.states(4) == [False, True, False], what="door closed")


async def test_normally_open_button_with_pull_down() -> None:
    source = FakeEdgeSource({5: False})
    async with running(source, [line(5, "panic", pull="down")], debounce_ms=10) as run:
        assert run.states(5) == [False]
        source.set(5, True)
        await wait_until(lambda: run.states(5) == [False, True], what="pressed")


async def test_bouncing_edges_give_one_change() -> None:
    source = FakeEdgeSource({4: True})
    async with running(source, [line(4, contact="nc")], debounce_ms=80) as run:
        for level in (False, True, False, True, False):  # a contact bouncing as it closes
            source.set(4, level)
            await asyncio.sleep(0.005)
        await wait_until(lambda: run.states(4) == [True, False], what="the settled level")
        await asyncio.sleep(0.2)
        assert run.states(4) == [True, False]


async def test_a_bounce_back_to_the_stable_level_reports_nothing() -> None:
    source = FakeEdgeSource({4: False})
    async with running(source, [line(4, contact="nc")], debounce_ms=80) as run:
        source.set(4, True)
        await asyncio.sleep(0.01)
        source.set(4, False)  # a knock on the door frame: back before the debounce
        await asyncio.sleep(0.25)
        assert run.states(4) == [False]


async def test_kernel_debounced_edges_are_taken_at_once() -> None:
    source = FakeEdgeSource({4: False}, debounced=True)
    async with running(source, [line(4, contact="nc")], debounce_ms=10_000) as run:
        source.set(4, True)
        await wait_until(lambda: run.states(4) == [False, True], timeout=2, what="an undelayed change")
    assert source.requested is not None and source.requested[2] == 10.0


async def test_edges_on_lines_not_configured_are_ignored() -> None:
    source = FakeEdgeSource({4: False})
    async with running(source, [line(4)], debounce_ms=10) as run:
        source.set(9, True)
        await asyncio.sleep(0.1)
        assert len(run.readings) == 2


async def test_a_failing_source_is_a_fault_and_is_reopened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drivers.gpio._BACKOFF_FIRST", 0.05)
    source = FakeEdgeSource({4: False})
    async with running(source, [line(4, contact="nc")], debounce_ms=10) as run:
        source.fail(OSError(19, "No such device"))
        await wait_until(lambda: run.health(4) == [True, False], what="offline")
        assert run.states(4) == [False], "a fault is never an alarm"
        source.levels[4] = True  # the door was opened while the chip was away
        await wait_until(lambda: run.health(4) == [True, False, True], what="back online")
        await wait_until(lambda: run.states(4) == [False, True], what="the real state after recovery")
    assert source.opened == 2


async def test_readings_end_when_the_driver_stops() -> None:
    source = FakeEdgeSource({4: False})
    driver = GpioDriver({"lines": [line(4)]}, DriverContext(), edge_source=source.factory)
    async with driver:
        stream = driver.readings()
        assert isinstance(await anext(stream), HealthReading)
    rest = [r async for r in stream]
    assert len(rest) == 1 and isinstance(rest[0], SensorReading)


def test_fixed_devices_and_options() -> None:
    driver = GpioDriver(
        {
            "type": "gpio",
            "chip": "/dev/gpiochip4",
            "lines": [
                {
                    "line": 17,
                    "name": "Porta",
                    "kind": "contact",
                    "contact": "nc",
                    "room": "Ingresso",
                    "behaviour": "entry",
                },
                {"line": 27, "name": "Panico", "kind": "panic", "pull": "pull-down", "home": True},
            ],
        },
        DriverContext(),
    )
    devices = driver.fixed_devices()
    assert [(d.address, d.name, d.kinds, d.room) for d in devices] == [
        ("line17@/dev/gpiochip4", "Porta", ("contact",), "Ingresso"),
        ("line27@/dev/gpiochip4", "Panico", ("panic",), ""),
    ]
    assert driver.lines[0].behaviour == "entry" and driver.lines[1].pull == "down" and driver.lines[1].home is True
    assert driver.debounce == 0.05
    assert driver.expected_interval("line17@/dev/gpiochip4") is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "'lines'"),
        ({"lines": []}, "'lines'"),
        ({"lines": [{"line": -1, "name": "x", "kind": "contact"}]}, "'line'"),
        ({"lines": [line(1), line(1)]}, "twice"),
        ({"lines": [{"line": 1, "kind": "contact"}]}, "'name'"),
        ({"lines": [line(1, "doorbell")]}, "'kind'"),
        ({"lines": [line(1, contact="yes")]}, "'contact'"),
        ({"lines": [line(1, pull="sideways")]}, "'pull'"),
        ({"lines": [line(1, colour="red")]}, "colour"),
        ({"lines": [line(1)], "debounce_ms": -5}, "debounce_ms"),
        ({"lines": [line(1)], "chip": ""}, "'chip'"),
        ({"lines": [line(1)], "speed": 3}, "speed"),
        ({"lines": [line(1)], "type": "nut"}, "type"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DriverError, match=message):
        GpioDriver(options, DriverContext())


async def test_a_missing_chip_fails_start_with_a_clear_message() -> None:
    driver = GpioDriver({"chip": "/dev/gpiochip-does-not-exist", "lines": [line(4)]}, DriverContext())
    with pytest.raises(DriverError, match="gpiodetect"):
        async with driver:
            pass


async def test_libgpiod_source_reports_the_missing_chip() -> None:
    source = LibgpiodEdgeSource("/dev/gpiochip-does-not-exist", [GpioLine(line=4, name="x", kind="contact")], 0.05)
    with pytest.raises(DriverError, match="gpiochip-does-not-exist"):
        await source.__aenter__()


# --------------------------------------------------------------------------- the pure debounce


def test_line_debounce_waits_for_quiet() -> None:
    d = LineDebounce(0.05, {1: False, 2: True})
    d.edge(1, True, 10.00)
    d.edge(1, False, 10.01)
    d.edge(1, True, 10.02)
    assert d.next_deadline() == pytest.approx(10.07)
    assert d.due(10.06) == []
    assert d.due(10.07) == [(1, True)]
    assert d.next_deadline() is None
    d.edge(2, False, 11.0)
    d.edge(2, True, 11.01)
    assert d.due(12.0) == []  # back to the stable level
    d.edge(3, True, 12.0)  # not a known line
    assert d.next_deadline() is None


def test_line_debounce_zero_period() -> None:
    d = LineDebounce(0.0, {1: False})
    d.edge(1, True, 5.0)
    assert d.due(5.0) == [(1, True)]
