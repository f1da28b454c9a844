"""The hub as a whole (README, HTTP API): health, the session, the system state, arming and disarming."""

from __future__ import annotations

import msgspec
from aiohttp import web

from alarms.model import ArmRefused, ArmRequest, ArmTarget, DisarmRequest
from hub.core.degraded import DURABLE_REQUIRED
from hub.core.views import member_name, system_json
from hub.web.alarm_code import check_code
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
    principal = require(request, ARMERS)
    body = await read_body(request, ArmBody)
    hub = ctx_of(request).hub
    who, _duress = await check_code(request, principal, body.code)
    step = await hub.submit(ArmRequest(mode=body.mode, by=who, force=body.force))
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
        raise ApiError(409, "alarm_active", "an alarm is in progress: disarm first")
    return web.json_response(system_json(hub))


async def disarm(request: web.Request) -> web.Response:
    DURABLE_REQUIRED.set(False)  # people first: a disarm works even when it cannot be written
    principal = require(request, ARMERS)
    body = await read_body(request, DisarmBody)
    hub = ctx_of(request).hub
    who, duress = await check_code(request, principal, body.code)
    await hub.submit(DisarmRequest(by=who, duress=duress))
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
