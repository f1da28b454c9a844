"""Armed modes and zone modes on the dashboard (issue 17, items 1 and 5), in Debian's headless
Chromium driven by Playwright, against a running demo hub, on a 390 x 844 phone screen.

Home: the four modes ("Casa", "Notte", "Fuori casa", "Vacanza") as tiles that say what each is
for; a moving person in the living room makes away and vacation not ready, each tile saying
which zone and why, while night stays ready; the owner arms night with the keypad and sees
"Inserito (notte)" with the zones watched and not watched named; History words it. Zones: the
owner gives the motion zone the night mode too, through a dialog that also sets behaviour, chime
and the sensor watch days, and GET /api/v1/zones agrees; no mode at all is refused by the hub in
words, so is a change sent after the house was armed; an installer has the same settings.
Every page: screenshot, every control labelled, no horizontal scroll, no button text cut off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Api, start_hub
from tests.e2e.pages import owner_page
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page, keypad, login

__all__ = ["browser_factory"]  # the fixture, imported to be used here

PHONE = {"width": 390, "height": 844}
DOOR = "simulated-sim-contact-1"
MOTION = "simulated-sim-motion-1"
CODE = "12345"  # the demo owner's alarm code
# Elements whose content is wider than their box (text cut off or spilling out), and boxes
# that reach past the right edge of the screen.
CUT_OFF_JS = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("main *, dialog[open] *")]
    .filter((el) => el.getClientRects().length)
    .filter((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible"
      || el.getBoundingClientRect().right > width + 0.5)
    .map((el) => el.outerHTML.slice(0, 120));
}"""


async def check_phone(page: Any, shots: Shots, name: str) -> None:
    """The dashboard test's checks at 390 px, and nothing cut off or out of the screen."""
    await check_page(page, shots, name)
    cut = await page.evaluate(CUT_OFF_JS)
    assert not cut, (name, cut)


async def zone(api: Api, zone_id: str) -> Any:
    return next(z for z in (await api.get("/api/v1/zones"))["items"] if z["id"] == zone_id)


