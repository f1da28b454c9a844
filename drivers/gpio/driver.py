"""Wired dry contacts (door contacts, PIRs with relay outputs, panic buttons, leak probes) on GPIO lines.

Theory of operation. Each configured line is one device (address `line<N>@<chip>`, the
kind from the config) whose zone is active or not according to the line's level. The
levels come from an `EdgeSource`: `LibgpiodEdgeSource` requests the lines through
libgpiod v2 as inputs with edge detection on both edges, the configured bias and the
kernel's debounce; tests use a fake one. The driver reads every line's level at start and
reports it (`online=True` and the zone's state), then reports each debounced change.

How a level maps to a zone (the wiring the `pull` option assumes):

    pull    wiring                                contact closed   contact open
    "up"    contact between the line and GND      low (0)          high (1, pulled up)
    "down"  contact between the line and 3V3      high (1)         low (0, pulled down)
    "none"  external pull-up, contact to GND      low (0)          high (1)

    contact = "no" (normally open)   -> the zone is active while the contact is CLOSED
    contact = "nc" (normally closed) -> the zone is active while the contact is OPEN
                                        (a cut wire then reads as an alarm, which is why
                                        door contacts and tamper loops are wired NC)

Debounce. A mechanical contact bounces for a few milliseconds. The kernel debounces when
the line request accepts a `debounce_period` (gpiolib's cdev does it in software for
chips without hardware debounce); when it does not, the driver does: a new level is
accepted once no other edge has come for `debounce_ms` (default 50) after the last edge;
a burst that ends at the old level reports nothing.

The event source failing (the chip went away) is a fault: every line reports
`online=False`, and the driver reopens the source with backoff. Opening it at start is
not retried: a wrong chip or a line in use is an installer's mistake, and `__aenter__`
raises DriverError saying so. Wired lines send no heartbeat: `expected_interval` is None.

Options: `chip` (default "/dev/gpiochip0"), `lines` = [{line, name, kind, contact = "no",
pull = "up", room, behaviour, home}], `debounce_ms` (default 50). `behaviour` and `home`
are kept on `GpioDriver.lines` for the hub to seed the zones. A `type` key equal to
"gpio" is tolerated, so the hub may pass a whole `[[drivers]]` table.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self, cast

from alarms.model import BEHAVIOURS, ZONE_KINDS, Behaviour, ZoneKind
from drivers import gpio
from drivers.base import (
    DriverContext,
    DriverError,
    FixedDevice,
    FixedTargetDriver,
    HealthReading,
    Reading,
    ReadingStream,
    SensorReading,
)

__all__ = [
    "EdgeSource",
    "EdgeSourceFactory",
    "GpioDriver",
    "GpioLine",
    "LibgpiodEdgeSource",
    "LineDebounce",
]

log = logging.getLogger("drivers.gpio")  # one logger per driver, as [log] levels name it

Contact = Literal["no", "nc"]
Pull = Literal["up", "down", "none"]

_OPTIONS = ("chip", "lines", "debounce_ms")
_LINE_KEYS = ("line", "name", "kind", "contact", "pull", "room", "behaviour", "home")
_PULLS: dict[str, Pull] = {
    "up": "up",
    "pull-up": "up",
    "pull_up": "up",
    "down": "down",
    "pull-down": "down",
    "pull_down": "down",
    "none": "none",
    "disabled": "none",
    "off": "none",
}
_DEFAULT_CHIP = "/dev/gpiochip0"
_DEFAULT_DEBOUNCE_MS = 50
# Reopening backoff (s). `_run` reads both on the package, drivers.gpio, which re-exports them:
# that is where tests shorten it.
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0
_CLOCK_SLACK = 1.0  # s: an edge stamped further from our monotonic clock than this is stamped "now"


@dataclass(frozen=True)
class GpioLine:
    """One configured line: `level` True is electrically high."""

    line: int
    name: str
    kind: ZoneKind
    contact: Contact = "no"
    pull: Pull = "up"
    room: str = ""
    behaviour: Behaviour | None = None
    home: bool | None = None

    @property
    def closed_level(self) -> bool:
        """The level the line reads while its contact is closed (see the module docstring's table)."""
        return self.pull == "down"

    def active(self, level: bool) -> bool:
        """Whether the zone is active at this electrical level."""
        closed = level == self.closed_level
        return closed if self.contact == "no" else not closed


# --------------------------------------------------------------------------- the edge source


class EdgeSource(Protocol):
    """Where levels come from. Used as `async with source:`; `debounced` True when the kernel debounces."""

    debounced: bool

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def initial_levels(self) -> Mapping[int, bool]:
        """The current level of every requested line (True = high)."""
        ...

    def events(self) -> AsyncIterator[tuple[int, bool, float]]:
        """Edges as (line, level after the edge, time.monotonic() seconds); raises OSError if the source fails."""
        ...


# (chip, lines, kernel debounce in seconds) -> an unopened EdgeSource
EdgeSourceFactory = Callable[[str, Sequence[GpioLine], float], EdgeSource]


class LibgpiodEdgeSource:
    """The lines requested through libgpiod v2 (`gpiod` >= 2.0), read on the event loop via the request's fd."""

    def __init__(self, chip: str, lines: Sequence[GpioLine], debounce: float, consumer: str = "casahub") -> None:
        self.chip = chip
        self.lines = tuple(lines)
        self.debounce = debounce
        self.consumer = consumer
        self.debounced = False
        self._request: Any = None
        self._queue: asyncio.Queue[tuple[int, bool, float] | BaseException] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        try:
            import gpiod
        except ImportError as exc:
            raise DriverError("gpio driver: the gpiod package is missing; pip install 'gpiod>=2.2'") from exc
        self._request = self._open(gpiod, with_debounce=self.debounce > 0)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._request.fd, self._readable)
        return self

    def _open(self, gpiod: Any, *, with_debounce: bool) -> Any:
        from datetime import timedelta

        from gpiod.line import Bias, Clock, Direction, Edge

        bias = {"up": Bias.PULL_UP, "down": Bias.PULL_DOWN, "none": Bias.DISABLED}
        config: dict[Any, Any] = {
            line.line: gpiod.LineSettings(
                direction=Direction.INPUT,
                edge_detection=Edge.BOTH,
                bias=bias[line.pull],
                debounce_period=timedelta(seconds=self.debounce if with_debounce else 0),
                event_clock=Clock.MONOTONIC,
            )
            for line in self.lines
        }
        try:
            request = gpiod.request_lines(self.chip, config=config, consumer=self.consumer)
        except OSError as exc:
            if with_debounce and not isinstance(exc, FileNotFoundError | PermissionError):
                log.info("gpio: %s refused a debounce period (%s); debouncing in the driver", self.chip, exc)
                return self._open(gpiod, with_debounce=False)
            raise DriverError(
                f"gpio driver: cannot request lines {[line.line for line in self.lines]} on {self.chip}: {exc}; "
                "check the chip path (`gpiodetect`), that no other program holds the lines (`gpioinfo`), "
                "and that the user is in the `gpio` group"
            ) from exc
        self.debounced = with_debounce
        return request

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        request, self._request = self._request, None
        if request is None:
            return
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(request.fd)
        with contextlib.suppress(Exception):
            request.release()

    def initial_levels(self) -> Mapping[int, bool]:
        from gpiod.line import Value

        offsets = [line.line for line in self.lines]
        values = self._request.get_values(offsets)
        return {offset: value == Value.ACTIVE for offset, value in zip(offsets, values, strict=True)}

    def _readable(self) -> None:
        from gpiod.edge_event import EdgeEvent

        try:
            for event in self._request.read_edge_events():
                level = event.event_type == EdgeEvent.Type.RISING_EDGE
                self._queue.put_nowait((event.line_offset, level, event.timestamp_ns / 1e9))
        except Exception as exc:  # the chip went away: hand the error to events() and stop reading
            if self._loop is not None and self._request is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._request.fd)
            self._queue.put_nowait(exc if isinstance(exc, OSError) else OSError(str(exc)))

    async def events(self) -> AsyncIterator[tuple[int, bool, float]]:
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item


