"""Sirens and the water valve on the dashboard, in headless Chromium (issue 16), on the demo hub.

The owner on a phone screen: a leak triggered in the demo closes the valve and the home page says
so ("Acqua chiusa", in amber, with "Riapri l'acqua"); the owner reopens it with the code on the
keypad. Armed, an instant zone sounds the alarm: "La sirena suona" shows only while a siren does,
and goes when the keypad disarms. The pairing page lists the outputs with "Prova", the walk test
lists them to try, the history names their events. Each step is a screenshot, checked on its
pixels too (the valve's block amber, the siren's red), not only in the DOM.

If the demo kit has no siren or valve (drivers/simulated.py OUTPUT_KIT, paired by the daemon), the
test makes them itself with OutputUpsert and no device, and plays the device's answers.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import aiohttp

from alarms.model import OutputReported, OutputUpsert
from tests.conftest import Api, RunningHub, start_hub
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page, keypad, login, wait_until

__all__ = ["browser_factory"]  # the dashboard test's fixture: a fresh Chromium profile per user

WATER = "simulated-sim-water-1"
CAMERA = "simulated-sim-camera-1"  # an instant zone: armed, it sounds the alarm at once
AMBER = (0xFE, 0xF3, 0xC7)  # style.css --warn-bg: a valve a leak closed
RED = (0x99, 0x1B, 0x1B)  # style.css --bad: a siren sounding


async def outputs_of(running: RunningHub) -> tuple[str, str, bool]:
    """(siren id, valve id, simulated): the demo kit's, else made here (no device: the test answers)."""
    state = running.hub.state
    siren = next((o.id for o in state.outputs.values() if o.kind == "siren" and o.device), None)
    valve = next((o.id for o in state.outputs.values() if o.kind == "valve" and o.device), None)
    if siren and valve:
        return siren, valve, True
    await running.hub.submit(OutputUpsert(id="e2e-siren", name="Sirena interna", kind="siren", room="Ingresso"))
    await running.hub.submit(OutputUpsert(id="e2e-valve", name="Valvola acqua", kind="valve", room="Cucina"))
    return "e2e-siren", "e2e-valve", False


async def colour_share(element: Any, rgb: tuple[int, int, int], tolerance: int = 12) -> float:
    """The share of an element's screenshot pixels within `tolerance` of `rgb`."""
    from PIL import Image

    image = Image.open(io.BytesIO(await element.screenshot())).convert("RGB")
    pixels = list(image.get_flattened_data()) if hasattr(image, "get_flattened_data") else list(image.getdata())
    near = sum(1 for p in pixels if all(abs(c - w) <= tolerance for c, w in zip(p, rgb, strict=True)))
    return near / max(1, len(pixels))