async def test_arm_night_from_the_home_page(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            status, body = await api.request("PATCH", "/api/v1/system/settings", {"exit_delay": 1})
            assert status == 200, body
            door, motion = (await zone(api, DOOR))["name"], (await zone(api, MOTION))["name"]
            assert (await zone(api, MOTION))["modes"] == ["away", "vacation"], "the demo's motion: interior"
            page, errors = await owner_page(browser_factory, running.base, viewport=PHONE)

            # ---- disarmed: four tiles, each with what it is for; every mode ready
            await expect(page.locator("#mode")).to_have_text("Disinserito")
            for mode, name, hint in (
                ("home", "Casa", "Siete in casa e svegli"),
                ("night", "Notte", "Andate a dormire"),
                ("away", "Fuori casa", "Nessuno in casa"),
                ("vacation", "Vacanza", "Via per qualche giorno"),
            ):
                await expect(page.locator(f"#arm-{mode} .arm-name")).to_have_text(name)
                await expect(page.locator(f"#arm-{mode} .arm-hint")).to_have_text(hint)
            await expect(page.locator("#ready")).to_have_text("Pronto per l'inserimento")
            await expect(page.locator(".arm-why")).to_have_count(0)
            await check_phone(page, shots, "home-modes")

            # ---- somebody moves in the living room: away and vacation say why, night is ready
            await api.trigger(MOTION)
            await expect(page.locator("#arm-why-away")).to_have_text(f"Non pronto: {motion} (aperta)")
            await expect(page.locator("#arm-why-vacation")).to_have_text(f"Non pronto: {motion} (aperta)")
            await expect(page.locator("#arm-why-night")).to_have_count(0)
            await expect(page.locator("#arm-away")).to_have_attribute("aria-describedby", "arm-why-away")
            system = await api.get("/api/v1/system")
            assert system["ready_modes"] == {"home": True, "away": False, "night": True, "vacation": False}
            await check_phone(page, shots, "home-away-not-ready")

            # ---- arm night with the code: "Inserito (notte)", the zones watched and not
            await page.click("#arm-night")
            await expect(page.locator("#keypad-title")).to_have_text("Codice per inserire (notte)")
            await keypad(page, CODE)
            await expect(page.locator("#mode")).to_have_text("Inserito (notte)")
            assert (await api.get("/api/v1/system"))["mode"] == "armed_night"
            await expect(page.locator("#mode-hint")).to_have_text(
                "Buonanotte: danno l'allarme solo le zone sorvegliate di notte."
            )
            await expect(page.locator("#mode-zones")).to_contain_text(f"Sorvegliate: {door}")
            await expect(page.locator("#mode-zones")).to_contain_text(f"Non sorvegliate: {motion}")
            await expect(page.locator("#disarm")).to_be_visible()
            await expect(page.locator("#arm-night")).to_have_count(0)  # already in it; the others switch
            await expect(page.locator("#arm-home")).to_be_visible()
            assert not (await api.get("/api/v1/incidents?state=active"))["items"], "motion is not watched at night"
            await check_phone(page, shots, "home-armed-night")

            # ---- in English, then History words it
            await page.click("#lang")
            await expect(page.locator("#mode")).to_have_text("Armed (night)")
            await expect(page.locator("#arm-vacation .arm-name")).to_have_text("Vacation")
            await check_phone(page, shots, "home-armed-night-en")
            await page.click("#lang")
            await page.click('#menu a[href="/history"]')
            await expect(page.locator("main")).to_contain_text("Richiesta di inserimento (notte)")
            await expect(page.locator("main")).to_contain_text("Impianto: Inserito (notte)")
            await page.click('#menu a[href="/"]')
            await page.click("#disarm")
            await keypad(page, CODE)
            await expect(page.locator("#mode")).to_have_text("Disinserito")
            await api.trigger(MOTION, False)
            assert not errors, errors
    finally:
        await running.stop()


async def test_zone_modes_on_the_zones_page(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            motion = (await zone(api, MOTION))["name"]
            page, errors = await owner_page(browser_factory, running.base, viewport=PHONE)
            await page.click('#menu a[href="/zones"]')
            item = page.locator(f'[data-zone="{MOTION}"]')
            await expect(item.locator(".zone-protection")).to_contain_text("Sorvegliata in: Fuori casa, Vacanza")
            await check_phone(page, shots, "zones-modes")

            # ---- the motion zone watched at night too, with a sensor watch of 30 days
            await page.get_by_role("button", name=f"Impostazioni di {motion}").click()
            dialog = page.get_by_role("alertdialog")
            await expect(dialog.locator("#ask-title")).to_have_text(f"Impostazioni di «{motion}»")
            await expect(dialog.locator("#cfg-mode-away")).to_be_checked()
            await expect(dialog.locator("#cfg-mode-night")).not_to_be_checked()
            await expect(dialog.locator("#cfg-behaviour")).to_have_value((await zone(api, MOTION))["behaviour"])
            await check_phone(page, shots, "zones-settings-dialog")
            # The dialog fits the screen (it scrolls inside if it must): what the phone shows.
            await page.screenshot(path=str(shots.directory / "zones-settings-dialog-viewport.png"))
            box = await dialog.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
            await dialog.get_by_label("Notte: andate a dormire").check()
            await dialog.locator("#cfg-watch").fill("30")
            await dialog.get_by_role("button", name="Salva").click()
            await expect(dialog).to_have_count(0)
            saved = await zone(api, MOTION)
            assert (saved["modes"], saved["watch_days"], saved["home"]) == (["away", "night", "vacation"], 30, False)
            await expect(item.locator(".zone-protection")).to_contain_text("Sorvegliata in: Notte, Fuori casa, Vacanza")
            await expect(item.locator(".zone-protection")).to_contain_text("avviso se non segnala nulla per 30 giorni")

            # ---- no mode at all: the hub refuses, in words, and nothing changes
            await page.get_by_role("button", name=f"Impostazioni di {motion}").click()
            for mode in ("home", "night", "away", "vacation"):
                await dialog.locator(f"#cfg-mode-{mode}").uncheck()
            await dialog.get_by_role("button", name="Salva").click()
            await expect(dialog.locator("#ask-error")).to_have_text(
                "Scegli almeno una modalità: una zona che nessuna modalità sorveglia non darebbe mai l'allarme."
            )
            await check_phone(page, shots, "zones-settings-no-mode")
            assert (await zone(api, MOTION))["modes"] == ["away", "night", "vacation"]

            # ---- the house armed meanwhile: refused in words; the button is locked
            await dialog.locator("#cfg-mode-home").check()
            status, body = await api.post("/api/v1/system/arm", {"mode": "away", "code": CODE})
            assert status == 200, body
            await dialog.get_by_role("button", name="Salva").click()
            await expect(dialog.locator("#ask-error")).to_have_text(
                "Disinserisci l'impianto prima di modificare le zone."
            )
            await dialog.get_by_role("button", name="Annulla").click()
            await expect(page.locator(f'[id="config-{MOTION}"]')).to_be_disabled()
            assert "home" not in (await zone(api, MOTION))["modes"]
            status, body = await api.post("/api/v1/system/disarm", {"code": CODE})
            assert status == 200, body
            await expect(page.locator(f'[id="config-{MOTION}"]')).to_be_enabled()

            # ---- the installer has the same settings (and no exclusion buttons)
            user = {"username": "ines", "password": "installer-pass", "role": "installer"}
            status, body = await api.post("/api/v1/users", user)
            assert status in (200, 201), body
            installer = (await browser_factory("installer")).pages[0]
            await installer.set_viewport_size(PHONE)
            await login(installer, running.base, "ines", "installer-pass")
            await installer.click('#menu a[href="/zones"]')
            await installer.get_by_role("button", name=f"Impostazioni di {motion}").click()
            ask = installer.get_by_role("alertdialog")
            await ask.locator("#cfg-mode-night").uncheck()
            await ask.locator("#cfg-chime").check()
            await ask.get_by_role("button", name="Salva").click()
            await expect(ask).to_have_count(0)
            saved = await zone(api, MOTION)
            assert (saved["modes"], saved["chime"]) == (["away", "vacation"], True)
            await expect(installer.locator(f'[id="bypass-{MOTION}"]')).to_have_count(0)
            await check_phone(installer, shots, "zones-installer")
            # The browser logs the two refusals above (no mode, armed); nothing else went wrong.
            assert [e for e in errors if not e.startswith("Failed to load resource")] == [], errors
            assert len(errors) == 2, errors
    finally:
        await running.stop()
