"""The one rule for changes while the alarm is on: nothing that protects the house changes.

While the mode is anything but `disarmed` (arming, armed, entry delay, alarm), nobody - owner,
member, installer or token - changes zones, pairs, unpairs, renames or removes devices, changes
the alarm timings, scans for new devices, replaces a camera's event token (its motion zone would
go quiet) or starts a walk test: the routes that would call
`refuse_while_armed` first and answer 409 `system_armed`. Users, codes and contacts are not zone
protection and stay changeable (an owner away from home must be able to take a lost code off).
This module never changes anything itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.web.errors import ApiError

if TYPE_CHECKING:
    from hub.core.runtime import Hub

__all__ = ["refuse_while_armed"]


def refuse_while_armed(hub: Hub) -> None:
    """Raise 409 `system_armed` unless the system is disarmed."""
    mode = hub.state.mode
    if mode != "disarmed":
        raise ApiError(
            409,
            "system_armed",
            f"the system is not disarmed ({mode}): disarm it first, then change zones, devices or settings",
            mode=mode,
        )
