"""Sirens, water valves and relays (README, HTTP API): read them, set what drives them, try one,
and reopen the water after a leak.

The engine decides what every output does (alarms/output_rules.py); these handlers only turn
people's requests into its events and its refusals into answers:

- `GET /api/v1/outputs`: every role that sees the zones; an installer, like for zones, with the
  household's names blanked (hub/web/installer_view.py).
- `PATCH /api/v1/outputs/{id}` (owner, installer): name, room, `on` (the incidents that drive it),
  `chime`, `squawk`; only while disarmed (409 `system_armed`, hub/web/guards.py), like zones.
- `POST /api/v1/outputs/{id}/test` (owner, installer): a 2 s sound, a relay pulse or a valve
  cycle; only while disarmed; 409 when the engine refuses (it sounds already, a leak closed it).
- `POST /api/v1/outputs/{id}/open {"code"}` (owner): the alarm code as for disarming (the same
  wrong-code throttle, hub/web/alarm_code.py), then the valve opens. Also while armed: the owner
  may be far away when the leak is fixed. 409 `not_closed` for anything but a closed valve.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from alarms.model import IncidentKind, LogEvent, Output, OutputOpen, OutputTest, OutputUpsert
from alarms.outputs import OutputKind
from hub.bounds import Name
from hub.core.views import output_json, output_state
from hub.web.alarm_code import check_code
from hub.web.api_common import actor, ctx_of, shown
from hub.web.auth import EVERYONE, INSTALLERS, OWNERS, require
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed

PATH = "/api/v1/outputs"

# What can drive each kind (alarms/output_rules.py `_drives`): a siren sounds for intrusion, fire
# and (when audible) panic; a valve closes for water; a relay follows any incident. Duress never
# drives anything: a sound would tell whoever forces the user that the code was the duress one.
DRIVEN_BY: dict[OutputKind, tuple[IncidentKind, ...]] = {
    "siren": ("intrusion", "fire", "panic"),
    "valve": ("water",),
    "switch": ("fire", "water", "intrusion", "power", "panic", "tamper"),
}

TEST_REFUSALS = {
    "not_disarmed": ("system_armed", "the system is not disarmed: disarm it first, then try the output"),
    "sounding": ("sounding", "it is sounding (or switched on) right now: try it once it stops"),
    "water_closed": (
        "water_closed",
        "a water alarm closed this valve: a test would open it again; open it with the code once the leak is fixed",
    ),
}


class OutputPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    room: Name | msgspec.UnsetType = msgspec.UNSET
    on: list[IncidentKind] | msgspec.UnsetType = msgspec.UNSET
    chime: bool | msgspec.UnsetType = msgspec.UNSET
    squawk: bool | msgspec.UnsetType = msgspec.UNSET


class OpenBody(msgspec.Struct, forbid_unknown_fields=True):
    code: str


def _output_or_404(request: web.Request) -> str:
    output_id = request.match_info["id"]
    if output_id not in ctx_of(request).hub.state.outputs:
        raise ApiError(404, "unknown_output", f"no output {output_id!r}")
    return output_id


async def outputs(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    hub = ctx_of(request).hub
    return web.json_response(shown(principal, {"items": [output_json(hub, o) for o in sorted(hub.state.outputs)]}))


async def output_get(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    return web.json_response(shown(principal, output_json(ctx_of(request).hub, _output_or_404(request))))


async def output_patch(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    output_id = _output_or_404(request)
    body = await read_body(request, OutputPatch)
    hub = ctx_of(request).hub
    refuse_while_armed(hub)
    o = hub.state.outputs[output_id]
    name = o.name if body.name is msgspec.UNSET else body.name.strip()
    if not name:
        raise ApiError(400, "invalid_field:name", "name: must not be empty", field="name")
    on = o.on if body.on is msgspec.UNSET else tuple(dict.fromkeys(body.on))
    wrong = [kind for kind in on if kind not in DRIVEN_BY[o.kind]]
    if wrong:
        allowed = ", ".join(DRIVEN_BY[o.kind])
        raise ApiError(
            400, "invalid_field:on", f"on: a {o.kind} is driven only by {allowed} (not {', '.join(wrong)})", field="on"
        )
    chime = o.chime if body.chime is msgspec.UNSET else body.chime
    squawk = o.squawk if body.squawk is msgspec.UNSET else body.squawk
    if o.kind != "siren" and (chime or squawk):
        raise ApiError(400, "invalid_field:chime", "chime, squawk: only a siren beeps", field="chime")
    await hub.submit(
        OutputUpsert(
            id=o.id,
            name=name,
            kind=o.kind,
            device=o.device,
            room=o.room if body.room is msgspec.UNSET else body.room.strip(),
            on=on,
            chime=chime,
            squawk=squawk,
            by=actor(principal),
        )
    )
    return web.json_response(shown(principal, output_json(hub, output_id)))


async def output_test(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    output_id = _output_or_404(request)
    hub = ctx_of(request).hub
    refuse_while_armed(hub)
    step = await hub.submit(OutputTest(output=output_id, by=actor(principal)))
    refused = next((e for e in step.effects if isinstance(e, LogEvent) and e.kind == "output_test_refused"), None)
    if refused is not None:
        reason = (refused.detail or "").rsplit(": ", 1)[-1]
        error, message = TEST_REFUSALS.get(reason, (reason or "refused", f"the test was refused ({reason})"))
        raise ApiError(409, error, message)
    return web.json_response(shown(principal, output_json(hub, output_id)))


def _closed(o: Output) -> bool:
    """A valve closed or being closed (asked to close, or a leak closed it): what the owner may open."""
    return output_state(o) == "closed" or o.wanted == "close" or o.closed_by_water


async def output_open(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    output_id = _output_or_404(request)
    body = await read_body(request, OpenBody)
    hub = ctx_of(request).hub
    o = hub.state.outputs[output_id]
    if o.kind != "valve":
        raise ApiError(409, "not_a_valve", f"{o.name} is a {o.kind}, not a water valve: only a valve opens")
    # Checked before the code (what GET shows anyway, so no wrong-code attempt is spent on it) and
    # again after it: the valve may have opened meanwhile.
    if not _closed(o):
        raise ApiError(409, "not_closed", f"{o.name} is not closed: nothing to open")
    who, _duress = await check_code(request, principal, body.code)
    o = hub.state.outputs.get(output_id, o)
    if output_id not in hub.state.outputs or not _closed(o):
        raise ApiError(409, "not_closed", f"{o.name} is not closed: nothing to open")
    await hub.submit(OutputOpen(output=output_id, by=who))
    return web.json_response(output_json(hub, output_id))


def add_outputs_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, outputs)
    r.add_get(PATH + "/{id}", output_get)
    r.add_patch(PATH + "/{id}", output_patch)
    r.add_post(PATH + "/{id}/test", output_test)
    r.add_post(PATH + "/{id}/open", output_open)
