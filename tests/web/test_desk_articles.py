"""The desk's article list after a real run against the sandbox: newest
first, each delivery's state with its time, links to the posts as followers
see them, skipped channels with their reasons, and the article warnings."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import html
import re

import pytest

from desk_helpers import Clock, add_editor, client, logged_in
from distributor.ingest.pipeline import ingest
from distributor.newsletter.digest import run_digest
from distributor.store.outbox import DeliveryRow
from distributor.web.desk import articles
from support import add_subscribers, drain, with_channel

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def published(sb_settings, store, clock):
    """Posts and tweets in the sandbox, and de's digest sent."""
    ingest(sb_settings, store, now=clock())
    add_subscribers(store, "de", ["leserin@example.org"])
    drain(sb_settings, store, clock)
    assert asyncio.run(run_digest(sb_settings, store, "de", clock=clock, sleep=clock.sleep)).status == "sent"
    add_editor(store)
    return sb_settings


def cards(page: str) -> list[tuple[int, str]]:
    """(article id, its card's HTML) in page order."""
    return [(int(m[1]), m[2]) for m in re.finditer(r'<article class="card" id="article-(\d+)"[^>]*>(.*?)</article>',
                                                   page, re.S)]


def items(card: str) -> dict[int, str]:
    """delivery id -> its list item's HTML."""
    return {int(m[1]): m[2] for m in re.finditer(r'<li data-channel="[^"]+" data-delivery="(\d+)"[^>]*>(.*?)</li>',
                                                 card, re.S)}


async def test_the_list_after_a_run(published, store):
    settings = published
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get("/desk/")).text
    stored = store.list_articles()
    shown = cards(page)
    assert [i for i, _ in shown] == [a.id for a in reversed(stored)]  # newest first
    by_id = {a.id: a for a in stored}
    sent_posts = 0
    for article_id, card in shown:
        a = by_id[article_id].article
        if a.title:
            assert f"<h2>{html.escape(a.title, quote=False)}</h2>" in card.replace("&#39;", "'")
        assert f"Language: {a.language}" in card and f"Source: {by_id[article_id].source}" in card
        for warning in a.warnings:
            assert html.escape(warning) in card
        rows = {d.id: d for d in store.deliveries(article_id=article_id)}
        lis = items(card)
        assert set(lis) == set(rows)
        for d in rows.values():
            li = lis[d.id]
            assert f'<time datetime="{d.updated_at.isoformat()}">' in li
            assert f"state-{d.status}" in li
            if d.status == "skipped":
                assert html.escape(d.reason) in li
            if d.status == "sent" and d.kind == "telegram":
                chat, _, message_id = d.remote_id.rpartition("/")
                assert f'href="https://t.me/{chat.lstrip("@")}/{message_id}"' in li
                sent_posts += 1
            if d.status == "sent" and d.kind == "twitter":
                assert f'href="https://x.com/sandbox_{d.edition}/status/{d.remote_id}"' in li
                sent_posts += 1
            if d.status == "sent" and d.kind == "newsletter":
                issue = d.remote_id.removeprefix("issue:")
                assert f'href="https://novastan.example/archive/de/{issue}"' in li
    assert sent_posts >= 4
    assert "no facebook channel configured for de" in page
    # The untitled seed article leads with its lede, and says it has a warning.
    assert any(not by_id[i].article.title and "(untitled)" in card and "no title" in card for i, card in shown)


async def test_the_times_are_in_the_editions_time_zone(published, store):
    settings = published
    d = next(d for d in store.deliveries(status="sent") if d.channel == "de.telegram")
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get("/desk/")).text
    local = d.updated_at.astimezone(dt.timezone(dt.timedelta(hours=1)))  # Berlin in March: CET
    assert f"{local:%Y-%m-%d %H:%M} CET" in items(dict(cards(page))[d.article_id])[d.id]


async def test_pages_of_fifty(settings, store, monkeypatch):
    ingest(settings, store)
    add_editor(store)
    total = len(store.list_articles())
    monkeypatch.setattr(articles, "PER_PAGE", 2)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        seen = []
        page_no = 1
        while True:
            text = (await c.get("/desk/", params={"page": page_no})).text
            seen += [i for i, _ in cards(text)]
            if 'Older articles' not in text:
                break
            assert f'href="/desk/?page={page_no + 1}"' in text
            page_no += 1
        assert seen == [a.id for a in reversed(store.list_articles())] and len(seen) == total
        assert 'Newer articles' in text
        assert cards((await c.get("/desk/", params={"page": "nonsense"})).text)[0][0] == seen[0]


def row(**kw) -> DeliveryRow:
    now = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)
    base = dict(id=1, article_id=1, channel="de.telegram", kind="telegram", seq=0, status="sent", reason=None,
                attempts=1, next_attempt_at=None, remote_id=None, last_error=None, article_version=1,
                claimed_by=None, claimed_at=None, created_at=now, updated_at=now)
    return DeliveryRow(**{**base, **kw})


def test_post_links(settings):
    link = articles.post_link
    assert link(settings, row(remote_id="@novastan_de/17")) == "https://t.me/novastan_de/17"
    assert link(settings, row(remote_id="17")) == "https://t.me/novastan_de/17"  # a bare id: the configured chat
    assert link(settings, row(remote_id="-1001234567890/5")) == "https://t.me/c/1234567890/5"
    assert link(settings, row(remote_id="-4242/5")) is None  # a group by number: no public address
    assert link(settings, row(remote_id="@novastan_de/x")) is None
    tw = dict(channel="de.twitter", kind="twitter", remote_id="1899")
    assert link(settings, row(**tw)) == "https://x.com/sandbox_de/status/1899"
    live = with_channel(settings, "de.twitter", mode="live")
    assert link(live, row(**tw)) == "https://x.com/i/status/1899"
    named = with_channel(settings, "de.twitter", mode="live", username="@NovastanDE")
    assert link(named, row(**tw)) == "https://x.com/NovastanDE/status/1899"
    assert link(settings, row(channel="de.newsletter", kind="newsletter", remote_id="issue:3")) == \
        "https://novastan.example/archive/de/3"
    assert link(settings, row(channel="de.newsletter", kind="newsletter", remote_id="x")) is None
    assert link(settings, row(remote_id=None)) is None
    gone = dataclasses.replace(settings, editions={k: v for k, v in settings.editions.items() if k != "de"})
    assert link(gone, row(remote_id="@novastan_de/17")) == "https://t.me/novastan_de/17"
    assert link(gone, row(**tw)) == "https://x.com/i/status/1899"
