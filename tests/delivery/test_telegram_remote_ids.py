"""Telegram numbers messages per chat: a channel whose chat changed (a group
migrated to a supergroup, a new chat_id in the config) gets message ids that
its earlier posts already had. A post's remote id names its chat, so the
outbox's one-delivery-per-(channel, remote id) rule never refuses a post that
exists, and an edit goes to the message's own chat."""

from __future__ import annotations

import datetime as dt

import pytest

from distributor.ingest.pipeline import ingest
from support import drain, sent

ARTICLE = """# {title}

Ein Absatz über {title}, lang genug, um ein Artikel zu sein, mit mehr als nur ein paar Worten.

Noch ein Absatz, damit der Text ein Artikel ist und keine Notiz bleibt.

Folgt Novastan auf Telegram!
"""


@pytest.fixture
def posted(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    return store


def test_a_post_in_a_migrated_chat_is_recorded_even_when_its_message_id_repeats(
        sb_settings, posted, clock, control, articles_dir):
    store = posted
    before = {d.remote_id for d in store.deliveries(status="sent") if d.channel == "de.telegram"}
    assert before
    new_chat = control.post("/_sandbox/telegram/migrate", json={"chat": "@novastan_de"}).json()["migrate_to_chat_id"]
    (articles_dir / "de-neu.md").write_text(ARTICLE.format(title="Neuer Artikel"), encoding="utf-8")
    clock.now += dt.timedelta(hours=1)
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    drain(sb_settings, store, clock)  # the first drain learns of the migration and retries
    new = [d for d in store.deliveries() if d.channel == "de.telegram" and d.remote_id not in before]
    assert [d.status for d in new] == ["sent"], [(d.status, d.reason, d.last_error) for d in new]
    posts = [r for r in sent(control, "telegram") if r["path"].endswith(("sendMessage", "sendPhoto"))
             and str(r["body"]["chat_id"]) == str(new_chat)]
    message_id = posts[-1]["result"]["message_id"]
    assert message_id == 1  # numbered again in the new chat: a bare id would clash with the first post
    assert new[0].remote_id == f"{new_chat}/{message_id}"
    assert all(r.startswith("@novastan_de/") for r in before), before


def test_an_edit_goes_to_the_chat_the_post_is_in(sb_settings, posted, clock, control):
    import asyncio

    from distributor.channels import build_channel
    from distributor.render import RenderedMessage

    row = next(d for d in posted.deliveries(status="sent") if d.channel == "de.telegram")
    chat, _, mid = row.remote_id.rpartition("/")

    async def edit():
        channel = build_channel(sb_settings, "de.telegram", chat_id="@novastan_en")  # the config moved on
        try:
            await channel.edit(row.remote_id, RenderedMessage(channel="telegram", text="Korrigiert", length=10,
                                                              limit=4096, parse_mode="HTML"))
        finally:
            await channel.aclose()

    asyncio.run(edit())
    edits = [r for r in sent(control, "telegram") if r["path"].endswith(("editMessageText", "editMessageCaption"))]
    assert [(e["body"]["chat_id"], str(e["body"]["message_id"])) for e in edits] == [(chat, mid)]
