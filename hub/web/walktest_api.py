"""The walk-test endpoints (`/api/v1/pairing/walktest`): start, watch and stop the installer's walk test.

The engine owns the walk test (alarms/engine.py, "Walk test"): these handlers only turn its
refusals into 409s and describe the result as one walk-test object, the same shape whether the
test runs, was just stopped, or ended earlier (then from the zones' last walk-test results).

Beside the zones, the object lists the outputs to try (`outputs`: sirens, valves, relays, each
with `tested_at`, its latest test the device confirmed, hub/store/output_tests.py): the installer
tries each with POST /api/v1/outputs/{id}/test (hub/web/outputs_api.py).

A walk test lasts at most MAX_MINUTES (the alarms are off while it runs) and starts only while
disarmed (409 `system_armed`, hub/web/guards.py). The owner and the installer start it; anyone of
the household may stop it, since it silences their alarms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from aiohttp import web

from alarms.model import LogEvent, WalkTest, WalkTestStart, WalkTestStop, Zone
from hub.core.views import output_state, zone_signal
from hub.store.accounts import Principal
from hub.store.output_tests import confirmed_tests
from hub.web.auth import EVERYONE, INSTALLERS, require
from hub.web.context import CONTEXT
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed
from hub.web.installer_view import for_installer, is_installer

if TYPE_CHECKING:
    from hub.core.runtime import Hub


PATH = "/api/v1/pairing/walktest"
DEFAULT_MINUTES = 30
MAX_MINUTES = 60

REFUSALS = {
    "not_disarmed": "the system is not disarmed: disarm it first, then start the walk test",
    "walk_test_active": "a walk test is already running: stop it first (DELETE the walk test, or Ctrl-C in the CLI)",
}


class WalkTestBody(msgspec.Struct, forbid_unknown_fields=True):
    minutes: Annotated[int, msgspec.Meta(ge=1, le=MAX_MINUTES)] = DEFAULT_MINUTES


def walk_test_object(
    hub: Hub,
    walk: WalkTest | None,
    *,
    active: bool,
    ended_at: float | None = None,
    last: dict[str, Any] | None = None,
    output_tests: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The walk-test object of the API contract.

    `walk` is the walk test the object is about (running, or just stopped at `ended_at`); without
    one, the zones' last walk-test results are shown with the times of the last walk test (`last`).
    """
    zones = hub.state.zones

    if walk is not None:
        tested_ids = [z for z in walk.tested if z in zones]
        tamper_ids = [z for z in zones if (at := zones[z].tamper_tested_at) is not None and at >= walk.started_at]
        times: dict[str, Any] = {
            "started_at": hub.iso(walk.started_at),
            "ends_at": hub.iso(walk.ends_at if ended_at is None else min(ended_at, walk.ends_at)),
            "by": walk.by,
        }
    else:
        tested_at = {z.id: z.walk_tested_at for z in zones.values() if z.walk_tested_at is not None}
        tested_ids = sorted(tested_at, key=tested_at.__getitem__)
        tamper_ids = [z for z in zones if zones[z].tamper_tested_at is not None]
        times = last or {"started_at": None, "ends_at": None, "by": None}
    tested = set(tested_ids)
    return {
        "active": active,
        **times,
        "tested": [_tested(hub, zones[z]) for z in tested_ids],
        "untested": [
            {"zone": z.id, "name": z.name, "room": z.room, "kind": z.kind} for z in zones.values() if z.id not in tested
        ],
        "tampers": [{"zone": z, "name": zones[z].name, "at": hub.iso(zones[z].tamper_tested_at)} for z in tamper_ids],
        "outputs": [
            {
                "id": o.id,
                "name": o.name,
                "room": o.room,
                "kind": o.kind,
                "state": output_state(o),
                "online": o.online,
                "tested_at": hub.iso((output_tests or {}).get(o.id)),
            }
            for o in sorted(hub.state.outputs.values(), key=lambda o: o.id)
        ],
    }


def _tested(hub: Hub, zone: Zone) -> dict[str, Any]:
    signal, unit = zone_signal(hub, zone.id)  # the unit (dBm, or lqi for Zigbee) is an extension
    return {
        "zone": zone.id,
        "name": zone.name,
        "room": zone.room,
        "kind": zone.kind,
        "at": hub.iso(zone.walk_tested_at),
        "signal": signal,
        "signal_unit": unit,
    }


async def _last_walk_test(hub: Hub) -> dict[str, Any] | None:
    """Start, end and installer of the last walk test, from the event log."""
    started = await hub.db.fetchone(
        "SELECT id, at, actor FROM events WHERE kind = 'walk_test_started' ORDER BY id DESC LIMIT 1"
    )
    if started is None:
        return None
    ended = await hub.db.fetchone(
        "SELECT at FROM events WHERE kind = 'walk_test_ended' AND id > ? ORDER BY id LIMIT 1", (started["id"],)
    )
    return {
        "started_at": hub.iso(started["at"]),
        "ends_at": hub.iso(ended["at"]) if ended is not None else None,
        "by": started["actor"],
    }


def _answer(principal: Principal, body: dict[str, Any]) -> web.Response:
    """An installer reads who started the walk test only if it was them (hub/web/installer_view.py)."""
    return web.json_response(for_installer(body, principal.name) if is_installer(principal) else body)


async def walktest_get(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    hub = request.app[CONTEXT].hub
    walk = hub.state.walk_test
    tests = await confirmed_tests(hub.db)
    if walk is not None:
        return _answer(principal, walk_test_object(hub, walk, active=True, output_tests=tests))
    last = await _last_walk_test(hub)
    return _answer(principal, walk_test_object(hub, None, active=False, last=last, output_tests=tests))


async def walktest_start(request: web.Request) -> web.Response:
    principal = require(request, INSTALLERS)
    body = await read_body(request, WalkTestBody)
    hub = request.app[CONTEXT].hub
    refuse_while_armed(hub)
    step = await hub.submit(WalkTestStart(by=principal.name, duration=body.minutes * 60))
    refused = next((e for e in step.effects if isinstance(e, LogEvent) and e.kind == "walk_test_refused"), None)
    if refused is not None:
        reason = refused.detail or "walk_test_active"
        # Armed between the guard above and the engine's step: the same answer as the guard's.
        error = "system_armed" if reason == "not_disarmed" else reason
        raise ApiError(409, error, REFUSALS.get(reason, reason))
    walk = step.state.walk_test
    assert walk is not None  # not refused: the engine started it
    tests = await confirmed_tests(hub.db)
    return _answer(principal, walk_test_object(hub, walk, active=True, output_tests=tests))


async def walktest_stop(request: web.Request) -> web.Response:
    principal = require(request, EVERYONE)
    hub = request.app[CONTEXT].hub
    walk = hub.state.walk_test
    if walk is None:
        raise ApiError(409, "no_walk_test", "no walk test is running")
    await hub.submit(WalkTestStop(by=principal.name))
    # The hub may have ended it by itself (time over) just before: the object is the same.
    tests = await confirmed_tests(hub.db)
    return _answer(principal, walk_test_object(hub, walk, active=False, ended_at=hub.clock(), output_tests=tests))


def add_walktest_routes(app: web.Application) -> None:
    app.router.add_get(PATH, walktest_get)
    app.router.add_post(PATH, walktest_start)
    app.router.add_delete(PATH, walktest_stop)
