"""The issue's walk-through, through the HTTP API only, against an in-process demo hub."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import Api, RunningHub


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def test_health_and_initial_state(api: Api, anon: Api) -> None:
    status, body = await anon.request("GET", "/api/v1/health")
    assert status == 200 and body["status"] == "ok"
    system = await api.get("/api/v1/system")
    assert system["mode"] == "disarmed"
    kinds = sorted(z["kind"] for z in (await api.get("/api/v1/zones"))["items"])
    assert kinds == sorted(["water", "smoke", "motion", "contact", "power", "panic", "camera"])


async def test_water_leak_raises_incident_and_notifications(api: Api) -> None:
    water = await api.zone_id("water")
    started = time.monotonic()
    await api.trigger(water)

    async def incident():  # type: ignore[no-untyped-def]
        items = (await api.get("/api/v1/incidents?state=active"))["items"]
        return [i for i in items if i["kind"] == "water"]

    found = await wait_for(incident, timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert found[0]["state"] == "active"
    assert found[0]["activations"][0]["zone"] == water
    rows = (await api.get(f"/api/v1/notifications?incident={found[0]['id']}"))["items"]
    channels = {r["channel"] for r in rows}
    assert {"sms", "push", "email", "centre"} <= channels, channels
    # Nothing is configured in the plain demo: the log transport carries them and says so.
    assert all(r["transport"] == "log" for r in rows)
    immediate = [r for r in rows if r["state"] != "scheduled"]
    assert immediate and all(r["state"] in ("pending", "sent") for r in immediate)

    async def all_sent():  # type: ignore[no-untyped-def]
        rows = (await api.get(f"/api/v1/notifications?incident={found[0]['id']}"))["items"]
        return all(r["state"] in ("sent", "scheduled") for r in rows)

    await wait_for(all_sent)
    detail = await api.get(f"/api/v1/notifications/{rows[0]['id']}")
    assert detail["history"] and detail["history"][-1]["outcome"] == "delivered"
    # The escalation ladder waits for an acknowledgement; acknowledging cancels it.
    status, body = await api.post(f"/api/v1/incidents/{found[0]['id']}/ack")
    assert status == 200 and body["state"] == "acknowledged"
    rows = (await api.get(f"/api/v1/notifications?incident={found[0]['id']}"))["items"]
    assert not [r for r in rows if r["state"] == "scheduled"]
    assert any(r["state"] == "cancelled" for r in rows)


async def test_arm_refused_with_open_door_then_full_entry_cycle(api: Api, running_hub: RunningHub) -> None:
    door = await api.zone_id("contact")
    await api.trigger(door, True)
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 409 and body["error"] == "not_ready"
    assert [z["zone"] for z in body["not_ready"]] == [door]
    assert body["not_ready"][0]["reason"] == "open"

    await api.trigger(door, False)
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 200 and body["mode"] == "arming_away"
    assert "exit" in body["delays"]
    # Exit delay is 10 s in the demo: shorten the wait by moving the hub's deadline? No:
    # the demo delay is real; wait for it.
    await wait_for(lambda: _mode(api, "armed_away"), timeout=15)

    await api.trigger(door, True)
    system = await api.get("/api/v1/system")
    assert system["mode"] == "pending" and "entry" in system["delays"]
    status, body = await api.post("/api/v1/system/disarm", {"code": "12345"})
    assert status == 200 and body["mode"] == "disarmed"
    incidents = (await api.get("/api/v1/incidents?state=all"))["items"]
    assert not [i for i in incidents if i["kind"] == "intrusion"]


async def _mode(api: Api, mode: str) -> bool:
    return bool((await api.get("/api/v1/system"))["mode"] == mode)


async def test_three_wrong_codes_lock_for_90_seconds(api: Api) -> None:
    statuses = []
    for _ in range(3):
        status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "99999"})
        statuses.append(status)
    assert statuses[:2] == [403, 403]
    assert statuses[2] == 429
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 429 and body["error"] == "locked"
    retry = int(api.last_headers["Retry-After"])
    assert 85 <= retry <= 91
    assert (await api.get("/api/v1/system"))["mode"] == "disarmed"
