"""The article page end to end in headless Chromium (Debian's, through
Playwright) against `serve`'s web app and the sandbox over HTTP on
127.0.0.1: an editor logs in, opens the seed article, sees the three
previews, edits the tweet with the keyboard, sends it and the Telegram post,
and the sandbox receives exactly the edited text while the states change on
the page; in required mode a new article is not posted by the daemon's cycle
until Approve is pressed, then it is. At 390 px nothing scrolls sideways.

With DESK_SHOTS=<dir> the page's screenshots at 1280 and 390 px go there
(else into the test's tmp dir): `DESK_SHOTS=/work/shots pytest -k browser`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
from pathlib import Path

import pytest

from browser import fits
from desk_helpers import PASSWORD, add_editor
from distributor.app import run_cycle
from distributor.delivery import Dispatcher
from distributor.ingest.pipeline import ingest
from distributor.web.server import start_web
from support import sent, with_channel
from web_helpers import free_port

TWEET = "Warum Kirgistans Bergdörfer schrumpfen – eine Reportage aus Naryn. https://novastan.org/de/ #Kirgistan"
NEW = "Neue Seidenstraße – ein Hafen in der Steppe"


def shots_dir(tmp_path: Path) -> Path:
    where = Path(os.environ.get("DESK_SHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def serve(settings, store):
    port = free_port()
    settings = dataclasses.replace(settings, web=dataclasses.replace(
        settings.web, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    return start_web(settings, store=store)


def cycle(settings, store):
    """One cycle of the daemon (`distributor run`: ingest, plan, deliver what
    is due, the digest when due), in its own thread and event loop
    (Playwright's sync API owns this thread's)."""
    async def go():
        dispatcher = Dispatcher(settings, store)
        try:
            return await run_cycle(settings, store, dispatcher, max_wait=0)
        finally:
            await dispatcher.aclose()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def log_in(page, url: str, path: str) -> None:
    page.route(lambda u: not u.startswith("http://127.0.0.1"), lambda route: route.abort())  # nothing leaves
    page.goto(f"{url}{path}")
    page.fill("input[name=username]", "anna")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{url}{path}")


def seed_id(store) -> int:
    return next(a.id for a in store.list_articles()
                if a.article.language == "de" and a.article.title
                and {"telegram", "twitter", "newsletter"} <= {d.kind for d in store.deliveries(article_id=a.id)})


@pytest.fixture
def served(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    add_editor(store)
    handle = serve(sb_settings, store)
    try:
        yield handle.url
    finally:
        handle.stop()


def test_edit_the_tweet_and_send_it_and_the_telegram_post(served, store, phone, control, tmp_path):
    url, aid = served, seed_id(store)
    log_in(phone, url, f"/desk/articles/{aid}")
    fits(phone)
    previews = phone.locator(".preview[data-channel]")
    assert previews.evaluate_all("els => els.map(e => e.dataset.channel)") == ["telegram", "twitter", "newsletter"]
    twitter = phone.locator("#channel-twitter")
    assert twitter.locator(".state").inner_text() == "pending"

    # The keyboard alone: the Edit disclosure opens with Enter, Tab reaches the field, then Save edit.
    summary = twitter.locator("summary")
    summary.focus()
    phone.keyboard.press("Enter")
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.id") == "edit-twitter"
    phone.keyboard.press("Control+A")
    phone.keyboard.type("ü" * 281)  # too long: refused next to the field
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.textContent") == "Save edit"
    phone.keyboard.press("Enter")
    phone.wait_for_selector("#edit-twitter-error")
    field = phone.locator("#edit-twitter")
    assert field.get_attribute("aria-invalid") == "true"
    assert "edit-twitter-error" in field.get_attribute("aria-describedby")
    assert "X takes at most 280" in phone.locator("#edit-twitter-error").inner_text()
    fits(phone)
    field.fill(TWEET)
    twitter.get_by_role("button", name="Save edit", exact=True).click()
    phone.wait_for_selector("#channel-twitter .preview[data-edited=yes]")
    assert twitter.locator(".tweet .text").all_inner_texts() == [TWEET]
    assert "Edited by desk:anna" in twitter.locator(".edited").inner_text()
    fits(phone)
    twitter.locator("summary").click()  # the screenshots show the edit form, open
    shots = shots_dir(tmp_path)
    phone.screenshot(path=str(shots / "desk-article-390.png"), full_page=True)
    phone.set_viewport_size({"width": 1280, "height": 900})
    phone.screenshot(path=str(shots / "desk-article-1280.png"), full_page=True)
    phone.set_viewport_size({"width": 390, "height": 800})

    assert sent(control, "x", "/2/tweets") == []
    twitter.get_by_role("button", name="Send now", exact=True).click()
    phone.wait_for_selector("#channel-twitter .state-sent")
    tweets = sent(control, "x", "/2/tweets")
    assert [t["body"]["text"] for t in tweets] == [TWEET]
    remote = phone.locator("#channel-twitter .remote-id").inner_text()
    assert remote == tweets[0]["result"]["data"]["id"]
    phone.locator("#channel-twitter details:has(pre.request) summary").click()
    assert TWEET in phone.locator("#channel-twitter pre.request").inner_text()  # the recorded request

    telegram = phone.locator("#channel-telegram")
    assert telegram.locator(".state").inner_text() == "pending"
    telegram.get_by_role("button", name="Send now", exact=True).click()
    phone.wait_for_selector("#channel-telegram .state-sent")
    posts = [r for r in sent(control, "telegram") if r["path"].endswith(("sendMessage", "sendPhoto"))]
    assert len(posts) == 1
    assert telegram.locator(".remote-id").inner_text().endswith(f"/{posts[0]['result']['message_id']}")
    assert phone.locator("#channel-twitter .state").inner_text() == "sent"
    assert len(sent(control, "x", "/2/tweets")) == 1  # nothing twice
    fits(phone)


@pytest.fixture
def required_served(sb_settings, store, articles_dir):
    """de.telegram in approval = "required" mode, the web app and an editor;
    nothing ingested yet."""
    settings = with_channel(sb_settings, "de.telegram", approval="required")
    add_editor(store)
    handle = serve(settings, store)
    try:
        yield settings, handle.url
    finally:
        handle.stop()


def test_in_required_mode_a_new_article_waits_for_approve(required_served, store, phone, control, articles_dir,
                                                          tmp_path):
    settings, url = required_served
    for old in articles_dir.iterdir():
        old.unlink()  # only the new article
    (articles_dir / "neu.md").write_text(
        f"---\ntitle: {NEW}\nlanguage: de\nurl: https://novastan.org/de/neu/\nchannels: [telegram]\n---\n\n"
        "Ein Trockenhafen an der Grenze zu China verändert die Region.\n", encoding="utf-8")
    ours = lambda: [r for r in sent(control, "telegram") if NEW in str(r["body"])]  # noqa: E731
    report = cycle(settings, store)  # the daemon picks it up and plans it: it awaits approval
    assert [r.item_errors for r in report.sources] == [[]] and report.delivery.awaiting_approval == 1
    cycle(settings, store)  # and a second pass still sends nothing
    assert ours() == []
    (art,) = store.list_articles()
    log_in(phone, url, f"/desk/articles/{art.id}")
    telegram = phone.locator("#channel-telegram")
    assert telegram.locator(".state").inner_text() == "awaiting approval"
    assert phone.get_by_role("button", name="Approve all", exact=True).count() == 1
    assert ours() == []
    phone.screenshot(path=str(shots_dir(tmp_path) / "desk-article-approve-390.png"), full_page=True)
    telegram.get_by_role("button", name="Approve", exact=True).click()
    phone.wait_for_selector("#flash")
    assert phone.locator("#flash").inner_text().startswith("Approve (de.telegram): approved")
    assert telegram.locator(".state").inner_text() == "pending"
    assert phone.get_by_role("button", name="Approve all", exact=True).count() == 0
    fits(phone)
    cycle(settings, store)  # the daemon's next pass sends it
    assert len(ours()) == 1
    phone.reload()
    assert telegram.locator(".state").inner_text() == "sent"
    assert telegram.locator(".remote-id").count() == 1
