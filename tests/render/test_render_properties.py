"""No input yields a message over its limit, or one Telegram could not parse.

Hostile inputs: markup characters and quotes, emoji (ZWJ families, flags,
skin tones), right-to-left text, CJK, control characters and lone
surrogates, a 10,000-character paragraph, an empty lede, a missing or
non-http image, no URL.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from distributor.config import TwitterChannelConfig
from distributor.model import Article, Author
from distributor.render import telegram_html
from distributor.render.email import render_digest
from distributor.render.samples import ISSUE_DATE
from distributor.render.telegram import TelegramLimits, render_telegram
from distributor.render.textlimits import utf16_len
from distributor.render.twitter import XLimits, render_tweet

from .conftest import UNSUBSCRIBE, NEWSLETTER, UTM

PIECES = [
    "<", ">", "&", "&amp;", "&lt;b&gt;", '"', "'", "<b>", "</b>", "<a href='x'>", "<tg-spoiler>", "&#0;",
    "👩‍👩‍👧‍👦", "🇰🇿", "👍🏽", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "שלום עולם", "مرحبا بالعالم", "\u202e", "\u200f",
    "日本語のテキスト", "中文标题。", "한국어", "Ünïcödé", "e\u0301", "\x00", "\x1b", "\ud800", "\ufeff", "\uffff",
    "https://example.com/a?b=c&d=e", "example.org", "#Kasachstan", "@novastan", " ", "\n", "\t", ". ", "… ",
    "Satz.", "word", "x" * 300,
]

piece_text = st.lists(st.sampled_from(PIECES) | st.text(max_size=20), max_size=40).map("".join)
long_paragraph = st.builds(
    lambda word, n: (word + " ") * n,
    st.sampled_from(["Wort", "日本語", "👩‍👩‍👧‍👦", "a&b<c>", "שלום", "https://x.example/p"]),
    st.integers(min_value=1000, max_value=2500),
)
no_space_blob = st.builds(lambda ch: ch * 10_000, st.sampled_from(["x", "日", "😀", "&", "<"]))
texts = st.one_of(st.just(""), piece_text, long_paragraph, no_space_blob)
urls = st.one_of(
    st.none(),
    st.just("https://novastan.org/de/artikel/"),
    st.just("https://novastan.org/path?x=1&y=<2>#frag"),
    st.builds(lambda s: "https://novastan.org/" + s, st.text(alphabet="abc-/_%&=?", max_size=300)),
)
images = st.one_of(st.none(), st.just("https://novastan.example/img.jpg"), st.just("/relative.jpg"), st.just(""))

articles = st.builds(
    Article,
    title=texts,
    lede=texts,
    language=st.sampled_from(["de", "fr", "en", "ru", "kk"]),
    url=urls,
    author=st.one_of(st.none(), st.builds(Author, name=piece_text, role=st.one_of(st.none(), piece_text))),
    translator=st.one_of(st.none(), piece_text),
    image=images,
    tags=st.lists(piece_text, max_size=5).map(tuple),
)

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _link_in_html(html: str, link: str) -> bool:
    import html as h

    return link in [h.unescape(m) for m in re.findall(r'<a href="([^"]*)"', html)]


@PROPERTY
@given(articles)
def test_telegram_is_parseable_and_within_limit(templates, article):
    try:
        msg = render_telegram(article, templates=templates, utm=UTM)
    except Exception as exc:  # only "nothing to post" is acceptable
        assert "nothing to post" in str(exc), exc
        return
    assert telegram_html.problems(msg.text) == []
    limit = TelegramLimits.caption if msg.photo else TelegramLimits.text
    assert msg.limit == limit
    assert msg.length == utf16_len(telegram_html.visible_text(msg.text)) <= limit
    msg.text.encode("utf-8")  # sendable
    if article.url and article.url.startswith("https://"):
        assert _link_in_html(msg.text, msg.link_preview["url"] if msg.link_preview and "url" in msg.link_preview
                             else _expected_link(article.url, "telegram"))


def _expected_link(url: str, channel: str) -> str:
    from distributor.render.utm import tag_link

    return tag_link(url, channel, UTM)


@PROPERTY
@given(articles, st.booleans())
def test_tweet_within_280_with_the_link_intact(templates, article, thread):
    msg = render_tweet(article, templates=templates, config=TwitterChannelConfig(thread=thread), utm=UTM)
    for part in msg.parts or (msg.text,):
        parsed = parse_tweet(part)
        assert parsed.weightedLength <= XLimits.weighted
        part.encode("utf-8")
    assert msg.length <= 280
    if article.url:
        link = _expected_link(article.url, "twitter")
        # The link is whole, and stands apart from its neighbours.
        assert re.search(r"(?:^|\s)" + re.escape(link) + r"(?:\s|$)", msg.text), msg.text
    if msg.parts:
        n = len(msg.parts)
        assert all(p.endswith(f" {i}/{n}") for i, p in enumerate(msg.parts, 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(articles, min_size=1, max_size=4))
def test_digest_has_both_parts_and_one_click_headers(templates, batch):
    msg = render_digest(batch, templates=templates, language=batch[0].language, name="Novastan",
                        issue_date=ISSUE_DATE, newsletter=NEWSLETTER, utm=UTM,
                        unsubscribe_url=UNSUBSCRIBE)
    assert msg.text.strip() and msg.html.startswith("<!DOCTYPE html>")
    assert msg.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    soup = BeautifulSoup(msg.html, "html.parser")
    # Article markup is always escaped: the only elements are the template's.
    assert not soup.find_all(["script", "b", "tg-spoiler", "i"])
    assert all(img.get("alt") for img in soup.find_all("img"))
    assert msg.length < msg.limit
