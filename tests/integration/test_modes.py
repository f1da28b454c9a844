"""Armed modes and sensor watch on a running hub, through the HTTP API (issue 17).

Night watches the perimeter and leaves the rooms where people sleep alone: a window set to
`night` alarms at once (night has no entry delay here), an interior motion sensor left out of
`night` raises nothing. A zone's modes are set with PATCH, the first release's `home` flag still
works, and a zone watched in no mode is refused. A motion sensor that stays silent longer than
its `watch_days` raises `sensor_inactive`, and its next report clears it (the clock is injected).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from alarms.model import Tick
from tests.conftest import Api, RunningHub, configured_hub, logged_in_api, start_hub
from tests.integration.test_walktest import Clock
from tests.peers import wait_until
from tests.peers.household import household, logged_in
from tests.peers.sia import require_pysiaalarm
from tests.peers.tls import trusted

CODE = "12345"  # the demo owner's alarm code

CONFIG = """\
[alarm]
exit_delay = 0
entry_delay = 20

[alarm.night]
entry_delay = 0
"""


@pytest.fixture
async def clock() -> Clock:
    return Clock()


@pytest.fixture
async def running(tmp_path: Path, clock: Clock) -> AsyncIterator[RunningHub]:
    async with configured_hub(tmp_path, CONFIG, clock=clock) as hub:
        yield hub


@pytest.fixture
async def api(running: RunningHub) -> AsyncIterator[Api]:
    async with logged_in_api(running) as client:
        yield client


async def patch(api: Api, zone: str, body: dict[str, Any]) -> tuple[int, Any]:
    return await api.request("PATCH", f"/api/v1/zones/{zone}", body)


async def arm(api: Api, mode: str) -> dict[str, Any]:
    status, body = await api.post("/api/v1/system/arm", {"mode": mode, "code": CODE})
    assert status == 200, body
    return dict(body)


async def disarm(api: Api) -> None:
    status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
    assert status == 200, body


async def intrusions(api: Api) -> list[dict[str, Any]]:
    return [i for i in (await api.get("/api/v1/incidents"))["items"] if i["kind"] == "intrusion"]


async def test_night_watches_the_window_at_once_and_not_the_bedroom_motion(api: Api) -> None:
    window = await api.zone_id("contact")
    motion = await api.zone_id("motion")
    zones = {z["id"]: z for z in (await api.get("/api/v1/zones"))["items"]}
    # The demo's pairing: the entrance contact watched in every mode, the motion only when away.
    assert zones[window]["modes"] == ["home", "away", "night", "vacation"] and zones[window]["home"] is True
    assert zones[motion]["modes"] == ["away", "vacation"] and zones[motion]["home"] is False
    status, body = await patch(api, window, {"behaviour": "instant"})
    assert status == 200 and body["behaviour"] == "instant", body

    system = await api.get("/api/v1/system")
    assert system["ready_modes"] == {"home": True, "away": True, "night": True, "vacation": True}
    assert (await arm(api, "night"))["mode"] == "armed_night"

    await api.trigger(motion)  # someone walks to the kitchen at night: not watched in night
    await api.trigger(motion, False)
    assert await intrusions(api) == []
    assert (await api.get("/api/v1/system"))["mode"] == "armed_night"

    await api.trigger(window)  # the perimeter is: an alarm at once
    assert (await api.get("/api/v1/system"))["mode"] == "triggered"
    [incident] = await intrusions(api)
    assert [a["zone"] for a in incident["activations"]] == [window]
    await disarm(api)


async def test_a_zones_modes_decide_and_the_home_flag_still_works(api: Api) -> None:
    motion = await api.zone_id("motion")
    status, body = await patch(api, motion, {"modes": ["night", "away"]})
    assert status == 200 and body["modes"] == ["away", "night"] and body["home"] is False, body
    status, body = await patch(api, motion, {"home": True})  # the old flag adds home
    assert status == 200 and body["modes"] == ["home", "away", "night"] and body["home"] is True, body
    status, body = await patch(api, motion, {"modes": ["away"], "home": True})
    assert status == 400 and body["error"] == "invalid_field:home", body
    status, body = await patch(api, motion, {"modes": []})  # never alarming, and nobody would know
    assert status == 400 and body["error"] == "invalid_field:modes", body
    status, body = await patch(api, motion, {"modes": ["weekend"]})
    assert status == 400, body
    assert (await api.get(f"/api/v1/zones/{motion}"))["modes"] == ["home", "away", "night"]

    await arm(api, "night")
    status, body = await patch(api, motion, {"modes": ["away"]})
    assert status == 409 and body["error"] == "system_armed", body  # nothing changes while armed
    await api.trigger(motion)  # now watched in night: a follower without an entry delay alarms
    assert (await api.get("/api/v1/system"))["mode"] == "triggered"
    await disarm(api)


async def test_vacation_and_away_watch_the_interior(api: Api) -> None:
    motion = await api.zone_id("motion")
    for mode in ("vacation", "home"):
        await arm(api, mode)
        await api.trigger(motion)
        await api.trigger(motion, False)
        alarmed = bool(await intrusions(api))
        assert alarmed == (mode == "vacation"), mode
        await disarm(api)


async def test_a_silent_sensor_is_reported_after_its_watch_days_and_cleared_when_it_speaks(
    api: Api, clock: Clock, running: RunningHub
) -> None:
    motion = await api.zone_id("motion")
    assert (await api.get(f"/api/v1/zones/{motion}"))["watch_days"] == 14  # the default for motion
    status, body = await patch(api, motion, {"watch_days": 2})
    assert status == 200 and body["watch_days"] == 2, body
    status, body = await patch(api, motion, {"watch_days": 400})
    assert status == 400, body

    water = await api.zone_id("water")  # a water sensor rightly stays quiet: not watched
    assert (await api.get(f"/api/v1/zones/{water}"))["watch_days"] == 0

    def inactive(system: dict[str, Any]) -> list[dict[str, Any]]:
        return [a for a in system["anomalies"] if a["kind"] == "sensor_inactive"]

    clock.offset += 86400 + 60  # a day later: not yet
    await running.hub.submit(Tick())  # what the hub's timer does at the deadline
    assert inactive(await api.get("/api/v1/system")) == []
    clock.offset += 86400  # two days without a movement
    await running.hub.submit(Tick())
    found = inactive(await api.get("/api/v1/system"))
    assert len(found) == 1, found
    assert found[0]["manual"]["title"] == "Sensore silenzioso da giorni"

    await api.trigger(motion)  # somebody walks by: the sensor is alive
    assert inactive(await api.get("/api/v1/system")) == []


async def test_the_centre_hears_night_as_armed_stay_and_away_as_a_closing(tmp_path: Path) -> None:
    """DC-09 to the real pysiaalarm receiver: CID 3441/1441 for night (somebody is inside), 3401/1401 for away."""
    require_pysiaalarm()
    async with household(tmp_path / "peers") as peers:
        config = peers.write_config(tmp_path / "casahub.toml", language="en")
        with trusted(peers.cert):
            hub = await start_hub(tmp_path / "data", config)
            try:
                async with logged_in(hub.base) as owner:
                    for mode in ("night", "away"):
                        status, body = await owner.post("/api/v1/system/arm", {"mode": mode, "code": CODE})
                        assert status == 200, body
                        armed = f"armed_{mode}"
                        await wait_until(lambda: hub.hub.state.mode == armed, 15, what=armed)  # noqa: B023
                        status, body = await owner.post("/api/v1/system/disarm", {"code": CODE})
                        assert status == 200, body
                reports = await peers.centre.wait_reports(4, timeout=15)
                assert [(r.event_qualifier, r.event_type) for r in reports] == [
                    ("3", "441"),
                    ("1", "441"),
                    ("3", "401"),
                    ("1", "401"),
                ]
            finally:
                await hub.stop()
