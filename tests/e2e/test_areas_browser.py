"""Areas on the dashboard (issue 17, item 2), in Debian's headless Chromium driven by Playwright,
against a running demo hub configured with two areas ([[areas]] Appartamento and Garage), on a
390 x 844 phone screen.

Zones: every zone says its areas; the owner moves the living room's motion sensor to the garage
in its settings dialog, and GET /api/v1/zones agrees. Home: the whole house in one line above,
then one card per area; somebody moving in the garage makes the garage not ready for away and
vacation, naming the zone, while the flat stays ready; arming the garage from its card (the keypad
names the area) arms the garage only; its card disarms it. Pairing: the window's form has the
area checkboxes, the first area checked; the installer sets its modes and puts it in the garage,
and GET /api/v1/zones agrees. A house with one area shows nothing about areas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Api, start_hub
from tests.e2e.test_dashboard_browser import Shots, browser_factory, keypad, login
from tests.e2e.test_modes_browser import PHONE, check_phone

__all__ = ["browser_factory"]  # the fixture, imported to be used here

MOTION = "simulated-sim-motion-1"
WINDOW = "simulated:sim-window-2"
CODE = "12345"  # the demo owner's alarm code
CONFIG = """[alarm]
exit_delay = 1

[[areas]]
id = "casa"
name = "Appartamento"

