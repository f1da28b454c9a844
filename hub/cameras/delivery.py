"""Photo verification, delivered: the follow-up with the frames after an alarm.

When the after-trigger window of an incident is over (hub/cameras/snapshots.py), the household
gets one e-mail "photos after the alarm" with those frames, and a webhook centre one signed POST
with them (DC-09 carries no pictures: a DC-09 centre gets the alarm only). The messages are
outbox rows like any other, so they are journaled, retried and shown under the incident's
notifications; the rows hold the paths of the files (payload `{"photos": [...]}`), never the
pictures, and the channels read the files when they send.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alarms.model import Incident
from alarms.policy import plan_photos
from hub.core import outbox

__all__ = ["send_photos"]

log = logging.getLogger(__name__)


async def send_photos(hub: Any, incident: Incident, files: list[Path]) -> int:
    """Queue the follow-up messages for `files` (the frames after the alarm); returns how many rows."""
    if not files:
        return 0
    centre = hub.transports.get("centre", "log") == "webhook"
    plan = plan_photos(incident, len(files), hub.contacts, centre=centre, account_language=hub.language)
    if not plan or hub.degraded.active:
        return 0
    now = hub.clock()
    payload = {"photos": [str(path) for path in files]}
    written = 0
    async with hub.db.transaction() as conn:
        for message in plan:
            transport = hub.transports.get(message.channel, "log")
            row = await outbox.enqueue(
                conn,
                message,
                now=now,
                transport=transport,
                extra_params={"time": hub.format_time(incident.opened_at)},
                payload=payload,
            )
            written += 1 if row else 0
    if written and hub.dispatcher is not None:
        hub.dispatcher.wake()
    log.info("incident %s: %d photos queued in %d follow-up messages", incident.id, len(files), written)
    return written
