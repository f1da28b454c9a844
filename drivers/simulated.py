"""The simulated demo kit: one device of each zone kind, plus a few unpaired ones to practise pairing.

Theory of operation. `KIT` is the kit the hub seeds the demo zones from (`casahub serve
--demo`); it is also what `fixed_devices()` declares, so a `[[drivers]] type =
"simulated"` entry in a config brings the same kit. `SPARES` are devices "in range but
not paired": `candidates()` offers those whose address is not in `context.paired()`.

Nothing moves by itself but the heartbeat: at start and then every `heartbeat` seconds
each kit device that is online, and each online spare that is paired, reports a
`HealthReading` (online, battery, signal). Batteries drain slowly from a level between 88
and 99 % and never below 80 % on their own, so a demo left running does not raise
low-battery anomalies; signal wobbles by a couple of dBm in a fixed pattern. The demo API
drives everything else through `set_active`, `set_online` and `set_battery`, each of
which emits its reading at once. Everything is deterministic (no randomness), so a demo
behaves the same on every run.

Outputs. With `outputs = true`, the kit also has `OUTPUT_KIT`, an indoor siren and a water
valve, declared by `fixed_devices()` after `KIT` (as FixedDevices with `outputs` and no
sensing kinds) and heard in the heartbeat like the rest. `command(address, command)`
records the command in `commands` and, after `CONFIRM_DELAY`, reports the OutputReading
that confirms it (alarms.outputs.CONFIRMED_BY), as a real device answers a moment later; a
squawk or chime sounds for `seconds` (default 1 s) and a sound given `seconds` ends after
them, each reported. An output set offline (`set_online`) ignores commands, as a device out
of range would: the hub sees no confirmation. The siren starts silent, the valve open.

Options: `heartbeat` (seconds, default 60); `outputs` (default false: the demo kit is the
seven sensors until the hub pairs outputs). A `type` key equal to "simulated" is
tolerated, so the hub may pass a whole `[[drivers]]` table.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import zlib
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

import msgspec

from alarms.model import DEFAULT_BEHAVIOUR, Behaviour, ZoneKind
from alarms.outputs import ACTIONS_FOR_KIND, CONFIRMED_BY, Command, OutputKind, OutputStatus
from drivers.base import (
    Candidate,
    DriverContext,
    DriverError,
    FixedDevice,
    HealthReading,
    OutputReading,
    Reading,
    ReadingStream,
    SensorReading,
    stop_task,
)
from drivers.capabilities import DriverTraits
from drivers.options import Seconds, parse

if TYPE_CHECKING:
    from drivers.camera.feed import CameraFeed

__all__ = ["KIT", "OUTPUT_KIT", "SPARES", "KitDevice", "KitOutput", "SimulatedDriver"]

log = logging.getLogger(__name__)


class KitDevice(msgspec.Struct, frozen=True, kw_only=True):
    """A simulated device and the zone the demo gives it (one sensing channel: `kind`)."""

    address: str
    name: str
    model: str
    kind: ZoneKind
    room: str
    behaviour: Behaviour
    home: bool = False


def _device(address: str, name: str, kind: ZoneKind, room: str, *, home: bool = False) -> KitDevice:
    return KitDevice(
        address=address,
        name=name,
        model=f"SIM-{kind.upper()}",
        kind=kind,
        room=room,
        behaviour=DEFAULT_BEHAVIOUR[kind],
        home=home,
    )


# The demo kit (README, What the demo kit is): the door is `entry` and the only zone with the `home` flag; motion is
# `follower`, camera `instant`, the others `24h` (which is DEFAULT_BEHAVIOUR for each kind).
KIT: tuple[KitDevice, ...] = (
    _device("sim-water-1", "Sensore acqua", "water", "Cucina"),
    _device("sim-smoke-1", "Rilevatore fumo", "smoke", "Corridoio"),
    _device("sim-motion-1", "Sensore movimento", "motion", "Soggiorno"),
    _device("sim-contact-1", "Porta ingresso", "contact", "Ingresso", home=True),
    _device("sim-power-1", "Alimentazione", "power", "Ripostiglio"),
    _device("sim-panic-1", "Pulsante emergenza", "panic", "Camera da letto"),
    _device("sim-camera-1", "Telecamera", "camera", "Soggiorno"),
)


class KitOutput(msgspec.Struct, frozen=True, kw_only=True):
    """A simulated output device (a siren, a valve) and where the demo puts it."""

    address: str
    name: str
    model: str
    output: OutputKind
    room: str


# The demo's outputs (`outputs = true`): an indoor siren by the door, a water shut-off in the kitchen.
OUTPUT_KIT: tuple[KitOutput, ...] = (
    KitOutput(address="sim-siren-1", name="Sirena interna", model="SIM-SIREN", output="siren", room="Ingresso"),
    KitOutput(address="sim-valve-1", name="Valvola acqua", model="SIM-VALVE", output="valve", room="Cucina"),
)
_INITIAL_STATUS: dict[OutputKind, OutputStatus] = {"siren": "silent", "valve": "open", "switch": "off"}
CONFIRM_DELAY = 0.05  # seconds between a command and the simulated device's confirmation
BEEP_SECONDS = 1.0  # a squawk or chime when the command gives no `seconds`

# Unpaired devices offered as pairing candidates; the names and rooms are suggestions for the installer.
SPARES: tuple[KitDevice, ...] = (
    _device("sim-window-2", "Finestra camera", "contact", "Camera da letto"),
    _device("sim-water-2", "Sensore lavatrice", "water", "Bagno"),
    _device("sim-motion-2", "Sensore garage", "motion", "Garage"),
)

_DEFAULT_HEARTBEAT = 60.0
_DRAIN_PER_HOUR = 0.05  # percent: about 1 % a day, visible on the dashboard over days
_DRAIN_FLOOR = 80.0  # natural drain stops here; set_battery goes lower
_LOW_BATTERY = 20.0  # the device's own low-battery flag, as battery firmware reports one
_SIGNAL_WOBBLE = (0, 1, -1, 2, 0, -2, 1, -1)  # dBm, cycled per heartbeat


class _DeviceState:
    """What a simulated device currently reports about itself."""

    def __init__(self, device: KitDevice | KitOutput) -> None:
        seed = zlib.crc32(device.address.encode())
        self.device = device
        self.online = True
        self.battery = 88.0 + seed % 12
        self.base_signal = -55 - seed % 25
        self.phase = seed % len(_SIGNAL_WOBBLE)
        self.beats = 0

    @property
    def signal(self) -> int:
        return self.base_signal + _SIGNAL_WOBBLE[(self.phase + self.beats) % len(_SIGNAL_WOBBLE)]

    def health(self, at: float) -> HealthReading:
        battery = round(self.battery, 1)
        return HealthReading(
            address=self.device.address,
            at=at,
            online=True,
            battery=battery,
            battery_low=battery < _LOW_BATTERY,
            signal=self.signal,
        )


class SimulatedOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `[[drivers]] type = "simulated"` table (drivers/options.py)."""

    heartbeat: Seconds = _DEFAULT_HEARTBEAT
    outputs: bool = False


