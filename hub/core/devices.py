"""A paired device as the hub keeps it: its `devices` row plus the telemetry heard live.

Its own module so that the views (hub/core/views.py) and the hub (hub/core/runtime.py) can
both name it without importing each other (pyproject's `hub-acyclic` contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DeviceRecord:
    id: str
    driver: str
    address: str
    name: str
    room: str
    model: str
    battery: float | None = None
    signal: int | None = None
    last_seen: float | None = None
    online: bool = True
    created_at: float = 0.0
    bindkey: str | None = field(default=None, repr=False)


def device_from_row(row: Any) -> DeviceRecord:
    """A `devices` row as read at start-up (hub/core/runtime.py recover)."""
    return DeviceRecord(
        id=row["id"],
        driver=row["driver"],
        address=row["address"],
        name=row["name"],
        room=row["room"],
        model=row["model"],
        battery=row["battery"],
        signal=row["signal"],
        last_seen=row["last_seen"],
        online=bool(row["online"]),
        created_at=row["created_at"],
        bindkey=row["bindkey"],
    )
