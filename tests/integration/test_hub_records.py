"""Journal replay, audit trail, pairing, duress and event pagination through the running hub."""

from __future__ import annotations

import asyncio

from alarms import engine
from hub.store import journal, snapshot
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
    assert engine.replay(inputs) == await snapshot.load_state(hub.db.conn) == hub.state


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
    from hub.store.accounts import Accounts
    from hub.store.db import open_sync

    accounts = Accounts(open_sync(running_hub.data_dir / "casahub.db"))
    await asyncio.to_thread(accounts.set_codes, "demo", duress_code="54321")
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
        "/api/v1/devices", {"candidate": cand["id"], "name": "Finestra bagno", "room": "Bagno", "new_room": True}
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


async def test_alarm_storm_is_one_incident_and_few_messages(api: Api, running_hub: RunningHub) -> None:
    from alarms.model import AlarmSettings, ArmRequest, Configure, SensorChanged, ZoneUpsert

    hub = running_hub.hub
    await hub.submit(Configure(settings=AlarmSettings(exit_delay=0, entry_delay=10)))
    for i in range(30):
        await hub.submit(ZoneUpsert(id=f"pir-{i}", name=f"PIR {i}", kind="motion", behaviour="instant"))
    await hub.submit(ArmRequest(mode="away", by="test"))
    for i in range(30):
        await hub.submit(SensorChanged(zone=f"pir-{i}", active=True))
    incidents = (await api.get("/api/v1/incidents"))["items"]
    intrusion = [i for i in incidents if i["kind"] == "intrusion"]
    assert len(intrusion) == 1
    assert {a["zone"] for a in intrusion[0]["activations"]} >= {f"pir-{i}" for i in range(30)}
    rows = await hub.db.fetchall(
        "SELECT channel, recipient, template, state FROM outbox WHERE incident = ?", (intrusion[0]["id"],)
    )
    sms = [r for r in rows if r["channel"] == "sms" and r["template"] != "incident.reminder"]
    assert len(sms) == 1  # one SMS per contact per incident
    updates = [r for r in rows if r["template"] == "incident.update"]
    assert len(updates) <= 2, [dict(r) for r in updates]  # at most one sent and one waiting, per recipient
    centre = [r for r in rows if r["channel"] == "centre"]
    assert len(centre) >= 30  # the centre hears of every zone


async def test_flapping_fault_is_not_resent_for_hours(running_hub: RunningHub) -> None:
    from alarms.model import SystemFault

    hub = running_hub.hub
    for active in (True, False, True, False, True):
        await hub.submit(SystemFault(kind="channel_failure", active=active, subject="sms"))
    rows = await hub.db.fetchall(
        "SELECT o.channel, o.template FROM outbox o JOIN anomalies a ON o.anomaly = a.id"
        " WHERE a.kind = 'channel_failure'"
    )
    household_raises = [r for r in rows if r["channel"] == "sms" and r["template"] == "anomaly.channel_failure"]
    assert len(household_raises) == 1
    centre = await hub.db.fetchall("SELECT 1 FROM outbox WHERE channel = 'centre' AND template = 'centre.trouble'")
    assert len(centre) >= 3  # the centre hears of every occurrence
