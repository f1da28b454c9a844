"""Every route of the running app: 401 without credentials, and the role table with them.

The routes come from the router of the app the daemon is serving (not from a copy), and
must be exactly the routes of `tests.security.routes.ROUTES`: a new route fails this audit
until someone decides who may call it.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import Api, RunningHub
from tests.security.conftest import Client, login_client, running_app
from tests.security.routes import DOOR, PAGES, ROUTES, ZONE, Rule

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=10)


def all_served_routes(running: RunningHub) -> set[tuple[str, str]]:
    return {(route.method, route.resource.canonical) for route in running_app(running).router.routes()}  # type: ignore[union-attr]


def served_routes(running: RunningHub) -> set[tuple[str, str]]:
    """The API routes (the dashboard's pages and files are audited against PAGES)."""
    return {(m, c) for m, c in all_served_routes(running) if c.startswith("/api/")}


async def test_every_served_route_is_in_the_table(running_hub: RunningHub) -> None:
    served = all_served_routes(running_hub)
    missing = sorted(served - ROUTES.keys() - PAGES.keys())
    stale = sorted((ROUTES.keys() | PAGES.keys()) - served)
    assert not missing, f"routes without an access rule in tests/security/routes.py: {missing}"
    assert not stale, f"rules for routes the app does not serve: {stale}"


def _is_denied(status: int, body: object) -> bool:
    return status == 403 and isinstance(body, dict) and body.get("error") == "forbidden"


@pytest.mark.parametrize("credentials", ["none", "bad-bearer", "bad-cookie", "empty-bearer"])
async def test_without_valid_credentials_every_route_but_health_and_login_is_401(
    running_hub: RunningHub, credentials: str
) -> None:
    headers = {
        "none": {},
        "bad-bearer": {"Authorization": "Bearer chb_00000000_notatoken"},
        "bad-cookie": {"Cookie": "casahub_session=forged-session-id"},
        "empty-bearer": {"Authorization": "Bearer "},
    }[credentials]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), timeout=PROBE_TIMEOUT) as session:
        anon = Api(running_hub.base, session)
        for (method, canonical), rule in sorted(ROUTES.items()):
            status, body = await anon.request(method, rule.path, rule.body, headers=headers)
            if (method, canonical) in {("GET", "/api/v1/health"), ("POST", "/api/v1/session")}:
                assert status not in (401, 403) and status < 500, (method, canonical, status, body)
                continue
            assert status == 401, (method, canonical, status, body)
            if method != "HEAD":
                assert isinstance(body, dict) and body["error"] == "unauthorized" and body["message"], body


@pytest.mark.parametrize("credentials", ["none", "bad-cookie", "owner-token"])
async def test_without_a_dashboard_session_every_page_redirects_to_login(
    running_hub: RunningHub, clients: dict[tuple[str, str], Client], credentials: str
) -> None:
    headers = {
        "none": {},
        "bad-cookie": {"Cookie": "casahub_session=forged-session-id"},
        "owner-token": {"Authorization": f"Bearer {clients['owner', 'token'].token}"},
    }[credentials]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), timeout=PROBE_TIMEOUT) as session:
        for (method, canonical), (access, path) in sorted(PAGES.items()):
            async with session.request(method, running_hub.base + path, headers=headers, allow_redirects=False) as r:
                if access in ("session", "owner", "installers"):
                    assert r.status == 302 and r.headers["Location"].startswith("/login"), (method, canonical, r.status)
                elif access == "setup":  # the demo hub has its owner: no setup page
                    assert r.status == 302 and r.headers["Location"] == "/login", (method, canonical, r.status)
                elif access == "local_ca":  # public, and the demo hub (no TLS) has no local CA
                    assert r.status == 404, (method, canonical, r.status)
                else:
                    assert r.status == 200, (method, canonical, r.status)


async def test_owner_pages_are_refused_to_the_other_roles(clients: dict[tuple[str, str], Client]) -> None:
    for role in ("owner", "member", "installer"):
        api = clients[role, "session"].api
        for (method, canonical), (access, path) in sorted(PAGES.items()):
            if access not in ("session", "owner", "installers"):
                continue
            async with api.session.request(method, api.base + path, allow_redirects=False) as r:
                allowed = {"owner": ("owner",), "installers": ("owner", "installer")}.get(access, (role,))
                expected = 200 if role in allowed else 403
                assert r.status == expected, (role, method, canonical, r.status)


