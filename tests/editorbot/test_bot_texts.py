"""What the editors' bot writes (editorbot/texts.py): Telegram's limits
hold for any article (4096 characters, 64-byte button data), the buttons
exist only while something awaits approval, and callback data round-trips
(anything else is no button of the bot's)."""

from __future__ import annotations

import datetime as dt

import pytest

from distributor.editorbot.texts import (
    ArticleView,
    Callback,
    ChannelView,
    approval_buttons,
    approval_text,
    parse_callback,
    shown_hash,
)
from distributor.render.telegram_html import parse_html

AT = dt.datetime(2025, 3, 14, 9, 30, tzinfo=dt.timezone.utc)


def view(*channels: ChannelView, title: str = "Kasachstan & China <Plan>") -> ArticleView:
    return ArticleView(12, 3, title, "https://novastan.org/de/x/", "de", channels)


def test_a_long_article_stays_within_telegrams_limit_and_parses():
    long = "Wort " * 3000
    v = view(ChannelView("de.telegram", "telegram", "awaiting_approval", True, long),
             ChannelView("de.twitter", "twitter", "awaiting_approval", True, long),
             ChannelView("de.newsletter", "newsletter", "pending", False), title="T" * 500)
    text = approval_text(v)
    parsed = parse_html(text)  # valid Telegram HTML (the sandbox checks it the same way)
    assert parsed.length <= 4096
    assert "Kasachstan" not in text and "To approve" in text
    for row in approval_buttons(v):
        for b in row:
            assert len(b.data.encode()) <= 64


def test_buttons_while_something_awaits_and_who_decided_after():
    waiting = view(ChannelView("de.telegram", "telegram", "awaiting_approval", True, "x", edit_id=41,
                               edited_by="desk:anna"),
                   ChannelView("de.twitter", "twitter", "awaiting_approval", True, "y"))
    data = [b.data for row in approval_buttons(waiting) for b in row]
    # Each button names the edits (0: none) of the variants it acts on, as the message shows them.
    assert data == ["ap:12:3:all:41.0.0", "ap:12:3:telegram:41", "ap:12:3:twitter:0", "sk:12:3:all:41.0.0"]
    assert "edited by desk:anna" in approval_text(waiting)
    decided = view(ChannelView("de.telegram", "telegram", "pending", False, decided_by="telegram:4711",
                               decided="approved", decided_at=AT),
                   ChannelView("de.twitter", "twitter", "cancelled", False, decided_by="desk:alice",
                               decided="skipped", decided_at=AT))
    assert approval_buttons(decided) == []
    text = approval_text(decided)
    assert "approved by telegram:4711 at 2025-03-14 09:30 UTC" in text
    assert "skipped by desk:alice" in text and "Kasachstan &amp; China &lt;Plan&gt;" in text
    assert shown_hash(approval_text(waiting), approval_buttons(waiting)) != shown_hash(text, [])


@pytest.mark.parametrize("data", ["", "ap:1:2", "xx:1:2:all:0.0.0", "ap:a:2:all:0.0.0", "ap:1:2:facebook:0", None,
                                  "ap:1:-2:all:0.0.0", "ap:1:2:all", "ap:1:2:all:0.0", "ap:1:2:twitter:0.0",
                                  "ap:1:2:twitter:x", "ap:1:2:twitter:²", "ap:1:2:twitter:-1"])
def test_anything_else_is_no_button_of_the_bots(data):
    assert parse_callback(data) is None


def test_callback_data_round_trips():
    assert parse_callback("sk:7:2:twitter:5") == Callback("sk", 7, 2, "twitter", (("twitter", 5),))
    assert parse_callback("ap:7:2:all:5.0.9").seen_edits == {"telegram": 5, "twitter": 0, "newsletter": 9}


def test_the_longest_button_data_fits_telegrams_64_bytes():
    big = 2**31 - 1  # ids and versions are 32-bit integers in the database
    kinds = ("telegram", "twitter", "newsletter")
    v = ArticleView(big, big, "T", "", "de", tuple(
        ChannelView(f"de.{k}", k, "awaiting_approval", True, "x", edit_id=big) for k in kinds))
    data = [b.data for row in approval_buttons(v) for b in row]
    assert max(len(d.encode()) for d in data) == 61 <= 64
    assert f"ap:{big}:{big}:all:{big}.{big}.{big}" in data and f"ap:{big}:{big}:newsletter:{big}" in data
    assert all(parse_callback(d) is not None for d in data)
