"""Driving Debian's Chromium with Playwright: launch settings, bounded waits, one tab per context.

The browser is never downloaded: it is ``/usr/bin/chromium`` or the tests
do not run. Every Playwright wait is bounded by :data:`TIMEOUT_MS`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    ViewportSize,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 5_000
LAUNCH_TIMEOUT_MS = 15_000
DESKTOP: ViewportSize = {"width": 1024, "height": 768}
PHONE: ViewportSize = {"width": 360, "height": 740}

_LOAD_FAILED = "Failed to load resource: the server responded with a status of"

#: Saves a screenshot of the page under a name (see the ``shot`` fixture).
Shot = Callable[[Page, str], Path]


def launch(playwright: Playwright, executable: str) -> Browser:
    return playwright.chromium.launch(
        executable_path=executable, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS
    )


class Tab:
    """A page in a browser context of its own (its own cookies), and what went wrong in it.

    ``problems`` collects console errors and warnings (a Content-Security-Policy
    violation shows up there), uncaught page errors, and stylesheets, images or
    icons that failed to load.
    """

    def __init__(
        self, browser: Browser, viewport: ViewportSize | None = None, locale: str = "en-GB"
    ) -> None:
        # The locale is also the Accept-Language the pages are chosen by.
        self.context = browser.new_context(viewport=viewport or DESKTOP, locale=locale)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.set_default_navigation_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._failed)

    def _console(self, message: ConsoleMessage) -> None:
        # A page's own error status is logged too; _response judges subresources.
        if message.type in ("error", "warning") and not message.text.startswith(_LOAD_FAILED):
            self.problems.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Request) -> None:
        # Leaving a page cancels what it was still loading; that is not a fault.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"{request.failure} for {request.url}")

    def _response(self, response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def close(self) -> None:
        self.context.close()
