"""The desk's digest page (/desk/digest), in-process (httpx's ASGI transport)
against real SQLite and the sandbox's SendGrid over HTTP: the next issue of
every newsletter edition rendered by the send's own code at 390 and 600 px;
its subject and intro saved in the draft, audited and checked (a CR/LF
subject never reaches a header, a huge field changes nothing); an article
removed (still pending) and added; a test copy to a validated address; Send
now behind a confirmation naming the number of recipients, refused while an
issue is in progress; the draft used by Send now and by the daemon's weekly
slot, then gone; every route behind the login and the CSRF token."""

from __future__ import annotations

import asyncio
import html
import re
from zoneinfo import ZoneInfo

import pytest

from desk_helpers import Clock, add_editor, client, csrf_of, logged_in
from distributor import schedule
from distributor.delivery import Dispatcher
from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.render import render_edition_digest
from distributor.store.audit import Audit
from distributor.store.digest_drafts import Drafts
from distributor.store.issues import Issues
from distributor.store.outbox import DeliveryStatus as S
from distributor.web.desk.digest import count
from distributor.web.webhook import issue_figures
from support import START, add_subscribers, sent
from web_helpers import serving

pytestmark = pytest.mark.anyio

READERS = [f"reader{i:04d}@example.org" for i in range(1234)]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def planned(sb_settings, store, clock):
    """The seed articles ingested (nothing sent), an editor, de's readers."""
    ingest(sb_settings, store, now=clock())
    add_editor(store)
    add_subscribers(store, "de", READERS)
    return sb_settings


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


def section(page: str, edition: str) -> str:
    found = re.search(rf'<section class="card" id="edition-{edition}"[^>]*>(.*?)</section>', page, re.S)
    assert found, f"no {edition} section"
    return found[1]


def newsletter_items(store, edition: str = "de") -> list[tuple[int, int, str]]:
    """(delivery id, article id, title) of the edition's pending newsletter deliveries."""
    out = []
    for d in store.deliveries(status=S.PENDING):
        if d.channel == f"{edition}.newsletter":
            a = store.get_article(d.article_id).article
            out.append((d.id, d.article_id, a.title or a.label))
    return out


def two(store) -> list[tuple[int, int, str]]:
    """Two of de's waiting articles with a title (the third has none)."""
    titled = [i for i in newsletter_items(store) if not i[2].startswith("(untitled)")]
    assert len(titled) >= 2
    return titled[:2]


async def press(c, **fields) -> str:
    """Press a button of the digest page as the browser would; the page after the redirect."""
    page = (await c.get("/desk/digest")).text
    r = await c.post("/desk/digest/act", data={"csrf": csrf_of(page), **fields})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/desk/digest")
    after = await c.get(r.headers["location"])
    assert after.status_code == 200
    return after.text


