"""The Camera page in a real browser (Debian's headless Chromium through Playwright) on the demo hub:
the menu shows "Telecamere", the page shows the demo camera's live MJPEG picture (the <img> has
decoded frames) with its name, leaving the page closes the stream, and an installer sees the
list without a picture. Fixtures and flags are those of test_dashboard_browser.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from drivers.camera.feed import CameraFeed
from tests.conftest import Api, start_hub
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page, login  # noqa: F401 (fixture)
from tests.peers import wait_until
from tests.security.conftest import accounts_of

CAMERA = "simulated-sim-camera-1"
FRAME_LOADED_JS = "(img) => img.complete && img.naturalWidth > 0"


async def test_camera_page_shows_live_frames(tmp_path: Path, browser_factory: Any) -> None:  # noqa: F811
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data")
    feed: CameraFeed = running.daemon.drivers["simulated"].cameras()[0]
    try:
        context = await browser_factory("owner")
        page = context.pages[0] if context.pages else await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await login(page, running.base, "demo", "demo")
        link = page.locator("#nav-camera")
        await expect(link).to_be_visible()
        await expect(link).to_have_text("Telecamere")
        await link.click()
        await page.wait_for_url(running.base + "/camera")
        figure = page.locator(f'figure[data-camera="{CAMERA}"]')
        await expect(figure).to_contain_text("Telecamera")
        await expect(figure.locator(".badge")).to_have_text("In diretta")
        img = figure.locator("img")
        await img.wait_for()
        await page.wait_for_function(
            "(sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }",
            arg=f'figure[data-camera="{CAMERA}"] img',
            timeout=15_000,
        )
        assert await img.evaluate("(i) => [i.naturalWidth, i.naturalHeight]") == [320, 240]
        seq = feed.latest.seq if feed.latest else 0
        # Live: the hub keeps feeding the picture while the page is open.
        await wait_until(lambda: feed.latest is not None and feed.latest.seq >= seq + 2, what="live frames")
        assert any(n.startswith("viewer:") for n in feed.needs)
        await check_page(page, shots, "camera")
        # Leaving the page ends the stream: the hub stops drawing the demo picture.
        await page.click('#menu a[href="/"]')
        await page.wait_for_url(running.base + "/")
        await wait_until(lambda: not feed.needs, timeout=15, what="the stream to close")
        await wait_until(lambda: not feed.connected, timeout=15, what="the upstream to close")
        assert not [e for e in errors if "camera" in e.lower()], errors

        # An installer sees the camera listed, and no picture.
        accounts = accounts_of(running)
        await asyncio.to_thread(accounts.add_user, "ivo", "installer-pass-1", "installer")
        installer = await browser_factory("installer")
        page = installer.pages[0] if installer.pages else await installer.new_page()
        await login(page, running.base, "ivo", "installer-pass-1")
        await page.goto(running.base + "/camera")
        figure = page.locator(f'figure[data-camera="{CAMERA}"]')
        await expect(figure).to_contain_text("Telecamera")
        await expect(figure.locator("img")).to_have_count(0)
        await expect(page.locator("main")).to_contain_text("solo alla famiglia")
    finally:
        await running.stop()


async def test_incident_page_shows_the_verification_photos(tmp_path: Path, browser_factory: Any) -> None:  # noqa: F811
    from playwright.async_api import expect

    config = tmp_path / "casahub.toml"
    config.write_text("[alarm]\nexit_delay = 0\nentry_delay = 0\n")
    running = await start_hub(tmp_path / "data", config)
    feed: CameraFeed = running.daemon.drivers["simulated"].cameras()[0]
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            owner = Api(running.base, session)
            await owner.login()
            status, body = await owner.post("/api/v1/system/arm", {"mode": "away", "code": "12345"})
            assert status == 200, body
            await wait_until(lambda: "snapshots" in feed.needs, what="the ring buffer to start")
            await owner.trigger("simulated-sim-contact-1")
            await wait_until(lambda: bool(running.hub.state.incidents), what="the intrusion")
            incident = next(iter(running.hub.state.incidents.values()))
            folder = running.data_dir / "snapshots" / incident.id
            await wait_until(lambda: folder.is_dir() and any(folder.iterdir()), timeout=20, what="the snapshots")
            assert (await owner.get(f"/api/v1/incidents/{incident.id}"))["snapshots"]
        context = await browser_factory("owner")
        page = context.pages[0] if context.pages else await context.new_page()
        await login(page, running.base, "demo", "demo")
        await page.goto(f"{running.base}/incidents/{incident.id}")
        photos = page.locator("#snapshots img")
        await expect(photos.first).to_be_visible()
        assert await photos.count() >= 1
        await page.wait_for_function(
            "() => [...document.querySelectorAll('#snapshots img')].every((i) => i.complete && i.naturalWidth > 0)",
            timeout=15_000,
        )
        await expect(page.locator("main")).to_contain_text("Foto dell'allarme")
        shots_dir = Shots(tmp_path / "screenshots")
        await check_page(page, shots_dir, "incident-photos")
    finally:
        await running.stop()
