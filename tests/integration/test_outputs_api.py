"""Sirens, valves and relays through the HTTP API of a running demo hub (hub/web/outputs_api.py).

The outputs are made the way pairing makes them, with `OutputUpsert` events submitted to the hub
(no device: nothing sends the commands, so the tests play the device with `OutputReported`). Roles,
409 while armed, the code to reopen a valve (403 on a wrong one, 409 for anything but a closed
valve), the JSON shapes, the system snapshot, the live `output` messages and the journal.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alarms.model import OutputReported, OutputUpsert
from tests.conftest import Api, RunningHub, start_hub
from tests.peers import wait_until
from tests.security.conftest import Client, clients, role_users

__all__ = ["clients", "role_users"]  # the security tests' fixtures: a client of every role

SIREN, VALVE, RELAY = "test-siren", "test-valve", "test-relay"
CODE = "12345"  # the demo owner's alarm code
OUTPUTS = "/api/v1/outputs"
KEYS = {"id", "name", "kind", "device", "room", "state", "online", "on", "chime", "squawk"}


async def add_outputs(running: RunningHub) -> None:
    hub = running.hub
    await hub.submit(OutputUpsert(id=SIREN, name="Sirena interna", kind="siren", room="Ingresso", squawk=True))
    await hub.submit(OutputUpsert(id=VALVE, name="Valvola acqua", kind="valve", room="Cucina"))
    await hub.submit(OutputUpsert(id=RELAY, name="Luce giardino", kind="switch", room="Giardino", on=("intrusion",)))


def mine(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The test's outputs, by id (the demo may have outputs of its own)."""
    return {o["id"]: o for o in items if o["id"] in (SIREN, VALVE, RELAY)}


@pytest.fixture
async def outputs(running_hub: RunningHub) -> RunningHub:
    await add_outputs(running_hub)
    return running_hub


@asynccontextmanager
async def live(api: Api) -> AsyncIterator[list[dict[str, Any]]]:
    messages: list[dict[str, Any]] = []
    async with api.session.ws_connect(api.base + "/api/v1/ws") as ws:

        async def read() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    messages.append(json.loads(msg.data))

        task = asyncio.create_task(read())
        await wait_until(lambda: messages, what="the first system message")
        try:
            yield messages
        finally:
            task.cancel()


async def test_list_shapes_and_the_system_snapshot(outputs: RunningHub, api: Api) -> None:
    items = mine((await api.get(OUTPUTS))["items"])
    assert set(items) == {SIREN, VALVE, RELAY}
    for item in items.values():
        assert KEYS <= set(item), item
        assert item["device"] is None and item["online"] is True and item["wanted"] is None and item["until"] is None
    siren, valve, relay = items[SIREN], items[VALVE], items[RELAY]
    assert (siren["kind"], siren["state"], siren["squawk"]) == ("siren", "silent", True)
    assert siren["on"] == ["intrusion", "fire"]
    assert (valve["kind"], valve["state"], valve["on"], valve["closed_by_water"]) == ("valve", "open", ["water"], False)
    assert (relay["kind"], relay["state"], relay["on"]) == ("switch", "off", ["intrusion"])
    assert siren["name"] == "Sirena interna" and siren["room"] == "Ingresso"
    assert await api.get(f"{OUTPUTS}/{SIREN}") == siren
    status, body = await api.request("GET", f"{OUTPUTS}/no-such-output")
    assert (status, body["error"]) == (404, "unknown_output")
    system = await api.get("/api/v1/system")
    assert mine(system["outputs"]) == items  # the dashboard's home page reads them from here
    every = (await api.get(OUTPUTS))["items"]
    for device in (await api.get("/api/v1/devices"))["items"]:  # each device names its outputs
        assert device["outputs"] == [o["id"] for o in every if o["device"] == device["id"]], device


