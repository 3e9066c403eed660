"""Editing a variant on the desk's article page (issue 13, item 3's Edit), in
process (httpx's ASGI transport) against the sandbox over HTTP, on SQLite and
PostgreSQL: the locks (no session, no or a wrong CSRF token), a text the
platform's rules refuse shown next to its field with nothing stored, a valid
edit stored, audited, previewed and exactly what the sandbox receives (the
tweet, a thread, the Telegram caption, the digest's entry), an edit made out
of date by a correction (not sent; the template's text is), and removing it."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import re

import pytest

from desk_helpers import Clock, add_editor, client, csrf_of, logged_in
from distributor.ingest.pipeline import ingest
from distributor.newsletter.digest import assemble
from distributor.render import render_article
from distributor.store import Store
from distributor.store.audit import Audit
from distributor.store.edits import Edits
from distributor.store.outbox import DeliveryStatus as S
from support import FakeClock, add_subscribers, drain, sent
from test_desk_article import delivery, panel, press, seed, tg_posts

pytestmark = pytest.mark.anyio

TWEET = "Kasachstan und Chinas Friedensplan: was dahinter steckt. https://novastan.org/de/kasachstan/ #Kasachstan"


@pytest.fixture
def anyio_backend():
    return "asyncio"


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def desk_on(request, settings, clock):
    """(settings, store): the seed articles ingested, nothing sent, an editor;
    on a SQLite file or a fresh PostgreSQL database (request.param)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        settings = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=url))
    with Store.open(settings) as store:
        ingest(settings, store, now=clock())
        add_editor(store)
        yield settings, store


@pytest.fixture(params=BACKENDS)
def desk(request, sb_settings, clock):
    yield from desk_on(request, sb_settings, clock)


async def run_drain(settings, store):
    """One delivery pass of the dispatcher (the daemon's), on the clock of now."""
    await asyncio.to_thread(drain, settings, store, FakeClock(Clock()()))


def correct(settings, store, articles_dir, aid: int) -> None:
    """A correction of the seed article's file, picked up: its version 2."""
    path = articles_dir / store.get_article(aid).key
    path.write_text(path.read_text(encoding="utf-8").replace("etwa 800 Menschen", "etwa 850 Menschen", 1),
                    encoding="utf-8")
    ingest(settings, store, now=Clock()())
    assert store.get_article(aid).version == 2


async def edit(c, aid: int, kind: str, text: str, **extra):
    page = (await c.get(f"/desk/articles/{aid}")).text
    version = re.search(r'name="seen_version" value="(\d+)"', page)[1]
    return await c.post(f"/desk/articles/{aid}/act", data={"csrf": csrf_of(page), "action": "edit", "kind": kind,
                                                           "text": text, "seen_version": version, **extra})


def edit_rows(store) -> list[str]:
    return [f"{e.action}|{e.outcome}" for e in Audit(store.engine).history() if e.action in ("edit", "unedit")]


async def test_no_session_or_no_csrf_token_changes_nothing(desk):
    settings, store = desk
    aid = seed(store)
    async with client(settings, store, Clock()) as c:
        r = await c.post(f"/desk/articles/{aid}/act", data={"action": "edit", "kind": "twitter", "text": TWEET})
        assert r.status_code == 303 and r.headers["location"].startswith("/desk/login")
        await logged_in(c)
        for token in ({}, {"csrf": "forged"}):
            r = await c.post(f"/desk/articles/{aid}/act", data={"action": "edit", "kind": "twitter", "text": TWEET,
                                                                 **token})
            assert r.status_code == 403
        tw = delivery(store, aid, "twitter")
        r = await c.post(f"/desk/articles/{aid}/act", data={"action": "approve", "kind": "twitter",
                                                             "delivery": str(tw.id), "csrf": "forged"})
        assert r.status_code == 403
    assert Edits(store.engine).of_article(aid) == {} and edit_rows(store) == []
    assert delivery(store, aid, "twitter").status == S.PENDING


