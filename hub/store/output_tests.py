"""Which outputs were tried and answered: the confirmed tests, read from the event journal.

A test counts only when the device said it did it (EN 50131 asks for a warning device that was
heard, not one that was asked): the engine logs each test command as an `output_command` whose
detail is "<output>: <action> (test)" (alarms/output_rules.py), and each change of what a device
reports as an `output_status`, "<output>: <status>". A test is confirmed by the status that
confirms its action (alarms/outputs.py CONFIRMED_BY) reported after the command and within
CONFIRM_WITHIN. The walk test's page and the commissioning report both read this.
"""

from __future__ import annotations

import re
from typing import Any

from alarms.outputs import ACTIONS, CONFIRMED_BY, Action

__all__ = ["CONFIRM_WITHIN", "confirmed_tests", "parse_command"]

CONFIRM_WITHIN = 60.0  # seconds: a motorised valve takes ~15 s; a later status is another story
_COMMAND = re.compile(r"^(?P<output>.+): (?P<action>[a-z_]+) \((?P<reason>[a-z_]+)\)$")
_ACTIONS: dict[str, Action] = {a: a for a in ACTIONS}


def parse_command(detail: str) -> tuple[str, Action, str] | None:
    """(output, action, reason) of an `output_command` event's detail, or None."""
    match = _COMMAND.match(detail)
    action = _ACTIONS.get(match["action"]) if match is not None else None
    if match is None or action is None:
        return None
    return match["output"], action, match["reason"]


async def confirmed_tests(db: Any, since: float | None = None) -> dict[str, float]:
    """Output id -> when its latest confirmed test was asked (at or after `since`, if given).

    `db` is the hub's Database (hub/store/db.py): its `fetchall` and `fetchone`."""
    rows = await db.fetchall(
        "SELECT id, at, json_extract(data, '$.detail') AS detail FROM events"
        " WHERE kind = 'output_command' AND json_extract(data, '$.detail') LIKE '% (test)'"
        + (" AND at >= ?" if since is not None else "")
        + " ORDER BY id",
        (since,) if since is not None else (),
    )
    tested: dict[str, float] = {}
    for row in rows:
        parsed = parse_command(str(row["detail"] or ""))
        if parsed is None:
            continue
        output, action, _reason = parsed
        expected = CONFIRMED_BY[action]
        if expected is None:
            continue
        answer = await db.fetchone(
            "SELECT id FROM events WHERE kind = 'output_status' AND id > ? AND at <= ?"
            " AND json_extract(data, '$.detail') = ? LIMIT 1",
            (row["id"], float(row["at"]) + CONFIRM_WITHIN, f"{output}: {expected}"),
        )
        if answer is not None:
            tested[output] = float(row["at"])
    return tested
