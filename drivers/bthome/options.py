"""The BTHome driver's options: a `[[drivers]]` table checked, and the defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from drivers.base import DriverError

__all__ = ["DEFAULT_ADAPTER", "TYPE", "parse_options"]

TYPE = "bthome"  # BTHomeDriver.type, and the only `type` key its options may carry
DEFAULT_ADAPTER = "hci0"


def parse_options(options: Mapping[str, Any]) -> tuple[str, bool]:
    """Validate the options; return (adapter, passive)."""
    known = ("adapter", "passive")
    for key in options:
        if key == "type":
            if options[key] != TYPE:
                raise DriverError(f"bthome driver given option type = {options[key]!r}")
            continue
        if key not in known:
            raise DriverError(f"bthome driver: unknown option {key!r}; known options: {', '.join(known)}")
    adapter = options.get("adapter", DEFAULT_ADAPTER)
    if not isinstance(adapter, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", adapter):
        raise DriverError(f"bthome driver: option 'adapter' must be an adapter name like 'hci0', got {adapter!r}")
    passive = options.get("passive", True)
    if not isinstance(passive, bool):
        raise DriverError(f"bthome driver: option 'passive' must be true or false, got {passive!r}")
    return adapter, passive
