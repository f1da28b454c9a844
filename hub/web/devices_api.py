"""The devices and pairing (README, HTTP API): list, pair, rename, unpair; the drivers'
pairing candidates and scans; the pairing proposal (hub/core/pairing_defaults.py) and the rooms
a device may be paired into."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from aiohttp import web

from alarms.model import ZONE_KINDS, ArmTarget, Behaviour, IncidentKind, OutputUpsert, ZoneKind
from alarms.outputs import OutputKind
from alarms.zone_config import zone_upsert_of
from drivers.base import DriverError
from drivers.capabilities import NormalisesAddress, OutputDriver, ReportsConnection
from hub.bounds import NAME_MAX, Name, clip
from hub.core.pairing import OutputSpec as PairedOutput
from hub.core.pairing import ZoneChoice, entry_taken, pair_device, unpair_device
from hub.core.pairing_defaults import propose, room_named
from hub.core.pairing_names import suggested_name
from hub.core.runtime import Hub
from hub.core.views import device_json
from hub.store import journal
from hub.web.api_common import actor, ctx_of
from hub.web.auth import EVERYONE, INSTALLERS, require
from hub.web.context import WebContext
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed
from hub.web.zones_api import INTRUSION_KINDS, check_behaviour

log = logging.getLogger("hub.web.api")  # the name of the module it came from: users' [log] levels may name it


class ZoneSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A zone of the device as the installer chooses it; what is left out is the proposal
    (GET /api/v1/pairing/proposal), and the first area for `areas`."""

    kind: ZoneKind
    name: Name | None = None
    behaviour: Behaviour | None = None
    modes: list[ArmTarget] | None = None  # the armed modes that watch the zone
    areas: list[str] | None = None  # the areas it belongs to (ids of [[areas]]); None: the first
    chime: bool | None = None  # opening while disarmed makes the chime sirens beep
    home: bool | None = None  # the first release's flag: modes with or without home


class OutputSpec(msgspec.Struct, forbid_unknown_fields=True):
    """An output of the device: a siren, a water valve or a relay. `on`: the incidents that
    drive it (omitted: the kind's default, alarms.outputs.DEFAULT_ON); `chime`: a siren that
    beeps when a chime zone opens while disarmed; `squawk`: one that beeps on arming/disarming."""

    kind: OutputKind
    name: Name | None = None
    on: list[IncidentKind] | None = None
    chime: bool = False
    squawk: bool = False


class DeviceBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    room: Name = ""
    new_room: bool = False  # `room` may be a room no device or zone is in yet (else a typo is refused)
    driver: str | None = None
    address: str | None = None
    candidate: str | None = None
    bindkey: str | None = None
    model: Name | None = None
    zones: list[ZoneSpec] | None = None
    outputs: list[OutputSpec] | None = None


async def devices(request: web.Request) -> web.Response:
    require(request, EVERYONE)
    hub = ctx_of(request).hub
    return web.json_response({"items": [device_json(hub, d) for d in hub.devices.values()]})


