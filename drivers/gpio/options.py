"""The GPIO driver's options: the `[[drivers]]` table as a Struct of `GpioLine`s (drivers/options.py).

A line is an input (a zone: `kind`, `contact`, `pull`, `behaviour`, `home`) or an output (a
siren, a valve or a switch: `output`, `active`), never both; `name` and `room` are for either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec.structs import force_setattr

from alarms.model import Behaviour, ZoneKind
from alarms.outputs import OutputKind
from drivers.options import NAME_MAX, Name, OptionError, parse

__all__ = [
    "DEFAULT_CHIP",
    "DEFAULT_DEBOUNCE_MS",
    "TYPE",
    "ActiveLevel",
    "Contact",
    "GpioLine",
    "GpioOptions",
    "Pull",
    "parse_options",
]

TYPE = "gpio"  # GpioDriver.type, and the only `type` key its options may carry

Contact = Literal["no", "nc"]
# The level at which an output line drives its device (sounds the siren, closes the valve,
# turns the switch on): "high" for a relay board switched by a high line, "low" for the many
# boards whose inputs are active low.
ActiveLevel = Literal["high", "low"]
Pull = Literal["up", "down", "none"]
# What `pull` accepts: the three names and the spellings wiring guides use for them.
PullGiven = Literal["up", "down", "none", "pull-up", "pull_up", "pull-down", "pull_down", "disabled", "off"]
_PULLS: dict[str, Pull] = {
    "up": "up",
    "pull-up": "up",
    "pull_up": "up",
    "down": "down",
    "pull-down": "down",
    "pull_down": "down",
    "none": "none",
    "disabled": "none",
    "off": "none",
}
DEFAULT_CHIP = "/dev/gpiochip0"
DEFAULT_DEBOUNCE_MS = 50

Offset = Annotated[int, msgspec.Meta(ge=0, description="a line offset (0, 1, ...)")]
Room = Annotated[str, msgspec.Meta(max_length=NAME_MAX)]
Chip = Annotated[str, msgspec.Meta(min_length=1, pattern=r"\S", description="a GPIO chip path like /dev/gpiochip0")]


class GpioLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One configured line, an input (`kind`) or an output (`output`): `level` True is electrically high."""

    line: Offset
    name: Name
    kind: ZoneKind | None = None
    contact: Contact = "no"
    pull: PullGiven = "up"  # one of Pull once built: the other spellings are turned into theirs
    room: Room = ""
    behaviour: Behaviour | None = None
    home: bool | None = None
    output: OutputKind | None = None
    # `active` in the config; the attribute has another name because `active()` reads an input.
    active_level: ActiveLevel | None = msgspec.field(default=None, name="active")

    def __post_init__(self) -> None:
        force_setattr(self, "name", self.name.strip())
        force_setattr(self, "pull", _PULLS[self.pull])
        if self.kind is None and self.output is None:
            raise OptionError(
                "kind", f"line {self.line}: `kind` (an input: a zone) or `output` (siren, valve or switch) is missing"
            )
        if self.kind is not None and self.output is not None:
            raise OptionError(
                "output", f"line {self.line} has both `kind` and `output`: a line is an input or an output, not both"
            )
        if self.output is not None:
            if self.contact != "no" or self.pull != "up" or self.behaviour is not None or self.home is not None:
                raise OptionError(
                    "output", f"line {self.line} is an output: `contact`, `pull`, `behaviour` and `home` are for inputs"
                )
            if self.active_level is None:
                force_setattr(self, "active_level", "high")
        elif self.active_level is not None:
            raise OptionError("active", f"line {self.line} is an input: `active` is for output lines (use `contact`)")

    @property
    def zone_kind(self) -> ZoneKind:
        """An input line's kind (the options made sure an input has one)."""
        if self.kind is None:
            raise ValueError(f"line {self.line} is an output, not a zone")
        return self.kind

    @property
    def output_kind(self) -> OutputKind:
        """An output line's kind (the options made sure an output has one)."""
        if self.output is None:
            raise ValueError(f"line {self.line} is an input, not an output")
        return self.output

    def level_for(self, energised: bool) -> bool:
        """The level an output line is driven to so that its device is `energised` (sounding,
        closed, on) or not."""
        return energised == (self.active_level != "low")

    def energised(self, level: bool) -> bool:
        """Whether an output line at this level drives its device."""
        return level == (self.active_level != "low")

    @property
    def closed_level(self) -> bool:
        """The level the line reads while its contact is closed (see the package docstring's table)."""
        return self.pull == "down"

    def active(self, level: bool) -> bool:
        """Whether the zone is active at this electrical level."""
        closed = level == self.closed_level
        return closed if self.contact == "no" else not closed


class GpioOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The chip, its lines (each line once), and the debounce."""

    lines: Annotated[
        list[GpioLine],
        msgspec.Meta(
            min_length=1,
            description="a non-empty array of tables [{line, name, kind}, ...] or [{line, name, output}, ...]",
        ),
    ]
    chip: Chip = DEFAULT_CHIP
    debounce_ms: Annotated[float, msgspec.Meta(ge=0, le=10_000, description="0-10000 milliseconds")] = (
        DEFAULT_DEBOUNCE_MS
    )

    def __post_init__(self) -> None:
        seen: dict[int, int] = {}
        for index, line in enumerate(self.lines):
            if line.line in seen:
                raise OptionError(
                    f"lines[{index}].line", f"line {line.line} is configured twice (also lines[{seen[line.line]}])"
                )
            seen[line.line] = index

    @property
    def inputs(self) -> tuple[GpioLine, ...]:
        return tuple(line for line in self.lines if line.kind is not None)

    @property
    def outputs(self) -> tuple[GpioLine, ...]:
        return tuple(line for line in self.lines if line.output is not None)

    @property
    def debounce(self) -> float:
        """Seconds."""
        return self.debounce_ms / 1000


def parse_options(options: Mapping[str, Any]) -> GpioOptions:
    """Validate a `[[drivers]]` table for gpio; DriverError names the bad key."""
    return parse(GpioOptions, TYPE, options)
