"""Users limited to areas in Settings › People and codes (issue 17, item 2), in Debian's headless
Chromium driven by Playwright, against a running demo hub configured with two areas ([[areas]]
Appartamento and Garage), on a 360 px phone screen.

The owner limits a member to the garage in the user editor and sees "Aree: Garage" in the list
(and GET /api/v1/users agrees); the owner's own editor has no areas (an owner is never limited);
the add form limits a new user to the flat, hides the areas while the role is owner, and refuses
no area at all before asking the hub; in English the list says "Areas: Garage". A house with one
area shows nothing about areas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import Api, start_hub
from tests.e2e.test_dashboard_browser import Shots, browser_factory, check_page, login

__all__ = ["browser_factory"]  # the fixture, imported to be used here

CONFIG = """[[areas]]
id = "casa"
name = "Appartamento"

[[areas]]
id = "garage"
name = "Garage"
"""
MEMBER = {"username": "bruno", "password": "bruno-pass", "role": "member", "code": "24680"}


async def areas_of(api: Api) -> dict[str, Any]:
    return {u["username"]: u["areas"] for u in (await api.get("/api/v1/users"))["items"]}


async def test_the_owner_limits_a_member_to_the_garage(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    shots = Shots(tmp_path / "screenshots")
    config = tmp_path / "casahub.toml"
    config.write_text(CONFIG, encoding="utf-8")
    running = await start_hub(tmp_path / "data", config)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            status, body = await api.post("/api/v1/users", MEMBER)
            assert status == 201, body
            context = await browser_factory("owner")
            page = context.pages[0] if context.pages else await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await login(page, running.base, "demo", "demo")
            await page.click('#menu a[href="/settings"]')
            await page.click("#settings-people")

            # ---- nobody is limited yet: no areas in the list
            bruno = page.locator('[data-user="bruno"]')
            await expect(bruno).to_be_visible()
            await expect(page.locator(".areas-text")).to_have_count(0)

            # ---- bruno's codes work in the garage only
            await page.get_by_role("button", name="Modifica bruno").click()
            choice = page.locator("#ue-bruno-areas")
            await expect(choice).to_be_visible()
            await expect(choice.get_by_label("Appartamento", exact=True)).to_be_checked()
            await expect(choice.get_by_label("Garage", exact=True)).to_be_checked()
            await choice.get_by_label("Appartamento", exact=True).uncheck()
            await check_page(page, shots, "settings-user-areas-editor")
            await page.locator("#ue-bruno-save").click()
            await expect(page.locator("#u-status")).to_have_text("Modifiche a bruno salvate.")
            await expect(bruno.locator(".areas-text")).to_have_text("Aree: Garage")
            assert (await areas_of(api))["bruno"] == ["garage"]

            # ---- the editor shows what is stored; saving other things leaves it alone
            await page.get_by_role("button", name="Modifica bruno").click()
            await expect(choice.get_by_label("Appartamento", exact=True)).not_to_be_checked()
            await expect(choice.get_by_label("Garage", exact=True)).to_be_checked()
            await page.locator("#ue-bruno-code").fill("13579")
            await page.locator("#ue-bruno-save").click()
            await expect(bruno.locator(".edit-form")).to_have_count(0)  # saved: the list is drawn again
            await expect(page.locator("#u-status")).to_have_text("Modifiche a bruno salvate.")
            assert (await areas_of(api))["bruno"] == ["garage"]

            # ---- an owner is never limited: no areas in their editor, nor while the role is owner
            await page.get_by_role("button", name="Modifica demo").click()
            await expect(page.locator("#ue-demo-role")).to_be_visible()
            await expect(page.locator("#ue-demo-areas")).to_be_hidden()
            await page.locator("#ue-demo-role").select_option("member")
            await expect(page.locator("#ue-demo-areas")).to_be_visible()
            await page.locator('[data-user="demo"] .edit-form').get_by_role("button", name="Annulla").click()

            # ---- the add form: a new user for the flat only
            adding = page.locator("#u-areas")
            await expect(adding).to_be_visible()
            await page.locator("#u-role").select_option("owner")
            await expect(adding).to_be_hidden()
            await page.locator("#u-role").select_option("member")
            await page.locator("#u-name").fill("inquilino")
            await page.locator("#u-password").fill("tenant-pass")
            await page.locator("#u-code").fill("97531")
            await adding.get_by_label("Appartamento", exact=True).uncheck()
            await adding.get_by_label("Garage", exact=True).uncheck()
            await page.locator("#u-add-submit").click()
            await expect(page.locator("#u-error")).to_have_text("Scegli almeno un'area.")
            assert "inquilino" not in await areas_of(api)
            await adding.get_by_label("Appartamento", exact=True).check()
            await check_page(page, shots, "settings-user-areas-add")
            await page.locator("#u-add-submit").click()
            await expect(page.locator("#u-status")).to_have_text("inquilino aggiunto.")
            tenant = page.locator('[data-user="inquilino"]')
            await expect(tenant.locator(".areas-text")).to_have_text("Aree: Appartamento")
            await expect(adding.get_by_label("Garage", exact=True)).to_be_checked()  # the form starts again
            assert await areas_of(api) == {"bruno": ["garage"], "demo": None, "inquilino": ["casa"]}

            # ---- every area again: all checked is the whole house (null)
            await page.get_by_role("button", name="Modifica inquilino").click()
            await page.locator("#ue-inquilino-areas").get_by_label("Garage", exact=True).check()
            await page.locator("#ue-inquilino-save").click()
            await expect(page.locator("#u-status")).to_have_text("Modifiche a inquilino salvate.")
            await expect(tenant.locator(".areas-text")).to_have_count(0)
            assert (await areas_of(api))["inquilino"] is None
            await check_page(page, shots, "settings-user-areas-list")

            # ---- in English
            await page.click("#lang")
            await expect(bruno.locator(".areas-text")).to_have_text("Areas: Garage")
            await page.click("#lang")
            assert not errors, errors
    finally:
        await running.stop()


async def test_one_area_shows_nothing_about_areas(tmp_path: Path, browser_factory: Any) -> None:
    from playwright.async_api import expect

    running = await start_hub(tmp_path / "data")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            api = Api(running.base, session)
            await api.login()
            status, body = await api.post("/api/v1/users", MEMBER | {"areas": ["casa"]})
            assert status == 201 and body["areas"] == ["casa"], body
            page = (await browser_factory("owner")).pages[0]
            await login(page, running.base, "demo", "demo")
            await page.click('#menu a[href="/settings"]')
            await page.click("#settings-people")
            await expect(page.locator('[data-user="bruno"]')).to_be_visible()
            await expect(page.locator(".areas-text")).to_have_count(0)
            await expect(page.locator("#u-areas")).to_have_count(0)
            await page.get_by_role("button", name="Modifica bruno").click()
            await expect(page.locator("#ue-bruno-role")).to_be_visible()
            await expect(page.locator("#ue-bruno-areas")).to_have_count(0)
    finally:
        await running.stop()
