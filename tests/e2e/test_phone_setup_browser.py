"""A phone's first push, in Debian's headless Chromium that trusts only the hub's CA root.

A hub with `[web] tls = "auto"` makes its local CA (hub/system/local_ca.py). Chromium runs with
a fresh profile and a fresh HOME whose NSS database (`~/.pki/nssdb`, made with certutil from
libnss3-tools) holds the hub's root as its one trusted CA: no `--ignore-certificate-errors`, no
SPKI list, no Playwright `ignore_https_errors`. It opens https://localhost:PORT, logs in, the
page is "secure" for Chromium's own security panel (CDP Security domain), and the dashboard's
service worker registers and activates. The QR codes on the Settings page (/settings/phone) decode (zxing-cpp,
from a screenshot) to the root's download URL for Android and the profile's for iPhone. A
second Chromium with an empty NSS database refuses the same page: the trust comes from the root.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import start_hub
from tests.e2e.test_dashboard_browser import CHROMIUM, FLAGS, PHONE, Shots, check_page, require_chromium

CERTUTIL = shutil.which("certutil")


def require_certutil() -> str:
    if CERTUTIL:
        return CERTUTIL
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("certutil is required in CI (deploy/test-peers.txt): apt-get install libnss3-tools")
    pytest.skip("apt-get install libnss3-tools")


def nss_home(home: Path, root: Path | None) -> Path:
    """A HOME whose NSS database trusts `root` as a CA for websites, and nothing else."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    certutil = require_certutil()
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    if root is not None:
        add = [certutil, "-A", "-d", f"sql:{db}", "-n", "casahub root", "-t", "C,,", "-i", str(root)]
        subprocess.run(add, check=True, capture_output=True)
        listed = subprocess.run([certutil, "-L", "-d", f"sql:{db}"], check=True, capture_output=True, text=True)
        assert "casahub root" in listed.stdout
    return home


async def launch(playwright: Any, profile: Path, home: Path) -> Any:
    context = await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=FLAGS,  # the dashboard tests' flags: none of them touches certificate checks
        env={**os.environ, "HOME": str(home)},
        viewport=PHONE,
        locale="it-IT",
    )
    context.set_default_timeout(10_000)
    return context


async def decode_qr(page: Any) -> str:
    import zxingcpp
    from PIL import Image

    png = await page.locator("#phone-qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, found
    return str(found[0].text)


def tls_config(path: Path) -> Path:
    path.write_text('[hub]\nname = "Casa Rossi"\n\n[web]\ntls = "auto"\n')
    return path


async def test_chromium_trusting_only_the_hub_root_registers_the_service_worker(tmp_path: Path) -> None:
    require_chromium()
    require_certutil()
    from playwright.async_api import async_playwright, expect

    shots = Shots(tmp_path / "screenshots")
    running = await start_hub(tmp_path / "data", tls_config(tmp_path / "casahub.toml"))
    port = int(running.base.rsplit(":", 1)[1])
    base = f"https://localhost:{port}"
    root = tmp_path / "data" / "certs" / "ca.crt"
    try:
        async with async_playwright() as playwright:
            context = await launch(playwright, tmp_path / "profile", nss_home(tmp_path / "home", root))
            try:
                page = context.pages[0] if context.pages else await context.new_page()
                cdp = await context.new_cdp_session(page)
                states: list[str] = []
                security = "Security.visibleSecurityStateChanged"
                cdp.on(security, lambda e: states.append(e["visibleSecurityState"]["securityState"]))
                await cdp.send("Security.enable")

                # ---- the dashboard over HTTPS, no warning page: the navigation itself would fail
                await page.goto(base + "/")
                await page.wait_for_url(f"{base}/login")
                await page.fill("#username", "demo")
                await page.fill("#password", "demo")
                await page.click("#login button[type=submit]")
                await page.wait_for_url(base + "/")
                assert await page.evaluate("window.isSecureContext") is True
                for _ in range(100):
                    if states and states[-1] == "secure":
                        break
                    await asyncio.sleep(0.05)
                assert states and states[-1] == "secure", states

                # ---- the service worker registers and activates (what Web Push needs)
                script = await page.evaluate(
                    "navigator.serviceWorker.ready.then((r) => r.active && r.active.scriptURL)"
                )
                assert script == f"{base}/sw.js"
                assert "PushManager" in await page.evaluate("Object.keys(Object.getOwnPropertyDescriptors(window))")

                # ---- Settings: the QR codes decode to the root's and the profile's URLs
                await page.click('#menu a[href="/settings"]')
                await page.click("#settings-phone")
                await page.wait_for_url(f"{base}/settings/phone")
                qr = page.locator("#phone-qr")
                await expect(qr).to_have_attribute("data-platform", "android")
                await expect(page.locator("#phone-url")).to_have_text(f"{base}/ca.crt")
                await check_page(page, shots, "settings-phone-android")
                assert await decode_qr(page) == f"{base}/ca.crt"
                await page.get_by_role("button", name="iPhone e iPad").click()
                await expect(qr).to_have_attribute("data-platform", "ios")
                assert await decode_qr(page) == f"{base}/ca.mobileconfig"
                fingerprint = await page.locator("#phone-fingerprint").text_content()
                assert fingerprint == running.daemon.plan.local_ca.root_fingerprint()  # type: ignore[union-attr]
                await check_page(page, shots, "settings-phone-ios")
                await page.click("#lang")
                await expect(page.get_by_role("button", name="iPhone and iPad")).to_be_visible()
                await check_page(page, shots, "settings-phone-en")

                # ---- the download the QR code points at answers without a login, in the browser too
                fresh = await context.new_page()
                async with fresh.expect_download() as download_info:
                    await fresh.evaluate(f"() => {{ location.href = '{base}/ca.crt'; }}")
                download = await download_info.value
                assert download.suggested_filename == "casahub-ca.crt"
            finally:
                await context.close()

            # ---- the same page in a Chromium whose NSS database trusts nothing: refused
            untrusting = await launch(playwright, tmp_path / "profile-2", nss_home(tmp_path / "home-2", None))
            try:
                page = untrusting.pages[0] if untrusting.pages else await untrusting.new_page()
                with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
                    await page.goto(base + "/login")
            finally:
                await untrusting.close()
    finally:
        await running.stop()
