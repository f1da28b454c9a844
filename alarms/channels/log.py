"""The `log` transport: writes the message to the daemon log.

Used in the demo and for every channel that is not configured, so a message is never
silently dropped and the notification list says how it was (not) delivered.
"""

from __future__ import annotations

import logging

from alarms.channels.base import Delivered, Outcome, OutgoingMessage

log = logging.getLogger("casahub.notify")


class LogChannel:
    transport = "log"

    async def send(self, message: OutgoingMessage) -> Outcome:
        target = message.address or message.recipient
        log.info("[%s via log] to %s: %s", message.channel, target, message.short or message.body)
        return Delivered("written to the hub log")
