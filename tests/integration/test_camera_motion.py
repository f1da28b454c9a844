"""Camera motion, end to end with a real MJPEG camera (ffmpeg): the hub's own detection raises an
intrusion from a moving picture while armed and stays quiet on a still one; a camera that
reports motion itself does so with its own token only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Api, RunningHub, start_hub
from tests.integration.test_camera_live import CAMERA, camera_config, camera_driver
from tests.peers import wait_until
from tests.peers.ffmpeg import MOVING, STILL, MjpegCamera

CODE = "12345"  # the demo owner's code


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        yield client


async def started(tmp_path: Path, url: str, motion: str) -> RunningHub:
    return await start_hub(tmp_path / "data", camera_config(tmp_path, url, motion=motion))


async def arm_away(api: Api) -> None:
    status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
    assert status == 200, body
    assert body["mode"] == "armed_away"  # exit_delay = 0 in camera_config


async def test_a_moving_picture_raises_an_intrusion_while_armed(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    async with MjpegCamera(MOVING) as camera:
        running = await started(tmp_path, camera.url, "hub")
        try:
            api = Api(running.base, session)
            await api.login()
            driver = camera_driver(running)
            # Disarmed: nothing is analysed, whatever moves in front of the camera.
            await wait_until(lambda: driver.feed.online is True, what="the camera")
            assert "motion" not in driver.feed.needs and driver.detector.compared == 0
            await arm_away(api)
            await wait_until(lambda: running.hub.state.zones[CAMERA].active, timeout=20, what="camera motion")
            incidents = (await api.get("/api/v1/incidents"))["items"]
            assert [i["kind"] for i in incidents] == ["intrusion"]
            assert incidents[0]["activations"][0]["zone"] == CAMERA
            status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
            assert status == 200, body
            # Disarmed: sampling stops and the zone restores.
            await wait_until(lambda: "motion" not in driver.feed.needs, what="motion sampling to stop")
            await wait_until(lambda: not running.hub.state.zones[CAMERA].active, what="the zone to restore")
        finally:
            await running.stop()


async def test_a_still_picture_raises_nothing(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    async with MjpegCamera(STILL) as camera:
        running = await started(tmp_path, camera.url, "hub")
        try:
            api = Api(running.base, session)
            await api.login()
            driver = camera_driver(running)
            await arm_away(api)
            await wait_until(lambda: driver.detector.compared >= 8, timeout=20, what="8 frames compared")
            assert driver.detector.last_fraction < driver.sensitivity
            assert not running.hub.state.zones[CAMERA].active
            assert (await api.get("/api/v1/incidents"))["items"] == []
        finally:
            await running.stop()


async def test_camera_events_need_the_camera_token(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    # The camera reports motion itself; its stream is not needed for that (nothing listens here).
    running = await started(tmp_path, "http://127.0.0.1:9/", "camera")
    try:
        api = Api(running.base, session)
        await api.login()
        path = f"/api/v1/cameras/{CAMERA}/events"
        status, body = await api.post(f"/api/v1/cameras/{CAMERA}/token", {})
        assert status == 201, body
        token = body["token"]
        assert token.startswith("chc_") and body["url"].endswith(f"{path}?token={token}")
        stored = (running.data_dir / "camera-tokens.json").read_text()
        assert token not in stored  # only its digest
        async with aiohttp.ClientSession() as camera:  # no cookie: what a camera has
            for headers, query in [({"Authorization": "Bearer chc_wrong"}, ""), ({}, "?token=chc_wrong"), ({}, "")]:
                async with camera.post(running.base + path + query, headers=headers) as response:
                    assert response.status == 401, await response.text()
                    assert (await response.json())["error"] == "unauthorized"
            assert not running.hub.state.zones[CAMERA].active
            async with camera.post(running.base + path, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200, await response.text()
            await wait_until(lambda: running.hub.state.zones[CAMERA].active, what="camera motion")
            async with camera.post(f"{running.base}{path}?token={token}", json={"motion": False}) as response:
                assert response.status == 200
            await wait_until(lambda: not running.hub.state.zones[CAMERA].active, what="the end of motion")
            async with camera.post(f"{running.base}{path}?token={token}", json={"motion": "yes"}) as response:
                assert response.status == 400 and (await response.json())["field"] == "motion"
        # A new token replaces the old one.
        status, body = await api.post(f"/api/v1/cameras/{CAMERA}/token", {})
        assert status == 201 and body["token"] != token
        async with aiohttp.ClientSession() as camera:
            async with camera.post(f"{running.base}{path}?token={token}") as response:
                assert response.status == 401
        events = (await api.get("/api/v1/events?kind=camera_token_issued"))["items"]
        assert len(events) == 2 and all(token not in str(e) for e in events)
    finally:
        await running.stop()


async def test_camera_motion_while_armed_is_an_intrusion(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    running = await started(tmp_path, "http://127.0.0.1:9/", "camera")
    try:
        api = Api(running.base, session)
        await api.login()
        await arm_away(api)
        status, body = await api.post(f"/api/v1/cameras/{CAMERA}/events", {"motion": True})  # the owner may test
        assert status == 200, body
        await wait_until(lambda: bool(running.hub.state.incidents), what="an incident")
        assert [i.kind for i in running.hub.state.incidents.values()] == ["intrusion"]
    finally:
        await running.stop()
