"""The areas (partitions) of the house (README, HTTP API; issue 17): each armed and disarmed on
its own, with the code of a user who may use it.

    GET  /api/v1/areas              {"items": [area]}: each area with its mode and readiness
    POST /api/v1/areas/{id}/arm     {"mode","code","force"?} -> the system JSON (as /api/v1/system/arm)
    POST /api/v1/areas/{id}/disarm  {"code"}                 -> the system JSON

A user limited to some areas (`areas` in the users API) gets 403 `forbidden_area` for the others.
"""

from __future__ import annotations

from aiohttp import web

from hub.core.views import areas_json
from hub.web.api_common import ctx_of, shown
from hub.web.auth import ARMERS, EVERYONE, require
from hub.web.errors import ApiError
from hub.web.system_api import arm_areas, disarm_areas


def _area_or_404(request: web.Request) -> str:
    area = request.match_info["id"]
    if ctx_of(request).hub.state.settings.area(area) is None:
        raise ApiError(404, "unknown_area", f"no area {area!r}")
    return area


async def areas(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    return web.json_response(shown(principal, {"items": areas_json(ctx_of(request).hub)}))


async def area_arm(request: web.Request) -> web.Response:
    require(request, ARMERS)  # who may ask comes before which areas exist
    return await arm_areas(request, _area_or_404(request))


async def area_disarm(request: web.Request) -> web.Response:
    require(request, ARMERS)
    return await disarm_areas(request, _area_or_404(request))


def add_areas_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/areas", areas)
    r.add_post("/api/v1/areas/{id}/arm", area_arm)
    r.add_post("/api/v1/areas/{id}/disarm", area_disarm)