async def test_roles(outputs: RunningHub, clients: dict[tuple[str, str], Client]) -> None:
    for role in ("owner", "member", "installer"):
        status, body = await clients[role, "session"].request("GET", OUTPUTS)
        assert status == 200 and set(mine(body["items"])) == {SIREN, VALVE, RELAY}, (role, body)
    member, installer = clients["member", "session"], clients["installer", "token"]
    for method, path, body in (
        ("PATCH", f"{OUTPUTS}/{SIREN}", {"name": "Sirena"}),
        ("POST", f"{OUTPUTS}/{SIREN}/test", {}),
        ("POST", f"{OUTPUTS}/{VALVE}/open", {"code": CODE}),
    ):
        status, answer = await member.request(method, path, body)
        assert (status, answer["error"]) == (403, "forbidden"), (method, path, answer)
    status, answer = await installer.request("POST", f"{OUTPUTS}/{VALVE}/open", {"code": CODE})
    assert (status, answer["error"]) == (403, "forbidden")  # reopening the water is the owner's
    status, answer = await installer.request("PATCH", f"{OUTPUTS}/{SIREN}", {"name": "Sirena scala", "chime": True})
    assert status == 200 and answer["name"] == "Sirena scala" and answer["chime"] is True, answer
    status, answer = await installer.request("POST", f"{OUTPUTS}/{RELAY}/test", {})
    assert status == 200 and answer["state"] == "on" and answer["wanted"] == "on" and answer["until"], answer


async def test_patch_checks_what_drives_an_output(outputs: RunningHub, api: Api) -> None:
    status, body = await api.request("PATCH", f"{OUTPUTS}/{SIREN}", {"on": ["fire", "panic", "fire"], "squawk": False})
    assert status == 200 and body["on"] == ["fire", "panic"] and body["squawk"] is False, body
    assert outputs.hub.state.outputs[SIREN].on == ("fire", "panic")
    for path, patch, field in (
        (SIREN, {"on": ["water"]}, "on"),  # a siren only beeps for water, it is not driven by it
        (SIREN, {"on": ["duress"]}, "on"),  # never a sound for a duress code
        (VALVE, {"on": ["fire"]}, "on"),
        (VALVE, {"chime": True}, "chime"),
        (SIREN, {"name": "  "}, "name"),
        (SIREN, {"name": "x" * 65}, "name"),
        (SIREN, {"on": "fire"}, "on"),
        (SIREN, {"kind": "valve"}, "kind"),  # the kind is the device's: unknown field
    ):
        status, body = await api.request("PATCH", f"{OUTPUTS}/{path}", patch)
        assert (status, body.get("field")) == (400, field), (patch, body)
    status, body = await api.request("PATCH", f"{OUTPUTS}/{RELAY}", {"on": ["power", "tamper"], "room": "Box"})
    assert status == 200 and body["on"] == ["power", "tamper"] and body["room"] == "Box", body
    events = (await api.get("/api/v1/events?kind=output_changed"))["items"]
    assert any(e["data"]["detail"] == f"{RELAY}: changed" and e["actor"] == "demo" for e in events), events


async def test_nothing_changes_or_sounds_while_armed(outputs: RunningHub, api: Api) -> None:
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
    assert status == 200, body
    before = await api.get(OUTPUTS)
    for method, path, patch in (
        ("PATCH", f"{OUTPUTS}/{SIREN}", {"name": "Sirena"}),
        ("PATCH", f"{OUTPUTS}/{VALVE}", {"on": []}),
        ("POST", f"{OUTPUTS}/{SIREN}/test", {}),
        ("POST", f"{OUTPUTS}/{VALVE}/test", {}),
    ):
        status, body = await api.request(method, path, patch)
        assert (status, body["error"]) == (409, "system_armed"), (method, path, body)
    assert await api.get(OUTPUTS) == before
    assert not (await api.get("/api/v1/events?kind=output_command"))["items"]
    status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
    assert status == 200, body


async def test_a_test_sounds_is_journaled_and_confirmed(outputs: RunningHub, api: Api) -> None:
    hub = outputs.hub
    async with live(api) as messages:
        status, body = await api.post(f"{OUTPUTS}/{SIREN}/test")
        assert status == 200, body
        assert (body["state"], body["wanted"], body["pending"]) == ("sounding", "emergency", True)
        status, again = await api.post(f"{OUTPUTS}/{SIREN}/test")
        assert (status, again["error"]) == (409, "sounding"), again
        await hub.submit(OutputReported(output=SIREN, status="sounding"))
        shown = await api.get(f"{OUTPUTS}/{SIREN}")
        assert (shown["state"], shown["status"], shown["pending"]) == ("sounding", "sounding", False)
        await wait_until(
            lambda: any(m.get("type") == "output" and m["output"]["status"] == "sounding" for m in messages),
            what="an output message with the confirmed sound",
        )
        pushed = [m["output"] for m in messages if m.get("type") == "output" and m["output"]["id"] == SIREN]
        assert [o["state"] for o in pushed[:2]] == ["sounding", "sounding"] and KEYS <= set(pushed[0])
        # The system snapshot is coalesced (at most one per dashboard per 100 ms, the latest:
        # hub/core/fanout.py): the dashboard's last one comes to say the siren sounds.

        def last_system() -> dict[str, Any]:
            return next(m["system"] for m in reversed(messages) if m.get("type") == "system")

        await wait_until(
            lambda: mine(last_system()["outputs"])[SIREN]["state"] == "sounding", what="the latest system snapshot"
        )
    commands = (await api.get("/api/v1/events?kind=output_command"))["items"]
    assert [e["data"]["detail"] for e in commands] == [f"{SIREN}: emergency (test)"]
    assert commands[0]["actor"] == "demo"
    statuses = (await api.get("/api/v1/events?kind=output_status"))["items"]
    assert [e["data"]["detail"] for e in statuses] == [f"{SIREN}: sounding"]


