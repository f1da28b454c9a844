"""BTHome v2 sensors over Bluetooth Low Energy: adverts in, readings out."""

from __future__ import annotations

from drivers.bthome.driver import _COMMAND as _COMMAND
from drivers.bthome.driver import _FIXED_LENGTHS as _FIXED_LENGTHS
from drivers.bthome.driver import _LENGTH_BYTE as _LENGTH_BYTE
from drivers.bthome.driver import (
    BTHOME_UUID,
    CANDIDATE_WINDOW,
    DUPLICATE_WINDOW,
    MAX_UNPAIRED,
    REGULAR_INTERVAL,
    TAMPER_HOLD,
    TRIGGER_INTERVAL,
    BTHomeDriver,
    DeviceReport,
    Frame,
    FrameError,
    ScanMode,
    Scanner,
    ScannerFactory,
    bleak_scanner_factory,
    decrypt_frame,
    interpret,
    parse_objects,
    split_frame,
)

__all__ = [
    "BTHOME_UUID",
    "CANDIDATE_WINDOW",
    "DUPLICATE_WINDOW",
    "MAX_UNPAIRED",
    "REGULAR_INTERVAL",
    "TAMPER_HOLD",
    "TRIGGER_INTERVAL",
    "BTHomeDriver",
    "DeviceReport",
    "Frame",
    "FrameError",
    "ScanMode",
    "Scanner",
    "ScannerFactory",
    "bleak_scanner_factory",
    "decrypt_frame",
    "interpret",
    "parse_objects",
    "split_frame",
]
