"""Bad input never gets a 500 and never changes anything; auth and CSRF guard every route."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import Api, RunningHub

BAD_BODIES = [
    (b"{not json", "malformed_json"),
    (b"[]", "invalid_field:body"),
    (b'{"mode": "away"}', "invalid_field:code"),
    (b'{"mode": "sideways", "code": "12345"}', "invalid_field:mode"),
    (b'{"mode": 3, "code": "12345"}', "invalid_field:mode"),
    (b'{"mode": "away", "code": 12345}', "invalid_field:code"),
    (b'{"mode": "away", "code": "12345", "force": "yes"}', "invalid_field:force"),
    (b'{"mode": "away", "code": "12345", "extra": 1}', "invalid_field:extra"),
]


@pytest.mark.parametrize(("raw", "error"), BAD_BODIES)
async def test_arm_rejects_bad_bodies_naming_the_field(api: Api, raw: bytes, error: str) -> None:
    status, body = await api.request("POST", "/api/v1/system/arm", raw=raw)
    assert status == 400, body
    assert body["error"] == error
    assert body["message"]
    assert (await api.get("/api/v1/system"))["mode"] == "disarmed"


async def test_huge_body_is_413(api: Api) -> None:
    raw = b'{"code": "' + b"1" * (70 * 1024) + b'"}'
    status, body = await api.request("POST", "/api/v1/system/disarm", raw=raw)
    assert status == 413 and body["error"] == "body_too_large"


async def test_unknown_ids_are_404(api: Api) -> None:
    for method, path, body in [
        ("PATCH", "/api/v1/zones/nope", {"name": "x"}),
        ("DELETE", "/api/v1/zones/nope", None),
        ("DELETE", "/api/v1/devices/nope", None),
        ("POST", "/api/v1/incidents/nope/ack", {}),
        ("GET", "/api/v1/incidents/nope", None),
        ("POST", "/api/v1/demo/zones/nope/trigger", {"active": True}),
        ("GET", "/api/v1/nothing-here", None),
    ]:
        status, data = await api.request(method, path, body)
        assert status == 404, (method, path, status, data)
        assert isinstance(data, dict) and data["error"], data


async def test_bad_query_strings(api: Api) -> None:
    for path in [
        "/api/v1/events?limit=abc",
        "/api/v1/events?limit=0",
        "/api/v1/events?before=-1",
        "/api/v1/incidents?state=weird",
        "/api/v1/notifications?state=weird",
    ]:
        status, data = await api.request("GET", path)
        assert status == 400, (path, data)


async def test_patch_zone_validation(api: Api) -> None:
    water = await api.zone_id("water")
    status, data = await api.request("PATCH", f"/api/v1/zones/{water}", {"behaviour": "entry"})
    assert status == 400 and data["field"] == "behaviour"
    status, data = await api.request("PATCH", f"/api/v1/zones/{water}", {"name": ""})
    assert status == 400
    status, data = await api.request("PATCH", f"/api/v1/zones/{water}", {"name": "Lavello", "room": "Cucina"})
    assert status == 200 and data["name"] == "Lavello"


async def test_every_route_needs_auth(anon: Api, running_hub: RunningHub) -> None:
    from hub.web.app import make_app
    from hub.web.context import WebContext

    app = make_app(WebContext(hub=running_hub.hub, accounts=None))  # type: ignore[arg-type]
    public = {("GET", "/api/v1/health"), ("POST", "/api/v1/session")}
    checked = 0
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter", "")
        path = path.replace("{id}", "x")
        if not path.startswith("/api/"):
            continue  # the dashboard's pages redirect to /login instead: tests/integration/test_pages.py
        for route in resource:
            if route.method == "HEAD" or (route.method, path) in public:
                continue
            status, body = await anon.request(route.method, path, {} if route.method != "GET" else None)
            assert status == 401, (route.method, path, status)
            if getattr(route.handler, "own_auth", False):  # a camera's event token: it says so
                assert body["error"] == "unauthorized" and "token" in body["message"], body
            else:
                assert body == {"error": "unauthorized", "message": "log in or send a bearer token"}
            checked += 1
    assert checked >= 20


async def test_csrf_required_for_cookie_sessions(api: Api) -> None:
    csrf, api.csrf = api.csrf, ""
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 403 and body["error"] == "csrf"
    status, body = await api.request(
        "POST", "/api/v1/system/arm", {"mode": "away", "code": "12345"}, headers={"X-CSRF-Token": "wrong"}
    )
    assert status == 403
    api.csrf = csrf


async def test_session_cookie_flags_and_logout(running_hub: RunningHub) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(
            running_hub.base + "/api/v1/session", json={"username": "demo", "password": "demo"}
        ) as resp:
            cookie = resp.headers["Set-Cookie"]
            csrf = (await resp.json())["csrf"]
        assert "casahub_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with session.delete(running_hub.base + "/api/v1/session", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200
        async with session.get(running_hub.base + "/api/v1/system") as resp:
            assert resp.status == 401


async def test_login_lockout_after_five_failures(anon: Api) -> None:
    for _ in range(5):
        status, body = await anon.request("POST", "/api/v1/session", {"username": "demo", "password": "bad"})
        assert status == 401 and body["error"] == "invalid_credentials"
    status, body = await anon.request("POST", "/api/v1/session", {"username": "demo", "password": "demo"})
    assert status == 429
    assert int(anon.last_headers["Retry-After"]) > 0


async def test_bearer_token_roles(running_hub: RunningHub) -> None:
    from hub.store.accounts import Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(running_hub.data_dir / "casahub.db"))
    # In worker threads: a blocked event loop could not finish a write the hub has begun.
    _, installer = await asyncio.to_thread(accounts.create_token, "installer", ttl=3600, username="demo")
    _, expired = await asyncio.to_thread(accounts.create_token, "member", ttl=0.001)
    accounts.conn.close()
    async with aiohttp.ClientSession() as session:
        api = Api(running_hub.base, session)
        status, _ = await api.request("GET", "/api/v1/zones", headers={"Authorization": f"Bearer {installer}"})
        assert status == 200
        status, body = await api.request(
            "POST", "/api/v1/system/disarm", {"code": "12345"}, headers={"Authorization": f"Bearer {installer}"}
        )
        assert status == 403 and body["error"] == "forbidden"
        status, _ = await api.request("GET", "/api/v1/system", headers={"Authorization": f"Bearer {expired}"})
        assert status == 401
        status, _ = await api.request("GET", "/api/v1/system", headers={"Authorization": "Bearer chb_nope"})
        assert status == 401


async def test_websocket_streams_changes(api: Api, running_hub: RunningHub) -> None:
    water = await api.zone_id("water")
    async with api.session.ws_connect(running_hub.base + "/api/v1/ws") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "system" and first["system"]["mode"] == "disarmed"
        await api.trigger(water)
        seen = set()
        for _ in range(50):
            msg = await ws.receive_json(timeout=5)
            seen.add(msg["type"])
            if msg["type"] == "incident":
                assert msg["incident"]["kind"] == "water"
                break
        assert "incident" in seen


async def test_websocket_requires_auth(anon: Api, running_hub: RunningHub) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        async with anon.session.ws_connect(running_hub.base + "/api/v1/ws"):
            pass
    assert info.value.status == 401
