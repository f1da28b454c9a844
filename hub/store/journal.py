"""The event journal and the alarm records (incidents, anomalies; the engine snapshot is
hub/store/snapshot.py).

The `events` table is both the replayable journal (rows whose `input` column holds an
engine input) and the audit trail (who armed, who acknowledged, what was bypassed).
Writers here take the open transaction's connection: callers group them so that an
event and everything it causes commit together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
import msgspec

from alarms.model import (
    EVENT_DECODER,
    EVENT_ENCODER,
    Anomaly,
    AnyEvent,
    Incident,
)
from alarms.zone_config import DEFAULT_WATCH_DAYS, modes_from_home
from hub.store.db import Database, StorageError

log = logging.getLogger("hub.journal")  # the name users' [log] levels know (README)

_INCIDENT_DECODER = msgspec.json.Decoder(Incident)

# The person or automation behind an input, for the audit trail.
_ACTOR_FIELDS = ("by",)


def event_kind(event: AnyEvent) -> str:
    return type(event).__struct_config__.tag  # type: ignore[return-value]


async def append_input(conn: aiosqlite.Connection, event: AnyEvent, at: float, actor: str | None) -> int:
    data = msgspec.to_builtins(event)
    kind = event_kind(event)
    zone = data.get("id") if kind in ("zone_upsert", "zone_remove") else data.get("zone")
    incident = data.get("incident")
    actor = actor or next((data[f] for f in _ACTOR_FIELDS if isinstance(data.get(f), str)), None)
    cur = await conn.execute(
        "INSERT INTO events (at, kind, actor, zone, incident, data, input) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (at, kind, actor, zone, incident, None, EVENT_ENCODER.encode(event).decode()),
    )
    return cur.lastrowid or 0


async def append_event(
    conn: aiosqlite.Connection,
    at: float,
    kind: str,
    *,
    actor: str | None = None,
    zone: str | None = None,
    incident: str | None = None,
    anomaly: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    cur = await conn.execute(
        "INSERT INTO events (at, kind, actor, zone, incident, anomaly, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (at, kind, actor, zone, incident, anomaly, json.dumps(data) if data else None),
    )
    return cur.lastrowid or 0


async def save_incident(conn: aiosqlite.Connection, incident: Incident) -> None:
    await conn.execute(
        "INSERT INTO incidents (id, kind, state, opened_at, closed_at, data) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET state = excluded.state, closed_at = excluded.closed_at, data = excluded.data",
        (
            incident.id,
            incident.kind,
            incident.state,
            incident.opened_at,
            incident.closed_at,
            EVENT_ENCODER.encode(incident).decode(),
        ),
    )


async def save_anomaly(conn: aiosqlite.Connection, anomaly: Anomaly) -> None:
    await conn.execute(
        "INSERT INTO anomalies (id, kind, state, device, subject, opened_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET state = excluded.state, closed_at = excluded.closed_at",
        (
            anomaly.id,
            anomaly.kind,
            anomaly.state,
            anomaly.device,
            anomaly.subject,
            anomaly.opened_at,
            anomaly.closed_at,
        ),
    )


# Zone fields of the first release, before exclusions (how each becomes one).
_OLD_BYPASS_FIELDS = {"bypassed": "inhibit", "forced_bypass": "open_at_arming", "auto_bypassed": "auto"}


def upgrade_state(state: dict[str, Any]) -> dict[str, Any]:
    """A snapshot written before exclusions: its bypass flags become the exclusion they meant, so
    an upgrade keeps every zone that was out of protection out of it, and says how. One written
    before armed modes: a zone's `home` flag becomes its modes."""
    for zone in state.get("zones", {}).values():
        if "home" in zone:
            # Before armed modes (issue 17): `home` becomes the modes it meant (alarms/model.py).
            zone["modes"] = list(modes_from_home(bool(zone.pop("home"))))
            zone.setdefault("watch_days", DEFAULT_WATCH_DAYS.get(zone.get("kind"), 0))
        flags = {field: bool(zone.pop(field, False)) for field in _OLD_BYPASS_FIELDS}
        how = next((how for field, how in _OLD_BYPASS_FIELDS.items() if flags[field]), None)
        if how is not None and "excluded" not in zone:
            # A 24h zone may only be isolated; an old bypass of one is not carried over silently
            # as something else: it ends, and the zone protects again.
            if not (zone.get("behaviour") == "24h" and how == "inhibit"):
                zone["excluded"] = {"how": how, "reason": "open" if how == "open_at_arming" else None}
    return state


