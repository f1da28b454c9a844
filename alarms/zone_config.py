"""How a zone is configured when nobody says otherwise, and how a configuration is carried over:
the armed modes and the sensor watch a kind gets, the first release's `home` flag as modes, and
the ZoneUpsert that changes one field of a zone and keeps the rest (issue 17).

Pure vocabulary beside alarms/model.py (the `alarms-pure` contract of docs/architecture.md).
"""

from __future__ import annotations

from alarms.model import ARM_TARGETS, ArmTarget, Zone, ZoneKind, ZoneUpsert

__all__ = ["DEFAULT_MODES", "DEFAULT_WATCH_DAYS", "modes_from_home", "ordered_modes", "zone_upsert_of"]

# The armed modes that watch a zone when the installer does not choose: doors and windows are the
# perimeter (every mode), anything inside (motion, a camera) only when nobody is at home.
DEFAULT_MODES: dict[ZoneKind, tuple[ArmTarget, ...]] = {
    "water": ARM_TARGETS,
    "smoke": ARM_TARGETS,
    "power": ARM_TARGETS,
    "panic": ARM_TARGETS,
    "motion": ("away", "vacation"),
    "contact": ARM_TARGETS,
    "camera": ("away", "vacation"),
}


# Sensor watch: days without a change after which a zone in daily use is suspect (0: not watched).
# Doors and rooms are used every day; a smoke or water sensor rightly stays quiet for years.
DEFAULT_WATCH_DAYS: dict[ZoneKind, int] = {
    "water": 0,
    "smoke": 0,
    "power": 0,
    "panic": 0,
    "motion": 14,
    "contact": 14,
    "camera": 0,
}


def modes_from_home(home: bool) -> tuple[ArmTarget, ...]:
    """The modes of a zone configured with the first release's `home` flag: a zone armed at home
    was perimeter (every mode); one that was not, interior (away and vacation)."""
    return ARM_TARGETS if home else ("away", "vacation")


def ordered_modes(modes: object) -> tuple[ArmTarget, ...]:
    """`modes` as a tuple in ARM_TARGETS order without repeats (the API and the journal keep one spelling)."""
    chosen = set(modes) if isinstance(modes, (tuple, list, set, frozenset)) else set()
    return tuple(m for m in ARM_TARGETS if m in chosen)


def zone_upsert_of(zone: Zone, by: str | None, **changes: object) -> ZoneUpsert:
    """The ZoneUpsert that keeps `zone`'s whole configuration but `changes`: a rename must not
    reset the modes or the sensor watch to the kind's defaults."""
    config: dict[str, object] = {
        "id": zone.id,
        "name": zone.name,
        "kind": zone.kind,
        "behaviour": zone.behaviour,
        "modes": zone.modes,
        "device": zone.device,
        "room": zone.room,
        "chime": zone.chime,
        "watch_days": zone.watch_days,
        "areas": zone.areas,
    }
    config.update(changes)
    return ZoneUpsert(by=by, **config)  # type: ignore[arg-type]