def flash(page: str) -> str:
    found = re.search(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(found[1]) if found else ""


# ------------------------------------------------------------------ permissions


async def test_without_a_session_every_route_redirects_to_the_login_and_changes_nothing(planned, store, control):
    async with client(planned, store, Clock()) as c:
        r = await c.get("/desk/digest")
        assert r.status_code == 303 and r.headers["location"] == "/desk/login?next=%2Fdesk%2Fdigest"
        for fields in ({"action": "save", "edition": "de", "subject": "Hi"}, {"action": "send", "edition": "de",
                                                                              "confirm": "yes"}):
            r = await c.post("/desk/digest/act", data=fields)
            assert r.status_code == 303 and r.headers["location"].startswith("/desk/login")
    assert Drafts(store.engine).get("de").version == 0 and mails(control) == [] and not Issues(store.engine).list()


async def test_a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing(planned, store, control):
    async with client(planned, store, Clock()) as c:
        token = await logged_in(c)
        for csrf in (None, "x" + token[1:], token + "0"):
            for fields in ({"action": "save", "edition": "de", "subject": "Hijacked"},
                           {"action": "send", "edition": "de", "confirm": "yes"},
                           {"action": "test", "edition": "de", "address": "leserin@example.org"},
                           {"action": "remove", "edition": "de", "delivery": str(newsletter_items(store)[0][0])}):
                data = fields if csrf is None else {**fields, "csrf": csrf}
                r = await c.post("/desk/digest/act", data=data)
                assert r.status_code == 403, (csrf, fields)
    assert Drafts(store.engine).get("de").version == 0
    assert mails(control) == [] and not Issues(store.engine).list()
    assert Audit(store.engine).history() == []


async def test_a_form_naming_no_edition_or_action_of_the_page_is_400(planned, store):
    async with client(planned, store, Clock()) as c:
        token = await logged_in(c)
        for fields in ({"action": "explode", "edition": "de"}, {"action": "save", "edition": "xx"},
                       {"action": "remove", "edition": "de", "delivery": "abc"}):
            r = await c.post("/desk/digest/act", data={**fields, "csrf": token})
            assert r.status_code == 400, fields
    assert Drafts(store.engine).get("de").version == 0


# ------------------------------------------------------------------ the page


async def test_the_next_issue_of_each_edition_is_shown_as_the_send_renders_it(planned, store, clock):
    settings = planned
    async with client(settings, store, clock) as c:
        await logged_in(c)
        r = await c.get("/desk/digest")
    page = r.text
    assert r.status_code == 200
    # The page's CSP stays strict: nothing but images may come from elsewhere, and no script at all.
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "frame-ancestors 'none'" in policy
    assert re.findall(r'data-edition="(\w+)"', page) == ["de", "fr", "en"]
    de = section(page, "de")
    items = newsletter_items(store)
    assert len(items) == 3
    assert re.findall(r'data-list="items">.*?</ul>', de, re.S)
    for _, aid, title in items:
        assert f'href="/desk/articles/{aid}"' in de and html.escape(title) in de
    msg = render_edition_digest(settings, "de", [store.get_article(a).article for _, a, _ in items],
                                clock().astimezone(ZoneInfo("Europe/Berlin")).date())
    frames = re.findall(r'<iframe sandbox="" width="(\d+)"[^>]* srcdoc="([^"]*)"', de)
    assert [w for w, _ in frames] == ["390", "600"]
    assert all(html.unescape(doc) == msg.html for _, doc in frames)
    assert 'data-channel="newsletter"' in de
    assert f'<span class="subject-line">{html.escape(msg.subject)}</span>' in de
    assert 'data-recipients="1234"' in de and "1,234 active subscribers" in de
    # The edition's test_recipients are offered.
    assert 'value="leserin@example.org"' in de and '<option value="leserin@example.org">' in de
    for other in ("fr", "en"):  # each edition its own issue, in its own language
        assert f'lang=&#34;{other}&#34;' in section(page, other)
    assert "No issue has gone out yet." in page


async def test_the_page_in_german_and_french(planned, store):
    async with client(planned, store, Clock()) as c:
        await logged_in(c)
        de = (await c.get("/desk/digest", params={"lang": "de"})).text
        fr = (await c.get("/desk/digest", params={"lang": "fr"})).text
    assert "Nächste Ausgabe: de" in de and "1.234 aktive Abonnenten" in de
    assert 'action="/desk/digest/act?lang=de"' in de
    assert "Prochain numéro : de" in fr and "1\u202f234 abonnés actifs" in fr
    assert count(1234567, "en") == "1,234,567" and count(12, "de") == "12"


# ------------------------------------------------------------------ subject and intro


async def test_subject_and_intro_are_saved_in_the_draft_audited_and_previewed(planned, store, clock):
    async with client(planned, store, clock) as c:
        await logged_in(c)
        page = await press(c, action="save", edition="de", subject="Zentralasien <diese> Woche",
                           intro="Liebe Leserinnen,\n\n<b>neu</b> hier.")
    draft = Drafts(store.engine).get("de")
    assert draft.subject == "Zentralasien <diese> Woche" and draft.intro == "Liebe Leserinnen,\n\n<b>neu</b> hier."
    assert draft.updated_by == "desk:anna" and draft.version == 1
    (entry,) = Audit(store.engine).history(actor="desk:anna")
    assert (entry.action, entry.outcome, entry.channel) == ("digest_draft", "saved", "de.newsletter")
    assert "Zentralasien <diese> Woche" in entry.detail
    assert "Subject and intro (de.newsletter): saved" in flash(page)
    de = section(page, "de")
    # Shown escaped in the page; in the email the intro is text (escaped), its paragraphs kept.
    assert "<diese>" not in de and "Zentralasien &lt;diese&gt; Woche" in de
    (doc,) = set(html.unescape(d) for d in re.findall(r'srcdoc="([^"]*)"', de))
    assert "&lt;b&gt;neu&lt;/b&gt; hier." in doc and "Liebe Leserinnen," in doc
    assert 'value="Zentralasien &lt;diese&gt; Woche"' in de
    # Blank fields: back to the default subject and intro.
    async with client(planned, store, clock) as c:
        await logged_in(c)
        await press(c, action="save", edition="de", subject="  ", intro="")
    draft = Drafts(store.engine).get("de")
    assert draft.subject is None and draft.intro is None and draft.version == 2


@pytest.mark.parametrize("subject, intro, field, says", [
    ("Betreff\r\nBcc: victim@example.org", "", "subject", "line break"),
    ("Betreff\nX-Injected: 1", "", "subject", "line break"),
    ("x" * 201, "", "subject", "201 characters"),
    ("Betreff\x07", "", "subject", "control character"),
    ("", "y" * 2001, "intro", "2001 characters"),
    ("", "a\x00b", "intro", "control character"),
])
async def test_a_hostile_or_oversized_field_is_shown_next_to_it_and_changes_nothing(planned, store, control,
                                                                                   subject, intro, field, says):
    async with client(planned, store, Clock()) as c:
        token = await logged_in(c)
        r = await c.post("/desk/digest/act", data={"csrf": token, "action": "save", "edition": "de",
                                                    "subject": subject, "intro": intro})
        assert r.status_code == 400
        de = section(r.text, "de")
        error = re.search(rf'<p class="field-error" id="{field}-error-de">(.*?)</p>', de)
        assert error and says in error[1]
        assert f'aria-describedby="{field}-error-de"' in de
        # Nothing stored; the test copy and the send still use the defaults.
        assert Drafts(store.engine).get("de").version == 0
        await press(c, action="test", edition="de", address="leserin@example.org")
    (mail,) = mails(control)
    assert "\r" not in mail["subject"] and "\n" not in mail["subject"] and "Bcc" not in mail["subject"]
    assert all("\r" not in v and "\n" not in v for v in (mail.get("headers") or {}).values())


async def test_a_huge_form_is_refused_whole(planned, store):
    async with client(planned, store, Clock()) as c:
        token = await logged_in(c)
        r = await c.post("/desk/digest/act", data={"csrf": token, "action": "save", "edition": "de",
                                                    "subject": "ok", "intro": "z" * 70_000})
        assert r.status_code == 413
    assert Drafts(store.engine).get("de").version == 0


# ------------------------------------------------------------------ articles


async def test_an_article_removed_stays_pending_and_can_be_put_back_or_a_held_one_added(planned, store, clock):
    (d1, a1, t1), (d2, a2, t2) = two(store)
    async with client(planned, store, clock) as c:
        await logged_in(c)
        page = await press(c, action="remove", edition="de", delivery=str(d1))
        de = section(page, "de")
        items = re.search(r'data-list="items">(.*?)</ul>', de, re.S)[1]
        addable = re.search(r'data-list="addable">(.*?)</ul>', de, re.S)[1]
        assert f'data-delivery="{d1}"' not in items and f'data-delivery="{d2}"' in items
        assert f'data-delivery="{d1}"' in addable
        assert "it stays pending and goes into the following issue" in de
        assert store.outbox.get(d1).status == S.PENDING
        assert Drafts(store.engine).get("de").removed == {d1}
        # The preview is the issue without it.
        (doc,) = set(html.unescape(d) for d in re.findall(r'srcdoc="([^"]*)"', de))
        assert t1 not in doc and t2 in doc
        # Removing what is not in the issue is refused and recorded.
        page = await press(c, action="remove", edition="de", delivery=str(d1))
        assert "was refused" in flash(page) and f"delivery {d1} is not in the next de issue" in flash(page)
        # Put back.
        page = await press(c, action="add", edition="de", delivery=str(d1))
        assert Drafts(store.engine).get("de").removed == frozenset()
        items = re.search(r'data-list="items">(.*?)</ul>', section(page, "de"), re.S)[1]
        assert f'data-delivery="{d1}"' in items
        # A held newsletter delivery is offered, and added: pending, marked "added".
        store.outbox.set_status(d2, from_states=[S.PENDING], to=S.HELD, now=clock(), reason="held by a test")
        page = await press(c, action="add", edition="de", delivery=str(d2))
        assert store.outbox.get(d2).status == S.PENDING
        items = re.search(r'data-list="items">(.*?)</ul>', section(page, "de"), re.S)[1]
        assert re.search(rf'data-delivery="{d2}">.*?<span class="state">added</span>', items, re.S)
        # With every article removed, no issue goes out, and the page says so.
        (en,) = newsletter_items(store, "en")
        page = await press(c, action="remove", edition="en", delivery=str(en[0]))
        en_section = section(page, "en")
        assert "<iframe" not in en_section and "No newsletter article is waiting" in en_section
        assert ">Send now</button>" not in en_section and ">Send test</button>" not in en_section
        # A delivery of another edition is refused.
        fr = next(d for d, _, _ in newsletter_items(store, "fr"))
        page = await press(c, action="add", edition="de", delivery=str(fr))
        assert "was refused" in flash(page) and store.outbox.get(fr).status == S.PENDING
    actions = [(e.action, e.outcome) for e in Audit(store.engine).history(actor="desk:anna")]
    assert actions == [("digest_add", "refused"), ("digest_remove", "removed"), ("digest_add", "added"),
                       ("digest_add", "added"),
                       ("digest_remove", "refused"), ("digest_remove", "removed")]


# ------------------------------------------------------------------ test copy


async def test_a_test_copy_goes_to_one_validated_address_with_the_draft(planned, store, control, clock):
    (d1, _a1, t1), (_d2, _a2, t2) = two(store)
    async with client(planned, store, clock) as c:
        token = await logged_in(c)
        for bad in ("not-an-address", "a@b", "x@example.org\r\nBcc: y@example.org", ""):
            r = await c.post("/desk/digest/act", data={"csrf": token, "action": "test", "edition": "de",
                                                        "address": bad})
            assert r.status_code == 400, bad
            error = re.search(r'<p class="field-error" id="address-error-de">(.*?)</p>', section(r.text, "de"))
            assert error, bad
        assert mails(control) == []
        await press(c, action="save", edition="de", subject="Diese Woche in Zentralasien", intro="Hallo!")
        await press(c, action="remove", edition="de", delivery=str(d1))
        page = await press(c, action="test", edition="de", address="Redaktion@Example.org")
    (mail,) = mails(control)
    assert [p["to"][0]["email"] for p in mail["personalizations"]] == ["redaktion@example.org"]
    assert mail["subject"] == "[Test] Diese Woche in Zentralasien"
    body = mail["content"][-1]["value"]
    assert "Hallo!" in body and t2 in body and t1 not in body
    assert "Test (de.newsletter): sent" in flash(page) and "redaktion@example.org" in flash(page)
    assert not Issues(store.engine).list()  # a test makes no issue
    assert Drafts(store.engine).get("de").version == 2  # and leaves the draft


# ------------------------------------------------------------------ send now


async def test_send_now_asks_naming_the_recipients_then_sends_the_draft_and_starts_afresh(planned, store, control,
                                                                                         clock):
    (d1, _a1, t1), (d2, _a2, t2) = two(store)
    async with client(planned, store, clock) as c:
        token = await logged_in(c)
        await press(c, action="save", edition="de", subject="Die Woche: Wahlen", intro="Liebe Leser")
        await press(c, action="remove", edition="de", delivery=str(d1))
        r = await c.post("/desk/digest/act", data={"csrf": token, "action": "send", "edition": "de"})
        assert r.status_code == 200
        assert "Send to 1,234 subscribers?" in r.text and 'data-active="1234"' in r.text
        assert re.search(r'name="confirm" value="yes"', r.text) and mails(control) == []
        page = await press(c, action="send", edition="de", confirm="yes")
    bodies = mails(control)
    assert sum(len(b["personalizations"]) for b in bodies) == 1234 and len(bodies) == 2
    assert {b["subject"] for b in bodies} == {"Die Woche: Wahlen"}
    assert all("Liebe Leser" in b["content"][-1]["value"] and t2 in b["content"][-1]["value"]
               and t1 not in b["content"][-1]["value"] for b in bodies)
    (issue,) = Issues(store.engine).list()
    assert issue.status == "sent" and issue.editor_subject == "Die Woche: Wahlen" and issue.intro == "Liebe Leser"
    # The draft went with the issue: the removed article is pending, for the next one.
    assert Drafts(store.engine).get("de").version == 0
    assert store.outbox.get(d1).status == S.PENDING and store.outbox.get(d2).status == S.SENT
    assert "Send now (de.newsletter): sent" in flash(page)
    de = section(page, "de")
    assert f'data-delivery="{d1}"' in re.search(r'data-list="items">(.*?)</ul>', de, re.S)[1]
    assert 'value=""' in re.search(r'<input type="text" id="subject-de"[^>]*>', de)[0]
    row = re.search(rf'<tr data-issue="{issue.id}">(.*?)</tr>', page, re.S)[1]
    assert 'data-progress="2/2"' in row and "2/2 batches, 1,234/1,234 recipients" in row
    assert 'data-status="sent"' in row and "Die Woche: Wahlen" in row
    (entry,) = [e for e in Audit(store.engine).history(actor="desk:anna") if e.action == "digest_send"]
    assert entry.outcome == "sent" and entry.issue_id == issue.id


async def test_send_now_is_refused_while_an_issue_is_in_progress(planned, store, control, clock):
    busy = Issues(store.engine).create(edition="de", slot=START, subject="s", html="h", text="t", headers={},
                                       batch_size=1000, items=[], now=START)
    async with client(planned, store, clock) as c:
        await logged_in(c)
        page = (await c.get("/desk/digest")).text
        assert f"Issue #{busy.id} is sending" in section(page, "de")
        page = await press(c, action="send", edition="de", confirm="yes")
    assert mails(control) == []
    assert f"issue #{busy.id} of edition de is sending" in flash(page) and "was refused" in flash(page)
    assert [i.id for i in Issues(store.engine).list()] == [busy.id]


# ------------------------------------------------------------------ the weekly slot


async def test_the_daemons_weekly_slot_sends_the_draft(planned, store, control, clock):
    """de's slot is Friday 09:00 in Berlin; the clock is an hour past it."""
    (d1, _a1, t1), (d2, _a2, t2) = two(store)
    async with client(planned, store, clock) as c:
        await logged_in(c)
        await press(c, action="save", edition="de", subject="Freitagsausgabe", intro="Guten Morgen")
        await press(c, action="remove", edition="de", delivery=str(d2))
    dispatcher = Dispatcher(planned, store, clock=clock, sleep=clock.sleep)
    schedule.RUNTIME = schedule.Runtime(planned, store, dispatcher)
    try:
        await schedule.send_digest("de")  # the digest:de job, as the scheduler runs it
    finally:
        schedule.RUNTIME = None
        await dispatcher.aclose()
    bodies = mails(control)
    assert bodies and {b["subject"] for b in bodies} == {"Freitagsausgabe"}
    assert all("Guten Morgen" in b["content"][-1]["value"] and t1 in b["content"][-1]["value"]
               and t2 not in b["content"][-1]["value"] for b in bodies)
    (issue,) = Issues(store.engine).list()
    assert issue.status == "sent" and issue.slot.hour == 8  # the slot's issue, 09:00 CET
    assert Drafts(store.engine).get("de").version == 0 and store.outbox.get(d2).status == S.PENDING


async def test_an_edit_saved_while_the_issue_is_made_is_not_lost(planned, store, clock, monkeypatch):
    """The draft is taken at the version read: one saved in between makes the
    issue be made again, from the new draft (store/digest_drafts.py: take)."""
    drafts = Drafts(store.engine)
    drafts.save("de", subject="Erste Fassung", intro=None, now=clock(), by="desk:anna")
    real = digest.next_issue
    calls = []

    def racing(settings, st, edition, now):
        found = real(settings, st, edition, now)
        if not calls:  # an editor saves right after the first read
            drafts.save("de", subject="Zweite Fassung", intro=None, now=clock(), by="desk:bert")
        calls.append(found.draft.version)
        return found

    monkeypatch.setattr(digest, "next_issue", racing)
    made = await asyncio.to_thread(digest.assemble, planned, store, "de", START, clock())
    assert calls == [1, 2]
    assert made is not None and made.subject == "Zweite Fassung" and drafts.get("de").version == 0


# ------------------------------------------------------------------ past issues and their figures


@pytest.fixture
def webhook(sb_settings, store, sandbox):
    """`serve` on a free port (the same store), the sandbox's signed Event
    Webhook posting to it: the events of a send come back as SendGrid's would."""
    with serving(sb_settings, store) as (_settings, url):
        emitter = sandbox.sandbox.sendgrid.emitter
        emitter.url = f"{url}/webhooks/sendgrid"
        try:
            yield emitter
        finally:
            emitter.url = ""


async def test_past_issues_show_their_progress_and_the_signed_webhooks_figures(sb_settings, store, clock, control,
                                                                              webhook):
    ingest(sb_settings, store, now=clock())
    add_editor(store)
    add_subscribers(store, "de", ["a@example.org", "b@example.org", "c@example.org", "bounce1@example.org",
                                  "spam1@example.org"])
    add_subscribers(store, "fr", ["lectrice@example.org"])
    async with client(sb_settings, store, clock) as c:
        await logged_in(c)
        await press(c, action="send", edition="de", confirm="yes")
        (de_issue,) = Issues(store.engine).list("de")
        # The events come back signed, each naming the issue (the send's custom_args).
        for _ in range(200):
            if issue_figures(store.engine, [de_issue.id]).get(de_issue.id, {}).get("complained"):
                break
            await asyncio.sleep(0.05)
        webhook.url = ""  # fr's send: no events (yet)
        await press(c, action="send", edition="fr", confirm="yes")
        page = (await c.get("/desk/digest")).text
    assert issue_figures(store.engine, [de_issue.id])[de_issue.id] == {
        "delivered": 4, "bounced": 1, "complained": 1, "opened": 0, "clicked": 0}
    row = re.search(rf'<tr data-issue="{de_issue.id}">(.*?)</tr>', page, re.S)[1]
    figures = dict(re.findall(r'<td class="n" data-figure="(\w+)">([^<]*)</td>', row))
    assert figures == {"delivered": "4", "bounced": "1", "complained": "1", "opened": "0", "clicked": "0"}
    assert 'data-progress="1/1"' in row and "1/1 batches, 5/5 recipients" in row
    (fr_issue,) = Issues(store.engine).list("fr")
    row = re.search(rf'<tr data-issue="{fr_issue.id}">(.*?)</tr>', page, re.S)[1]
    assert set(re.findall(r'data-figure="\w+">([^<]*)<', row)) == {"–"}
    # Newest first.
    assert page.index(f'data-issue="{fr_issue.id}"') < page.index(f'data-issue="{de_issue.id}"')
