"""The editors' bot and the desk's edits (actions/edits.py), with the real
python-telegram-bot against the sandbox over HTTP: the approval message and
/preview show the text that goes out (an editor's edit, named as such); an
edit saved or removed on the desk (another process) brings the message up to
date; a press on a message still showing the old text approves (or skips)
nothing and says why; a press on the refreshed message approves, and exactly
the edited text goes out."""

from __future__ import annotations

import asyncio

import pytest

from bot_helpers import ANNA, BERT, buttons, drain, looks, posted_for, running, seed_id, states, wait_for
from distributor.actions.edits import edit_variant, remove_edit
from distributor.app import open_app
from distributor.ingest.pipeline import ingest
from distributor.render import render_article
from distributor.render.telegram_html import parse_html
from distributor.store import Store
from distributor.store.audit import Audit
from distributor.store.outbox import DeliveryStatus

S = DeliveryStatus
EDITED = "<b>Kasachstan und China</b>: die Redaktion schreibt es neu, kürzer und klarer."
EDITED_PLAIN = parse_html(EDITED).text


def edit_on_desk(settings, aid: int, text: str = EDITED) -> int:
    """The desk is another process: its own App on the same database."""
    with open_app(settings) as desk:
        edit_id = edit_variant(desk, aid, "telegram", text, actor="desk:anna").edit_id
    assert edit_id
    return edit_id


def unedit_on_desk(settings, aid: int) -> None:
    with open_app(settings) as desk:
        remove_edit(desk, aid, "telegram", actor="desk:anna")


async def shown(harness, message_id: int, test, what: str) -> dict:
    """The message once the sandbox holds a version of it passing `test`."""
    return await wait_for(lambda: (lambda m: m if test(m) else None)(harness.message(message_id)), message=what)


def telegram_part(text: str) -> str:
    """The Telegram channel's part of the approval message."""
    return next(p for p in text.split("\n\n") if p.startswith("Telegram (de.telegram)"))


def template_plain(settings, store, aid: int) -> str:
    return parse_html(render_article(settings, store.get_article(aid).article, "telegram").text).text


