"""Approval in the editors' chat (issue 14 item 3), with the real
python-telegram-bot against the sandbox over HTTP: each article awaiting
approval is posted once with its buttons; a press approves (and the post
goes out), a second press and two at once act once; a decision on the desk
edits the chat message; a restart posts nothing again."""

from __future__ import annotations

import asyncio

from bot_helpers import (ANNA, BERT, STRANGER, buttons, drain, looks, posted_for, running, seed_id, states,
                         wait_for)
from distributor.actions import deliveries as actions
from distributor.app import open_app
from distributor.ingest.pipeline import ingest
from distributor.store import Store
from distributor.store.audit import Audit
from distributor.store.outbox import DeliveryStatus

S = DeliveryStatus


def approvals(store, article_id: int) -> list:
    return [e for e in Audit(store.engine).history(article_id=article_id) if e.action == "approve"]


async def pressed_while_down(settings, store, harness, clock, presses: list[tuple[str, int]]) -> int:
    """Ingest, let a bot post the seed's approval message and stop; press
    while no bot runs (so the next bot gets every press in one getUpdates
    batch, handled concurrently); run a new bot until each press is
    answered and it looked a few times. The seed's article id."""
    ingest(settings, store, now=clock())
    aid = seed_id(store)
    async with running(settings, store):
        msg = await posted_for(harness, aid)
    for action, uid in presses:
        harness.press(msg["message_id"], f"{action}:{aid}:1:all:0.0.0", uid)
    async with running(settings, store) as bot:
        await wait_for(lambda: len(harness.calls("answerCallbackQuery")) == len(presses), message="the answers")
        await looks(bot, 3)
    return aid


