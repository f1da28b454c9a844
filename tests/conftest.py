"""Shared fixtures: a demo hub running in-process on a free loopback port, and API clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.daemon import Daemon, ServeOptions, plan
from tests.peers import free_port

__all__ = ["Api", "RunningHub", "configured_hub", "free_port", "logged_in_api", "start_hub"]


class Api:
    """A logged-in dashboard-like client: cookie session plus the CSRF header."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session
        self.csrf = ""

    async def login(self, username: str = "demo", password: str = "demo") -> dict[str, Any]:
        status, body = await self.request("POST", "/api/v1/session", {"username": username, "password": password})
        assert status == 200, body
        self.csrf = body["csrf"]
        return body

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        hdrs = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        hdrs.update(headers or {})
        kwargs: dict[str, Any] = {"headers": hdrs}
        if raw is not None:
            kwargs["data"] = raw
            hdrs.setdefault("Content-Type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            data = await resp.json(content_type=None) if resp.content_type == "application/json" else await resp.text()
            self.last_headers = resp.headers
            return resp.status, data

    async def get(self, path: str) -> Any:
        status, body = await self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return await self.request("POST", path, body if body is not None else {})

    async def trigger(self, zone: str, active: bool = True) -> None:
        status, body = await self.post(f"/api/v1/demo/zones/{zone}/trigger", {"active": active})
        assert status == 200, body

    async def zone_id(self, kind: str) -> str:
        zones = (await self.get("/api/v1/zones"))["items"]
        return next(z["id"] for z in zones if z["kind"] == kind)


class RunningHub:
    def __init__(self, daemon: Daemon, task: asyncio.Task[None], base: str, data_dir: Path) -> None:
        self.daemon = daemon
        self.task = task
        self.base = base
        self.data_dir = data_dir

    @property
    def hub(self) -> Any:
        return self.daemon.hub

    async def stop(self) -> None:
        self.daemon.stop()
        await asyncio.wait_for(self.task, 10)


async def start_hub(
    data_dir: Path, config: Path | None = None, demo: bool = True, clock: Callable[[], float] | None = None
) -> RunningHub:
    port = free_port()
    the_plan, _ = plan(ServeOptions(config=config, demo=demo, data_dir=data_dir, listen=f"127.0.0.1:{port}"))
    daemon = Daemon(the_plan, clock=clock)
    started = asyncio.Event()
    task = asyncio.create_task(daemon.run(lambda d: started.set()))
    done, _ = await asyncio.wait({task, asyncio.create_task(started.wait())}, timeout=15, return_when="FIRST_COMPLETED")
    if task in done:
        task.result()
    assert started.is_set(), "hub did not start"
    return RunningHub(daemon, task, f"http://127.0.0.1:{port}", data_dir)


@asynccontextmanager
async def configured_hub(
    tmp_path: Path, config_text: str, clock: Callable[[], float] | None = None
) -> AsyncIterator[RunningHub]:
    """The demo hub with `config_text` as its casahub.toml, stopped on the way out."""
    config = tmp_path / "casahub.toml"
    config.write_text(config_text, encoding="utf-8")
    hub = await start_hub(tmp_path / "data", config, clock=clock)
    try:
        yield hub
    finally:
        await hub.stop()


@asynccontextmanager
async def logged_in_api(running: RunningHub) -> AsyncIterator[Api]:
    """An Api logged in as the demo owner."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        client = Api(running.base, session)
        await client.login()
        yield client


@pytest.fixture
async def running_hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    hub = await start_hub(tmp_path / "data")
    try:
        yield hub
    finally:
        await hub.stop()


@pytest.fixture
async def api(running_hub: RunningHub) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        client = Api(running_hub.base, session)
        await client.login()
        yield client


@pytest.fixture
async def anon(running_hub: RunningHub) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Api(running_hub.base, session)
