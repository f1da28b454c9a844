"""The `webpush` transport: the `push` channel, as Web Push (RFC 8030/8291/8292) to the dashboard app.

A push message's recipient is a contact name; `users_for(contact)` says which dashboard
users are that contact, and the message goes to every browser those users subscribed
from (`hub.store.push_subscriptions`). Each request is encrypted for its subscription (aes128gcm, by
pywebpush's `WebPusher.encode`) and signed with the hub's VAPID key (py_vapid); the POST
itself is made here, with an explicit TTL (pywebpush's default 0 drops the message when the
phone is asleep) and a timeout.

Outcome over all of a contact's subscriptions:
- one or more accepted (201)                    -> Delivered
- none subscribed, or all expired (404/410)     -> NoRecipient("no app subscribed ..."): not
  delivered (the row is dead, never "sent"), but no channel fault: SMS and email reach that contact
- any 429/5xx/timeout/network error, none sent  -> Transient (the outbox retries)
- only 400/403/413 and the like                 -> Permanent (bad VAPID key or payload)
- a redirect (3xx)                              -> Permanent, logged: redirects are never followed
Expired subscriptions (404/410) are deleted on the spot.

Endpoints come from browsers, so they are input (SSRF): unless `allow_private`, the address
actually dialled must be public. `public_only_socket` checks it as aiohttp opens each socket,
after name resolution, for address literals and resolved names alike; and since a redirect is
never followed, a public push service cannot send the hub on to a private one either.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub.transports.base import (
    Delivered,
    NoRecipient,
    Outcome,
    OutgoingMessage,
    Permanent,
    Transient,
    TransportError,
    retry_after,
)

__all__ = ["ALARM_TTL", "DEFAULT_TTL", "SubscriptionStore", "WebPushChannel", "WebPushSubscription"]

log = logging.getLogger(__name__)

ALARM_TTL = 3600  # an alarm an hour old is better told by SMS and the dashboard than by a late push
DEFAULT_TTL = 86400
REQUEST_TIMEOUT = 10.0  # per request; the outbox gives a whole send 30 s
MAX_BODY_CHARS = 600
VAPID_EXPIRY = 12 * 3600  # the VAPID JWT's lifetime; push services accept at most 24 h


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class WebPushSubscription(Protocol):
    @property
    def endpoint(self) -> str: ...
    @property
    def p256dh(self) -> str: ...
    @property
    def auth(self) -> str: ...


class SubscriptionStore(Protocol):
    """What the channel needs of `hub.store.push_subscriptions.PushStore` (blocking calls: run in a thread)."""

    def for_users(self, usernames: Sequence[str], /) -> Sequence[WebPushSubscription]: ...
    def all(self) -> Sequence[WebPushSubscription]: ...
    def remove_endpoint(self, endpoint: str, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Result:
    kind: Literal["sent", "gone", "transient", "permanent"]
    reason: str = ""
    retry_after: float | None = None


def _load_vapid(key: str | Path | ec.EllipticCurvePrivateKey) -> Any:
    """A py_vapid signer from a key object, a key text (PEM, base64url DER or raw scalar) or a key file."""
    # Imported here, not at the top: pywebpush brings requests, urllib3 and charset_normalizer
    # (about 40 ms and several MB), and a hub that never pushes never needs them.
    from py_vapid import Vapid  # type: ignore[import-untyped]

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return Vapid(private_key=key)
    text = (key.read_text(encoding="ascii") if isinstance(key, Path) else key).strip()
    if "-----BEGIN" in text:
        # py_vapid's own PEM reader takes only PKCS#8; cryptography reads SEC 1 too.
        private = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
            raise ValueError("the VAPID key must be an EC P-256 key")
        return Vapid(private_key=private)
    return Vapid.from_string(private_key=text)


PRIVATE_HINT = "push services are on the internet; for one on the LAN set [push] allow_private_endpoints = true"


def is_public_address(address: str) -> bool:
    """An address a public push service may have: not loopback, private, link-local, multicast or reserved."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PrivateAddressRefused(TransportError, OSError):
    """A connection to a private address was refused before it was made."""


