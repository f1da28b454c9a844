"""Bounded data and credentials, against a running demo hub (issue 14, sections 3 and 5):

- names and rooms over 64 characters, reasons and labels over 200: 400 naming the field;
- the write rate limit: 429 with Retry-After for a user or a token that changes too much too
  fast, while disarm (and arm, ack, restore) always goes through;
- the login takes application/json only (a text/plain or form body is login CSRF): 415;
- removing a user or changing their password ends their sessions, tokens and open WebSockets.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from hub.web.rate import BURST
from tests.conftest import Api, RunningHub
from tests.security.conftest import Client, accounts_of

LONG = "x" * 100
DEMO_CODE = "12345"


async def _first(api: Api, path: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = (await api.get(path))["items"]
    return items[0]


def _names_field(status: int, body: Any, field: str) -> None:
    assert status == 400, body
    assert body["error"] == f"invalid_field:{field}" and body["field"] == field, body
    assert "64" in body["message"] or "200" in body["message"], body


async def test_a_100_character_name_is_refused_naming_the_field(api: Api) -> None:
    zone = await _first(api, "/api/v1/zones")
    device = await _first(api, "/api/v1/devices")
    for path, body, field in (
        (f"/api/v1/zones/{zone['id']}", {"name": LONG}, "name"),
        (f"/api/v1/zones/{zone['id']}", {"room": LONG}, "room"),
        (f"/api/v1/devices/{device['id']}", {"name": LONG}, "name"),
        (f"/api/v1/devices/{device['id']}", {"room": LONG}, "room"),
    ):
        status, answer = await api.request("PATCH", path, body)
        _names_field(status, answer, field)
    add = {"driver": "simulated", "address": "new-1", "name": "ok", "zones": [{"kind": "water", "name": LONG}]}
    status, answer = await api.request("POST", "/api/v1/devices", add)
    _names_field(status, answer, "zones[0].name")
    status, answer = await api.request("POST", "/api/v1/devices", add | {"name": LONG, "zones": [{"kind": "water"}]})
    _names_field(status, answer, "name")
    status, answer = await api.request("POST", "/api/v1/contacts", {"name": LONG, "push": True})
    _names_field(status, answer, "name")
    isolate = {"code": DEMO_CODE, "reason": "r" * 201, "hours": 2}
    status, answer = await api.request("POST", f"/api/v1/zones/{zone['id']}/isolate", isolate)
    _names_field(status, answer, "reason")
    # 64 characters exactly is fine, and nothing was stored by the refusals above.
    status, answer = await api.request("PATCH", f"/api/v1/zones/{zone['id']}", {"name": "n" * 64})
    assert status == 200 and answer["name"] == "n" * 64, answer
    names = [z["name"] for z in (await api.get("/api/v1/zones"))["items"]]
    assert LONG not in names


async def test_a_token_label_is_at_most_200_characters(running_hub: RunningHub) -> None:
    from hub.store.accounts import AccountError

    accounts = accounts_of(running_hub)
    with pytest.raises(AccountError, match="label: at most 200"):
        await asyncio.to_thread(accounts.create_token, "member", label="l" * 201)
    await asyncio.to_thread(accounts.create_token, "member", label="l" * 200)


async def test_writes_are_rate_limited_but_disarm_always_goes_through(
    running_hub: RunningHub, clients: dict[tuple[str, str], Client]
) -> None:
    api = clients["owner", "session"]
    zone = await _first(api.api, "/api/v1/zones")
    path = f"/api/v1/zones/{zone['id']}"
    statuses = []
    answer: Any = None
    for n in range(BURST + 10):
        status, answer = await api.request("PATCH", path, {"name": f"Zona {n}"})
        statuses.append(status)
        if status == 429:
            break
    assert statuses[-1] == 429, statuses
    assert statuses.count(200) >= BURST - 2, statuses  # the burst passed (a few refilled meanwhile)
    assert answer["error"] == "too_many_changes", answer
    assert int(api.api.last_headers["Retry-After"]) >= 1
    # People first: arming and disarming are never limited (they have their own code throttle).
    status, answer = await api.request("POST", "/api/v1/system/arm", {"mode": "away", "code": DEMO_CODE, "force": True})
    assert status == 200, answer
    status, answer = await api.request("POST", "/api/v1/system/disarm", {"code": DEMO_CODE})
    assert status == 200 and answer["mode"] == "disarmed", answer
    # Reads still answer; a request the hub refuses costs nothing (the body is refused, not 429).
    await api.api.get("/api/v1/zones")
    # Each token has its own bucket, and other users are not slowed down by this one.
    token = clients["owner", "token"]
    status, answer = await token.request("PATCH", path, {"name": "Zona token"})
    assert status == 200, answer
    # The bucket refills: one write per 1/RATE seconds.
    await asyncio.sleep(float(api.api.last_headers.get("Retry-After", "1")))
    status, answer = await api.request("PATCH", path, {"name": "Zona di nuovo"})
    assert status == 200, answer


async def test_refused_requests_do_not_use_up_the_rate(clients: dict[tuple[str, str], Client]) -> None:
    api = clients["owner", "session"]
    zone = await _first(api.api, "/api/v1/zones")
    for _ in range(BURST * 2):
        status, answer = await api.request("PATCH", f"/api/v1/zones/{zone['id']}", {"name": LONG})
        assert status == 400, answer
    status, answer = await api.request("PATCH", f"/api/v1/zones/{zone['id']}", {"name": "Zona"})
    assert status == 200, answer


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
async def test_login_takes_json_only(anon: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"username": "demo", "password": "demo"}'
    async with anon.session.post(anon.base + "/api/v1/session", data=body, headers=headers) as resp:
        answer = await resp.json(content_type=None)
        assert resp.status == 415, answer
        assert answer["error"] == "unsupported_media_type"
        assert "casahub_session" not in resp.cookies
    async with anon.session.post(
        anon.base + "/api/v1/session", data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    ) as resp:
        assert resp.status == 200


async def _open_ws(api: Api, headers: dict[str, str] | None = None) -> aiohttp.ClientWebSocketResponse:
    ws = await api.session.ws_connect(api.base.replace("http", "ws") + "/api/v1/ws", headers=headers or {})
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "system"
    return ws


async def _closed_within(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> float:
    """Seconds until the hub closed `ws` (reading whatever it sends meanwhile); fails after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        msg = await ws.receive(timeout=seconds)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            return time.monotonic() - started
    raise AssertionError(f"the WebSocket stayed open for {seconds} s")


