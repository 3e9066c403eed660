"""An editor's own text for a variant (render/edits.py), at the edges of the
platforms' rules: Telegram's 4096 characters for a message and 1024 for a
photo's caption (UTF-16 units after entity parsing, so tags are free),
X's 280 weighted per post (a link counts 23, CJK 2), a thread's posts
split on "---" lines, the digest entry's 600; and what the message that
goes out keeps of the template's render."""

from __future__ import annotations

import pytest

from distributor.render.edits import EditRefused, apply_edit, check_edit, edit_text_of, posts_of
from distributor.render.message import RenderedMessage


def message(channel: str, **kw) -> RenderedMessage:
    return RenderedMessage(channel=channel, text="template", length=8, limit=0, **kw)


def test_telegram_limits_count_what_telegram_counts():
    text_msg, photo_msg = message("telegram"), message("telegram", photo="https://novastan.org/p.jpg")
    assert check_edit("telegram", "<b>" + "a" * 4096 + "</b>", text_msg).startswith("<b>")  # tags are free
    with pytest.raises(EditRefused, match="4097 characters long; a message takes at most 4096"):
        check_edit("telegram", "a" * 4097, text_msg)
    assert check_edit("telegram", "😀" * 512, photo_msg)  # 2 UTF-16 units each: 1024
    with pytest.raises(EditRefused, match="a photo's caption takes at most 1024"):
        check_edit("telegram", "😀" * 512 + "a", photo_msg)
    for bad in ("<b>open", "<script>x</script>", '<a href="javascript:x">x</a>', "a > b"):
        with pytest.raises(EditRefused, match="Telegram refuses this HTML"):
            check_edit("telegram", bad, text_msg)
    with pytest.raises(EditRefused, match="shows nothing"):
        check_edit("telegram", "<b></b>", text_msg)


def test_x_weights_and_threads():
    tweet = message("twitter")
    link = "https://novastan.org/de/" + "x" * 200  # counts 23 however long
    assert check_edit("twitter", "a" * 256 + " " + link, tweet)  # 256 + 1 + 23 = 280
    with pytest.raises(EditRefused, match="281 weighted characters"):
        check_edit("twitter", "a" * 257 + " " + link, tweet)
    assert posts_of("one\n---\ntwo\n  ---  \nthree") == ["one", "two", "three"]
    assert posts_of("a --- inside a line stays") == ["a --- inside a line stays"]
    with pytest.raises(EditRefused, match="the thread has 7 posts; at most 6"):
        check_edit("twitter", "\n---\n".join("p" * 7), tweet)
    with pytest.raises(EditRefused, match="post 2 is empty"):
        check_edit("twitter", "one\n---\n\n---\nthree", tweet)
    sent = apply_edit(message("twitter", photo="https://novastan.org/p.jpg", warnings=("shortened to fit 280",)),
                      "twitter", "one\n---\ntwo")
    assert (sent.text, sent.parts, sent.length, sent.photo, sent.warnings) == (
        "one", ("one", "two"), 3, "https://novastan.org/p.jpg", ())
    single = apply_edit(tweet, "twitter", "only")
    assert (single.text, single.parts) == ("only", ())


def test_the_newsletter_entry_and_the_common_rules():
    entry = message("newsletter")
    assert check_edit("newsletter", "ü" * 600, entry)
    with pytest.raises(EditRefused, match="601 characters long; a digest entry takes at most 600"):
        check_edit("newsletter", "ü" * 601, entry)
    assert check_edit("newsletter", "  line one  \r\nline two\n", entry) == "line one\nline two"
    with pytest.raises(EditRefused, match="control character"):
        check_edit("newsletter", "bell\x07", entry)
    with pytest.raises(EditRefused, match="empty"):
        check_edit("telegram", " \n ", message("telegram"))
    with pytest.raises(EditRefused, match="cannot be edited"):
        check_edit("facebook", "x", entry)


def test_the_field_starts_from_what_the_template_sends():
    from distributor.model import Article

    article = Article(title="T", lede="Der Vorspann.  Mit   Leerraum.", language="de")
    assert edit_text_of(message("twitter", parts=("a 1/2", "b 2/2")), article) == "a 1/2\n---\nb 2/2"
    assert edit_text_of(message("telegram"), article) == "template"
    assert edit_text_of(message("newsletter"), article) == "Der Vorspann. Mit Leerraum."
