"""Access while armed (issue 13, part 2), through the HTTP API of a running demo hub.

- While the mode is anything but `disarmed`, nobody changes zones, devices, delays or starts a
  walk test: 409 `system_armed`, and nothing changed (hub/web/guards.py).
- An installer (a token an owner granted from the dashboard) sees nothing about who armed or
  disarmed, when, or from where: not on the WebSocket, not in the event log.
- A walk test lasts at most an hour, ends by itself, and a member may stop an installer's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.peers import wait_until
from tests.security.conftest import PASSWORDS, USERS, accounts_of
from tests.security.routes import DOOR

CODE = "12345"  # the demo owner's alarm code
SIREN = "sirena-interna"  # the demo kit's indoor siren
WALKTEST = "/api/v1/pairing/walktest"
NEW_DEVICE = {"driver": "simulated", "address": "sim-extra-9", "name": "Extra", "zones": [{"kind": "motion"}]}

# Every change refused while armed: (name, method, path, body, roles that may make it when disarmed).
# `{device}` is the demo door's device. Members are refused these by role (403) anyway.
BOTH, OWNER = ("owner", "installer"), ("owner",)
CHANGES: list[tuple[str, str, str, Any, tuple[str, ...]]] = [
    ("zone-name", "PATCH", f"/api/v1/zones/{DOOR}", {"name": "Porta finta"}, BOTH),
    ("zone-room", "PATCH", f"/api/v1/zones/{DOOR}", {"room": "Cantina"}, BOTH),
    ("zone-behaviour", "PATCH", f"/api/v1/zones/{DOOR}", {"behaviour": "instant"}, BOTH),
    ("zone-home-flag", "PATCH", f"/api/v1/zones/{DOOR}", {"home": False}, BOTH),
    ("zone-inhibit", "PATCH", f"/api/v1/zones/{DOOR}", {"bypassed": True}, OWNER),  # installers never exclude
    ("zone-isolate", "POST", f"/api/v1/zones/{DOOR}/isolate", {"code": CODE, "reason": "guasto", "hours": 2}, OWNER),
    ("zone-delete", "DELETE", f"/api/v1/zones/{DOOR}", None, BOTH),
    ("device-pair", "POST", "/api/v1/devices", NEW_DEVICE, BOTH),
    ("device-rename", "PATCH", "/api/v1/devices/{device}", {"name": "Porta finta"}, BOTH),
    ("device-move", "PATCH", "/api/v1/devices/{device}", {"room": "Cantina"}, BOTH),
    ("device-unpair", "DELETE", "/api/v1/devices/{device}", None, BOTH),
    ("pairing-scan", "POST", "/api/v1/pairing/scan", {"seconds": 1}, BOTH),
    ("walk-test-start", "POST", WALKTEST, {"minutes": 5}, BOTH),
    ("delays-change", "PATCH", "/api/v1/system/settings", {"entry_delay": 40}, OWNER),
    ("delays-reset", "DELETE", "/api/v1/system/settings", None, OWNER),
    ("zone-chime", "PATCH", f"/api/v1/zones/{DOOR}", {"chime": True}, BOTH),
    # sirens: what drives one, and its test (a valve closed by water may be reopened while armed)
    ("output-settings", "PATCH", f"/api/v1/outputs/{SIREN}", {"on": ["fire"]}, BOTH),
    ("output-test", "POST", f"/api/v1/outputs/{SIREN}/test", {}, BOTH),
    # a schedule (hub/web/schedules_api.py): adding one is a setting change; removing one stays allowed
    ("schedule-add", "POST", "/api/v1/schedules", {"name": "Sera", "action": "remind", "at": "21:00"}, OWNER),
]


@asynccontextmanager
async def session_of(running: RunningHub, username: str, password: str) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(running.base, session)
        await api.login(username, password)
        yield api


@asynccontextmanager
async def bearer(running: RunningHub, token: str) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), headers={"Authorization": f"Bearer {token}"}
    ) as session:
        yield Api(running.base, session)


async def grant_installer(owner: Api, ttl: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"role": "installer"} | ({"ttl": ttl} if ttl is not None else {})
    status, granted = await owner.post("/api/v1/tokens", body)
    assert status == 201, granted
    return dict(granted)


async def snapshot(owner: Api) -> dict[str, Any]:
    """What the refused changes would have changed."""
    return {
        "zones": (await owner.get("/api/v1/zones"))["items"],
        "devices": sorted((d["id"], d["name"], d["room"]) for d in (await owner.get("/api/v1/devices"))["items"]),
        "settings": (await owner.get("/api/v1/system/settings"))["settings"],
        "walk_test": (await owner.get("/api/v1/system"))["walk_test"],
        "outputs": [
            {k: o[k] for k in ("id", "name", "on", "chime", "squawk")}
            for o in (await owner.get("/api/v1/outputs"))["items"]
        ],
        "schedules": [s["id"] for s in (await owner.get("/api/v1/schedules"))["items"]],
    }


async def arm_away(owner: Api, running: RunningHub, *, exit_delay: int) -> None:
    status, body = await owner.request("PATCH", "/api/v1/system/settings", {"exit_delay": exit_delay})
    assert status == 200, body
    status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
    assert status == 200, body
    if exit_delay == 0:
        await wait_until(lambda: running.hub.state.mode == "armed_away", what="armed_away")
    assert running.hub.state.mode != "disarmed"


# --------------------------------------------------------------------------- nothing changes while armed
@pytest.mark.parametrize("mode", ["arming_away", "armed_away"])
@pytest.mark.parametrize(("name", "method", "path", "body", "roles"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_every_change_is_refused_while_armed(
    running_hub: RunningHub, mode: str, name: str, method: str, path: str, body: Any, roles: tuple[str, ...]
) -> None:
    async with session_of(running_hub, "demo", "demo") as owner:
        granted = await grant_installer(owner)
        path = path.replace("{device}", running_hub.hub.state.zones[DOOR].device or "")
        await arm_away(owner, running_hub, exit_delay=30 if mode == "arming_away" else 0)
        assert running_hub.hub.state.mode == mode
        before = await snapshot(owner)
        async with bearer(running_hub, granted["token"]) as installer:
            for role, client in (("owner", owner), ("installer", installer)):
                status, answer = await client.request(method, path, body)
                if role not in roles:
                    assert status == 403, (role, status, answer)  # refused by role before anything else
                    continue
                assert (status, answer["error"]) == (409, "system_armed"), (role, status, answer)
                assert "disarm" in answer["message"], answer
        assert await snapshot(owner) == before
        # reading stays allowed while armed
        async with bearer(running_hub, granted["token"]) as installer:
            for read in ("/api/v1/zones", "/api/v1/devices", "/api/v1/pairing/candidates", WALKTEST):
                await installer.get(read)
        # disarmed, the same change is accepted (the 409 was the mode, not the request)
        status, answer = await owner.post("/api/v1/system/disarm", {"code": CODE})
        assert status == 200, answer
        status, answer = await owner.request(method, path, body)
        assert status in (200, 201), (status, answer)


async def test_users_and_codes_stay_changeable_while_armed(running_hub: RunningHub) -> None:
    """Not zone protection: an owner away must be able to take a lost code off (hub/web/guards.py)."""
    async with session_of(running_hub, "demo", "demo") as owner:
        await arm_away(owner, running_hub, exit_delay=0)
        status, body = await owner.post(
            "/api/v1/users", {"username": "ugo", "password": "ugo-pass-1", "role": "member"}
        )
        assert status == 201, body
        status, body = await owner.request("DELETE", "/api/v1/users/ugo")
        assert status == 204, body


async def test_a_schedule_can_be_removed_while_armed(running_hub: RunningHub) -> None:
    """Removing a schedule never leaves the house less protected than it is now (hub/web/schedules_api.py)."""
    async with session_of(running_hub, "demo", "demo") as owner:
        body = {"name": "Mattina", "action": "disarm", "mode": "away", "at": "07:00", "code": CODE}
        status, made = await owner.post("/api/v1/schedules", body)
        assert status == 201, made
        await arm_away(owner, running_hub, exit_delay=0)
        status, answer = await owner.request("DELETE", f"/api/v1/schedules/{made['id']}")
        assert status == 204, answer
        assert (await owner.get("/api/v1/schedules"))["items"] == []


# --------------------------------------------------------------------------- what an installer sees
PERSONAL = ("demo", "mia", "127.0.0.1")  # the owner's and the member's names, the login address


def personal_in(value: Any) -> list[str]:
    text = json.dumps(value)
    return [p for p in PERSONAL if f'"{p}"' in text or f"{p} (" in text]


async def test_an_installer_never_learns_who_armed_when_or_from_where(running_hub: RunningHub) -> None:
    accounts = accounts_of(running_hub)
    await asyncio.to_thread(accounts.add_user, USERS["member"], PASSWORDS["member"], "member", code="24680")
    async with session_of(running_hub, "demo", "demo") as owner:
        granted = await grant_installer(owner)
        async with (
            bearer(running_hub, granted["token"]) as installer,
            owner.session.ws_connect(owner.base + "/api/v1/ws") as owner_ws,
            installer.session.ws_connect(installer.base + "/api/v1/ws") as installer_ws,
        ):
            seen: dict[str, list[dict[str, Any]]] = {"owner": [], "installer": []}

            async def read(ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        into.append(json.loads(msg.data))

            readers = [
                asyncio.create_task(read(owner_ws, seen["owner"])),
                asyncio.create_task(read(installer_ws, seen["installer"])),
            ]
            try:
                # The member logs in (an address), the owner arms, the member disarms, the owner
                # acknowledges a water alarm: names, times and an address the household's screens show.
                async with session_of(running_hub, USERS["member"], PASSWORDS["member"]) as member:
                    await arm_away(owner, running_hub, exit_delay=0)
                    status, body = await member.post("/api/v1/system/disarm", {"code": "24680"})
                    assert status == 200, body
                await owner.trigger("simulated-sim-water-1")
                incident = (await owner.get("/api/v1/incidents"))["items"][0]["id"]
                status, body = await owner.post(f"/api/v1/incidents/{incident}/ack", {})
                assert status == 200, body

                def owner_saw(kind: str) -> bool:
                    return any(m.get("type") == "event" and m.get("kind") == kind for m in seen["owner"])

                await wait_until(lambda: owner_saw("incident_acknowledged"), what="the owner's stream")
                await asyncio.sleep(0.3)  # the installer's stream has had the same messages
            finally:
                for task in readers:
                    task.cancel()
        # The household's stream does carry them (so the check below can fail)...
        owner_kinds = {m.get("kind") for m in seen["owner"] if m.get("type") == "event"}
        assert {"login", "incident_acknowledged"} <= owner_kinds, owner_kinds
        assert personal_in(seen["owner"]), "the owner sees who did what"
        # ... the installer's does not: the mode yes, who and when no.
        installer_kinds = {m.get("kind") for m in seen["installer"] if m.get("type") == "event"}
        hidden = {"arm_request", "disarm_request", "mode_changed", "login", "incident_acknowledged", "zone_bypassed"}
        assert not installer_kinds & hidden, installer_kinds
        assert not personal_in(seen["installer"]), personal_in(seen["installer"])
        modes = [m["system"]["mode"] for m in seen["installer"] if m.get("type") == "system"]
        assert "armed_away" in modes and modes[-1] == "disarmed", modes  # it knows when it would get a 409

        # The event log: the owner's has it all, the installer's none of it.
        full = (await owner.get("/api/v1/events?limit=500"))["items"]
        assert {"login", "mode_changed", "arm_request"} <= {e["kind"] for e in full}
        async with bearer(running_hub, granted["token"]) as installer:
            log = (await installer.get("/api/v1/events?limit=500"))["items"]
            assert log, "the installer still sees the installation's events"
            assert not {e["kind"] for e in log} & (hidden | {"login_failed", "bad_code"}), {e["kind"] for e in log}
            assert not personal_in(log), personal_in(log)
            for kind in ("login", "mode_changed", "disarm_request"):  # asking by kind changes nothing
                assert (await installer.get(f"/api/v1/events?kind={kind}"))["items"] == []
            status, started = await owner.post(WALKTEST, {"minutes": 5})  # the owner's walk test
            assert status == 200 and started["by"] == "demo", started
            for path in ("/api/v1/system", "/api/v1/zones", "/api/v1/incidents?state=all", WALKTEST):
                body = await installer.get(path)
                assert not personal_in(body), (path, personal_in(body))
            assert (await installer.get(WALKTEST))["by"] is None
            status, _ = await owner.request("DELETE", WALKTEST)
            assert status == 200
            # no pictures: camera streams, snapshots and incident photos are the household's
            for path in (
                "/api/v1/cameras/simulated-sim-camera-1/snapshot",
                "/api/v1/cameras/simulated-sim-camera-1/stream",
                f"/api/v1/incidents/{incident}/snapshots/camera-1700000000000.jpg",
            ):
                status, body = await installer.request("GET", path)
                assert (status, body["error"]) == (403, "forbidden"), (path, status, body)


# --------------------------------------------------------------------------- the walk test
async def test_a_member_stops_an_installers_walk_test(running_hub: RunningHub) -> None:
    accounts = accounts_of(running_hub)
    await asyncio.to_thread(accounts.add_user, USERS["member"], PASSWORDS["member"], "member")
    async with session_of(running_hub, "demo", "demo") as owner:
        granted = await grant_installer(owner)
    async with bearer(running_hub, granted["token"]) as installer:
        status, started = await installer.post(WALKTEST, {"minutes": 61})
        assert (status, started["field"]) == (400, "minutes"), started  # at most an hour
        status, started = await installer.post(WALKTEST)
        assert status == 200 and started["active"], started
        # 30 minutes unless said otherwise
        span = time_of(started["ends_at"]) - time_of(started["started_at"])
        assert span == 30 * 60, started
    async with session_of(running_hub, USERS["member"], PASSWORDS["member"]) as member:
        shown = (await member.get("/api/v1/system"))["walk_test"]
        assert shown["active"] and shown["ends_at"] == started["ends_at"]  # the banner's end time
        status, stopped = await member.request("DELETE", WALKTEST)
        assert status == 200 and stopped["active"] is False, stopped
        assert (await member.get("/api/v1/system"))["walk_test"] is None
        assert running_hub.hub.state.walk_test is None
    async with session_of(running_hub, "demo", "demo") as owner:
        ended = (await owner.get("/api/v1/events?kind=walk_test_ended"))["items"]
        assert ended and ended[0]["actor"] == USERS["member"], ended


def time_of(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


class Clock:
    """The wall clock plus `offset` seconds."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def test_the_longest_walk_test_ends_by_itself_within_the_hour(tmp_path: Path) -> None:
    clock = Clock()
    running = await start_hub(tmp_path / "data", clock=clock)
    try:
        async with session_of(running, "demo", "demo") as owner:
            granted = await grant_installer(owner)
            async with bearer(running, granted["token"]) as installer:
                status, started = await installer.post(WALKTEST, {"minutes": 60})
                assert status == 200, started
            assert time_of(started["ends_at"]) - time_of(started["started_at"]) == 3600
            clock.offset += 3600 + 1
            await owner.trigger(DOOR)  # any engine step wakes the timer, which ends it
            await wait_until(lambda: running.hub.state.walk_test is None, what="the walk test to end by itself")
            assert (await owner.get("/api/v1/system"))["walk_test"] is None
            log = (await owner.get("/api/v1/events?kind=walk_test_ended"))["items"]
            assert log and log[0]["data"]["detail"].endswith("time over"), log
    finally:
        await running.stop()


async def test_a_camera_token_is_not_replaced_while_armed(tmp_path: Path) -> None:
    """A new event token replaces the one the camera reports motion with: its zone would go quiet."""
    from tests.integration.test_camera_live import CAMERA, camera_config

    running = await start_hub(tmp_path / "data", camera_config(tmp_path, "http://127.0.0.1:9/", motion="camera"))
    try:
        async with session_of(running, "demo", "demo") as owner:
            status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
            assert status == 200 and body["mode"] == "armed_away", body  # exit_delay = 0 in camera_config
            status, body = await owner.post(f"/api/v1/cameras/{CAMERA}/token", {})
            assert (status, body["error"]) == (409, "system_armed"), body
            assert not (running.data_dir / "camera-tokens.json").exists()
            status, body = await owner.post("/api/v1/system/disarm", {"code": CODE})
            assert status == 200, body
            status, body = await owner.post(f"/api/v1/cameras/{CAMERA}/token", {})
            assert status == 201, body
    finally:
        await running.stop()
