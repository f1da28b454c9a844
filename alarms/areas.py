"""Areas (partitions): each area of the house runs its own intrusion machine (alarms/engine.py).

A house has one area until the installer configures a second (`[[areas]]`): a flat and its
garage, the ground floor and the first. Each area arms, counts its delays and opens its
incidents on its own. A zone belongs to one or more areas (none said: the first); a zone in
several (a shared hall) protects only while *every* one of them is armed in a mode that watches
it, so whoever is still at home in one area can walk through the hall.

The whole house, as the first release's single machine showed it, is the most urgent area:
triggered, then pending, arming, armed, disarmed. With one area, that area is the house and no
effect names an area (the journal reads as it did before areas).

Pure: no clock, no I/O (the `alarms-pure` contract of docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alarms.model import (
    ARM_TARGETS,
    Activation,
    AreaState,
    ArmTarget,
    LedPattern,
    Mode,
    State,
    Zone,
)

__all__ = [
    "ARMED_MODE",
    "ARMED_MODES",
    "ARMING",
    "ARMING_MODES",
    "AreaRun",
    "area_ids",
    "armed_like",
    "house_of",
    "led_for",
    "load_areas",
    "others_watch",
    "zone_areas",
]

ARMING: dict[ArmTarget, Mode] = {
    "home": "arming_home",
    "away": "arming_away",
    "night": "arming_night",
    "vacation": "arming_vacation",
}
ARMED_MODE: dict[ArmTarget, Mode] = {
    "home": "armed_home",
    "away": "armed_away",
    "night": "armed_night",
    "vacation": "armed_vacation",
}
ARMING_MODES: frozenset[Mode] = frozenset(ARMING.values())
ARMED_MODES: frozenset[Mode] = frozenset(ARMED_MODE.values())
assert set(ARMING) == set(ARMED_MODE) == set(ARM_TARGETS)


def _urgency(mode: Mode) -> int:
    if mode == "triggered":
        return 4
    if mode == "pending":
        return 3
    if mode in ARMING_MODES:
        return 2
    return 1 if mode in ARMED_MODES else 0


def armed_like(mode: Mode) -> bool:
    """Armed, or in an alarm or entry delay of an armed period (not arming: the exit delay is
    the time to leave, through a shared hall too)."""
    return mode in ARMED_MODES or mode in ("pending", "triggered")


class AreaRun:
    """One area's machine during an engine step (the mutable copy of an AreaState)."""

    __slots__ = ("armed_by", "deadline", "entry_activations", "entry_zone", "id", "mode", "target")

    def __init__(self, area_id: str, saved: AreaState) -> None:
        self.id = area_id
        self.mode: Mode = saved.mode
        self.target: ArmTarget | None = saved.target
        self.deadline: float | None = saved.deadline
        self.entry_zone: str | None = saved.entry_zone
        self.entry_activations: list[Activation] = list(saved.entry_activations)
        self.armed_by: str | None = saved.armed_by

    def freeze(self) -> AreaState:
        return AreaState(
            mode=self.mode,
            target=self.target,
            deadline=self.deadline,
            entry_zone=self.entry_zone,
            entry_activations=tuple(self.entry_activations),
            armed_by=self.armed_by,
        )


def area_ids(state: State) -> list[str]:
    """The configured areas in order (the first is the default one)."""
    return [a.id for a in state.settings.areas] or ["casa"]


def load_areas(state: State) -> dict[str, AreaRun]:
    """Each configured area's machine. A state with one area (or from before areas) keeps it in
    the top-level fields: that machine is the first area's."""
    ids = area_ids(state)
    house = AreaState(
        mode=state.mode,
        target=state.target,
        deadline=state.deadline,
        entry_zone=state.entry_zone,
        entry_activations=state.entry_activations,
        armed_by=state.armed_by,
    )
    runs: dict[str, AreaRun] = {}
    for index, area_id in enumerate(ids):
        saved = state.areas.get(area_id)
        if saved is None:
            saved = house if index == 0 and not state.areas else AreaState()
        runs[area_id] = AreaRun(area_id, saved)
    return runs


def house_of(areas: Sequence[AreaRun]) -> AreaRun:
    """The most urgent area (the first one on a tie): what the whole house shows."""
    return max(areas, key=lambda a: _urgency(a.mode)) if len(areas) > 1 else areas[0]


def led_for(areas: Sequence[AreaRun]) -> LedPattern:
    mode = house_of(areas).mode
    if mode in ("triggered", "pending"):
        return "alarm"
    if mode in ARMING_MODES:
        return "arming"
    return "armed" if mode in ARMED_MODES else "ok"


def zone_areas(zone: Zone, known: Sequence[str]) -> list[str]:
    """The areas a zone belongs to that exist; none of them: the first area."""
    found = [a for a in zone.areas if a in known]
    return found or [known[0]]


def others_watch(zone: Zone, area: str, areas: Mapping[str, AreaRun], known: Sequence[str]) -> bool:
    """Every other area of `zone` is armed in a mode that watches it (true for a zone of one area)."""
    for other in zone_areas(zone, known):
        if other == area:
            continue
        run = areas[other]
        if not armed_like(run.mode) or run.target is None or run.target not in zone.modes:
            return False
    return True
