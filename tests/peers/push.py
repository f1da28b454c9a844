"""A Web Push service double on loopback, and browsers that subscribe to it.

The double checks what a real push service (Mozilla autopush, FCM) checks before it accepts a
message: the RFC 8292 `vapid t=<JWT>,k=<key>` header (ES256 signature, `aud` = the endpoint's
origin, `exp` in the future and at most 24 h ahead, `sub` the expected contact URI), that `k` is
the application server key the browser subscribed with (else 403), the `TTL` header, and an
RFC 8291 aes128gcm body, which it decrypts with the subscription's private key as the browser would.

Served over plain HTTP by default; `start(ssl_context)` serves HTTPS, as real push services do
(the hub accepts only https:// endpoints from browsers).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from multidict import CIMultiDict

from hub.transports.vapid import application_server_key
from tests.peers import free_port

__all__ = ["SUBJECT", "Browser", "Delivery", "PushService", "b64url", "unb64url"]

SUBJECT = "mailto:admin@casa.example"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's push subscription: its ECDH key pair and auth secret, as PushManager.subscribe() makes them."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        return application_server_key(self.private_key)

    def json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }


@dataclass
class Delivery:
    token: str
    headers: CIMultiDict[str]
    claims: dict[str, Any]
    payload: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)  # when it was decrypted and accepted


@dataclass
class PushService:
    """A push-service double on loopback: /push/<token> per subscription."""

    port: int = field(default_factory=free_port)
    subject: str = SUBJECT  # the VAPID `sub` claim it expects
    browsers: dict[str, tuple[Browser, str]] = field(default_factory=dict)  # token -> browser, server key
    status: dict[str, int] = field(default_factory=dict)  # token -> forced answer
    retry_after: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    tls: bool = False  # set by start()
    _runner: web.AppRunner | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application()
        app.router.add_post("/push/{token}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=ssl_context).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.tls = ssl_context is not None
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def subscribe(self, application_server_key: str) -> Browser:
        token = secrets.token_urlsafe(12)
        browser = Browser(f"{self.origin}/push/{token}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        self.browsers[token] = (browser, application_server_key)
        return browser

    def _refuse(self, status: int, why: str) -> web.Response:
        self.refusals.append(why)
        return web.json_response({"code": status, "errno": 109, "error": why}, status=status)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if token not in self.browsers:
            return self._refuse(404, "no such subscription")
        browser, server_key = self.browsers[token]
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "vapid":
            return self._refuse(401, f"expected a vapid Authorization, got {scheme!r}")
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if parts.get("k") != server_key:
            return self._refuse(403, "k is not the key the subscription was created with")
        claims = self._verify_jwt(parts.get("t", ""), parts["k"])
        if isinstance(claims, str):
            return self._refuse(401, claims)
        now = time.time()
        if claims.get("aud") != self.origin:
            return self._refuse(401, f"aud {claims.get('aud')!r} is not {self.origin}")
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 86400:
            return self._refuse(401, f"bad exp {claims.get('exp')!r}")
        if claims.get("sub") != self.subject:
            return self._refuse(401, f"bad sub {claims.get('sub')!r}")
        ttl = request.headers.get("TTL", "")
        if not ttl.isdigit():
            return self._refuse(400, "missing or invalid TTL header")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return self._refuse(415, "Content-Encoding must be aes128gcm")
        urgency = request.headers.get("Urgency", "normal")
        if urgency not in ("very-low", "low", "normal", "high"):
            return self._refuse(400, f"bad Urgency {urgency!r}")
        body = await request.read()
        if len(body) > 4096:
            return self._refuse(413, "payload too large")
        try:
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
            )
        except Exception as exc:
            return self._refuse(400, f"cannot decrypt: {exc!r}")
        forced = self.status.get(token)
        if forced is not None:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.json_response({"code": forced}, status=forced, headers=headers)
        self.deliveries.append(Delivery(token, request.headers.copy(), claims, json.loads(plain)))
        return web.Response(status=201, headers={"Location": f"{self.origin}/m/{secrets.token_hex(4)}"})

    @staticmethod
    def _verify_jwt(token: str, key: str) -> dict[str, Any] | str:
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(unb64url(header_b64))
            signature = unb64url(signature_b64)
        except ValueError as exc:
            return f"malformed JWT: {exc}"
        if header.get("alg") != "ES256" or len(signature) != 64:
            return f"not ES256: {header}"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "bad JWT signature"
        claims: dict[str, Any] = json.loads(unb64url(claims_b64))
        return claims
