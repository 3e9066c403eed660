"""The sandbox's page, in a real browser: after a run of the pipeline it shows
each Telegram post as a chat bubble, each tweet, and each email rendered."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from playwright.sync_api import sync_playwright

from distributor.ingest.pipeline import ingest
from distributor.newsletter.digest import run_digest
from distributor.store.issues import Issues
from browser import launch
from support import add_subscribers, drain



@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def published(sb_settings, store, clock):
    """The pipeline run once: posts, tweets and a digest in the sandbox (before
    the browser starts: Playwright's sync API owns the thread's event loop)."""
    ingest(sb_settings, store, now=clock())
    add_subscribers(store, "de", ["leserin@example.org"])
    drain(sb_settings, store, clock)
    result = asyncio.run(run_digest(sb_settings, store, "de", clock=clock, sleep=clock.sleep))
    assert result.status == "sent"
    return result


def test_the_page_shows_what_followers_and_subscribers_would_see(published, store, sandbox, browser, tmp_path):
    result = published
    page = browser.new_page()
    page.goto(f"{sandbox.url}/_sandbox/")
    titles = [store.get_article(d.article_id).article.title for d in store.deliveries(status="sent")
              if d.kind == "telegram"]
    bubbles = page.locator(".bubble")
    assert bubbles.count() == len(titles)
    shown = " ".join(bubbles.all_inner_texts())
    for title in titles:
        assert title in shown
    # Telegram HTML is shown as formatting, not as tags.
    assert "<b>" not in shown
    tweets = page.locator(".tweet")
    assert tweets.count() == len([d for d in store.deliveries(status="sent") if d.kind == "twitter"])
    mail = page.locator(".mail")
    assert mail.count() == 1
    assert result.issue.subject in mail.inner_text()
    frame = page.frame_locator(".mail iframe")
    digest_text = frame.locator("body").inner_text()
    for article_id in Issues(store.engine).article_ids(result.issue.id):
        assert store.get_article(article_id).article.title in digest_text
    page.screenshot(path=str(tmp_path / "sandbox.png"), full_page=True)
    shutil.copy(tmp_path / "sandbox.png", "/tmp/sandbox-page.png")
    assert (tmp_path / "sandbox.png").stat().st_size > 10_000