[[areas]]
id = "garage"
name = "Garage"
"""


async def zone(api: Api, zone_id: str) -> Any:
    return next(z for z in (await api.get("/api/v1/zones"))["items"] if z["id"] == zone_id)


def modes_of(system: dict[str, Any]) -> dict[str, str]:
    return {a["id"]: a["mode"] for a in system["areas"]}


async def test_two_areas_on_the_home_page_zones_and_pairing(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    config = tmp_path / "casahub.toml"
    config.write_text(CONFIG, encoding="utf-8")
    running = await start_hub(tmp_path / "data", config)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            motion = (await zone(api, MOTION))["name"]
            assert (await zone(api, MOTION))["areas"] == ["casa"], "a zone without areas is in the first"
            page = (await browser_factory("owner")).pages[0]
            await page.set_viewport_size(PHONE)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await login(page, running.base, "demo", "demo")

            # ---- zones: each says its areas; the motion sensor moves to the garage
            await page.click('#menu a[href="/zones"]')
            item = page.locator(f'[data-zone="{MOTION}"]')
            await expect(item.locator(".zone-protection")).to_contain_text("Aree: Appartamento")
            await page.click(f"#config-{MOTION}")
            areas = page.locator("#cfg-areas")
            await expect(areas.get_by_label("Appartamento", exact=True)).to_be_checked()
            await expect(areas.get_by_label("Garage", exact=True)).not_to_be_checked()
            await areas.get_by_label("Appartamento", exact=True).uncheck()
            await page.click("#ask-yes")
            await expect(page.locator("#ask-error")).to_have_text("Scegli almeno un'area.")
            await areas.get_by_label("Garage", exact=True).check()
            await check_phone(page, shots, "zone-areas-dialog")
            await page.click("#ask-yes")
            await expect(page.locator("dialog.ask")).to_have_count(0)
            await expect(item.locator(".zone-protection")).to_contain_text("Aree: Garage")
            assert (await zone(api, MOTION))["areas"] == ["garage"]
            await check_phone(page, shots, "zones-areas")

            # ---- home: the whole house above, one card per area
            await page.click('#menu a[href="/"]')
            flat, garage = page.locator('.area[data-area="casa"]'), page.locator('.area[data-area="garage"]')
            await expect(page.locator(".area")).to_have_count(2)
            await expect(flat.locator(".area-name")).to_have_text("Appartamento")
            await expect(garage.locator(".area-name")).to_have_text("Garage")
            await expect(page.locator("#mode")).to_have_text("Disinserito")
            await expect(page.locator("#mode-hint")).to_have_text("Tutte le aree")
            await expect(page.locator("#area-lines")).to_contain_text("Garage: Disinserito")
            await expect(page.locator(".arm-modes")).to_have_count(0)  # the house's tiles give way to the cards
            for area in (flat, garage):
                await expect(area.locator(".area-mode")).to_have_text("Disinserito")
                await expect(area.locator(".area-ready")).to_have_text("Pronta per l'inserimento")
                await expect(area.locator(".area-arm-mode")).to_have_count(4)
            await check_phone(page, shots, "home-two-areas")

            # ---- somebody in the garage: the garage says why, the flat stays ready
            await api.trigger(MOTION)
            await expect(garage.locator(".area-why")).to_have_text(
                f"Non pronta per Fuori casa, Vacanza: {motion} (aperta)"
            )
            await expect(flat.locator(".area-ready")).to_be_visible()
            await check_phone(page, shots, "home-garage-not-ready")
            await api.trigger(MOTION, False)
            await expect(garage.locator(".area-ready")).to_be_visible()

            # ---- arm the garage from its card: only the garage is armed
            await page.click("#area-garage-arm-away")
            await expect(page.locator("#keypad-title")).to_have_text("Codice per inserire (fuori casa) · Garage")
            await keypad(page, CODE)
            await expect(garage.locator(".area-mode")).to_have_text("Inserito (fuori casa)", timeout=10_000)
            await expect(flat.locator(".area-mode")).to_have_text("Disinserito")
            assert modes_of(await api.get("/api/v1/system")) == {"casa": "disarmed", "garage": "armed_away"}
            await expect(page.locator("#mode")).to_have_text("Inserito in parte")
            await expect(page.locator("#area-lines")).to_contain_text("Garage: Inserito (fuori casa)")
            await expect(page.locator("#disarm")).to_have_text("Disinserisci tutto")
            await expect(garage.locator("#area-garage-arm-away")).to_have_count(0)  # already in it
            await expect(flat.locator(".area-arm-mode")).to_have_count(4)
            await check_phone(page, shots, "home-garage-armed")
            await page.click("#lang")
            await expect(garage.locator(".area-mode")).to_have_text("Armed (away)")
            await expect(page.locator("#mode")).to_have_text("Partly armed")
            await check_phone(page, shots, "home-garage-armed-en")
            await page.click("#lang")

            # ---- its card disarms it
            await page.click("#area-garage-disarm")
            await expect(page.locator("#keypad-title")).to_have_text("Codice per disinserire · Garage")
            await keypad(page, CODE)
            await expect(garage.locator(".area-mode")).to_have_text("Disinserito")
            assert modes_of(await api.get("/api/v1/system")) == {"casa": "disarmed", "garage": "disarmed"}

            # ---- pairing: modes and areas set in the form
            await page.click("#nav-pairing")
            window = page.locator(f'[data-candidate="{WINDOW}"]')
            await window.locator(".pair-open").click()
            await window.get_by_label("Nome", exact=True).fill("Finestra garage")
            choice = window.locator("[id$=-areas]")
            await expect(choice).to_be_visible()
            await expect(choice.get_by_label("Appartamento", exact=True)).to_be_checked()
            await expect(choice.get_by_label("Garage", exact=True)).not_to_be_checked()
            modes = window.locator("[id$=-modes]")
            await modes.get_by_label("Casa", exact=True).uncheck()
            await modes.get_by_label("Notte", exact=True).uncheck()
            await choice.get_by_label("Appartamento", exact=True).uncheck()
            await window.get_by_role("button", name="Abbina", exact=True).click()
            await expect(window.get_by_role("alert")).to_contain_text("Scegli almeno un'area.")
            await choice.get_by_label("Garage", exact=True).check()
            await check_phone(page, shots, "pairing-areas")
            await window.get_by_role("button", name="Abbina", exact=True).click()
            await expect(page.locator("#pair-result")).to_have_text("Finestra garage abbinato.")
            paired = await zone(api, "simulated-sim-window-2")
            assert (paired["modes"], paired["areas"]) == (["away", "vacation"], ["garage"]), paired
            assert not errors, errors
    finally:
        await running.stop()


async def test_one_area_shows_nothing_about_areas(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    running = await start_hub(tmp_path / "data")
    try:
        page = (await browser_factory("owner")).pages[0]
        await page.set_viewport_size(PHONE)
        await login(page, running.base, "demo", "demo")
        await expect(page.locator("#arm-away")).to_be_visible()
        await expect(page.locator(".area")).to_have_count(0)
        await page.click('#menu a[href="/zones"]')
        await expect(page.locator(f'[data-zone="{MOTION}"] .zone-protection')).not_to_contain_text("Aree")
        await page.click(f"#config-{MOTION}")
        await expect(page.locator("#cfg-modes")).to_be_visible()
        await expect(page.locator("#cfg-areas")).to_have_count(0)
        await page.click("#ask-no")
        await page.click("#nav-pairing")
        window = page.locator(f'[data-candidate="{WINDOW}"]')
        await window.locator(".pair-open").click()
        await expect(window.locator("[id$=-modes]")).to_be_visible()
        await expect(window.locator("[id$=-areas]")).to_be_hidden()
    finally:
        await running.stop()
