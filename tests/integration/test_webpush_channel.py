"""The webpush transport against a local push service, the VAPID key store and the /api/v1/push routes.

The push-service double (`tests.peers.push.PushService`) checks the VAPID header, the TTL and
the aes128gcm body as a real push service does, and decrypts it as the browser would.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hub.config import PushConfig, Secret
from hub.store.accounts import Principal
from hub.store.db import open_sync
from hub.store.push_subscriptions import PushStore
from hub.transports.base import Delivered, NoRecipient, OutgoingMessage, Permanent, Transient
from hub.transports.vapid import VAPID_FILE_NAME, VapidKeyError, application_server_key, load_or_create
from hub.transports.webpush import WebPushChannel
from hub.web.app import error_middleware
from hub.web.auth import PRINCIPAL, Handler
from hub.web.push import PushWeb, add_push_routes
from tests.peers import free_port
from tests.peers.push import SUBJECT, Browser, PushService, b64url, unb64url


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
def store(tmp_path: Path) -> PushStore:
    return PushStore(open_sync(tmp_path / "casahub.db"))


@pytest.fixture
def vapid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


USERS = {"Maria Rossi": ["maria"], "Luca Rossi": ["luca", "luca.tablet"], "Nonna": []}


def make_channel(store: PushStore, key: ec.EllipticCurvePrivateKey | str | Path) -> WebPushChannel:
    return WebPushChannel(
        private_key_pem_or_path=key,
        subject=SUBJECT,
        store=store,
        users_for=lambda c: USERS.get(c, []),
        timeout=5,
        allow_private=True,  # the push service double runs on loopback
    )


def subscribe(store: PushStore, service: PushService, key: ec.EllipticCurvePrivateKey, username: str) -> Browser:
    browser = service.subscribe(application_server_key(key))
    store.add(username, browser.endpoint, browser.p256dh, b64url(browser.auth), "test browser")
    return browser


def message(
    recipient: str = "Maria Rossi", *, incident: str | None = "inc-12", anomaly: str | None = None
) -> OutgoingMessage:
    return OutgoingMessage(
        id=7,
        channel="push",
        recipient=recipient,
        address=None,
        language="it",
        subject="ALLARME: fumo in Soggiorno",
        body="Il rilevatore «Soggiorno» ha rilevato fumo alle 03:12. Esci di casa e chiama il 115.",
        short="ALLARME fumo Soggiorno 03:12: esci e chiama il 115",
        incident=incident,
        anomaly=anomaly,
    )


# ---------------------------------------------------------------------------- the channel


async def test_alarm_reaches_every_browser_of_the_contact_signed_and_encrypted(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    phone = subscribe(store, push_service, vapid_key, "luca")
    tablet = subscribe(store, push_service, vapid_key, "luca.tablet")
    subscribe(store, push_service, vapid_key, "maria")  # someone else's: must not get it

    async with make_channel(store, vapid_key) as channel:
        outcome = await channel.send(message("Luca Rossi"))

    assert isinstance(outcome, Delivered), outcome
    assert outcome.detail == "sent to 2 apps"
    assert push_service.refusals == []
    by_endpoint = {d.token: d for d in push_service.deliveries}
    assert set(by_endpoint) == {phone.endpoint.rsplit("/", 1)[1], tablet.endpoint.rsplit("/", 1)[1]}
    for delivery in push_service.deliveries:
        assert delivery.payload == {
            "title": "ALLARME: fumo in Soggiorno",
            "body": "ALLARME fumo Soggiorno 03:12: esci e chiama il 115",
            "incident": "inc-12",
            "anomaly": None,
            "url": "/#/incidents/inc-12",
        }
        assert delivery.headers["TTL"] == "3600"
        assert delivery.headers["Urgency"] == "high"
        assert delivery.claims["sub"] == SUBJECT


async def test_an_event_is_normal_urgency_with_a_day_to_live(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    subscribe(store, push_service, vapid_key, "maria")

    outcome = await make_channel(store, vapid_key).send(message(incident=None, anomaly="an-3"))

    assert isinstance(outcome, Delivered), outcome
    [delivery] = push_service.deliveries
    assert delivery.headers["TTL"] == "86400" and delivery.headers["Urgency"] == "normal"
    assert delivery.payload["url"] == "/" and delivery.payload["anomaly"] == "an-3"


async def test_fresh_claims_for_every_request(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    """pywebpush writes `aud` into the claims dict: a shared dict would sign for the first origin only."""
    subscribe(store, push_service, vapid_key, "maria")
    other = PushService()
    await other.start()
    try:
        subscribe(store, other, vapid_key, "maria")
        channel = make_channel(store, vapid_key)
        for _ in range(2):
            assert isinstance(await channel.send(message()), Delivered)
    finally:
        await other.stop()
    assert push_service.refusals == [] and other.refusals == []
    assert len(push_service.deliveries) == len(other.deliveries) == 2
    assert other.deliveries[0].claims["aud"] == other.origin


async def test_encryption_and_signing_stay_off_the_event_loop(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alarm's pushes are encrypted (ECDH, HKDF, AES-GCM) and signed while the same alarm's
    engine steps and centre report need the loop; the first one also imports pywebpush."""
    subscribe(store, push_service, vapid_key, "luca")
    subscribe(store, push_service, vapid_key, "luca.tablet")
    loop_thread, threads = threading.get_ident(), []
    real = WebPushChannel._request

    def request(self: WebPushChannel, *args: Any) -> Any:
        threads.append(threading.get_ident())
        return real(self, *args)

    monkeypatch.setattr(WebPushChannel, "_request", request)
    assert isinstance(await make_channel(store, vapid_key).send(message("Luca Rossi")), Delivered)
    assert len(threads) == 2 and loop_thread not in threads
    assert len(push_service.deliveries) == 2