# --------------------------------------------------------------------------- debounce (pure)


class LineDebounce:
    """Per-line software debounce: a level counts once it has held `period` seconds after its last edge.

    `edge(line, level, at)` records an edge (at: monotonic seconds); `due(now)` returns the
    (line, level) changes whose quiet time has passed, each only if it differs from the
    line's stable level; `next_deadline()` says when to call `due` next. A period of 0
    accepts every edge at once (the kernel already debounced).
    """

    def __init__(self, period: float, levels: Mapping[int, bool]) -> None:
        self.period = period
        self.stable: dict[int, bool] = dict(levels)
        self._pending: dict[int, tuple[bool, float]] = {}

    def edge(self, line: int, level: bool, at: float) -> None:
        if line in self.stable:
            self._pending[line] = (level, at + self.period)

    def due(self, now: float) -> list[tuple[int, bool]]:
        changes: list[tuple[int, bool]] = []
        for line, (level, deadline) in list(self._pending.items()):
            if deadline <= now:
                del self._pending[line]
                if self.stable[line] != level:
                    self.stable[line] = level
                    changes.append((line, level))
        return changes

    def next_deadline(self) -> float | None:
        return min((deadline for _, deadline in self._pending.values()), default=None)


# --------------------------------------------------------------------------- the driver