async def load_inputs(conn: aiosqlite.Connection) -> list[tuple[AnyEvent, float]]:
    """Every journaled engine input in order, for replay checks."""
    async with conn.execute("SELECT input, at FROM events WHERE input IS NOT NULL ORDER BY id") as cur:
        rows = await cur.fetchall()
    return [(EVENT_DECODER.decode(r[0]), float(r[1])) for r in rows]


def incident_from_row(row: sqlite3.Row) -> Incident:
    return _INCIDENT_DECODER.decode(row["data"])


# ------------------------------------------------------------------ retention

KEEP_EVENTS = 10_000  # never fewer events than this (the `[storage] max_events` minimum)
KEEP_DAYS = 400  # never an event younger than this (EN 50131 asks for far less)
PRUNE_BATCH = 500  # events deleted per transaction: the write lock is held for a few ms at most

_OPEN_INCIDENTS = "SELECT id FROM incidents WHERE state IN ('active', 'acknowledged')"
_OPEN_ANOMALIES = "SELECT id FROM anomalies WHERE state = 'active'"


async def prune_events(
    db: Database, *, now: float, max_events: int, batch: int = PRUNE_BATCH, keep_days: float = KEEP_DAYS
) -> int:
    """Delete up to `batch` of the oldest events beyond the newest `max_events` (at least
    KEEP_EVENTS) that are older than `keep_days`, in one short transaction; never an event of an
    open incident or anomaly. Returns how many went: call again while it returns `batch`.

    The journal stays replayable: recovery starts from the engine snapshot, which is written in the
    transaction of the newest input (hub/core/runtime.py), never from old rows.
    """
    keep = max(KEEP_EVENTS, max_events)
    before = now - keep_days * 86400
    # Looked up on the reader: a pass with nothing to prune never takes the write lock. Ids only
    # grow, so the cut-off can only be too low by what was written since: never too high.
    row = await db.fetchone("SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?", (keep,))
    if row is None:
        return 0  # not more than `keep` events
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ? AND at < ?"
            f" AND (incident IS NULL OR incident NOT IN ({_OPEN_INCIDENTS}))"
            f" AND (anomaly IS NULL OR anomaly NOT IN ({_OPEN_ANOMALIES}))"
            " ORDER BY id LIMIT ?)",
            (int(row[0]), before, batch),
        )
        return max(cur.rowcount, 0)


RETENTION_INTERVAL = 3600.0  # seconds between retention passes
RETENTION_FIRST = 120.0  # seconds after the start before the first pass
_BATCH_PAUSE = 0.05  # seconds between batches of one pass: the alarm path gets the write lock in between


async def run_retention(
    db: Database,
    *,
    max_events: int,
    clock: Callable[[], float],
    interval: float = RETENTION_INTERVAL,
    first_after: float = RETENTION_FIRST,
) -> None:
    """The daemon's retention task: `first_after` the start (recovery and drivers first), then
    every `interval`, prune (prune_events) in small batches until nothing is left to prune. A
    failure (a full disk, a locked database) is logged and tried again at the next pass:
    retention never stops the hub."""
    await asyncio.sleep(first_after)
    while True:
        pruned = 0
        try:
            while (count := await prune_events(db, now=clock(), max_events=max_events)) > 0:
                pruned += count
                if count < PRUNE_BATCH:
                    break
                await asyncio.sleep(_BATCH_PAUSE)
        except (sqlite3.Error, OSError, StorageError) as exc:
            log.warning("event log retention: pruning failed, tried again in %d s: %s", interval, exc)
        if pruned:
            log.info("event log retention: %d events older than %d days pruned", pruned, KEEP_DAYS)
        await asyncio.sleep(interval)