@pytest.mark.parametrize("gone", [404, 410])
async def test_expired_subscription_is_removed_and_the_others_still_get_it(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey, gone: int
) -> None:
    live = subscribe(store, push_service, vapid_key, "luca")
    dead = subscribe(store, push_service, vapid_key, "luca.tablet")
    push_service.status[dead.endpoint.rsplit("/", 1)[1]] = gone

    outcome = await make_channel(store, vapid_key).send(message("Luca Rossi"))

    assert isinstance(outcome, Delivered), outcome
    assert [s.endpoint for s in store.all()] == [live.endpoint]


async def test_all_subscriptions_expired_is_no_recipient_not_a_channel_failure(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    dead = subscribe(store, push_service, vapid_key, "maria")
    push_service.status[dead.endpoint.rsplit("/", 1)[1]] = 410

    outcome = await make_channel(store, vapid_key).send(message())

    assert isinstance(outcome, NoRecipient) and "no app subscribed for Maria Rossi" in outcome.reason
    assert store.all() == []


async def test_no_subscription_is_never_delivered(store: PushStore, vapid_key: ec.EllipticCurvePrivateKey) -> None:
    for contact in ("Nonna", "Maria Rossi", "someone unknown"):
        outcome = await make_channel(store, vapid_key).send(message(contact))
        assert outcome == NoRecipient(f"no app subscribed for {contact}")


async def test_push_service_error_is_transient_and_keeps_the_subscription(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    browser = subscribe(store, push_service, vapid_key, "maria")
    push_service.status[browser.endpoint.rsplit("/", 1)[1]] = 500

    outcome = await make_channel(store, vapid_key).send(message())

    assert isinstance(outcome, Transient), outcome
    assert "500" in outcome.reason
    assert len(store.all()) == 1


async def test_rate_limit_is_transient_with_the_hint(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    browser = subscribe(store, push_service, vapid_key, "maria")
    push_service.status[browser.endpoint.rsplit("/", 1)[1]] = 429
    push_service.retry_after = "30"

    outcome = await make_channel(store, vapid_key).send(message())

    assert outcome == Transient("push service answered 429", 30.0)


async def test_wrong_vapid_key_is_permanent(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    subscribe(store, push_service, vapid_key, "maria")
    other_key = ec.generate_private_key(ec.SECP256R1())

    outcome = await make_channel(store, other_key).send(message())

    assert isinstance(outcome, Permanent), outcome
    assert "403" in outcome.reason and "VAPID" in outcome.reason
    assert push_service.refusals == ["k is not the key the subscription was created with"]
    assert len(store.all()) == 1


async def test_push_service_down_is_transient(store: PushStore, vapid_key: ec.EllipticCurvePrivateKey) -> None:
    store.add(
        "maria", f"http://127.0.0.1:{free_port()}/push/x", application_server_key(vapid_key), b64url(os.urandom(16))
    )

    outcome = await make_channel(store, vapid_key).send(message())

    assert isinstance(outcome, Transient), outcome


async def test_key_given_as_pem_text_or_file(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    subscribe(store, push_service, vapid_key, "maria")
    sec1 = vapid_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    path = tmp_path / "vapid.pem"
    path.write_bytes(sec1)

    for key in (sec1.decode(), path):
        assert isinstance(await make_channel(store, key).send(message()), Delivered)
    assert push_service.refusals == [] and len(push_service.deliveries) == 2


async def test_unusable_subject_fails_every_send_and_the_check(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    subscribe(store, push_service, vapid_key, "maria")
    channel = WebPushChannel(
        private_key_pem_or_path=vapid_key,
        subject="mailto:casahub@Casa Rossi.invalid",
        store=store,
        users_for=lambda c: [],
    )

    outcome = await channel.send(message())

    assert isinstance(outcome, Permanent) and "[push] subject" in outcome.reason
    assert push_service.deliveries == [] and push_service.refusals == []
    with pytest.raises(ValueError, match="subject"):
        await channel.check()


async def test_check_reports_the_subscriptions(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    subscribe(store, push_service, vapid_key, "maria")

    assert await make_channel(store, vapid_key).check() == f"VAPID key and subject {SUBJECT} ok; 1 browser subscription"


# ---------------------------------------------------------------------------- VAPID keys


def test_vapid_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create(None, tmp_path / "data")
    path = tmp_path / "data" / VAPID_FILE_NAME

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.source == str(path)
    raw = unb64url(first.public_key)
    assert len(raw) == 65 and raw[0] == 0x04
    assert load_or_create(None, tmp_path / "data").public_key == first.public_key
    assert list(path.parent.iterdir()) == [path]


def test_configured_vapid_key_wins(tmp_path: Path, vapid_key: ec.EllipticCurvePrivateKey) -> None:
    raw_scalar = b64url(vapid_key.private_numbers().private_value.to_bytes(32, "big"))
    pem = vapid_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    for text in (pem, raw_scalar):
        config = PushConfig(vapid_private_key=Secret(text), subject=SUBJECT)
        assert load_or_create(config, tmp_path).public_key == application_server_key(vapid_key)
    assert not (tmp_path / VAPID_FILE_NAME).exists()


def test_bad_vapid_key_names_its_source(tmp_path: Path) -> None:
    config = PushConfig(vapid_private_key=Secret("not a key!"), subject=SUBJECT, vapid_private_key_file=Path("/etc/k"))
    with pytest.raises(VapidKeyError, match="/etc/k"):
        load_or_create(config, tmp_path)
    rsa_like = tmp_path / VAPID_FILE_NAME
    rsa_like.write_text("garbage")
    with pytest.raises(VapidKeyError, match="move the file away"):
        load_or_create(None, tmp_path)
    assert rsa_like.read_text() == "garbage"


# ---------------------------------------------------------------------------- the routes


@web.middleware
async def fake_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stands in for hub.web.auth: `X-Test-Principal: name role kind` sets the principal."""
    given = request.headers.get("X-Test-Principal")
    if given:
        name, role, kind = given.split()
        request[PRINCIPAL] = Principal(name=name, role=role, kind=kind)  # type: ignore[arg-type]
    return await handler(request)


Call = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
async def api(store: PushStore, vapid_key: ec.EllipticCurvePrivateKey) -> AsyncIterator[Call]:
    app = web.Application(middlewares=[error_middleware, fake_auth])
    add_push_routes(app, PushWeb(store=store, public_key=application_server_key(vapid_key)))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:

        async def call(
            method: str, path: str, body: Any = None, who: str | None = "maria member session"
        ) -> tuple[int, Any]:
            headers = {"X-Test-Principal": who} if who else {}
            kwargs: dict[str, Any] = {"headers": headers}
            if isinstance(body, bytes):
                kwargs["data"] = body
            elif body is not None:
                kwargs["json"] = body
            async with client.request(method, path, **kwargs) as resp:
                return resp.status, await resp.json()

        yield call


def browser_subscription(endpoint: str = "https://updates.push.services.mozilla.com/wpush/v2/gAAAA") -> dict[str, Any]:
    return Browser(endpoint, ec.generate_private_key(ec.SECP256R1()), os.urandom(16)).json()


async def test_vapid_public_key_for_every_role(api: Call, vapid_key: ec.EllipticCurvePrivateKey) -> None:
    for who in ("maria member session", "ann owner session", "ivo installer token"):
        assert await api("GET", "/api/v1/push/vapid", who=who) == (
            200,
            {"public_key": application_server_key(vapid_key)},
        )
    status, body = await api("GET", "/api/v1/push/vapid", who=None)
    assert status == 401 and body["error"] == "unauthorized"


async def test_subscribe_stores_the_browser_for_the_user(api: Call, store: PushStore) -> None:
    sub = browser_subscription()

    status, body = await api("POST", "/api/v1/push/subscriptions", sub)

    assert status == 201, body
    assert body == {"endpoint": sub["endpoint"], "user": "maria"}
    [stored] = store.for_users(["maria"])
    assert (stored.endpoint, stored.p256dh, stored.auth) == (
        sub["endpoint"],
        sub["keys"]["p256dh"],
        sub["keys"]["auth"],
    )
    assert stored.user_agent is not None


async def test_the_same_browser_moves_to_the_user_who_subscribes_last(api: Call, store: PushStore) -> None:
    sub = browser_subscription()
    assert (await api("POST", "/api/v1/push/subscriptions", sub))[0] == 201
    assert (await api("POST", "/api/v1/push/subscriptions", sub, who="ann owner session"))[0] == 201
    assert [s.username for s in store.all()] == ["ann"]


def _with(path: str, value: Any) -> dict[str, Any]:
    sub = browser_subscription()
    if path == "keys.p256dh" or path == "keys.auth":
        sub["keys"][path.split(".")[1]] = value
    else:
        sub[path] = value
    return sub


P256DH_OFF_CURVE = b64url(b"\x04" + b"\x01" * 64)
BAD_SUBSCRIPTIONS = [
    (b"{oops", "malformed_json"),
    (json.dumps({**browser_subscription(), "extra": 1}).encode(), "invalid_field:extra"),
    (json.dumps({"endpoint": "https://push.example/x"}).encode(), "invalid_field:keys"),
    (json.dumps(_with("endpoint", "http://push.example/x")).encode(), "invalid_field:endpoint"),
    (json.dumps(_with("endpoint", "javascript:alert(1)")).encode(), "invalid_field:endpoint"),
    (json.dumps(_with("endpoint", "https://u:p@push.example/x")).encode(), "invalid_field:endpoint"),
    (json.dumps(_with("endpoint", "https://push.example/" + "a" * 3000)).encode(), "invalid_field:endpoint"),
    (json.dumps(_with("endpoint", 3)).encode(), "invalid_field:endpoint"),
    (json.dumps(_with("keys.p256dh", b64url(os.urandom(64)))).encode(), "invalid_field:keys.p256dh"),
    (json.dumps(_with("keys.p256dh", b64url(b"\x02" + os.urandom(64)))).encode(), "invalid_field:keys.p256dh"),
    (json.dumps(_with("keys.p256dh", P256DH_OFF_CURVE)).encode(), "invalid_field:keys.p256dh"),
    (json.dumps(_with("keys.p256dh", "not base64!")).encode(), "invalid_field:keys.p256dh"),
    (json.dumps(_with("keys.auth", b64url(os.urandom(15)))).encode(), "invalid_field:keys.auth"),
    (json.dumps(_with("keys.auth", "")).encode(), "invalid_field:keys.auth"),
]


@pytest.mark.parametrize(("raw", "error"), BAD_SUBSCRIPTIONS)
async def test_subscribe_rejects_bad_bodies_naming_the_field(
    api: Call, store: PushStore, raw: bytes, error: str
) -> None:
    status, body = await api("POST", "/api/v1/push/subscriptions", raw)

    assert status == 400, body
    assert body["error"] == error and body["message"]
    assert store.all() == []


@pytest.mark.parametrize("who", ["ivo installer session", "cli owner token"])
async def test_only_logged_in_household_members_subscribe(api: Call, store: PushStore, who: str) -> None:
    status, body = await api("POST", "/api/v1/push/subscriptions", browser_subscription(), who=who)

    assert status == 403 and body["error"] == "forbidden"
    assert store.all() == []


async def test_unsubscribe_removes_only_your_own(api: Call, store: PushStore) -> None:
    mine, theirs = browser_subscription("https://push.example/mine"), browser_subscription("https://push.example/ann")
    await api("POST", "/api/v1/push/subscriptions", mine)
    await api("POST", "/api/v1/push/subscriptions", theirs, who="ann owner session")

    assert await api("DELETE", "/api/v1/push/subscriptions", {"endpoint": theirs["endpoint"]}) == (
        200,
        {"removed": False},
    )
    assert await api("DELETE", "/api/v1/push/subscriptions", {"endpoint": mine["endpoint"]}) == (200, {"removed": True})
    assert [s.endpoint for s in store.all()] == [theirs["endpoint"]]
    status, body = await api("DELETE", "/api/v1/push/subscriptions", {"endpoint": "x", "keys": {}})
    assert status == 400 and body["error"] == "invalid_field:keys"


# --------------------------------------------------------------------------- private endpoints (SSRF)


def test_public_addresses() -> None:
    from hub.transports.webpush import is_public_address

    for address in ("142.250.180.10", "2a00:1450:4002:402::200a", "::ffff:142.250.180.10"):
        assert is_public_address(address), address
    private = ("127.0.0.1", "10.0.0.1", "192.168.1.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1%eth0")
    odd = ("fd00::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.251", "100.64.0.1", "not an address")
    for address in private + odd:
        assert not is_public_address(address), address


async def test_a_private_endpoint_is_refused_without_being_contacted(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    subscribe(store, push_service, vapid_key, "maria")  # https://127.0.0.1:<port>/push/...
    channel = WebPushChannel(
        private_key_pem_or_path=vapid_key, subject=SUBJECT, store=store, users_for=lambda c: USERS.get(c, [])
    )
    async with channel:
        outcome = await channel.send(message())
    assert isinstance(outcome, Permanent) and "private address 127.0.0.1" in outcome.reason, outcome
    assert "allow_private_endpoints" in outcome.reason
    assert push_service.deliveries == [] and push_service.refusals == []


async def test_a_name_that_resolves_to_a_private_address_is_refused(
    push_service: PushService, store: PushStore, vapid_key: ec.EllipticCurvePrivateKey
) -> None:
    browser = push_service.subscribe(application_server_key(vapid_key))
    endpoint = browser.endpoint.replace("127.0.0.1", "localhost")  # a name, resolved when connecting
    store.add("maria", endpoint, browser.p256dh, b64url(browser.auth), "test browser")
    channel = WebPushChannel(
        private_key_pem_or_path=vapid_key, subject=SUBJECT, store=store, users_for=lambda c: USERS.get(c, [])
    )
    async with channel:
        outcome = await channel.send(message())
    assert isinstance(outcome, Permanent) and "private address" in outcome.reason, outcome
    assert "allow_private_endpoints" in outcome.reason
    assert push_service.deliveries == [] and push_service.refusals == []
