"""How long the words people give the hub may be: names and rooms 64 characters, reasons and
labels 200.

Every way in checks the same bounds (the HTTP API's body Structs, the CLI, the config file), so
no value too long for an SMS, a dashboard row or the journal gets stored; a name that comes
from a device (a zigbee2mqtt friendly name, a model) is cut with `clip`, never refused.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

NAME_MAX = 64  # user-given names and rooms: zones, devices, contacts, cameras, the hub
TEXT_MAX = 200  # reasons and labels

# For msgspec body Structs: a longer value is a 400 naming the field (hub/web/errors.py read_body).
Name = Annotated[str, msgspec.Meta(max_length=NAME_MAX)]
Text = Annotated[str, msgspec.Meta(max_length=TEXT_MAX)]


def too_long(value: str, limit: int = NAME_MAX) -> str | None:
    """The reason a user-given value is refused, or None when it fits."""
    if len(value) > limit:
        return f"at most {limit} characters, got {len(value)}"
    return None


def clip(value: str, limit: int = NAME_MAX) -> str:
    """A value that came from a device, cut to `limit` characters (never refused)."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"
