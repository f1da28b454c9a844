"""The alarm timings from the dashboard: the owner changes the `[alarm]` delays without the config.

    GET    /api/v1/system/settings   -> {"settings", "source", "config", "warnings"}   (everyone)
    PATCH  /api/v1/system/settings   any subset of the AlarmSettings fields -> 200, same shape
                                     (a field set to null goes back to the config's value)
    DELETE /api/v1/system/settings   every field back to the config's value -> 200, same shape

`settings` are the values in force, `source` says per field whether they come from the
dashboard or the config, `config` holds the installer's values (what a reset goes back to).
Owner only for changes, sessions and owner tokens, and only while disarmed (409 `system_armed`,
hub/web/guards.py). Bounds are AlarmSettings' own (seconds
0 to 1e8, swinger_limit 0 to 1000): anything else is a 400 naming the field. Values outside
EN 50131 grade-2 practice (entry delay over 45 s, siren outside 2-15 min) are accepted with
`"warnings"`, as `casahub config check` does, since installers shorten them to test.

Overrides are rows of the `alarm_settings` table, written together with their audit row; the
new values then reach the engine as a `Configure` journaled with the owner's name, and on every
start `Hub.recover` applies the config's values plus these overrides. A delay already running
keeps its deadline (Configure does not move it): new values apply from the next arming, entry
delay or alarm.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import msgspec
from aiohttp import web

from alarms.model import AlarmSettings, Configure, Seconds
from hub.config import MAX_ENTRY_DELAY, SIREN_TIME_RANGE
from hub.core.degraded import STORAGE_ERRORS
from hub.core.runtime import Hub
from hub.store import journal
from hub.web.auth import EVERYONE, OWNERS, require
from hub.web.context import CONTEXT
from hub.web.errors import ApiError, read_body
from hub.web.guards import refuse_while_armed

__all__ = ["add_settings_routes", "effective_settings", "grade2_warnings"]

log = logging.getLogger(__name__)

PATH = "/api/v1/system/settings"
# Two owners saving at once must not each write over the other's fields.
CHANGES = web.AppKey("casahub_settings_lock", asyncio.Lock)

Limit = Annotated[int, msgspec.Meta(ge=0, le=1000)]
Unset = msgspec.UnsetType


class SettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """The PATCH body: a number sets a field, null clears the dashboard's value."""

    exit_delay: Seconds | Unset | None = msgspec.UNSET
    entry_delay: Seconds | Unset | None = msgspec.UNSET
    siren_time: Seconds | Unset | None = msgspec.UNSET
    abort_window: Seconds | Unset | None = msgspec.UNSET
    confirmation_window: Seconds | Unset | None = msgspec.UNSET
    swinger_limit: Limit | Unset | None = msgspec.UNSET
    offline_grace: Seconds | Unset | None = msgspec.UNSET


# The timings the dashboard may change; the rest of [alarm] (panic_audible) is the config's alone.
FIELDS: tuple[str, ...] = SettingsPatch.__struct_fields__


def effective_settings(config: AlarmSettings, overrides: dict[str, float]) -> AlarmSettings:
    """The config's values with the dashboard's on top."""
    values: dict[str, Any] = {k: int(v) if k == "swinger_limit" else float(v) for k, v in overrides.items()}
    return msgspec.structs.replace(config, **values)


def grade2_warnings(settings: AlarmSettings) -> list[dict[str, str]]:
    """Values accepted but outside EN 50131 grade-2 practice, as `config check` words them.
    `reason` is a stable code the dashboard words in its own language."""
    warnings = []
    if settings.entry_delay > MAX_ENTRY_DELAY:
        warnings.append(
            {
                "field": "entry_delay",
                "reason": "entry_delay_long",
                "message": f"entry_delay: {settings.entry_delay:g} s is over {MAX_ENTRY_DELAY:g} s, outside "
                "EN 50131 grade-2 practice (accepted; the commissioning report marks it failed)",
            }
        )
    low, high = SIREN_TIME_RANGE
    if not low <= settings.siren_time <= high:
        warnings.append(
            {
                "field": "siren_time",
                "reason": "siren_time_range",
                "message": f"siren_time: {settings.siren_time:g} s is outside {low / 60:g}-{high / 60:g} min, outside "
                "EN 50131 grade-2 practice (accepted; the commissioning report marks it failed)",
            }
        )
    return warnings