class SimulatedDriver:
    """The demo kit as a driver; the hub keeps the instance to drive it from the demo API."""

    type: ClassVar[str] = "simulated"
    traits: ClassVar[DriverTraits] = DriverTraits(wireless=True)
    Options: ClassVar[builtins.type[SimulatedOptions]] = SimulatedOptions

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        parsed = parse(SimulatedOptions, self.type, options)
        self.heartbeat = parsed.heartbeat
        self.output_kit: tuple[KitOutput, ...] = OUTPUT_KIT if parsed.outputs else ()
        self.commands: list[tuple[str, Command]] = []  # every command received, in order
        self.status: dict[str, OutputStatus] = {d.address: _INITIAL_STATUS[d.output] for d in self.output_kit}
        self._outputs = {d.address: d for d in self.output_kit}
        self._answers: dict[str, asyncio.Task[None]] = {}  # an output's pending confirmation (or beep)
        self._context = context
        devices: tuple[KitDevice | KitOutput, ...] = (*KIT, *self.output_kit, *SPARES)
        self._devices = {device.address: _DeviceState(device) for device in devices}
        self._spares = frozenset(device.address for device in SPARES)
        self._stream = ReadingStream(self.type)
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._state = "new"  # new -> running -> stopped; a driver runs once
        # The kit's camera shows a picture drawn in-process (no camera, no ffmpeg): live view in the demo.
        self._camera = _demo_camera(context)
        self._camera_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a SimulatedDriver runs once; create a new one to start again")
        self._state = "running"
        self._heartbeat_task = asyncio.create_task(self._beat(), name="simulated-heartbeat")
        self._camera_task = asyncio.create_task(self._camera.run(), name="simulated-camera")
        self._heartbeat_task.add_done_callback(self._stream.end_on_failure)
        return self

    async def __aexit__(
        self,
        exc_type: builtins.type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "stopped"
        task, self._heartbeat_task = self._heartbeat_task, None
        answers, self._answers = list(self._answers.values()), {}
        try:
            for answer in answers:
                await stop_task(answer)
            await stop_task(task)
            camera_task, self._camera_task = self._camera_task, None
            await stop_task(camera_task)
        finally:
            self._stream.end()

    # ------------------------------------------------------------------ the Driver protocol

    def readings(self) -> AsyncIterator[Reading]:
        return self._stream.readings()

    async def candidates(self) -> list[Candidate]:
        paired = self._context.paired()
        candidates = []
        for spare in SPARES:
            if spare.address in paired:
                continue
            state = self._devices[spare.address]
            candidates.append(
                Candidate(
                    id=f"{self.type}:{spare.address}",
                    driver=self.type,
                    address=spare.address,
                    model=spare.model,
                    kinds=(spare.kind,),
                    signal=state.signal if state.online else None,
                    battery=round(state.battery, 1) if state.online else None,
                )
            )
        return candidates

    async def scan(self, seconds: float) -> None:
        """Nothing to do: the spares are always in range."""

    def fixed_devices(self) -> list[FixedDevice]:
        return [
            FixedDevice(
                address=d.address,
                name=d.name,
                model=d.model,
                kinds=(d.kind,),
                room=d.room,
                behaviour=d.behaviour,
                home=d.home,
            )
            for d in KIT
        ] + [
            FixedDevice(address=o.address, name=o.name, model=o.model, kinds=(), room=o.room, outputs=(o.output,))
            for o in self.output_kit
        ]

    def cameras(self) -> list[CameraFeed]:
        """The kit's camera feed (drivers/camera/): its zone is still triggered through the demo API."""
        return [self._camera]

    def expected_interval(self, address: str) -> float | None:
        return self.heartbeat if address in self._devices else None

    # ------------------------------------------------------------------ the demo's controls

    async def set_active(self, address: str, kind: ZoneKind, active: bool) -> None:
        """The device's `kind` channel turns active (or restores); emits a SensorReading at once."""
        state = self._running_device(address)
        if not isinstance(state.device, KitDevice):
            raise DriverError(f"simulated device {address!r} is a {state.device.output}: it senses nothing")
        if kind != state.device.kind:
            raise DriverError(f"simulated device {address!r} senses {state.device.kind!r}, not {kind!r}")
        self._stream.put(SensorReading(address=address, kind=kind, active=active, at=self._context.clock()))

    async def set_online(self, address: str, online: bool) -> None:
        """The device goes offline (stops heartbeats) or comes back; emits a HealthReading at once."""
        state = self._running_device(address)
        state.online = online
        at = self._context.clock()
        self._stream.put(state.health(at) if online else HealthReading(address=address, at=at, online=False))

    async def set_battery(self, address: str, percent: float) -> None:
        """Set the device's battery level (natural drain continues from it); emits a HealthReading at once."""
        state = self._running_device(address)
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
            raise DriverError(f"battery must be a percentage between 0 and 100, got {percent!r}")
        state.battery = float(percent)
        battery = round(state.battery, 1)
        self._stream.put(
            HealthReading(
                address=address, at=self._context.clock(), battery=battery, battery_low=battery < _LOW_BATTERY
            )
        )

    async def command(self, address: str, command: Command) -> None:
        """Record the command; the simulated output confirms it `CONFIRM_DELAY` later (unless offline)."""
        output = self._outputs.get(address)
        if output is None:
            known = ", ".join(self._outputs) or "none (outputs = false)"
            raise DriverError(f"no simulated output {address!r}; outputs: {known}")
        if command.action not in ACTIONS_FOR_KIND[output.output]:
            raise DriverError(f"simulated {output.output} {address!r} cannot {command.action!r}")
        state = self._running_device(address)
        self.commands.append((address, command))
        await stop_task(self._answers.pop(address, None))  # a new command ends a beep or a timed sound
        if state.online:
            self._answers[address] = asyncio.create_task(self._answer(address, command), name=f"simulated-{address}")

    # ------------------------------------------------------------------ internals

    async def _answer(self, address: str, command: Command) -> None:
        await asyncio.sleep(CONFIRM_DELAY)
        confirmed = CONFIRMED_BY[command.action]
        seconds = command.seconds
        if confirmed is None:  # a squawk or chime: a short sound nobody confirms
            confirmed, seconds = "sounding", BEEP_SECONDS if seconds is None else seconds
        self._report(address, confirmed)
        if confirmed == "sounding" and seconds is not None:
            await asyncio.sleep(seconds)
            self._report(address, "silent")
        if self._answers.get(address) is asyncio.current_task():
            del self._answers[address]

    def _report(self, address: str, status: OutputStatus) -> None:
        self.status[address] = status
        self._stream.put(OutputReading(address=address, status=status, at=self._context.clock()))

    def _running_device(self, address: str) -> _DeviceState:
        if self._state != "running":
            raise DriverError(f"the simulated driver is {self._state}, not running; use it inside `async with`")
        state = self._devices.get(address)
        if state is None:
            raise DriverError(f"no simulated device {address!r}; known: {', '.join(self._devices)}")
        return state

    async def _beat(self) -> None:
        drain = _DRAIN_PER_HOUR * self.heartbeat / 3600
        while True:
            paired = self._context.paired()
            at = self._context.clock()
            for address, state in self._devices.items():
                if not state.online or (address in self._spares and address not in paired):
                    continue
                self._stream.put(state.health(at))
                state.beats += 1
                if state.battery > _DRAIN_FLOOR:
                    state.battery = max(_DRAIN_FLOOR, state.battery - drain)
            await asyncio.sleep(self.heartbeat)


def _demo_camera(context: DriverContext) -> CameraFeed:
    # Imported here, not at the top: checking a config loads this class for its Options,
    # and needs neither aiohttp nor the camera's sources for that.
    from drivers.camera.feed import CameraFeed
    from drivers.camera.source import DemoSource

    camera = next(d for d in KIT if d.kind == "camera")
    # Probed rarely: the simulated heartbeat, not the feed, says whether the demo camera is online.
    return CameraFeed(
        DemoSource(camera.name, fps=2.0, clock=context.clock),
        name=camera.name,
        address=camera.address,
        fps=2.0,
        probe_interval=3600.0,
        clock=context.clock,
    )