async def device_add(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    refuse_while_armed(ctx_of(request).hub)
    body = await read_body(request, DeviceBody)
    ctx = ctx_of(request)
    model = body.model or ""
    kinds: tuple[ZoneKind, ...] = ()
    offered: tuple[OutputKind, ...] | None = None  # the output kinds the device can be (None: not known)
    if body.candidate is not None:
        candidate = next((c for c in await _candidates(ctx) if c.id == body.candidate), None)
        if candidate is None:
            raise ApiError(404, "unknown_candidate", f"no pairing candidate {body.candidate!r}; run a scan first")
        driver, address, model, kinds = candidate.driver, candidate.address, clip(candidate.model), candidate.kinds
        offered = candidate.outputs
    elif body.driver and body.address:
        driver, address = body.driver, body.address.strip()
        if driver not in ctx.drivers:
            raise ApiError(400, "invalid_field:driver", f"driver: no running driver {driver!r}", field="driver")
        running = ctx.drivers[driver]
        if isinstance(running, NormalisesAddress):
            address = running.normalise_address(address)  # e.g. BLE MACs as the radio reports them
        if body.outputs and not isinstance(running, OutputDriver):
            raise ApiError(
                400, "invalid_field:outputs", f"outputs: the {driver} driver drives no outputs", field="outputs"
            )
    else:
        raise ApiError(
            400, "invalid_field:candidate", "candidate: give a candidate id, or driver and address", field="candidate"
        )
    specs = _zone_specs(body, kinds)
    outputs = _output_specs(body, offered)
    if not specs and not outputs:
        raise ApiError(400, "invalid_field:zones", "zones: name at least one zone kind or output", field="zones")
    if not body.name.strip():
        raise ApiError(400, "invalid_field:name", "name: must not be empty", field="name")
    room = _room(ctx.hub, body.room, body.new_room)
    known_areas = [a.id for a in ctx.hub.state.settings.areas]
    choices = [_zone_choice(index, spec, known_areas) for index, spec in enumerate(specs)]
    try:
        device = await pair_device(
            ctx.hub,
            driver=driver,
            address=address,
            name=body.name.strip(),
            room=room,
            model=model,
            bindkey=body.bindkey,
            zones=choices,
            by=actor(principal),
            outputs=[
                PairedOutput(
                    kind=o.kind,
                    name=o.name.strip() if o.name and o.name.strip() else None,
                    on=tuple(dict.fromkeys(o.on)) if o.on is not None else None,
                    chime=o.chime,
                    squawk=o.squawk,
                )
                for o in outputs
            ],
        )
    except ValueError as exc:
        raise ApiError(409, "already_paired", str(exc)) from None
    return web.json_response(device_json(ctx.hub, device), status=201)


def rooms_of(hub: Hub) -> list[str]:
    """The rooms in use (devices, zones, outputs), one spelling each, sorted."""
    found: dict[str, str] = {}
    places = [*(d.room for d in hub.devices.values()), *(z.room for z in hub.state.zones.values())]
    for room in [*places, *(o.room for o in hub.state.outputs.values())]:
        if room.strip():
            found.setdefault(" ".join(room.split()).casefold(), room)
    return sorted(found.values(), key=str.casefold)


def _room(hub: Hub, wanted: str, new_room: bool) -> str:
    """The room a device is paired into: an existing one (in its own spelling), none, or a new
    one the request says it creates; anything else is a typo, refused before it makes a room."""
    wanted = " ".join(wanted.split())
    if not wanted:
        return ""
    rooms = rooms_of(hub)
    existing = room_named(wanted, rooms)
    if existing is not None:
        return existing
    if new_room:
        return wanted
    listed = ", ".join(rooms) or "none yet"
    raise ApiError(
        400,
        "unknown_room",
        f"room: no room {wanted!r} (rooms: {listed}); to create it pass new_room: true",
        field="room",
        rooms=rooms,
    )


def _areas(index: int, wanted: list[str] | None, known: list[str]) -> tuple[str, ...] | None:
    """The zone's areas, each one the config declares, in the config's order; None: the first."""
    if wanted is None:
        return None
    unknown = [a for a in wanted if a not in known]
    if not wanted or unknown:
        what = f"no area {unknown[0]!r}" if unknown else "at least one area"
        raise ApiError(
            400,
            "invalid_field:areas",
            f"zones[{index}].areas: {what} (areas: {', '.join(known)})",
            field="areas",
        )
    return tuple(a for a in known if a in wanted)


def _zone_choice(index: int, spec: ZoneSpec, known_areas: list[str]) -> ZoneChoice:
    if spec.behaviour is not None:
        check_behaviour(spec.kind, spec.behaviour)
    modes = tuple(dict.fromkeys(spec.modes)) if spec.modes is not None else None
    if modes is not None and spec.home is not None and spec.home != ("home" in modes):
        raise ApiError(400, "invalid_field:home", f"zones[{index}].home: disagrees with modes", field="home")
    if modes == () and spec.behaviour != "24h" and spec.kind in INTRUSION_KINDS:
        # An intrusion zone watched in no armed mode would never alarm: nobody would know.
        raise ApiError(
            400, "invalid_field:modes", f"zones[{index}].modes: at least one armed mode must watch it", field="modes"
        )
    name = spec.name.strip() if spec.name and spec.name.strip() else None
    return ZoneChoice(
        kind=spec.kind,
        name=name,
        behaviour=spec.behaviour,
        modes=modes,
        chime=spec.chime,
        home=spec.home,
        areas=_areas(index, spec.areas, known_areas),
    )


def _zone_specs(body: DeviceBody, kinds: tuple[ZoneKind, ...]) -> list[ZoneSpec]:
    """The zones asked for; none given: the candidate's sensing kinds (`"zones": []` beside
    outputs: none at all, a siren or valve only)."""
    if body.zones:
        return body.zones
    if body.zones is not None and body.outputs:
        return []
    return [ZoneSpec(kind=k) for k in kinds]


def _output_specs(body: DeviceBody, offered: tuple[OutputKind, ...] | None) -> list[OutputSpec]:
    """The outputs asked for, each of a kind the device offers; neither zones nor outputs
    given: the likelier output kind the candidate offers, if any."""
    if body.outputs is None:
        return [OutputSpec(kind=offered[0])] if body.zones is None and offered else []
    for index, spec in enumerate(body.outputs):
        if offered is not None and spec.kind not in offered:
            can = ", ".join(offered) or "no output"
            raise ApiError(
                400,
                "invalid_field:outputs",
                f"outputs[{index}].kind: this device cannot be a {spec.kind} (it offers {can})",
                field="outputs",
            )
    return body.outputs


async def device_delete(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    hub = ctx_of(request).hub
    refuse_while_armed(hub)
    device_id = request.match_info["id"]
    if device_id not in hub.devices:
        raise ApiError(404, "unknown_device", f"no device {device_id!r}")
    await unpair_device(hub, device_id, by=actor(principal))
    return web.json_response({"ok": True})


class DevicePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    room: Name | msgspec.UnsetType = msgspec.UNSET


async def device_patch(request: web.Request) -> web.Response:
    """Rename a device or move it to another room. Its zones and outputs follow where they carry
    the device's name or room (one renamed by hand keeps its own name)."""
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
            await hub.submit(zone_upsert_of(z, actor(principal), name=zone_name, room=zone_room))
        for o in sorted((o for o in hub.state.outputs.values() if o.device == device_id), key=lambda o: o.id):
            output_name = {old_name: name, f"{old_name} ({o.kind})": f"{name} ({o.kind})"}.get(o.name, o.name)
            output_room = room if o.room == old_room else o.room
            if (output_name, output_room) == (o.name, o.room):
                continue
            await hub.submit(
                OutputUpsert(
                    id=o.id,
                    name=output_name,
                    kind=o.kind,
                    device=o.device,
                    room=output_room,
                    on=o.on,
                    chime=o.chime,
                    squawk=o.squawk,
                    by=actor(principal),
                )
            )
    return web.json_response(device_json(hub, device))


async def _candidates(ctx: WebContext) -> list[Any]:
    found: list[Any] = []
    for driver in ctx.drivers.values():
        try:
            found.extend(await driver.candidates())
        except Exception:
            log.exception("driver %s failed to list candidates", driver.type)
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
        if isinstance(driver, ReportsConnection) and not driver.connected
    ]


async def candidates(request: web.Request) -> web.Response:
    """The candidates, each with the proposal for each kind it senses (before it has a name: by
    kind alone), the rooms a device may be paired into and the areas its zones may join."""
    require(request, INSTALLERS)
    ctx = ctx_of(request)
    taken = entry_taken(ctx.hub)
    names = [d.name for d in ctx.hub.devices.values()]
    items = [
        msgspec.to_builtins(c)
        | {"paired": False, "proposal": {k: propose(k, entry_taken=taken).as_json() for k in c.kinds}}
        | {"suggested_name": suggested_name(c.kinds, c.outputs, names, ctx.hub.language)}  # not its model code
        for c in await _candidates(ctx)
    ]
    areas = [{"id": a.id, "name": a.name} for a in ctx.hub.state.settings.areas]
    return web.json_response(
        {"items": items, "warnings": _link_warnings(ctx), "rooms": rooms_of(ctx.hub), "areas": areas}
    )


async def proposal(request: web.Request) -> web.Response:
    """`?kind=contact&name=Finestra camera&room=Camera da letto`: what pairing would make of the
    zone (the dashboard's form and the CLI offer it), and whether the room exists."""
    require(request, INSTALLERS)
    hub = ctx_of(request).hub
    kind = request.query.get("kind", "")
    if kind not in ZONE_KINDS:
        raise ApiError(400, "invalid_field:kind", f"kind: one of {', '.join(ZONE_KINDS)}", field="kind")
    name, room = request.query.get("name", ""), request.query.get("room", "")
    for field, value in (("name", name), ("room", room)):
        if len(value) > NAME_MAX:
            raise ApiError(400, f"invalid_field:{field}", f"{field}: at most {NAME_MAX} characters", field=field)
    made = propose(kind, name, room, entry_taken=entry_taken(hub))
    existing = room_named(room, rooms_of(hub)) if room.strip() else ""
    return web.json_response(made.as_json() | {"kind": kind, "room": existing})


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


def add_devices_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/devices", devices)
    r.add_post("/api/v1/devices", device_add)
    r.add_patch("/api/v1/devices/{id}", device_patch)
    r.add_delete("/api/v1/devices/{id}", device_delete)
    r.add_get("/api/v1/pairing/candidates", candidates)
    r.add_get("/api/v1/pairing/proposal", proposal)
    r.add_post("/api/v1/pairing/scan", scan)
