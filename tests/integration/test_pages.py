"""The dashboard at the HTTP level: pages and redirects, security headers, the first-start
setup (only while no user exists, only from home-network addresses) and installer tokens."""

from __future__ import annotations

import asyncio
import re
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from hub.web.context import CONTEXT
from hub.web.pages import STATIC_DIR, is_local_address, png_icon
from tests.conftest import Api, RunningHub, start_hub
from tests.security.conftest import accounts_of, running_app

APP_PAGES = ["/", "/incidents", "/incidents/inc-1", "/zones", "/history", "/anomalies", "/settings"]
CSP_PARTS = ("default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'")


def assert_secure_headers(response: aiohttp.ClientResponse) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    for part in CSP_PARTS:
        assert part in csp, (str(response.url), csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    assert response.headers.get("X-Frame-Options") == "DENY"


async def fetch(session: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, str, aiohttp.ClientResponse]:
    async with session.get(url, allow_redirects=False, **kwargs) as response:  # type: ignore[arg-type]
        body = await response.read()
        return response.status, body.decode("utf-8", "replace"), response


@pytest.fixture
async def fresh_hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A production (non-demo) hub without any user: the first start."""
    config = tmp_path / "casahub.toml"
    config.write_text('[web]\ntls = "off"\n')
    running = await start_hub(tmp_path / "data", config, demo=False)
    try:
        yield running
    finally:
        await running.stop()


# ---------------------------------------------------------------- addresses
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "10.0.0.7",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.20",
        "169.254.10.1",
        "fd12:3456:789a::1",
        "fc00::1",
        "fe80::1",
        "fe80::1%eth0",
        "::ffff:192.168.1.20",
        "::ffff:127.0.0.1",
    ],
)
def test_home_network_addresses_may_set_up(address: str) -> None:
    assert is_local_address(address)


@pytest.mark.parametrize(
    "address",
    [
        None,
        "",
        "8.8.8.8",
        "172.32.0.1",
        "172.15.255.255",
        "100.64.0.1",  # carrier-grade NAT: not the home network
        "192.0.2.1",
        "11.0.0.1",
        "2001:db8::1",
        "2a00:1450::1",
        "::ffff:8.8.8.8",
        "0.0.0.0",
        "::",
        "localhost",
        "not an address",
        "192.168.1.20.evil",
    ],
)
def test_other_addresses_may_not_set_up(address: str | None) -> None:
    assert not is_local_address(address)


# ---------------------------------------------------------------- pages and headers
async def test_pages_redirect_to_login_without_a_session(running_hub: RunningHub, anon: Api) -> None:
    for path in APP_PAGES:
        status, _, response = await fetch(anon.session, running_hub.base + path)
        assert status == 302, path
        location = response.headers["Location"]
        assert location == "/login" if path == "/" else location == f"/login?next={path}", (path, location)
        assert_secure_headers(response)
    # a next= the page would not follow is never offered
    status, _, response = await fetch(anon.session, running_hub.base + "/incidents/%2F%2Fevil.example")
    assert status == 302 and response.headers["Location"] == "/login"


async def test_public_pages_and_assets(running_hub: RunningHub, anon: Api) -> None:
    status, body, response = await fetch(anon.session, running_hub.base + "/login")
    assert status == 200 and 'id="login"' in body
    assert_secure_headers(response)
    status, _, response = await fetch(anon.session, running_hub.base + "/setup")  # the demo has its owner
    assert status == 302 and response.headers["Location"] == "/login"
    for name, content_type in [
        ("app.js", "text/javascript"),
        ("i18n.js", "text/javascript"),
        ("qr.js", "text/javascript"),
        ("login.js", "text/javascript"),
        ("style.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
        ("offline.html", "text/html"),
    ]:
        status, _, response = await fetch(anon.session, f"{running_hub.base}/static/{name}")
        assert status == 200 and response.content_type == content_type, name
        assert_secure_headers(response)
    status, body, response = await fetch(anon.session, running_hub.base + "/sw.js")
    assert status == 200 and response.headers["Service-Worker-Allowed"] == "/" and "notificationclick" in body
    status, body, response = await fetch(anon.session, running_hub.base + "/manifest.webmanifest")
    assert status == 200 and response.content_type == "application/manifest+json" and '"start_url": "/"' in body
    # page templates, other files and paths are not static files
    for name in ["index.html", "login.html", "setup.html", "denied.html", "nope.js", "..%2Fpages.py", "sw.js"]:
        status, _, _ = await fetch(anon.session, f"{running_hub.base}/static/{name}")
        assert status == 404, name


@pytest.mark.parametrize("size", [192, 512])
async def test_icons_are_valid_pngs(running_hub: RunningHub, anon: Api, size: int) -> None:
    async with anon.session.get(f"{running_hub.base}/static/icon-{size}.png") as response:
        assert response.status == 200 and response.content_type == "image/png"
        data = await response.read()
    assert data == png_icon(size)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, colour) == (size, size, 8, 6)
    assert len(zlib.decompress(chunks[b"IDAT"])) == size * (size * 4 + 1)


async def test_shell_carries_the_session_and_the_security_headers(running_hub: RunningHub, api: Api) -> None:
    for path in APP_PAGES:
        status, body, response = await fetch(api.session, running_hub.base + path)
        assert status == 200, path
        assert f'<meta name="casahub-csrf" content="{api.csrf}">' in body
        assert '<meta name="casahub-role" content="owner">' in body
        assert_secure_headers(response)
        assert response.headers["Cache-Control"] == "no-store"  # the page carries the CSRF token


async def test_settings_page_is_for_the_owner_only(running_hub: RunningHub, anon: Api) -> None:
    await asyncio.to_thread(accounts_of(running_hub).add_user, "mia", "member-pass", "member")
    await anon.login("mia", "member-pass")
    status, body, response = await fetch(anon.session, running_hub.base + "/settings")
    assert status == 403 and "Accesso negato" in body
    assert_secure_headers(response)
    status, body, _ = await fetch(anon.session, running_hub.base + "/")
    assert status == 200 and '<meta name="casahub-role" content="member">' in body


def test_no_inline_script_or_style_in_the_static_files() -> None:
    """The CSP allows neither: everything is in files (a violation would silently break the page)."""
    for path in STATIC_DIR.glob("*.html"):
        text = path.read_text()
        assert "<style" not in text, path.name
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        for tag in re.findall(r"<script[^>]*>", text):
            assert 'src="/static/' in tag, (path.name, tag)
        assert "javascript:" not in text, path.name
    for path in STATIC_DIR.glob("*.js"):
        text = path.read_text()
        assert ".innerHTML" not in text and "eval(" not in text and "new Function" not in text, path.name
        assert 'setAttribute("style"' not in text, path.name


# ---------------------------------------------------------------- first start: setup
async def test_first_start_setup_creates_the_owner_once(fresh_hub: RunningHub) -> None:
    base = fresh_hub.base
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(base, session)
        # without users, every page leads to the setup page (we are on loopback)
        for path in ["/", "/zones", "/login"]:
            status, _, response = await fetch(session, base + path)
            assert status == 302 and response.headers["Location"] == "/setup", path
        status, body, response = await fetch(session, base + "/setup")
        assert status == 200 and 'id="setup"' in body
        assert_secure_headers(response)
        # strictly validated
        for bad, field in [
            ({"username": "casa", "password": "long-enough", "code": "1234"}, "code"),
            ({"username": "casa", "password": "long-enough", "code": "12a45"}, "code"),
            ({"username": "casa", "password": "short", "code": "12345"}, "password"),
            ({"username": "ca sa", "password": "long-enough", "code": "12345"}, "username"),
            ({"username": "", "password": "long-enough", "code": "12345"}, "username"),
            ({"username": "casa", "password": "long-enough"}, "code"),
            ({"username": "casa", "password": "long-enough", "code": "12345", "role": "owner"}, "role"),
            ({"username": "casa", "password": "long-enough", "code": "12345", "language": "de"}, "language"),
            ({"username": "casa", "password": "long-enough", "code": 12345}, "code"),
        ]:
            status, reply = await api.post("/api/v1/setup", bad)
            assert status == 400 and reply["field"] == field, (bad, reply)
        assert await asyncio.to_thread(accounts_of(fresh_hub).user_count) == 0
        # two at once: exactly one owner
        first, second = await asyncio.gather(
            api.post("/api/v1/setup", {"username": "casa", "password": "long-enough", "code": "24680"}),
            api.post("/api/v1/setup", {"username": "rival", "password": "long-enough", "code": "13579"}),
        )
        assert sorted([first[0], second[0]]) == [201, 409], (first, second)
        winner = first[1] if first[0] == 201 else second[1]
        assert winner["role"] == "owner" and winner["csrf"]
        users = await asyncio.to_thread(accounts_of(fresh_hub).list_users)
        assert [(u.username, u.role, u.has_code) for u in users] == [(winner["user"], "owner", True)]
        # ... logged in by the setup
        api.csrf = winner["csrf"]
        status, body, _ = await fetch(session, base + "/")
        assert status == 200 and f'content="{winner["csrf"]}"' in body
        status, reply = await api.post("/api/v1/setup", {"username": "x", "password": "long-enough", "code": "12345"})
        assert status == 409 and reply["error"] == "already_set_up"
        status, _, response = await fetch(session, base + "/setup")
        assert status == 302 and response.headers["Location"] == "/login"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as plain:
        status, reply = await Api(base, plain).post(
            "/api/v1/setup", {"username": "x", "password": "long-enough", "code": "12345"}
        )
        assert status == 401 and reply["error"] == "unauthorized"  # public no more
        status, _, response = await fetch(plain, base + "/")
        assert status == 302 and response.headers["Location"] == "/login"


# ---------------------------------------------------------------- installer tokens
async def test_owner_creates_a_time_limited_installer_token(running_hub: RunningHub, api: Api) -> None:
    status, reply = await api.post("/api/v1/tokens", {"role": "installer", "ttl": 3600})
    assert status == 201 and set(reply) == {"token", "id", "user", "expires_at"}, reply
    assert reply["user"] == "demo"  # the owner who granted it
    assert reply["token"].startswith(f"chb_{reply['id']}_")
    left = datetime.fromisoformat(reply["expires_at"]).timestamp() - datetime.now().timestamp()
    assert 3500 < left <= 3601
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as plain:
        installer = Api(running_hub.base, plain)
        headers = {"Authorization": f"Bearer {reply['token']}"}
        status, who = await installer.request("GET", "/api/v1/session", headers=headers)
        assert status == 200 and who["role"] == "installer"
        status, _ = await installer.request("GET", "/api/v1/pairing/candidates", headers=headers)
        assert status == 200
        status, _ = await installer.request("POST", "/api/v1/system/disarm", {"code": "12345"}, headers=headers)
        assert status == 403  # an installer does not disarm
        # an installer may not mint more tokens
        status, denied = await installer.request(
            "POST", "/api/v1/tokens", {"role": "installer", "ttl": 3600}, headers=headers
        )
        assert status == 403 and denied["error"] == "forbidden"
    events = (await api.get("/api/v1/events?kind=token_created"))["items"]
    assert events and events[0]["actor"] == "demo" and events[0]["data"]["id"] == reply["id"]


async def test_token_endpoint_is_owner_only(running_hub: RunningHub, anon: Api) -> None:
    status, reply = await anon.post("/api/v1/tokens", {"role": "installer", "ttl": 3600})
    assert status == 401
    await asyncio.to_thread(accounts_of(running_hub).add_user, "mia", "member-pass", "member")
    await anon.login("mia", "member-pass")
    status, reply = await anon.post("/api/v1/tokens", {"role": "installer", "ttl": 3600})
    assert status == 403 and reply["error"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "owner", "ttl": 3600}, "role"),
        ({"role": "member", "ttl": 3600}, "role"),
        ({"role": "installer", "ttl": 299}, "ttl"),
        ({"role": "installer", "ttl": 7 * 24 * 3600 + 1}, "ttl"),
        ({"role": "installer", "ttl": -5}, "ttl"),
        ({"role": "installer", "ttl": 3600.5}, "ttl"),
        ({"role": "installer", "ttl": "3600"}, "ttl"),
        ({"role": "installer", "ttl": True}, "ttl"),
        ({"role": "installer", "ttl": None}, "ttl"),
        ({"ttl": 3600}, "role"),
        ({"role": "installer", "ttl": 3600, "label": "x"}, "label"),
    ],
)
async def test_token_requests_are_validated(api: Api, body: dict[str, object], field: str) -> None:
    status, reply = await api.post("/api/v1/tokens", body)
    assert status == 400 and reply["field"] == field, reply


async def test_token_endpoint_needs_the_csrf_header(api: Api) -> None:
    status, reply = await api.request(
        "POST", "/api/v1/tokens", {"role": "installer", "ttl": 3600}, headers={"X-CSRF-Token": "wrong"}
    )
    assert status == 403 and reply["error"] == "csrf"


# ---------------------------------------------------------------- live stream and shutdown
async def test_a_connected_dashboard_does_not_hold_up_a_stop(tmp_path: Path) -> None:
    """The hub closes dashboard streams when it stops (1001 going away): a restart is not held up
    by aiohttp's shutdown timeout, and the dashboard reconnects by itself."""
    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            async with session.ws_connect(running.base + "/api/v1/ws") as ws:
                first = await ws.receive_json(timeout=5)
                assert first["type"] == "system"
                assert running_app(running)[CONTEXT].hub.fanout.count == 1
                stopping = asyncio.create_task(running.stop())  # waits at most 10 s
                message = await ws.receive(timeout=5)
                assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1001, message
                await stopping
    finally:
        if not running.task.done():
            await running.stop()
