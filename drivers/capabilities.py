"""What a driver is and can do beyond the `Driver` protocol, said by the driver itself.

The shell never names a driver type to decide how to treat it (docs/architecture.md, "where
to add a driver"): a built-in and a third-party driver are asked the same questions.

- Facts about a driver type are `DriverTraits`, a class attribute `traits` (absent: the
  defaults). `traits_of(type_name)` reads them through the entry point, for places that only
  know a driver's key (`type` or `type#name`) from the database.
- Optional abilities of a running driver are `runtime_checkable` Protocols, checked with
  `isinstance`: a driver that reports a broker connection, offers cameras, controls a
  camera, is driven by hand (the demo's simulator), or drives outputs (sirens, valves,
  relays: `OutputDriver`).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import msgspec

from alarms.model import ZoneKind
from alarms.outputs import Command
from drivers.base import DriverError

if TYPE_CHECKING:
    from drivers.camera.feed import CameraFeed

__all__ = [
    "CameraControls",
    "DrivenByHand",
    "DriverTraits",
    "NormalisesAddress",
    "OffersCameras",
    "OutputDriver",
    "ReportsConnection",
    "traits_of",
]


class DriverTraits(msgspec.Struct, frozen=True, kw_only=True):
    """Facts about every device of a driver type.

    `wireless`: its devices talk over the air, so without a heartbeat a dead battery looks
    like a quiet room (the commissioning report checks supervision for them).
    `powers_hub`: it watches the hub's own supply (a UPS, the mains adapter): its low battery
    or lost mains is the hub's, raised as a system fault, and the report counts it as standby power.
    `signal_unit`: what `HealthReading.signal` means: RSSI in dBm, or link quality (LQI 0..255).
    """

    wireless: bool = False
    powers_hub: bool = False
    signal_unit: Literal["dBm", "lqi"] = "dBm"


DEFAULT_TRAITS = DriverTraits()


@runtime_checkable
class _Described(Protocol):
    traits: DriverTraits


@cache
def traits_of(driver_key: str) -> DriverTraits:
    """The traits of the driver type in `driver_key` (`type` or `type#name`); the defaults for a
    type that is not installed (a device paired under a driver since removed)."""
    from drivers.registry import load_driver  # entry points: read once per type (cached)

    try:
        cls = load_driver(driver_key.split("#")[0])
    except DriverError:
        return DEFAULT_TRAITS
    traits = cls.traits if isinstance(cls, _Described) else DEFAULT_TRAITS
    return traits if isinstance(traits, DriverTraits) else DEFAULT_TRAITS


@runtime_checkable
class ReportsConnection(Protocol):
    """A driver behind a broker or daemon that can be down while the driver runs (zigbee2mqtt)."""

    @property
    def connected(self) -> bool: ...


@runtime_checkable
class OffersCameras(Protocol):
    """A driver with camera feeds (the camera driver, the demo kit): photo verification and live view."""

    def cameras(self) -> list[CameraFeed]: ...


@runtime_checkable
class CameraControls(Protocol):
    """A camera driver: who detects motion (`hub`, `camera` events, `off`), how long its photos
    are kept, arming (frames are sampled only while armed) and motion events pushed by the camera."""

    motion: str
    retention_days: float

    def set_armed(self, armed: bool) -> None: ...

    def camera_event(self, motion: bool) -> None: ...


@runtime_checkable
class DrivenByHand(Protocol):
    """A driver whose devices the dashboard can switch (the demo's simulated kit)."""

    async def set_active(self, address: str, kind: ZoneKind, active: bool) -> None: ...


@runtime_checkable
class NormalisesAddress(Protocol):
    """A driver whose addresses have one canonical spelling (BLE MACs in upper case)."""

    def normalise_address(self, address: str) -> str: ...


@runtime_checkable
class OutputDriver(Protocol):
    """A driver with outputs (sirens, water valves, relays): the devices it offers or declares
    with `outputs`, commanded here.

    `command` returns once the command is sent (published to the broker, the line set); it
    raises DriverError when it cannot be sent (the broker is down, the address is not an
    output of this driver, the action is not one of the output's kind). Whether the device
    did it comes back as an `OutputReading` from `readings()`, which the hub waits for
    (alarms.outputs.CONFIRMED_BY) and retries without.
    """

    async def command(self, address: str, command: Command) -> None: ...
