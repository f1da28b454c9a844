"""The payload of a report to the monitoring centre: the engine's Report plus the zone and user
numbers the centre's protocol carries (hub/transports/dc09.py), at most three digits each.

A zone gets its number the first time it is reported, in the same transaction as the report's
outbox row, and keeps it. While storage fails the numbers already known are used.
"""

from __future__ import annotations

from typing import Any

import aiosqlite
import msgspec

from alarms.model import AlarmSettings, Report


def partition_of(settings: AlarmSettings | None, area: str | None) -> int:
    """The DC-09 partition (CID group, SIA `ri`) of an area: its place in `[[areas]]`, from 1. A
    report of the whole house (no area) is the first area's, as with one area."""
    if settings is None or area is None:
        return 1
    ids = [a.id for a in settings.areas]
    return ids.index(area) + 1 if area in ids else 1


def _base(report: Report, settings: AlarmSettings | None) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(report)
    payload.pop("type", None)
    payload["partition"] = partition_of(settings, report.area)
    return payload


async def report_payload(
    conn: aiosqlite.Connection, report: Report, zone_numbers: dict[str, int], settings: AlarmSettings | None = None
) -> dict[str, Any]:
    """The payload, numbering the zone if it has no number yet; `zone_numbers` learns it."""
    payload = _base(report, settings)
    payload["zone_number"] = None
    payload["user_number"] = None
    if report.zone:
        await conn.execute(
            "INSERT OR IGNORE INTO zone_numbers (zone, number)"
            " SELECT ?, COALESCE(MAX(number), 0) + 1 FROM zone_numbers",
            (report.zone,),
        )
        async with conn.execute("SELECT number FROM zone_numbers WHERE zone = ?", (report.zone,)) as cur:
            row = await cur.fetchone()
        payload["zone_number"] = int(row[0]) % 1000 if row else None
        if row:
            zone_numbers[report.zone] = payload["zone_number"]
    if report.user:
        # "anna" or "anna (token:ab12)": the person is the first word.
        async with conn.execute("SELECT rowid FROM users WHERE username = ?", (report.user.split(" ")[0],)) as cur:
            row = await cur.fetchone()
        payload["user_number"] = int(row[0]) % 1000 if row else 0
    return payload


def unsaved_report_payload(
    report: Report, zone_numbers: dict[str, int], settings: AlarmSettings | None = None
) -> dict[str, Any]:
    """The payload while storage fails (hub/core/degraded.py): nothing can be read or numbered."""
    payload = _base(report, settings)
    payload["zone_number"] = zone_numbers.get(report.zone or "", 0) if report.zone else None
    payload["user_number"] = None
    return payload
