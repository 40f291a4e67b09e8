"""Fixtures for the real-browser tests: one Chromium per module, fresh contexts per test.

Without ``/usr/bin/chromium`` the tests skip, or fail under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from ..helpers import FakeClock
from ..procs import require_binary
from .browsing import CHROMIUM, TIMEOUT_MS, Shot, Tab, launch
from .live import Site

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_binary(CHROMIUM, "the browser tests drive Debian's Chromium")
    with sync_playwright() as playwright:
        launched = launch(playwright, executable)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    """Opens tabs in fresh contexts; ``viewport`` defaults to a desktop window, ``locale``
    (the Accept-Language too) to en-GB."""
    tabs: list[Tab] = []

    def open_(viewport: ViewportSize | None = None, locale: str = "en-GB") -> Tab:
        tab = Tab(browser, viewport, locale)
        tabs.append(tab)
        return tab

    yield open_
    for tab in tabs:
        tab.close()


@pytest.fixture
def tab(open_tab: Callable[..., Tab]) -> Tab:
    return open_tab()


@pytest.fixture
def page(tab: Tab) -> Page:
    return tab.page


@pytest.fixture
def make_site(tenant: Any, clock: FakeClock) -> Iterator[Callable[..., Site]]:
    """Starts gates in front of the page app; keyword arguments override GateConfig fields."""
    sites: list[Site] = []

    def make(**config: Any) -> Site:
        site = Site(tenant, clock, **config)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


@pytest.fixture
def shot(tmp_path: Path) -> Shot:
    """Saves a full-page screenshot as ``NAME.png`` in $SCREENSHOT_DIR, else tmp_path."""
    configured = os.environ.get("SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        assert path.stat().st_size > 0
        return path

    return save
