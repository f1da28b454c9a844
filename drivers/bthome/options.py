"""The BTHome driver's options: the `[[drivers]]` table as a Struct (drivers/options.py), and the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from drivers.options import parse

__all__ = ["DEFAULT_ADAPTER", "TYPE", "BTHomeOptions", "parse_options"]

TYPE = "bthome"  # BTHomeDriver.type, and the only `type` key its options may carry
DEFAULT_ADAPTER = "hci0"

Adapter = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="a Bluetooth adapter name like 'hci0'")
]


class BTHomeOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which adapter listens, and whether passively (no scan requests sent)."""

    adapter: Adapter = DEFAULT_ADAPTER
    passive: bool = True


def parse_options(options: Mapping[str, Any]) -> BTHomeOptions:
    """Validate a `[[drivers]]` table for bthome; DriverError names the bad key."""
    return parse(BTHomeOptions, TYPE, options)
