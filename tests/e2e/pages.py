"""Opening the demo owner's page in a browser test: one place for what every browser test of the
dashboard begins with (a fresh browser, the phone's size, the page's errors kept, the login).

`browser_factory` is the fixture of tests/e2e/test_dashboard_browser.py, passed in by the test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from tests.e2e.test_dashboard_browser import login

# Where a test takes the page's errors from: the console's error lines (a failed request counts)
# or only the script errors the page did not catch.
ErrorSource = Literal["console", "pageerror"]


async def owner_page(
    browser_factory: Callable[[str], Awaitable[Any]],
    base: str,
    *,
    viewport: dict[str, int] | None = None,
    errors_from: ErrorSource = "console",
    log_in: bool = True,
) -> tuple[Any, list[str]]:
    """The demo owner's page on a fresh browser, logged in unless `log_in` is False (a test that
    looks at the login page first), and the list its errors go to, for the test to assert on."""
    context = await browser_factory("owner")
    page = context.pages[0] if context.pages else await context.new_page()
    if viewport is not None:
        await page.set_viewport_size(viewport)
    errors: list[str] = []
    if errors_from == "pageerror":
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    else:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    if log_in:
        await login(page, base, "demo", "demo")
    return page, errors
