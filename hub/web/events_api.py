"""What happened (README, HTTP API): the event history, incidents (read, acknowledge,
resolve), anomalies and the notifications sent."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as dtime
from typing import Any

from aiohttp import web

from alarms.messages import LANGUAGES
from alarms.model import Ack, Resolve
from hub.core.views import anomaly_from_row, anomaly_json, incident_from_json, incident_json, notification_json
from hub.web.api_common import actor, ctx_of, shown
from hub.web.auth import EVERYONE, HOUSEHOLD, principal_of, require
from hub.web.camera_api import incident_snapshots
from hub.web.errors import ApiError
from hub.web.installer_view import INSTALLER_EVENTS, is_installer
from hub.web.users_api import saved_language

# Left out of every list: a duress incident is for the centre only.
DURESS_IDS = "SELECT id FROM incidents WHERE kind = 'duress'"


def _int_query(request: web.Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,12}", raw):
        raise ApiError(400, f"invalid_field:{name}", f"{name}: must be a whole number", field=name)
    value = int(raw)
    if not lo <= value <= hi:
        raise ApiError(400, f"invalid_field:{name}", f"{name}: between {lo} and {hi}", field=name)
    return value


def _event_json(hub: Any, row: Any) -> dict[str, Any]:
    data = json.loads(row["data"]) if row["data"] else {}
    if row["input"]:
        # "duress" would give a duress disarm away to whoever reads the log on the spot.
        data = {k: v for k, v in json.loads(row["input"]).items() if k not in ("type", "duress")}
    return {
        "id": str(row["id"]),
        "at": hub.iso(row["at"]),
        "kind": row["kind"],
        "actor": row["actor"],
        "zone": row["zone"],
        "incident": row["incident"],
        "anomaly": row["anomaly"],
        "data": data,
    }


def _time_query(request: web.Request, name: str, tz: tzinfo, *, end_of_day: bool) -> tuple[float, bool] | None:
    """An ISO 8601 date or date-time of the query as a timestamp, or None when absent.

    Returns (timestamp, exclusive). A date alone is a whole day in the hub's time zone: as
    `since` its first instant, as `until` the next day's first instant (exclusive), so that
    `until=2026-05-01` includes that day. A date-time without an offset is in the hub's zone.
    """
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    # An unencoded "+01:00" arrives as " 01:00" (a "+" in a query string is a space).
    raw = re.sub(r"(\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?) (\d\d:?\d\d)$", r"\1+\2", raw)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = date.fromisoformat(raw)
            if not end_of_day:
                return datetime.combine(day, dtime.min, tzinfo=tz).timestamp(), False
            if day == date.max:
                return float("inf"), True  # there is no next day: everything
            # the next midnight, not 86400 s on: days are 23 or 25 hours long when the clocks change
            return datetime.combine(day + timedelta(days=1), dtime.min, tzinfo=tz).timestamp(), True
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ][0-9:.,]+(?:Z|[+-]\d\d:?\d\d)?", raw):
            raise ValueError(raw)
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.timestamp(), False
    except (ValueError, OverflowError):
        raise ApiError(
            400,
            f"invalid_field:{name}",
            f"{name}: an ISO 8601 date (2026-05-01) or date-time (2026-05-01T18:30:00+02:00)",
            field=name,
        ) from None


# The history's filter (`category=`): the dashboard's human categories, each a set of kinds and
# kind prefixes, so that a new `zone_...` or `device_...` kind falls into its category by itself.
EVENT_CATEGORIES: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "alarms": (
        frozenset({"activation_added", "ack", "resolve", "ack_noop", "unknown_incident", "siren_on", "siren_off"}),
        ("incident_",),
    ),
    "arming": (
        frozenset(
            {
                "mode_changed",
                "arm_request",
                "disarm_request",
                "arm_refused",
                "arm_failed",
                "arm_noop",
                "disarm_noop",
                "armed_not_ready",
                "code_outside_window",
            }
        ),
        ("bad_code", "wrong_code"),
    ),
    "zones": (
        frozenset({"sensor_changed", "unknown_zone", "exclusion_refused", "include_noop", "swinger_shutdown"}),
        ("zone_",),
    ),
    # Sirens, valves and relays are devices too: their commands, reports, tests and failures.
    "devices": (
        frozenset({"unknown_device", "unknown_output"}),
        ("device_", "walk_test_", "camera_", "snapshot_", "output_"),
    ),
    "faults": (frozenset({"system_fault", "clock_step"}), ("anomaly_",)),
    "access": (
        frozenset({"login", "login_failed", "owner_created", "language_changed"}),
        ("user_", "token_", "contact_"),
    ),
    "system": (
        frozenset({"configure", "settings_changed", "tick", "hub_started", "test_messages_sent"}),
        ("alarm_settings_",),
    ),
}


def _category_sql(category: str) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) of one category of EVENT_CATEGORIES."""
    if category not in EVENT_CATEGORIES:
        raise ApiError(
            400, "invalid_field:category", f"category: one of {', '.join(EVENT_CATEGORIES)}", field="category"
        )
    kinds, prefixes = EVENT_CATEGORIES[category]
    parts = [f"kind IN ({', '.join('?' * len(kinds))})"] + ["kind LIKE ? ESCAPE '\\'"] * len(prefixes)
    like = [p.replace("_", "\\_") + "%" for p in prefixes]
    return f"({' OR '.join(parts)})", [*sorted(kinds), *like]


