"""The engine snapshot: a small state row plus one row per zone, only the changed zones rewritten.

The snapshot is written in the transaction of every engine step (docs/architecture.md, the
durability rule). Written whole, it grew with the house: 391 KB per step with 1,000 zones, all
of it encoded, written to the WAL and fsync'd for one door that opened, which is what an alarm
waited for under load and what wore the SD card. Now `engine_state` holds everything but the
zones, and `engine_zones` one row per zone; a step rewrites only the zones the engine replaced.

The engine never changes a zone in place (structs are frozen; `alarms/engine.py` copies the
dict and replaces the zones that change), so "changed" is "not the object we last wrote". What
the database holds is known only after a commit: a rolled-back step (a full disk) forgets it,
and the next step rewrites every zone.

A snapshot from before this (zones inside the state row, no zone rows) still loads, and the
first step after the upgrade writes it in the new form.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aiosqlite
import msgspec

from alarms.model import EVENT_ENCODER, STATE_DECODER, State, Zone
from hub.store.journal import upgrade_state

_ZONE_DECODER = msgspec.json.Decoder(Zone)


def state_from_rows(state_json: str, zone_rows: Iterable[tuple[str, str]]) -> State:
    """The snapshot from its state row and its zone rows (id, JSON); older forms are upgraded."""
    zones = list(zone_rows)
    try:
        state = STATE_DECODER.decode(state_json)
    except msgspec.ValidationError:
        state = STATE_DECODER.decode(json.dumps(upgrade_state(json.loads(state_json))))
    if not zones:
        return state  # before per-zone rows (or a house without zones)
    try:
        decoded = {zone_id: _ZONE_DECODER.decode(raw) for zone_id, raw in zones}
    except msgspec.ValidationError:
        raw_state: dict[str, Any] = {"zones": {zone_id: json.loads(raw) for zone_id, raw in zones}}
        upgraded = upgrade_state(raw_state)["zones"]
        decoded = {zone_id: _ZONE_DECODER.decode(json.dumps(zone)) for zone_id, zone in upgraded.items()}
    return msgspec.structs.replace(state, zones=decoded)


class SnapshotStore:
    """Writes and reads the engine snapshot; remembers which zone objects the database holds."""

    def __init__(self) -> None:
        # zone id -> the Zone object last written (identity), or None: unknown, rewrite them all.
        self._written: dict[str, Zone] | None = None
        self._pending: dict[str, Zone] | None = None  # what the open transaction wrote

    async def load(self, conn: aiosqlite.Connection) -> State | None:
        async with conn.execute("SELECT state FROM engine_state WHERE id = 1") as cur:
            row = await cur.fetchone()
        if not row:
            return None
        async with conn.execute("SELECT id, zone FROM engine_zones") as cur:
            zone_rows = [(r[0], r[1]) for r in await cur.fetchall()]
        state = state_from_rows(row[0], zone_rows)
        # Zones read from rows are what the rows hold; zones of an older state row are not in
        # any row yet: the first save writes them all.
        self._written = dict(state.zones) if zone_rows else None
        return state

    async def save(self, conn: aiosqlite.Connection, state: State, last_event: int) -> None:
        """Write `state` in the open transaction: the state row and the zones that changed."""
        written = self._written
        self._written = None  # until this transaction commits (`committed`), nothing is known
        if written is None:
            await conn.execute("DELETE FROM engine_zones")
            changed = list(state.zones.values())
            removed: list[str] = []
        else:
            changed = [zone for zone_id, zone in state.zones.items() if written.get(zone_id) is not zone]
            removed = [zone_id for zone_id in written if zone_id not in state.zones]
        if removed:
            await conn.executemany("DELETE FROM engine_zones WHERE id = ?", [(zone_id,) for zone_id in removed])
        if changed:
            await conn.executemany(
                "INSERT INTO engine_zones (id, zone) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET zone = excluded.zone",
                [(zone.id, EVENT_ENCODER.encode(zone).decode()) for zone in changed],
            )
        await conn.execute(
            "INSERT INTO engine_state (id, state, last_event) VALUES (1, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET state = excluded.state, last_event = excluded.last_event",
            (EVENT_ENCODER.encode(msgspec.structs.replace(state, zones={})).decode(), last_event),
        )
        self._pending = dict(state.zones)

    def committed(self) -> None:
        """The transaction of the last `save` committed: its zones are what the rows hold."""
        self._written, self._pending = self._pending, None

    def rolled_back(self) -> None:
        self._written = self._pending = None


async def load_state(conn: aiosqlite.Connection) -> State | None:
    """The stored snapshot (for checks and tools; the hub keeps its SnapshotStore)."""
    return await SnapshotStore().load(conn)
