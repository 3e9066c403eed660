"""The desk's article page, in-process (httpx's ASGI transport) against real
SQLite and the sandbox over HTTP: the three previews as the send renders
them, each button only in the states it applies to, Send now posting exactly
once and the page then showing the request and the remote id, Skip with a
reason, Hold and Release, a refusal shown, and the history with the editor."""

from __future__ import annotations

import html
import json
import re

import pytest

from desk_helpers import Clock, add_editor, client, csrf_of, logged_in
from distributor.ingest.pipeline import ingest
from distributor.render import render_article
from distributor.store.outbox import DeliveryStatus as S
from distributor.web.desk.article import applicable, telegram_body
from support import sent

pytestmark = pytest.mark.anyio

BUTTONS = ("Send now", "Resend", "Skip", "Hold", "Release", "Retry")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def planned(sb_settings, store, clock):
    """The seed articles ingested (deliveries pending, nothing sent), an editor."""
    ingest(sb_settings, store, now=clock())
    add_editor(store)
    return sb_settings


def seed(store) -> int:
    """The titled German article with all three channels planned."""
    for a in store.list_articles():
        kinds = {d.kind for d in store.deliveries(article_id=a.id)}
        if a.article.language == "de" and a.article.title and {"telegram", "twitter", "newsletter"} <= kinds:
            return a.id
    raise AssertionError("no seed article with the three channels")


def panel(page: str, kind: str) -> str:
    found = re.search(rf'<section class="card variant variant-{kind}"[^>]*>(.*?)</section>', page, re.S)
    assert found, f"no {kind} panel"
    return found[1]


def buttons(panel_html: str) -> list[str]:
    """The channel's action buttons (the edit form's are not among them)."""
    actions = re.sub(r'<div class="edit">.*?</details>\s*</div>', "", panel_html, flags=re.S)
    return re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', actions)


def delivery(store, article_id: int, kind: str):
    return [d for d in store.deliveries(article_id=article_id) if d.kind == kind][-1]


async def press(c, article_id: int, action: str, kind: str, **fields) -> str:
    """Press a button on the article page as the browser would (its form's
    fields); the page after the redirect."""
    page = (await c.get(f"/desk/articles/{article_id}")).text
    form = {"csrf": csrf_of(page), "action": action, "kind": kind, **fields}
    r = await c.post(f"/desk/articles/{article_id}/act", data=form)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"/desk/articles/{article_id}")
    after = await c.get(r.headers["location"])
    assert after.status_code == 200
    return after.text


async def test_the_page_shows_the_three_variants_as_the_send_renders_them(planned, store):
    settings = planned
    aid = seed(store)
    article = store.get_article(aid).article
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get(f"/desk/articles/{aid}")).text
        listing = (await c.get("/desk/")).text
    assert re.findall(r'class="preview" data-channel="(\w+)"', page) == ["telegram", "twitter", "newsletter"]
    tg = render_article(settings, article, "telegram")
    assert f'<div class="text">{tg.text}</div>' in panel(page, "telegram")  # the checked HTML, as HTML
    assert f'<img src="{html.escape(tg.photo)}"' in panel(page, "telegram")
    tw = render_article(settings, article, "twitter")
    for part in tw.parts or (tw.text,):
        assert html.escape(part, quote=True) in panel(page, "twitter").replace("&#34;", "&quot;")
    assert f"of {tw.limit} (weighted)" in panel(page, "twitter")
    nl = render_article(settings, article, "newsletter")
    frames = re.findall(r'<iframe sandbox="" width="(\d+)"[^>]* srcdoc="([^"]*)"', panel(page, "newsletter"))
    assert [w for w, _ in frames] == ["390", "600"]
    assert all(html.unescape(doc) == nl.html for _, doc in frames)
    # The list links each title to its page.
    assert f'href="/desk/articles/{aid}"' in listing
    # An unknown article: 404.
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        assert (await c.get("/desk/articles/999999")).status_code == 404


async def test_only_the_configured_channels_are_previewed(planned, store):
    fr = next(a for a in store.list_articles() if a.article.language == "fr")
    async with client(planned, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get(f"/desk/articles/{fr.id}")).text
    # fr has no X account: its skipped delivery is listed, not previewed.
    assert re.findall(r'class="preview" data-channel="(\w+)"', page) == ["telegram", "newsletter"]
    assert "fr.twitter" in page


def test_the_buttons_follow_the_actions_rules():
    assert applicable("telegram", S.PENDING) == ("send", "hold", "skip")
    assert applicable("telegram", S.HELD) == ("send", "release", "skip")
    assert applicable("telegram", S.FAILED) == ("send", "retry", "hold", "skip")
    assert applicable("telegram", S.SENT) == ("resend",)
    assert applicable("twitter", S.SENDING) == ()
    assert applicable("telegram", S.CANCELLED) == ("send",)
    assert applicable("telegram", None) == ("send",)
    # The newsletter's articles go out with the digest: no Send now, no Resend.
    assert applicable("newsletter", S.PENDING) == ("hold", "skip")
    assert applicable("newsletter", S.SENT) == ()


def test_telegram_html_is_shown_as_html_only_when_the_check_accepts_it():
    body, ok = telegram_body('<b>Bold</b> <a href="https://novastan.org/">link</a>')
    assert ok and str(body) == '<b>Bold</b> <a href="https://novastan.org/">link</a>'
    for bad in ('<script>alert(1)</script>', '<a href="javascript:alert(1)">x</a>', '<img src=x onerror=alert(1)>',
                '<b onclick="alert(1)">x</b>'):
        body, ok = telegram_body(bad)
        assert not ok and "<" not in str(body), bad


