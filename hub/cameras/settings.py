"""The owner's camera privacy setting, kept in the database (`camera_settings`, a key per row).

`record_when_disarmed` (default off): whether the cameras keep their ring buffer while the alarm
is disarmed, so that any incident then (a panic button, a smoke alarm) gets photos too. Off,
nothing of the household at home is recorded.
"""

from __future__ import annotations

from hub.store.db import Database

__all__ = ["RECORD_WHEN_DISARMED", "load_record_when_disarmed", "save_record_when_disarmed"]

RECORD_WHEN_DISARMED = "record_when_disarmed"


async def load_record_when_disarmed(db: Database) -> bool:
    row = await db.fetchone("SELECT value FROM camera_settings WHERE key = ?", (RECORD_WHEN_DISARMED,))
    return row is not None and row["value"] == "1"


async def save_record_when_disarmed(db: Database, on: bool) -> None:
    await db.execute(
        "INSERT INTO camera_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (RECORD_WHEN_DISARMED, "1" if on else "0"),
    )
