"""Schedules in Settings, in Debian's headless Chromium (Playwright; hub/web/static/settings.js).

The owner of a demo hub adds "Notte" (arm in night mode at 23:30, Monday to Friday) and sees it
listed in words; adds "Mattina" (disarm the night at 07:00, with the alarm code); deletes
"Notte" after confirming; the hub's API agrees at every step. The page passes the checks of the
dashboard test (screenshot, every control labelled, no horizontal scroll), in Italian and English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Api, start_hub
from tests.e2e.pages import owner_page
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page

__all__ = ["browser_factory"]  # the fixture, imported to be used here

CODE = "12345"  # the demo owner's alarm code


async def test_add_and_delete_a_schedule_in_settings(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            page, console_errors = await owner_page(browser_factory, running.base)
            await page.click('#menu a[href="/settings"]')
            await page.click("#settings-schedules")  # Settings' sub-page (issue 18)
            await expect(page.locator("#schedules")).to_contain_text("Nessun programma.")
            form = page.locator("#sch-form")  # the users' code windows have days of their own

            # ---- arm night at 23:30, Monday to Friday
            await form.get_by_label("Nome (per esempio: Notte)").fill("Notte")
            await form.get_by_label("Cosa fare").select_option("arm")
            await form.get_by_label("Modalità", exact=True).select_option("night")
            await form.get_by_label("Ora", exact=True).fill("23:30")
            for day in ("lun", "mar", "mer", "gio", "ven"):
                await form.get_by_label(day, exact=True).check()
            await expect(form.get_by_label("Il tuo codice di allarme (serve per disinserire a orario)")).to_be_hidden()
            await form.get_by_role("button", name="Salva il programma").click()
            await expect(page.locator("#sch-status")).to_have_text("Programma Notte salvato.")
            items = (await api.get("/api/v1/schedules"))["items"]
            night = page.locator(f'#schedules li[data-schedule="{items[0]["id"]}"]')
            await expect(night).to_contain_text("Notte: Inserisci (notte) alle 23:30, lun, mar, mer, gio, ven")
            assert [(s["name"], s["action"], s["mode"], s["at"], s["weekdays"]) for s in items] == [
                ("Notte", "arm", "night", "23:30", ["mon", "tue", "wed", "thu", "fri"])
            ]
            await check_page(page, shots, "settings-schedules")

            # ---- disarm the night at 07:00: the form asks for the code
            await form.get_by_label("Nome (per esempio: Notte)").fill("Mattina")
            await form.get_by_label("Cosa fare").select_option("disarm")
            await form.get_by_label("Disinserisci solo se inserito in").select_option("night")
            await form.get_by_label("Ora", exact=True).fill("07:00")
            await form.get_by_label("Il tuo codice di allarme (serve per disinserire a orario)").fill(CODE)
            await form.get_by_role("button", name="Salva il programma").click()
            await expect(page.locator("#sch-status")).to_have_text("Programma Mattina salvato.")
            await expect(page.locator("#schedules li", has_text="Mattina")).to_contain_text(
                "Disinserisci (notte) alle 07:00, tutti i giorni"
            )

            # ---- delete "Notte", after confirming
            await page.get_by_role("button", name="Rimuovi il programma Notte").click()
            await night.get_by_role("button", name="Sì, rimuovi").click()
            await expect(page.locator("#sch-status")).to_have_text("Programma Notte rimosso.")
            await expect(night).to_have_count(0)
            assert [s["name"] for s in (await api.get("/api/v1/schedules"))["items"]] == ["Mattina"]

            # ---- in English
            await page.click("#lang")
            await expect(page.locator("#schedules li", has_text="Mattina")).to_contain_text(
                "Disarm (night) at 07:00, every day"
            )
            await check_page(page, shots, "settings-schedules-en")
            assert not console_errors, console_errors
    finally:
        await running.stop()