async def test_valve_and_siren_on_the_home_page(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    config = tmp_path / "casahub.toml"
    config.write_text("[alarm]\nexit_delay = 0\n")
    running = await start_hub(tmp_path / "data", config=config)
    base = running.base
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(base, session)
            await api.login()
            siren, valve, simulated = await outputs_of(running)
            context = await browser_factory("owner")
            page = context.pages[0] if context.pages else await context.new_page()
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            await login(page, base, "demo", "demo")
            await expect(page.locator("#mode")).to_have_text("Disinserito")
            await expect(page.locator("#home-outputs")).to_be_empty()  # nothing sounds, the water runs
            assert "La sirena suona" not in await page.locator("main").inner_text()

            # ---- a leak: the valve closes and the home page says so, with the owner's button
            await api.trigger(WATER)
            closed = page.locator(f'#home-outputs [data-output="{valve}"]')
            await expect(closed).to_have_attribute("data-state", "closed")
            await expect(closed).to_contain_text("Acqua chiusa: Valvola acqua (Cucina)")
            await expect(closed).to_contain_text("Resta chiusa finché non la riapri tu")
            await expect(page.locator("#home-alerts [data-incident]")).to_contain_text("Allarme acqua")
            if not simulated:
                await running.hub.submit(OutputReported(output=valve, status="closed"))
            await wait_until(lambda: _state(api, valve, "closed", reported=True), what="the valve's closing confirmed")
            await check_page(page, shots, "home-water-closed")
            assert await colour_share(closed, AMBER) > 0.3, "the closed valve's block is amber on screen"
            assert "La sirena suona" not in await page.locator("main").inner_text()

            # ---- the floor dries: the valve stays closed; the owner reopens it with the code
            await api.trigger(WATER, False)
            await expect(closed).to_have_attribute("data-state", "closed")
            button = page.get_by_role("button", name="Riapri l'acqua: Valvola acqua (Cucina)")
            await button.click()
            await expect(page.locator("#keypad-title")).to_have_text("Codice per riaprire l'acqua")
            await page.wait_for_selector("#keypad[open]")
            for digit in "99999":
                await page.click(f'#keys button[aria-label="Cifra {digit}"]')
            await page.click("#keypad-ok")
            await expect(page.locator("#keypad-error")).to_have_text("Codice errato.")
            await page.click("#keypad-cancel")
            assert (await api.get(f"/api/v1/outputs/{valve}"))["closed_by_water"] is True
            await button.click()
            await keypad(page, "12345")
            await expect(page.locator("#home-outputs")).to_be_empty()
            if not simulated:
                await running.hub.submit(OutputReported(output=valve, status="open"))
            await wait_until(lambda: _state(api, valve, "open", reported=True), what="the valve open again")
            opening = (await api.get("/api/v1/events?kind=output_open"))["items"]
            opened = [e for e in opening if e["data"]["output"] == valve]
            assert opened and opened[0]["actor"] == "demo"
            await check_page(page, shots, "home-water-open")

            # ---- armed, an instant zone: the alarm sounds the siren, and the page says so
            await page.click("#arm-away")
            await keypad(page, "12345")
            await expect(page.locator("#mode")).to_have_text("Inserito (fuori casa)")
            await api.trigger(CAMERA)
            await expect(page.locator("#mode")).to_have_text("ALLARME IN CORSO")
            sounding = page.locator(f'#home-outputs [data-output="{siren}"]')
            await expect(sounding).to_have_attribute("data-state", "sounding")
            await expect(sounding).to_have_text("La sirena suona: Sirena interna (Ingresso)")
            await expect(page.locator("#mode-hint")).to_have_text("La sirena suona e la famiglia viene avvisata.")
            await expect(page.locator("#countdown")).to_have_text(re.compile(r"Sirena: \d+ s"))
            await check_page(page, shots, "home-siren-sounding")
            assert await colour_share(sounding, RED) > 0.3, "the siren's line is red on screen"

            # ---- disarm: the siren stops, "La sirena suona" goes
            await page.click("#disarm")
            await keypad(page, "12345")
            await expect(page.locator("#mode")).to_have_text("Disinserito")
            await expect(page.locator("#home-outputs")).to_be_empty()
            assert "La sirena suona" not in await page.locator("main").inner_text()
            assert (await api.get(f"/api/v1/outputs/{siren}"))["wanted"] == "stop"
            await api.trigger(CAMERA, False)

            # ---- the pairing page: the outputs with "Prova"; the walk test lists them to try
            await page.click('#menu a[href="/pairing"]')
            card = page.locator(f'#outputs [data-output="{siren}"]')
            await expect(card).to_contain_text("Sirena interna")
            await card.get_by_role("button", name="Prova Sirena interna").click()
            await expect(card).to_contain_text("Prova inviata: Sirena interna")
            tried = [e["data"]["detail"] for e in (await api.get("/api/v1/events?kind=output_command"))["items"]]
            assert f"{siren}: emergency (test)" in tried, tried
            await expect(page.locator("#wt-outputs")).to_contain_text("Sirene e valvole da provare")
            if not simulated:
                await running.hub.submit(OutputReported(output=siren, status="sounding"))
            await expect(page.locator(f'#wt-outputs [data-output="{siren}"]')).to_contain_text("provata alle")
            await check_page(page, shots, "pairing-outputs")

            # ---- the history names what the outputs did, in words
            await page.click('#menu a[href="/history"]')
            events = page.locator("#events")
            await expect(events).to_contain_text("Sirena interna: suona (prova)")
            await expect(events).to_contain_text("Valvola acqua: chiude l'acqua (allarme acqua)")
            await expect(events).to_contain_text("Richiesta di riaprire l'acqua: Valvola acqua")
            await check_page(page, shots, "history-outputs")
            # The one wrong code typed on purpose is a 403 the browser logs; nothing else may fail.
            assert [e for e in console_errors if "status of 403" not in e] == [], console_errors
            assert len(console_errors) <= 1, console_errors
    finally:
        await running.stop()
        print(f"screenshots in {shots.directory}: {len(shots.taken)}")


async def _state(api: Api, output: str, state: str, *, reported: bool) -> bool:
    shown = await api.get(f"/api/v1/outputs/{output}")
    return bool(shown["state"] == state and (not reported or shown["status"] == state))
