"""What the browser tests share: Debian's Chromium (``/usr/bin/chromium``) driven by
Playwright, never a browser Playwright would download. A test module importing this is
skipped, with the reason, when Playwright is not installed; ``BROWSER_MARKS`` skip its
tests when Chromium is missing (``.ci/run`` installs it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

playwright = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed (requirements/dev.txt; run `make install`)")

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: "
                       "`apt-get install -y chromium` (.ci/run installs it)"),
    pytest.mark.django_db(transaction=True),  # the live server reads what the test wrote
]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, closed afterwards. No ORM call inside: Playwright's sync API
    keeps an event loop on this thread, and Django refuses database access from there."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