class _SourceEnded(Exception):
    """The edge source's event stream ended while the driver was running."""


class GpioDriver(FixedTargetDriver):
    """Dry contacts on GPIO lines; one device per configured line."""

    type: ClassVar[str] = "gpio"

    def __init__(
        self,
        options: Mapping[str, Any],
        context: DriverContext,
        *,
        edge_source: EdgeSourceFactory | None = None,
    ) -> None:
        for key in options:
            if key == "type":
                if options[key] != self.type:
                    raise DriverError(f"gpio driver given option type = {options[key]!r}")
            elif key not in _OPTIONS:
                raise DriverError(f"gpio driver: unknown option {key!r}; known options: {', '.join(_OPTIONS)}")
        chip = options.get("chip", _DEFAULT_CHIP)
        if not isinstance(chip, str) or not chip.strip():
            raise DriverError(f"gpio driver: option 'chip' must be a GPIO chip path like /dev/gpiochip0, got {chip!r}")
        self.chip = chip
        self.lines = _parse_lines(options.get("lines"))
        debounce_ms = options.get("debounce_ms", _DEFAULT_DEBOUNCE_MS)
        if (
            isinstance(debounce_ms, bool)
            or not isinstance(debounce_ms, int | float)
            or not math.isfinite(debounce_ms)
            or not 0 <= debounce_ms <= 10_000
        ):
            raise DriverError(f"gpio driver: option 'debounce_ms' must be 0-10000 milliseconds, got {debounce_ms!r}")
        self.debounce = float(debounce_ms) / 1000
        self._factory: EdgeSourceFactory = edge_source or LibgpiodEdgeSource
        self._by_line = {line.line: line for line in self.lines}
        self._context = context
        self._stream = ReadingStream(self.type)
        self._task: asyncio.Task[None] | None = None
        self._online: bool | None = None
        self._state = "new"

    def address(self, line: GpioLine) -> str:
        return f"line{line.line}@{self.chip}"

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a GpioDriver runs once; create a new one to start again")
        try:
            source = self._factory(self.chip, self.lines, self.debounce)
            await source.__aenter__()
        except DriverError:
            raise
        except Exception as exc:
            raise DriverError(f"gpio driver: cannot open {self.chip}: {exc}") from exc
        self._state = "running"
        self._task = asyncio.create_task(self._run(source), name="gpio-edges")
        return self

    # ------------------------------------------------------------------ the Driver protocol

    def fixed_devices(self) -> list[FixedDevice]:
        return [
            FixedDevice(
                address=self.address(line), name=line.name, model="GPIO dry contact", kinds=(line.kind,), room=line.room
            )
            for line in self.lines
        ]

    def expected_interval(self, address: str) -> float | None:
        return None  # wired: no heartbeat; a cut NC loop reads as open

    # ------------------------------------------------------------------ running

    async def _run(self, source: EdgeSource) -> None:
        backoff = gpio._BACKOFF_FIRST
        while True:
            try:
                await self._watch(source)
            except Exception as exc:
                log.error("gpio: %s failed: %s; lines %s are offline", self.chip, exc, [x.line for x in self.lines])
            finally:
                with contextlib.suppress(Exception):
                    await source.__aexit__(None, None, None)
            self._set_online(False)
            while True:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, gpio._BACKOFF_MAX)
                source = self._factory(self.chip, self.lines, self.debounce)
                try:
                    await source.__aenter__()
                except Exception as exc:
                    log.warning("gpio: reopening %s failed: %s", self.chip, exc)
                    continue
                backoff = gpio._BACKOFF_FIRST
                break

    async def _watch(self, source: EdgeSource) -> None:
        levels = source.initial_levels()
        missing = [line.line for line in self.lines if line.line not in levels]
        if missing:
            raise OSError(f"the edge source gave no level for lines {missing}")
        debounce = LineDebounce(0.0 if source.debounced else self.debounce, levels)
        self._set_online(True)
        at = self._context.clock()
        for line in self.lines:
            self._emit(
                SensorReading(address=self.address(line), kind=line.kind, active=line.active(levels[line.line]), at=at)
            )

        edges: asyncio.Queue[tuple[int, bool, float] | BaseException] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for edge in source.events():
                    edges.put_nowait(edge)
                edges.put_nowait(_SourceEnded("the edge source stopped"))
            except Exception as exc:
                edges.put_nowait(exc)

        pump_task = asyncio.create_task(pump(), name="gpio-edge-pump")
        try:
            while True:
                deadline = debounce.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    item = await asyncio.wait_for(edges.get(), timeout)
                except TimeoutError:
                    item = None
                if isinstance(item, BaseException):
                    raise item
                now = time.monotonic()
                if item is not None:
                    number, level, stamp = item
                    if number in self._by_line:
                        # Trust the kernel's timestamp unless it is from another clock.
                        debounce.edge(number, bool(level), stamp if abs(now - stamp) <= _CLOCK_SLACK else now)
                for number, level in debounce.due(now):
                    line = self._by_line[number]
                    self._emit(
                        SensorReading(
                            address=self.address(line),
                            kind=line.kind,
                            active=line.active(level),
                            at=self._context.clock(),
                        )
                    )
        finally:
            pump_task.cancel()
            await asyncio.gather(pump_task, return_exceptions=True)

    def _set_online(self, online: bool) -> None:
        if self._online == online:
            return
        self._online = online
        at = self._context.clock()
        for line in self.lines:
            self._emit(HealthReading(address=self.address(line), at=at, online=online))

    def _emit(self, reading: Reading) -> None:
        self._stream.put(reading)


