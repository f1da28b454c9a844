"""The alarm timings in Settings and live zones, in Debian's headless Chromium (Playwright).

The owner of a demo hub, on a 360 px phone screen: changes the exit delay to 20 s, sees it
saved, reloads and still finds 20 (and the hub arms with it); an entry delay of 60 s is saved
with the EN 50131 warning, in Italian and then in English; the reset gives the installer's
values back. On the Zones page a zone triggered through the API turns active without a reload,
from the `zone` message of the live stream. Every page passes the checks of the dashboard test
(screenshot, every control labelled, no horizontal scroll).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Api, start_hub
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page, login
from tests.peers import wait_until

__all__ = ["browser_factory"]  # the fixture, imported to be used here

WATER = "simulated-sim-water-1"
SETTINGS = "/api/v1/system/settings"


async def test_delays_in_settings_and_live_zones(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data")
    base = running.base
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(base, session)
            await api.login()
            context = await browser_factory("owner")
            page = context.pages[0] if context.pages else await context.new_page()
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            await login(page, base, "demo", "demo")

            # ---- the exit delay: 10 s from the demo's config, changed to 20 s and saved
            await page.click('#menu a[href="/settings"]')
            await page.click("#settings-delays")  # Settings' sub-page (issue 18)
            exit_delay = page.get_by_label("Ritardo di uscita (secondi)")
            await expect(exit_delay).to_have_value("10")
            await expect(page.locator("#d-exit_delay-source")).to_have_text("Valore dell'installatore.")
            await check_page(page, shots, "settings-delays")
            await exit_delay.fill("20")
            await page.get_by_role("button", name="Salva i tempi").click()
            await expect(page.locator("#d-status")).to_have_text("Tempi salvati.")
            await expect(page.locator("#d-exit_delay-source")).to_contain_text("Modificato qui")
            body = await api.get(SETTINGS)
            assert body["settings"]["exit_delay"] == 20 and body["source"]["exit_delay"] == "dashboard"
            assert body["settings"]["entry_delay"] == 10  # only what changed was sent

            # ---- after a reload it is still 20
            await page.reload()
            await expect(page.get_by_label("Ritardo di uscita (secondi)")).to_have_value("20")

            # ---- an entry delay of 60 s is saved, with the EN 50131 warning
            await page.get_by_label("Ritardo di ingresso (secondi)").fill("60")
            await page.get_by_role("button", name="Salva i tempi").click()
            warning = page.locator('#d-warnings [data-warning="entry_delay_long"]')
            await expect(warning).to_contain_text("60 s supera i 45 s")
            assert (await api.get(SETTINGS))["settings"]["entry_delay"] == 60
            await check_page(page, shots, "settings-delays-warning")
            await page.click("#lang")
            await expect(page.locator('#d-warnings [data-warning="entry_delay_long"]')).to_contain_text(
                "60 s is over the 45 s"
            )
            await expect(page.get_by_label("Exit delay (seconds)")).to_have_value("20")
            await check_page(page, shots, "settings-delays-en")

            # ---- a value the hub cannot take is refused in the page, nothing is sent
            await page.get_by_label("Siren time (seconds)").fill("-5")
            await page.get_by_role("button", name="Save timings").click()
            await expect(page.locator("#d-error")).to_contain_text("Siren time")
            assert (await api.get(SETTINGS))["settings"]["siren_time"] == 180

            # ---- back to the installer's values
            await page.get_by_role("button", name="Reset to installer values").click()
            await expect(page.locator("#d-status")).to_have_text("Installer values restored.")
            await expect(page.get_by_label("Exit delay (seconds)")).to_have_value("10")
            await expect(page.locator("#d-warnings li")).to_have_count(0)
            assert set((await api.get(SETTINGS))["source"].values()) == {"config"}
            await page.click("#lang")  # back to Italian

            # ---- the Zones page: a zone goes active live, from its `zone` message
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url) if "/api/v1/zones" in r.url else None)
            await page.click('#menu a[href="/zones"]')
            zone = page.locator(f'[data-zone="{WATER}"]')
            await expect(zone).to_contain_text("a riposo")
            before = len(requests)
            assert before > 0, "the page read the zones"
            await api.trigger(WATER)
            await expect(zone.locator(".badge").first).to_have_text("attiva")
            assert len(requests) == before, "the zone was drawn from the live message, not read again"
            await check_page(page, shots, "zones-live")
            await api.trigger(WATER, False)
            await expect(zone.locator(".badge").first).to_have_text("a riposo")

            # Telemetry (battery, signal, last seen) is read again every minute while the page is open.
            await page.clock.install()
            await page.click('#menu a[href="/"]')
            await page.click('#menu a[href="/zones"]')
            await expect(zone).to_be_visible()
            await page.evaluate("() => document.activeElement?.blur()")
            # The jump also makes the stream look silent; keep it open (a reconnection re-reads the
            # zones too), so only the minute's timer can read them again.
            await page.evaluate("() => { WebSocket.prototype.close = () => {}; }")
            read = len(requests)
            await page.clock.fast_forward("01:01")
            await wait_until(lambda: len(requests) > read, what="the minute's re-read of the zones")

            assert not console_errors, console_errors
    finally:
        await running.stop()
