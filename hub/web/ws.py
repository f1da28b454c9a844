"""The live stream (`/api/v1/ws`): the system state on connect, then every message of the
hub's fan-out (hub/core/live.py) the reader may see, for as long as their credential holds."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from hub.core.views import system_json
from hub.store.accounts import Principal
from hub.web.api_common import ctx_of, shown
from hub.web.auth import EVERYONE, HOUSEHOLD, authenticate, require
from hub.web.context import WebContext
from hub.web.errors import ApiError
from hub.web.installer_view import installer_may_see_event, is_installer

CREDENTIAL_RECHECK = 2.0  # seconds between credential checks of an open WebSocket stream


# The open dashboard streams, closed when the hub shuts down: otherwise a stop would wait for
# every connected dashboard to go away (aiohttp's shutdown timeout) before the hub exits.
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("casahub_websockets")


async def _close_websockets(app: web.Application) -> None:
    sockets = app[WEBSOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub shutting down")


async def _stream_may_show(ctx: WebContext, principal: Principal, message: dict[str, Any]) -> bool:
    """The stream shows what the REST API would: notifications (they carry the contacts' phone
    numbers and emails) only to the household, and never one about a duress incident; to an
    installer only the events about the installation."""
    if message.get("type") == "event" and is_installer(principal):
        return installer_may_see_event(message.get("kind"))
    if message.get("type") != "notification":
        return True
    if principal.role not in HOUSEHOLD:
        return False
    incident = (message.get("notification") or {}).get("incident")
    if not incident:
        return True
    row = await ctx.hub.db.fetchone("SELECT kind FROM incidents WHERE id = ?", (incident,))
    return row is None or row["kind"] != "duress"


async def websocket(request: web.Request) -> web.WebSocketResponse:
    principal = require(request, EVERYONE)
    ctx = ctx_of(request)
    origin = request.headers.get("Origin")
    if principal.kind == "session" and origin and origin.split("://", 1)[-1] != request.host:
        # Cross-site WebSocket hijacking: a cookie session is only good from our own pages.
        raise ApiError(403, "bad_origin", "WebSocket from another origin")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    queue = ctx.hub.fanout.subscribe()
    try:
        await ws.send_json(shown(principal, {"type": "system", "system": system_json(ctx.hub)}))

        checked_at = ctx.clock()

        async def pump() -> None:
            nonlocal checked_at
            while True:
                # A quiet house sends nothing for hours: wake up anyway, so a removed user's
                # stream ends within CREDENTIAL_RECHECK (hub/store/accounts.py _end_credentials).
                try:
                    message: dict[str, Any] | None = await asyncio.wait_for(queue.get(), CREDENTIAL_RECHECK)
                except TimeoutError:
                    message = None
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
                if message is not None and await _stream_may_show(ctx, principal, message):
                    await ws.send_json(shown(principal, message))

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
        ctx.hub.fanout.unsubscribe(queue)
    return ws


def add_ws_routes(app: web.Application) -> None:
    app[WEBSOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_websockets)
    app.router.add_get("/api/v1/ws", websocket)