def settings_answer(hub: Hub) -> dict[str, Any]:
    settings = hub.state.settings
    return {
        "settings": {name: getattr(settings, name) for name in FIELDS},
        "source": {name: "dashboard" if name in hub.settings_overrides else "config" for name in FIELDS},
        "config": {name: getattr(hub.config_settings, name) for name in FIELDS},
        "warnings": grade2_warnings(settings),
    }


# ---------------------------------------------------------------- storage
async def _load_overrides(hub: Hub) -> dict[str, float]:
    """The stored overrides; a row that is not a valid value (a hand-edited database) is skipped."""
    found: dict[str, float] = {}
    for row in await hub.db.fetchall("SELECT field, value FROM alarm_settings"):
        name, value = row["field"], row["value"]
        try:
            msgspec.convert({name: int(value) if name == "swinger_limit" else value}, SettingsPatch)
        except (msgspec.ValidationError, TypeError, ValueError, OverflowError):
            log.warning("ignoring the stored alarm setting %s=%r: not a valid value", name, value)
            continue
        found[name] = float(value)
    return found


async def _save(hub: Hub, overrides: dict[str, float], kind: str, actor: str, data: dict[str, Any]) -> None:
    """Replace the stored overrides and write the audit row, in one transaction."""
    now = hub.clock()
    try:
        async with hub.db.transaction() as conn:
            await conn.execute("DELETE FROM alarm_settings")
            await conn.executemany(
                "INSERT INTO alarm_settings (field, value, changed_at, actor) VALUES (?, ?, ?, ?)",
                [(name, value, now, actor) for name, value in overrides.items()],
            )
            await journal.append_event(conn, now, kind, actor=actor, data=data)
    except STORAGE_ERRORS as exc:
        raise ApiError(503, "storage_error", f"the settings could not be saved: {exc}") from None


async def _apply(hub: Hub, overrides: dict[str, float], actor: str) -> None:
    """Hand the new values to the engine (journaled, in the event log with `actor`)."""
    hub.settings_overrides = dict(overrides)
    hub.settings = effective_settings(hub.config_settings, overrides)
    if hub.state.settings != hub.settings:
        await hub.submit(Configure(settings=hub.settings), actor=actor)


async def _load_on_start(app: web.Application) -> None:
    """Before the hub recovers its state: recover() then applies config + overrides."""
    hub = app[CONTEXT].hub
    overrides = await _load_overrides(hub)
    hub.settings_overrides = overrides
    hub.settings = effective_settings(hub.config_settings, overrides)


# ---------------------------------------------------------------- routes
async def settings_get(request: web.Request) -> web.Response:
    require(request, EVERYONE)
    return web.json_response(settings_answer(request.app[CONTEXT].hub))


async def settings_patch(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    hub = request.app[CONTEXT].hub
    refuse_while_armed(hub)
    body = await read_body(request, SettingsPatch)
    given = {name: getattr(body, name) for name in FIELDS if getattr(body, name) is not msgspec.UNSET}
    async with request.app[CHANGES]:
        overrides = dict(hub.settings_overrides)
        for name, value in given.items():
            if value is None:
                overrides.pop(name, None)
            else:
                overrides[name] = float(value)
        if given:
            data = {
                "set": {k: v for k, v in given.items() if v is not None},
                "cleared": sorted(k for k, v in given.items() if v is None),
            }
            await _save(hub, overrides, "alarm_settings_saved", principal.name, data)
            await _apply(hub, overrides, principal.name)
    return web.json_response(settings_answer(hub))


async def settings_reset(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    hub = request.app[CONTEXT].hub
    refuse_while_armed(hub)
    async with request.app[CHANGES]:
        if hub.settings_overrides:  # nothing to reset: nothing written, nothing journaled
            cleared = sorted(hub.settings_overrides)
            await _save(hub, {}, "alarm_settings_reset", principal.name, {"cleared": cleared})
            await _apply(hub, {}, principal.name)
    return web.json_response(settings_answer(hub))


def add_settings_routes(app: web.Application) -> None:
    """Register the routes; the stored overrides join the config's values when the app starts."""
    app[CHANGES] = asyncio.Lock()
    app.on_startup.append(_load_on_start)
    r = app.router
    r.add_get(PATH, settings_get)
    r.add_patch(PATH, settings_patch)
    r.add_delete(PATH, settings_reset)