async def test_water_closes_the_valve_and_only_the_owner_code_reopens_it(outputs: RunningHub, api: Api) -> None:
    water = await api.zone_id("water")
    await api.trigger(water)
    closed = await api.get(f"{OUTPUTS}/{VALVE}")
    assert (closed["state"], closed["wanted"], closed["closed_by_water"]) == ("closed", "close", True), closed
    assert mine((await api.get("/api/v1/system"))["outputs"])[VALVE]["state"] == "closed"
    await outputs.hub.submit(OutputReported(output=VALVE, status="closed"))
    await api.trigger(water, False)  # the floor is dry: the valve stays closed all the same
    assert (await api.get(f"{OUTPUTS}/{VALVE}"))["state"] == "closed"

    status, body = await api.post(f"{OUTPUTS}/{VALVE}/test")
    assert (status, body["error"]) == (409, "water_closed"), body
    status, body = await api.post(f"{OUTPUTS}/{SIREN}/open", {"code": CODE})
    assert (status, body["error"]) == (409, "not_a_valve"), body
    status, body = await api.post(f"{OUTPUTS}/{VALVE}/open", {"code": "99999"})
    assert (status, body["error"]) == (403, "bad_code"), body
    status, body = await api.post(f"{OUTPUTS}/{VALVE}/open", {})
    assert (status, body["field"]) == (400, "code"), body
    assert (await api.get(f"{OUTPUTS}/{VALVE}"))["closed_by_water"] is True
    assert not (await api.get("/api/v1/events?kind=output_open"))["items"]

    status, body = await api.post(f"{OUTPUTS}/{VALVE}/open", {"code": CODE})
    assert status == 200, body
    assert (body["wanted"], body["closed_by_water"], body["pending"]) == ("open", False, True)
    await outputs.hub.submit(OutputReported(output=VALVE, status="open"))
    opened = await api.get(f"{OUTPUTS}/{VALVE}")
    assert (opened["state"], opened["pending"]) == ("open", False)
    status, body = await api.post(f"{OUTPUTS}/{VALVE}/open", {"code": CODE})
    assert (status, body["error"]) == (409, "not_closed"), body
    [opening] = (await api.get("/api/v1/events?kind=output_open"))["items"]
    assert opening["actor"] == "demo" and opening["data"]["output"] == VALVE
    notes = [n["template"] for n in (await api.get("/api/v1/notifications"))["items"]]
    assert "event.valve_closed" in notes and "event.valve_opened" in notes, notes


async def test_three_wrong_codes_lock_the_valve_like_the_keypad(outputs: RunningHub, api: Api) -> None:
    await api.trigger(await api.zone_id("water"))
    for _ in range(3):
        status, body = await api.post(f"{OUTPUTS}/{VALVE}/open", {"code": "00000"})
    assert (status, body["error"]) == (429, "locked"), body
    status, body = await api.post(f"{OUTPUTS}/{VALVE}/open", {"code": CODE})
    assert (status, body["error"]) == (429, "locked"), body  # the right code waits too
    assert outputs.hub.state.outputs[VALVE].closed_by_water


@asynccontextmanager
async def quick_hub(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, Api]]:
    """A demo hub that arms at once: the camera zone (instant) sounds the alarm straight away."""
    config = tmp_path / "casahub.toml"
    config.write_text("[alarm]\nexit_delay = 0\n")
    running = await start_hub(tmp_path / "data", config=config)
    try:
        await add_outputs(running)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            yield running, api
    finally:
        await running.stop()


async def test_an_alarm_sounds_the_siren_and_disarm_silences_it(tmp_path: Path) -> None:
    async with quick_hub(tmp_path) as (running, api):
        await alarm_then_disarm(running, api)