def public_only_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """A socket for `addr_info`, refused when its address is not public (aiohttp's `socket_factory`).

    A subscription's endpoint comes from a browser, so it is input: without this, anyone who
    can log in could make the hub POST to the router or to a service on the hub itself (SSRF).
    aiohttp calls the factory for each address it is about to dial, after resolving the name
    (or taking an address literal as it is), so the check sees the address actually used:
    `127.0.0.1`, `[::ffff:127.0.0.1]`, a name that resolves to a private address, or one that
    resolves differently later (DNS rebinding) are all refused here.
    """
    family, type_, proto, _, sockaddr = addr_info
    address = str(sockaddr[0])
    if not is_public_address(address):
        raise PrivateAddressRefused(f"private address {address} refused ({PRIVATE_HINT})")
    return socket.socket(family=family, type=type_, proto=proto)


class WebPushChannel:
    transport = "webpush"

    def __init__(
        self,
        *,
        private_key_pem_or_path: str | Path | ec.EllipticCurvePrivateKey,
        subject: str,
        store: SubscriptionStore,
        users_for: Callable[[str], list[str]],
        timeout: float = REQUEST_TIMEOUT,
        allow_private: bool = False,
    ) -> None:
        """`private_key_pem_or_path`: a key text (PEM, base64url DER or raw), a Path to a key file, or the key.
        `allow_private`: also push to endpoints on private addresses (a push service on the LAN)."""
        self._vapid = _load_vapid(private_key_pem_or_path)
        self.subject = subject
        self.store = store
        self.users_for = users_for
        self.timeout = timeout
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None
        # Push services refuse a JWT whose `sub` is not a usable contact; py_vapid checks it
        # only when signing. Find out now, and answer every send with the reason (no retries).
        self.problem: str | None = None
        try:
            self._vapid.sign({"sub": subject, "aud": "https://push.example.org"})
        except Exception as exc:
            self.problem = (
                f'VAPID subject {subject!r} is not usable ({exc}); set [push] subject = "mailto:you@example.org"'
            )
            log.error("web push disabled: %s", self.problem)

    def _new_session(self) -> aiohttp.ClientSession:
        if self.allow_private:
            return aiohttp.ClientSession()
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=public_only_socket))

    async def __aenter__(self) -> WebPushChannel:
        self._session = self._new_session()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(self) -> str:
        """For `casahub doctor`: the key signs, the subject is usable; how many browsers are subscribed."""
        if self.problem is not None:
            raise ValueError(self.problem)
        count = len(await asyncio.to_thread(self.store.all))
        return f"VAPID key and subject {self.subject} ok; {count} browser subscription{'s' if count != 1 else ''}"

    async def send(self, message: OutgoingMessage) -> Outcome:
        if self.problem is not None:
            return Permanent(self.problem)
        contact = message.recipient
        usernames = self.users_for(contact)
        subscriptions = await asyncio.to_thread(self.store.for_users, usernames) if usernames else []
        if not subscriptions:
            return NoRecipient(f"no app subscribed for {contact}")
        data = json.dumps(
            {
                "title": _clip(message.subject, 200),
                # Web Push carries at most ~4 KB encrypted: the short text, never a manual.
                "body": _clip(message.short or message.body, MAX_BODY_CHARS),
                "incident": message.incident,
                "anomaly": message.anomaly,
                "url": f"/#/incidents/{message.incident}" if message.incident else "/",
            },
            ensure_ascii=False,
        )
        ttl = ALARM_TTL if message.incident else DEFAULT_TTL
        urgency = "high" if message.incident else "normal"
        if self._session is not None:
            results = await self._push_all(self._session, subscriptions, data, ttl, urgency)
        else:
            async with self._new_session() as session:
                results = await self._push_all(session, subscriptions, data, ttl, urgency)
        return await self._outcome(contact, subscriptions, results)

    async def _push_all(
        self,
        session: aiohttp.ClientSession,
        subscriptions: Sequence[WebPushSubscription],
        data: str,
        ttl: int,
        urgency: str,
    ) -> list[_Result]:
        return list(await asyncio.gather(*(self._push(session, s, data, ttl, urgency) for s in subscriptions)))

    async def _push(
        self, session: aiohttp.ClientSession, sub: WebPushSubscription, data: str, ttl: int, urgency: str
    ) -> _Result:
        """One POST to one subscription. pywebpush encrypts (aes128gcm) and py_vapid signs; the
        request is made here, because `webpush_async` lets aiohttp follow redirects: a push
        service that answers 307 to http://127.0.0.1:... would get the hub to POST there."""
        try:
            # In a worker thread: the ECDH key, HKDF and AES-GCM of each push, and pywebpush's
            # first import (requests, urllib3: tens of ms, far more on a Pi), would otherwise hold
            # the event loop while the same alarm's engine steps and centre report wait.
            body, headers = await asyncio.to_thread(self._request, sub, data, ttl, urgency)
        except Exception as exc:  # a broken subscription or key must not stop the others
            log.warning("web push to %s failed", _origin(sub.endpoint), exc_info=True)
            return _Result("permanent", f"cannot encrypt or sign: {type(exc).__name__}: {exc}")
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with session.post(
                sub.endpoint, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                status = resp.status
                text = (await resp.text(errors="replace"))[:200].strip()
                location = resp.headers.get("Location", "")
                hint = resp.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            cause = getattr(exc, "os_error", exc)  # aiohttp wraps what the socket factory raised
            if isinstance(cause, PrivateAddressRefused) or PRIVATE_HINT in str(cause):
                reason = f"push endpoint {_origin(sub.endpoint)} refused: {cause}"
                log.warning("web push: %s", reason)
                return _Result("permanent", reason)  # retrying will not help
            return _Result("transient", f"push service unreachable: {type(exc).__name__}: {exc}".rstrip(": "))
        if 200 <= status <= 202:
            return _Result("sent")
        if 300 <= status < 400:
            reason = (
                f"push service {_origin(sub.endpoint)} answered {status}, a redirect to {location[:120]!r}:"
                " redirects are never followed"
            )
            log.warning("web push: %s", reason)
            return _Result("permanent", reason)
        return self._classify(status, text, hint)

    def _request(self, sub: WebPushSubscription, data: str, ttl: int, urgency: str) -> tuple[bytes, dict[str, str]]:
        """The encrypted body and the headers of one push request (RFC 8030, 8291, 8292)."""
        from pywebpush import WebPusher  # type: ignore[import-untyped]  # lazily: see _load_vapid

        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        body = WebPusher(info).encode(data.encode("utf-8"), "aes128gcm")["body"]
        claims = {"sub": self.subject, "aud": _origin(sub.endpoint), "exp": int(time.time()) + VAPID_EXPIRY}
        headers = {str(k): str(v) for k, v in self._vapid.sign(claims).items()}
        headers.update({"Content-Encoding": "aes128gcm", "TTL": str(ttl), "Urgency": urgency})
        return bytes(body), headers

    @staticmethod
    def _classify(status: int, text: str, hint: str | None) -> _Result:
        if status in (404, 410):
            return _Result("gone", f"subscription expired ({status})")
        if status == 429 or status >= 500:
            return _Result("transient", f"push service answered {status}", retry_after(hint))
        if status in (400, 401, 403):
            return _Result("permanent", f"push service refused the request ({status}): check the [push] VAPID key")
        return _Result("permanent", f"push service answered {status}" + (f": {text}" if text else ""))

    async def _outcome(
        self, contact: str, subscriptions: Sequence[WebPushSubscription], results: list[_Result]
    ) -> Outcome:
        for sub, result in zip(subscriptions, results, strict=True):
            if result.kind == "gone":
                log.info("web push: removing expired subscription at %s", _origin(sub.endpoint))
                await asyncio.to_thread(self.store.remove_endpoint, sub.endpoint)
        sent = sum(r.kind == "sent" for r in results)
        failed = [r for r in results if r.kind in ("transient", "permanent")]
        if sent:
            extra = f"; {len(failed)} failed ({failed[0].reason})" if failed else ""
            return Delivered(f"sent to {sent} app{'s' if sent != 1 else ''}{extra}")
        if not failed:
            return NoRecipient(f"no app subscribed for {contact} (expired subscriptions removed)")
        transient = [r for r in failed if r.kind == "transient"]
        if transient:
            hints = [r.retry_after for r in transient if r.retry_after is not None]
            return Transient(transient[0].reason, max(hints) if hints else None)
        return Permanent(failed[0].reason)


def _origin(endpoint: str) -> str:
    """The push service's origin: enough for logs, without the subscription's secret path."""
    scheme, _, rest = endpoint.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
