"""The household's schedules (README "Schedules"; hub/core/scheduler.py runs them).

    GET    /api/v1/schedules        {"items": [schedule], "modes", "weekdays"}    owner, member
    POST   /api/v1/schedules        {"name","action","at","mode"?,"weekdays"?,
                                     "force"?,"grace_minutes"?,"code"?} -> 201   owner
    DELETE /api/v1/schedules/{id}   -> 204                                        owner

A schedule is the rule (alarms/schedules.py) plus `id`, `created_at`, `created_by`, `last_run`
(the last occurrence it ran or missed) and `next_run`, times in the hub's time zone (ISO 8601).

Who: the owners set schedules up and take them off (a session or an owner's token); members
read them, since they live by them; installers neither (they are the household's routine, not
the installation). A `disarm` schedule is a weakening that no code is typed for when it runs, so
it is set up only with the owner's alarm code, like a disarm. Adding one answers 409
`system_armed` while the alarm is not disarmed (docs/architecture.md, the nevers); deleting
one is allowed at any time: it never leaves the house less protected than it is now.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web

from alarms.model import ARM_TARGETS, ArmTarget
from alarms.schedules import (
    GRACE_DEFAULT,
    GRACE_MAX,
    WEEKDAYS,
    Rule,
    ScheduleAction,
    ScheduleError,
    Weekday,
    check_rule,
    next_occurrence,
)
from hub.bounds import Name
from hub.store.schedules import ScheduleStore, StoredSchedule, TooManySchedules
from hub.web.alarm_code import check_code
from hub.web.api_common import ctx_of
from hub.web.auth import HOUSEHOLD, OWNERS, require
from hub.web.context import CONTEXT
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed

__all__ = ["add_schedules_routes", "schedule_json"]

SCHEDULES = web.AppKey("casahub_schedules", ScheduleStore)


class NewSchedule(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    action: ScheduleAction
    at: Annotated[str, msgspec.Meta(max_length=5)]
    mode: ArmTarget | None = None
    weekdays: Annotated[tuple[Weekday, ...], msgspec.Meta(max_length=7)] = ()
    force: bool = False
    grace_minutes: Annotated[int, msgspec.Meta(ge=1, le=GRACE_MAX)] = GRACE_DEFAULT
    code: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # a disarm schedule's alarm code


def schedule_json(request: web.Request, stored: StoredSchedule) -> dict[str, Any]:
    hub = ctx_of(request).hub
    body: dict[str, Any] = {
        "id": stored.id,
        "created_at": hub.iso(stored.created_at),
        "created_by": stored.created_by,
        "last_run": hub.iso(stored.last_run),
    }
    rule = stored.rule
    if rule is None:
        return {**body, "name": None, "action": None, "next_run": None}
    return {
        **body,
        **msgspec.to_builtins(rule),
        "weekdays": list(rule.weekdays),
        "next_run": hub.iso(next_occurrence(rule, hub.clock(), hub.tz)),
    }


def _schedule_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
        raise ApiError(404, "unknown_schedule", f"no schedule {raw!r}")
    return int(raw)


async def schedules(request: web.Request) -> web.Response:
    require(request, HOUSEHOLD)
    items = [schedule_json(request, s) for s in await request.app[SCHEDULES].all()]
    # The choices, so that the Settings page offers the engine's modes and never a copy of them.
    return web.json_response({"items": items, "modes": list(ARM_TARGETS), "weekdays": list(WEEKDAYS)})


async def schedule_add(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    body = await read_body(request, NewSchedule)
    ctx = ctx_of(request)
    try:
        rule = check_rule(
            Rule(
                name=body.name,
                action=body.action,
                at=body.at,
                mode=body.mode,
                weekdays=body.weekdays,
                force=body.force,
                grace_minutes=body.grace_minutes,
            )
        )
    except ScheduleError as exc:
        raise ApiError(400, f"invalid_field:{exc.field}", str(exc), field=exc.field) from None
    refuse_while_armed(ctx.hub)
    if rule.action == "disarm":
        if not body.code:
            raise ApiError(
                400, "invalid_field:code", "code: a disarm schedule is set up with your alarm code", field="code"
            )
        # A duress code is accepted as a right one here: refusing it would tell whoever watches.
        await check_code(request, principal, body.code)
    try:
        stored = await request.app[SCHEDULES].add(rule, now=ctx.clock(), created_by=principal.name)
    except TooManySchedules as exc:
        raise ApiError(409, "too_many_schedules", str(exc)) from None
    data = {"schedule_id": str(stored.id), "name": rule.name, "action": rule.action, "at": rule.at}
    await ctx.hub.audit("schedule_added", actor=principal.name, data=data)
    return web.json_response(schedule_json(request, stored), status=201)


async def schedule_delete(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    schedule_id = _schedule_id(request)
    store = request.app[SCHEDULES]
    old = await store.get(schedule_id)
    if old is None or not await store.remove(schedule_id):
        raise ApiError(404, "unknown_schedule", f"no schedule {schedule_id}")
    data = {"schedule_id": str(schedule_id), "name": old.rule.name if old.rule is not None else None}
    await ctx_of(request).hub.audit("schedule_removed", actor=principal.name, data=data)
    return web.Response(status=204)


def add_schedules_routes(app: web.Application) -> None:
    app[SCHEDULES] = ScheduleStore(app[CONTEXT].hub.db)
    r = app.router
    r.add_get("/api/v1/schedules", schedules)
    r.add_post("/api/v1/schedules", schedule_add)
    r.add_delete("/api/v1/schedules/{id}", schedule_delete)
