"""Live view through the hub from a real MJPEG camera (ffmpeg on loopback, one client at a time):
two viewers share one upstream, it closes after the last viewer, strangers get nothing, and a
camera that stops sending is offline through the normal device-health path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from drivers.camera.mjpeg import MjpegParser, boundary_from_content_type
from hub.web.context import CONTEXT
from tests.conftest import Api, RunningHub, start_hub
from tests.peers import wait_until
from tests.peers.ffmpeg import MjpegCamera

CAMERA = "camera-ingresso"


def camera_config(tmp_path: Path, url: str, *, motion: str = "off", extra: str = "", alarm: str = "") -> Path:
    path = tmp_path / "casahub.toml"
    path.write_text(
        f"[alarm]\nexit_delay = 0\n{alarm}"
        f'[[drivers]]\ntype = "camera"\nname = "Ingresso"\nmjpeg_url = "{url}"\nmotion = "{motion}"\n'
        f"offline_after = 2\n{extra}"
    )
    return path


def camera_driver(running: RunningHub) -> Any:
    return running.daemon.drivers["camera"]


@pytest.fixture
async def camera() -> AsyncIterator[MjpegCamera]:
    async with MjpegCamera() as cam:
        yield cam


@pytest.fixture
async def hub_with_camera(tmp_path: Path, camera: MjpegCamera) -> AsyncIterator[RunningHub]:
    # offline_grace = 0: a camera offline is an anomaly at once (the supervision path, not a timer to wait for)
    running = await start_hub(tmp_path / "data", camera_config(tmp_path, camera.url, alarm="offline_grace = 0\n"))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def owner(hub_with_camera: RunningHub) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        client = Api(hub_with_camera.base, session)
        await client.login()
        yield client


async def read_frames(api: Api, path: str, count: int) -> list[bytes]:
    """`count` JPEG frames of a hub stream, then the viewer goes away."""
    frames: list[bytes] = []
    async with api.session.get(api.base + path) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        parser = MjpegParser(boundary_from_content_type(response.headers["Content-Type"]))
        async for chunk in response.content.iter_any():
            frames += parser.feed(chunk)
            if len(frames) >= count:
                return frames
    raise AssertionError(f"the stream ended after {len(frames)} frames")


async def test_cameras_lists_the_configured_camera_and_the_demo_one(hub_with_camera: RunningHub, owner: Api) -> None:
    feed = camera_driver(hub_with_camera).feed
    await wait_until(lambda: feed.online is True, what="the first frame of the camera")
    items = {c["id"]: c for c in (await owner.get("/api/v1/cameras"))["items"]}
    assert items[CAMERA] == {"id": CAMERA, "name": "Ingresso", "room": "", "online": True, "motion": "off"}
    assert "simulated-sim-camera-1" in items


async def test_two_viewers_share_one_upstream_closed_after_the_last(
    hub_with_camera: RunningHub, owner: Api, camera: MjpegCamera
) -> None:
    feed = camera_driver(hub_with_camera).feed
    # The start-up probe took one frame and let the camera go again.
    await wait_until(lambda: feed.online is True and not feed.connected, what="the start-up probe to finish")
    await camera.wait_listening()
    upstreams, served = feed.upstreams, camera.served
    async with aiohttp.ClientSession(cookie_jar=owner.session.cookie_jar) as second_session:
        second = Api(owner.base, second_session)
        path = f"/api/v1/cameras/{CAMERA}/stream"
        first_frames, second_frames = await asyncio.wait_for(
            asyncio.gather(read_frames(owner, path, 4), read_frames(second, path, 4)), 30
        )
    for frame in first_frames + second_frames:
        assert frame.startswith(b"\xff\xd8") and frame.endswith(b"\xff\xd9")
    # ffmpeg -listen 1 serves one client: both viewers were fed by the hub's single upstream.
    assert feed.upstreams == upstreams + 1
    # Both viewers gone: the hub closes its upstream, and the camera's one-client server ends.
    await wait_until(lambda: camera.served > served, timeout=15, what="the upstream to close")
    assert not feed.connected and feed.needs == []
    events = (await owner.get("/api/v1/events?kind=camera_viewed"))["items"]
    assert len(events) == 2 and {e["actor"] for e in events} == {"demo"} and events[0]["data"] == {"camera": CAMERA}


async def test_head_on_a_stream_answers_at_once(hub_with_camera: RunningHub, owner: Api) -> None:
    async with owner.session.head(f"{owner.base}/api/v1/cameras/{CAMERA}/stream") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    assert camera_driver(hub_with_camera).feed.needs == []


async def test_snapshot_is_a_jpeg_and_audited(hub_with_camera: RunningHub, owner: Api) -> None:
    async with owner.session.get(f"{owner.base}/api/v1/cameras/{CAMERA}/snapshot") as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        body = await response.read()
    assert body.startswith(b"\xff\xd8")
    events = (await owner.get("/api/v1/events?kind=camera_snapshot"))["items"]
    assert events[0]["actor"] == "demo" and events[0]["data"] == {"camera": CAMERA}


async def test_without_the_household_role_there_is_no_picture(hub_with_camera: RunningHub) -> None:
    accounts = hub_with_camera.daemon.app[CONTEXT].accounts
    _, installer = await asyncio.to_thread(accounts.create_token, "installer", username="demo")
    async with aiohttp.ClientSession() as session:
        for path in (f"/api/v1/cameras/{CAMERA}/stream", f"/api/v1/cameras/{CAMERA}/snapshot"):
            async with session.get(hub_with_camera.base + path) as response:
                assert response.status == 401
                assert (await response.json())["error"] == "unauthorized"
            headers = {"Authorization": f"Bearer {installer}"}
            async with session.get(hub_with_camera.base + path, headers=headers) as response:
                assert response.status == 403 and response.content_type == "application/json"
        # ... but an installer may list the cameras (commissioning).
        async with session.get(
            hub_with_camera.base + "/api/v1/cameras", headers={"Authorization": f"Bearer {installer}"}
        ) as response:
            assert response.status == 200 and CAMERA in {c["id"] for c in (await response.json())["items"]}


async def test_a_camera_that_stops_sending_goes_offline(
    hub_with_camera: RunningHub, owner: Api, camera: MjpegCamera
) -> None:
    feed = camera_driver(hub_with_camera).feed
    await wait_until(lambda: feed.online is True and not feed.connected, what="the start-up probe")
    async with owner.session.get(f"{owner.base}/api/v1/cameras/{CAMERA}/stream") as response:
        assert response.status == 200
        await response.content.readexactly(64)  # watching
        await camera.stop()  # the camera leaves the network while watched
        await wait_until(lambda: feed.online is False, timeout=15, what="the camera to be offline")
    device = hub_with_camera.hub.devices[CAMERA]
    await wait_until(lambda: not device.online, what="the device to be offline")
    items = {c["id"]: c for c in (await owner.get("/api/v1/cameras"))["items"]}
    assert items[CAMERA]["online"] is False
    zone = await owner.get(f"/api/v1/zones/{CAMERA}")
    assert zone["online"] is False and zone["kind"] == "camera"
    # The usual fault: a sensor_offline anomaly for the camera, never an intrusion.
    await wait_until(
        lambda: any(a.kind == "sensor_offline" for a in hub_with_camera.hub.state.anomalies.values()),
        timeout=30,
        what="the sensor_offline anomaly",
    )
    anomalies = (await owner.get("/api/v1/anomalies"))["items"]
    assert any(a["kind"] == "sensor_offline" and a["device"] == CAMERA for a in anomalies), anomalies
    assert (await owner.get("/api/v1/incidents"))["items"] == []


async def test_revoking_the_token_ends_the_live_view(hub_with_camera: RunningHub) -> None:
    accounts = hub_with_camera.daemon.app[CONTEXT].accounts
    token_id, token = await asyncio.to_thread(accounts.create_token, "member")
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{hub_with_camera.base}/api/v1/cameras/{CAMERA}/stream", headers=headers) as response,
    ):
        assert response.status == 200
        await response.content.readexactly(64)
        await asyncio.to_thread(accounts.revoke_token, token_id)
        await asyncio.wait_for(response.content.read(), 15)  # the hub ends the stream
    feed = camera_driver(hub_with_camera).feed
    await wait_until(lambda: feed.needs == [], what="the viewer's need to be released")


async def test_hub_stop_ends_open_streams(tmp_path: Path, camera: MjpegCamera) -> None:
    running = await start_hub(tmp_path / "data", camera_config(tmp_path, camera.url))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(running.base, session)
        await api.login()
        async with session.get(f"{running.base}/api/v1/cameras/{CAMERA}/stream") as response:
            await response.content.readexactly(64)
            await running.stop()  # within its 10 s: an open live view does not hold the hub up
            rest = await asyncio.wait_for(response.content.read(), 10)
            assert isinstance(rest, bytes)


@pytest.mark.parametrize("change", ["remove", "password"])
async def test_removing_a_user_or_a_new_password_ends_their_live_views(
    hub_with_camera: RunningHub, change: str
) -> None:
    """Sessions and tokens of that user end at once (hub/store/accounts.py); so do their camera views,
    within CREDENTIAL_RECHECK (2 s), by session and by token alike."""
    accounts = hub_with_camera.daemon.app[CONTEXT].accounts
    await asyncio.to_thread(accounts.add_user, "mia", "mia-password", "member")
    _, token = await asyncio.to_thread(accounts.create_token, "member", username="mia")
    url = f"{hub_with_camera.base}/api/v1/cameras/{CAMERA}/stream"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await Api(hub_with_camera.base, session).login("mia", "mia-password")
        async with (
            session.get(url) as by_session,
            session.get(url, headers={"Authorization": f"Bearer {token}"}) as by_token,
        ):
            assert by_session.status == 200 and by_token.status == 200
            await by_session.content.readexactly(64)
            await by_token.content.readexactly(64)
            if change == "remove":
                await asyncio.to_thread(accounts.remove_user, "mia")
            else:
                await asyncio.to_thread(accounts.update_user, "mia", password="a-new-password")
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(asyncio.gather(by_session.content.read(), by_token.content.read()), 10)
            assert asyncio.get_running_loop().time() - started < 5
    feed = camera_driver(hub_with_camera).feed
    await wait_until(lambda: feed.needs == [], what="the viewers' needs to be released")
