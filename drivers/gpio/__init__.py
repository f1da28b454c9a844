"""Wired dry contacts (door contacts, PIRs with relay outputs, panic buttons, leak probes) on GPIO lines."""

from __future__ import annotations

from drivers.gpio.driver import _BACKOFF_FIRST as _BACKOFF_FIRST
from drivers.gpio.driver import _BACKOFF_MAX as _BACKOFF_MAX
from drivers.gpio.driver import (
    EdgeSource,
    EdgeSourceFactory,
    GpioDriver,
    GpioLine,
    LibgpiodEdgeSource,
    LineDebounce,
)

__all__ = [
    "EdgeSource",
    "EdgeSourceFactory",
    "GpioDriver",
    "GpioLine",
    "LibgpiodEdgeSource",
    "LineDebounce",
]
