"""`GpioDriver`: a device per configured line, its debounced level reported; see drivers/gpio/__init__.py."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Self

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
from drivers.gpio.debounce import LineDebounce
from drivers.gpio.options import TYPE, GpioLine, GpioOptions, parse_options
from drivers.gpio.source import EdgeSource, EdgeSourceFactory, LibgpiodEdgeSource

__all__ = ["GpioDriver"]

log = logging.getLogger("drivers.gpio")  # one logger per driver, as [log] levels name it

# Reopening backoff (s). `_run` reads both on the package, drivers.gpio, which re-exports them:
# that is where tests shorten it.
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0
_CLOCK_SLACK = 1.0  # s: an edge stamped further from our monotonic clock than this is stamped "now"


class _SourceEnded(DriverError):
    """The edge source's event stream ended while the driver was running."""


class GpioDriver(FixedTargetDriver):
    """Dry contacts on GPIO lines; one device per configured line."""

    type: ClassVar[str] = TYPE
    Options: ClassVar[builtins.type[GpioOptions]] = GpioOptions

    def __init__(
        self,
        options: Mapping[str, Any],
        context: DriverContext,
        *,
        edge_source: EdgeSourceFactory | None = None,
    ) -> None:
        opts = parse_options(options)
        self.chip, self.lines, self.debounce = opts.chip, tuple(opts.lines), opts.debounce
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
                address=self.address(line),
                name=line.name,
                model="GPIO dry contact",
                kinds=(line.kind,),
                room=line.room,
                behaviour=line.behaviour,
                home=line.home,
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
