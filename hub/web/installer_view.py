"""What an installer sees: the installation, never the household's comings and goings.

An installer (EN 50131 access level 3, a time-limited token granted by an owner) commissions
zones, devices, pairing and the walk test. Nothing an installer reads tells who armed or
disarmed, when, or from where: the event log and the live stream show an installer only the
kinds of INSTALLER_EVENTS, and every person's name or address in what they do see (`by`,
`actor`, `user`, `address`) is blanked, except the installer's own. The mode itself stays
visible: an installer must know the system is armed to understand a 409 `system_armed`.
Pure functions over JSON-like values; nothing here reads the hub.
"""

from __future__ import annotations

from typing import Any

from hub.store.accounts import Principal

__all__ = ["INSTALLER_EVENTS", "for_installer", "installer_may_see_event", "is_installer"]

# Event kinds about the installation. Not here, so hidden: arming, disarming and mode changes,
# logins and wrong codes, exclusions (they begin and end with arming), incidents and their
# handling, sensor readings (who is moving where at home), users, contacts and cameras.
INSTALLER_EVENTS: frozenset[str] = frozenset(
    {
        "zone_upsert",
        "zone_remove",
        "zone_changed",
        "zone_removed",
        "device_paired",
        "device_removed",
        "device_renamed",
        "device_health",
        "unknown_device",
        "unknown_zone",
        # Sirens, valves and relays as installed and tried: never what they did for an alarm, an
        # arming or a disarming (output_command, output_status), which would tell comings and goings.
        "output_upsert",
        "output_remove",
        "output_changed",
        "output_removed",
        "output_test",
        "output_test_refused",
        "output_tamper_tested",
        "output_failed",
        "unknown_output",
        "walk_test_start",
        "walk_test_stop",
        "walk_test_started",
        "walk_test_activation",
        "walk_test_ended",
        "walk_test_refused",
        "walk_test_noop",
        "anomaly_raised",
        "anomaly_cleared",
        "system_fault",
        "test_messages_sent",
        "configure",
        "settings_changed",
        "alarm_settings_saved",
        "alarm_settings_reset",
        "hub_started",
        "clock_step",
    }
)
PERSONAL_KEYS = frozenset({"by", "actor", "user", "username", "address"})
HIDDEN = None  # what a blanked name reads as


def is_installer(principal: Principal) -> bool:
    return principal.role == "installer"


def installer_may_see_event(kind: str | None) -> bool:
    return kind in INSTALLER_EVENTS


def for_installer(value: Any, reader: str) -> Any:
    """`value` with every person's name or address blanked, but the reader's own (`reader` is the
    principal's name, `token:<id>`). Returns a copy; `value` is left as it is."""
    if isinstance(value, dict):
        return {
            k: (v if v == reader else HIDDEN)
            if k in PERSONAL_KEYS and not isinstance(v, (dict, list))
            else for_installer(v, reader)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [for_installer(v, reader) for v in value]
    return value
