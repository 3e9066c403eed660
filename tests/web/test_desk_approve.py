"""Approve and Approve all on the desk's article page (issue 13, item 4), in
process against the sandbox over HTTP, on SQLite and PostgreSQL: the buttons
only where a channel awaits approval, nothing sent by the delivery loop until
Approve is pressed, a page grown stale (the article corrected, or a variant
edited since) refused, recorded and shown, and an edit after an approval
needing a fresh one (approval is of the text that goes out)."""

from __future__ import annotations

import re

import pytest

from desk_helpers import Clock, add_editor, client, csrf_of, logged_in
from distributor.ingest.pipeline import ingest
from distributor.store.audit import Audit
from distributor.store.outbox import DeliveryStatus as S
from support import sent
from test_desk_article import buttons, delivery, panel, press, seed, tg_posts
from test_approval import required
from test_desk_edit import BACKENDS, TWEET, correct, desk_on, edit, run_drain

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(params=BACKENDS)
def desk(request, sb_settings, clock):
    """(settings, store) with de.telegram and de.twitter in approval = "required"
    mode: the seed articles ingested (awaiting approval there), an editor."""
    yield from desk_on(request, required(sb_settings, "de.telegram", "de.twitter"), clock)


def approve_all_button(page: str) -> int:
    return len(re.findall(r'<button type="submit">Approve all</button>', page))


async def test_nothing_goes_out_until_approve_is_pressed(desk, control):
    settings, store = desk
    aid = seed(store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get(f"/desk/articles/{aid}")).text
        assert buttons(panel(page, "telegram")) == ["Approve", "Send now", "Skip"]
        assert buttons(panel(page, "twitter")) == ["Approve", "Send now", "Skip"]
        assert "Approve" not in buttons(panel(page, "newsletter"))  # the newsletter is in auto mode
        assert approve_all_button(page) == 1
        await run_drain(settings, store)  # the daemon's delivery pass: nothing of this article goes out
        assert delivery(store, aid, "twitter").status == S.AWAITING_APPROVAL
        assert not [t for t in sent(control, "x", "/2/tweets") if "sandbox_de" in str(t)]
        assert not any(r["body"].get("chat_id") == "@novastan_de" for r in tg_posts(control))
        page = await press(c, aid, "approve", "twitter", delivery=str(delivery(store, aid, "twitter").id),
                           seen_version="1", seen_edit="0")
        assert "Approve (de.twitter): approved" in page
        assert buttons(panel(page, "twitter")) == ["Send now", "Hold", "Skip"]
        assert approve_all_button(page) == 1  # Telegram still awaits
    assert delivery(store, aid, "twitter").status == S.PENDING
    await run_drain(settings, store)
    assert delivery(store, aid, "twitter").status == S.SENT
    assert delivery(store, aid, "telegram").status == S.AWAITING_APPROVAL
    approvals = [(e.actor, e.channel, e.outcome) for e in Audit(store.engine).history(article_id=aid)
                 if e.action == "approve"]
    assert approvals == [("desk:anna", "de.twitter", "approved")]


async def test_approve_all_approves_what_awaits_and_then_is_gone(desk):
    settings, store = desk
    aid = seed(store)
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get(f"/desk/articles/{aid}")).text
        form = re.search(r'<form method="post" action="[^"]*" class="approve-all card">(.*?)</form>', page, re.S)[1]
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
        r = await c.post(f"/desk/articles/{aid}/act", data=fields)
        assert r.status_code == 303
        page = (await c.get(r.headers["location"])).text
    assert {delivery(store, aid, k).status for k in ("telegram", "twitter")} == {S.PENDING}
    assert approve_all_button(page) == 0
    assert "Approve" not in buttons(panel(page, "telegram")) + buttons(panel(page, "twitter"))


