"""Debian's Chromium for the browser tests, driven by Playwright (no browser
download; scripts/test-services installs the package)."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A phone's width: the reader pages and the desk must not scroll sideways at it.
PHONE_WIDTH = 390


def launch(playwright):  # noqa: ANN001, ANN201 - Playwright's own types
    """Headless Debian Chromium, or a clear failure naming what is missing."""
    assert Path(CHROMIUM).exists(), "Debian's Chromium is needed for the browser tests (scripts/test-services installs it)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def fits(page, width: int = PHONE_WIDTH) -> None:  # noqa: ANN001
    """The page is no wider than the viewport: no sideways scroll."""
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} scrolls sideways: {scroll} px wide at {width}"
