"""The /api/v1 routes (README, HTTP API): system, arming, zones, devices, events,
incidents, anomalies, notifications, pairing, the demo trigger and the WebSocket stream."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import weakref
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as dtime
from typing import Any, Literal

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from alarms.model import (
    INCIDENT_FOR_ZONE,
    ISOLATE_MAX_HOURS,
    ISOLATE_MAX_HOURS_24H,
    Ack,
    ArmRefused,
    ArmRequest,
    Behaviour,
    DisarmRequest,
    Resolve,
    ZoneExclude,
    ZoneInclude,
    ZoneKind,
    ZoneRemove,
    ZoneUpsert,
)
from drivers.base import DriverError
from hub.bounds import Name, Text, clip
from hub.core.degraded import DURABLE_REQUIRED
from hub.store import journal
from hub.store.accounts import Principal
from hub.web.auth import (
    ARMERS,
    EVERYONE,
    HOUSEHOLD,
    INSTALLERS,
    OWNERS,
    authenticate,
    login,
    logout,
    principal_of,
    require,
    whoami,
)
from hub.web.camera_api import incident_snapshots
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed
from hub.web.installer_view import INSTALLER_EVENTS, for_installer, installer_may_see_event, is_installer
from hub.web.users_api import saved_language

log = logging.getLogger(__name__)

INTRUSION_KINDS = {k for k, v in INCIDENT_FOR_ZONE.items() if v == "intrusion"}


DURESS_IDS = "SELECT id FROM incidents WHERE kind = 'duress'"
CREDENTIAL_RECHECK = 2.0  # seconds between credential checks of an open WebSocket stream


# The open dashboard streams, closed when the hub shuts down: otherwise a stop would wait for
# every connected dashboard to go away (aiohttp's shutdown timeout) before the hub exits.
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("casahub_websockets")


async def _close_websockets(app: web.Application) -> None:
    sockets = app[WEBSOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub shutting down")


def ctx_of(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def actor(principal: Principal) -> str:
    return principal.name


# ---------------------------------------------------------------- health and system
async def health(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.hub.ready:
        return web.json_response({"status": "starting", "version": ctx.version}, status=503)
    return web.json_response({"status": "ok", "version": ctx.version})


async def system(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    return web.json_response(_shown(principal, ctx_of(request).hub.system_json()))


def _shown(principal: Principal, body: Any) -> Any:
    """What this reader may see of a JSON body: installers never see the household's names
    (hub/web/installer_view.py)."""
    return for_installer(body, principal.name) if is_installer(principal) else body


class ArmBody(msgspec.Struct, forbid_unknown_fields=True):
    mode: Literal["home", "away"]
    code: str
    force: bool = False


class DisarmBody(msgspec.Struct, forbid_unknown_fields=True):
    code: str


async def _check_code(request: web.Request, principal: Principal, code: str) -> tuple[str, bool]:
    """Returns (who, duress) for a valid code; raises 403 bad_code or 429 locked.

    The throttle (hub/core/throttle.py) is the one MQTT commands share, kept in the database: 3 wrong
    codes lock this caller for 90 s, each further run twice as long (at most 1 h), and 10 wrong
    codes within an hour from anyone alert the household and the centre.
    """
    ctx = ctx_of(request)
    key = principal.name
    now = ctx.clock()
    # Counted before the (slow, threaded) hash check, so that concurrent guesses cannot all
    # get past the lock; a right code takes it back below.
    wait = await ctx.code_throttle.begin(key, now)
    if wait is not None:
        raise _locked(wait)
    match = await asyncio.to_thread(ctx.accounts.match_code, code) if code else None
    if match is None:
        await ctx.hub.audit("bad_code", actor=principal.name)
        # The alert names a token by its user, as arming does: "anna (token:ab12)".
        by = principal.name if principal.user is None else f"{principal.user} ({principal.name})"
        await ctx.code_throttle.wrong(key, now, by=by)
        wait = ctx.code_throttle.retry_after(key, now)
        if wait is not None:
            raise _locked(wait)
        raise ApiError(403, "bad_code", "wrong code")
    await ctx.code_throttle.right(key)
    who = match.username if match.username == principal.name else f"{match.username} ({principal.name})"
    return who, match.duress


def _locked(wait: float) -> ApiError:
    error = ApiError(429, "locked", f"too many wrong codes; try again in {int(wait) + 1} s")
    error.headers["Retry-After"] = str(int(wait) + 1)
    return error


async def arm(request: web.Request) -> web.Response:
    principal = require(request, ARMERS)
    body = await read_body(request, ArmBody)
    hub = ctx_of(request).hub
    who, _duress = await _check_code(request, principal, body.code)
    step = await hub.submit(ArmRequest(mode=body.mode, by=who, force=body.force))
    refused = next((e for e in step.effects if isinstance(e, ArmRefused)), None)
    if refused is not None:
        if refused.reason == "not_ready":
            items = [
                {"zone": z, "name": hub.state.zones[z].name if z in hub.state.zones else z, "reason": r}
                for z, r in refused.not_ready
            ]
            names = ", ".join(f"{i['name']} ({i['reason']})" for i in items)
            raise ApiError(409, "not_ready", f"not ready to arm: {names}", not_ready=items)
        if refused.reason == "walk_test":
            raise ApiError(409, "walk_test", "a walk test is running: the installer must end it before arming")
        raise ApiError(409, "alarm_active", "an alarm is in progress: disarm first")
    return web.json_response(hub.system_json())


async def disarm(request: web.Request) -> web.Response:
    DURABLE_REQUIRED.set(False)  # people first: a disarm works even when it cannot be written
    principal = require(request, ARMERS)
    body = await read_body(request, DisarmBody)
    hub = ctx_of(request).hub
    who, duress = await _check_code(request, principal, body.code)
    await hub.submit(DisarmRequest(by=who, duress=duress))
    # A duress disarm looks exactly like a normal one to whoever holds the screen.
    return web.json_response(hub.system_json())


# ---------------------------------------------------------------- zones
class ZonePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    room: Name | msgspec.UnsetType = msgspec.UNSET
    behaviour: Behaviour | msgspec.UnsetType = msgspec.UNSET
    home: bool | msgspec.UnsetType = msgspec.UNSET
    bypassed: bool | msgspec.UnsetType = msgspec.UNSET


def _zone_or_404(request: web.Request) -> str:
    zone_id = request.match_info["id"]
    if zone_id not in ctx_of(request).hub.state.zones:
        raise ApiError(404, "unknown_zone", f"no zone {zone_id!r}")
    return zone_id


def _check_behaviour(kind: ZoneKind, behaviour: Behaviour) -> None:
    if kind not in INTRUSION_KINDS and behaviour != "24h":
        raise ApiError(400, "invalid_field:behaviour", f"behaviour: a {kind} zone is always 24h", field="behaviour")


async def zones(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    hub = ctx_of(request).hub
    return web.json_response(_shown(principal, {"items": [hub.zone_json(z) for z in hub.state.zones]}))


async def zone_get(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    return web.json_response(_shown(principal, ctx_of(request).hub.zone_json(_zone_or_404(request))))


async def zone_patch(request: web.Request) -> web.Response:
    """Configuration (owner, installer) and inhibit (`bypassed`: owner, member)."""
    principal = require(request, EVERYONE)
    zone_id = _zone_or_404(request)
    body = await read_body(request, ZonePatch)
    hub = ctx_of(request).hub
    z = hub.state.zones[zone_id]
    configures = any(v is not msgspec.UNSET for v in (body.name, body.room, body.behaviour, body.home))
    if principal.role == "member" and configures:
        raise ApiError(403, "forbidden", "members may only exclude zones or end an exclusion")
    if principal.role == "installer" and body.bypassed is not msgspec.UNSET:
        raise ApiError(403, "forbidden", "installers may not exclude zones: the household decides what protects")
    # Putting a zone back into protection is the one change that may happen while armed.
    if configures or body.bypassed is True:
        refuse_while_armed(hub)
    if body.bypassed is True and z.behaviour == "24h":
        raise ApiError(
            403,
            "isolate_required",
            f"{z.name} is a 24-hour zone (smoke, water, power or panic): it cannot simply be excluded; the owner"
            " may isolate it with the alarm code, a reason and an end (at most 24 h)",
        )
    if body.bypassed is False and z.excluded is not None and z.excluded.how not in ("inhibit", "open_at_arming"):
        raise ApiError(
            403, "restore_required", "this exclusion ends only by itself or when the owner restores it with the code"
        )
    behaviour = z.behaviour if body.behaviour is msgspec.UNSET else body.behaviour
    _check_behaviour(z.kind, behaviour)
    name = z.name if body.name is msgspec.UNSET else body.name.strip()
    if not name:
        raise ApiError(400, "invalid_field:name", "name: must not be empty", field="name")
    if configures:
        await hub.submit(
            ZoneUpsert(
                id=z.id,
                name=name,
                kind=z.kind,
                behaviour=behaviour,
                home=z.home if body.home is msgspec.UNSET else body.home,
                device=z.device,
                room=z.room if body.room is msgspec.UNSET else body.room,
                by=actor(principal),
            )
        )
    if body.bypassed is True and z.excluded is None:
        await hub.submit(ZoneExclude(zone=zone_id, how="inhibit", by=actor(principal)))
    elif body.bypassed is False and z.excluded is not None:
        await hub.submit(ZoneInclude(zone=zone_id, by=actor(principal)))
    return web.json_response(_shown(principal, hub.zone_json(zone_id)))


class IsolateBody(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    reason: Text
    hours: float


class RestoreBody(msgspec.Struct, forbid_unknown_fields=True):
    code: str


async def zone_isolate(request: web.Request) -> web.Response:
    """The owner takes a zone out of service for a set time (a faulty sensor, works in the house)."""
    principal = require(request, OWNERS)
    zone_id = _zone_or_404(request)
    body = await read_body(request, IsolateBody)
    hub = ctx_of(request).hub
    refuse_while_armed(hub)
    z = hub.state.zones[zone_id]
    reason = body.reason.strip()
    if not 1 <= len(reason) <= 200:
        raise ApiError(400, "invalid_field:reason", "reason: say why, in 1 to 200 characters", field="reason")
    limit = ISOLATE_MAX_HOURS_24H if z.behaviour == "24h" else ISOLATE_MAX_HOURS
    if not 1 <= body.hours <= limit:
        what = "a 24-hour zone" if z.behaviour == "24h" else "a zone"
        raise ApiError(
            400, "invalid_field:hours", f"hours: {what} may be isolated for 1 to {limit} hours", field="hours"
        )
    who, _duress = await _check_code(request, principal, body.code)
    await hub.submit(ZoneExclude(zone=zone_id, how="isolate", by=who, reason=reason, hours=body.hours))
    return web.json_response(hub.zone_json(zone_id))


async def zone_restore(request: web.Request) -> web.Response:
    """The owner puts a zone back into protection, whatever excluded it (also while armed)."""
    principal = require(request, OWNERS)
    zone_id = _zone_or_404(request)
    body = await read_body(request, RestoreBody)
    hub = ctx_of(request).hub
    who, _duress = await _check_code(request, principal, body.code)
    if hub.state.zones[zone_id].excluded is not None:
        await hub.submit(ZoneInclude(zone=zone_id, by=who))
    return web.json_response(hub.zone_json(zone_id))


async def zone_delete(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    refuse_while_armed(ctx_of(request).hub)
    zone_id = _zone_or_404(request)
    await ctx_of(request).hub.submit(ZoneRemove(id=zone_id, by=actor(principal)))
    return web.json_response({"ok": True})


# ---------------------------------------------------------------- devices and pairing
class ZoneSpec(msgspec.Struct, forbid_unknown_fields=True):
    kind: ZoneKind
    name: Name | None = None
    behaviour: Behaviour | None = None
    home: bool | None = None


class DeviceBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    room: Name = ""
    driver: str | None = None
    address: str | None = None
    candidate: str | None = None
    bindkey: str | None = None
    model: Name | None = None
    zones: list[ZoneSpec] | None = None


async def devices(request: web.Request) -> web.Response:
    require(request, EVERYONE)
    hub = ctx_of(request).hub
    return web.json_response({"items": [hub.device_json(d) for d in hub.devices.values()]})


async def device_add(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    refuse_while_armed(ctx_of(request).hub)
    body = await read_body(request, DeviceBody)
    ctx = ctx_of(request)
    model = body.model or ""
    kinds: tuple[ZoneKind, ...] = ()
    if body.candidate is not None:
        candidate = next((c for c in await _candidates(ctx) if c.id == body.candidate), None)
        if candidate is None:
            raise ApiError(404, "unknown_candidate", f"no pairing candidate {body.candidate!r}; run a scan first")
        driver, address, model, kinds = candidate.driver, candidate.address, clip(candidate.model), candidate.kinds
    elif body.driver and body.address:
        driver, address = body.driver, body.address.strip()
        if driver == "bthome":
            address = address.upper()  # BLE MACs as the radio reports them
        if driver not in ctx.drivers:
            raise ApiError(400, "invalid_field:driver", f"driver: no running driver {driver!r}", field="driver")
    else:
        raise ApiError(
            400, "invalid_field:candidate", "candidate: give a candidate id, or driver and address", field="candidate"
        )
    specs = body.zones or [ZoneSpec(kind=k) for k in kinds]
    if not specs:
        raise ApiError(400, "invalid_field:zones", "zones: name at least one zone kind", field="zones")
    if not body.name.strip():
        raise ApiError(400, "invalid_field:name", "name: must not be empty", field="name")
    for spec in specs:
        if spec.behaviour is not None:
            _check_behaviour(spec.kind, spec.behaviour)
    try:
        device = await ctx.hub.pair_device(
            driver=driver,
            address=address,
            name=body.name.strip(),
            room=body.room,
            model=model,
            bindkey=body.bindkey,
            zones=[(s.kind, s.name, s.behaviour, s.home) for s in specs],
            by=actor(principal),
        )
    except ValueError as exc:
        raise ApiError(409, "already_paired", str(exc)) from None
    return web.json_response(ctx.hub.device_json(device), status=201)


async def device_delete(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    hub = ctx_of(request).hub
    refuse_while_armed(hub)
    device_id = request.match_info["id"]
    if device_id not in hub.devices:
        raise ApiError(404, "unknown_device", f"no device {device_id!r}")
    await hub.unpair_device(device_id, by=actor(principal))
    return web.json_response({"ok": True})


class DevicePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    room: Name | msgspec.UnsetType = msgspec.UNSET


async def device_patch(request: web.Request) -> web.Response:
    """Rename a device or move it to another room. Its zones follow where they carry the device's
    name or room (a zone renamed by hand keeps its own name)."""
    principal = require(request, INSTALLERS)
    hub = ctx_of(request).hub
    refuse_while_armed(hub)
    device_id = request.match_info["id"]
    if device_id not in hub.devices:
        raise ApiError(404, "unknown_device", f"no device {device_id!r}")
    body = await read_body(request, DevicePatch)
    device = hub.devices[device_id]
    name = device.name if body.name is msgspec.UNSET else body.name.strip()
    room = device.room if body.room is msgspec.UNSET else body.room.strip()
    if not name:
        raise ApiError(400, "invalid_field:name", "name: must not be empty", field="name")
    old_name, old_room = device.name, device.room
    if (name, room) != (old_name, old_room):
        async with hub.db.transaction() as conn:
            await conn.execute("UPDATE devices SET name = ?, room = ? WHERE id = ?", (name, room, device_id))
            await journal.append_event(
                conn,
                hub.clock(),
                "device_renamed",
                actor=actor(principal),
                data={"device": device_id, "name": name, "room": room, "was": old_name},
            )
        device.name, device.room = name, room
        hub.fanout.publish({"type": "event", "kind": "device_renamed", "by": actor(principal)})
        for z in [z for z in hub.state.zones.values() if z.device == device_id]:
            zone_name = {old_name: name, f"{old_name} ({z.kind})": f"{name} ({z.kind})"}.get(z.name, z.name)
            zone_room = room if z.room == old_room else z.room
            if (zone_name, zone_room) == (z.name, z.room):
                continue
            await hub.submit(
                ZoneUpsert(
                    id=z.id,
                    name=zone_name,
                    kind=z.kind,
                    behaviour=z.behaviour,
                    home=z.home,
                    device=z.device,
                    room=zone_room,
                    by=actor(principal),
                )
            )
    return web.json_response(hub.device_json(device))


async def _candidates(ctx: WebContext) -> list[Any]:
    found: list[Any] = []
    for driver in ctx.drivers.values():
        try:
            found.extend(await driver.candidates())
        except Exception:
            log.exception("driver %s failed to list candidates", getattr(driver, "type", "?"))
    return found


def _link_warnings(ctx: WebContext) -> list[dict[str, str]]:
    """Bridges whose link is down (a driver with `connected` False): their candidates are what they said last."""
    return [
        {
            "driver": name,
            "message": f"{name}: not connected to its bridge: the candidates it lists may be out of date and no"
            " device can join until it reconnects; check the broker and the driver's host/port/credentials",
        }
        for name, driver in ctx.drivers.items()
        if getattr(driver, "connected", None) is False
    ]


async def candidates(request: web.Request) -> web.Response:
    require(request, INSTALLERS)
    ctx = ctx_of(request)
    items = [msgspec.to_builtins(c) | {"paired": False} for c in await _candidates(ctx)]
    return web.json_response({"items": items, "warnings": _link_warnings(ctx)})


class ScanBody(msgspec.Struct, forbid_unknown_fields=True):
    seconds: float = 30
    driver: str | None = None


async def scan(request: web.Request) -> web.Response:
    require(request, INSTALLERS)
    # A scan opens the radio networks to new devices (Zigbee permit_join) for pairing, which is
    # refused while armed anyway; reading the candidates found earlier stays allowed.
    refuse_while_armed(ctx_of(request).hub)
    body = await read_body(request, ScanBody)
    if not 0 < body.seconds <= 600:
        raise ApiError(400, "invalid_field:seconds", "seconds: between 1 and 600", field="seconds")
    ctx = ctx_of(request)
    chosen = [(name, d) for name, d in ctx.drivers.items() if body.driver in (None, name.split("#")[0])]
    warnings: list[dict[str, str]] = []
    for name, driver in chosen:
        try:
            await driver.scan(body.seconds)
        except DriverError as exc:  # a bridge that is down (its broker gone) must not stop the others scanning
            warnings.append({"driver": name, "message": str(exc)})
    if chosen and len(warnings) == len(chosen):
        raise ApiError(503, "driver_unavailable", "; ".join(w["message"] for w in warnings), warnings=warnings)
    return web.json_response({"scanning": True, "seconds": body.seconds, "warnings": warnings})


# ---------------------------------------------------------------- events, incidents, anomalies, notifications
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
            {"mode_changed", "arm_request", "disarm_request", "arm_refused", "arm_failed", "arm_noop", "disarm_noop"}
        ),
        ("bad_code", "wrong_code"),
    ),
    "zones": (
        frozenset({"sensor_changed", "unknown_zone", "exclusion_refused", "include_noop", "swinger_shutdown"}),
        ("zone_",),
    ),
    "devices": (frozenset({"unknown_device"}), ("device_", "walk_test_", "camera_", "snapshot_")),
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
    items = _shown(principal, [_event_json(hub, r) for r in rows])
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
    items = [hub.incident_json(hub.incident_from_json(r["data"])) for r in rows]
    return web.json_response({"items": _shown(principal, items)})


async def incident_get(request: web.Request) -> web.Response:
    require(request, HOUSEHOLD)
    hub = ctx_of(request).hub
    row = await hub.db.fetchone(
        "SELECT data FROM incidents WHERE id = ? AND kind != 'duress'", (request.match_info["id"],)
    )
    if row is None:
        raise ApiError(404, "unknown_incident", f"no incident {request.match_info['id']!r}")
    body = hub.incident_json(hub.incident_from_json(row["data"]))
    rows = await hub.db.fetchall("SELECT * FROM outbox WHERE incident = ? ORDER BY id", (body["id"],))
    body["notifications"] = [hub.notification_json(r) for r in rows]
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
    return web.json_response(hub.incident_json(hub.incident_from_json(row["data"])))


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
    if lang is not None and lang not in ("it", "en"):
        raise ApiError(400, "invalid_field:lang", "lang: 'it' or 'en'", field="lang")
    if lang is None:  # the manual in the reader's own language, if they chose one
        lang = await saved_language(ctx_of(request), principal_of(request).name)
    sql = "SELECT * FROM anomalies" + (" WHERE state = 'active'" if state == "active" else "")
    rows = await hub.db.fetchall(sql + " ORDER BY opened_at DESC LIMIT 500")
    return web.json_response({"items": [hub.anomaly_json(hub.anomaly_from_row(r), lang) for r in rows]})


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
    return web.json_response({"items": [hub.notification_json(r) for r in rows]})


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
    body = hub.notification_json(row)
    body["body"] = row["body"]
    attempts = await hub.db.fetchall("SELECT * FROM outbox_attempts WHERE outbox = ? ORDER BY id", (row["id"],))
    body["history"] = [
        {"at": hub.iso(a["at"]), "transport": a["transport"], "outcome": a["outcome"], "detail": a["detail"]}
        for a in attempts
    ]
    return web.json_response(body)


# ---------------------------------------------------------------- demo
class TriggerBody(msgspec.Struct, forbid_unknown_fields=True):
    active: bool = True


async def demo_trigger(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.demo:
        raise ApiError(404, "not_found", "the demo endpoints exist only in demo mode")
    require(request, EVERYONE)
    zone_id = _zone_or_404(request)
    body = await read_body(request, TriggerBody)
    zone = ctx.hub.state.zones[zone_id]
    device = ctx.hub.devices.get(zone.device or "")
    simulated = ctx.drivers.get("simulated")
    if device is None or device.driver != "simulated" or simulated is None:
        raise ApiError(400, "not_simulated", f"zone {zone_id} is not a simulated device")
    try:
        await simulated.set_active(device.address, zone.kind, body.active)
    except DriverError as exc:
        raise ApiError(400, "not_simulated", f"zone {zone_id} cannot be driven by the simulator: {exc}") from None
    await ctx.hub.settle()
    return web.json_response(ctx.hub.zone_json(zone_id))


# ---------------------------------------------------------------- websocket
async def _stream_may_show(ctx: WebContext, principal: Principal, message: dict[str, Any]) -> bool:
    """The stream shows what the REST API would: notifications (they carry the contacts' phone
    numbers and emails) only to the household, and never one about a duress incident; to an
    installer only the events about the installation."""
    if message.get("type") == "event" and is_installer(principal):
        return installer_may_see_event(message.get("kind"))
    if message.get("type") != "notification":
        return True
    if principal.role not in HOUSEHOLD:
        return False
    incident = (message.get("notification") or {}).get("incident")
    if not incident:
        return True
    row = await ctx.hub.db.fetchone("SELECT kind FROM incidents WHERE id = ?", (incident,))
    return row is None or row["kind"] != "duress"


async def websocket(request: web.Request) -> web.WebSocketResponse:
    principal = require(request, EVERYONE)
    ctx = ctx_of(request)
    origin = request.headers.get("Origin")
    if principal.kind == "session" and origin and origin.split("://", 1)[-1] != request.host:
        # Cross-site WebSocket hijacking: a cookie session is only good from our own pages.
        raise ApiError(403, "bad_origin", "WebSocket from another origin")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    queue = ctx.hub.fanout.subscribe()
    try:
        await ws.send_json(_shown(principal, {"type": "system", "system": ctx.hub.system_json()}))

        checked_at = ctx.clock()

        async def pump() -> None:
            nonlocal checked_at
            while True:
                # A quiet house sends nothing for hours: wake up anyway, so a removed user's
                # stream ends within CREDENTIAL_RECHECK (hub/store/accounts.py _end_credentials).
                try:
                    message: dict[str, Any] | None = await asyncio.wait_for(queue.get(), CREDENTIAL_RECHECK)
                except TimeoutError:
                    message = None
                now = ctx.clock()
                # Credentials are re-checked every few seconds, not per message: a revoked token
                # or a logout ends the stream within CREDENTIAL_RECHECK, and a storm stays cheap.
                if now - checked_at < CREDENTIAL_RECHECK:
                    pass
                elif await authenticate(ctx, request) is None:
                    # Logged out, password changed, token revoked or expired: the stream ends too.
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"credentials no longer valid")
                    return
                else:
                    checked_at = now
                if message is not None and await _stream_may_show(ctx, principal, message):
                    await ws.send_json(_shown(principal, message))

        sender = asyncio.create_task(pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    await ws.send_str("pong")
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
    finally:
        ctx.hub.fanout.unsubscribe(queue)
    return ws


def add_routes(app: web.Application) -> None:
    """This module's routes; hub/web/app.py `make_app` registers the other modules' (one place)."""
    app[WEBSOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_websockets)
    r = app.router
    r.add_get("/api/v1/health", health)
    r.add_post("/api/v1/session", login)
    r.add_get("/api/v1/session", whoami)
    r.add_delete("/api/v1/session", logout)
    r.add_get("/api/v1/system", system)
    r.add_post("/api/v1/system/arm", arm)
    r.add_post("/api/v1/system/disarm", disarm)
    r.add_get("/api/v1/zones", zones)
    r.add_get("/api/v1/zones/{id}", zone_get)
    r.add_patch("/api/v1/zones/{id}", zone_patch)
    r.add_post("/api/v1/zones/{id}/isolate", zone_isolate)
    r.add_post("/api/v1/zones/{id}/restore", zone_restore)
    r.add_delete("/api/v1/zones/{id}", zone_delete)
    r.add_get("/api/v1/devices", devices)
    r.add_post("/api/v1/devices", device_add)
    r.add_patch("/api/v1/devices/{id}", device_patch)
    r.add_delete("/api/v1/devices/{id}", device_delete)
    r.add_get("/api/v1/events", events)
    r.add_get("/api/v1/incidents", incidents)
    r.add_get("/api/v1/incidents/{id}", incident_get)
    r.add_post("/api/v1/incidents/{id}/ack", incident_ack)
    r.add_post("/api/v1/incidents/{id}/resolve", incident_resolve)
    r.add_get("/api/v1/anomalies", anomalies)
    r.add_get("/api/v1/notifications", notifications)
    r.add_get("/api/v1/notifications/{id}", notification_get)
    r.add_get("/api/v1/pairing/candidates", candidates)
    r.add_post("/api/v1/pairing/scan", scan)
    r.add_post("/api/v1/demo/zones/{id}/trigger", demo_trigger)
    r.add_get("/api/v1/ws", websocket)


__all__ = ["add_routes", "principal_of"]
