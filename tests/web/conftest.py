"""Fixtures of the web tests."""

from __future__ import annotations

import pytest

from browser import PHONE_WIDTH, launch


@pytest.fixture
def phone():
    """A page of headless Chromium at a phone's width (390 px)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": PHONE_WIDTH, "height": 800})
        yield page
        browser.close()
