"""The live stream (`/api/v1/ws`): the system state on connect, then every message of the
hub's fan-out (hub/core/live.py) the reader may see, for as long as their credential holds.

A message is encoded once per reader variant (`_variant`), not once per dashboard, and the
system snapshot comes coalesced (hub/core/fanout.py)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from hub.core.fanout import LiveMessage
from hub.store.accounts import Principal
from hub.web.api_common import ctx_of, shown
from hub.web.auth import EVERYONE, HOUSEHOLD, authenticate, require
from hub.web.context import WebContext
from hub.web.errors import ApiError
from hub.web.installer_view import installer_may_see_event, is_installer

CREDENTIAL_RECHECK = 2.0  # seconds between credential checks of an open WebSocket stream
_ENCODER = msgspec.json.Encoder()


# The open dashboard streams, closed when the hub shuts down: otherwise a stop would wait for
# every connected dashboard to go away (aiohttp's shutdown timeout) before the hub exits.
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("casahub_websockets")


async def _close_websockets(app: web.Application) -> None:
    sockets = app[WEBSOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub shutting down")


def _variant(principal: Principal) -> Hashable:
    """Readers who see the same bytes share one encoding of each message: the household, other
    roles, and each installer (an installer sees their own name, nobody else's)."""
    if is_installer(principal):
        return ("installer", principal.name)
    return "household" if principal.role in HOUSEHOLD else "others"


def _encoder(principal: Principal) -> Callable[[dict[str, Any]], str | None]:
    """What this reader's variant shows of a message, encoded (None: nothing). The stream shows
    what the REST API would: notifications (they carry the contacts' phone numbers and emails)
    only to the household; to an installer only the events about the installation, with the
    household's names blanked (hub/web/installer_view.py)."""
    installer = is_installer(principal)
    household = principal.role in HOUSEHOLD

    def encode(body: dict[str, Any]) -> str | None:
        kind = body.get("type")
        if kind == "event" and installer and not installer_may_see_event(body.get("kind")):
            return None
        if kind == "notification" and not household:
            return None
        return _ENCODER.encode(shown(principal, body)).decode()

    return encode


async def _about_duress(ctx: WebContext, message: LiveMessage) -> bool:
    """Whether a notification is about a duress incident: never shown (checked once per message)."""
    incident = (message.body.get("notification") or {}).get("incident")
    if message.type != "notification" or not incident:
        return False

    async def look_up() -> bool:
        row = await ctx.hub.db.fetchone("SELECT kind FROM incidents WHERE id = ?", (incident,))
        return row is not None and row["kind"] == "duress"

    return await message.check("duress", look_up)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    principal = require(request, EVERYONE)
    ctx = ctx_of(request)
    origin = request.headers.get("Origin")
    if principal.kind == "session" and origin and origin.split("://", 1)[-1] != request.host:
        # Cross-site WebSocket hijacking: a cookie session is only good from our own pages.
        raise ApiError(403, "bad_origin", "WebSocket from another origin")
    ws = web.WebSocketResponse(heartbeat=30, compress=False)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    subscription = ctx.hub.fanout.open()
    variant, encode = _variant(principal), _encoder(principal)
    try:
        first = subscription.snapshot().encoded(variant, encode)
        if first is not None:
            await ws.send_str(first)

        checked_at = ctx.clock()

        async def pump() -> None:
            nonlocal checked_at
            while True:
                # A quiet house sends nothing for hours: wake up anyway, so a removed user's
                # stream ends within CREDENTIAL_RECHECK (hub/store/accounts.py _end_credentials).
                message = await subscription.next(CREDENTIAL_RECHECK)
                now = ctx.clock()
                # Credentials are re-checked every few seconds, not per message: a revoked token
                # or a logout ends the stream within CREDENTIAL_RECHECK, and a storm stays cheap.
                if now - checked_at < CREDENTIAL_RECHECK:
                    pass
                elif await authenticate(ctx, request) is None:
                    # Logged out, password changed, token revoked or expired: the stream ends too.
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"credentials no longer valid")
                    return
                else:
                    checked_at = now
                if message is None:
                    continue
                text = message.encoded(variant, encode)
                if text is not None and not await _about_duress(ctx, message):
                    await ws.send_str(text)

        sender = asyncio.create_task(pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    await ws.send_str("pong")
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
    finally:
        ctx.hub.fanout.close(subscription)
    return ws


def add_ws_routes(app: web.Application) -> None:
    app[WEBSOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_websockets)
    app.router.add_get("/api/v1/ws", websocket)
