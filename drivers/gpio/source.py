"""Where line levels come from, and where output lines are driven: the `EdgeSource` and
`OutputLines` seams, and their libgpiod v2 implementations."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from drivers.base import DriverError
from drivers.gpio.options import GpioLine

__all__ = [
    "EdgeSource",
    "EdgeSourceFactory",
    "LibgpiodEdgeSource",
    "LibgpiodOutputLines",
    "OutputLines",
    "OutputLinesFactory",
]

log = logging.getLogger("drivers.gpio")  # one logger per driver, as [log] levels name it


def request_failed(what: str, chip: str, exc: OSError) -> DriverError:
    """The kernel refused lines (input or output): what to check, in the installer's words."""
    return DriverError(
        f"gpio driver: cannot request {what} on {chip}: {exc}; "
        "check the chip path (`gpiodetect`), that no other program holds the lines (`gpioinfo`), "
        "and that the user is in the `gpio` group"
    )


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


class OutputLines(Protocol):
    """Output lines, requested as outputs by `async with lines:`; levels are electrical (True = high).

    Opening drives every line to its inactive level, except a valve's line that is already an
    output, which keeps its level: a valve closed on a leak stays closed across a hub restart.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def get(self, line: int) -> bool:
        """The level the line is driven to now; raises OSError if the chip is gone."""
        ...

    def set(self, line: int, level: bool) -> None:
        """Drive the line to `level`; raises OSError if the chip is gone."""
        ...


# (chip, output lines) -> unopened OutputLines
OutputLinesFactory = Callable[[str, Sequence[GpioLine]], OutputLines]


class LibgpiodOutputLines:
    """Output lines requested through libgpiod v2 (`gpiod` >= 2.0), push-pull, active high
    electrically (the line's `active` is applied by the driver)."""

    def __init__(self, chip: str, lines: Sequence[GpioLine], consumer: str = "casahub") -> None:
        self.chip = chip
        self.lines = tuple(lines)
        self.consumer = consumer
        self._request: Any = None

    async def __aenter__(self) -> Self:
        try:
            import gpiod
        except ImportError as exc:
            raise DriverError("gpio driver: the gpiod package is missing; pip install 'gpiod>=2.2'") from exc
        from gpiod.line import Direction, Value

        offsets = [line.line for line in self.lines]
        try:
            with gpiod.Chip(self.chip) as chip:
                kept = {
                    line.line
                    for line in self.lines
                    if line.output == "valve" and chip.get_line_info(line.line).direction == Direction.OUTPUT
                }
            config: dict[Any, Any] = {
                line.line: gpiod.LineSettings(direction=Direction.AS_IS)
                if line.line in kept
                else gpiod.LineSettings(
                    direction=Direction.OUTPUT,
                    output_value=Value.ACTIVE if line.level_for(False) else Value.INACTIVE,
                )
                for line in self.lines
            }
            request = gpiod.request_lines(self.chip, config=config, consumer=self.consumer)
            if kept:  # now an output at the level it had: nothing moves
                levels = {offset: request.get_value(offset) for offset in kept}
                request.reconfigure_lines(
                    {
                        offset: gpiod.LineSettings(direction=Direction.OUTPUT, output_value=levels[offset])
                        if offset in kept
                        else None
                        for offset in offsets
                    }
                )
        except OSError as exc:
            raise request_failed(f"output lines {offsets}", self.chip, exc) from exc
        self._request = request
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        request, self._request = self._request, None
        if request is not None:
            with contextlib.suppress(Exception):
                request.release()  # the lines keep their levels (a closed valve stays closed)

    def get(self, line: int) -> bool:
        from gpiod.line import Value

        if self._request is None:
            raise OSError(f"the output lines on {self.chip} are not requested")
        return bool(self._request.get_value(line) == Value.ACTIVE)

    def set(self, line: int, level: bool) -> None:
        from gpiod.line import Value

        if self._request is None:
            raise OSError(f"the output lines on {self.chip} are not requested")
        self._request.set_value(line, Value.ACTIVE if level else Value.INACTIVE)


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
            raise request_failed(f"lines {[line.line for line in self.lines]}", self.chip, exc) from exc
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
