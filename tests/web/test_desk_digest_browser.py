"""The desk's digest page in headless Chromium at a phone's width (390 px):
nothing scrolls sideways (the 600 px email frame and the past issues' table
scroll inside their own boxes), every control is reachable with the
keyboard; the editor edits the subject, sees it in the preview, sends a
test copy to the edition's test recipient, and the sandbox's SendGrid
receives exactly that subject."""

from __future__ import annotations

import pytest

from browser import fits
from desk_helpers import PASSWORD, add_editor
from distributor.ingest.pipeline import ingest
from distributor.store.digest_drafts import Drafts
from support import add_subscribers, sent
from web_helpers import serving, wait_until


@pytest.fixture
def served(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    add_editor(store)
    add_subscribers(store, "de", [f"reader{i}@example.org" for i in range(3)])
    with serving(sb_settings, store) as (_settings, url):
        yield url


def test_edit_the_subject_and_send_a_test_on_a_phone(served, store, phone, control, tmp_path):
    url = served
    phone.route(lambda u: not u.startswith("http://127.0.0.1"), lambda route: route.abort())
    phone.goto(f"{url}/desk/digest")
    phone.fill("input[name=username]", "anna")
    phone.fill("input[name=password]", PASSWORD)
    phone.press("input[name=password]", "Enter")
    phone.wait_for_selector("h1:text('Digest')")
    assert phone.url == f"{url}/desk/digest"
    fits(phone)
    de = phone.locator("#edition-de")
    frames = de.locator(".preview[data-channel=newsletter] iframe")
    assert [f.bounding_box()["width"] for f in frames.all()] == [390 + 2, 600 + 2]
    phone.screenshot(path=str(tmp_path / "desk-digest-390.png"), full_page=True)

    # The keyboard alone reaches the subject, the intro and the section's buttons.
    phone.focus("#subject-de")
    reached = []
    for _ in range(40):
        reached.append(phone.evaluate("(document.activeElement.id || document.activeElement.textContent || '')"
                                      ".trim()"))
        phone.keyboard.press("Tab")
    assert {"subject-de", "intro-de", "Save subject and intro", "address-de", "Send test", "Send now"} <= set(reached)
    assert "Remove" in reached

    # Edit the subject (typed, then Enter submits its form).
    phone.fill("#subject-de", "Zentralasien am Freitag")
    phone.press("#subject-de", "Enter")
    phone.wait_for_selector("#flash")
    assert phone.locator("#flash").inner_text().startswith("Subject and intro (de.newsletter): saved")
    fits(phone)
    assert de.locator(".subject-line").inner_text() == "Zentralasien am Freitag"
    assert de.locator("#subject-de").input_value() == "Zentralasien am Freitag"
    assert Drafts(store.engine).get("de").subject == "Zentralasien am Freitag"

    # A test copy, to the test recipient offered.
    assert de.locator("#address-de").input_value() == "leserin@example.org"
    de.get_by_role("button", name="Send test", exact=True).click()
    phone.wait_for_selector("#flash:has-text('Test (de.newsletter): sent')")
    fits(phone)
    mails = wait_until(lambda: [r["body"] for r in sent(control, "sendgrid", "/mail/send")], what="the test copy")
    assert len(mails) == 1
    assert mails[0]["subject"] == "[Test] Zentralasien am Freitag"
    assert [p["to"][0]["email"] for p in mails[0]["personalizations"]] == ["leserin@example.org"]

    # Send now asks first, naming the recipients; going back sends nothing.
    de.get_by_role("button", name="Send now", exact=True).click()
    phone.wait_for_selector("h1:text('Send the issue?')")
    assert phone.locator("#question").inner_text() == "Send to 3 subscribers? (edition de)"
    fits(phone)
    phone.click("text=Back to the digest")
    phone.wait_for_selector("h1:text('Digest')")
    assert len(sent(control, "sendgrid", "/mail/send")) == 1
