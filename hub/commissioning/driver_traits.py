"""What the report needs to know of a driver, asked of the driver itself (drivers/capabilities.py):
a driver's key is `type` or `type#name`, and a third-party driver answers like a built-in one."""

from __future__ import annotations

from drivers.capabilities import traits_of


def _wireless(driver: str) -> bool:
    """Devices that talk over the air: without a heartbeat a dead battery looks like a quiet room."""
    return traits_of(driver).wireless


def _signal_unit(driver: str) -> str:
    """Zigbee reports link quality (LQI 0..255), the other radios dBm (as hub/core/views.py zone_signal)."""
    return traits_of(driver).signal_unit


def _standby_power(driver: str) -> bool:
    """A UPS or the mains adapter: what keeps the hub running in a power cut."""
    return traits_of(driver).powers_hub
