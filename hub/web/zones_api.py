"""The zones (README, HTTP API): read, configure, exclude, isolate, restore, remove; and the
demo's trigger of a simulated zone."""

from __future__ import annotations

import msgspec
from aiohttp import web

from alarms.model import (
    INCIDENT_FOR_ZONE,
    ISOLATE_MAX_HOURS,
    ISOLATE_MAX_HOURS_24H,
    AlarmSettings,
    ArmTarget,
    Behaviour,
    WatchDays,
    ZoneExclude,
    ZoneInclude,
    ZoneKind,
    ZoneRemove,
)
from alarms.zone_config import ordered_modes, zone_upsert_of
from drivers.base import DriverError
from drivers.capabilities import DrivenByHand
from hub.bounds import Name, Text
from hub.core.views import zone_json
from hub.web.alarm_code import check_code
from hub.web.api_common import actor, ctx_of, shown
from hub.web.auth import EVERYONE, INSTALLERS, OWNERS, require
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed

INTRUSION_KINDS = {k for k, v in INCIDENT_FOR_ZONE.items() if v == "intrusion"}


class ZonePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    room: Name | msgspec.UnsetType = msgspec.UNSET
    behaviour: Behaviour | msgspec.UnsetType = msgspec.UNSET
    home: bool | msgspec.UnsetType = msgspec.UNSET  # the first release's flag: adds or removes "home" in modes
    modes: list[ArmTarget] | msgspec.UnsetType = msgspec.UNSET  # the armed modes that watch the zone
    watch_days: WatchDays | msgspec.UnsetType = msgspec.UNSET  # sensor watch: days without a change (0: off)
    areas: list[Name] | msgspec.UnsetType = msgspec.UNSET  # the areas it belongs to (issue 17)
    # Opening while disarmed makes the sirens with chime = true beep (alarms/output_rules.py).
    chime: bool | msgspec.UnsetType = msgspec.UNSET
    bypassed: bool | msgspec.UnsetType = msgspec.UNSET


def _zone_or_404(request: web.Request) -> str:
    zone_id = request.match_info["id"]
    if zone_id not in ctx_of(request).hub.state.zones:
        raise ApiError(404, "unknown_zone", f"no zone {zone_id!r}")
    return zone_id


def check_behaviour(kind: ZoneKind, behaviour: Behaviour) -> None:
    if kind not in INTRUSION_KINDS and behaviour != "24h":
        raise ApiError(400, "invalid_field:behaviour", f"behaviour: a {kind} zone is always 24h", field="behaviour")


