"""The Hub's side of outputs (sirens, valves, relays): the command row a step's `OutputCommand`
becomes, what an `OutputReading` confirms, and what a restart commands again. Functions of the
hub (hub/core/runtime.py calls them), kept apart so the runtime stays about the engine step;
the dispatcher that sends the rows is hub/core/outputs.py."""

from __future__ import annotations

import logging
from typing import Any

from alarms import output_rules
from alarms.model import Output, OutputReported, State
from alarms.outputs import CONFIRMED_BY, Action, Command, OutputKind, OutputStatus
from drivers.base import OutputReading
from hub.core import outputs
from hub.core.degraded import STORAGE_ERRORS
from hub.store import journal

log = logging.getLogger("hub.runtime")  # the name users' [log] levels know (README)

# Which output kind a reported status is about (a device may be a siren and a relay at once).
STATUS_KIND: dict[OutputStatus, OutputKind] = {
    "sounding": "siren",
    "silent": "siren",
    "open": "valve",
    "closed": "valve",
    "on": "switch",
    "off": "switch",
}
# What the engine may still want of an output after a restart, sent again for the time left.
TIMED_ACTIONS: frozenset[Action] = frozenset({"burglar", "fire", "emergency", "on"})


def command_row(
    hub: Any, output_id: str, command: Command, reason: str, state: State, now: float
) -> outputs.CommandRow:
    """A command to `output_id`, addressed to its device's driver as paired now."""
    output = state.outputs.get(output_id)
    device = hub.devices.get(output.device) if output is not None and output.device is not None else None
    return outputs.new_row(
        output_id,
        command,
        reason,
        device=output.device if output is not None else None,
        driver=device.driver if device is not None else None,
        address=device.address if device is not None else None,
        now=now,
        deadline=hub.outputs.deadline if hub.outputs is not None else outputs.DEFAULT_DEADLINE,
    )


async def output_reading(hub: Any, reading: OutputReading, mine: list[Output], actor: str) -> None:
    """What an output says it is doing: the commands it confirms are done at once (the
    dispatcher stops re-sending), and a change of status goes to the engine (which clears
    `output_failure` when it confirms what was last asked)."""
    kind = STATUS_KIND[reading.status]
    for output in mine:
        if output.kind != kind:
            continue
        if hub.outputs is not None:
            hub.outputs.confirm(output.id, reading.status, reading.at)
        failing = any(a.kind == "output_failure" and a.subject == output.id for a in hub.state.anomalies.values())
        if output.status != reading.status or (failing and output_rules.confirms(output, reading.status)):
            await hub.submit(OutputReported(output=output.id, status=reading.status, at=reading.at), actor=actor)


async def reassert_outputs(hub: Any) -> None:
    """After a restart, command again what the engine still wants of each output: a siren
    within its siren time sounds again for the time left (it may have been reset, or the
    command lost with the hub), and an output whose status does not show what it was last
    asked is asked again, unless a resumed command already does that."""
    now = hub.clock()
    rows: list[outputs.CommandRow] = []
    for output in sorted(hub.state.outputs.values(), key=lambda o: o.id):
        wanted = output.wanted
        if wanted is None or CONFIRMED_BY[wanted] is None:
            continue
        until = output.wanted_until
        if until is not None and wanted in TIMED_ACTIONS:
            if until <= now:
                continue  # the Tick above ended it
            command = Command(action=wanted, seconds=min(until - now, output_rules.MAX_COMMAND_SECONDS))
        elif output.status is not None and output_rules.confirms(output, output.status):
            continue
        elif hub.outputs is not None and hub.outputs.waiting(output.id):
            continue
        else:
            command = Command(action=wanted)
        rows.append(command_row(hub, output.id, command, "recover", hub.state, now))
    if not rows:
        return
    try:
        async with hub.db.transaction() as conn:
            ids = []
            for row in rows:
                await outputs.supersede(conn, row, now)
                ids.append(await outputs.insert(conn, row))
                detail = f"{row.output}: {row.action} (recover)"  # as the engine's LogEvent says it
                await journal.append_event(conn, now, "output_command", actor="hub", data={"detail": detail})
        for row, row_id in zip(rows, ids, strict=True):
            row.id = row_id
    except STORAGE_ERRORS as exc:
        log.error("the outputs' commands at start could not be written (%s): sending them from memory", exc)
        hub.degraded.commands.extend(rows)
    log.warning("restart: commanding again %s", ", ".join(f"{r.output} {r.action}" for r in rows))
    if hub.outputs is not None:
        hub.outputs.add(rows)
