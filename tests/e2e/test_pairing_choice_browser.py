"""The pairing form's choices (issue 17, item 6) in Debian's headless Chromium, on a 390x844 phone.

The demo hub offers a bedroom window and a garage motion sensor. The window's form shows the
hub's proposal for its name (instant, every mode: never a delayed entry off at home) and pairs
into a room in use; the motion sensor's form opens with its kind's proposal (follower, away and
vacation), refuses no mode at all, and pairs with the modes and chime the installer set into a
room created on purpose. The behaviour select fits the screen; no horizontal scroll.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Api, start_hub
from tests.e2e.pages import owner_page
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page

__all__ = ["browser_factory"]  # the fixture, imported to be used here

WINDOW = "simulated:sim-window-2"
MOTION = "simulated:sim-motion-2"
MODES = {"home": "Casa", "night": "Notte", "away": "Fuori casa", "vacation": "Vacanza"}


# The widest option's text against the room inside the select (its padding and arrow aside).
OPTIONS_FIT_JS = """(el) => {
  const ctx = document.createElement("canvas").getContext("2d");
  const style = getComputedStyle(el);
  ctx.font = style.font;
  const widest = Math.max(...[...el.options].map((o) => ctx.measureText(o.text).width));
  return el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20 - widest;
}"""


async def fits(page: Any, locator: Any) -> None:
    """The select is on the screen and shows its options whole."""
    box = await locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    room = await locator.evaluate(OPTIONS_FIT_JS)
    assert room >= 0, f"the widest option is {-room:.0f} px too wide for the select"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def test_pairing_form_proposes_and_sets_modes(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data")
    base = running.base
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(base, session)
            await api.login()
            page, errors = await owner_page(
                browser_factory, base, viewport={"width": 390, "height": 844}, errors_from="pageerror"
            )
            await page.click("#nav-pairing")
            await page.wait_for_url(base + "/pairing")

            # ---- the bedroom window: the proposal follows the name; a room in use
            window = page.locator(f'[data-candidate="{WINDOW}"]')
            await window.locator(".pair-open").click()
            await window.get_by_label("Nome", exact=True).fill("Finestra camera")
            await window.get_by_label("Stanza", exact=True).select_option("Camera da letto")
            await expect(window.locator("[id$=-proposal]")).to_contain_text("È una finestra")
            behaviour = window.get_by_label("Comportamento")
            await expect(behaviour).to_have_value("instant")
            for label in MODES.values():
                await expect(window.get_by_label(label, exact=True)).to_be_checked()
            await expect(window.get_by_label("Campanello", exact=False)).not_to_be_checked()
            await fits(page, behaviour)
            await check_page(page, shots, "pairing-choice-window")
            await window.get_by_role("button", name="Abbina", exact=True).click()
            await expect(page.locator("#pair-result")).to_have_text("Finestra camera abbinato.")
            zone = await api.get("/api/v1/zones/simulated-sim-window-2")
            assert (zone["behaviour"], zone["modes"], zone["chime"], zone["room"]) == (
                "instant",
                ["home", "away", "night", "vacation"],
                False,
                "Camera da letto",
            ), zone

            # ---- the motion sensor: its kind's proposal at once; modes and chime set; a new room
            motion = page.locator(f'[data-candidate="{MOTION}"]')
            await motion.locator(".pair-open").click()
            behaviour = motion.get_by_label("Comportamento")
            await expect(behaviour).to_have_value("follower")
            for mode, label in MODES.items():
                box = motion.get_by_label(label, exact=True)
                await (expect(box).to_be_checked() if mode in ("away", "vacation") else expect(box).not_to_be_checked())
            await fits(page, behaviour)
            await motion.get_by_label("Nome", exact=True).fill("Sensore garage")
            await motion.get_by_label("Stanza", exact=True).select_option(label="Nuova stanza…")
            await motion.get_by_label("Come si chiama la nuova stanza").fill("Garage")
            for label in MODES.values():
                await motion.get_by_label(label, exact=True).uncheck()
            await motion.get_by_role("button", name="Abbina", exact=True).click()
            await expect(motion.get_by_role("alert")).to_contain_text("Scegli almeno una modalità")
            await motion.get_by_label("Notte", exact=True).check()
            await motion.get_by_label("Fuori casa", exact=True).check()
            await motion.get_by_label("Campanello", exact=False).check()
            await check_page(page, shots, "pairing-choice-motion")
            await motion.get_by_role("button", name="Abbina", exact=True).click()
            await expect(page.locator("#pair-result")).to_have_text("Sensore garage abbinato.")
            zone = await api.get("/api/v1/zones/simulated-sim-motion-2")
            assert (zone["behaviour"], zone["modes"], zone["chime"], zone["room"]) == (
                "follower",
                ["away", "night"],
                True,
                "Garage",
            ), zone
            assert not errors, errors
    finally:
        await running.stop()
