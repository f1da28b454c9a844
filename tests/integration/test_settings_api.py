"""The alarm timings from the dashboard (hub/web/settings_api.py) and `zone` live messages.

A demo hub (exit and entry delays 10 s from the demo's config): the owner changes the delays,
members and installers may only read them, impossible values are 400s naming the field, values
outside EN 50131 grade-2 practice come back with warnings, overrides survive a restart and a
reset goes back to the config's values; the engine arms with the new exit delay, and a delay
already running keeps its deadline. The WebSocket stream carries a `zone` message for exactly
the zone that changed when a demo zone is triggered and when it is bypassed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.security.conftest import PASSWORDS, USERS, accounts_of, login_client

PATH = "/api/v1/system/settings"
WATER = "simulated-sim-water-1"
DOOR = "simulated-sim-contact-1"
FIELDS = {
    "exit_delay",
    "entry_delay",
    "siren_time",
    "abort_window",
    "confirmation_window",
    "swinger_limit",
    "offline_grace",
}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    running = await start_hub(tmp_path / "data")
    try:
        yield running
    finally:
        if not running.task.done():
            await running.stop()


@pytest.fixture
async def owner(hub: RunningHub) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        client = Api(hub.base, session)
        await client.login()
        yield client


async def events_of(api: Api, kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get(f"/api/v1/events?kind={kind}"))["items"]
    return items


async def test_owner_changes_a_delay_and_the_system_shows_where_it_comes_from(hub: RunningHub, owner: Api) -> None:
    before = await owner.get(PATH)
    assert set(before["settings"]) == FIELDS and before["settings"]["exit_delay"] == 10  # the demo's
    assert set(before["source"].values()) == {"config"} and before["warnings"] == []
    assert before["config"] == before["settings"]

    status, body = await owner.request("PATCH", PATH, {"exit_delay": 20, "swinger_limit": 5})
    assert status == 200, body
    assert body["settings"]["exit_delay"] == 20 and body["settings"]["swinger_limit"] == 5
    assert body["source"] == {
        name: "dashboard" if name in ("exit_delay", "swinger_limit") else "config" for name in FIELDS
    }
    assert body["config"]["exit_delay"] == 10 and body["warnings"] == []
    assert hub.hub.state.settings.exit_delay == 20 and hub.hub.state.settings.swinger_limit == 5

    system = await owner.get("/api/v1/system")
    assert system["settings"]["exit_delay"] == 20
    assert system["settings_source"]["exit_delay"] == "dashboard"
    assert system["settings_source"]["entry_delay"] == "config"

    # Every change is in the audit trail with the owner's name: the saved fields, and the engine's
    # own record of the new values.
    saved = await events_of(owner, "alarm_settings_saved")
    assert saved[0]["actor"] == "demo" and saved[0]["data"]["set"] == {"exit_delay": 20, "swinger_limit": 5}
    assert (await events_of(owner, "settings_changed"))[0]["actor"] == "demo"
    configure = (await events_of(owner, "configure"))[0]
    assert configure["actor"] == "demo" and configure["data"]["settings"]["exit_delay"] == 20

    # null gives one field back to the config; an empty body changes nothing
    status, body = await owner.request("PATCH", PATH, {"swinger_limit": None})
    assert status == 200 and body["settings"]["swinger_limit"] == 3 and body["source"]["swinger_limit"] == "config"
    assert body["source"]["exit_delay"] == "dashboard"
    status, same = await owner.request("PATCH", PATH, {})
    assert status == 200 and same == body

    # the commissioning report reads the values in force
    report = await owner.get("/api/v1/pairing/report?format=json")
    assert report["delays"]["exit_delay"] == 20


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"exit_delay": -1}, "exit_delay"),
        ({"entry_delay": "30"}, "entry_delay"),
        ({"siren_time": True}, "siren_time"),
        ({"abort_window": 1e9}, "abort_window"),
        ({"swinger_limit": 2.5}, "swinger_limit"),
        ({"swinger_limit": 1001}, "swinger_limit"),
        ({"offline_grace": -0.5}, "offline_grace"),
        ({"exit_delay": 5, "exit": 5}, "exit"),
    ],
)
async def test_impossible_values_are_400_naming_the_field(
    hub: RunningHub, owner: Api, body: dict[str, Any], field: str
) -> None:
    status, answer = await owner.request("PATCH", PATH, body)
    assert status == 400, answer
    assert answer["error"] == f"invalid_field:{field}" and answer["field"] == field, answer
    assert hub.hub.state.settings.exit_delay == 10 and not hub.hub.settings_overrides


async def test_malformed_body_is_a_400(hub: RunningHub, owner: Api) -> None:
    status, answer = await owner.request("PATCH", PATH, raw=b'{"exit_delay": ')
    assert status == 400 and answer["error"] == "malformed_json"
    status, answer = await owner.request("PATCH", PATH, [1])
    assert status == 400, answer


async def test_values_outside_grade_2_practice_are_accepted_with_warnings(hub: RunningHub, owner: Api) -> None:
    status, body = await owner.request("PATCH", PATH, {"entry_delay": 60})
    assert status == 200, body
    assert body["settings"]["entry_delay"] == 60
    assert [(w["field"], w["reason"]) for w in body["warnings"]] == [("entry_delay", "entry_delay_long")]
    assert "45" in body["warnings"][0]["message"]
    status, body = await owner.request("PATCH", PATH, {"siren_time": 60})
    assert status == 200
    assert {w["reason"] for w in body["warnings"]} == {"entry_delay_long", "siren_time_range"}
    status, body = await owner.request("PATCH", PATH, {"siren_time": 16 * 60, "entry_delay": 45})
    assert [w["reason"] for w in body["warnings"]] == ["siren_time_range"]
    status, body = await owner.request("PATCH", PATH, {"siren_time": 15 * 60})
    assert body["warnings"] == []
    # the commissioning report marks a long entry delay failed, as it does for the config's
    await owner.request("PATCH", PATH, {"entry_delay": 60})
    report = await owner.get("/api/v1/pairing/report?format=json")
    assert not next(c for c in report["checklist"] if c["id"] == "entry")["pass"]


async def test_only_the_owner_changes_them(hub: RunningHub, owner: Api) -> None:
    accounts = accounts_of(hub)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        for role in ("member", "installer"):
            await asyncio.to_thread(accounts.add_user, USERS[role], PASSWORDS[role], role)
        for role in ("member", "installer"):
            session.cookie_jar.clear()
            other = await login_client(hub, session, role)
            assert (await other.get(PATH))["settings"]["exit_delay"] == 10  # reading is for everyone
            for method, body in (("PATCH", {"exit_delay": 20}), ("DELETE", None)):
                status, answer = await other.request(method, PATH, body)
                assert (status, answer["error"]) == (403, "forbidden"), (role, method, answer)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as plain:
        for role in ("member", "installer", "owner"):
            granted = "demo" if role == "installer" else None  # installer access is granted by an owner
            _, token = await asyncio.to_thread(accounts.create_token, role, label="test", username=granted)
            status, answer = await Api(hub.base, plain).request(
                "PATCH", PATH, {"exit_delay": 15}, headers={"Authorization": f"Bearer {token}"}
            )
            assert status == (200 if role == "owner" else 403), (role, answer)
    assert hub.hub.state.settings.exit_delay == 15
    saved = await events_of(owner, "alarm_settings_saved")
    assert len(saved) == 1 and saved[0]["actor"].startswith("token:"), saved  # the owner's token, by its id


async def test_overrides_survive_a_restart_and_a_reset_goes_back_to_the_config(tmp_path: Path) -> None:
    data = tmp_path / "data"
    running = await start_hub(data)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            # a reset with nothing overridden writes nothing
            status, body = await api.request("DELETE", PATH)
            assert status == 200 and set(body["source"].values()) == {"config"}
            assert not await events_of(api, "alarm_settings_reset")
            status, body = await api.request("PATCH", PATH, {"exit_delay": 20, "entry_delay": 25})
            assert status == 200, body
    finally:
        await running.stop()

    running = await start_hub(data)
    try:
        assert running.hub.state.settings.exit_delay == 20 and running.hub.state.settings.entry_delay == 25
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            body = await api.get(PATH)
            assert body["settings"]["exit_delay"] == 20 and body["source"]["exit_delay"] == "dashboard"
            assert (await api.get("/api/v1/system"))["settings_source"]["entry_delay"] == "dashboard"
            status, body = await api.request("DELETE", PATH)
            assert status == 200, body
            assert body["settings"]["exit_delay"] == 10 and body["settings"]["entry_delay"] == 10
            assert set(body["source"].values()) == {"config"}
            reset = await events_of(api, "alarm_settings_reset")
            assert reset[0]["actor"] == "demo" and reset[0]["data"]["cleared"] == ["entry_delay", "exit_delay"]
            assert (await events_of(api, "settings_changed"))[0]["actor"] == "demo"
    finally:
        await running.stop()

    running = await start_hub(data)
    try:
        assert running.hub.state.settings.exit_delay == 10 and not running.hub.settings_overrides
    finally:
        await running.stop()


async def _last_arming(hub: RunningHub) -> tuple[float, float]:
    """(when, deadline) of the last mode change, from the journal."""
    row = await hub.hub.db.fetchone("SELECT at, data FROM events WHERE kind = 'mode_changed' ORDER BY id DESC")
    assert row is not None
    return row["at"], json.loads(row["data"])["deadline"]


async def test_the_next_arming_uses_the_new_exit_delay_and_none_changes_while_armed(
    hub: RunningHub, owner: Api
) -> None:
    status, body = await owner.request("PATCH", PATH, {"exit_delay": 20})
    assert status == 200, body
    status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 200 and body["mode"] == "arming_away", body
    at, deadline = await _last_arming(hub)
    assert deadline - at == pytest.approx(20)

    # Changing the delay while it runs is refused (nothing changes while armed): the deadline stays.
    running_deadline = hub.hub.state.deadline
    status, body = await owner.request("PATCH", PATH, {"exit_delay": 5})
    assert (status, body["error"]) == (409, "system_armed"), body
    assert hub.hub.state.mode == "arming_away" and hub.hub.state.deadline == running_deadline
    assert hub.hub.state.settings.exit_delay == 20

    # Disarmed, the change is accepted and the next arming runs the new one.
    status, body = await owner.post("/api/v1/system/disarm", {"code": "12345"})
    assert status == 200 and body["mode"] == "disarmed", body
    status, body = await owner.request("PATCH", PATH, {"exit_delay": 5})
    assert status == 200 and body["settings"]["exit_delay"] == 5
    status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 200, body
    at, deadline = await _last_arming(hub)
    assert deadline - at == pytest.approx(5)


# ---------------------------------------------------------------- zone messages on the stream
async def zone_messages_until_system(ws: aiohttp.ClientWebSocketResponse, zone: str, **wanted: Any) -> list[Any]:
    """The `zone` messages up to the `system` message of the step that made `zone` look like `wanted`."""
    seen: list[Any] = []
    matched = False
    while True:
        message = json.loads((await ws.receive(timeout=10)).data)
        if message["type"] == "zone":
            seen.append(message["zone"])
            z = message["zone"]
            matched = matched or (z["id"] == zone and all(z[k] == v for k, v in wanted.items()))
        elif message["type"] == "system" and matched:
            return seen


async def test_zone_messages_for_the_zone_that_changed(hub: RunningHub, owner: Api) -> None:
    ws = await owner.session.ws_connect(hub.base + "/api/v1/ws")
    try:
        first = json.loads((await ws.receive(timeout=10)).data)
        assert first["type"] == "system"

        await owner.trigger(WATER, True)
        seen = await zone_messages_until_system(ws, WATER, active=True)
        assert [z["id"] for z in seen] == [WATER], seen
        assert seen[0] == await owner.get(f"/api/v1/zones/{WATER}")  # the zone JSON of the REST API

        status, body = await owner.request("PATCH", f"/api/v1/zones/{DOOR}", {"bypassed": True})
        assert status == 200, body
        seen = await zone_messages_until_system(ws, DOOR, bypassed=True)
        assert [z["id"] for z in seen] == [DOOR] and seen[0]["excluded"]["how"] == "inhibit", seen

        # a step that changes no zone sends none: arming (the water zone is 24h, the door bypassed)
        status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
        assert status == 200, body
        while True:
            message = json.loads((await ws.receive(timeout=10)).data)
            assert message["type"] != "zone", message
            if message["type"] == "system" and message["system"]["mode"] == "arming_away":
                break

        # a rename (disarmed: nothing changes while armed) is a zone message too, with the new name
        status, body = await owner.post("/api/v1/system/disarm", {"code": "12345"})
        assert status == 200, body
        seen = await zone_messages_until_system(ws, DOOR, bypassed=False)  # an inhibit ends at disarm
        assert [z["id"] for z in seen] == [DOOR], seen
        status, body = await owner.request("PATCH", f"/api/v1/zones/{WATER}", {"name": "Lavatrice"})
        assert status == 200, body
        seen = await zone_messages_until_system(ws, WATER, name="Lavatrice")
        assert [z["id"] for z in seen] == [WATER]
    finally:
        await ws.close()


async def next_zone(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        message = json.loads((await ws.receive(timeout=10)).data)
        if message["type"] == "zone":
            zone: dict[str, Any] = message["zone"]
            return zone


async def test_zone_messages_follow_the_device_but_not_its_telemetry(hub: RunningHub, owner: Api) -> None:
    simulated = hub.daemon.drivers["simulated"]
    address = hub.hub.devices[WATER].address
    ws = await owner.session.ws_connect(hub.base + "/api/v1/ws")
    try:
        # A battery reading that changes nothing a zone shows sends no zone message: the first one
        # to come is the device going offline, at once (before the grace period makes it a fault).
        await simulated.set_battery(address, 80)
        await hub.hub.settle()
        await simulated.set_online(address, False)
        zone = await next_zone(ws)
        assert (zone["id"], zone["online"], zone["battery_low"]) == (WATER, False, False), zone
        # It comes back with a low battery: online again, then the low battery.
        await simulated.set_battery(address, 10)
        zone = await next_zone(ws)
        assert (zone["id"], zone["online"]) == (WATER, True), zone
        zone = await next_zone(ws)
        assert (zone["id"], zone["battery_low"]) == (WATER, True), zone
        assert zone == await owner.get(f"/api/v1/zones/{WATER}")
    finally:
        await ws.close()
