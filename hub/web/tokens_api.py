"""API tokens from the dashboard's Settings: the owner grants, lists and revokes access.

    GET    /api/v1/tokens          the valid tokens, never their secrets          (owner)
    POST   /api/v1/tokens          {"role":"installer","ttl"?: seconds} -> 201 {"token","id","user","expires_at"}
                                   (a logged-in owner: the token carries their name)
    DELETE /api/v1/tokens/{id}     revoke -> {"id","revoked":true}                 (owner)

An installer token (EN 50131 access level 3) is granted by an owner: it carries that owner's
name, lasts 8 h unless `ttl` says otherwise (5 min to 7 days), and dies when that user is removed
or is no longer an owner (hub/store/accounts.py). The secret is in the POST answer only: it is never
listed, logged or journaled (the audit row names the token's id).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

import msgspec
from aiohttp import web

from hub.store.accounts import INSTALLER_TTL, INSTALLER_TTL_MAX, AccountError, TokenInfo
from hub.web.auth import OWNERS, require
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body

__all__ = ["add_token_routes"]

TTL_MIN = 300
PATH = "/api/v1/tokens"


class TokenBody(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["installer"]
    ttl: int = INSTALLER_TTL


def token_json(ctx: WebContext, token: TokenInfo) -> dict[str, Any]:
    return {
        "id": token.id,
        "role": token.role,
        "user": token.user,
        "label": token.label,
        "created_at": ctx.hub.iso(token.created_at),
        "expires_at": ctx.hub.iso(token.expires_at),
    }


async def tokens_list(request: web.Request) -> web.Response:
    require(request, OWNERS)
    ctx = request.app[CONTEXT]
    # Accounts stamps tokens with the wall clock (the CLI makes them too, without the hub's clock).
    tokens = await asyncio.to_thread(ctx.accounts.list_tokens, time.time())
    return web.json_response({"items": [token_json(ctx, t) for t in tokens]})


async def token_create(request: web.Request) -> web.Response:
    """A time-limited installer token, for the owner to hand over (as text or QR code)."""
    principal = require(request, OWNERS)
    if principal.kind != "session":
        # The token carries the owner who granted it: a person logged in, not another token.
        raise ApiError(403, "forbidden", "installer access is granted by an owner logged in to the dashboard")
    ctx = request.app[CONTEXT]
    body = await read_body(request, TokenBody)
    if not TTL_MIN <= body.ttl <= INSTALLER_TTL_MAX:
        raise ApiError(
            400, "invalid_field:ttl", f"ttl: between {TTL_MIN} and {INSTALLER_TTL_MAX} seconds (7 days)", field="ttl"
        )
    label = f"installer access from {principal.name}"
    try:
        token_id, secret = await asyncio.to_thread(
            ctx.accounts.create_token, body.role, ttl=body.ttl, username=principal.name, label=label
        )
    except AccountError as exc:  # the owner was removed or demoted meanwhile
        raise ApiError(403, "forbidden", str(exc)) from None
    expires = time.time() + body.ttl
    await ctx.hub.audit(
        "token_created", actor=principal.name, data={"id": token_id, "role": body.role, "ttl": body.ttl}
    )
    return web.json_response(
        {"token": secret, "id": token_id, "user": principal.name, "expires_at": ctx.hub.iso(expires)}, status=201
    )


async def token_revoke(request: web.Request) -> web.Response:
    principal = require(request, OWNERS)
    ctx = request.app[CONTEXT]
    token_id = request.match_info["id"]
    try:
        await asyncio.to_thread(ctx.accounts.revoke_token, token_id)
    except AccountError:
        raise ApiError(404, "unknown_token", f"no token {token_id!r}") from None
    await ctx.hub.audit("token_revoked", actor=principal.name, data={"id": token_id})
    return web.json_response({"id": token_id, "revoked": True})


def add_token_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, tokens_list)
    r.add_post(PATH, token_create)
    r.add_delete(PATH + "/{id}", token_revoke)
