"""Installer access and the walk-test banner, in Debian's headless Chromium (Playwright).

The owner of a demo hub, on a 360 px phone screen, grants installer access in Settings (8 hours
unless chosen otherwise), sees it listed with their name and revokes it: the token stops working.
Then a member, on the home page, sees the banner of the installer's walk test with its end time
and stops it with the banner's button. Every page passes the dashboard test's checks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Api, start_hub
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page, login
from tests.peers import wait_until
from tests.security.conftest import accounts_of

__all__ = ["browser_factory"]  # the fixture, imported to be used here

WALKTEST = "/api/v1/pairing/walktest"


async def bearer_status(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as plain:
        return await Api(base, plain).request(method, path, body, headers={"Authorization": f"Bearer {token}"})


async def test_owner_grants_and_revokes_access_and_a_member_stops_the_walk_test(
    tmp_path: Path, browser_factory: Any
) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data")
    base = running.base
    try:
        await asyncio.to_thread(accounts_of(running).add_user, "mia", "member-pass", "member")
        owner_page = (await browser_factory("owner")).pages[0]
        await login(owner_page, base, "demo", "demo")

        # ---- Settings: grant installer access (8 hours by default), listed with who granted it
        await owner_page.click('#menu a[href="/settings"]')
        await owner_page.click("#settings-installer")  # Settings' sub-page (issue 18)
        await expect(owner_page.locator("#s-ttl")).to_have_value("28800")
        await owner_page.click("#make-token")
        token = (await owner_page.locator("#token-text").text_content() or "").strip()
        assert token.startswith("chb_")
        await expect(owner_page.locator("#installer-token")).to_contain_text("non verrà mostrato di nuovo")
        token_id = token.split("_")[1]
        line = owner_page.locator(f'#tokens li[data-token="{token_id}"]')
        await expect(line).to_contain_text("concesso da demo")
        assert token not in (await owner_page.locator("#tokens").text_content() or "")
        await check_page(owner_page, shots, "settings-installer-access")

        # ---- the installer starts a walk test with it
        status, started = await bearer_status(base, token, "POST", WALKTEST, {"minutes": 10})
        assert status == 200, started

        # ---- a member sees the banner with the end time on the home page, and stops it there
        member_page = (await browser_factory("member")).pages[0]
        await login(member_page, base, "mia", "member-pass")
        banner = member_page.locator("#walktest-banner")
        await expect(banner).to_contain_text("allarmi disattivati fino alle")
        stop = member_page.locator("#walktest-banner-stop")
        await expect(stop).to_be_visible()
        await check_page(member_page, shots, "walktest-banner-member")
        await stop.click()
        await expect(banner).to_be_hidden()
        await wait_until(lambda: running.hub.state.walk_test is None, what="the walk test stopped")

        # ---- the owner revokes the access: it stops working and leaves the list
        await line.get_by_role("button", name="Revoca").click()
        await expect(owner_page.locator("#tokens-status")).to_have_text("Accesso revocato: non funziona più.")
        await expect(line).to_have_count(0)
        await expect(owner_page.locator("#tokens")).to_contain_text("Nessun accesso attivo.")
        status, _ = await bearer_status(base, token, "GET", "/api/v1/pairing/candidates")
        assert status == 401
    finally:
        await running.stop()
