"""The hub as a whole (README, HTTP API): health, the session, the system state, arming and disarming."""

from __future__ import annotations

import msgspec
from aiohttp import web

from alarms.model import ArmRefused, ArmRequest, ArmTarget, DisarmRequest
from hub.core.degraded import DURABLE_REQUIRED
from hub.core.views import member_name, system_json
from hub.web.alarm_code import CodeUse, code_use
from hub.web.api_common import ctx_of, shown
from hub.web.auth import ARMERS, EVERYONE, login, logout, require, whoami
from hub.web.errors import ApiError, read_body


async def health(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if not ctx.hub.ready:
        return web.json_response({"status": "starting", "version": ctx.version}, status=503)
    return web.json_response({"status": "ok", "version": ctx.version})


async def system(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    return web.json_response(shown(principal, system_json(ctx_of(request).hub)))


class ArmBody(msgspec.Struct, forbid_unknown_fields=True):
    mode: ArmTarget
    code: str
    force: bool = False


class DisarmBody(msgspec.Struct, forbid_unknown_fields=True):
    code: str


async def arm(request: web.Request) -> web.Response:
    """Arm every area the code's user may arm (all of them for most users)."""
    return await arm_areas(request, None)


async def arm_areas(request: web.Request, area: str | None) -> web.Response:
    """Arm `area` (None: every area the code's user may arm); the system JSON, or why not."""
    principal = require(request, ARMERS)
    body = await read_body(request, ArmBody)
    hub = ctx_of(request).hub
    use = await code_use(request, principal, body.code)
    step = await hub.submit(ArmRequest(mode=body.mode, by=use.who, force=body.force, areas=_areas_for(use, area)))
    refused = next((e for e in step.effects if isinstance(e, ArmRefused)), None)
    if refused is not None:
        if refused.reason == "not_ready":
            items = [
                {"zone": z, "name": member_name(hub.state, z), "reason": r}  # a siren_offline names an output
                for z, r in refused.not_ready
            ]
            names = ", ".join(f"{i['name']} ({i['reason']})" for i in items)
            raise ApiError(409, "not_ready", f"not ready to arm: {names}", not_ready=items)
        if refused.reason == "walk_test":
            raise ApiError(409, "walk_test", "a walk test is running: the installer must end it before arming")
        if refused.reason == "unknown_area":
            raise ApiError(403, "forbidden_area", "this code may not arm any area")
        raise ApiError(409, "alarm_active", "an alarm is in progress: disarm first")
    return web.json_response(system_json(hub))


def _areas_for(use: CodeUse, area: str | None) -> tuple[str, ...] | None:
    """The areas a request acts on: `area`, or every area the code's user may use."""
    if area is None:
        return use.areas
    if use.areas is not None and area not in use.areas:
        # Refused before anything is submitted: this code belongs to another part of the house.
        raise ApiError(403, "forbidden_area", f"this code may not arm or disarm area {area!r}")
    return (area,)


async def disarm(request: web.Request) -> web.Response:
    """Disarm every area the code's user may disarm."""
    return await disarm_areas(request, None)


async def disarm_areas(request: web.Request, area: str | None) -> web.Response:
    DURABLE_REQUIRED.set(False)  # people first: a disarm works even when it cannot be written
    principal = require(request, ARMERS)
    body = await read_body(request, DisarmBody)
    hub = ctx_of(request).hub
    use = await code_use(request, principal, body.code)
    try:
        areas = _areas_for(use, area)
    except ApiError:
        if use.duress:
            # Coerced, even where this code may not disarm: the centre must still hear it, in silence.
            await hub.submit(DisarmRequest(by=use.who, duress=True, areas=()))
        raise
    await hub.submit(DisarmRequest(by=use.who, duress=use.duress, areas=areas))
    # A duress disarm looks exactly like a normal one to whoever holds the screen.
    return web.json_response(system_json(hub))


def add_system_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/health", health)
    r.add_post("/api/v1/session", login)
    r.add_get("/api/v1/session", whoami)
    r.add_delete("/api/v1/session", logout)
    r.add_get("/api/v1/system", system)
    r.add_post("/api/v1/system/arm", arm)
    r.add_post("/api/v1/system/disarm", disarm)
