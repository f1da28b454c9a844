"""Bearer tokens (expiry, revocation, malformed headers) and WebSocket authentication."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from hub.web.auth import COOKIE
from tests.conftest import Api, RunningHub
from tests.security.conftest import accounts_of, raw_http


async def bearer_get(running: RunningHub, token: str, path: str = "/api/v1/system") -> tuple[int, object]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        return await Api(running.base, session).request("GET", path, headers={"Authorization": f"Bearer {token}"})


async def test_a_valid_token_works_case_insensitive_scheme(running_hub: RunningHub) -> None:
    _, token = await asyncio.to_thread(accounts_of(running_hub).create_token, "member", ttl=3600)
    status, body = await bearer_get(running_hub, token, "/api/v1/session")
    assert status == 200 and body["role"] == "member" and body["kind"] == "token", body  # type: ignore[index]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        status, _ = await Api(running_hub.base, session).request(
            "GET", "/api/v1/system", headers={"Authorization": f"bearer {token}"}
        )
        assert status == 200


async def test_expired_token_is_401(running_hub: RunningHub) -> None:
    accounts = accounts_of(running_hub)
    token_id, token = await asyncio.to_thread(accounts.create_token, "owner", ttl=3600)
    assert (await bearer_get(running_hub, token))[0] == 200

    def expire() -> None:  # in a worker thread: blocking the loop would stall the hub's own writes
        with accounts._lock:  # move its expiry into the past
            accounts.conn.execute("UPDATE tokens SET expires_at = 1 WHERE id = ?", (token_id,))

    await asyncio.to_thread(expire)
    status, body = await bearer_get(running_hub, token)
    assert status == 401 and body["error"] == "unauthorized", body  # type: ignore[index]
    _, short = await asyncio.to_thread(accounts.create_token, "owner", ttl=0.05)
    await asyncio.sleep(0.1)
    assert (await bearer_get(running_hub, short))[0] == 401


async def test_revoked_token_is_401(running_hub: RunningHub) -> None:
    accounts = accounts_of(running_hub)
    token_id, token = await asyncio.to_thread(accounts.create_token, "owner")
    assert (await bearer_get(running_hub, token))[0] == 200
    await asyncio.to_thread(accounts.revoke_token, token_id)
    status, body = await bearer_get(running_hub, token)
    assert status == 401 and body["error"] == "unauthorized", body  # type: ignore[index]


async def test_a_token_is_only_its_exact_secret(running_hub: RunningHub) -> None:
    _, token = await asyncio.to_thread(accounts_of(running_hub).create_token, "owner")
    for variant in (token[:-1], token + "x", token.upper(), token.split("_", 2)[0] + "_" + token.split("_", 2)[1]):
        assert (await bearer_get(running_hub, variant))[0] == 401, variant


MALFORMED = [
    "",
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "Basic x",
    "Basic ZGVtbzpkZW1v",  # demo:demo: passwords are never accepted as a header
    "Token abc",
    "Bearer a b c",
    "Bearer chb_",
    "Bearer chb_00000000_",
    "Bearer ' OR '1'='1",
    "Bearer \t",
    "Bearer " + "A" * 4000,
    "B" * 8000,
    "Bearer é€",
]


@pytest.mark.parametrize("header", MALFORMED, ids=lambda h: repr(h[:20]) + f"/{len(h)}")
async def test_malformed_authorization_is_401_never_500(running_hub: RunningHub, header: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        status, body = await Api(running_hub.base, session).request(
            "GET", "/api/v1/system", headers={"Authorization": header}
        )
    assert status == 401 and body["error"] == "unauthorized", (status, body)


@pytest.mark.parametrize(
    "line",
    [
        b"Authorization: Bearer \xc3\xa9\xff\xfe",
        b"Authorization: \xff\xff",
        b"Authorization: Bearer chb_\x01\x02",
        b"Cookie: " + COOKIE.encode() + b"=\xc3\xa9\xff",
        b"Cookie: " + COOKIE.encode() + b'="\\"quoted\\""',
        b"Cookie: " + COOKIE.encode() + b"=" + b"s" * 4000,
    ],
)
async def test_raw_credential_bytes_are_401_never_500(running_hub: RunningHub, line: bytes) -> None:
    request = b"GET /api/v1/system HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + line + b"\r\n\r\n"
    status, _ = await raw_http(running_hub.base, request)
    assert status in (400, 401), status


async def test_authorization_header_beyond_the_server_limit_is_a_client_error(running_hub: RunningHub) -> None:
    request = b"GET /api/v1/system HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
    status, _ = await raw_http(running_hub.base, request + b"A" * 20000 + b"\r\n\r\n")
    assert 400 <= status < 500
    assert (await bearer_get(running_hub, "x"))[0] == 401  # and the hub still answers


# --------------------------------------------------------------------------- WebSocket


async def ws_status(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    try:
        ws = await session.ws_connect(url, headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    try:
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT and '"system"' in msg.data
        await ws.send_str("ping")
        assert (await ws.receive(timeout=5)).data == "pong"
    finally:
        await ws.close()
    return 101


async def test_websocket_without_auth_is_401(running_hub: RunningHub, anon: Api) -> None:
    url = running_hub.base + "/api/v1/ws"
    assert await ws_status(anon.session, url, {}) == 401
    assert await ws_status(anon.session, url, {"Authorization": "Bearer nope"}) == 401
    assert await ws_status(anon.session, url, {"Cookie": f"{COOKIE}=forged"}) == 401


async def test_websocket_cookie_session_checks_the_origin(running_hub: RunningHub, api: Api) -> None:
    url = running_hub.base + "/api/v1/ws"
    own = running_hub.base
    for origin in ("https://evil.example", "null", own + ".evil.example", "http://localhost:1", "http://127.0.0.1"):
        assert await ws_status(api.session, url, {"Origin": origin}) == 403, origin
    assert await ws_status(api.session, url, {"Origin": own}) == 101
    assert await ws_status(api.session, url, {}) == 101  # not a browser: no Origin, nothing to hijack


async def test_websocket_with_bearer_is_allowed_from_any_origin(running_hub: RunningHub, anon: Api) -> None:
    _, token = await asyncio.to_thread(accounts_of(running_hub).create_token, "installer", username="demo")
    url = running_hub.base + "/api/v1/ws"
    for origin in (None, "https://evil.example"):
        headers = {"Authorization": f"Bearer {token}"} | ({"Origin": origin} if origin else {})
        assert await ws_status(anon.session, url, headers) == 101


async def next_frame(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """The next data frame or the close, skipping nothing else (timeout: the stream went quiet)."""
    return await ws.receive(timeout=5)


async def test_an_open_websocket_ends_when_its_credential_does(
    running_hub: RunningHub, api: Api, anon: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revoking a token, logging out or changing the password also stops a stream already open
    (within CREDENTIAL_RECHECK seconds; here every message is checked)."""
    monkeypatch.setattr("hub.web.ws.CREDENTIAL_RECHECK", 0.0)
    accounts = accounts_of(running_hub)
    token_id, token = await asyncio.to_thread(accounts.create_token, "owner")
    url = running_hub.base + "/api/v1/ws"
    by_token = await anon.session.ws_connect(url, headers={"Authorization": f"Bearer {token}"})
    by_cookie = await api.session.ws_connect(url)
    try:
        for ws in (by_token, by_cookie):
            assert '"system"' in (await next_frame(ws)).data  # the greeting
        await asyncio.to_thread(accounts.revoke_token, token_id)
        status, _ = await api.request("DELETE", "/api/v1/session")
        assert status == 200
        running_hub.hub.fanout.publish({"type": "event", "kind": "test", "by": "test"})
        for ws in (by_token, by_cookie):
            msg = await next_frame(ws)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
            # 1008 when the close handshake completes; 1006 if the server closed first: either way it ended.
            assert ws.close_code in (aiohttp.WSCloseCode.POLICY_VIOLATION, aiohttp.WSCloseCode.ABNORMAL_CLOSURE)
    finally:
        await by_token.close()
        await by_cookie.close()
