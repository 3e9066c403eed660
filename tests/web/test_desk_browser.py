"""The desk in headless Chromium at a phone's width (390 px): an editor logs
in with the keyboard alone, sees the article list with the links to what
went out, and nothing scrolls sideways; logging out ends the session."""

from __future__ import annotations

import pytest

from desk_helpers import PASSWORD, add_editor, desk_served
from distributor.ingest.pipeline import ingest
from support import drain
from browser import fits



@pytest.fixture
def served(sb_settings, store, clock):
    """Posts in the sandbox (before the browser starts: Playwright's sync API
    owns the thread's event loop), an editor, the web app on a free port."""
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    add_editor(store)
    with desk_served(sb_settings, store) as url:
        yield url




def test_log_in_and_see_the_articles_on_a_phone(served, store, phone, tmp_path):
    url = served
    phone.goto(f"{url}/desk/")
    assert phone.url.startswith(f"{url}/desk/login?next=")
    fits(phone)
    # The keyboard alone: the name field has the focus, Tab reaches the password, Enter submits.
    assert phone.evaluate("document.activeElement.name") == "username"
    phone.keyboard.type("anna")
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.name") == "password"
    phone.keyboard.type(PASSWORD)
    phone.keyboard.press("Enter")
    phone.wait_for_selector("h1:text('Articles')")
    assert phone.url == f"{url}/desk/"
    fits(phone)
    phone.screenshot(path=str(tmp_path / "desk-articles-390.png"), full_page=True)

    cards = phone.locator("article.card")
    assert cards.count() == len(store.list_articles())
    sent = [d for d in store.deliveries(status="sent") if d.kind in ("telegram", "twitter")]
    assert sent
    links = phone.locator("a", has_text="View post")
    assert links.count() == len(sent)
    hrefs = set(links.evaluate_all("els => els.map(e => e.href)"))
    assert any(h.startswith("https://t.me/novastan_de/") for h in hrefs)
    assert any(h.startswith("https://x.com/sandbox_de/status/") for h in hrefs)
    assert phone.locator("text=no facebook channel configured for de").count() >= 1

    # Every control is reachable with Tab: the nav's four links and the logout button among them.
    reached = set()
    for _ in range(12):
        phone.keyboard.press("Tab")
        reached.add(phone.evaluate("(document.activeElement.textContent || '').trim()"))
    assert {"Articles", "Digest", "Health", "Sent", "Log out"} <= reached

    phone.click("button:text('Log out')")
    phone.wait_for_selector("h1:text('Log in to the desk')")
    fits(phone)
    phone.goto(f"{url}/desk/")
    assert phone.url.startswith(f"{url}/desk/login")


@pytest.fixture
def served_planned(sb_settings, store, clock):
    """The seed articles planned, nothing sent yet, an editor, the web app on a free port."""
    ingest(sb_settings, store, now=clock())
    add_editor(store)
    with desk_served(sb_settings, store) as url:
        yield url


def test_open_an_article_see_three_previews_and_send_it_to_telegram(served_planned, store, phone, control, tmp_path):
    from support import sent

    url = served_planned
    # Nothing leaves 127.0.0.1: the article's photo (on the magazine's site) is not fetched.
    phone.route(lambda u: not u.startswith("http://127.0.0.1"), lambda route: route.abort())
    aid = next(a.id for a in store.list_articles()
               if a.article.language == "de" and a.article.title
               and {"telegram", "twitter", "newsletter"} <= {d.kind for d in store.deliveries(article_id=a.id)})
    phone.goto(f"{url}/desk/")
    phone.fill("input[name=username]", "anna")
    phone.fill("input[name=password]", PASSWORD)
    phone.press("input[name=password]", "Enter")
    phone.wait_for_selector("h1:text('Articles')")
    phone.click(f"a[href='/desk/articles/{aid}']")
    phone.wait_for_selector("h2:text('History')")
    fits(phone)
    previews = phone.locator(".preview[data-channel]")
    assert previews.evaluate_all("els => els.map(e => e.dataset.channel)") == ["telegram", "twitter", "newsletter"]
    assert phone.locator(".preview[data-channel=telegram] .bubble b").count() >= 1  # the HTML, shown as HTML
    assert "(weighted)" in phone.locator(".preview[data-channel=twitter]").inner_text()
    # The email, in its sandboxed frames, at both widths.
    frames = phone.locator(".preview[data-channel=newsletter] iframe")
    assert frames.count() == 2
    assert [f.bounding_box()["width"] for f in frames.all()] == [390 + 2, 600 + 2]  # with their borders
    assert len(phone.frames) == 3
    for frame in phone.frames[1:]:
        assert frame.evaluate("document.documentElement.clientWidth") in (390, 600)
        assert "Abmelden" in frame.inner_text("body")  # the email's own footer, rendered
    phone.screenshot(path=str(tmp_path / "desk-article-390.png"), full_page=True)

    telegram = phone.locator("#channel-telegram")
    assert telegram.locator(".state").inner_text() == "pending"
    assert sent(control, "telegram") == []
    telegram.get_by_role("button", name="Send now", exact=True).click()
    phone.wait_for_selector("#channel-telegram .state-sent")
    fits(phone)
    assert phone.locator("#flash").inner_text().startswith("Send now (de.telegram): sent")
    posts = [r for r in sent(control, "telegram") if r["path"].endswith(("sendMessage", "sendPhoto"))]
    assert len(posts) == 1
    d = [d for d in store.deliveries(article_id=aid) if d.kind == "telegram"][-1]
    assert d.status == "sent" and telegram.locator(".remote-id").inner_text() == d.remote_id
    assert telegram.get_by_role("button", name="Resend", exact=True).count() == 1
    assert telegram.get_by_role("button", name="Send now", exact=True).count() == 0
    assert phone.locator("#channel-twitter .state").inner_text() == "pending"
    phone.set_viewport_size({"width": 1280, "height": 900})
    phone.screenshot(path=str(tmp_path / "desk-article-1280.png"), full_page=True)
