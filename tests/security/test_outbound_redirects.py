"""Outbound HTTP never follows a redirect (issue 14, section 4), against a running daemon.

A hub whose app push subscription, ntfy server and centre webhook all point at a server that
answers every request with `307` to a service on the hub itself (`http://127.0.0.1:...` or
`http://[::ffff:127.0.0.1]:...`): after an alarm that service has received nothing, and each
of the three rows is `dead` with a reason saying that redirects are not followed. A plain
aiohttp client, which follows redirects, reaches the service through the same server first:
the test would see a followed redirect.

Also here: cameras do not follow redirects either; a user's 11th push subscription replaces
the oldest (through the HTTP API); and the connect-time address check of the push transport
(address literals, IPv4-mapped IPv6, names that resolve to a private address).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.camera.source import MjpegHttpSource, SnapshotSource, SourceError
from hub.store.db import open_sync
from hub.store.push_subscriptions import MAX_PER_USER, PushStore
from hub.transports.base import Delivered, OutgoingMessage, Permanent
from hub.transports.vapid import application_server_key
from hub.transports.webpush import WebPushChannel, public_only_socket
from tests.conftest import Api, start_hub
from tests.peers import free_port
from tests.peers.household import logged_in
from tests.peers.push import SUBJECT, Browser, PushService, b64url
from tests.peers.tls import Cert, self_signed_cert, trusted

TARGETS = {
    "ipv4": "http://127.0.0.1:{port}/internal/admin",
    "ipv4-mapped ipv6": "http://[::ffff:127.0.0.1]:{port}/internal/admin",
}


@dataclass
class Recorder:
    """An HTTP server on loopback that records every request it gets; `redirect_to` set: it
    answers each with 307 to there (a 307 keeps the method and the body: a POST stays a POST)."""

    redirect_to: str | None = None
    port: int = field(default_factory=free_port)
    requests: list[tuple[str, str]] = field(default_factory=list)
    tls: bool = False

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests.append((request.method, request.path))
        if self.redirect_to is not None:
            raise web.HTTPTemporaryRedirect(self.redirect_to)
        return web.Response(text="internal service: you should not be here")


@asynccontextmanager
async def serving(recorder: Recorder, cert: Cert | None = None) -> AsyncIterator[Recorder]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        context = cert.server_context() if cert is not None else None
        await web.TCPSite(runner, "127.0.0.1", recorder.port, ssl_context=context).start()
        recorder.tls = context is not None
        yield recorder
    finally:
        await runner.cleanup()


def _vapid_key_file(folder: Path) -> Path:
    path = folder / "vapid.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _config(path: Path, redirector: Recorder, vapid: Path) -> Path:
    q = json.dumps
    path.write_text(
        f"""\
[[contacts]]
name = "Anna Rossi"
email = "anna@casa.example"
user = "demo"

[push]
vapid_private_key_file = {q(str(vapid))}
subject = {q(SUBJECT)}
allow_private_endpoints = true  # the redirecting "push service" runs on loopback

[ntfy]
url = {q(redirector.origin)}
topic = "casa-rossi"