async def test_send_now_posts_exactly_once_and_shows_the_request_and_remote_id(planned, store, control):
    settings = planned
    aid = seed(store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        before = (await c.get(f"/desk/articles/{aid}")).text
        assert buttons(panel(before, "telegram")) == ["Send now", "Hold", "Skip"]
        assert buttons(panel(before, "newsletter")) == ["Hold", "Skip"]
        assert sent(control, "telegram") == []
        page = await press(c, aid, "send", "telegram")
    posts = tg_posts(control)
    assert len(posts) == 1
    d = delivery(store, aid, "telegram")
    assert d.status == S.SENT and d.remote_id
    tg = panel(page, "telegram")
    assert 'data-status="sent"' in tg and buttons(tg) == ["Resend"]
    assert f'<code class="remote-id">{d.remote_id}</code>' in tg
    chat, _, message_id = d.remote_id.rpartition("/")
    assert f'href="https://t.me/{chat.lstrip("@")}/{message_id}"' in tg
    recorded = json.loads(store.outbox.attempts(d.id)[-1].payload)["request"]
    assert html.escape(json.dumps(recorded, ensure_ascii=False, indent=2)) in tg.replace("&#34;", "&quot;")
    assert recorded["method"] == posts[0]["path"].rsplit("/", 1)[1]
    assert 'class="flash"' in page and "Send now (de.telegram): sent" in page
    # The other channels are untouched.
    assert delivery(store, aid, "twitter").status == S.PENDING and sent(control, "x") == []
    assert re.search(r"<td>desk:anna</td><td>Send now \(de\.telegram\): sent", page)


def tg_posts(control) -> list[dict]:
    return [r for r in sent(control, "telegram") if r["path"].endswith(("sendMessage", "sendPhoto"))]


async def test_resend_asks_for_confirmation(planned, store, control):
    settings = planned
    aid = seed(store)
    clock = Clock()
    async with client(settings, store, clock) as c:
        await logged_in(c)
        await press(c, aid, "send", "telegram")
        clock.advance(minutes=30)  # past the channel's spacing
        assert len(tg_posts(control)) == 1
        page = (await c.get(f"/desk/articles/{aid}")).text
        assert 'name="confirm" value="yes" required' in panel(page, "telegram")
        # Without the confirmation: a confirmation step, nothing sent.
        r = await c.post(f"/desk/articles/{aid}/act", data={"csrf": csrf_of(page), "action": "resend",
                                                             "kind": "telegram"})
        assert r.status_code == 200 and "Send it again?" in r.text and buttons(r.text)[-1] == "Resend"
        assert len(tg_posts(control)) == 1
        page = await press(c, aid, "resend", "telegram", confirm="yes")
    assert len(tg_posts(control)) == 2
    rows = [d for d in store.deliveries(article_id=aid) if d.kind == "telegram"]
    assert [d.status for d in rows] == [S.SENT, S.SENT] and rows[1].seq == 1
    assert "Resend (de.telegram): sent" in page
    assert f'<code class="remote-id">{rows[1].remote_id}</code>' in panel(page, "telegram")


async def test_skip_with_a_reason_hold_release_and_a_refusal(planned, store):
    settings = planned
    aid = seed(store)
    tg, tw = delivery(store, aid, "telegram"), delivery(store, aid, "twitter")
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        page = await press(c, aid, "skip", "telegram", delivery=str(tg.id), reason="already on the channel")
        assert delivery(store, aid, "telegram").status == S.CANCELLED
        assert "cancelled by an editor: already on the channel" in delivery(store, aid, "telegram").reason
        assert buttons(panel(page, "telegram")) == ["Send now"]
        assert "Skip (de.telegram): cancelled" in page

        page = await press(c, aid, "hold", "twitter", delivery=str(tw.id), reason="check the figures")
        assert delivery(store, aid, "twitter").status == S.HELD
        assert buttons(panel(page, "twitter")) == ["Send now", "Release", "Skip"]
        page = await press(c, aid, "release", "twitter", delivery=str(tw.id))
        assert delivery(store, aid, "twitter").status == S.PENDING
        assert buttons(panel(page, "twitter")) == ["Send now", "Hold", "Skip"]

        # A page grown stale: Release pressed on a pending delivery is refused, shown, and changes nothing.
        page = await press(c, aid, "release", "twitter", delivery=str(tw.id))
        assert delivery(store, aid, "twitter").status == S.PENDING
        flash = re.search(r'<p class="flash refused"[^>]*>(.*?)</p>', page, re.S)
        assert flash and "Release (de.twitter) was refused" in flash[1] and "pending" in flash[1]

        # A delivery of another article, or an unknown action: 400, nothing done.
        other = next(d for d in store.deliveries() if d.article_id != aid and d.kind == "twitter")
        r = await c.post(f"/desk/articles/{aid}/act", data={"csrf": csrf_of(page), "action": "hold",
                                                             "kind": "twitter", "delivery": str(other.id)})
        assert r.status_code == 400 and store.outbox.get(other.id).status == other.status
        r = await c.post(f"/desk/articles/{aid}/act", data={"csrf": csrf_of(page), "action": "explode",
                                                             "kind": "twitter"})
        assert r.status_code == 400

        history = (await c.get(f"/desk/articles/{aid}")).text
    rows = re.findall(r'<tr data-audit="([^"]+)">', history)
    assert rows == ["desk:anna|release|refused", "desk:anna|release|pending", "desk:anna|hold|held",
                    "desk:anna|skip|cancelled"]
    assert "check the figures" in history and "already on the channel" in history


async def test_the_page_in_german(planned, store):
    aid = seed(store)
    async with client(planned, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get(f"/desk/articles/{aid}", params={"lang": "de"})).text
    assert "Jetzt senden" in page and "Verlauf" in page
    assert f'action="/desk/articles/{aid}/act?lang=de"' in page
