"""The driver contract: what every sensor driver yields, offers for pairing, and how the hub runs it.

Theory of operation. A driver translates one protocol (BLE adverts, MQTT messages, a UPS
daemon, GPIO lines, a simulated kit) into typed readings; it never decides what an alarm
is. The hub constructs a driver class found by `drivers.registry.load_driver` as
`DriverClass(options, context)` (construction validates the options and does no I/O),
and runs it as

    async with driver:
        async for reading in driver.readings():
            ...

Nothing a driver starts outlives its `async with`: on exit every task it owns is
finished and `readings()` ends. A `SensorReading` says a sensing channel of a device
changed or was re-reported (the hub de-duplicates); a `HealthReading` carries what the
device said about itself, each field left None meaning "not reported"; an `OutputReading`
says what an output (a siren, a valve, a relay) reports it is doing now. A driver with
outputs also implements `drivers.capabilities.OutputDriver` (`command`); the status that
confirms a command comes back as an OutputReading, never as command()'s result. Radio and bus
drivers offer unpaired devices as `Candidate`s; drivers bound to a fixed target
declare their devices from config as `FixedDevice`s; either says, in `outputs`, the output
kinds a device can be paired as (`kinds` stays the sensing channels). `expected_interval` tells the
hub's supervision how often a device should be heard from.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self, get_args

import msgspec

from alarms.model import Behaviour, ZoneKind
from alarms.outputs import OutputKind, OutputStatus

__all__ = [
    "Candidate",
    "Driver",
    "DriverContext",
    "DriverError",
    "FixedDevice",
    "FixedTargetDriver",
    "HealthReading",
    "OutputReading",
    "Reading",
    "SensorReading",
    "UnknownDriver",
]


class DriverError(Exception):
    """A driver cannot be loaded, configured or run; the message says what to do."""


class UnknownDriver(DriverError):
    """No driver of this type is registered in the `casahub.drivers` entry-point group."""


# --------------------------------------------------------------------------- readings


class SensorReading(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="sensor"):
    """A sensing channel (`kind`) of the device at `address` is now `active` or not (POSIX time `at`)."""

    address: str
    kind: ZoneKind
    active: bool
    at: float


class HealthReading(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="health"):
    """What a device reported about itself; a field left None was not reported.

    `battery` is a percentage, `signal` is dBm (BLE) or LQI (Zigbee) as the protocol gives it.
    """

    address: str
    at: float
    online: bool | None = None
    battery: float | None = None
    battery_low: bool | None = None
    signal: int | None = None
    tamper: bool | None = None


class OutputReading(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="output"):
    """The output at `address` reports it is `status` now (POSIX time `at`): what confirms a command.

    A driver emits one whenever the device says what it is doing (a state message, a line read
    back after it was set), whether or not the hub asked; the hub de-duplicates.
    """

    address: str
    status: OutputStatus
    at: float


# Tagged (`{"type": "sensor"|"health"|"output", ...}`) so that `msgspec.json.Decoder(Reading)` reads any back.
Reading = SensorReading | HealthReading | OutputReading


# --------------------------------------------------------------------------- devices


class Candidate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An unpaired device a driver offers for pairing; `id` is what `POST /devices {"candidate"}` takes."""

    id: str
    driver: str
    address: str
    model: str
    kinds: tuple[ZoneKind, ...]
    signal: int | None = None
    battery: float | None = None
    # The output kinds the device can be paired as (a siren; a relay that may be a valve or a
    # switch, the first the likelier), beside or instead of its sensing `kinds`.
    outputs: tuple[OutputKind, ...] = ()


