"""The channel interface and the three outcomes of one delivery attempt."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Protocol

import msgspec


class TransportError(Exception):
    """Base of the errors a transport raises (a failed check, a refused address, a broken link):
    one root per package (docs/architecture.md)."""


class OutgoingMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One outbox row as a channel sees it."""

    id: int
    channel: str  # what the recipient gets: sms, email, push, ntfy, voice, gsm, centre
    recipient: str
    address: str | None
    language: str
    subject: str
    body: str
    short: str
    payload: dict[str, object] | None = None
    incident: str | None = None
    anomaly: str | None = None


class Delivered(msgspec.Struct, frozen=True):
    detail: str = ""


class Transient(msgspec.Struct, frozen=True):
    """Try again later; `retry_after` is the peer's hint in seconds, if it gave one."""

    reason: str
    retry_after: float | None = None


class Permanent(msgspec.Struct, frozen=True):
    """Will never succeed as addressed (bad number, revoked credentials...)."""

    reason: str


class NoRecipient(Permanent, frozen=True):
    """Nobody to deliver to on this channel (a contact with no app subscribed): the message is
    not delivered (the row is dead, never "sent"), but the channel itself did not fail."""


Outcome = Delivered | Transient | Permanent


class Channel(Protocol):
    """A transport for one or more channels.

    Lifecycle: a transport that holds connections or background tasks (the DC-09 link
    supervision, an SMTP pool, a modem) is also an async context manager; the daemon
    enters it before the dispatcher starts and exits it on shutdown, and nothing it
    starts outlives that context. `send` must never raise for a delivery problem: it
    classifies it. `max_backoff` (optional attribute, seconds) caps the dispatcher's retry
    delay for this transport (the centre link: one supervision interval).

    For the `centre` channel, `OutgoingMessage.payload` is the engine's Report:
    {"code": ReportCode, "restore": bool, "zone": zone id | None, "zone_number": int | None,
     "incident": str | None, "user": str | None, "user_number": int | None}.
    """

    transport: str  # twilio, smtp, webpush, dc09, log, ...

    async def send(self, message: OutgoingMessage) -> Outcome: ...


def retry_after(value: str | None, clock: Callable[[], float] = time.time) -> float | None:
    """An HTTP Retry-After header as seconds from now: delta-seconds or an HTTP date; None when
    absent or unreadable (the dispatcher's own backoff decides then)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - clock())
    except (TypeError, ValueError, IndexError):
        return None


def redirect_refused(what: str, status: int, location: str | None, setting: str, log: logging.Logger) -> Permanent:
    """A 3xx answer to a delivery: outbound HTTP never follows a redirect (the next hop could be
    the hub itself or a device on the LAN), so it is a permanent error for that target, logged."""
    shown = (location or "")[:120]
    reason = (
        f"{what} answered {status}, a redirect to {shown!r}: redirects are never followed;"
        f" set {setting} to the final address"
    )
    log.warning("%s", reason)
    return Permanent(reason)