async def zones(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    hub = ctx_of(request).hub
    return web.json_response(shown(principal, {"items": [zone_json(hub, z) for z in hub.state.zones]}))


async def zone_get(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    return web.json_response(shown(principal, zone_json(ctx_of(request).hub, _zone_or_404(request))))


async def zone_patch(request: web.Request) -> web.Response:
    """Configuration (owner, installer) and inhibit (`bypassed`: owner, member)."""
    principal = require(request, EVERYONE)
    zone_id = _zone_or_404(request)
    body = await read_body(request, ZonePatch)
    hub = ctx_of(request).hub
    z = hub.state.zones[zone_id]
    configures = any(
        v is not msgspec.UNSET
        for v in (body.name, body.room, body.behaviour, body.home, body.modes, body.watch_days, body.chime, body.areas)
    )
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
    check_behaviour(z.kind, behaviour)
    name = z.name if body.name is msgspec.UNSET else body.name.strip()
    if not name:
        raise ApiError(400, "invalid_field:name", "name: must not be empty", field="name")
    modes = _patched_modes(z.modes, body)
    if behaviour != "24h" and not modes:
        # An intrusion zone watched in no armed mode would never alarm: nobody would know.
        raise ApiError(400, "invalid_field:modes", "modes: at least one armed mode must watch the zone", field="modes")
    if configures:
        changes = {
            "name": name,
            "behaviour": behaviour,
            "modes": modes,
            "room": z.room if body.room is msgspec.UNSET else body.room,
            "chime": z.chime if body.chime is msgspec.UNSET else body.chime,
            "watch_days": z.watch_days if body.watch_days is msgspec.UNSET else body.watch_days,
        }
        if body.areas is not msgspec.UNSET:
            changes["areas"] = _checked_areas(hub.state.settings, body.areas)
        await hub.submit(zone_upsert_of(z, actor(principal), **changes))
    if body.bypassed is True and z.excluded is None:
        await hub.submit(ZoneExclude(zone=zone_id, how="inhibit", by=actor(principal)))
    elif body.bypassed is False and z.excluded is not None:
        await hub.submit(ZoneInclude(zone=zone_id, by=actor(principal)))
    return web.json_response(shown(principal, zone_json(hub, zone_id)))


def _checked_areas(settings: AlarmSettings, areas: list[str]) -> tuple[str, ...]:
    """Known area ids, at least one: a zone in no area would be in the first one unseen."""
    unknown = [a for a in areas if settings.area(a) is None]
    if unknown or not areas:
        known = ", ".join(a.id for a in settings.areas)
        reason = f"unknown area {unknown[0]!r}" if unknown else "at least one area"
        raise ApiError(400, "invalid_field:areas", f"areas: {reason} (areas: {known})", field="areas")
    return tuple(dict.fromkeys(areas))


def _patched_modes(current: tuple[ArmTarget, ...], body: ZonePatch) -> tuple[ArmTarget, ...]:
    """`modes` replaces the zone's modes; the old `home` flag adds or removes home; both must agree."""
    modes = current if body.modes is msgspec.UNSET else ordered_modes(body.modes)
    if body.home is msgspec.UNSET:
        return modes
    if body.modes is not msgspec.UNSET:
        if body.home != ("home" in modes):
            raise ApiError(400, "invalid_field:home", "home: disagrees with modes", field="home")
        return modes
    return ordered_modes({*modes, "home"} if body.home else set(modes) - {"home"})


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
    who, _duress = await check_code(request, principal, body.code)
    await hub.submit(ZoneExclude(zone=zone_id, how="isolate", by=who, reason=reason, hours=body.hours))
    return web.json_response(zone_json(hub, zone_id))


async def zone_restore(request: web.Request) -> web.Response:
    """The owner puts a zone back into protection, whatever excluded it (also while armed)."""
    principal = require(request, OWNERS)
    zone_id = _zone_or_404(request)
    body = await read_body(request, RestoreBody)
    hub = ctx_of(request).hub
    who, _duress = await check_code(request, principal, body.code)
    if hub.state.zones[zone_id].excluded is not None:
        await hub.submit(ZoneInclude(zone=zone_id, by=who))
    return web.json_response(zone_json(hub, zone_id))


async def zone_delete(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    refuse_while_armed(ctx_of(request).hub)
    zone_id = _zone_or_404(request)
    await ctx_of(request).hub.submit(ZoneRemove(id=zone_id, by=actor(principal)))
    return web.json_response({"ok": True})


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
    simulated = ctx.drivers.get(device.driver) if device is not None else None
    if device is None or not isinstance(simulated, DrivenByHand):
        raise ApiError(400, "not_simulated", f"zone {zone_id} is not a simulated device")
    try:
        await simulated.set_active(device.address, zone.kind, body.active)
    except DriverError as exc:
        raise ApiError(400, "not_simulated", f"zone {zone_id} cannot be driven by the simulator: {exc}") from None
    await ctx.hub.settle()
    return web.json_response(zone_json(ctx.hub, zone_id))


def add_zones_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/zones", zones)
    r.add_get("/api/v1/zones/{id}", zone_get)
    r.add_patch("/api/v1/zones/{id}", zone_patch)
    r.add_post("/api/v1/zones/{id}/isolate", zone_isolate)
    r.add_post("/api/v1/zones/{id}/restore", zone_restore)
    r.add_delete("/api/v1/zones/{id}", zone_delete)
    r.add_post("/api/v1/demo/zones/{id}/trigger", demo_trigger)
