"""Keeping the alarm working while the database cannot be written (full, read-only, failing).

An alarm matters more than its record (a change a person asks for is the exception: see
`DURABLE_REQUIRED`). When a step cannot be committed, the hub keeps
the new state in memory, remembers the inputs it could not journal, and sends the
step's messages from an in-memory outbox through the same dispatcher and channels, and its
output commands (a siren, a valve) through the output dispatcher. A
`storage_error` anomaly tells the household. A probe retries the disk; once a write
succeeds, everything kept in memory is written in one transaction (journal, incidents,
anomalies, the messages with their delivery state, the output commands with theirs) and the
anomaly is cleared.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from alarms.messages import render
from alarms.model import AnyEvent, Step
from hub.transports.base import OutgoingMessage

log = logging.getLogger("hub.degraded")  # the name users' [log] levels know (README)

PROBE_INTERVAL = 5.0
STORAGE_ERRORS = (sqlite3.Error, OSError)

# Set while a person's change is being made (an API request that changes something, an MQTT arm
# command): the step must be committed, or it is not made at all and `NotDurable` is raised, so
# that nobody is told "done" for a change that a power cut would undo. Everything else (sensors,
# timers, faults, and disarming: people first) goes on in memory as described above.
DURABLE_REQUIRED: ContextVar[bool] = ContextVar("casahub_durable_required", default=False)


class NotDurable(Exception):
    """The change could not be written, so it was not made (the API answers 503 storage_error)."""


_ids = itertools.count(-1, -1)  # in-memory rows get negative ids: never confused with table rows


@dataclass
class MemoryRow:
    """An outbox row that could not be written; the dispatcher sends it from memory."""

    message: OutgoingMessage
    transport: str
    template: str
    created_at: float
    due_at: float
    step: int
    state: str = "pending"  # scheduled | pending | sent | dead | cancelled
    attempts: int = 0
    last_error: str | None = None
    sent_at: float | None = None

    def as_row(self) -> dict[str, Any]:
        m = self.message
        return {
            "id": m.id,
            "incident": m.incident,
            "anomaly": m.anomaly,
            "channel": m.channel,
            "transport": self.transport,
            "recipient": m.recipient,
            "address": m.address,
            "language": m.language,
            "template": self.template,
            "subject": m.subject,
            "short": m.short,
            "step": self.step,
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "due_at": self.due_at,
            "sent_at": self.sent_at,
        }


@dataclass
class Unsaved:
    """One engine step that is applied but not yet journaled."""

    event: AnyEvent
    at: float
    actor: str | None
    step: Step


@dataclass
class Degraded:
    """What the hub holds in memory while storage fails."""

    active: bool = False
    reason: str = ""
    steps: list[Unsaved] = field(default_factory=list)
    outbox: list[MemoryRow] = field(default_factory=list)
    # Output commands (hub/core/outputs.py CommandRow; named loosely: that module imports this
    # one) sent from memory by the output dispatcher, each written with its state on recovery.
    commands: list[Any] = field(default_factory=list)

    def enter(self, exc: BaseException) -> None:
        if not self.active:
            log.error("storage failed (%s): alarms keep working from memory until the disk can be written", exc)
        self.active = True
        self.reason = str(exc)

    def queue(
        self, planned: Any, *, transport: str, now: float, params: dict[str, str], payload: dict[str, Any] | None
    ) -> MemoryRow:
        text = render(planned.template, planned.language, {**planned.params, **params})
        message = OutgoingMessage(
            id=next(_ids),
            channel=planned.channel,
            recipient=planned.recipient,
            address=planned.address,
            language=planned.language,
            subject=text.subject,
            body=text.body,
            short=text.short,
            payload=payload,
            incident=planned.incident,
            anomaly=planned.anomaly,
        )
        row = MemoryRow(
            message=message,
            transport=transport,
            template=planned.template,
            created_at=now,
            due_at=now + planned.delay,
            step=planned.step,
            state="scheduled" if planned.delay > 0 else "pending",
        )
        self.outbox.append(row)
        return row

    def cancel_escalation(self, incident: str) -> None:
        for row in self.outbox:
            if row.message.incident == incident and row.state == "scheduled":
                row.state = "cancelled"
