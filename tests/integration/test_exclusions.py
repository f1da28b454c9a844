"""Exclusions on a running hub, through the HTTP API: nothing silences a zone unheard.

The reproductions of issue 13, each now failing to do harm: a member cannot take the smoke
detector out with one tap; the owner can isolate it, with the code, a reason and an end, and
the household (Twilio double, aiosmtpd, the push service) and the centre (pysiaalarm) hear it
both ways; a door open at a forced arm is an entry door again once closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.integration.test_walktest import Clock
from tests.peers import wait_until
from tests.peers.household import Household, household, logged_in, subscribe_app
from tests.peers.sia import require_pysiaalarm
from tests.peers.tls import trusted
from tests.security.conftest import accounts_of

CODE = "12345"  # the demo owner's alarm code
MEMBER = ("mia", "member-pass")


async def add_member(running: RunningHub) -> None:
    await asyncio.to_thread(accounts_of(running).add_user, MEMBER[0], MEMBER[1], "member")


async def zone(api: Api, zone_id: str) -> dict[str, object]:
    return dict(await api.get(f"/api/v1/zones/{zone_id}"))


async def event_details(api: Api, kind: str) -> list[str | None]:
    rows = (await api.get(f"/api/v1/events?kind={kind}"))["items"]
    return [(row.get("data") or {}).get("detail") for row in rows]


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Household]:
    require_pysiaalarm()
    async with household(tmp_path / "peers") as running:
        yield running


async def test_smoke_is_isolated_only_by_the_owner_and_everyone_hears_it_both_ways(
    tmp_path: Path, peers: Household
) -> None:
    config = peers.write_config(tmp_path / "casahub.toml", language="en")
    clock = Clock()
    with trusted(peers.cert):
        running = await start_hub(tmp_path / "data", config, clock=clock)
        try:
            await add_member(running)
            async with logged_in(running.base) as owner, logged_in(running.base, *MEMBER) as member:
                await subscribe_app(owner, peers.push)
                smoke = await owner.zone_id("smoke")

                # One tap by a member no longer takes the smoke detector out.
                status, body = await member.request("PATCH", f"/api/v1/zones/{smoke}", {"bypassed": True})
                assert (status, body["error"]) == (403, "isolate_required"), body
                status, body = await member.post(
                    f"/api/v1/zones/{smoke}/isolate", {"code": CODE, "reason": "x", "hours": 1}
                )
                assert status == 403, body
                # The owner must give the code, a reason and an end of at most a day.
                isolate = f"/api/v1/zones/{smoke}/isolate"
                for bad, error in (
                    ({"code": "99999", "reason": "Lavori", "hours": 2}, "bad_code"),
                    ({"code": CODE, "reason": "Lavori", "hours": 25}, "invalid_field:hours"),
                    ({"code": CODE, "reason": " ", "hours": 2}, "invalid_field:reason"),
                    ({"code": CODE, "reason": "x" * 201, "hours": 2}, "invalid_field:reason"),
                    ({"code": CODE, "hours": 2}, "invalid_field:reason"),
                ):
                    status, body = await owner.post(isolate, bad)
                    assert body["error"].startswith(error), (bad, body)
                assert (await zone(owner, smoke))["excluded"] is None

                status, body = await owner.post(isolate, {"code": CODE, "reason": "Kitchen works", "hours": 2})
                assert status == 200, body
                excluded = body["excluded"]
                assert (excluded["how"], excluded["by"], excluded["reason"]) == ("isolate", "demo", "Kitchen works")
                assert excluded["until"] and body["bypassed"] is True
                system = await owner.get("/api/v1/system")
                assert [(e["zone"], e["how"]) for e in system["excluded"]] == [(smoke, "isolate")]

                # The household hears it by SMS (a 24h zone), e-mail and push; the centre by CID 570.
                await wait_until(lambda: any("isolated" in s["Body"] for s in peers.twilio.sms()), 10)
                await wait_until(lambda: any("isolated" in m.message["Subject"] for m in peers.emails()), 10)
                await wait_until(lambda: len(peers.pushes()) >= 1, 10)
                reports = await peers.centre.wait_reports(1, timeout=10)
                # (pysiaalarm names CID 570 "BB": assert on the event type and qualifier, 1 = new)
                assert [(r.event_type, r.event_qualifier) for r in reports] == [("570", "1")]
                sms = next(s["Body"] for s in peers.twilio.sms() if "isolated" in s["Body"])
                assert "Kitchen works" in sms

                # While isolated the smoke raises nothing...
                await owner.trigger(smoke)
                assert (await owner.get("/api/v1/incidents"))["items"] == []

                # ... and after the two hours it comes back by itself: the smoke is still there, so it alarms.
                clock.offset += 2 * 3600 + 1
                motion = await owner.zone_id("motion")
                await owner.trigger(motion)  # any engine step runs the due deadlines (disarmed: no alarm)
                assert (await zone(owner, smoke))["excluded"] is None
                assert "expired" in await event_details(owner, "zone_included")
                incidents = (await owner.get("/api/v1/incidents"))["items"]
                assert [i["kind"] for i in incidents] == ["fire"], incidents
                await wait_until(lambda: any("Isolation over" in m.message["Subject"] for m in peers.emails()), 10)
                reports = await peers.centre.wait_reports(3, timeout=10)  # bypass, its restore, the fire
                assert [(r.event_type, r.event_qualifier) for r in reports if r.event_type == "570"] == [
                    ("570", "1"),
                    ("570", "3"),
                ]
        finally:
            await running.stop()


@pytest.fixture
async def timed_hub(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, Clock]]:
    clock = Clock()
    running = await start_hub(tmp_path / "data", clock=clock)
    try:
        yield running, clock
    finally:
        await running.stop()


async def test_a_door_open_at_a_forced_arm_is_an_entry_door_once_closed(timed_hub: tuple[RunningHub, Clock]) -> None:
    running, clock = timed_hub
    async with logged_in(running.base) as api:
        door, motion, camera = [await api.zone_id(k) for k in ("contact", "motion", "camera")]
        status, body = await api.request("PATCH", f"/api/v1/zones/{camera}", {"bypassed": True})
        assert status == 200, body
        await api.trigger(door)
        status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
        assert (status, body["error"]) == (409, "not_ready"), body
        status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE, "force": True})
        assert status == 200, body
        assert {(e["zone"], e["how"]) for e in body["excluded"]} == {(door, "open_at_arming"), (camera, "inhibit")}
        assert (await zone(api, door))["excluded"]["reason"] == "open"

        # The owner leaves and closes the door: it is back in protection in the same engine step.
        await api.trigger(door, False)
        assert (await zone(api, door))["excluded"] is None
        assert [e["zone"] for e in (await api.get("/api/v1/system"))["excluded"]] == [camera]
        assert "closed" in await event_details(api, "zone_included")

        clock.offset += 11  # past the demo's 10 s exit delay
        await api.trigger(camera)  # any engine step runs the due deadlines; the camera is inhibited
        await api.trigger(camera, False)
        assert (await api.get("/api/v1/system"))["mode"] == "armed_away"

        # Coming back: the door starts the entry delay, the follower on the way does not trigger.
        await api.trigger(door)
        await api.trigger(motion)
        system = await api.get("/api/v1/system")
        assert system["mode"] == "pending", system
        status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
        assert status == 200 and body["mode"] == "disarmed", body
        assert (await api.get("/api/v1/incidents?state=all"))["items"] == []


async def test_an_inhibit_lasts_until_disarm_and_nothing_new_is_excluded_while_armed(
    timed_hub: tuple[RunningHub, Clock],
) -> None:
    running, clock = timed_hub
    await add_member(running)
    async with logged_in(running.base, *MEMBER) as member:
        motion, camera = [await member.zone_id(k) for k in ("motion", "camera")]
        status, body = await member.request("PATCH", f"/api/v1/zones/{motion}", {"bypassed": True})
        assert status == 200 and body["excluded"]["how"] == "inhibit" and body["excluded"]["by"] == "mia", body
        notes = (await member.get("/api/v1/notifications"))["items"]
        assert any(n["channel"] == "centre" and n["template"] == "centre.bypass" for n in notes), notes

        status, body = await member.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
        assert status == 200, body
        # While armed nothing is newly excluded, but an exclusion may end.
        status, body = await member.request("PATCH", f"/api/v1/zones/{camera}", {"bypassed": True})
        assert (status, body["error"]) == (409, "system_armed"), body
        status, body = await member.post(f"/api/v1/zones/{camera}/isolate", {"code": CODE, "reason": "x", "hours": 1})
        assert status == 403, body  # owner only
        clock.offset += 11
        await member.trigger(motion)  # inhibited: runs the due deadlines, no alarm
        await member.trigger(motion, False)
        await member.trigger(motion)
        assert (await member.get("/api/v1/system"))["mode"] == "armed_away"  # inhibited: no alarm

        status, body = await member.post("/api/v1/system/disarm", {"code": CODE})
        assert status == 200, body
        assert (await zone(member, motion))["excluded"] is None  # an inhibit ends at disarm
        assert "disarm" in await event_details(member, "zone_included")


async def test_the_owner_restores_with_the_code_also_while_armed(timed_hub: tuple[RunningHub, Clock]) -> None:
    running, _clock = timed_hub
    async with logged_in(running.base) as api:
        camera = await api.zone_id("camera")
        status, body = await api.post(
            f"/api/v1/zones/{camera}/isolate", {"code": CODE, "reason": "Lens broken", "hours": 720}
        )
        assert status == 200 and body["excluded"]["how"] == "isolate", body
        status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
        assert status == 200, body
        # A member may end an inhibit, never an isolation; the owner restores with the code.
        status, body = await api.post(f"/api/v1/zones/{camera}/restore", {"code": "00000"})
        assert (status, body["error"]) == (403, "bad_code"), body
        status, body = await api.post(f"/api/v1/zones/{camera}/restore", {"code": CODE})
        assert status == 200 and body["excluded"] is None, body
        assert "user" in await event_details(api, "zone_included")
