"""The digest in headless Chromium (Debian's, through Playwright): fluid from
320 to 600 px. On a phone (390 px, and the narrowest, 320 px) nothing scrolls
sideways and every image fits; on a desktop (1280 px) the content column is
at most 600 px wide. The images are served by the test (a 1200 px wide PNG,
wider than any column), so nothing leaves the machine."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import sync_playwright

from distributor.render.email import render_digest
from distributor.render.samples import sample_article
from browser import launch
from support import png

from .conftest import NEWSLETTER, UNSUBSCRIBE, UTM

IMAGE = png(1200, 600)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def digest_html(templates):
    first = sample_article("fr").replace(image="https://novastan.example/img/wide.png")
    # A long unbroken word and a long URL-like title must wrap, not widen the page.
    second = sample_article("fr").replace(
        title="Ouzbékistan : " + "anticonstitutionnellementinterminablement" * 3,
        lede="https://novastan.example/" + "tres-long-chemin-" * 12,
        image="https://novastan.example/img/wide-2.png", url="https://novastan.example/fr/2")
    msg = render_digest([first, second], templates=templates, language="fr", name="Novastan",
                        issue_date=dt.date(2025, 3, 14), newsletter=NEWSLETTER, utm=UTM, unsubscribe_url=UNSUBSCRIBE,
                        archive_url="https://novastan.example/archive/fr/7",
                        intro="Une introduction assez longue pour occuper plusieurs lignes sur un téléphone. " * 3)
    assert msg.html.count("<img") == 2
    return msg.html


def show(browser, html: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.route("https://novastan.example/img/**",
               lambda route: route.fulfill(status=200, content_type="image/png", body=IMAGE))
    page.route("**/*", lambda route: route.fulfill(status=204) if not route.request.url.startswith(
        "https://novastan.example/img/") else route.fallback())
    page.set_content(html, wait_until="load")
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    return page


@pytest.mark.parametrize("width", [390, 320])
def test_no_horizontal_scroll_and_images_fit_on_a_phone(browser, digest_html, width, tmp_path):
    page = show(browser, digest_html, width)
    scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert inner == width
    assert scroll <= inner, f"the digest scrolls sideways at {width} px: {scroll} px wide"
    images = page.evaluate("Array.from(document.images).map(i => { const r = i.getBoundingClientRect();"
                           " return [r.left, r.right, r.width, r.height, i.naturalWidth]; })")
    assert len(images) == 2
    for left, right, w, h, natural in images:
        assert natural == 1200 and left >= 0 and right <= inner and w < natural
        assert abs(h - w / 2) <= 1  # scaled, not squashed (height: auto)
    widest = page.evaluate("Math.max(...Array.from(document.querySelectorAll('body *'))"
                           ".map(e => e.getBoundingClientRect().right))")
    assert widest <= inner
    page.screenshot(path=str(tmp_path / f"digest-{width}.png"), full_page=True)
    page.close()


def test_on_a_desktop_the_content_is_at_most_600_px_wide(browser, digest_html):
    page = show(browser, digest_html, 1280)
    width = page.evaluate("document.querySelector('table.container').getBoundingClientRect().width")
    assert 500 < width <= 600
    images = page.evaluate("Array.from(document.images).map(i => i.getBoundingClientRect().width)")
    assert all(w <= 560 for w in images)
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    page.close()


def test_the_archive_copy_fits_a_phone_too(browser, digest_html, settings):
    from distributor.newsletter.archive import public_html
    from distributor.store.issues import Issue

    now = dt.datetime(2025, 3, 14, tzinfo=dt.timezone.utc)
    issue = Issue(id=7, edition="fr", slot=now, status="sent", subject="s", html=digest_html, text="", headers={},
                  snapshot_at=now, max_subscriber_id=0, recipient_count=0, batch_size=1000, reason=None,
                  created_at=now, updated_at=now, sent_at=now)
    html = public_html(settings, issue)
    assert "/unsubscribe/" not in html and "Voir dans le navigateur" not in html
    page = show(browser, html, 390)
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    assert "S'abonner à la newsletter" in page.inner_text("body")
    page.close()