async def _probe(client: Client, method: str, rule: Rule) -> tuple[int, object]:
    return await client.request(method, rule.path, rule.body)


async def test_role_table(running_hub: RunningHub, clients: dict[tuple[str, str], Client]) -> None:
    """Each role, with a cookie session and with a bearer token, against every route."""
    assert served_routes(running_hub) == ROUTES.keys()
    wrong: list[str] = []
    for (role, kind), client in sorted(clients.items()):
        for (method, canonical), rule in sorted(ROUTES.items()):
            if (method, canonical) == ("DELETE", "/api/v1/session") and kind == "session":
                continue  # would log this client out: probed below with a spare session
            status, body = await _probe(client, method, rule)
            allowed = rule.allows(role, kind)
            if status >= 500 or status == 401:
                wrong.append(f"{role}/{kind} {method} {canonical}: {status} {str(body)[:200]}")
            elif allowed and status == 403:
                wrong.append(f"{role}/{kind} {method} {canonical}: should be allowed, got 403 {str(body)[:200]}")
            elif not allowed and not (_is_denied(status, body) or (method == "HEAD" and status == 403)):
                wrong.append(
                    f"{role}/{kind} {method} {canonical}: should be 403 forbidden, got {status} {str(body)[:200]}"
                )
    assert not wrong, "\n".join(wrong)


async def test_every_role_may_log_out(running_hub: RunningHub, role_users: dict[str, str]) -> None:
    for role in role_users:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = await login_client(running_hub, session, role)
            status, body = await api.request("DELETE", "/api/v1/session")
            assert status == 200, (role, body)
            status, _ = await api.request("GET", "/api/v1/session", headers={"Cookie": ""})
            assert status == 401


async def test_member_may_only_bypass_zones(clients: dict[tuple[str, str], Client]) -> None:
    path = f"/api/v1/zones/{DOOR}"  # an intrusion zone: a 24h one is isolated by the owner, never bypassed
    for kind in ("session", "token"):
        member = clients["member", kind]
        for field, value in [("name", "Renamed"), ("room", "Attic"), ("behaviour", "24h"), ("home", True)]:
            status, body = await member.request("PATCH", path, {field: value})
            assert _is_denied(status, body), (kind, field, status, body)
            status, body = await member.request("PATCH", path, {field: value, "bypassed": True})
            assert _is_denied(status, body), (kind, field, status, body)
        status, body = await member.request("PATCH", path, {"bypassed": True})
        assert status == 200 and body["bypassed"] is True, body
        status, body = await member.request("PATCH", path, {"bypassed": False})
        assert status == 200 and body["bypassed"] is False, body
    installer = clients["installer", "token"]
    status, body = await installer.request("PATCH", path, {"room": "Cantina"})
    assert status == 200 and body["room"] == "Cantina", body


async def test_installer_never_sees_contact_details(
    running_hub: RunningHub, clients: dict[tuple[str, str], Client]
) -> None:
    """After an alarm, nothing an installer may read carries a contact's phone number or email."""
    owner = clients["owner", "session"].api
    await owner.trigger("simulated-sim-water-1")
    for _ in range(100):
        rows = (await owner.get("/api/v1/notifications"))["items"]
        if rows and all(r["attempts"] >= 1 for r in rows if r["state"] != "scheduled"):
            break
        await asyncio.sleep(0.05)
    phone, email = "+390000000000", "famiglia@example.invalid"  # the demo contact
    assert any(phone in str(r) or email in str(r) for r in rows), "the household does see them"
    for kind in ("session", "token"):
        installer = clients["installer", kind]
        for (method, canonical), rule in sorted(ROUTES.items()):
            if method != "GET" or not rule.allows("installer", kind) or canonical == "/api/v1/ws":
                continue
            for path in {rule.path, canonical.replace("{id}", ZONE)} if "{id}" in canonical else {rule.path}:
                status, body = await installer.request("GET", path)
                assert phone not in str(body) and email not in str(body), (kind, path, status)