def test_an_approval_press_makes_the_post_go_out_and_a_second_press_does_nothing(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            aid = seed_id(store)
            assert states(store, aid)["de.telegram"] == S.AWAITING_APPROVAL
            async with running(bot_settings, store):
                msg = await posted_for(harness, aid)
                assert msg["chat"]["type"] == "supergroup"
                assert buttons(msg)[0].startswith(f"ap:{aid}:1:all:0.0.0") and f"sk:{aid}:1:all:0.0.0" in buttons(msg)
                assert "Telegram" in msg["text"] and "X" in msg["text"]  # the variants of both channels
                # Nothing has gone out before the press.
                await drain(bot_settings, store)
                assert harness.channel_posts() == []
                harness.press(msg["message_id"], f"ap:{aid}:1:all:0.0.0", ANNA)
                await wait_for(lambda: states(store, aid)["de.telegram"] == S.PENDING, message="approved")
                edited = await wait_for(lambda: next((r["result"] for r in harness.calls("editMessageText")
                                                      if "approved by telegram:4711" in r["result"]["text"]), None),
                                        message="the message edited")
                assert "reply_markup" not in edited  # decided: no buttons left
                answers = await wait_for(lambda: harness.calls("answerCallbackQuery"), message="the answer")
                assert "Approved: de.telegram, de.twitter" in answers[0]["body"]["text"]
                report = await drain(bot_settings, store)
                assert {o.channel: o.status for o in report.outcomes}["de.telegram"] == "sent"
                assert len(harness.channel_posts()) == 1
                # A second press (another editor) does nothing more, and says so.
                harness.press(msg["message_id"], f"ap:{aid}:1:all:0.0.0", BERT)
                answers = await wait_for(lambda: len(harness.calls("answerCallbackQuery")) == 2
                                         and harness.calls("answerCallbackQuery"), message="the second answer")
                assert answers[1]["body"]["text"].startswith("Already approved by telegram:4711")
                await drain(bot_settings, store)
                assert len(harness.channel_posts()) == 1
                done = [e for e in approvals(store, aid) if e.outcome == "approved"]
                assert sorted(e.channel for e in done) == ["de.telegram", "de.twitter"]
                assert {e.actor for e in done} == {"telegram:4711"}

    asyncio.run(go())


def test_two_presses_in_one_batch_act_once_and_a_restart_posts_nothing_again(any_db_settings, harness, clock):
    bot_settings = any_db_settings

    async def go():
        with Store.open(bot_settings) as store:
            aid = await pressed_while_down(bot_settings, store, harness, clock, [("ap", ANNA), ("ap", BERT)])
            batches = [r for r in harness.calls("getUpdates") if len(r["result"]) == 2]
            assert batches, "both presses came in one getUpdates batch"
            done = [e for e in approvals(store, aid) if e.outcome == "approved"]
            assert sorted(e.channel for e in done) == ["de.telegram", "de.twitter"]  # one approval each
            texts = sorted(r["body"]["text"] for r in harness.calls("answerCallbackQuery"))
            assert texts[0].startswith("Already approved by telegram:") and texts[1].startswith("Approved: ")
            # The restart did not post the approval message again.
            assert len([r for r in harness.approval_posts() if f"article {aid} (de)" in r["body"]["text"]]) == 1
            await drain(bot_settings, store)
            assert len(harness.channel_posts()) == 1

    asyncio.run(go())


def test_approve_and_skip_pressed_together_make_one_decision(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            aid = await pressed_while_down(bot_settings, store, harness, clock, [("sk", BERT), ("ap", ANNA)])
            after = states(store, aid)
            decided = {after["de.telegram"], after["de.twitter"]}
            assert decided in ({S.PENDING}, {S.CANCELLED}), after  # all approved, or all skipped: not a mix

    asyncio.run(go())


def test_a_strangers_press_is_refused_and_changes_nothing(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            aid = seed_id(store)
            async with running(bot_settings, store):
                msg = await posted_for(harness, aid)
                harness.press(msg["message_id"], f"ap:{aid}:1:all:0.0.0", STRANGER)
                answer = await wait_for(lambda: harness.calls("answerCallbackQuery"), message="the answer")
            assert "only the editors" in answer[0]["body"]["text"]
            assert states(store, aid)["de.telegram"] == S.AWAITING_APPROVAL
            refused = [e for e in Audit(store.engine).history(actor=f"telegram:{STRANGER}")]
            assert [(e.action, e.outcome) for e in refused] == [("approve", "refused")]
            assert harness.calls("editMessageText") == []

    asyncio.run(go())


def test_a_decision_on_the_desk_edits_the_chat_message(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            aid = seed_id(store)
            async with running(bot_settings, store) as bot:
                msg = await posted_for(harness, aid)
                await looks(bot, 2)
                assert harness.calls("editMessageText") == []  # nothing changed: nothing edited
                # The desk is another process: its own App on the same database.
                with open_app(bot_settings) as desk:
                    d = next(x for x in desk.store.deliveries(article_id=aid) if x.channel == "de.twitter")
                    actions.approve(desk, d.id, actor="desk:alice")
                edited = await wait_for(lambda: [r["result"] for r in harness.calls("editMessageText")],
                                        message="the message edited")
                assert "approved by desk:alice" in edited[-1]["text"]
                assert buttons(edited[-1]) == [f"ap:{aid}:1:all:0.0.0", f"sk:{aid}:1:all:0.0.0"]  # telegram still awaits
                with open_app(bot_settings) as cli:
                    d = next(x for x in cli.store.deliveries(article_id=aid) if x.channel == "de.telegram")
                    actions.skip(cli, d.id, actor="cli:bert", reason="not for Telegram")
                edited = await wait_for(lambda: [r["result"] for r in harness.calls("editMessageText")
                                                 if "skipped by cli:bert" in r["result"]["text"]],
                                        message="the second edit")
                assert "reply_markup" not in edited[-1] and edited[-1]["message_id"] == msg["message_id"]
                await looks(bot, 3)
                assert len(harness.calls("editMessageText")) == 2  # once per decision, not once per look

    asyncio.run(go())
