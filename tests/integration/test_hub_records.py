"""Journal replay, audit trail, pairing, duress and event pagination through the running hub."""

from __future__ import annotations

from alarms import engine
from hub import journal
from tests.conftest import Api, RunningHub


async def test_journal_replay_equals_snapshot(api: Api, running_hub: RunningHub) -> None:
    water = await api.zone_id("water")
    door = await api.zone_id("contact")
    await api.trigger(water)
    await api.trigger(water, False)
    await api.trigger(door)
    await api.post("/api/v1/system/arm", {"mode": "home", "code": "12345", "force": True})
    await api.post("/api/v1/system/disarm", {"code": "12345"})
    hub = running_hub.hub
    inputs = await journal.load_inputs(hub.db.conn)
    assert engine.replay(inputs) == await journal.load_state(hub.db.conn) == hub.state


async def test_audit_trail_records_who(api: Api) -> None:
    door = await api.zone_id("contact")
    await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    await api.post("/api/v1/system/disarm", {"code": "00000"})
    await api.post("/api/v1/system/disarm", {"code": "12345"})
    events = (await api.get("/api/v1/events?limit=100"))["items"]
    kinds = [e["kind"] for e in events]
    assert "arm_request" in kinds and "disarm_request" in kinds and "bad_code" in kinds and "login" in kinds
    assert all(e["actor"] == "demo" for e in events if e["kind"] in ("arm_request", "disarm_request", "bad_code"))
    zone_events = (await api.get(f"/api/v1/events?zone={door}"))["items"]
    assert all(e["zone"] == door for e in zone_events)


async def test_event_pagination(api: Api) -> None:
    water = await api.zone_id("water")
    for i in range(6):
        await api.trigger(water, i % 2 == 0)
    page = await api.get("/api/v1/events?limit=3")
    ids = [int(e["id"]) for e in page["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    seen = list(ids)
    cursor = page["next"]
    while cursor:
        page = await api.get(f"/api/v1/events?limit=3&before={cursor}")
        seen += [int(e["id"]) for e in page["items"]]
        cursor = page["next"]
    assert seen == sorted(set(seen), reverse=True)
    assert len(seen) > 10


async def test_duress_code_disarms_quietly_and_reports_to_centre(api: Api, running_hub: RunningHub) -> None:
    from hub.accounts import Accounts
    from hub.storage import open_sync

    accounts = Accounts(open_sync(running_hub.data_dir / "casahub.db"))
    accounts.set_codes("demo", duress_code="54321")
    accounts.conn.close()
    await api.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    status, body = await api.post("/api/v1/system/disarm", {"code": "54321"})
    assert status == 200 and body["mode"] == "disarmed"
    assert body["incidents"] == []
    assert (await api.get("/api/v1/system"))["incidents"] == []
    hub = running_hub.hub
    rows = await hub.db.fetchall("SELECT channel, template FROM outbox WHERE template = 'centre.duress'")
    assert [r["channel"] for r in rows] == ["centre"]
    household = await hub.db.fetchall(
        "SELECT o.channel FROM outbox o JOIN incidents i ON o.incident = i.id"
        " WHERE i.kind = 'duress' AND o.channel != 'centre'"
    )
    assert household == []
    # Nothing on the household's screens gives the duress away.
    assert (await api.get("/api/v1/incidents?state=all"))["items"] == []
    events = (await api.get("/api/v1/events?limit=500"))["items"]
    assert not [e for e in events if "duress" in str(e)]
    notes = (await api.get("/api/v1/notifications"))["items"]
    assert not [n for n in notes if "duress" in n["template"]]


async def test_pair_candidate_and_remove(api: Api) -> None:
    candidates = (await api.get("/api/v1/pairing/candidates"))["items"]
    assert candidates, "the demo kit offers unpaired devices"
    cand = candidates[0]
    status, device = await api.post(
        "/api/v1/devices", {"candidate": cand["id"], "name": "Finestra bagno", "room": "Bagno"}
    )
    assert status == 201, device
    assert device["address"] == cand["address"] and device["zones"]
    status, _ = await api.post("/api/v1/devices", {"candidate": cand["id"], "name": "x", "room": "y"})
    assert status in (404, 409)
    remaining = {c["id"] for c in (await api.get("/api/v1/pairing/candidates"))["items"]}
    assert cand["id"] not in remaining
    zone = device["zones"][0]
    assert any(z["id"] == zone for z in (await api.get("/api/v1/zones"))["items"])
    status, _ = await api.request("DELETE", f"/api/v1/devices/{device['id']}")
    assert status == 200
    assert not any(z["id"] == zone for z in (await api.get("/api/v1/zones"))["items"])
    status, body = await api.post("/api/v1/devices", {"candidate": "nope", "name": "x"})
    assert status == 404 and body["error"] == "unknown_candidate"
