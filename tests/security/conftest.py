"""Helpers shared by the security tests: the running app, users of each role, raw HTTP."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.store.accounts import Accounts
from hub.web.context import CONTEXT
from tests.conftest import Api, RunningHub

PASSWORDS = {"owner": "demo", "member": "member-pass", "installer": "installer-pass"}
USERS = {"owner": "demo", "member": "mia", "installer": "ivo"}


def running_app(running: RunningHub) -> web.Application:
    """The aiohttp application the running daemon serves: `Daemon.app`, else the one Application
    among the live objects whose context holds this daemon's hub (the daemon freezes its start-up
    heap, hub/core/heap.py, and gc.get_objects() does not list frozen objects)."""
    app = running.daemon.app
    if isinstance(app, web.Application) and CONTEXT in app and app[CONTEXT].hub is running.hub:
        return app
    for obj in gc.get_objects():
        if isinstance(obj, web.Application) and CONTEXT in obj and obj[CONTEXT].hub is running.hub:
            return obj
    raise AssertionError("the running hub's aiohttp application was not found")


def accounts_of(running: RunningHub) -> Accounts:
    return running_app(running)[CONTEXT].accounts


def host_port(base: str) -> tuple[str, int]:
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


async def raw_http(base: str, data: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send `data` as-is on a fresh connection; (status, body) of the answer."""
    host, port = host_port(base)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@dataclass
class Client:
    """One credential: a cookie session (with its CSRF token) or a bearer token."""

    role: str
    kind: str  # "session" or "token"
    api: Api
    token: str = ""

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.kind == "token" else {}
        return await self.api.request(method, path, body, headers=headers)


async def login_client(running: RunningHub, session: aiohttp.ClientSession, role: str) -> Api:
    api = Api(running.base, session)
    await api.login(USERS[role], PASSWORDS[role])
    return api


@pytest.fixture
async def role_users(running_hub: RunningHub) -> dict[str, str]:
    """Adds the member and installer users (the demo user is the owner); role -> username."""
    accounts = accounts_of(running_hub)
    for role in ("member", "installer"):
        await asyncio.to_thread(accounts.add_user, USERS[role], PASSWORDS[role], role)
    return dict(USERS)


@pytest.fixture
async def clients(running_hub: RunningHub, role_users: dict[str, str]) -> AsyncIterator[dict[tuple[str, str], Client]]:
    """(role, kind) -> a client, for every role and both kinds of credential."""
    accounts = accounts_of(running_hub)
    sessions: list[aiohttp.ClientSession] = []
    result: dict[tuple[str, str], Client] = {}
    try:
        for role in ("owner", "member", "installer"):
            session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            sessions.append(session)
            result[role, "session"] = Client(role, "session", await login_client(running_hub, session, role))
            plain = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
            sessions.append(plain)
            granted = USERS["owner"] if role == "installer" else None  # installer access is granted by an owner
            _, token = await asyncio.to_thread(accounts.create_token, role, label=f"test {role}", username=granted)
            result[role, "token"] = Client(role, "token", Api(running_hub.base, plain), token)
        yield result
    finally:
        for session in sessions:
            await session.close()


async def with_cookie(base: str, cookie: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request carrying exactly this session cookie (a fresh client, nothing else in its jar)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        return await Api(base, session).request(method, path, body, headers={"Cookie": f"casahub_session={cookie}"})