# --------------------------------------------------------------------------- options


def _parse_lines(value: Any) -> tuple[GpioLine, ...]:
    if not isinstance(value, list | tuple) or not value or not all(isinstance(item, Mapping) for item in value):
        raise DriverError("gpio driver: option 'lines' must be a non-empty array of tables [{line, name, kind}, ...]")
    lines: list[GpioLine] = []
    seen: set[int] = set()
    for index, item in enumerate(value):
        where = f"gpio driver: lines[{index}]"
        unknown = [key for key in item if key not in _LINE_KEYS]
        if unknown:
            raise DriverError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(_LINE_KEYS)}")
        number = item.get("line")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise DriverError(f"{where}: 'line' must be a line offset (0, 1, ...), got {number!r}")
        if number in seen:
            raise DriverError(f"{where}: line {number} is configured twice")
        seen.add(number)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DriverError(f"{where}: 'name' must be a non-empty string, got {name!r}")
        kind = item.get("kind")
        if kind not in ZONE_KINDS:
            raise DriverError(f"{where}: 'kind' must be one of {', '.join(ZONE_KINDS)}, got {kind!r}")
        contact = item.get("contact", "no")
        if contact not in ("no", "nc"):
            raise DriverError(f'{where}: \'contact\' must be "no" (normally open) or "nc" (normally closed)')
        pull = item.get("pull", "up")
        if not isinstance(pull, str) or pull.lower() not in _PULLS:
            raise DriverError(f'{where}: \'pull\' must be "up", "down" or "none", got {pull!r}')
        room = item.get("room", "")
        if not isinstance(room, str):
            raise DriverError(f"{where}: 'room' must be a string, got {room!r}")
        behaviour = item.get("behaviour")
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise DriverError(f"{where}: 'behaviour' must be one of {', '.join(BEHAVIOURS)}, got {behaviour!r}")
        home = item.get("home")
        if home is not None and not isinstance(home, bool):
            raise DriverError(f"{where}: 'home' must be true or false, got {home!r}")
        lines.append(
            GpioLine(
                line=number,
                name=name.strip(),
                kind=cast(ZoneKind, kind),
                contact=cast(Contact, contact),
                pull=_PULLS[pull.lower()],
                room=room,
                behaviour=cast("Behaviour | None", behaviour),
                home=home,
            )
        )
    return tuple(lines)
