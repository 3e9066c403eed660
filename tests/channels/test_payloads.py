"""Each adapter's pure payload builder: the exact request for representative
messages (text, photo, edit, thread, long text, email personalizations),
with no I/O. What reaches the services is checked against the sandbox in
test_recorded_requests.py."""

from __future__ import annotations

import pytest

from distributor.channels.newsletter import MAX_PERSONALIZATIONS, build_mail
from distributor.channels.telegram import build_edit, build_post
from distributor.channels.twitter import MEDIA_ID, PREVIOUS_POST, XPost
from distributor.channels.twitter import build_post as build_x_post
from distributor.config import TwitterChannelConfig, UtmConfig
from distributor.render import RenderedMessage
from distributor.render.env import Templates
from distributor.render.samples import sample_article
from distributor.render.twitter import render_tweet

PLACEHOLDER = "http://127.0.0.1:8765/_sandbox/placeholder.png"
PREVIEW = {"is_disabled": False, "prefer_large_media": True}


def telegram(text="<b>Die Jurte</b> kehrt zurück", **kw) -> RenderedMessage:
    return RenderedMessage(channel="telegram", text=text, length=len(text), limit=4096, parse_mode="HTML", **kw)


def tweet(text="Kasachstan und China: eine Annäherung?", **kw) -> RenderedMessage:
    return RenderedMessage(channel="twitter", text=text, length=len(text), limit=280, **kw)


# ------------------------------------------------------------ Telegram

def test_a_text_post_is_one_send_message_with_its_link_preview():
    request = build_post(telegram(link_preview=PREVIEW), chat_id="@novastan_de")
    assert request.to_json() == {"method": "sendMessage", "params": {
        "chat_id": "@novastan_de", "text": "<b>Die Jurte</b> kehrt zurück", "parse_mode": "HTML",
        "disable_notification": False, "link_preview_options": {"is_disabled": False, "prefer_large_media": True}}}


def test_a_text_post_without_preview_options_sends_none():
    params = build_post(telegram(), chat_id=-1001234567890).params()
    assert params == {"chat_id": -1001234567890, "text": "<b>Die Jurte</b> kehrt zurück", "parse_mode": "HTML",
                      "disable_notification": False}


def test_a_silent_post_disables_the_notification():
    assert build_post(telegram(), chat_id="@novastan_de", silent=True).params()["disable_notification"] is True


def test_a_photo_post_is_send_photo_with_the_text_as_caption_and_no_preview():
    msg = telegram(photo="https://novastan.org/yurt.jpg", link_preview=PREVIEW)
    assert build_post(msg, chat_id="@novastan_de").to_json() == {"method": "sendPhoto", "params": {
        "chat_id": "@novastan_de", "photo": "https://novastan.org/yurt.jpg",
        "caption": "<b>Die Jurte</b> kehrt zurück", "parse_mode": "HTML", "disable_notification": False}}


def test_in_sandbox_mode_a_remote_photo_becomes_the_placeholder_and_a_local_one_stays():
    remote = telegram(photo="https://novastan.org/yurt.jpg")
    assert build_post(remote, chat_id="@x", placeholder=PLACEHOLDER).photo == PLACEHOLDER
    assert build_post(remote, chat_id="@x").photo == "https://novastan.org/yurt.jpg"  # live: Telegram fetches it
    local = telegram(photo="/srv/images/yurt.png")
    assert build_post(local, chat_id="@x", placeholder=PLACEHOLDER).params()["photo"] == "/srv/images/yurt.png"


def test_a_long_text_goes_whole_the_builder_cuts_nothing():
    text = "Ж" * 4096  # the renderer keeps within Telegram's limit; the builder sends what it got
    assert build_post(telegram(text), chat_id="@x").params()["text"] == text


def test_a_correction_edits_the_text_or_the_caption():
    assert build_edit(telegram(link_preview=PREVIEW), chat_id="@novastan_de", message_id=42).to_json() == {
        "method": "editMessageText", "params": {
            "chat_id": "@novastan_de", "message_id": 42, "text": "<b>Die Jurte</b> kehrt zurück",
            "parse_mode": "HTML", "link_preview_options": {"is_disabled": False, "prefer_large_media": True}}}
    photo = telegram(photo="https://novastan.org/yurt.jpg", link_preview=PREVIEW)
    assert build_edit(photo, chat_id=-100123, message_id=7).to_json() == {"method": "editMessageCaption", "params": {
        "chat_id": -100123, "message_id": 7, "caption": "<b>Die Jurte</b> kehrt zurück", "parse_mode": "HTML"}}


# ------------------------------------------------------------ X

def test_a_single_post_is_one_body_with_its_text():
    request = build_x_post(tweet())
    assert request == XPost(texts=("Kasachstan und China: eine Annäherung?",))
    assert request.to_json() == {"posts": [{"text": "Kasachstan und China: eine Annäherung?"}]}
    assert request.body(0) == {"text": "Kasachstan und China: eine Annäherung?"}


def test_an_image_is_uploaded_first_and_attached_to_the_first_post():
    request = build_x_post(tweet(photo="https://novastan.org/yurt.jpg"), placeholder=PLACEHOLDER)
    assert request.image == PLACEHOLDER  # sandbox mode: the remote image is never fetched
    assert request.to_json() == {"image": PLACEHOLDER, "posts": [
        {"text": "Kasachstan und China: eine Annäherung?", "media": {"media_ids": [MEDIA_ID]}}]}
    assert request.body(0, media_id="1800") == {"text": "Kasachstan und China: eine Annäherung?",
                                                "media": {"media_ids": ["1800"]}}


