"""Photo verification on the demo hub (its camera draws its own pictures): an armed intrusion
keeps the frames from just before and after the trigger with the incident; disarmed, nothing
of the household is recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from drivers.camera.feed import CameraFeed
from tests.conftest import Api, RunningHub, start_hub
from tests.peers import wait_until

CAMERA = "simulated-sim-camera-1"
DOOR = "simulated-sim-contact-1"


@pytest.fixture
async def quick_hub(tmp_path: Path) -> AsyncIterator[RunningHub]:
    config = tmp_path / "casahub.toml"
    config.write_text("[alarm]\nexit_delay = 0\nentry_delay = 0\n")
    running = await start_hub(tmp_path / "data", config)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def owner(quick_hub: RunningHub) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        api = Api(quick_hub.base, session)
        await api.login()
        yield api


def demo_feed(running: RunningHub) -> CameraFeed:
    feed: CameraFeed = running.daemon.drivers["simulated"].cameras()[0]
    return feed


async def test_an_armed_intrusion_keeps_photos_from_before_and_after(quick_hub: RunningHub, owner: Api) -> None:
    feed = demo_feed(quick_hub)
    status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
    assert status == 200 and body["mode"] == "armed_away", body
    await wait_until(lambda: "snapshots" in feed.needs, what="the ring buffer to start")
    first = feed.latest.seq if feed.latest else 0
    await wait_until(lambda: feed.latest is not None and feed.latest.seq >= first + 5, what="a few armed frames")
    await owner.trigger(DOOR)
    await wait_until(lambda: bool(quick_hub.hub.state.incidents), what="the intrusion")
    incident = next(iter(quick_hub.hub.state.incidents.values()))
    assert incident.kind == "intrusion"
    folder = quick_hub.data_dir / "snapshots" / incident.id

    # The frames before the trigger are stored at once (the alarm e-mail carries them), the ones after it later.
    def after_trigger() -> bool:
        cutoff = incident.opened_at * 1000
        return folder.is_dir() and any(int(p.stem.rpartition("-")[2]) > cutoff for p in folder.iterdir())

    await wait_until(after_trigger, timeout=20, what="the snapshots after the trigger")
    body = await owner.get(f"/api/v1/incidents/{incident.id}")
    shots = body["snapshots"]
    opened = datetime.fromisoformat(body["opened_at"]).timestamp()
    times = [datetime.fromisoformat(s["at"]).timestamp() for s in shots]
    assert any(t <= opened for t in times), (body["opened_at"], shots)
    assert any(t > opened for t in times), (body["opened_at"], shots)
    assert all(opened - 6 <= t <= opened + 7 for t in times)
    assert {s["camera"] for s in shots} == {CAMERA}
    async with owner.session.get(owner.base + shots[0]["url"]) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert (await response.read()).startswith(b"\xff\xd8")
    viewed = (await owner.get("/api/v1/events?kind=snapshot_viewed"))["items"]
    assert viewed[0]["actor"] == "demo" and viewed[0]["data"]["incident"] == incident.id
    # Only our own file names: no way out of the incident's folder.
    for name in ("..%2f..%2fcasahub.db", "%2e%2e", "x.jpg", "simulated-sim-camera-1-1.jpg"):
        status, _ = await owner.request("GET", f"/api/v1/incidents/{incident.id}/snapshots/{name}")
        assert status == 404, name


async def test_disarmed_nothing_is_recorded(quick_hub: RunningHub, owner: Api) -> None:
    feed = demo_feed(quick_hub)
    async with owner.session.get(f"{owner.base}/api/v1/cameras/{CAMERA}/stream") as response:
        assert response.status == 200  # someone watches: frames flow, and still nothing is kept
        first = feed.latest.seq if feed.latest else 0
        await owner.trigger(DOOR)  # disarmed: no intrusion
        await owner.trigger("simulated-sim-water-1")  # a 24h alarm: not an intrusion either
        await wait_until(lambda: feed.latest is not None and feed.latest.seq >= first + 4, what="frames")
        assert "snapshots" not in feed.needs
    incidents = (await owner.get("/api/v1/incidents"))["items"]
    assert [i["kind"] for i in incidents] == ["water"]
    assert (await owner.get(f"/api/v1/incidents/{incidents[0]['id']}"))["snapshots"] == []
    assert not (quick_hub.data_dir / "snapshots").exists()
