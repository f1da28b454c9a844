"""Web Push routes for the dashboard app: the hub's VAPID public key and the user's subscriptions.

    GET    /api/v1/push/vapid           {"public_key": "<base64url uncompressed P-256 point>"}   any role
    POST   /api/v1/push/subscriptions   PushSubscription.toJSON() -> 201 {"endpoint", "user"}     owner, member
    DELETE /api/v1/push/subscriptions   {"endpoint"} -> 200 {"removed": true|false}               owner, member

The POST body is what the browser's `PushSubscription.toJSON()` gives:
`{"endpoint": "https://...", "expirationTime": null, "keys": {"p256dh": "...", "auth": "..."}}`
(`expirationTime` is accepted and ignored; any other unknown field is a 400). The keys are
checked as Web Push needs them (RFC 8291): `p256dh` a base64url uncompressed P-256 point
(65 bytes, 0x04 first, on the curve), `auth` a base64url 16-byte secret; a key that does
not fit would make every later push to that browser fail.

A subscription belongs to a logged-in user (session), since the push channel finds a
contact's browsers through the contact's dashboard users; a bearer token has no user.
A user keeps at most `hub.store.push_subscriptions.MAX_PER_USER` (10) subscriptions: the 11th replaces
the oldest (every alarm is pushed to all of them).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from hub.store.accounts import Principal
from hub.store.push_subscriptions import PushStore
from hub.transports.vapid import b64url_decode
from hub.transports.webpush import PRIVATE_HINT, is_public_address
from hub.web.auth import EVERYONE, HOUSEHOLD, require
from hub.web.context import CONTEXT
from hub.web.errors import ApiError, read_body

__all__ = ["PUSH", "PushWeb", "add_push_routes"]

MAX_ENDPOINT = 2048
MAX_USER_AGENT = 200


@dataclass(frozen=True)
class PushWeb:
    """What the push routes need: the subscription store and the VAPID public key (base64url)."""

    store: PushStore
    public_key: str


PUSH = web.AppKey("casahub_push", PushWeb)


class SubscriptionKeys(msgspec.Struct, forbid_unknown_fields=True):
    p256dh: str
    auth: str


class SubscribeBody(msgspec.Struct, forbid_unknown_fields=True, rename={"expiration_time": "expirationTime"}):
    endpoint: str
    keys: SubscriptionKeys
    expiration_time: float | None = None  # PushSubscription.toJSON() sends it; not used


class UnsubscribeBody(msgspec.Struct, forbid_unknown_fields=True):
    endpoint: str


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, f"invalid_field:{field}", f"{field}: {message}", field=field)


def check_endpoint(endpoint: str, *, allow_private: bool = False) -> str:
    if len(endpoint) > MAX_ENDPOINT:
        raise _invalid("endpoint", f"longer than {MAX_ENDPOINT} characters")
    if any(c.isspace() for c in endpoint):
        raise _invalid("endpoint", "must not contain spaces")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        raise _invalid("endpoint", "not a URL") from None
    if parts.scheme != "https" or not host:
        raise _invalid("endpoint", "expected the push service's https:// URL")
    if parts.username is not None or parts.password is not None:
        raise _invalid("endpoint", "must not carry credentials")
    if not allow_private and (host == "localhost" or host.endswith(".localhost") or _private_literal(host)):
        # The transport checks resolved names too (hub/transports/webpush.py); this is the early answer.
        raise _invalid("endpoint", f"a private address: {PRIVATE_HINT}")
    return endpoint


def _private_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return not is_public_address(host)


def check_p256dh(value: str) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise _invalid("keys.p256dh", "not base64url") from None
    if len(raw) != 65 or raw[0] != 0x04:
        raise _invalid("keys.p256dh", "expected an uncompressed P-256 point (65 bytes starting 0x04)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise _invalid("keys.p256dh", "not a point on the P-256 curve") from None
    return value


def check_auth(value: str) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise _invalid("keys.auth", "not base64url") from None
    if len(raw) != 16:
        raise _invalid("keys.auth", f"expected a 16-byte secret, got {len(raw)} bytes")
    return value


def _user(request: web.Request) -> Principal:
    principal = require(request, HOUSEHOLD)
    if principal.kind != "session":
        raise ApiError(403, "forbidden", "push subscriptions belong to a dashboard login, not to a token")
    return principal


async def vapid_key(request: web.Request) -> web.Response:
    require(request, EVERYONE)
    public_key = request.app[PUSH].public_key
    if not public_key:
        raise ApiError(404, "push_disabled", "app notifications are not enabled on this hub ([push] in the config)")
    return web.json_response({"public_key": public_key})


async def subscribe(request: web.Request) -> web.Response:
    principal = _user(request)
    body = await read_body(request, SubscribeBody)
    ctx = request.app.get(CONTEXT)
    config = ctx.config if ctx is not None else None
    allow_private = config is not None and config.push is not None and config.push.allow_private_endpoints
    endpoint = check_endpoint(body.endpoint, allow_private=allow_private)
    p256dh = check_p256dh(body.keys.p256dh)
    auth = check_auth(body.keys.auth)
    user_agent = request.headers.get("User-Agent", "")[:MAX_USER_AGENT] or None
    store = request.app[PUSH].store
    await asyncio.to_thread(store.add, principal.name, endpoint, p256dh, auth, user_agent)
    if ctx is not None:
        ctx.hub.channels_changed()  # an app that gets push may be the household's first channel
    return web.json_response({"endpoint": endpoint, "user": principal.name}, status=201)


async def unsubscribe(request: web.Request) -> web.Response:
    principal = _user(request)
    body = await read_body(request, UnsubscribeBody)
    store = request.app[PUSH].store
    removed = await asyncio.to_thread(store.remove, principal.name, body.endpoint)
    ctx = request.app.get(CONTEXT)
    if ctx is not None and removed:
        ctx.hub.channels_changed()
    return web.json_response({"removed": removed})


def add_push_routes(app: web.Application, push: PushWeb) -> None:
    """Register the push routes and put `push` in the app (before the app starts)."""
    app[PUSH] = push
    r = app.router
    r.add_get("/api/v1/push/vapid", vapid_key)
    r.add_post("/api/v1/push/subscriptions", subscribe)
    r.add_delete("/api/v1/push/subscriptions", unsubscribe)