[centre]
protocol = "webhook"
url = {q(redirector.origin + "/centre/alarms")}
secret = "centre-shared-secret"
""",
        encoding="utf-8",
    )
    return path


async def _rows(api: Api, incident: str) -> dict[str, dict[str, Any]]:
    rows = (await api.get(f"/api/v1/notifications?incident={incident}"))["items"]
    return {r["channel"]: r for r in rows if r["channel"] in ("push", "ntfy", "centre")}


@pytest.mark.parametrize("target_form", list(TARGETS))
async def test_a_redirect_to_the_hub_itself_reaches_nothing(tmp_path: Path, target_form: str) -> None:
    cert = self_signed_cert(tmp_path / "tls")
    async with (
        serving(Recorder()) as target,
        serving(Recorder(redirect_to=TARGETS[target_form].format(port=target.port)), cert) as redirector,
    ):
        with trusted(cert):
            # The setup can show harm: a client that follows redirects gets through to the target.
            async with aiohttp.ClientSession() as client, client.post(redirector.origin + "/probe", data=b"x") as r:
                assert r.status == 200 and r.url.port == target.port
            assert target.requests == [("POST", "/internal/admin")]
            target.requests.clear()

            config = _config(tmp_path / "casahub.toml", redirector, _vapid_key_file(tmp_path))
            hub = await start_hub(tmp_path / "data", config)
            try:
                async with logged_in(hub.base) as api:
                    key = (await api.get("/api/v1/push/vapid"))["public_key"]
                    browser = PushService(port=redirector.port, tls=True).subscribe(key)
                    status, body = await api.post("/api/v1/push/subscriptions", browser.json())
                    assert status == 201, body

                    await api.trigger(await api.zone_id("water"))
                    incidents = []

                    async def done() -> bool:
                        nonlocal incidents
                        incidents = (await api.get("/api/v1/incidents"))["items"]
                        if not incidents:
                            return False
                        rows = await _rows(api, incidents[0]["id"])
                        return set(rows) == {"push", "ntfy", "centre"} and all(
                            r["state"] in ("sent", "dead") for r in rows.values()
                        )

                    await _poll(done, "push, ntfy and centre rows done")
                    rows = await _rows(api, incidents[0]["id"])
            finally:
                await hub.stop()

    assert target.requests == []
    for channel, row in rows.items():
        assert row["state"] == "dead", (channel, row)
        assert "307" in row["last_error"] and "redirects are never followed" in row["last_error"], (channel, row)
    assert "set [ntfy] url" in rows["ntfy"]["last_error"]
    assert "set [centre] url" in rows["centre"]["last_error"]
    paths = {path for _, path in redirector.requests}
    assert paths >= {"/centre/alarms", "/casa-rossi", browser.endpoint.split(str(redirector.port), 1)[1]}, paths


async def _poll(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


# ------------------------------------------------------------------ at most 10 subscriptions per user


def _subscription(n: int) -> dict[str, Any]:
    browser = Browser(
        f"https://fcm.googleapis.com/fcm/send/browser-{n}", ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    )
    return browser.json()


async def test_the_eleventh_subscription_replaces_the_oldest(tmp_path: Path) -> None:
    hub = await start_hub(tmp_path / "data")
    try:
        async with logged_in(hub.base) as api:
            sent = [_subscription(n) for n in range(MAX_PER_USER + 1)]
            for sub in sent[:MAX_PER_USER]:
                assert (await api.post("/api/v1/push/subscriptions", sub))[0] == 201
            rows = await hub.hub.db.fetchall("SELECT endpoint FROM push_subscriptions WHERE username = 'demo'")
            assert sorted(r["endpoint"] for r in rows) == sorted(s["endpoint"] for s in sent[:MAX_PER_USER])

            status, body = await api.post("/api/v1/push/subscriptions", sent[MAX_PER_USER])
            assert status == 201, body
            rows = await hub.hub.db.fetchall("SELECT endpoint FROM push_subscriptions WHERE username = 'demo'")
            assert sorted(r["endpoint"] for r in rows) == sorted(s["endpoint"] for s in sent[1:])

            # Subscribing a known browser again refreshes it: it is then the newest, not the one to go.
            assert (await api.post("/api/v1/push/subscriptions", sent[1]))[0] == 201
            assert (await api.post("/api/v1/push/subscriptions", _subscription(99)))[0] == 201
            rows = await hub.hub.db.fetchall("SELECT endpoint FROM push_subscriptions WHERE username = 'demo'")
            endpoints = {r["endpoint"] for r in rows}
            assert len(endpoints) == MAX_PER_USER
            assert sent[1]["endpoint"] in endpoints and sent[2]["endpoint"] not in endpoints
    finally:
        await hub.stop()


# ------------------------------------------------------------------ the push transport's address check


def _message() -> OutgoingMessage:
    return OutgoingMessage(
        id=1,
        channel="push",
        recipient="Anna",
        address=None,
        language="en",
        subject="ALARM: water",
        body="Water in the kitchen",
        short="Water in the kitchen",
        incident="inc-1",
    )


@pytest.mark.parametrize(
    ("host", "allow_private", "refused"),
    [
        ("127.0.0.1", False, True),
        ("localhost", False, True),  # a name: refused on the address it resolves to
        ("localhost", True, False),
        ("127.0.0.1", True, False),
    ],
    ids=["ipv4", "name", "name-allowed", "ipv4-allowed"],
)
async def test_push_checks_the_address_it_dials(tmp_path: Path, host: str, allow_private: bool, refused: bool) -> None:
    service = PushService()
    await service.start()
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        store = PushStore(open_sync(tmp_path / "casahub.db"))
        browser = service.subscribe(application_server_key(key))
        endpoint = browser.endpoint.replace("127.0.0.1", host)
        store.add("anna", endpoint, browser.p256dh, b64url(browser.auth))
        channel = WebPushChannel(
            private_key_pem_or_path=key,
            subject=SUBJECT,
            store=store,
            users_for=lambda contact: ["anna"],
            allow_private=allow_private,
        )
        async with channel:
            outcome = await channel.send(_message())
    finally:
        await service.stop()
    if refused:
        assert isinstance(outcome, Permanent), outcome
        assert "private address" in outcome.reason and "allow_private_endpoints" in outcome.reason
        assert service.deliveries == [] and service.refusals == []
    elif host == "localhost":
        # Contacted: the double then refuses the VAPID `aud` (it expects http://127.0.0.1:port).
        assert len(service.refusals) == 1 and "aud" in service.refusals[0], (outcome, service.refusals)
    else:
        assert isinstance(outcome, Delivered), outcome
        assert len(service.deliveries) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "localhost", "0.0.0.0"])
async def test_the_push_connector_refuses_a_private_address_when_it_dials(host: str) -> None:
    """What the push transport's sessions are built with (without `allow_private_endpoints`)."""
    async with serving(Recorder()) as target:
        connector = aiohttp.TCPConnector(socket_factory=public_only_socket)
        async with aiohttp.ClientSession(connector=connector) as session:
            with pytest.raises(aiohttp.ClientConnectorError) as caught:
                await session.post(f"http://{host}:{target.port}/internal", data=b"x")
        assert "private address" in str(caught.value.os_error), caught.value
        # A control: the same URL, dialled without the check, reaches the target.
        async with aiohttp.ClientSession() as session, session.post(f"http://{host}:{target.port}/x") as r:
            assert r.status == 200
    assert target.requests == [("POST", "/x")]


# ------------------------------------------------------------------ cameras


@pytest.mark.parametrize("target_form", list(TARGETS))
async def test_a_camera_that_redirects_is_not_followed(target_form: str) -> None:
    async with (
        serving(Recorder()) as target,
        serving(Recorder(redirect_to=TARGETS[target_form].format(port=target.port))) as camera,
    ):
        for source in (
            SnapshotSource(f"{camera.origin}/snapshot.jpg", fps=1, username="admin", password="cam-pass"),
            MjpegHttpSource(f"{camera.origin}/video", username="admin", password="cam-pass"),
        ):
            with pytest.raises(SourceError) as caught:
                await anext(aiter(source.frames()))
            assert "307" in str(caught.value) and "redirects are never followed" in str(caught.value)
            assert "cam-pass" not in str(caught.value)
    assert [path for _, path in camera.requests] == ["/snapshot.jpg", "/video"]
    assert target.requests == []