async def alarm_then_disarm(running: RunningHub, api: Api) -> None:
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
    assert status == 200, body
    await wait_until(lambda: running.hub.state.mode == "armed_away", what="armed away")
    await api.trigger(await api.zone_id("camera"))  # an instant zone
    await wait_until(lambda: running.hub.state.mode == "triggered", what="the alarm")
    system = await api.get("/api/v1/system")
    siren, relay = mine(system["outputs"])[SIREN], mine(system["outputs"])[RELAY]
    assert (siren["state"], siren["wanted"]) == ("sounding", "burglar") and siren["until"], siren
    assert relay["state"] == "on"
    assert system["delays"]["siren"]["remaining"] > 0
    status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
    assert status == 200, body
    siren = mine(body["outputs"])[SIREN]
    assert (siren["state"], siren["wanted"], siren["until"]) == ("silent", "stop", None), siren


async def test_the_walk_test_lists_the_outputs_and_their_confirmed_tests(outputs: RunningHub, api: Api) -> None:
    status, walk = await api.post("/api/v1/pairing/walktest", {"minutes": 5})
    assert status == 200, walk
    listed = {o["id"]: o for o in walk["outputs"] if o["id"] in (SIREN, VALVE, RELAY)}
    assert set(listed) == {SIREN, VALVE, RELAY} and all(o["tested_at"] is None for o in listed.values())
    assert listed[VALVE] == {
        "id": VALVE, "name": "Valvola acqua", "room": "Cucina", "kind": "valve", "state": "open", "online": True,
        "tested_at": None,
    }  # fmt: skip
    status, body = await api.post(f"{OUTPUTS}/{SIREN}/test")  # a walk test is disarmed: outputs may be tried
    assert status == 200, body
    status, body = await api.post(f"{OUTPUTS}/{VALVE}/test")
    assert status == 200 and body["state"] == "closed", body
    walk = await api.get("/api/v1/pairing/walktest")
    assert {o["id"]: o["tested_at"] for o in walk["outputs"]}[SIREN] is None  # asked, not heard yet
    await outputs.hub.submit(OutputReported(output=SIREN, status="sounding"))
    walk = await api.get("/api/v1/pairing/walktest")
    tested = {o["id"]: o["tested_at"] for o in walk["outputs"]}
    assert tested[SIREN] and tested[VALVE] is None and tested[RELAY] is None, tested
    status, ended = await api.request("DELETE", "/api/v1/pairing/walktest")
    assert status == 200 and {o["id"]: o["tested_at"] for o in ended["outputs"]}[SIREN] == tested[SIREN]


async def test_the_commissioning_report_wants_a_confirmed_siren_test(outputs: RunningHub, api: Api) -> None:
    async def warning() -> dict[str, Any]:
        report = await api.get("/api/v1/pairing/report?format=json&lang=en")
        return dict(next(c for c in report["checklist"] if c["id"] == "warning"))

    line = await warning()
    assert line["pass"] is False and "Sirena interna" in line["value"], line
    status, body = await api.post(f"{OUTPUTS}/{SIREN}/test")
    assert status == 200, body
    assert (await warning())["pass"] is False  # asked is not heard
    await outputs.hub.submit(OutputReported(output=SIREN, status="sounding"))
    line = await warning()
    assert line["pass"] is True, line
    report = await api.get("/api/v1/pairing/report?format=json")
    assert mine(report["outputs"])[SIREN]["tested_at"] and mine(report["outputs"])[VALVE]["tested_at"] is None


async def test_a_zone_chimes_when_asked_and_keeps_it_through_edits(api: Api, running_hub: RunningHub) -> None:
    """`chime` is a zone setting (PATCH, owner/installer, disarmed); renaming the zone or its device keeps it."""
    hub = running_hub.hub
    door = next(z for z in hub.state.zones.values() if z.kind == "contact")
    status, body = await api.request("PATCH", f"/api/v1/zones/{door.id}", {"chime": True})
    assert status == 200 and body["chime"] is True, body
    status, body = await api.request("PATCH", f"/api/v1/zones/{door.id}", {"name": "Porta di casa"})
    assert status == 200 and body["chime"] is True and hub.state.zones[door.id].chime, body
    assert door.device is not None
    status, _ = await api.request("PATCH", f"/api/v1/devices/{door.device}", {"name": "Contatto porta"})
    assert status == 200 and hub.state.zones[door.id].chime
    status, body = await api.request("PATCH", f"/api/v1/zones/{door.id}", {"chime": "yes"})
    assert status == 400, body