async def events(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    hub = ctx_of(request).hub
    limit = _int_query(request, "limit", 50, 1, 500) or 50
    before = _int_query(request, "before", None, 0, 10**12)
    # Duress incidents are for the centre only: the household's screens never show them.
    where: list[str] = [f"(incident IS NULL OR incident NOT IN ({DURESS_IDS}))"]
    params: list[object] = []
    if is_installer(principal):  # the installation only: nothing about who arms when
        kinds = sorted(INSTALLER_EVENTS)
        where.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    if before is not None:
        where.append("id < ?")
        params.append(before)
    if request.query.get("kind"):
        where.append("kind = ?")
        params.append(request.query["kind"])
    if request.query.get("category"):
        clause, values = _category_sql(request.query["category"])
        where.append(clause)
        params.extend(values)
    if request.query.get("zone"):
        where.append("zone = ?")
        params.append(request.query["zone"])
    since = _time_query(request, "since", hub.tz, end_of_day=False)
    until = _time_query(request, "until", hub.tz, end_of_day=True)
    if since is not None and until is not None and until[0] < since[0]:
        raise ApiError(400, "invalid_field:until", "until: before since", field="until")
    if since is not None:
        where.append("at >= ?")
        params.append(since[0])
    if until is not None:
        where.append("at < ?" if until[1] else "at <= ?")
        params.append(until[0])
    rows = await hub.db.fetchall(
        f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", (*params, limit + 1)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = shown(principal, [_event_json(hub, r) for r in rows])
    return web.json_response({"items": items, "next": str(rows[-1]["id"]) if more and rows else None})


async def incidents(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    hub = ctx_of(request).hub
    state = request.query.get("state", "active")
    if state not in ("active", "all"):
        raise ApiError(400, "invalid_field:state", "state: 'active' or 'all'", field="state")
    sql = "SELECT data FROM incidents WHERE kind != 'duress'"
    if state == "active":
        sql += " AND state IN ('active', 'acknowledged')"
    rows = await hub.db.fetchall(sql + " ORDER BY opened_at DESC LIMIT 500")
    items = [incident_json(hub, incident_from_json(r["data"])) for r in rows]
    return web.json_response({"items": shown(principal, items)})


async def incident_get(request: web.Request) -> web.Response:
    require(request, HOUSEHOLD)
    hub = ctx_of(request).hub
    row = await hub.db.fetchone(
        "SELECT data FROM incidents WHERE id = ? AND kind != 'duress'", (request.match_info["id"],)
    )
    if row is None:
        raise ApiError(404, "unknown_incident", f"no incident {request.match_info['id']!r}")
    body = incident_json(hub, incident_from_json(row["data"]))
    rows = await hub.db.fetchall("SELECT * FROM outbox WHERE incident = ? ORDER BY id", (body["id"],))
    body["notifications"] = [notification_json(hub, r) for r in rows]
    body["snapshots"] = await incident_snapshots(ctx_of(request), body["id"])
    return web.json_response(body)


async def _incident_action(request: web.Request, make: Any) -> web.Response:
    principal = require(request, HOUSEHOLD)
    hub = ctx_of(request).hub
    incident_id = request.match_info["id"]
    open_incident = hub.state.incidents.get(incident_id)
    if open_incident is None or open_incident.kind == "duress":
        known = await hub.db.fetchone("SELECT state, kind FROM incidents WHERE id = ?", (incident_id,))
        # A duress incident is for the centre only: to the screen it does not exist (ids are
        # sequential, so a guessed id must not confirm it, nor acknowledge or close it).
        if known is None or known["kind"] == "duress":
            raise ApiError(404, "unknown_incident", f"no incident {incident_id!r}")
        raise ApiError(409, "incident_closed", f"incident {incident_id} is already {known['state']}")
    await hub.submit(make(incident=incident_id, by=actor(principal)))
    row = await hub.db.fetchone("SELECT data FROM incidents WHERE id = ?", (incident_id,))
    assert row is not None
    return web.json_response(incident_json(hub, incident_from_json(row["data"])))


async def incident_ack(request: web.Request) -> web.Response:
    return await _incident_action(request, Ack)


async def incident_resolve(request: web.Request) -> web.Response:
    return await _incident_action(request, Resolve)


async def anomalies(request: web.Request) -> web.Response:
    require(request, EVERYONE)
    hub = ctx_of(request).hub
    state = request.query.get("state", "active")
    if state not in ("active", "all"):
        raise ApiError(400, "invalid_field:state", "state: 'active' or 'all'", field="state")
    lang = request.query.get("lang")
    if lang is not None and lang not in LANGUAGES:
        raise ApiError(400, "invalid_field:lang", "lang: 'it' or 'en'", field="lang")
    if lang is None:  # the manual in the reader's own language, if they chose one
        lang = await saved_language(ctx_of(request), principal_of(request).name)
    sql = "SELECT * FROM anomalies" + (" WHERE state = 'active'" if state == "active" else "")
    rows = await hub.db.fetchall(sql + " ORDER BY opened_at DESC LIMIT 500")
    return web.json_response({"items": [anomaly_json(hub, anomaly_from_row(r), lang) for r in rows]})


NOTIFICATION_STATES = ("scheduled", "pending", "sent", "dead", "cancelled")


async def notifications(request: web.Request) -> web.Response:
    require(request, HOUSEHOLD)
    hub = ctx_of(request).hub
    where: list[str] = [f"(incident IS NULL OR incident NOT IN ({DURESS_IDS}))"]
    params: list[object] = []
    if request.query.get("incident"):
        where.append("incident = ?")
        params.append(request.query["incident"])
    state = request.query.get("state")
    if state:
        if state not in NOTIFICATION_STATES:
            raise ApiError(400, "invalid_field:state", f"state: one of {', '.join(NOTIFICATION_STATES)}", field="state")
        where.append("state = ?")
        params.append(state)
    limit = _int_query(request, "limit", 200, 1, 1000) or 200
    sql = f"SELECT * FROM outbox WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
    rows = await hub.db.fetchall(sql, (*params, limit))
    return web.json_response({"items": [notification_json(hub, r) for r in rows]})


async def notification_get(request: web.Request) -> web.Response:
    require(request, HOUSEHOLD)
    hub = ctx_of(request).hub
    raw = request.match_info["id"]
    row = None
    if re.fullmatch(r"[0-9]{1,18}", raw):  # str.isdigit() takes "²"; SQLite integers stop at 2**63
        row = await hub.db.fetchone(
            f"SELECT * FROM outbox WHERE id = ? AND (incident IS NULL OR incident NOT IN ({DURESS_IDS}))", (int(raw),)
        )
    if row is None:
        raise ApiError(404, "unknown_notification", f"no notification {raw!r}")
    body = notification_json(hub, row)
    body["body"] = row["body"]
    attempts = await hub.db.fetchall("SELECT * FROM outbox_attempts WHERE outbox = ? ORDER BY id", (row["id"],))
    body["history"] = [
        {"at": hub.iso(a["at"]), "transport": a["transport"], "outcome": a["outcome"], "detail": a["detail"]}
        for a in attempts
    ]
    return web.json_response(body)


def add_events_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/events", events)
    r.add_get("/api/v1/incidents", incidents)
    r.add_get("/api/v1/incidents/{id}", incident_get)
    r.add_post("/api/v1/incidents/{id}/ack", incident_ack)
    r.add_post("/api/v1/incidents/{id}/resolve", incident_resolve)
    r.add_get("/api/v1/anomalies", anomalies)
    r.add_get("/api/v1/notifications", notifications)
    r.add_get("/api/v1/notifications/{id}", notification_get)