async def test_removing_a_user_ends_their_websocket_and_token_at_once(
    running_hub: RunningHub, clients: dict[tuple[str, str], Client]
) -> None:
    owner = clients["owner", "session"]
    member = clients["member", "session"]
    accounts = accounts_of(running_hub)
    _, token = await asyncio.to_thread(accounts.create_token, "member", username="mia", label="mia's phone")
    status, _ = await member.api.request("GET", "/api/v1/system", headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    by_session = await _open_ws(member.api)
    by_token = await _open_ws(member.api, {"Authorization": f"Bearer {token}"})
    try:
        # A quiet house: nothing is published, the streams must end anyway (CREDENTIAL_RECHECK = 2 s).
        status, answer = await owner.request("DELETE", "/api/v1/users/mia")
        assert status == 204, answer
        took = await asyncio.gather(_closed_within(by_session, 6), _closed_within(by_token, 6))
        assert max(took) < 5, took
    finally:
        await by_session.close()
        await by_token.close()
    status, _ = await member.api.request("GET", "/api/v1/system")
    assert status == 401
    status, _ = await member.api.request("GET", "/api/v1/system", headers={"Authorization": f"Bearer {token}"})
    assert status == 401


async def test_a_new_password_ends_sessions_tokens_and_websockets(
    running_hub: RunningHub, clients: dict[tuple[str, str], Client]
) -> None:
    owner = clients["owner", "session"]
    member = clients["member", "session"]
    accounts = accounts_of(running_hub)
    _, token = await asyncio.to_thread(accounts.create_token, "member", username="mia")
    ws = await _open_ws(member.api)
    try:
        status, answer = await owner.request("PATCH", "/api/v1/users/mia", {"password": "a-brand-new-pw"})
        assert status == 200, answer
        assert await _closed_within(ws, 6) < 5
    finally:
        await ws.close()
    status, _ = await member.api.request("GET", "/api/v1/system")
    assert status == 401
    status, _ = await member.api.request("GET", "/api/v1/system", headers={"Authorization": f"Bearer {token}"})
    assert status == 401
    # Changing only the language or a code keeps the sessions.
    await member.api.login("mia", "a-brand-new-pw")
    status, answer = await owner.request("PATCH", "/api/v1/users/mia", {"language": "en"})
    assert status == 200, answer
    status, _ = await member.api.request("GET", "/api/v1/system")
    assert status == 200
