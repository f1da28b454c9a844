"""What the hub can do in the home: the vocabulary of outputs (sirens, water valves, relays).

Shared by the engine (which decides what every output should be doing), the drivers (which
turn a `Command` into a protocol message and report what the device says it is doing, as an
`OutputStatus`) and the shell (which journals each command, sends it, and retries it until the
device's reported status confirms it). Pure values only; the names are a contract: extend
them, never rename one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, get_args

import msgspec

if TYPE_CHECKING:
    # Only an annotation here: alarms.model imports this module (its Output and output events
    # are made of this vocabulary), so a runtime import back would be a cycle.
    from alarms.model import IncidentKind

# siren: a warning device (sound patterns, optional strobe, a short squawk); valve: a water
# shut-off (closed/open); switch: a relay (a wired bell, a light, a gate).
OutputKind = Literal["siren", "valve", "switch"]
OUTPUT_KINDS: tuple[OutputKind, ...] = get_args(OutputKind)

# What the hub asks of an output.
# Sirens: burglar, fire, emergency (sound for `seconds`), stop; squawk_armed, squawk_disarmed
# and chime are short confirmation beeps. Valves: close, open. Switches: on, off.
Action = Literal[
    "burglar", "fire", "emergency", "stop", "squawk_armed", "squawk_disarmed", "chime", "close", "open", "on", "off"
]
ACTIONS: tuple[Action, ...] = get_args(Action)
SIREN_ACTIONS: tuple[Action, ...] = ("burglar", "fire", "emergency", "stop", "squawk_armed", "squawk_disarmed", "chime")
ACTIONS_FOR_KIND: dict[OutputKind, tuple[Action, ...]] = {
    "siren": SIREN_ACTIONS,
    "valve": ("close", "open"),
    "switch": ("on", "off"),
}

# What an output reports it is doing (a driver's `OutputReading.status`).
OutputStatus = Literal["sounding", "silent", "closed", "open", "on", "off"]
OUTPUT_STATUSES: tuple[OutputStatus, ...] = get_args(OutputStatus)

# The reported status that confirms an action; None: a short beep nobody can confirm, done
# once the driver has sent it.
CONFIRMED_BY: dict[Action, OutputStatus | None] = {
    "burglar": "sounding",
    "fire": "sounding",
    "emergency": "sounding",
    "stop": "silent",
    "squawk_armed": None,
    "squawk_disarmed": None,
    "chime": None,
    "close": "closed",
    "open": "open",
    "on": "on",
    "off": "off",
}

# Which incidents drive an output when its pairing does not say (`on = [...]`).
DEFAULT_ON: dict[OutputKind, tuple[IncidentKind, ...]] = {
    "siren": ("intrusion", "fire"),
    "valve": ("water",),
    "switch": (),
}

Level = Literal["low", "medium", "high", "very_high"]


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One thing an output is asked to do: `action`, for `seconds` where it sounds or beeps."""

    action: Action
    seconds: Annotated[float, msgspec.Meta(ge=0, le=86_400)] | None = None
    level: Level = "high"
    strobe: bool = True