async def test_auto_mode_shows_no_approve(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    add_editor(store)
    aid = seed(store)
    async with client(sb_settings, store, Clock()) as c:
        await logged_in(c)
        page = (await c.get(f"/desk/articles/{aid}")).text
    assert approve_all_button(page) == 0 and "Approve" not in page.replace("Approve all", "")


async def test_an_approval_from_a_page_grown_stale_is_refused_and_shown(desk, articles_dir):
    settings, store = desk
    aid = seed(store)
    tw = delivery(store, aid, "twitter")
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        old = (await c.get(f"/desk/articles/{aid}")).text
        correct(settings, store, articles_dir, aid)
        # Approve and Approve all, pressed on the page of version 1.
        for form in ({"action": "approve", "kind": "twitter", "delivery": str(tw.id), "seen_edit": "0"},
                     {"action": "approve_all", "seen_edit_telegram": "0", "seen_edit_twitter": "0",
                      "seen_edit_newsletter": "0"}):
            r = await c.post(f"/desk/articles/{aid}/act", data={"csrf": csrf_of(old), "seen_version": "1", **form})
            assert r.status_code == 303
            page = (await c.get(r.headers["location"])).text
            flash = re.search(r'<p class="flash refused"[^>]*>(.*?)</p>', page, re.S)
            assert flash and "was refused" in flash[1] and "version 1 then, 2 now" in flash[1]
            assert {delivery(store, aid, k).status for k in ("telegram", "twitter")} == {S.AWAITING_APPROVAL}
        # The page of version 2 approves version 2.
        page = await press(c, aid, "approve", "twitter", delivery=str(tw.id), seen_version="2", seen_edit="0")
        assert "Approve (de.twitter): approved" in page
    assert store.outbox.get(tw.id).approved_version == 2
    refused = [e.outcome for e in Audit(store.engine).history(article_id=aid) if e.action == "approve"]
    assert refused.count("refused") == 2 and refused[0] == "approved"


async def test_an_edit_after_the_approval_needs_a_fresh_one(desk, control):
    settings, store = desk
    aid = seed(store)
    tw = delivery(store, aid, "twitter")
    async with client(settings, store, Clock()) as c:
        await logged_in(c)
        await press(c, aid, "approve", "twitter", delivery=str(tw.id), seen_version="1", seen_edit="0")
        assert store.outbox.get(tw.id).status == S.PENDING
        seen_before = (await c.get(f"/desk/articles/{aid}")).text
        assert (await edit(c, aid, "twitter", TWEET)).status_code == 303
        row = store.outbox.get(tw.id)
        assert (row.status, row.approved_version) == (S.AWAITING_APPROVAL, None)
        assert "edited by desk:anna: it awaits approval again" in row.reason
        await run_drain(settings, store)
        assert TWEET not in [t["body"]["text"] for t in sent(control, "x", "/2/tweets")]
        # Approving from the page seen before the edit: refused (another text than the one shown).
        stale = re.search(r'name="seen_edit" value="(\d+)"', panel(seen_before, "twitter"))
        assert stale is None  # it was pending then: no Approve button
        page = (await c.get(f"/desk/articles/{aid}")).text
        seen_edit = re.search(r'name="seen_edit" value="(\d+)"', panel(page, "twitter"))[1]
        assert int(seen_edit) > 0
        assert (await edit(c, aid, "twitter", TWEET + " (2)")).status_code == 303  # a colleague edits again
        page = await press(c, aid, "approve", "twitter", delivery=str(tw.id), seen_version="1",
                           seen_edit=seen_edit)
        flash = re.search(r"<p class=\"flash[^>]*>(.*?)</p>", page, re.S)
        assert "Approve (de.twitter) was refused" in page and "was edited since it was shown" in page, flash[1]
        assert store.outbox.get(tw.id).status == S.AWAITING_APPROVAL
        seen_edit = re.search(r'name="seen_edit" value="(\d+)"', panel(page, "twitter"))[1]
        page = await press(c, aid, "approve", "twitter", delivery=str(tw.id), seen_version="1",
                           seen_edit=seen_edit)
        assert "Approve (de.twitter): approved" in page
    await run_drain(settings, store)
    texts = [t["body"]["text"] for t in sent(control, "x", "/2/tweets")]
    assert TWEET + " (2)" in texts and TWEET not in texts
    assert store.outbox.get(tw.id).status == S.SENT
