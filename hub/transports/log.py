"""The `log` transport: writes the message to the daemon log.

Used by `casahub serve --demo` only, for every channel that is not configured: the demo's
messages are visible and the notification list says `"transport": "log"`. Outside the demo a
channel without its section has no transport at all (hub/transports/registry.py): a log line is not
a delivery.
"""

from __future__ import annotations

import logging

from hub.transports.base import Delivered, Outcome, OutgoingMessage

log = logging.getLogger("casahub.notify")


class LogChannel:
    transport = "log"

    async def send(self, message: OutgoingMessage) -> Outcome:
        target = message.address or message.recipient
        log.info("[%s via log] to %s: %s", message.channel, target, message.short or message.body)
        return Delivered("demo: written to the hub log")
