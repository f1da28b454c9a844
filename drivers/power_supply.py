"""Mains power from Linux `/sys/class/power_supply`, and the mains-loss debounce the nut driver shares.

Theory of operation. The kernel's power-supply class gives one directory per supply, each
with a `type` file ("Mains", "Battery", "USB", "UPS", ...). The driver watches one mains
supply, found at start by its `type` ("Mains", not a peripheral's: `scope` is not
"Device") or named by the `supply` option, and, when there is one, a battery supply (the
hub's own UPS HAT or laptop battery: `battery` option, or the first "Battery" supply that
is not a peripheral's). Every `poll` seconds (default 2) it reads:

- the mains `online` file: "0" is mains absent, any other number present;
- the battery's `capacity` (percent) -> `HealthReading.battery`, and its `capacity_level`:
  "Critical" or "Low" -> `battery_low=True` (the hub raises `hub_battery_low`: the hub's own
  supply runs out), any other level -> False, no such file -> not reported.

One device, the mains supply, carries both: address = the supply's directory name, kinds
("power",). What its readings mean is decided by `MainsMonitor`, the pure part shared with
drivers.nut:

- mains absent for `debounce` seconds (default 60) of *consecutive* polls -> the power zone
  turns active (`SensorReading(kind="power", active=True)`), at the first poll after the
  debounce; a flicker shorter than that is never reported. Mains present -> restored at
  once (a restore is never delayed: the household wants to know the power is back, and a
  restore cannot raise an alarm).
- the supply cannot be read (directory gone: a USB UPS unplugged) -> `online=False`, a
  fault, never a power alarm; an unknown reading breaks the "consecutive" count. Back ->
  `online=True` and the zone's current state again.
- health (online, battery, battery_low) is reported when it changes and at least every
  `HEARTBEAT` seconds, which is what `expected_interval` tells the hub's supervision.

The first poll reports the real state at once when mains is present (zone restored), and
after the debounce when it is absent. Readings are stamped with `context.clock()` at the
poll that decided them; the debounce runs on the monotonic clock, so a wall-clock jump
neither shortens nor lengthens it.

Options: `path` (default "/sys/class/power_supply"), `supply`, `battery`, `debounce`
(seconds, default 60), `poll` (seconds, default 2). A `type` key equal to
"power_supply" is tolerated, so the hub may pass a whole `[[drivers]]` table.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

import msgspec

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
from drivers.capabilities import DriverTraits
from drivers.options import NonEmpty, Seconds, SecondsOrZero, parse

__all__ = [
    "HEARTBEAT",
    "MainsMonitor",
    "MainsWatch",
    "PowerSupplyDriver",
    "SupplySnapshot",
    "find_supplies",
    "read_snapshot",
]

log = logging.getLogger(__name__)

HEARTBEAT = 60.0  # seconds: health is re-reported at least this often (the hub's supervision interval)
_DEFAULT_PATH = "/sys/class/power_supply"
_LOW_LEVELS = frozenset({"critical", "low"})


# --------------------------------------------------------------------------- the pure part (shared with nut)


class MainsWatch:
    """Debounces mains presence: lost only after `debounce` s of continuous absence, restored at once.

    `observe(present, now)` takes one observation (True present, False absent, None unknown)
    at monotonic time `now` and returns the new reported state (True = mains lost) when it
    changes, else None. `lost` is the state last reported (None: nothing reported yet).
    """

    def __init__(self, debounce: float) -> None:
        self.debounce = debounce
        self.lost: bool | None = None
        self._absent_since: float | None = None

    def observe(self, present: bool | None, now: float) -> bool | None:
        if present is None:
            self._absent_since = None  # continuity unknown: the count starts again
            return None
        if present:
            self._absent_since = None
            return self._report(False)
        if self._absent_since is None:
            self._absent_since = now
        if now - self._absent_since >= self.debounce:
            return self._report(True)
        return None

    def _report(self, lost: bool) -> bool | None:
        if self.lost == lost:
            return None
        self.lost = lost
        return lost


class MainsMonitor:
    """Turns periodic observations of one supply into readings (see the module docstring)."""

    def __init__(self, address: str, debounce: float, heartbeat: float = HEARTBEAT) -> None:
        self.address = address
        self.heartbeat = heartbeat
        self.mains = MainsWatch(debounce)
        self._online: bool | None = None
        self._health: tuple[float | None, bool | None] | None = None
        self._health_at = -math.inf

    def unreachable(self, at: float) -> list[Reading]:
        """The supply cannot be read: `online=False` once, and the debounce starts again."""
        self.mains.observe(None, 0.0)
        if self._online is False:
            return []
        self._online = False
        self._health = None
        return [HealthReading(address=self.address, at=at, online=False)]

    def observe(
        self,
        mains: bool | None,
        battery: float | None,
        battery_low: bool | None,
        *,
        now: float,
        at: float,
    ) -> list[Reading]:
        """The supply was read: `mains` present/absent/unknown; `now` monotonic, `at` wall time."""
        out: list[Reading] = []
        came_back = self._online is not True
        self._online = True
        change = self.mains.observe(mains, now)
        if change is not None:
            out.append(SensorReading(address=self.address, kind="power", active=change, at=at))
        elif came_back and mains is not None and self.mains.lost is not None:
            # Back after a fault: the zone's real state again (the hub de-duplicates).
            out.append(SensorReading(address=self.address, kind="power", active=self.mains.lost, at=at))
        health = (battery, battery_low)
        if came_back or health != self._health or now - self._health_at >= self.heartbeat:
            self._health = health
            self._health_at = now
            out.append(
                HealthReading(address=self.address, at=at, online=True, battery=battery, battery_low=battery_low)
            )
        return out


# --------------------------------------------------------------------------- sysfs


@dataclass(frozen=True)
class SupplySnapshot:
    """One read of the supplies: `readable` False when the mains supply cannot be read at all."""

    readable: bool
    mains: bool | None = None
    battery: float | None = None
    battery_low: bool | None = None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def find_supplies(root: Path) -> tuple[list[str], list[str]]:
    """The names of the system's (not a peripheral's) mains and battery supplies under `root`, sorted."""
    mains: list[str] = []
    batteries: list[str] = []
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return mains, batteries
    for entry in entries:
        if (_read(entry / "scope") or "").lower() == "device":
            continue
        kind = (_read(entry / "type") or "").lower()
        if kind == "mains":
            mains.append(entry.name)
        elif kind == "battery":
            batteries.append(entry.name)
    return mains, batteries


def read_snapshot(root: Path, supply: str, battery: str | None) -> SupplySnapshot:
    """Read the mains supply's `online` and the battery's `capacity`/`capacity_level` (blocking: sysfs)."""
    online = _read(root / supply / "online")
    if online is None:
        return SupplySnapshot(readable=False)
    try:
        mains: bool | None = int(online) != 0
    except ValueError:
        mains = None
    percent: float | None = None
    low: bool | None = None
    if battery is not None:
        capacity = _read(root / battery / "capacity")
        if capacity is not None:
            with contextlib.suppress(ValueError):
                value = float(capacity)
                percent = value if 0 <= value <= 100 else None
        level = _read(root / battery / "capacity_level")
        if level:
            low = level.lower() in _LOW_LEVELS
    return SupplySnapshot(readable=True, mains=mains, battery=percent, battery_low=low)


# --------------------------------------------------------------------------- the driver

# A supply's name: a directory under `path`, so no "/" in it.
SupplyName = Annotated[
    str, msgspec.Meta(pattern=r"^[^/]*[^/\s][^/]*$", description="a supply's name under `path` (no /)")
]


class PowerSupplyOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `[[drivers]] type = "power_supply"` table (drivers/options.py)."""

    path: NonEmpty = _DEFAULT_PATH
    supply: SupplyName | None = None
    battery: SupplyName | None = None
    debounce: SecondsOrZero = 60.0
    poll: Seconds = 2.0


