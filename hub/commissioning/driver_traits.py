"""What the report needs to know of a driver, by its type (a driver's key is `type` or `type#name`).

The only place the report names driver types: if drivers come to declare these traits themselves,
this module is what changes.
"""

from __future__ import annotations

# Drivers whose devices talk over the air: without a heartbeat a dead battery looks like a quiet room.
WIRELESS_DRIVERS = frozenset({"bthome", "zigbee2mqtt", "simulated"})
STANDBY_POWER_DRIVERS = ("nut", "power_supply")


def _wireless(driver: str) -> bool:
    return driver.split("#")[0] in WIRELESS_DRIVERS


def _signal_unit(driver: str) -> str:
    """Zigbee reports link quality (LQI 0..255), the other radios dBm (as hub/core/runtime.py zone_signal)."""
    return "lqi" if driver.split("#")[0] == "zigbee2mqtt" else "dBm"


def _standby_power(driver: str) -> bool:
    return driver.split("#")[0] in STANDBY_POWER_DRIVERS
