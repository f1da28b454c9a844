"""Authentication: login sessions (cookie + CSRF), bearer tokens, roles and throttling.

Everything but the health check, the login endpoint and static assets needs a
principal. Cookie sessions must echo their CSRF token in `X-CSRF-Token` on unsafe
methods; bearer tokens need no CSRF token because browsers never attach them by themselves.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
from aiohttp import web

from hub.store.accounts import ROLES, Principal, Role
from hub.web.context import CONTEXT, WebContext
from hub.web.errors import ApiError, read_body

COOKIE = "casahub_session"
PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/session")}
# The first-start setup (hub/web/pages.py) is public only while the hub has no user at all.
SETUP = ("POST", "/api/v1/setup")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

PRINCIPAL = web.RequestKey("principal", Principal)

# Who may call a route: the role tuples every hub/web module passes to `require`, in one place.
OWNERS: tuple[Role, ...] = ("owner",)
ARMERS: tuple[Role, ...] = ("owner", "member")
HOUSEHOLD: tuple[Role, ...] = ("owner", "member")
INSTALLERS: tuple[Role, ...] = ("owner", "installer")
EVERYONE: tuple[Role, ...] = ROLES
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def principal_of(request: web.Request) -> Principal:
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None:
        raise ApiError(401, "unauthorized", "log in or send a bearer token")
    return principal


def require(request: web.Request, roles: Iterable[Role]) -> Principal:
    principal = principal_of(request)
    if principal.role not in set(roles):
        raise ApiError(403, "forbidden", f"the {principal.role} role may not do this")
    return principal


async def authenticate(ctx: WebContext, request: web.Request) -> Principal | None:
    now = ctx.clock()
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        # Tokens and session ids are ASCII: anything else is no credential (and must not reach
        # the digest, where a non-UTF-8 header byte would raise).
        if not token.isascii():
            return None
        return await asyncio.to_thread(ctx.accounts.check_token, token, now)
    cookie = request.cookies.get(COOKIE)
    if cookie and cookie.isascii():
        return await asyncio.to_thread(ctx.accounts.check_session, cookie, now)
    return None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if (request.method, request.path) in PUBLIC or not request.path.startswith("/api/"):
        return await handler(request)
    principal = await authenticate(ctx, request)
    if principal is None and (request.method, request.path) == SETUP:
        if await asyncio.to_thread(ctx.accounts.user_count) == 0:
            return await handler(request)
    if principal is None and getattr(request.match_info.handler, "own_auth", False):
        # A route that checks credentials of its own (a camera's event token) and answers 401 itself.
        return await handler(request)
    if principal is None:
        raise ApiError(401, "unauthorized", "log in or send a bearer token")
    if principal.kind == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "").encode("utf-8", "replace")
        # Compared as bytes: hmac.compare_digest raises TypeError on non-ASCII str.
        if not principal.csrf or not hmac.compare_digest(sent, principal.csrf.encode()):
            raise ApiError(403, "csrf", "missing or wrong X-CSRF-Token header")
    request[PRINCIPAL] = principal
    return await handler(request)


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


async def login(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    # JSON only: a form or text/plain body is what another site's page can post without a CORS
    # preflight (login CSRF: the victim's browser logged in as the attacker).
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the login as application/json")
    body = await read_body(request, LoginBody)
    now = ctx.clock()
    address = request.remote or "?"
    keys = (f"user:{body.username.lower()}", f"addr:{address}")
    waits = [w for w in (ctx.login_throttle.retry_after(k, now) for k in keys) if w is not None]
    if waits:
        error = ApiError(429, "too_many_attempts", "too many failed logins; try again later")
        error.headers["Retry-After"] = str(int(max(waits)) + 1)
        raise error
    # Counted as a failure *before* the password check, which takes a while in a worker thread:
    # otherwise any number of concurrent guesses would all pass the check above.
    for key in keys:
        ctx.login_throttle.failure(key, now)
    user = await asyncio.to_thread(ctx.accounts.check_password, body.username, body.password)
    if user is None:
        await ctx.hub.audit("login_failed", actor=body.username[:64], data={"address": address})
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    # The username's slate is clean; the address keeps its other failures, so one valid account
    # cannot be used to reset the counter between guesses at other usernames.
    ctx.login_throttle.success(keys[0])
    ctx.login_throttle.forget(keys[1], now)
    secret, csrf = await asyncio.to_thread(ctx.accounts.create_session, user.username, now)
    await ctx.hub.audit("login", actor=user.username, data={"address": address})
    response = web.json_response({"user": user.username, "role": user.role, "csrf": csrf, "language": user.language})
    response.set_cookie(
        COOKIE, secret, httponly=True, samesite="Strict", secure=ctx.tls, path="/", max_age=30 * 24 * 3600
    )
    return response


async def logout(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    principal = principal_of(request)
    if principal.session:
        await asyncio.to_thread(ctx.accounts.end_session, principal.session)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


def session_payload(principal: Principal) -> dict[str, Any]:
    return {"user": principal.name, "role": principal.role, "kind": principal.kind}


async def whoami(request: web.Request) -> web.Response:
    return web.json_response(session_payload(principal_of(request)))
