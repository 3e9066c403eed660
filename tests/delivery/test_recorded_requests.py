"""The attempt log records the exact request the channel's payload builder
made, and that request is what the service received (the sandbox's own
record of each call). And the dispatcher asks a channel for a capability it
declares; it does not probe for methods."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from distributor.channels import api_base
from distributor.channels.telegram import TelegramChannel
from distributor.channels.twitter import MEDIA_ID, PREVIOUS_POST
from distributor.config import channel_secret
from distributor.delivery import Dispatcher
from distributor.ingest.pipeline import ingest
from distributor.render import RenderedMessage

from support import drain, sent, with_channel

LONG_LEDE = ("In Kirgistan wohnen wieder mehr Familien in Jurten, nicht nur im Sommer auf den Weiden, "
             "sondern auch am Stadtrand von Bischkek, wo die Mieten steigen. ") * 6


def one_article(articles_dir, *, image: str | None = None, lede: str = "In Kirgistan wohnen wieder mehr "
                "Familien in Jurten.") -> None:
    for f in articles_dir.iterdir():
        f.unlink()
    image_line = f"image: {image}\n" if image else ""
    (articles_dir / "jurte.md").write_text(
        f"---\ntitle: Die Jurte kehrt zurück\nlanguage: de\nurl: https://novastan.org/de/jurte/\n{image_line}"
        f"channels: [telegram, twitter]\n---\n\n{lede}\n", encoding="utf-8")


def recorded(store, delivery_id: int) -> dict[str, Any]:
    return json.loads(store.outbox.attempts(delivery_id)[-1].payload)


def as_sent(params: dict[str, Any], body: dict[str, str]) -> dict[str, Any]:
    """The sandbox's form fields, decoded the way PTB encoded them (reference
    A.1: a string as it is, anything else as JSON)."""
    return {k: v if isinstance(params.get(k), str) else json.loads(v) for k, v in body.items()}


def only(store, kind: str):
    (row,) = [d for d in store.deliveries() if d.kind == kind]
    return row


def test_a_telegram_post_and_its_correction_are_recorded_as_the_bot_api_received_them(
        sb_settings, store, control, clock, articles_dir):
    one_article(articles_dir)
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    row = only(store, "telegram")
    payload = recorded(store, row.id)
    assert payload["text"] and payload["channel"] == "telegram"  # the message, as before
    request = payload["request"]
    assert request["method"] == "sendMessage"
    (call,) = sent(control, "telegram", "sendMessage")
    assert as_sent(request["params"], call["body"]) == request["params"]

    path = articles_dir / "jurte.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Jurten.", "Jurten, sagt die Statistik."),
                    encoding="utf-8")
    ingest(sb_settings, store, now=clock())
    report = drain(sb_settings, store, clock)
    assert [o.status for o in report.corrected if o.channel == "de.telegram"] == ["edited"]
    edit = recorded(store, row.id)["request"]
    assert edit["method"] == "editMessageText" and "sagt die Statistik" in edit["params"]["text"]
    assert str(edit["params"]["message_id"]) == row.remote_id.rpartition("/")[2]
    (call,) = sent(control, "telegram", "editMessageText")
    assert as_sent(edit["params"], call["body"]) == edit["params"]


def test_a_telegram_photo_is_recorded_as_the_send_photo_telegram_received(sb_settings, store, control, clock,
                                                                          articles_dir):
    one_article(articles_dir, image="https://novastan.org/de/wp-content/uploads/jurte.jpg")
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    request = recorded(store, only(store, "telegram").id)["request"]
    assert request["method"] == "sendPhoto"
    assert request["params"]["photo"] == sb_settings.sandbox.base_url + "/_sandbox/placeholder.png"  # sealed
    (call,) = sent(control, "telegram", "sendPhoto")
    assert as_sent(request["params"], call["body"]) == request["params"]


def test_an_x_thread_is_recorded_as_the_bodies_x_received(sb_settings, store, control, clock, articles_dir):
    settings = with_channel(sb_settings, "de.twitter", thread=True)
    one_article(articles_dir, image="https://novastan.org/de/wp-content/uploads/jurte.jpg", lede=LONG_LEDE)
    ingest(settings, store, now=clock())
    drain(settings, store, clock)
    row = only(store, "twitter")
    assert row.status == "sent"
    request = recorded(store, row.id)["request"]
    posts = request["posts"]
    assert len(posts) > 1 and request["image"].endswith("/_sandbox/placeholder.png")
    calls = [c["body"] for c in sent(control, "x", "/2/tweets")]
    ids = row.reason.rpartition("posts: ")[2].split(", ")  # "thread of n posts: id1, id2, …"
    assert ids[0] == row.remote_id and len(ids) == len(posts)
    media_id = calls[0]["media"]["media_ids"][0]
    assert media_id != MEDIA_ID
    filled = json.loads(json.dumps(posts).replace(MEDIA_ID, media_id))
    for i, post in enumerate(filled[1:], 1):
        assert post["reply"] == {"in_reply_to_tweet_id": PREVIOUS_POST}
        post["reply"]["in_reply_to_tweet_id"] = ids[i - 1]
    assert calls == filled


class TelegramThatCanSearch(TelegramChannel):
    """A Telegram channel with a find_posts method that does not declare
    SearchableChannel: the dispatcher must not take it for one."""

    searched: list[str] = []

    async def find_posts(self, message: RenderedMessage, since) -> list[str]:
        self.searched.append(message.text)
        return []


def test_the_dispatcher_asks_for_a_declared_capability_and_probes_for_no_method(
        sb_settings, store, control, clock, articles_dir):
    one_article(articles_dir)
    ingest(sb_settings, store, now=clock())
    control.post("/_sandbox/faults", json={"service": "telegram", "delay_ms": 1500, "method": "sendMessage"})

    def factory(settings, name, *, chat_id=None):
        cfg = settings.editions["de"].channels.telegram
        return TelegramThatCanSearch(name, token=channel_secret(settings, "de", "telegram", "token", ""),
                                     chat_id=chat_id or cfg.chat_id, api_url=api_base(settings, name), timeout=0.5)

    async def go():
        d = Dispatcher(sb_settings, store, clock=clock, sleep=clock.sleep, channel_factory=factory)
        try:
            return await d.drain()
        finally:
            await d.aclose()

    TelegramThatCanSearch.searched = []
    telegram = only(store, "telegram")
    store.outbox.set_status(only(store, "twitter").id, from_states=("pending",), to="cancelled", now=clock(),
                            reason="not this test's")
    asyncio.run(go())
    row = store.outbox.get(telegram.id)
    assert row.status == "held" and "may have been posted" in row.reason
    assert TelegramThatCanSearch.searched == []  # not declared searchable: not searched