@pytest.mark.parametrize(("kind", "text", "error"), [
    ("telegram", "<b>unclosed", "Telegram refuses this HTML"),
    ("telegram", '<a href="javascript:alert(1)">x</a>', "Telegram refuses this HTML"),
    ("telegram", "x" * 1025, "a photo's caption takes at most 1024"),  # the seed article has a photo
    ("twitter", "ü" * 281, "281 weighted characters long; X takes at most 280"),
    ("twitter", "中" * 141, "282 weighted characters long"),  # CJK counts 2
    ("twitter", "first\n---\n" + "y" * 281, "post 2 is 281 weighted characters long"),
    ("twitter", "   ", "the text is empty"),
    ("newsletter", "z" * 601, "a digest entry takes at most 600"),
])
async def test_a_text_the_rules_refuse_is_shown_next_to_its_field_and_nothing_is_stored(desk, kind, text, error):
    settings, store = desk
    aid = seed(store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        r = await edit(c, aid, kind, text)
    assert r.status_code == 400
    field = re.search(rf'<textarea id="edit-{kind}"[^>]*>', r.text)[0]
    assert 'aria-invalid="true"' in field and f'aria-describedby="edit-{kind}-help edit-{kind}-error"' in field
    message = re.search(rf'<p id="edit-{kind}-error" class="error" role="alert">([^<]*)</p>', r.text)
    assert message and error in html.unescape(message[1])
    # The field keeps what the editor wrote; the form is open.
    content = re.search(rf'<textarea id="edit-{kind}"[^>]*>(.*?)</textarea>', r.text, re.S)[1]
    assert html.unescape(content) == text
    assert re.search(rf'<details open>\s*<summary>Edit</summary>', panel(r.text, kind))
    assert Edits(store.engine).of_article(aid) == {} and edit_rows(store) == []


async def test_an_edited_tweet_is_stored_previewed_and_exactly_what_x_receives(desk, control):
    settings, store = desk
    aid = seed(store)
    template = render_article(settings, store.get_article(aid).article, "twitter")
    assert template.text != TWEET
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        r = await edit(c, aid, "twitter", TWEET + "  \r\n")
        assert r.status_code == 303
        page = (await c.get(r.headers["location"])).text
        tw = panel(page, "twitter")
        assert 'data-edited="yes"' in tw and "Edited by desk:anna" in tw
        assert f'<div class="text">{html.escape(TWEET)}</div>' in tw.replace("&#39;", "'")
        assert "Edit (de.twitter): edited" in page
        assert sent(control, "x", "/2/tweets") == []
        page = await press(c, aid, "send", "twitter")
    stored = Edits(store.engine).get(aid, "twitter")
    assert (stored.text, stored.actor, stored.article_version) == (TWEET, "desk:anna", 1)
    tweets = sent(control, "x", "/2/tweets")
    assert [t["body"]["text"] for t in tweets] == [TWEET]
    d = delivery(store, aid, "twitter")
    assert d.status == S.SENT
    recorded = json.loads(store.outbox.attempts(d.id)[-1].payload)
    assert recorded["text"] == TWEET and TWEET in json.dumps(recorded["request"], ensure_ascii=False)
    # The page shows the recorded request: the edited text, and the remote id.
    tw = panel(page, "twitter")
    assert html.escape(TWEET) in tw.replace("&#34;", '"').replace("&#39;", "'")
    assert f'<code class="remote-id">{d.remote_id}</code>' in tw
    assert [e for e in Audit(store.engine).history(article_id=aid) if e.action == "edit"][0].detail == (
        f"the tweet for article version 1: {TWEET}")


async def test_an_edited_thread_and_telegram_caption_go_out_as_edited(desk, control):
    settings, store = desk
    aid = seed(store)
    thread = ["Erster Teil über Kasachstan 1/2", "Zweiter Teil: https://novastan.org/de/ 2/2"]
    caption = '<b>Kasachstan</b> und der <i>Zwölf-Punkte-Plan</i> <a href="https://novastan.org/de/">lesen</a>'
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        assert (await edit(c, aid, "twitter", "\n---\n".join(thread))).status_code == 303
        assert (await edit(c, aid, "telegram", caption)).status_code == 303
        page = (await c.get(f"/desk/articles/{aid}")).text
        assert f'<div class="text">{caption}</div>' in panel(page, "telegram")  # shown as HTML
        assert panel(page, "twitter").count('<div class="tweet">') == 2
    article = store.get_article(aid).article
    tw_template, tg_template = (render_article(settings, article, k) for k in ("twitter", "telegram"))
    await run_drain(settings, store)  # the delivery loop itself sends them (and the other articles)
    tweets = sent(control, "x", "/2/tweets")
    texts = [t["body"]["text"] for t in tweets]
    first = texts.index(thread[0])
    assert texts[first:first + 2] == thread and texts.count(thread[0]) == texts.count(thread[1]) == 1
    assert tweets[first + 1]["body"]["reply"]["in_reply_to_tweet_id"] == tweets[first]["result"]["data"]["id"]
    assert not set(tw_template.parts or (tw_template.text,)) & set(texts)
    captions = [r["body"].get("caption") for r in tg_posts(control) if r["path"].endswith("sendPhoto")]
    assert captions.count(caption) == 1 and tg_template.text not in captions
    assert [r for r in tg_posts(control) if r["body"].get("caption") == caption][0]["body"]["parse_mode"] == "HTML"
    assert delivery(store, aid, "telegram").status == delivery(store, aid, "twitter").status == S.SENT


async def test_a_newsletter_edit_is_the_digest_entrys_text(desk):
    settings, store = desk
    aid = seed(store)
    entry = "Was Kasachstans Unterstützung für Chinas Plan bedeutet – und was nicht. <kein HTML>"
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        assert (await edit(c, aid, "newsletter", entry)).status_code == 303
        page = (await c.get(f"/desk/articles/{aid}")).text
    assert html.escape(html.escape(entry, quote=False)) in panel(page, "newsletter")  # in the frames' srcdoc
    add_subscribers(store, "de", ["reader@example.org"])
    clock = Clock()
    issue = assemble(settings, store, "de", clock(), clock())
    assert issue is not None and html.escape(entry, quote=False) in issue.html and entry in issue.text


async def test_a_correction_makes_an_edit_out_of_date_and_it_is_not_sent(desk, control, articles_dir):
    settings, store = desk
    aid = seed(store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        assert (await edit(c, aid, "twitter", TWEET)).status_code == 303
        old_page = (await c.get(f"/desk/articles/{aid}")).text
        correct(settings, store, articles_dir, aid)
        page = (await c.get(f"/desk/articles/{aid}")).text
        tw = panel(page, "twitter")
        assert 'data-edit="stale"' in tw and "for article version 1; the article is at version 2" in tw
        assert 'data-edited="yes"' not in tw
        # Saving from the page shown before the correction is refused, and shown.
        r = await c.post(f"/desk/articles/{aid}/act", data={
            "csrf": csrf_of(old_page), "action": "edit", "kind": "twitter", "text": TWEET + " neu",
            "seen_version": "1"})
        assert r.status_code == 303
        refused = (await c.get(r.headers["location"])).text
        assert "Edit (de.twitter) was refused" in refused and "version 1 then, 2 now" in refused
    assert Edits(store.engine).get(aid, "twitter").text == TWEET
    await run_drain(settings, store)
    template = render_article(settings, store.get_article(aid).article, "twitter")
    texts = [t["body"]["text"] for t in sent(control, "x", "/2/tweets")]
    assert (template.parts or (template.text,))[0] in texts and TWEET not in texts


async def test_removing_an_edit_goes_back_to_the_template(desk, control):
    settings, store = desk
    aid = seed(store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        assert (await edit(c, aid, "twitter", TWEET)).status_code == 303
        page = await press(c, aid, "unedit", "twitter")
        assert "Remove edit (de.twitter): removed" in page and 'data-edited="yes"' not in panel(page, "twitter")
        # Nothing left to remove: refused, shown.
        page = await press(c, aid, "unedit", "twitter")
        assert "Remove edit (de.twitter) was refused" in page
    assert Edits(store.engine).of_article(aid) == {}
    assert edit_rows(store) == ["unedit|refused", "unedit|removed", "edit|edited"]
    await run_drain(settings, store)
    template = render_article(settings, store.get_article(aid).article, "twitter")
    texts = [t["body"]["text"] for t in sent(control, "x", "/2/tweets")]
    assert (template.parts or (template.text,))[0] in texts and TWEET not in texts
