"""The NUT driver's options: the `[[drivers]]` table as a Struct (drivers/options.py), and the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from drivers.options import Host, OptionError, Port, Seconds, SecondsOrZero, parse

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TYPE", "NutOptions", "parse_options"]

TYPE = "nut"  # NutDriver.type, and the only `type` key its options may carry
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3493

# A UPS name as ups.conf allows it: no spaces or quotes.
UpsName = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", description="a UPS name (letters, digits, _, ., -)")
]
# upsd's protocol is line based: a credential holds no line break.
OneLine = Annotated[str, msgspec.Meta(pattern=r"^[^\r\n]+$", description="a non-empty string on one line")]


class NutOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which upsd, which UPS(es), and how often to ask."""

    host: Host = DEFAULT_HOST
    port: Port = DEFAULT_PORT
    ups: UpsName | Annotated[list[UpsName], msgspec.Meta(min_length=1)] | None = None
    username: OneLine | None = None
    password: OneLine | None = None
    debounce: SecondsOrZero = 60.0
    poll: Seconds = 5.0
    timeout: Seconds = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.ups, list) and len(set(self.ups)) != len(self.ups):
            raise OptionError("ups", f"option 'ups' names a UPS twice: {self.ups!r}")

    def runnable(self) -> None:
        """A UPS to watch (`config check` has never asked for one)."""
        if self.ups is None:
            raise OptionError("ups", "option 'ups' is required: the UPS name as in upsd's ups.conf (`upsc -l`)")

    @property
    def ups_names(self) -> tuple[str, ...]:
        """The UPS names, one or many as written."""
        return () if self.ups is None else (self.ups,) if isinstance(self.ups, str) else tuple(self.ups)

    def __repr__(self) -> str:
        password = "***" if self.password is not None else None  # never in a log
        return (
            f"NutOptions(host={self.host!r}, port={self.port!r}, ups={self.ups!r}, username={self.username!r}, "
            f"password={password}, debounce={self.debounce!r}, poll={self.poll!r}, timeout={self.timeout!r})"
        )


def parse_options(options: Mapping[str, Any]) -> NutOptions:
    """Validate a `[[drivers]]` table for nut; DriverError names the bad key."""
    return parse(NutOptions, TYPE, options)
