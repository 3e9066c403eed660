"""The desk's /desk/sent after a real run against the sandbox, on SQLite and
PostgreSQL: every post and digest issue that went out, newest first, with
the links to them as followers see them and to the article pages; the date
filter taken in each edition's own zone, the edition and channel filters,
the pages; and hostile or mistaken filter values answered with a message."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest

from desk_helpers import Clock, add_editor, client, logged_in
from distributor.ingest.pipeline import ingest
from distributor.newsletter.digest import run_digest
from distributor.store import Store
from distributor.store.issues import Issues
from distributor.web.desk import sent as sent_page
from support import FakeClock, add_subscribers, drain

pytestmark = pytest.mark.anyio
# Late in the evening in UTC: already the next day in Berlin and Paris, not in London.
EVENING = dt.datetime(2025, 3, 14, 23, 20, tzinfo=dt.timezone.utc)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def went_out(request, sb_settings):
    """Posts and tweets sent through the real delivery path, de's digest sent;
    on a fresh SQLite file or PostgreSQL database."""
    settings = sb_settings
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        settings = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=url))
    clock = FakeClock(EVENING)
    with Store.open(settings) as store:
        ingest(settings, store, now=clock())
        add_subscribers(store, "de", ["leserin@example.org", "leser@example.org"], now=clock())
        drain(settings, store, clock)
        assert asyncio.run(run_digest(settings, store, "de", clock=clock, sleep=clock.sleep)).status == "sent"
        add_editor(store)
        yield settings, store


def expected(settings, store) -> list[tuple[str, int, str, dt.datetime]]:
    """What went out, from the store: (what, id, channel, when), newest first."""
    out = []
    for d in store.deliveries(status="sent"):
        if d.kind == "newsletter":
            continue
        at = min(a.finished_at for a in store.outbox.attempts(d.id) if a.outcome in ("sent", "found"))
        out.append(("post", d.id, d.channel, at))
    for i in Issues(store.engine).list():
        if i.status == "sent":
            out.append(("issue", i.id, f"{i.edition}.newsletter", i.sent_at))
    return sorted(out, key=lambda x: (x[3], x[0] == "issue", x[1]), reverse=True)


def listed(page: str) -> list[tuple[str, int, str, str]]:
    """(what, id, channel, its HTML) in page order."""
    return [(m[1], int(m[2]), m[3], m[4]) for m in re.finditer(
        r'<li data-what="(post|issue)" data-id="(\d+)" data-channel="([^"]+)">(.*?)</li>\n(?=<li data-what|</ul>)',
        page, re.S)]


def local_day(settings, channel: str, at: dt.datetime) -> dt.date:
    return at.astimezone(ZoneInfo(settings.editions[channel.split(".")[0]].timezone)).date()


async def test_everything_that_went_out_newest_first_with_links(went_out):
    settings, store = went_out
    want = expected(settings, store)
    assert {w[0] for w in want} == {"post", "issue"} and len(want) >= 5
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        r = await c.get("/desk/sent")
    assert r.status_code == 200
    shown = listed(r.text)
    assert [(w, i, ch) for w, i, ch, _ in shown] == [(w, i, ch) for w, i, ch, _ in want]
    assert "<p class=\"meta\" id=\"total\">" + f"{len(want)} item(s)" in r.text
    for (what, item_id, channel, li), (_, _, _, at) in zip(shown, want):
        assert f'<time datetime="{at.isoformat()}">' in li
        if what == "post":
            d = store.outbox.get(item_id)
            if d.kind == "telegram":
                chat, _, message_id = d.remote_id.rpartition("/")
                assert f'href="https://t.me/{chat.lstrip("@")}/{message_id}"' in li
            else:
                assert f'href="https://x.com/sandbox_{d.edition}/status/{d.remote_id}"' in li
            assert f'href="/desk/articles/{d.article_id}"' in li
        else:
            issue = Issues(store.engine).get(item_id)
            assert f'href="https://novastan.example/archive/de/{issue.id}"' in li
            assert html.escape(issue.subject, quote=False) in li.replace("&#39;", "'")
            assert "2 recipient(s)" in li
            for article_id in Issues(store.engine).article_ids(issue.id):
                assert f'href="/desk/articles/{article_id}"' in li


async def test_the_date_filter_is_in_each_editions_zone(went_out):
    settings, store = went_out
    want = expected(settings, store)
    # The evening's posts: the 15th in Berlin and Paris, still the 14th in London.
    days = {(ch.split(".")[0], local_day(settings, ch, at)) for _, _, ch, at in want}
    assert ("de", dt.date(2025, 3, 15)) in days and ("en", dt.date(2025, 3, 14)) in days
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        for start, end in (("2025-03-15", "2025-03-15"), ("2025-03-14", "2025-03-14"), ("2025-03-14", ""),
                           ("", "2025-03-14"), ("2025-03-16", "")):
            r = await c.get("/desk/sent", params={"from": start, "to": end})
            assert r.status_code == 200
            lo = dt.date.fromisoformat(start) if start else dt.date.min
            hi = dt.date.fromisoformat(end) if end else dt.date.max
            assert [(w, i) for w, i, _, _ in listed(r.text)] == \
                [(w, i) for w, i, ch, at in want if lo <= local_day(settings, ch, at) <= hi], (start, end)
            assert f'value="{start}"' in r.text


async def test_the_edition_and_channel_filters(went_out):
    settings, store = went_out
    want = expected(settings, store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        for params in ({"edition": "de"}, {"edition": "en"}, {"channel": "de.twitter"}, {"channel": "de.newsletter"},
                       {"edition": "de", "channel": "de.telegram"}, {"edition": "fr", "from": "2025-03-15"},
                       {"channel": "en.newsletter"}):
            r = await c.get("/desk/sent", params=params)
            assert r.status_code == 200, params
            keep = [(w, i) for w, i, ch, at in want
                    if ch.startswith(params.get("edition", "") + ".") or "edition" not in params
                    if ch == params.get("channel", ch)
                    if local_day(settings, ch, at) >= dt.date.fromisoformat(params.get("from", "1970-01-01"))]
            assert [(w, i) for w, i, _, _ in listed(r.text)] == keep, params
            if not keep:
                assert "Nothing that went out matches these filters." in r.text
            for name, value in params.items():
                if name != "from":
                    assert f'<option value="{value}" selected>' in r.text
        assert {w for w, _, _, _ in listed((await c.get("/desk/sent", params={"channel": "de.newsletter"})).text)} \
            == {"issue"}


async def test_pages(went_out, monkeypatch):
    settings, store = went_out
    want = expected(settings, store)
    monkeypatch.setattr(sent_page, "PER_PAGE", 2)
    seen = []
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        url, params = "/desk/sent", {"edition": "de", "lang": "fr"}
        r = await c.get(url, params=params)
        while True:
            seen += [(w, i) for w, i, _, _ in listed(r.text)]
            older = re.search(r'<a href="([^"]+)">Plus anciens →</a>', r.text)
            if not older:
                break
            r = await c.get(html.unescape(older[1]))
            assert "lang=fr" in str(r.url) and "edition=de" in str(r.url)
        assert "Plus récents" in r.text
    assert seen == [(w, i) for w, i, ch, _ in want if ch.startswith("de.")]


BAD_FILTERS = [
    ({"from": "14.03.2025"}, "From", "“14.03.2025” is not a date; write it as YYYY-MM-DD"),
    ({"to": "2025-02-30"}, "To", "“2025-02-30” is not a date"),
    ({"from": "0001-01-01"}, "From", "0001-01-01 is out of range; a date from 1970-01-01 to 9998-12-31."),
    ({"to": "9999-12-31"}, "To", "9999-12-31 is out of range"),
    ({"from": "2025-03-15", "to": "2025-03-14"}, "To", "2025-03-14 is before the start date 2025-03-15."),
    ({"edition": "xx"}, "Edition", "there is no edition “xx”; the editions are de, fr, en."),
    ({"edition": "<script>alert(1)</script>"}, "Edition", "there is no edition “&lt;script&gt;alert(1)&lt;/script&gt;”"),
    ({"channel": "de.facebook"}, "Channel", "there is no channel “de.facebook”; the channels are de.telegram,"),
    ({"channel": "' OR 1=1 --"}, "Channel", "there is no channel “&#39; OR 1=1 --”"),
    ({"edition": "fr", "channel": "de.telegram"}, "Channel", "de.telegram is not a channel of the edition fr."),
    ({"page": "0"}, "Page", "“0” is not a page; a whole number from 1 to 100000."),
    ({"page": "-3"}, "Page", "“-3” is not a page"),
    ({"page": "9" * 40}, "Page", "is not a page"),
    ({"page": "２"}, "Page", "“２” is not a page"),
    ({"to": "２０２５-０３-１４"}, "To", "is not a date"),
    ({"from": "2025-W11-5"}, "From", "is not a date"),
    ({"from": "2025-03-14\x00"}, "From", "“2025-03-14\ufffd” is not a date"),
    ({"from": "x" * 5000}, "From", "“" + "x" * 39 + "…” is not a date"),
]


@pytest.fixture
def posted(sb_settings, store, clock):
    """Posts sent on SQLite (what a filter could list, were it valid)."""
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    add_editor(store)
    assert store.deliveries(status="sent")
    return sb_settings


async def test_a_bad_filter_gets_a_clear_message(posted, store):
    settings = posted
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        for params, field, message in BAD_FILTERS:
            r = await c.get("/desk/sent", params=params)
            assert r.status_code == 400, params
            alert = re.search(r'<p class="notice error" role="alert" id="filter-error">(.*?)</p>', r.text, re.S)
            assert alert, r.text
            assert alert[1].startswith(f"{field}: ") and message in alert[1], alert[1]
            assert "Nothing is listed until it is corrected." in alert[1]
            assert listed(r.text) == []
            if field != "Page":  # the pager's number has no field of its own
                assert 'aria-invalid="true" aria-describedby="filter-error"' in r.text, params
            assert "<script>" not in r.text.split("<main", 1)[1]


async def test_a_bad_filter_in_german_and_french(posted, store):
    settings = posted
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        de = await c.get("/desk/sent", params={"from": "morgen", "lang": "de"})
        fr = await c.get("/desk/sent", params={"edition": "it"}, headers={"accept-language": "fr"})
    assert de.status_code == 400 and "Von: „morgen“ ist kein Datum; bitte als JJJJ-MM-TT schreiben" in de.text
    assert fr.status_code == 400 and "Édition : il n&#39;y a pas d&#39;édition « it »" in fr.text
    assert 'aria-current="page">Envoyés<' in fr.text


async def test_nothing_went_out_yet(settings, store):
    add_editor(store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        r = await c.get("/desk/sent")
    assert r.status_code == 200 and "Nothing that went out matches these filters." in r.text
    assert "0 item(s)" in r.text
