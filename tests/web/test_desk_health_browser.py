"""/desk/health and /desk/sent in headless Chromium at a phone's width
(390 px): a channel paused by a real 401 from the sandbox, a held delivery,
what went out; nothing scrolls sideways, and an editor resumes the channel
with the keyboard alone."""

from __future__ import annotations

import asyncio

import pytest

from browser import fits
from desk_helpers import PASSWORD, add_editor, desk_served
from distributor.ingest.pipeline import ingest
from distributor.newsletter.digest import run_digest
from distributor.store.audit import Audit
from support import add_subscribers, drain


@pytest.fixture
def served(sb_settings, store, clock, control):
    """A paused X channel (401), a held Telegram post (outcome unknown), the
    rest sent and de's digest out — before the browser starts (Playwright's
    sync API owns the thread's event loop); an editor; the web app."""
    ingest(sb_settings, store, now=clock())
    for f in ({"service": "x", "status": 401, "method": "tweets", "times": 1},
              {"service": "telegram", "delay_ms": 3_000, "method": "sendMessage", "times": 1}):
        assert control.post("/_sandbox/faults", json=f).status_code < 300
    drain(sb_settings, store, clock)
    add_subscribers(store, "de", ["leserin@example.org"])
    assert asyncio.run(run_digest(sb_settings, store, "de", clock=clock, sleep=clock.sleep)).status == "sent"
    add_editor(store)
    with desk_served(sb_settings, store) as url:
        yield url


def test_health_and_sent_on_a_phone_and_resume_with_the_keyboard(served, store, phone, tmp_path):
    url = served
    [paused] = [c.channel for c in store.outbox.channels() if c.paused]
    assert store.deliveries(status="held")
    phone.goto(f"{url}/desk/health")
    phone.fill("input[name=username]", "anna")
    phone.fill("input[name=password]", PASSWORD)
    phone.keyboard.press("Enter")
    phone.wait_for_selector("h1:text('Channels and health')")
    assert phone.url == f"{url}/desk/health"
    fits(phone)
    phone.screenshot(path=str(tmp_path / "desk-health-390.png"), full_page=True)
    assert phone.locator("article.held").count() == len(store.deliveries(status="held"))
    phone.locator("article.held details summary").first.click()  # the recorded request, opened
    fits(phone)

    # Tab to the Resume button (its accessible name is exactly "Resume"), press Enter.
    resume = phone.get_by_role("button", name="Resume", exact=True)
    assert resume.count() == 1
    for _ in range(60):
        phone.keyboard.press("Tab")
        if phone.evaluate("document.activeElement.textContent.trim()") == "Resume":
            break
    else:
        pytest.fail("Tab never reached the Resume button")
    phone.keyboard.press("Enter")
    phone.wait_for_selector("#flash")
    assert f"Resume ({paused}): resumed" in phone.inner_text("#flash")
    assert phone.get_by_role("button", name="Resume", exact=True).count() == 0
    fits(phone)
    state = store.outbox.channel(paused)
    assert not state.paused
    [entry] = Audit(store.engine).history(channel=paused)
    assert (entry.actor, entry.action, entry.outcome) == ("desk:anna", "resume", "resumed")

    # What went out, then filtered by the keyboard: the edition chosen, the form sent with Enter.
    phone.goto(f"{url}/desk/sent")
    phone.wait_for_selector("h1:text('What went out')")
    fits(phone)
    phone.screenshot(path=str(tmp_path / "desk-sent-390.png"), full_page=True)
    everything = phone.locator("ul.went > li").count()
    assert everything == sum(d.kind != "newsletter" for d in store.deliveries(status="sent")) + 1
    assert phone.locator("a", has_text="View issue").count() == 1
    phone.focus("#f-edition")
    phone.keyboard.press("ArrowDown")  # the first edition after "all"
    phone.focus("#f-channel")
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.textContent.trim()") == "Show"
    phone.keyboard.press("Enter")
    phone.wait_for_url("**/desk/sent?*edition=de*")
    fits(phone)
    shown = phone.locator("ul.went > li").evaluate_all("els => els.map(e => e.dataset.channel)")
    assert shown and all(c.startswith("de.") for c in shown) and len(shown) < everything
    phone.goto(f"{url}/desk/sent?from=soon")
    assert "is not a date" in phone.inner_text("#filter-error")
    fits(phone)
