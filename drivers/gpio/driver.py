"""`GpioDriver`: a device per configured line, an input's debounced level reported, an output
driven on command; see drivers/gpio/__init__.py."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

from alarms.outputs import ACTIONS_FOR_KIND, Command, OutputStatus
from drivers import gpio
from drivers.base import (
    DriverContext,
    DriverError,
    FixedDevice,
    FixedTargetDriver,
    HealthReading,
    OutputReading,
    Reading,
    ReadingStream,
    SensorReading,
    stop_task,
)
from drivers.gpio.debounce import LineDebounce
from drivers.gpio.options import TYPE, GpioLine, GpioOptions, parse_options
from drivers.gpio.source import (
    EdgeSource,
    EdgeSourceFactory,
    LibgpiodEdgeSource,
    LibgpiodOutputLines,
    OutputLines,
    OutputLinesFactory,
)

__all__ = ["GpioDriver"]

log = logging.getLogger("drivers.gpio")  # one logger per driver, as [log] levels name it

# Reopening backoff (s). `_run` reads both on the package, drivers.gpio, which re-exports them:
# that is where tests shorten it.
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0
_CLOCK_SLACK = 1.0  # s: an edge stamped further from our monotonic clock than this is stamped "now"
BEEP_SECONDS = 1.0  # a squawk or chime when the command gives no `seconds`
_SOUNDING = ("burglar", "fire", "emergency")
_BEEPS = ("squawk_armed", "squawk_disarmed", "chime")
# Whether each action energises its output (sounds the siren, closes the valve, turns the switch on).
_ENERGISES = {
    **dict.fromkeys(_SOUNDING, True),
    **dict.fromkeys(_BEEPS, True),
    "stop": False,
    "close": True,
    "open": False,
    "on": True,
    "off": False,
}


class _SourceEnded(DriverError):
    """The edge source's event stream ended while the driver was running."""