def test_an_edit_on_the_desk_shows_in_the_approval_message_and_in_preview(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            aid = seed_id(store)
            template = template_plain(bot_settings, store, aid)
            async with running(bot_settings, store) as bot:
                msg = await posted_for(harness, aid)
                assert template[:60] in telegram_part(msg["text"]) and "edited by" not in msg["text"]
                await looks(bot, 2)
                edit_id = edit_on_desk(bot_settings, aid)
                now = await shown(harness, msg["message_id"], lambda m: EDITED_PLAIN in m["text"],
                                  "the message showing the edit")
                part = telegram_part(now["text"])
                assert "edited by desk:anna" in part and EDITED_PLAIN in part and template[:60] not in part
                assert sorted(buttons(now)) == [f"ap:{aid}:1:all:{edit_id}.0.0", f"ap:{aid}:1:telegram:{edit_id}",
                                                f"ap:{aid}:1:twitter:0", f"sk:{aid}:1:all:{edit_id}.0.0"]
                before = len(harness.replies(ANNA))
                harness.say(f"/preview {aid} telegram", ANNA)
                got = await wait_for(lambda: (lambda r: r[before:] if len(r) >= before + 3 else None)(
                    harness.replies(ANNA)), message="the preview")
                assert got[2] == EDITED  # the text exactly as it goes out
                assert "edited by desk:anna" in got[1]
                await looks(bot, 3)
                assert len(harness.calls("editMessageText")) == 1  # once per edit, not once per look

    asyncio.run(go())


def test_a_press_on_the_old_text_is_refused_and_the_refreshed_message_approves_the_edit(bot_settings, harness,
                                                                                          clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            aid = seed_id(store)
            async with running(bot_settings, store):
                old = await posted_for(harness, aid)
            edit_id = edit_on_desk(bot_settings, aid)
            # Pressed while the message still shows the template's text (no bot runs to refresh it).
            old_approve, old_skip = buttons(old)[0], buttons(old)[-1]
            harness.press(old["message_id"], old_approve, ANNA)
            harness.press(old["message_id"], old_skip, BERT)
            async with running(bot_settings, store) as bot:
                answers = await wait_for(lambda: (lambda a: a if len(a) == 2 else None)(
                    harness.calls("answerCallbackQuery")), message="the answers")
                for a in answers:
                    assert "the Telegram text was edited by desk:anna since this message showed it" \
                        in a["body"]["text"] and "nothing done" in a["body"]["text"]
                assert (old_approve, old_skip) == (f"ap:{aid}:1:all:0.0.0", f"sk:{aid}:1:all:0.0.0")
                after = states(store, aid)
                assert (after["de.telegram"], after["de.twitter"]) == (S.AWAITING_APPROVAL, S.AWAITING_APPROVAL)
                refused = [(e.actor, e.action, e.outcome) for e in Audit(store.engine).history(article_id=aid)
                           if e.actor.startswith("telegram:")]
                assert sorted(refused) == [("telegram:4711", "approve", "refused"),
                                           ("telegram:4712", "skip", "refused")]
                now = await shown(harness, old["message_id"], lambda m: EDITED_PLAIN in m["text"],
                                  "the message refreshed to the edited text")
                assert buttons(now)[0] == f"ap:{aid}:1:all:{edit_id}.0.0"
                await looks(bot, 2)
                await drain(bot_settings, store)
                assert harness.channel_posts() == []  # nothing approved: nothing out
                # A press on the refreshed message approves the text it shows.
                harness.press(old["message_id"], buttons(now)[0], ANNA)
                await wait_for(lambda: states(store, aid)["de.telegram"] == S.PENDING, message="approved")
            await drain(bot_settings, store)
            (sent,) = harness.channel_posts()
            assert sent["body"].get("text", sent["body"].get("caption")) == EDITED  # exactly the edited text

    asyncio.run(go())


def test_removing_an_edit_on_the_desk_refreshes_the_message(any_db_settings, harness, clock):
    settings = any_db_settings

    async def go():
        with Store.open(settings) as store:
            ingest(settings, store, now=clock())
            aid = seed_id(store)
            template = template_plain(settings, store, aid)
            edit_on_desk(settings, aid)
            async with running(settings, store) as bot:
                msg = await posted_for(harness, aid)
                assert EDITED_PLAIN in msg["text"] and "edited by desk:anna" in telegram_part(msg["text"])
                await looks(bot, 2)
                # Removing it changes no delivery (they await approval still): the audit row tells.
                before = [(d.id, d.status, d.updated_at) for d in store.deliveries(article_id=aid)]
                unedit_on_desk(settings, aid)
                assert [(d.id, d.status, d.updated_at) for d in store.deliveries(article_id=aid)] == before
                now = await shown(harness, msg["message_id"], lambda m: EDITED_PLAIN not in m["text"],
                                  "the message back to the template's text")
                assert template[:60] in telegram_part(now["text"]) and "edited by" not in now["text"]
                assert buttons(now)[0] == f"ap:{aid}:1:all:0.0.0"

    asyncio.run(go())


def test_an_edit_saved_after_the_bots_look_is_still_refused_where_the_approval_is_written(bot_settings, clock,
                                                                                           monkeypatch):
    """The race the look before deciding cannot see: the edit lands between it
    and the approval. The approval is given the edits shown (seen_edits) and
    refuses the Telegram text it did not show."""
    from distributor.editorbot import approvals
    from distributor.editorbot.context import BotContext
    from distributor.editorbot.texts import parse_callback
    from distributor.errors import DistributorError

    with Store.open(bot_settings) as store:
        ingest(bot_settings, store, now=clock())
        aid = seed_id(store)
        edit_on_desk(bot_settings, aid)
        monkeypatch.setattr(approvals, "_changed_since_shown", lambda *a: "")  # as if the look came before the edit
        cb = parse_callback(f"ap:{aid}:1:all:0.0.0")
        assert cb is not None
        with pytest.raises(DistributorError, match="was edited since it was shown"):
            approvals.decide(BotContext(bot_settings, store), cb, "telegram:4711")
        assert states(store, aid)["de.telegram"] == S.AWAITING_APPROVAL
