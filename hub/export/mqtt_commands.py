"""Commands from Home Assistant (hub/export/mqtt.py): parsed, their code checked, then run.

Commands go through the same checks as the HTTP API: `Accounts.match_code`, and the hub's
alarm-code throttle (hub/core/throttle.py, kept in the database and shared with the API) keyed
"mqtt": 3 wrong codes lock MQTT commands for 90 s, each further run twice as long up to 1 h,
and they count towards the hub-wide 10 wrong codes an hour that alert the household and the
centre. A wrong code is refused and recorded as `bad_code` in the audit trail (a code outside
its user's window likewise, recorded as `code_outside_window`, an owner's without counting);
arming and disarming are engine inputs recorded with who did it (`"anna (mqtt)"`). The outcome
of every command is published (not retained) on `<base>/alarm/result`. Malformed payloads are
logged and ignored; retained commands (left on the broker by a misconfigured client) are never
executed, and are cleared.

Areas (alarms/areas.py): the house panel's commands arm or disarm every area the code's user may
use (all of them: `areas=None`, as before areas); an area panel's command (`area`) reaches that
area only, and is refused as `forbidden_area` when the code's user is not allowed there (the
HTTP API's word: hub/web/system_api.py); the code was right, so the throttle does not count it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from alarms.model import ARM_TARGETS, ArmRefused, ArmRequest, ArmTarget, DisarmRequest
from hub.core.degraded import DURABLE_REQUIRED, NotDurable
from hub.core.runtime import Hub
from hub.core.throttle import CodeThrottle
from hub.store.accounts import Accounts

log = logging.getLogger("hub.mqtt_export")  # the name users' [log] levels know (README), in every part of the export

THROTTLE_KEY = "mqtt"
THROTTLE_NAME = "MQTT (Home Assistant)"  # who typed the codes, in the household's alert
MAX_COMMAND_BYTES = 1024
MAX_CODE_LENGTH = 64

ACTIONS: dict[str, ArmTarget | None] = {**{f"ARM_{t.upper()}": t for t in ARM_TARGETS}, "DISARM": None}
# Home Assistant renders this with the action and the code the user typed; `tojson` quotes
# whatever the code holds, so the payload is always valid JSON.
COMMAND_TEMPLATE = '{{ {"action": action, "code": code} | tojson }}'

Outcome = Literal[
    "ignored",
    "locked",
    "bad_code",
    "forbidden_area",
    "armed",
    "disarmed",
    "not_ready",
    "refused",
    "storage_error",
    "error",
]


class CommandError(ValueError):
    """A command payload that is not one we understand (logged and ignored)."""


@dataclass(frozen=True)
class Command:
    action: str  # ARM_HOME | ARM_AWAY | ARM_NIGHT | ARM_VACATION | DISARM
    code: str


def parse_command(payload: object) -> Command:
    """`{"action": "ARM_AWAY", "code": "12345"}` (or a bare `ARM_AWAY`, which has no code).

    Raises CommandError for anything else: wrong type, too long, not UTF-8, not JSON, an
    unknown action, a code that is not text.
    """
    if isinstance(payload, bytes | bytearray):
        if len(payload) > MAX_COMMAND_BYTES:
            raise CommandError(f"payload over {MAX_COMMAND_BYTES} bytes")
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError("payload is not UTF-8") from None
    elif isinstance(payload, str):
        text = payload
        if len(text.encode("utf-8", "surrogatepass")) > MAX_COMMAND_BYTES:
            raise CommandError(f"payload over {MAX_COMMAND_BYTES} bytes")
    else:
        raise CommandError(f"payload of type {type(payload).__name__}")
    text = text.strip()
    if text in ACTIONS:
        return Command(text, "")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise CommandError("payload is neither an action nor a JSON object") from None
    if not isinstance(data, dict):
        raise CommandError("JSON payload is not an object")
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise CommandError(f"action must be one of {', '.join(ACTIONS)}")
    code = data.get("code")
    if code is None:
        code = ""
    elif isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    elif not isinstance(code, str):
        raise CommandError("code must be text")
    if len(code) > MAX_CODE_LENGTH:
        raise CommandError(f"code longer than {MAX_CODE_LENGTH} characters")
    return Command(action, code)


async def run_command(
    payload: object,
    *,
    hub: Hub,
    accounts: Accounts,
    throttle: CodeThrottle,
    clock: Callable[[], float],
    topic: str,
    area: str | None = None,
) -> tuple[Outcome, str | None]:
    """One command from `topic`: parsed, its code checked (and throttled), then run by the engine
    on `area` (None: the house panel's, every area the code's user may use).

    Returns the outcome and the action (None when the payload was not a command); raises only on a bug.
    """
    try:
        command = parse_command(payload)
    except CommandError as exc:
        log.warning("mqtt export: ignoring a malformed command on %s: %s", topic, exc)
        return "ignored", None
    now = clock()
    # Counted before the (slow, threaded) hash check, as in the API: concurrent guesses
    # cannot all get past a lock; a right code takes it back below.
    wait = await throttle.begin(THROTTLE_KEY, now)
    if wait is not None:
        log.warning("mqtt export: %s refused: too many wrong codes, locked for %d s", command.action, wait + 1)
        return "locked", command.action
    match = await asyncio.to_thread(accounts.match_code, command.code, now, hub.tz) if command.code else None
    if match is None or not match.inside:
        if match is None:
            log.warning("mqtt export: %s refused: wrong code", command.action)
            await hub.audit("bad_code", actor="mqtt", data={"action": command.action})
        else:
            # Outside its user's window: refused like a wrong code (as in hub/web/alarm_code.py).
            log.warning("mqtt export: %s refused: %s's code outside its window", command.action, match.username)
            data = {"action": command.action, "user": match.username}
            await hub.audit("code_outside_window", actor="mqtt", data=data)
            if match.role == "owner":  # no lockout penalty for an owner's own code
                throttle.forgive(THROTTLE_KEY, now)
                return "bad_code", command.action
        await throttle.wrong(THROTTLE_KEY, now, by=THROTTLE_NAME)
        if throttle.retry_after(THROTTLE_KEY, now) is not None:
            return "locked", command.action
        return "bad_code", command.action
    await throttle.right(THROTTLE_KEY)
    who = f"{match.username} (mqtt)"
    configured = [a.id for a in hub.state.settings.areas]
    if area is not None and area not in configured:
        log.warning("mqtt export: %s refused: no area %s", command.action, area)
        return "refused", command.action
    areas = _areas_for(area, configured, match.areas)
    mode = ACTIONS[command.action]
    if areas == ():
        if mode is None and match.duress:
            # Coerced, even where this code may not disarm: the centre must still hear it, in silence.
            await hub.submit(DisarmRequest(by=who, duress=True, areas=()))
        log.warning("mqtt export: %s refused: %s may not use area %s", command.action, who, area or "any")
        return "forbidden_area", command.action
    if mode is None:
        # A duress code disarms like any other code: nothing here may tell them apart.
        await hub.submit(DisarmRequest(by=who, duress=match.duress, areas=areas))
        log.info("mqtt export: disarmed by %s", who)
        return "disarmed", command.action
    token = DURABLE_REQUIRED.set(True)  # as through the API: armed only once it is written
    try:
        step = await hub.submit(ArmRequest(mode=mode, by=who, areas=areas))
    except NotDurable as exc:
        log.error("mqtt export: arming %s by %s not made: %s", mode, who, exc)
        return "storage_error", command.action
    finally:
        DURABLE_REQUIRED.reset(token)
    refused = next((e for e in step.effects if isinstance(e, ArmRefused)), None)
    if refused is not None:
        log.warning("mqtt export: arming %s by %s refused: %s", mode, who, refused.reason)
        return ("not_ready" if refused.reason == "not_ready" else "refused"), command.action
    log.info("mqtt export: arming %s by %s", mode, who)
    return "armed", command.action


def _areas_for(area: str | None, configured: list[str], allowed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """What the engine is asked to arm or disarm: None (every area) when the user may use them all,
    else the allowed ones among those asked for; () when none of them is allowed."""
    asked = configured if area is None else [area]
    if allowed is None or set(asked) <= set(allowed):
        return None if area is None else (area,)
    return tuple(a for a in asked if a in allowed)
