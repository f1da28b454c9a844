"""The GPIO driver's options: a `[[drivers]]` table checked into `GpioLine`s, and the defaults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from alarms.model import BEHAVIOURS, ZONE_KINDS, Behaviour, ZoneKind
from drivers.base import DriverError

__all__ = ["DEFAULT_CHIP", "DEFAULT_DEBOUNCE_MS", "TYPE", "Contact", "GpioLine", "GpioOptions", "Pull", "parse_options"]

TYPE = "gpio"  # GpioDriver.type, and the only `type` key its options may carry

Contact = Literal["no", "nc"]
Pull = Literal["up", "down", "none"]

_OPTIONS = ("chip", "lines", "debounce_ms")
_LINE_KEYS = ("line", "name", "kind", "contact", "pull", "room", "behaviour", "home")
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


@dataclass(frozen=True)
class GpioLine:
    """One configured line: `level` True is electrically high."""

    line: int
    name: str
    kind: ZoneKind
    contact: Contact = "no"
    pull: Pull = "up"
    room: str = ""
    behaviour: Behaviour | None = None
    home: bool | None = None

    @property
    def closed_level(self) -> bool:
        """The level the line reads while its contact is closed (see the package docstring's table)."""
        return self.pull == "down"

    def active(self, level: bool) -> bool:
        """Whether the zone is active at this electrical level."""
        closed = level == self.closed_level
        return closed if self.contact == "no" else not closed


@dataclass(frozen=True)
class GpioOptions:
    chip: str
    lines: tuple[GpioLine, ...]
    debounce: float  # seconds


def parse_options(options: Mapping[str, Any]) -> GpioOptions:
    """Validate a `[[drivers]]` table for gpio; DriverError names the bad key."""
    for key in options:
        if key == "type":
            if options[key] != TYPE:
                raise DriverError(f"gpio driver given option type = {options[key]!r}")
        elif key not in _OPTIONS:
            raise DriverError(f"gpio driver: unknown option {key!r}; known options: {', '.join(_OPTIONS)}")
    chip = options.get("chip", DEFAULT_CHIP)
    if not isinstance(chip, str) or not chip.strip():
        raise DriverError(f"gpio driver: option 'chip' must be a GPIO chip path like /dev/gpiochip0, got {chip!r}")
    lines = _parse_lines(options.get("lines"))
    debounce_ms = options.get("debounce_ms", DEFAULT_DEBOUNCE_MS)
    if (
        isinstance(debounce_ms, bool)
        or not isinstance(debounce_ms, int | float)
        or not math.isfinite(debounce_ms)
        or not 0 <= debounce_ms <= 10_000
    ):
        raise DriverError(f"gpio driver: option 'debounce_ms' must be 0-10000 milliseconds, got {debounce_ms!r}")
    return GpioOptions(chip=chip, lines=lines, debounce=float(debounce_ms) / 1000)


def _parse_lines(value: Any) -> tuple[GpioLine, ...]:
    if not isinstance(value, list | tuple) or not value or not all(isinstance(item, Mapping) for item in value):
        raise DriverError("gpio driver: option 'lines' must be a non-empty array of tables [{line, name, kind}, ...]")
    lines: list[GpioLine] = []
    seen: set[int] = set()
    for index, item in enumerate(value):
        where = f"gpio driver: lines[{index}]"
        unknown = [key for key in item if key not in _LINE_KEYS]
        if unknown:
            raise DriverError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(_LINE_KEYS)}")
        number = item.get("line")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise DriverError(f"{where}: 'line' must be a line offset (0, 1, ...), got {number!r}")
        if number in seen:
            raise DriverError(f"{where}: line {number} is configured twice")
        seen.add(number)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DriverError(f"{where}: 'name' must be a non-empty string, got {name!r}")
        kind = item.get("kind")
        if kind not in ZONE_KINDS:
            raise DriverError(f"{where}: 'kind' must be one of {', '.join(ZONE_KINDS)}, got {kind!r}")
        contact = item.get("contact", "no")
        if contact not in ("no", "nc"):
            raise DriverError(f'{where}: \'contact\' must be "no" (normally open) or "nc" (normally closed)')
        pull = item.get("pull", "up")
        if not isinstance(pull, str) or pull.lower() not in _PULLS:
            raise DriverError(f'{where}: \'pull\' must be "up", "down" or "none", got {pull!r}')
        room = item.get("room", "")
        if not isinstance(room, str):
            raise DriverError(f"{where}: 'room' must be a string, got {room!r}")
        behaviour = item.get("behaviour")
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise DriverError(f"{where}: 'behaviour' must be one of {', '.join(BEHAVIOURS)}, got {behaviour!r}")
        home = item.get("home")
        if home is not None and not isinstance(home, bool):
            raise DriverError(f"{where}: 'home' must be true or false, got {home!r}")
        lines.append(
            GpioLine(
                line=number,
                name=name.strip(),
                kind=cast(ZoneKind, kind),
                contact=cast(Contact, contact),
                pull=_PULLS[pull.lower()],
                room=room,
                behaviour=cast("Behaviour | None", behaviour),
                home=home,
            )
        )
    return tuple(lines)
