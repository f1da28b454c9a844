"""The scanner seam: what `BTHomeDriver` needs of a BLE scanner, and the real one, bleak's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

from drivers.bthome.frames import UUID16_LE

if TYPE_CHECKING:
    from bleak.args.bluez import BlueZScannerArgs
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

__all__ = ["AdvertisementCallback", "ScanMode", "Scanner", "ScannerFactory", "bleak_scanner_factory"]

ScanMode = Literal["passive", "active"]
AdvertisementCallback = Callable[["BLEDevice", "AdvertisementData"], None]


class Scanner(Protocol):
    """What the driver needs of a scanner (a `BleakScanner` has it)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ScannerFactory = Callable[[AdvertisementCallback, ScanMode], Scanner]


def bleak_scanner_factory(adapter: str) -> ScannerFactory:
    """Build `BleakScanner`s on `adapter`; passive ones only pass adverts with 0xFCD2 service data."""

    def make(callback: AdvertisementCallback, mode: ScanMode) -> Scanner:
        # bleak is imported when a scanner is made, not with the package: `config check`
        # loads the driver class only for its Options.
        from bleak import BleakScanner
        from bleak.args.bluez import OrPattern
        from bleak.assigned_numbers import AdvertisementDataType

        bluez: BlueZScannerArgs = {"adapter": adapter}
        if mode == "passive":
            bluez["or_patterns"] = [OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, UUID16_LE)]
        return BleakScanner(callback, None, mode, bluez=bluez)

    return make
