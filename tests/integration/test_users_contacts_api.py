"""Users and codes, contacts, the saved language, the history date filter and the anomaly manual's
language, through the HTTP API of an in-process demo hub (the owner is `demo`, code 12345)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import Api, RunningHub
from tests.security.conftest import accounts_of

WATER = "simulated-sim-water-1"
ROME = ZoneInfo("Europe/Rome")


async def wait_for(predicate: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        yield s


async def login_as(running: RunningHub, username: str, password: str) -> tuple[Api, aiohttp.ClientSession]:
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    client = Api(running.base, s)
    await client.login(username, password)
    return client, s


async def token_client(running: RunningHub, role: str) -> tuple[Api, str, aiohttp.ClientSession]:
    granted = "demo" if role == "installer" else None  # installer access is granted by an owner
    _, token = await asyncio.to_thread(
        accounts_of(running).create_token,
        role,  # type: ignore[arg-type]
        label=f"test {role}",
        username=granted,
    )
    s = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    return Api(running.base, s), token, s


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- users and codes
async def test_owner_adds_lists_changes_and_removes_a_member(api: Api, running_hub: RunningHub) -> None:
    status, body = await api.post(
        "/api/v1/users",
        {"username": "mia", "password": "member-pass", "role": "member", "code": "54321", "duress_code": "54329"},
    )
    assert status == 201, body
    assert body == {
        "username": "mia",
        "role": "member",
        "language": "it",
        "has_code": True,
        "has_duress": True,
        "window": None,  # issue 17: a temporary code's window, null for always
        "areas": None,  # issue 17: the areas a member's codes are limited to, null for every area
    }

    items = (await api.get("/api/v1/users"))["items"]
    assert [u["username"] for u in items] == ["demo", "mia"]
    assert all(set(u) == {"username", "role", "language", "has_code", "has_duress", "window", "areas"} for u in items)
    assert "hash" not in json.dumps(items) and "$argon2" not in json.dumps(items)

    # the member's own codes work on the keypad: the alarm code arms, the duress code disarms
    mia, mia_session = await login_as(running_hub, "mia", "member-pass")
    try:
        status, body = await mia.post("/api/v1/system/arm", {"mode": "away", "code": "54321"})
        assert status == 200, body
        status, body = await mia.post("/api/v1/system/disarm", {"code": "54329"})
        assert status == 200 and body["mode"] == "disarmed", body

        # remove the duress code, change role and the code: a 4-digit code comes with a warning
        status, body = await api.request("PATCH", "/api/v1/users/mia", {"duress_code": "", "code": "2468"})
        assert status == 200, body
        assert body["has_duress"] is False and body["has_code"] is True and body["warnings"] == ["code_short"]
        status, body = await api.request("PATCH", "/api/v1/users/mia", {"role": "installer", "language": "en"})
        assert status == 200 and body["role"] == "installer" and body["language"] == "en", body

        # a new password ends the user's sessions
        assert (await mia.request("GET", "/api/v1/system"))[0] == 200
        status, body = await api.request("PATCH", "/api/v1/users/mia", {"password": "another-pass"})
        assert status == 200, body
        assert (await mia.request("GET", "/api/v1/system"))[0] == 401
    finally:
        await mia_session.close()

    status, _ = await api.request("DELETE", "/api/v1/users/mia")
    assert status == 204
    assert [u["username"] for u in (await api.get("/api/v1/users"))["items"]] == ["demo"]
    status, body = await api.request("DELETE", "/api/v1/users/mia")
    assert status == 404 and body["error"] == "unknown_user"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "x", "password": "long-enough", "role": "member", "code": "123"}, "code"),
        ({"username": "x", "password": "long-enough", "role": "member", "code": "12a45"}, "code"),
        ({"username": "x", "password": "long-enough", "role": "member", "code": "1" * 13}, "code"),
        ({"username": "x", "password": "long-enough", "role": "member", "duress_code": "999"}, "duress_code"),
        ({"username": "x", "password": "short", "role": "member"}, "password"),
        ({"username": "no spaces", "password": "long-enough", "role": "member"}, "username"),
        ({"username": "x", "password": "long-enough", "role": "admin"}, "role"),
        ({"username": "x", "password": "long-enough"}, "role"),
        ({"username": "x", "password": "long-enough", "role": "member", "pin": "1234"}, "pin"),
        ({"username": "x", "password": "long-enough", "role": "member", "language": "fr"}, "language"),
        # the duress code may not be an alarm code (demo's is 12345), nor equal its own code
        ({"username": "x", "password": "long-enough", "role": "member", "duress_code": "12345"}, "duress_code"),
        (
            {"username": "x", "password": "long-enough", "role": "member", "code": "24680", "duress_code": "24680"},
            "duress_code",
        ),
    ],
)
async def test_bad_user_bodies_are_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    status, answer = await api.post("/api/v1/users", body)
    assert status == 400, answer
    assert answer["field"] == field and answer["error"] == f"invalid_field:{field}", answer
    assert [u["username"] for u in (await api.get("/api/v1/users"))["items"]] == ["demo"]


async def test_codes_never_collide_with_a_duress_code(api: Api) -> None:
    status, body = await api.post(
        "/api/v1/users", {"username": "mia", "password": "member-pass", "role": "member", "duress_code": "77777"}
    )
    assert status == 201, body
    # another user's alarm code equal to mia's duress code: refused, naming the field
    status, body = await api.post(
        "/api/v1/users", {"username": "leo", "password": "member-pass", "role": "member", "code": "77777"}
    )
    assert status == 400 and body["field"] == "code", body
    status, body = await api.request("PATCH", "/api/v1/users/demo", {"code": "77777"})
    assert status == 400 and body["field"] == "code", body
    status, body = await api.request("PATCH", "/api/v1/users/mia", {"duress_code": "12345"})
    assert status == 400 and body["field"] == "duress_code", body
    # the demo code still works (nothing was changed by the refused requests)
    status, body = await api.post("/api/v1/system/arm", {"mode": "home", "code": "12345"})
    assert status == 200, body
    status, body = await api.post("/api/v1/system/disarm", {"code": "12345"})
    assert status == 200 and body["mode"] == "disarmed"
    status, body = await api.post("/api/v1/users", {"username": "mia", "password": "member-pass", "role": "member"})
    assert status == 409 and body["error"] == "user_exists", body


async def test_the_hub_always_keeps_an_owner(api: Api, running_hub: RunningHub) -> None:
    status, body = await api.request("PATCH", "/api/v1/users/demo", {"role": "member"})
    assert status == 409 and body["error"] == "last_owner", body
    status, body = await api.request("DELETE", "/api/v1/users/demo")
    assert status == 409 and body["error"] == "self", body
    owner_token, token, s = await token_client(running_hub, "owner")
    try:
        status, body = await owner_token.request("DELETE", "/api/v1/users/demo", headers=bearer(token))
        assert status == 409 and body["error"] == "last_owner", body
        status, body = await owner_token.request("PATCH", "/api/v1/users/nobody", {}, headers=bearer(token))
        assert status == 404 and body["error"] == "unknown_user"
        # with a second owner the first may be demoted (by a token: sessions cannot remove themselves)
        status, body = await api.post(
            "/api/v1/users", {"username": "olga", "password": "owner-pass", "role": "owner", "code": "86420"}
        )
        assert status == 201, body
        status, body = await owner_token.request(
            "PATCH", "/api/v1/users/demo", {"role": "member"}, headers=bearer(token)
        )
        assert status == 200 and body["role"] == "member", body
        status, body = await owner_token.request("DELETE", "/api/v1/users/olga", headers=bearer(token))
        assert status == 409 and body["error"] == "last_owner", body
    finally:
        await s.close()
    # demo is a member now: the owner routes refuse their session
    assert (await api.request("GET", "/api/v1/users"))[0] == 403


async def test_changes_are_audited_with_the_actor_and_without_secrets(api: Api) -> None:
    secrets_used = ["secret-pass-1", "secret-pass-2", "97531", "86421", "5555"]
    status, _ = await api.post(
        "/api/v1/users",
        {"username": "mia", "password": secrets_used[0], "role": "member", "code": "97531", "duress_code": "86421"},
    )
    assert status == 201
    await api.request("PATCH", "/api/v1/users/mia", {"password": secrets_used[1], "code": "5555"})
    status, body = await api.request("PATCH", "/api/v1/users/mia", {})  # nothing to change: nothing audited
    assert status == 200 and body["username"] == "mia", body
    await api.request("DELETE", "/api/v1/users/mia")
    events = (await api.get("/api/v1/events?limit=500"))["items"]
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["user_added"]["actor"] == "demo"
    assert by_kind["user_added"]["data"] == {"user": "mia", "role": "member", "code": True, "duress_code": True}
    assert by_kind["user_changed"]["data"]["changed"] == ["code", "password"]
    assert by_kind["user_removed"]["actor"] == "demo" and by_kind["user_removed"]["data"] == {"user": "mia"}
    assert [e["kind"] for e in events].count("user_changed") == 1
    text = json.dumps(events)
    assert not [s for s in secrets_used if s in text]


async def test_members_and_installers_may_not_manage_users_or_contacts(running_hub: RunningHub, api: Api) -> None:
    accounts = accounts_of(running_hub)
    await asyncio.to_thread(accounts.add_user, "mia", "member-pass", "member")
    await asyncio.to_thread(accounts.add_user, "ivo", "installer-pass", "installer")
    probes = [
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"username": "x", "password": "long-enough", "role": "owner"}),
        ("PATCH", "/api/v1/users/demo", {"role": "member"}),
        ("DELETE", "/api/v1/users/demo", None),
        ("GET", "/api/v1/contacts", None),
        ("POST", "/api/v1/contacts", {"name": "X", "phone": "+393331234567"}),
        ("PATCH", "/api/v1/contacts/config-1", {"name": "Y"}),
        ("DELETE", "/api/v1/contacts/config-1", None),
    ]
    for username, password, role in (("mia", "member-pass", "member"), ("ivo", "installer-pass", "installer")):
        client, s = await login_as(running_hub, username, password)
        by_token, token, s2 = await token_client(running_hub, role)
        try:
            for method, path, body in probes:
                for who, headers in ((client, None), (by_token, bearer(token))):
                    status, answer = await who.request(method, path, body, headers=headers)
                    assert status == 403 and answer["error"] == "forbidden", (role, method, path, status, answer)
        finally:
            await s.close()
            await s2.close()
    assert [u["username"] for u in (await api.get("/api/v1/users"))["items"]] == ["demo", "ivo", "mia"]


# ---------------------------------------------------------------- the saved language
async def page_language(running: RunningHub, cookie_api: Api, accept: str | None) -> str:
    headers = {"Accept-Language": accept} if accept is not None else {}
    async with cookie_api.session.get(running.base + "/", headers=headers) as resp:
        assert resp.status == 200
        text = await resp.text()
    match = re.search(r'<meta name="casahub-language" content="(\w+)">', text)
    assert match, text[:400]
    return match.group(1)


async def test_language_follows_the_browser_until_saved_then_the_saved_choice(
    running_hub: RunningHub, api: Api
) -> None:
    assert await page_language(running_hub, api, None) == "it"  # the hub's [hub] language
    assert await page_language(running_hub, api, "en-GB,en;q=0.9,it;q=0.5") == "en"
    assert await page_language(running_hub, api, "de-DE,it;q=0.8,en;q=0.9") == "en"
    assert await page_language(running_hub, api, "fr-FR") == "it"
    status, body = await api.request("PATCH", "/api/v1/session", {"language": "en"})
    assert status == 200 and body["language"] == "en" and body["user"] == "demo", body
    assert await page_language(running_hub, api, "it-IT") == "en"  # the saved choice wins
    # and it is kept for the next login, on another device
    other, s = await login_as(running_hub, "demo", "demo")
    try:
        assert await page_language(running_hub, other, None) == "en"
    finally:
        await s.close()
    assert [u["language"] for u in (await api.get("/api/v1/users"))["items"]] == ["en"]
    status, body = await api.request("PATCH", "/api/v1/session", {"language": "de"})
    assert status == 400 and body["field"] == "language", body
    status, body = await api.request("PATCH", "/api/v1/session", {})
    assert status == 400 and body["field"] == "language", body
    # a bearer token has no user whose language could be saved
    by_token, token, s2 = await token_client(running_hub, "member")
    try:
        status, body = await by_token.request("PATCH", "/api/v1/session", {"language": "en"}, headers=bearer(token))
        assert status == 403, body
    finally:
        await s2.close()


async def test_the_anomaly_manual_in_the_asked_or_saved_language(running_hub: RunningHub, api: Api) -> None:
    await running_hub.hub.raise_fault("clock_unsynced", "hub")
    italian = (await api.get("/api/v1/anomalies?lang=it"))["items"][0]["manual"]
    english = (await api.get("/api/v1/anomalies?lang=en"))["items"][0]["manual"]
    assert italian["title"] != english["title"] and italian["steps"] != english["steps"]
    assert (await api.get("/api/v1/anomalies"))["items"][0]["manual"] == italian  # the hub's language
    await api.request("PATCH", "/api/v1/session", {"language": "en"})
    assert (await api.get("/api/v1/anomalies"))["items"][0]["manual"] == english  # the user's choice
    assert (await api.get("/api/v1/anomalies?lang=it"))["items"][0]["manual"] == italian
    status, body = await api.request("GET", "/api/v1/anomalies?lang=fr")
    assert status == 400 and body["field"] == "lang", body


# ---------------------------------------------------------------- contacts
async def test_contacts_from_config_are_read_only_and_dashboard_ones_are_managed(api: Api) -> None:
    items = (await api.get("/api/v1/contacts"))["items"]
    assert items == [
        {
            "id": "config-1",
            "name": "Famiglia Demo",
            "phone": "+390000000000",
            "email": "famiglia@example.invalid",
            "language": "it",
            "push": True,
            "voice": False,
            "channels": ["sms", "email", "push"],
            "source": "config",
        }
    ]
    for method, body in (("PATCH", {"name": "Altro"}), ("DELETE", None)):
        status, answer = await api.request(method, "/api/v1/contacts/config-1", body)
        assert status == 409 and answer["error"] == "from_config" and "casahub.toml" in answer["message"], answer

    status, body = await api.post(
        "/api/v1/contacts", {"name": "Nonna Pia", "phone": "+39 333 123 4567", "language": "en", "voice": True}
    )
    assert status == 201, body
    assert body["phone"] == "+393331234567" and body["source"] == "dashboard"
    assert body["channels"] == ["sms", "push", "voice"]
    contact_id = body["id"]
    status, body = await api.request(
        "PATCH", f"/api/v1/contacts/{contact_id}", {"email": "pia@example.org", "push": False, "voice": False}
    )
    assert status == 200 and body["channels"] == ["sms", "email"] and body["language"] == "en", body
    status, body = await api.request("PATCH", f"/api/v1/contacts/{contact_id}", {"phone": None, "email": ""})
    assert status == 400 and body["field"] == "phone", body  # nobody could reach her
    names = [c["name"] for c in (await api.get("/api/v1/contacts"))["items"]]
    assert names == ["Famiglia Demo", "Nonna Pia"]

    status, _ = await api.request("DELETE", f"/api/v1/contacts/{contact_id}")
    assert status == 204
    assert [c["id"] for c in (await api.get("/api/v1/contacts"))["items"]] == ["config-1"]
    for method in ("PATCH", "DELETE"):
        status, body = await api.request(method, f"/api/v1/contacts/{contact_id}", {} if method == "PATCH" else None)
        assert status == 404 and body["error"] == "unknown_contact", body
    kinds = [e["kind"] for e in (await api.get("/api/v1/events?limit=100"))["items"]]
    assert {"contact_added", "contact_changed", "contact_removed"} <= set(kinds)
    assert "3331234567" not in json.dumps((await api.get("/api/v1/events?limit=100"))["items"])


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"name": "X", "phone": "3331234567"}, "phone", 400),  # no country code
        ({"name": "X", "phone": "+39 12"}, "phone", 400),  # too short
        ({"name": "X", "phone": "+1234567890123456"}, "phone", 400),  # 16 digits
        ({"name": "X", "phone": "+39abc1234567"}, "phone", 400),
        ({"name": "X", "email": "not-an-email"}, "email", 400),
        ({"name": "X", "email": "a b@example.org"}, "email", 400),
        ({"name": " ", "phone": "+393331234567"}, "name", 400),
        ({"name": "X", "push": False}, "phone", 400),
        ({"name": "X", "voice": True}, "voice", 400),
        ({"name": "X", "language": "de"}, "language", 400),
        ({"name": "X", "sms": True}, "sms", 400),
        ({"phone": "+393331234567"}, "name", 400),
        ({"name": "Famiglia Demo", "phone": "+393331234567"}, "name", 409),  # a config contact's name
    ],
)
async def test_bad_contacts_are_refused_naming_the_field(
    api: Api, body: dict[str, Any], field: str, status: int
) -> None:
    got, answer = await api.post("/api/v1/contacts", body)
    assert got == status and answer["field"] == field, answer
    assert len((await api.get("/api/v1/contacts"))["items"]) == 1


async def test_a_dashboard_contact_gets_the_next_alarm(api: Api, running_hub: RunningHub) -> None:
    status, body = await api.post("/api/v1/contacts", {"name": "Vicino Ugo", "phone": "+393471112233"})
    assert status == 201, body
    assert "Vicino Ugo" in [c.name for c in running_hub.hub.contacts]
    await api.trigger(WATER)

    async def ugo_rows() -> list[dict[str, Any]]:
        rows = (await api.get("/api/v1/notifications?limit=500"))["items"]
        return [r for r in rows if r["recipient"] == "Vicino Ugo" and r["state"] == "sent"]

    rows = await wait_for(ugo_rows)
    assert {r["channel"] for r in rows} >= {"sms", "push"} and all(r["transport"] == "log" for r in rows)
    assert any(r["address"] == "+393471112233" for r in rows)
    # removed: the next alarm goes to the config contact only
    status, _ = await api.request("DELETE", f"/api/v1/contacts/{body['id']}")
    assert status == 204
    assert [c.name for c in running_hub.hub.contacts] == ["Famiglia Demo"]


async def test_dashboard_contacts_are_loaded_again_after_a_restart(tmp_path: Any) -> None:
    from tests.conftest import start_hub

    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            client = Api(running.base, s)
            await client.login()
            status, body = await client.post("/api/v1/contacts", {"name": "Zia Ada", "email": "ada@example.org"})
            assert status == 201, body
    finally:
        await running.stop()
    running = await start_hub(tmp_path / "data")
    try:
        assert [c.name for c in running.hub.contacts] == ["Famiglia Demo", "Zia Ada"]
    finally:
        await running.stop()


# ---------------------------------------------------------------- history date filter
async def old_event(running: RunningHub, at: datetime, kind: str) -> None:
    await running.hub.db.execute("INSERT INTO events (at, kind, actor) VALUES (?, ?, 'test')", (at.timestamp(), kind))


async def test_events_since_and_until(api: Api, running_hub: RunningHub) -> None:
    await old_event(running_hub, datetime(2020, 1, 1, 0, 30, tzinfo=ROME), "old_a")
    await old_event(running_hub, datetime(2020, 1, 1, 23, 30, tzinfo=ROME), "old_b")
    await old_event(running_hub, datetime(2020, 1, 3, 12, 0, tzinfo=ROME), "old_c")
    # 25 October 2020 had 25 hours in Rome (the clocks went back): its last half hour is still that day
    await old_event(running_hub, datetime(2020, 10, 25, 23, 30, tzinfo=ROME), "dst_end")

    async def kinds(query: str) -> list[str]:
        return [e["kind"] for e in (await api.get(f"/api/v1/events?{query}&limit=500"))["items"]]

    # a date alone is a whole day in the hub's time zone, both ends included
    assert await kinds("since=2020-01-01&until=2020-01-01") == ["old_b", "old_a"]
    assert await kinds("since=2020-01-02&until=2020-01-03") == ["old_c"]
    assert await kinds("until=2020-01-02") == ["old_b", "old_a"]
    assert await kinds("since=2020-10-25&until=2020-10-25") == ["dst_end"]
    newer = await kinds("since=2020-01-02")
    assert "old_c" in newer and "old_a" not in newer and "hub_started" in newer
    # date-times, with an offset (also unencoded: "+" arrives as a space) or in the hub's zone
    assert await kinds("since=2020-01-01T23:00:00%2B01:00&until=2020-01-02") == ["old_b"]
    assert await kinds("since=2020-01-01T22:00:00Z&until=2020-01-02") == ["old_b"]
    assert await kinds("since=2020-01-01T23:00:00+01:00&until=2020-01-02") == ["old_b"]
    assert await kinds("since=2020-01-01T00:00&until=2020-01-01T01:00") == ["old_a"]
    assert await kinds("since=2020-01-01 00:00&until=2020-01-01 01:00") == ["old_a"]
    assert await kinds("since=2020-01-01&until=9999-12-31") == [k for k in await kinds("since=2020-01-01")]
    # with the cursor and the other filters
    first = await api.get("/api/v1/events?since=2020-01-01&until=2020-01-03&limit=1")
    assert [e["kind"] for e in first["items"]] == ["old_c"] and first["next"]
    second = await api.get(f"/api/v1/events?since=2020-01-01&until=2020-01-03&limit=1&before={first['next']}")
    assert [e["kind"] for e in second["items"]] == ["old_b"]
    assert await kinds("since=2020-01-01&until=2020-01-03&kind=old_a") == ["old_a"]
    for query, field in (
        ("since=yesterday", "since"),
        ("until=2020-13-01", "until"),
        ("since=2020-01-01T25:00", "since"),
        ("since=1577836800", "since"),
        ("until=10000-01-01", "until"),
        ("since=2020-01-01T10:00 +01:00x", "since"),
        ("since=2020-01-03&until=2020-01-01", "until"),
    ):
        status, body = await api.request("GET", f"/api/v1/events?{query}")
        assert status == 400 and body["field"] == field, (query, body)


# ---------------------------------------------------------------- push subscription, as the page sends it
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_the_page_subscription_body_is_stored(api: Api, running_hub: RunningHub) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    keys = {"p256dh": b64url(point), "auth": b64url(secrets.token_bytes(16))}
    subscription: dict[str, Any] = {  # PushSubscription.toJSON() of Chromium
        "endpoint": f"https://fcm.googleapis.com/fcm/send/{secrets.token_urlsafe(16)}",
        "expirationTime": None,
        "keys": keys,
    }
    status, body = await api.post("/api/v1/push/subscriptions", subscription)
    assert status == 201 and body == {"endpoint": subscription["endpoint"], "user": "demo"}, body
    rows = await running_hub.hub.db.fetchall("SELECT username, endpoint, p256dh FROM push_subscriptions")
    assert [(r["username"], r["endpoint"], r["p256dh"]) for r in rows] == [
        ("demo", subscription["endpoint"], keys["p256dh"])
    ]


async def test_a_subscription_to_a_private_address_is_refused(api: Api) -> None:
    # Push services are on the internet: an endpoint on the LAN or the hub itself would let a
    # logged-in user make the hub POST there (SSRF). [push] allow_private_endpoints opts in.
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    keys = {"p256dh": b64url(point), "auth": b64url(secrets.token_bytes(16))}
    for host in ("127.0.0.1:8080", "localhost", "192.168.1.1", "[::1]", "169.254.169.254", "router.localhost"):
        status, body = await api.post("/api/v1/push/subscriptions", {"endpoint": f"https://{host}/x", "keys": keys})
        assert status == 400 and body["field"] == "endpoint", (host, body)
        assert "allow_private_endpoints" in body["message"]


async def test_refusals_carry_a_reason_the_dashboard_can_word(api: Api) -> None:
    cases = [
        ("/api/v1/contacts", {"name": "X", "phone": "0039 333"}, "phone_format"),
        ("/api/v1/contacts", {"name": "X", "email": "x@"}, "email_format"),
        ("/api/v1/contacts", {"name": "X", "push": False}, "unreachable"),
        ("/api/v1/contacts", {"name": "X", "voice": True}, "voice_needs_phone"),
        ("/api/v1/users", {"username": "x", "password": "long-enough", "role": "member", "code": "12"}, "code_length"),
        (
            "/api/v1/users",
            {"username": "x", "password": "long-enough", "role": "member", "code": "1234x"},
            "code_digits",
        ),
        ("/api/v1/users", {"username": "x", "password": "short", "role": "member"}, "password_length"),
        (
            "/api/v1/users",
            {"username": "x", "password": "long-enough", "role": "member", "duress_code": "12345"},
            "code_clash",
        ),
    ]
    for path, body, reason in cases:
        status, answer = await api.post(path, body)
        assert status == 400 and answer["reason"] == reason, (body, answer)
