"""The Camera page's privacy toggle in a real browser (Debian's headless Chromium through Playwright)
on the demo hub: the owner sees "record while disarmed" off with its explanation, turning it on
reaches the hub (the ring buffer starts while disarmed) and a reload shows it on; a member sees
the cameras but no toggle. Fixtures and flags are those of test_dashboard_browser.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from drivers.camera.feed import CameraFeed
from tests.conftest import start_hub
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page, login  # noqa: F401 (fixture)
from tests.peers import wait_until
from tests.security.conftest import accounts_of

CAMERA = "simulated-sim-camera-1"


async def test_the_owner_turns_on_recording_while_disarmed(tmp_path: Path, browser_factory: Any) -> None:  # noqa: F811
    from playwright.async_api import expect

    running = await start_hub(tmp_path / "data")
    feed: CameraFeed = running.daemon.drivers["simulated"].cameras()[0]
    try:
        context = await browser_factory("owner")
        page = context.pages[0] if context.pages else await context.new_page()
        await login(page, running.base, "demo", "demo")
        await page.goto(running.base + "/camera")
        toggle = page.locator("#camera-record-disarmed")
        await expect(toggle).to_be_visible()
        await expect(toggle).not_to_be_checked()
        await expect(page.locator("label[for=camera-record-disarmed]")).to_contain_text("disinserito")
        await expect(page.locator("#camera-record-help")).to_contain_text("non si registra nulla")
        await check_page(page, Shots(tmp_path / "screenshots"), "camera-privacy")
        assert "snapshots" not in feed.needs
        await toggle.click()
        await wait_until(lambda: "snapshots" in feed.needs, what="the ring buffer while disarmed")
        assert running.hub.state.mode == "disarmed"
        await page.reload()
        await expect(page.locator("#camera-record-disarmed")).to_be_checked()

        # A member watches the cameras but does not get the owner's toggle.
        accounts = accounts_of(running)
        await asyncio.to_thread(accounts.add_user, "lia", "member-pass-12", "member")
        member = await browser_factory("member")
        page = member.pages[0] if member.pages else await member.new_page()
        await login(page, running.base, "lia", "member-pass-12")
        await page.goto(running.base + "/camera")
        await expect(page.locator(f'figure[data-camera="{CAMERA}"]')).to_be_visible()
        await expect(page.locator("#camera-record-disarmed")).to_have_count(0)
    finally:
        await running.stop()