class FixedDevice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A device a driver bound to a fixed target (nut, power_supply, gpio, camera) declares from its config."""

    address: str
    name: str
    model: str
    kinds: tuple[ZoneKind, ...]
    room: str = ""
    # The zone the config gives the device (a demo kit device, a GPIO line): None leaves the
    # kind's default behaviour, and `home` (armed in home mode) defaults to contacts only.
    behaviour: Behaviour | None = None
    home: bool | None = None
    # The output kind the config gives the device (a GPIO output line, the demo's siren): an
    # output device has no sensing `kinds`.
    outputs: tuple[OutputKind, ...] = ()


# --------------------------------------------------------------------------- the driver


@dataclass(frozen=True)
class DriverContext:
    """What the hub lends a driver.

    `clock` is wall time (POSIX seconds) for the readings' `at`; `paired` returns the
    addresses currently paired for this driver (excluded from candidates); `data_dir` is
    where a driver may keep state of its own (None: keep nothing); `bindkey` returns the
    bind key (hex) the hub stores for a paired device address, None when it has none;
    `output_kind` returns the output kind a device address is paired as (None: not paired
    as an output), for drivers whose device cannot say whether its relay is a valve or a
    switch (zigbee2mqtt's `state`).
    """

    clock: Callable[[], float] = field(default=time.time)
    paired: Callable[[], set[str]] = field(default=set)
    data_dir: Path | None = None
    bindkey: Callable[[str], str | None] = field(default=lambda address: None)
    output_kind: Callable[[str], OutputKind | None] = field(default=lambda address: None)


class Driver(Protocol):
    """One protocol behind one interface; registered in the `casahub.drivers` entry-point group."""

    type: ClassVar[str]

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        """Validate `options` (raise DriverError naming the bad key); no I/O here."""

    async def __aenter__(self) -> Self:
        """Start: connect, start the driver's tasks."""

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop: every task the driver started is finished when this returns, and `readings()` ends."""

    def readings(self) -> AsyncIterator[Reading]:
        """The readings, in order; the iterator ends when the driver stops."""
        ...

    async def candidates(self) -> list[Candidate]:
        """Devices seen and not paired (addresses in `context.paired()` are left out)."""
        ...

    async def scan(self, seconds: float) -> None:
        """Look for new devices for `seconds` (permit join, active scan); a no-op where not needed."""

    def fixed_devices(self) -> list[FixedDevice]:
        """The devices this driver's config declares; empty for radio and bus drivers."""
        ...

    def expected_interval(self, address: str) -> float | None:
        """Seconds between two reports of this device when healthy; None when it is not supervised."""
        ...


# --------------------------------------------------------------------------- shared plumbing


class _End:
    """Queued last: the readings iterator ends there (raising `error` if the driver failed)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class FixedTargetDriver:
    """The Driver methods every driver bound to a fixed target (nut, power_supply, gpio, camera)
    shares: readings come from `self._stream`, and there is nothing to scan or pair because the
    config names the devices. Subclasses set `_stream` and implement the rest of the protocol."""

    _stream: ReadingStream
    _state: str
    _task: asyncio.Task[None] | None  # the driver's one task (a driver with more overrides __aexit__)

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "stopped"
        task, self._task = self._task, None
        try:
            await stop_task(task)
        finally:
            self._stream.end()

    def readings(self) -> AsyncIterator[Reading]:
        return self._stream.readings()

    async def candidates(self) -> list[Candidate]:
        return []

    async def scan(self, seconds: float) -> None:
        """Nothing to scan: the config names the devices."""


def is_routine(reading: Reading) -> bool:
    """Telemetry only (battery level, signal strength): it may wait behind everything else."""
    return (
        isinstance(reading, HealthReading)
        and reading.online is None
        and reading.battery_low is None
        and reading.tamper is None
    )


# Routine telemetry waits as one reading per device address: more are never queued, whatever the
# input rate. A radio that hears a whole street (BLE adverts of the neighbours' devices) could
# still bring many addresses: past this many waiting, new addresses' telemetry is shed.
ROUTINE_ADDRESSES = 4096
# Why telemetry was shed: "coalesced", replaced by a newer value before the hub read it; "full",
# refused at ROUTINE_ADDRESSES.
ShedReason = Literal["coalesced", "full"]
SHED_REASONS: tuple[ShedReason, ...] = get_args(ShedReason)
# Telemetry shed since the process started, by stream name and reason. Process-wide, so the
# counter never goes back when a driver restarts with a new stream (hub/export/metrics.py).
TELEMETRY_SHED: Counter[tuple[str, ShedReason]] = Counter()


def _merge(old: HealthReading, new: HealthReading) -> HealthReading:
    """The newest value of each field: a report of the battery alone keeps the signal waiting."""
    if new.battery is not None and new.signal is not None:
        return new
    return HealthReading(
        address=new.address,
        at=new.at,
        battery=new.battery if new.battery is not None else old.battery,
        signal=new.signal if new.signal is not None else old.signal,
    )


class ReadingStream:
    """The queue behind a driver's `readings()`: a driver `put`s readings and `end`s it once,
    on stop (or with the error that stopped it); every reader then finishes.

    Two lanes. State changes and health news (online, tamper, battery low) are never dropped
    or merged and keep their order. Routine telemetry (battery level, signal strength) is
    coalesced while it waits: one reading per device, each field its newest value, so the
    lane holds at most one reading per address (ROUTINE_ADDRESSES at most) however fast a
    busy radio reports, and an alarm never waits behind a backlog (the ingest benchmark
    measures this wait). What is replaced or refused is counted in TELEMETRY_SHED.
    News goes before telemetry. One device's readings keep their order: urgent news takes
    that device's waiting telemetry along, ahead of it (a door's opening comes with the
    signal it was sent at, which the walk test shows).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._urgent: deque[Reading] = deque()
        # Routine telemetry: address -> its waiting reading, in the order the devices first
        # reported (an OrderedDict: popping its oldest entry is O(1), a plain dict's degrades).
        self._waiting: OrderedDict[str, HealthReading] = OrderedDict()
        self._end: _End | None = None
        self._wake = asyncio.Event()

    def put(self, reading: Reading) -> None:
        address = reading.address
        if isinstance(reading, HealthReading) and is_routine(reading):
            waiting = self._waiting.get(address)
            if waiting is not None:
                self._waiting[address] = _merge(waiting, reading)
                TELEMETRY_SHED[self.name, "coalesced"] += 1
                return  # the reader is already woken for it
            if len(self._waiting) >= ROUTINE_ADDRESSES:
                TELEMETRY_SHED[self.name, "full"] += 1
                return
            self._waiting[address] = reading
        else:
            mine = self._waiting.pop(address, None)
            if mine is not None:
                self._urgent.append(mine)
            self._urgent.append(reading)
        self._wake.set()

    def end(self, error: BaseException | None = None) -> None:
        if self._end is None:
            self._end = _End(error)
        self._wake.set()

    def qsize(self) -> int:
        return len(self._urgent) + len(self._waiting)

    def _next(self) -> Reading | None:
        if self._urgent:
            return self._urgent.popleft()
        if self._waiting:
            return self._waiting.popitem(last=False)[1]
        return None

    def take_all(self) -> list[Reading]:
        """Remove and return what is queued, in the order `readings()` would give it."""
        taken = []
        while (reading := self._next()) is not None:
            taken.append(reading)
        return taken

    async def readings(self) -> AsyncIterator[Reading]:
        while True:
            reading = self._next()
            if reading is not None:
                yield reading
            elif self._end is not None:  # what was put before the end is delivered first
                if self._end.error is not None:
                    raise DriverError(f"{self.name} driver stopped: {self._end.error!r}") from self._end.error
                return
            else:
                self._wake.clear()
                await self._wake.wait()

    def end_on_failure(self, task: asyncio.Task[None]) -> None:
        """A done-callback for a driver's main task: its crash ends the stream with the error."""
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logging.getLogger(f"drivers.{self.name}").error("%s driver failed", self.name, exc_info=error)
            self.end(error)


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a driver's task and wait for it; its CancelledError must not look like ours."""
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