class GpioDriver(FixedTargetDriver):
    """Dry contacts and relays on GPIO lines; one device per configured line."""

    type: ClassVar[str] = TYPE
    Options: ClassVar[builtins.type[GpioOptions]] = GpioOptions

    def __init__(
        self,
        options: Mapping[str, Any],
        context: DriverContext,
        *,
        edge_source: EdgeSourceFactory | None = None,
        output_lines: OutputLinesFactory | None = None,
    ) -> None:
        opts = parse_options(options)
        self.chip, self.lines, self.debounce = opts.chip, tuple(opts.lines), opts.debounce
        self.inputs, self.outputs = opts.inputs, opts.outputs
        self._factory: EdgeSourceFactory = edge_source or LibgpiodEdgeSource
        self._output_factory: OutputLinesFactory = output_lines or LibgpiodOutputLines
        self._by_line = {line.line: line for line in self.inputs}
        self._by_address = {self.address(line): line for line in self.outputs}
        self._context = context
        self._stream = ReadingStream(self.type)
        self._task: asyncio.Task[None] | None = None
        self._online: bool | None = None
        self._out: OutputLines | None = None
        self._out_online: bool | None = None
        self._out_lock = asyncio.Lock()
        self._timers: dict[int, asyncio.Task[None]] = {}  # an output line's pending release (a beep's end)
        self._state = "new"

    def address(self, line: GpioLine) -> str:
        return f"line{line.line}@{self.chip}"

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a GpioDriver runs once; create a new one to start again")
        source: EdgeSource | None = None
        try:
            if self.inputs:
                opening = self._factory(self.chip, self.inputs, self.debounce)
                await opening.__aenter__()
                source = opening
            if self.outputs:
                out = self._output_factory(self.chip, self.outputs)
                await out.__aenter__()
                self._out = out
                self._report_outputs(out)
        except Exception as exc:
            opened, self._out = self._out, None
            if opened is not None:
                with contextlib.suppress(Exception):
                    await opened.__aexit__(None, None, None)
            if source is not None:
                with contextlib.suppress(Exception):
                    await source.__aexit__(None, None, None)
            if isinstance(exc, DriverError):
                raise
            raise DriverError(f"gpio driver: cannot open {self.chip}: {exc}") from exc
        self._state = "running"
        if source is not None:
            self._task = asyncio.create_task(self._run(source), name="gpio-edges")
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            await stop_task(timer)
        out, self._out = self._out, None
        try:
            if out is not None:
                # A siren must not outlive the hub that sounds it (nobody could stop it); a
                # valve or a switch keeps its state.
                for line in self.outputs:
                    if line.output == "siren":
                        with contextlib.suppress(Exception):
                            out.set(line.line, line.level_for(False))
                with contextlib.suppress(Exception):
                    await out.__aexit__(None, None, None)
        finally:
            await super().__aexit__(exc_type, exc, tb)

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
            if line.kind is not None
            else FixedDevice(
                address=self.address(line),
                name=line.name,
                model=f"GPIO {line.output_kind} output",
                kinds=(),
                room=line.room,
                outputs=(line.output_kind,),
            )
            for line in self.lines
        ]

    async def command(self, address: str, command: Command) -> None:
        """Drive an output line: sounding, closing or switching on sets it active, the rest
        inactive; a squawk or chime is active for `seconds` (default 1 s), and a sound given
        `seconds` ends by itself after them. Emits an OutputReading with the level read back."""
        line = self._by_address.get(address)
        if line is None:
            outputs = ", ".join(self._by_address) or "none"
            raise DriverError(f"gpio: {address} is not an output line of this driver (outputs: {outputs})")
        kind = line.output_kind
        if command.action not in ACTIONS_FOR_KIND[kind]:
            raise DriverError(f"gpio: {address} is a {kind}; it cannot {command.action!r}")
        if self._state != "running":
            raise DriverError(f"the gpio driver is {self._state}, not running")
        await stop_task(self._timers.pop(line.line, None))  # a new command ends a beep or a timed sound
        await self._drive(line, _ENERGISES[command.action])
        seconds = command.seconds
        if command.action in _BEEPS:
            seconds = BEEP_SECONDS if seconds is None else seconds
        if seconds is not None and command.action in (*_SOUNDING, *_BEEPS):
            self._timers[line.line] = asyncio.create_task(self._release(line, seconds), name=f"gpio-{line.line}-off")

    def expected_interval(self, address: str) -> float | None:
        return None  # wired: no heartbeat; a cut NC loop reads as open

    # ------------------------------------------------------------------ running

    async def _run(self, source: EdgeSource) -> None:
        backoff = gpio._BACKOFF_FIRST
        while True:
            try:
                await self._watch(source)
            except Exception as exc:
                log.error("gpio: %s failed: %s; lines %s are offline", self.chip, exc, [x.line for x in self.inputs])
            finally:
                with contextlib.suppress(Exception):
                    await source.__aexit__(None, None, None)
            self._set_online(False)
            while True:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, gpio._BACKOFF_MAX)
                source = self._factory(self.chip, self.inputs, self.debounce)
                try:
                    await source.__aenter__()
                except Exception as exc:
                    log.warning("gpio: reopening %s failed: %s", self.chip, exc)
                    continue
                backoff = gpio._BACKOFF_FIRST
                break

    async def _watch(self, source: EdgeSource) -> None:
        levels = source.initial_levels()
        missing = [line.line for line in self.inputs if line.line not in levels]
        if missing:
            raise OSError(f"the edge source gave no level for lines {missing}")
        debounce = LineDebounce(0.0 if source.debounced else self.debounce, levels)
        self._set_online(True)
        at = self._context.clock()
        for line in self.inputs:
            self._emit(
                SensorReading(
                    address=self.address(line), kind=line.zone_kind, active=line.active(levels[line.line]), at=at
                )
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
                    async with asyncio.timeout(timeout):
                        item = await edges.get()
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
                            kind=line.zone_kind,
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
        for line in self.inputs:
            self._emit(HealthReading(address=self.address(line), at=at, online=online))

    # ------------------------------------------------------------------ outputs

    def _status(self, line: GpioLine, level: bool) -> OutputStatus:
        energised = line.energised(level)
        kind = line.output_kind
        if kind == "siren":
            return "sounding" if energised else "silent"
        if kind == "valve":
            return "closed" if energised else "open"
        return "on" if energised else "off"

    def _set_outputs_online(self, online: bool) -> None:
        if self._out_online == online:
            return
        self._out_online = online
        at = self._context.clock()
        for line in self.outputs:
            self._emit(HealthReading(address=self.address(line), at=at, online=online))

    def _report_outputs(self, out: OutputLines) -> None:
        """Every output line is there, and what it is driven to now."""
        self._set_outputs_online(True)
        at = self._context.clock()
        for line in self.outputs:
            self._emit(OutputReading(address=self.address(line), status=self._status(line, out.get(line.line)), at=at))

    async def _drive(self, line: GpioLine, energised: bool) -> None:
        """Set the line, read it back and report it. The chip gone: the outputs are offline, the
        request is dropped and the next command requests the lines again."""
        async with self._out_lock:
            out = self._out
            try:
                if out is None:
                    out = self._output_factory(self.chip, self.outputs)
                    await out.__aenter__()
                    self._out = out
                    self._report_outputs(out)
                out.set(line.line, line.level_for(energised))
                level = out.get(line.line)
            except Exception as exc:
                if out is not None and self._out is out:
                    self._out = None
                    with contextlib.suppress(Exception):
                        await out.__aexit__(None, None, None)
                self._set_outputs_online(False)
                log.error("gpio: cannot drive line %s on %s: %s", line.line, self.chip, exc)
                raise DriverError(f"gpio: cannot drive line {line.line} on {self.chip}: {exc}") from exc
        self._set_outputs_online(True)
        self._emit(
            OutputReading(address=self.address(line), status=self._status(line, level), at=self._context.clock())
        )

    async def _release(self, line: GpioLine, seconds: float) -> None:
        """The end of a beep or of a timed sound: the line goes inactive."""
        await asyncio.sleep(seconds)
        if self._timers.get(line.line) is asyncio.current_task():
            del self._timers[line.line]
        try:
            await self._drive(line, False)
        except DriverError:
            pass  # logged, and the line reported offline

    def _emit(self, reading: Reading) -> None:
        self._stream.put(reading)
