"""Alerts to the editors' group (issue 14 item 4), once per event, not once
per look, and not again after a restart: a paused channel (with the /resume
hint), a delivery held for an unknown outcome (not one an editor held), a
failed delivery, a held digest issue, a source failing for longer than
alert_source_failing_minutes. Over the sandbox with the real
python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa

from bot_helpers import ANNA, looks, running, wait_for
from distributor.ingest.pipeline import ingest
from distributor.store import Store, utcnow
from distributor.store.outbox import DeliveryStatus

S = DeliveryStatus
FR = "fr-ouzbekistan-coton-travail-force.txt"


def alerts(harness, marker: str = "") -> list[str]:
    """The alerts in the group (approval messages, with their buttons, are not)."""
    return [r["body"]["text"] for r in harness.group_posts()
            if marker in r["body"]["text"] and "reply_markup" not in r["body"]]


def test_a_paused_channel_is_alerted_once_not_once_a_look_nor_again_after_a_restart(bot_settings, harness, clock):
    async def go():
        with Store.open(bot_settings) as store:
            store.outbox.update_channel("de.telegram", paused=True, paused_reason="5 failures in a row, the last: "
                                        "Forbidden: bot was kicked", now=utcnow())
            async with running(bot_settings, store) as bot:
                await wait_for(lambda: alerts(harness, "de.telegram is paused"), message="the alert")
                await looks(bot, 10)
            (alert,) = alerts(harness, "de.telegram is paused")
            assert "bot was kicked" in alert and "/resume de.telegram" in alert
            async with running(bot_settings, store) as bot:  # a restart
                await looks(bot, 5)
                assert len(alerts(harness, "de.telegram is paused")) == 1
                # An editor resumes it from the chat; paused again later, it is a new event.
                harness.say("/resume de.telegram", ANNA)
                await wait_for(lambda: not store.outbox.channel("de.telegram").paused, message="resumed")
                await looks(bot, 2)
                store.outbox.update_channel("de.telegram", paused=True, paused_reason="chat not found", now=utcnow())
                await wait_for(lambda: len(alerts(harness, "de.telegram is paused")) == 2, message="the new pause")
                await looks(bot, 5)
            assert len(alerts(harness, "de.telegram is paused")) == 2

    asyncio.run(go())


def test_held_failed_issue_and_failing_source_are_each_alerted_once(bot_settings, harness, clock):
    async def go():
        now = utcnow()
        with Store.open(bot_settings) as store:
            ingest(bot_settings, store, now=clock())
            fr = next(a for a in store.list_articles() if a.key == FR)
            tg, nl = (next(d for d in store.deliveries(article_id=fr.id) if d.channel == c)
                      for c in ("fr.telegram", "fr.newsletter"))
            store.outbox.set_status(tg.id, from_states=(S.PENDING,), to=S.HELD, now=now,
                                    reason="outcome unknown: no answer in time. If it is on the channel, …")
            store.outbox.set_status(nl.id, from_states=(S.PENDING,), to=S.HELD, now=now, reason="held by an editor")
            de = [d for d in store.deliveries() if d.channel == "en.telegram" and d.status == S.PENDING][0]
            with store.engine.begin() as conn:
                conn.execute(sa.text("UPDATE deliveries SET status = 'failed', attempts = 5, "
                                     "last_error = 'Bad Request: chat not found' WHERE id = :i"), {"i": de.id})
                conn.execute(sa.text(
                    "INSERT INTO issues (edition, slot, status, subject, html, text, headers, batch_size, reason, "
                    "created_at, updated_at) VALUES ('de', :t, 'held', 's', 'h', 't', '{}', 10, "
                    "'batch 1 of unknown outcome', :t, :t)"), {"t": now.replace(tzinfo=None)})
            store.record_poll("articles", ok=False, error="feed answered 503", now=now - dt.timedelta(minutes=45))
            store.record_poll("articles", ok=False, error="feed answered 503", now=now)
            async with running(bot_settings, store) as bot:
                await wait_for(lambda: len(alerts(harness)) >= 4, message="four alerts")
                await looks(bot, 8)
                # A source failing for less than the configured time is no event yet.
                assert alerts(harness, "Source") == alerts(harness, "Source articles has been failing for 45 min")
            assert len(alerts(harness)) == 4, alerts(harness)
            assert len(alerts(harness, f"Delivery #{tg.id} held")) == 1
            assert f"/release {fr.id} telegram" in alerts(harness, f"Delivery #{tg.id} held")[0]
            assert alerts(harness, f"Delivery #{nl.id}") == []  # an editor's hold is no event
            (failed,) = alerts(harness, f"Delivery #{de.id} failed")
            assert "chat not found" in failed and "5 attempt(s)" in failed
            assert len(alerts(harness, "Digest issue #1 (de) is held")) == 1
            assert len(alerts(harness, "Source articles has been failing")) == 1

    asyncio.run(go())


def test_a_source_failing_for_less_than_the_configured_time_is_not_alerted_and_ok_clears_it(bot_settings,
                                                                                             harness):
    async def go():
        now = utcnow()
        with Store.open(bot_settings) as store:
            store.record_poll("articles", ok=False, error="timeout", now=now - dt.timedelta(minutes=10))
            store.record_poll("articles", ok=False, error="timeout", now=now)
            assert store.last_poll("articles").failing_since == now - dt.timedelta(minutes=10)
            async with running(bot_settings, store) as bot:
                await looks(bot, 4)
                assert harness.group_posts() == []
            store.record_poll("articles", ok=True, now=now)
            assert store.last_poll("articles").failing_since is None

    asyncio.run(go())