def test_a_thread_replies_each_part_to_the_one_before():
    parts = ("1/3 Erster Teil", "2/3 Zweiter Teil", "3/3 Dritter Teil https://novastan.org/de/x/")
    request = build_x_post(tweet(parts[0], parts=parts, photo="/srv/yurt.png"))
    assert request.to_json() == {"image": "/srv/yurt.png", "posts": [
        {"text": parts[0], "media": {"media_ids": [MEDIA_ID]}},
        {"text": parts[1], "reply": {"in_reply_to_tweet_id": PREVIOUS_POST}},
        {"text": parts[2], "reply": {"in_reply_to_tweet_id": PREVIOUS_POST}},
    ]}
    assert request.body(2, reply_to="1900") == {"text": parts[2], "reply": {"in_reply_to_tweet_id": "1900"}}


def test_a_long_text_rendered_as_a_thread_becomes_one_body_per_part():
    article = sample_article("de")
    long = article.replace(lede=" ".join([article.lede] * 6))
    msg = render_tweet(long, templates=Templates(), config=TwitterChannelConfig(thread=True), utm=UtmConfig())
    assert len(msg.parts) > 1
    posts = build_x_post(msg).to_json()["posts"]
    assert [p["text"] for p in posts] == list(msg.parts)
    assert ["reply" in p for p in posts] == [False] + [True] * (len(posts) - 1)
    # Without threads the same text is one post, as the renderer cut it.
    single = render_tweet(long, templates=Templates(), config=TwitterChannelConfig(), utm=UtmConfig())
    assert build_x_post(single).to_json() == {"posts": [{"text": single.text}]}


# ------------------------------------------------------------ newsletter

EMAIL = RenderedMessage(
    channel="email", text="Hallo {token}", length=12, limit=0, subject="Novastan: die Woche",
    html="<p>Hallo {token}</p>",
    headers={"List-Unsubscribe": "<https://novastan.example/unsubscribe/{token}>",
             "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


def test_every_token_slot_of_every_header_is_filled_and_the_rest_kept():
    """build_mail splits each header at its slots once per batch: the same
    strings as filling each slot per reader (str.replace), slots anywhere."""
    from dataclasses import replace

    headers = {"List-Unsubscribe": "<https://n.example/u/{token}>, <mailto:u@n.example?subject=u%20{token}>",
               "X-Both-Ends": "{token}{token}-{token}", "X-None": "no slot {tok en} {", "X-Only": "{token}"}
    message = replace(EMAIL, headers=headers)
    recipients = [("a@example.org", "u.de.1.AAAA"), ("b@example.org", "u.de.22.B-_b"), ("c@example.org", "")]
    body = build_mail(message, recipients, from_email="newsletter@novastan.example")
    assert [p["headers"] for p in body["personalizations"]] == [
        {k: v.replace("{token}", tok) for k, v in headers.items()} for _, tok in recipients]
    assert list(body["personalizations"][0]["headers"]) == list(headers)


def test_a_batch_gives_each_recipient_their_own_personalization_and_token():
    body = build_mail(EMAIL, [("a@example.org", "tokA"), ("b@example.org", "tokB")],
                      from_email="newsletter@novastan.example", from_name="Novastan",
                      categories=["newsletter", "de"], custom_args={"issue_id": "3", "batch": "0"})
    assert body == {
        "from": {"email": "newsletter@novastan.example", "name": "Novastan"},
        "subject": "Novastan: die Woche",
        "personalizations": [
            {"to": [{"email": "a@example.org"}], "substitutions": {"{token}": "tokA"},
             "headers": {"List-Unsubscribe": "<https://novastan.example/unsubscribe/tokA>",
                         "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}},
            {"to": [{"email": "b@example.org"}], "substitutions": {"{token}": "tokB"},
             "headers": {"List-Unsubscribe": "<https://novastan.example/unsubscribe/tokB>",
                         "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}},
        ],
        "content": [{"type": "text/plain", "value": "Hallo {token}"},
                    {"type": "text/html", "value": "<p>Hallo {token}</p>"}],
        "categories": ["newsletter", "de"],
        "custom_args": {"issue_id": "3", "batch": "0"},
    }


def test_a_batch_without_name_categories_or_custom_args_leaves_them_out():
    body = build_mail(EMAIL, [("a@example.org", "t")], from_email="n@novastan.example")
    assert body["from"] == {"email": "n@novastan.example"}
    assert "categories" not in body and "custom_args" not in body
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]  # SendGrid's required order


def test_categories_are_capped_at_sendgrids_ten():
    body = build_mail(EMAIL, [("a@example.org", "t")], from_email="n@novastan.example",
                      categories=[f"c{i}" for i in range(12)])
    assert body["categories"] == [f"c{i}" for i in range(10)]


@pytest.mark.parametrize("count", [0, MAX_PERSONALIZATIONS + 1])
def test_a_batch_holds_one_to_a_thousand_recipients(count):
    with pytest.raises(ValueError, match="1 to 1000 recipients"):
        build_mail(EMAIL, [(f"r{i}@example.org", "t") for i in range(count)], from_email="n@novastan.example")