class PowerSupplyDriver(FixedTargetDriver):
    """Mains presence and the hub's own battery from the kernel's power-supply class."""

    type: ClassVar[str] = "power_supply"
    traits: ClassVar[DriverTraits] = DriverTraits(powers_hub=True)
    Options: ClassVar[builtins.type[PowerSupplyOptions]] = PowerSupplyOptions

    def __init__(self, options: Mapping[str, Any], context: DriverContext) -> None:
        opts = parse(PowerSupplyOptions, self.type, options)
        self.root = Path(opts.path.strip())
        self.supply = opts.supply.strip() if opts.supply else None
        self.battery = opts.battery.strip() if opts.battery else None
        self.debounce = opts.debounce
        self.poll = opts.poll
        self._context = context
        self._stream = ReadingStream(self.type)
        self._task: asyncio.Task[None] | None = None
        self._monitor: MainsMonitor | None = None
        self._state = "new"

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise DriverError("a PowerSupplyDriver runs once; create a new one to start again")
        mains, batteries = await asyncio.to_thread(find_supplies, self.root)
        if self.supply is None:
            if not mains:
                raise DriverError(
                    f"power_supply driver: no mains supply (type 'Mains') under {self.root}; "
                    "set `supply` to the name of the supply to watch, or use the nut driver for a UPS"
                )
            self.supply = mains[0]
            if len(mains) > 1:
                log.warning("power_supply: several mains supplies %s; watching %s (set `supply`)", mains, self.supply)
        if self.battery is None and batteries:
            self.battery = batteries[0]
        self._monitor = MainsMonitor(self.supply, self.debounce, max(HEARTBEAT, self.poll))
        log.info("power_supply: watching %s (battery: %s) under %s", self.supply, self.battery, self.root)
        self._state = "running"
        self._task = asyncio.create_task(self._run(self._monitor, self.supply), name="power_supply-poll")
        return self

    def fixed_devices(self) -> list[FixedDevice]:
        """The mains supply; before start without a `supply` option it is not known yet (empty)."""
        if self.supply is None:
            return []
        return [FixedDevice(address=self.supply, name="Alimentazione", model="Linux power supply", kinds=("power",))]

    def expected_interval(self, address: str) -> float | None:
        return max(HEARTBEAT, self.poll) if address == self.supply else None

    async def _run(self, monitor: MainsMonitor, supply: str) -> None:
        while True:
            try:
                snapshot = await asyncio.to_thread(read_snapshot, self.root, supply, self.battery)
            except Exception:  # never let one bad read end the supervision of mains power
                log.exception("power_supply: reading %s failed", supply)
                snapshot = SupplySnapshot(readable=False)
            at = self._context.clock()
            if snapshot.readable:
                out = monitor.observe(
                    snapshot.mains, snapshot.battery, snapshot.battery_low, now=time.monotonic(), at=at
                )
            else:
                out = monitor.unreachable(at)
            for reading in out:
                self._stream.put(reading)
            await asyncio.sleep(self.poll)
