"""The notification channels as the owner sees them, and a test message on one of them.

    GET  /api/v1/channels                  {"items": [channel], "own": contact name or null}
    POST /api/v1/channels/{channel}/test   {"contact"?: name} -> 202 {"id","channel","recipient",
                                           "state","notification"}

A channel is `{"channel","transport","configured","failing","recipients"}`: `transport` is what
the config gives it (`log` in the demo, `none` when missing), `failing` says a `channel_failure`
anomaly is active for it (the anomaly manual's "check which channel failed"), `recipients` the
contacts an alarm reaches on it.

The test goes through the real outbox (hub/core/outbox.py), like an alarm: the row is written,
the dispatcher sends it with its retries and fallbacks, and its outcome is the notification's
`state` (`pending` while it tries, `sent`, `dead` with `last_error`), read at `notification`
(GET /api/v1/notifications/{id}) and on the WebSocket. That is the difference with the
installer's `POST /api/v1/pairing/test-messages`, which sends straight through each transport
with a timeout for the commissioning report. It goes to the owner's own contact (a config
contact whose `user` is them, or a contact with their username as its name), else the first
contact reachable on that channel, or the contact named in the body; ntfy goes to the household
topic and the centre gets a DC-09 test report. It is allowed while armed: it changes no setting,
and a channel that fails while the family is away is exactly when it is needed. At most
TEST_LIMIT tests per owner in TEST_WINDOW seconds (429 with Retry-After): each one is a real
SMS, e-mail or call.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import msgspec
from aiohttp import web

from alarms.policy import CHANNELS, Channel, Contact, PlannedMessage
from hub.bounds import Name
from hub.web.auth import OWNERS, require
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body

__all__ = ["TESTABLE", "TEST_LIMIT", "TEST_WINDOW", "add_channels_routes"]

# Every channel of the vocabulary but the GSM modem, which is SMS's fallback, not a channel of its own.
TESTABLE: tuple[Channel, ...] = tuple(c for c in CHANNELS if c != "gsm")
TEST_LIMIT = 5
TEST_WINDOW = 600.0
NOT_CONFIGURED = "none"  # hub/transports/registry.py NOT_CONFIGURED, without importing the registry

RECENT = web.AppKey("channel_tests", dict[str, collections.deque[float]])


class TestBody(msgspec.Struct, forbid_unknown_fields=True):
    contact: Name | None = None


def _ctx(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def reaches(contact: Contact, channel: str) -> bool:
    """Whether an alarm on `channel` reaches this contact (alarms/policy.py plans it so)."""
    if channel == "sms":
        return bool(contact.phone)
    if channel == "email":
        return bool(contact.email)
    if channel == "push":
        return contact.push
    if channel == "voice":
        return contact.voice and bool(contact.phone)
    return False


def own_contact(ctx: WebContext, username: str) -> Contact | None:
    """The owner's own contact: a config contact whose `user` is them, else one named like them
    (the rule the Web Push transport uses to find a contact's phones, hub/daemon.py)."""
    wanted = username.lower()
    linked = {
        c.name for c in (ctx.config.contacts if ctx.config is not None else ()) if (c.user or "").lower() == wanted
    }
    for contact in ctx.hub.contacts:
        if contact.name in linked or contact.name.lower() == wanted:
            return contact
    return None


def _channel_json(ctx: WebContext, channel: Channel) -> dict[str, Any]:
    transport = ctx.hub.transports.get(channel, NOT_CONFIGURED)
    failing = any(
        a.kind == "channel_failure" and a.subject == channel and a.state == "active"
        for a in ctx.hub.state.anomalies.values()
    )
    return {
        "channel": channel,
        "transport": transport,
        "configured": transport != NOT_CONFIGURED,
        "failing": failing,
        "recipients": [c.name for c in ctx.hub.contacts if reaches(c, channel)],
    }


def _channel_of(request: web.Request) -> Channel:
    raw = request.match_info["channel"]
    for channel in TESTABLE:
        if raw == channel:
            return channel
    raise ApiError(404, "unknown_channel", f"no channel {raw[:32]!r}: one of {', '.join(TESTABLE)}")


def _recipient(ctx: WebContext, channel: Channel, username: str, named: str | None) -> Contact | None:
    """Who the test goes to; None for the household's ntfy topic and the centre."""
    if channel in ("ntfy", "centre"):
        return None
    if named is not None:
        contact = next((c for c in ctx.hub.contacts if c.name == named), None)
        if contact is None:
            raise ApiError(404, "unknown_contact", f"no contact {named!r}")
    else:
        own = own_contact(ctx, username)
        contact = own if own is not None and reaches(own, channel) else None
        contact = contact or next((c for c in ctx.hub.contacts if reaches(c, channel)), None)
        if contact is None:
            raise ApiError(409, "no_recipient", f"no contact is reached on {channel}: add one in Settings, Contacts")
    if not reaches(contact, channel):
        raise ApiError(409, "not_reachable", f"{contact.name} is not reached on {channel}", field="contact")
    return contact


def _take_turn(request: web.Request, who: str) -> None:
    """At most TEST_LIMIT tests per owner in TEST_WINDOW seconds."""
    now = _ctx(request).clock()
    recent = request.app[RECENT].setdefault(who, collections.deque())
    while recent and now - recent[0] >= TEST_WINDOW:
        recent.popleft()
    if len(recent) >= TEST_LIMIT:
        wait = max(1, math.ceil(TEST_WINDOW - (now - recent[0])))
        error = ApiError(
            429,
            "too_many_tests",
            f"at most {TEST_LIMIT} test messages in {TEST_WINDOW / 60:g} minutes: try again in {wait} s",
        )
        error.headers["Retry-After"] = str(wait)
        raise error
    recent.append(now)


async def channels(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    ctx = _ctx(request)
    own = own_contact(ctx, principal.name)
    items = [_channel_json(ctx, channel) for channel in TESTABLE]
    shown = [c for c in items if c["configured"] or c["recipients"]]
    return web.json_response({"items": shown, "own": own.name if own is not None else None})


async def channel_test(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    channel = _channel_of(request)
    body = await read_body(request, TestBody)
    ctx = _ctx(request)
    hub = ctx.hub
    if hub.transports.get(channel, NOT_CONFIGURED) == NOT_CONFIGURED:
        # Nothing would be sent: the outbox would write the row dead at once (or, for the
        # centre, not at all). Say so instead of answering 202 for nothing.
        section = "sms" if channel == "voice" else channel
        raise ApiError(409, "not_configured", f"{channel} has no transport: add [{section}] to the config")
    contact = _recipient(ctx, channel, principal.name, body.contact)
    _take_turn(request, principal.name)
    from hub.commissioning.test_messages import make_test_message

    now = ctx.clock()
    outgoing = make_test_message(channel, contact, hub.language, principal.name, hub.format_time(now))
    planned = PlannedMessage(
        channel=channel,
        recipient=outgoing.recipient,
        address=outgoing.address,
        language=outgoing.language,
        template="test",
        params={"channel": channel, "user": principal.name},
    )
    async with hub.db.transaction() as conn:
        row = await hub.enqueue(conn, planned, now, payload=outgoing.payload)
    row_id = int(row["id"])
    if hub.dispatcher is not None:
        hub.dispatcher.wake()
    state = await hub.db.fetchone("SELECT state, last_error FROM outbox WHERE id = ?", (row_id,))
    await hub.audit(
        "test_messages_sent",
        actor=principal.name,
        data={"channels": {channel: "queued"}, "notification": str(row_id)},
    )
    return web.json_response(
        {
            "id": str(row_id),
            "channel": channel,
            "recipient": outgoing.recipient,
            "state": state["state"] if state is not None else "pending",
            "last_error": state["last_error"] if state is not None else None,
            "notification": f"/api/v1/notifications/{row_id}",
        },
        status=202,
    )


def add_channels_routes(app: web.Application) -> None:
    app[RECENT] = {}
    app.router.add_get("/api/v1/channels", channels)
    app.router.add_post("/api/v1/channels/{channel}/test", channel_test)
