"""The render layer's parts: counting, cutting, Telegram's HTML rules, UTM,
dates, template lookup and checking, email headers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from distributor.config import NewsletterChannelConfig, TwitterChannelConfig, UtmConfig, settings_from_dict
from distributor.errors import ConfigurationError, RenderError
from distributor.render.email import render_digest, unsubscribe_headers
from distributor.render import check_templates
from distributor.render.env import Templates
from distributor.render.i18n import format_date
from distributor.render.message import TOKEN_SLOT
from distributor.render.samples import ISSUE_DATE, sample_article
from distributor.render.telegram import render_telegram
from distributor.render.textlimits import clean, fit, pretrim, utf16_len
from distributor.render.twitter import hashtags_from_tags, render_tweet
from distributor.render.utm import tag_link

from .conftest import UNSUBSCRIBE, NEWSLETTER, UTM

# ------------------------------------------------------------ counting and cutting


def test_utf16_counts_astral_characters_twice():
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("👩\u200d👩\u200d👧\u200d👦") == 11
    assert utf16_len("日本") == 2


def test_clean_drops_controls_surrogates_and_noncharacters():
    assert clean("a\x00b\x1b c\ud800\ufeff\uffff") == "ab c"
    assert clean("  two\n\nlines\t here ") == "two lines here"
    assert clean("a\r\n\n\n\nb", single_line=False) == "a\n\nb"


def short(n):
    return lambda s: len(s) <= n


def test_fit_cuts_at_a_word_boundary_with_an_ellipsis():
    cut = fit("alpha beta gamma delta", short(14))
    assert cut.text == "alpha beta…" and cut.truncated and cut.kept == 10


def test_fit_prefers_a_sentence_end_that_keeps_most_of_the_text():
    text = "First sentence is here. Second one follows and goes on and on."
    assert fit(text, short(30)).text == "First sentence is here. …"


def test_fit_leaves_fitting_text_alone():
    cut = fit("short", short(10))
    assert (cut.text, cut.truncated) == ("short", False)


def test_fit_never_keeps_half_a_url_or_hashtag():
    assert fit("https://example.com/" + "p" * 50, short(20)).text == ""
    assert fit("#" + "x" * 50, short(20)).text == ""
    cut = fit("see https://example.com/abc more words", short(30))
    assert cut.text == "see https://example.com/abc …"


def test_fit_hard_cut_respects_grapheme_clusters():
    family = "👩\u200d👩\u200d👧\u200d👦"
    cut = fit(family * 10, lambda s: len(s) <= 20)
    body = cut.text.rstrip("…")
    assert body == family * (len(body) // len(family))
    flags = "🇰🇿" * 10
    body = fit(flags, lambda s: len(s) <= 6).text.rstrip("…")
    assert len(body) % 2 == 0


def test_pretrim_keeps_a_prefix_certainly_over_the_limit():
    head, cut = pretrim("日" * 10_000, 280, url_aware=True)
    assert cut and len(head) == 281
    head, cut = pretrim("https://example.com/" + "x" * 5000 + " tail", 30, url_aware=True)
    assert not cut  # a URL counts 23 on X, whatever its length
    head, cut = pretrim("word " * 100, 50, url_aware=False)
    assert cut and len(head) <= 52


# ------------------------------------------------------------ Telegram's rules


def test_telegram_photo_caption_limit_and_text_limit(templates):
    base = sample_article("en").replace(lede="word " * 2000)
    text = render_telegram(base, templates=templates, utm=UTM)
    assert (text.limit, text.photo, text.truncated) == (4096, None, True)
    assert 4000 < text.length <= 4096
    photo = render_telegram(base.replace(image="https://x.example/p.jpg"), templates=templates, utm=UTM)
    assert (photo.limit, photo.photo) == (1024, "https://x.example/p.jpg")
    assert 950 < photo.length <= 1024 and photo.link_preview is None
    assert "Read more" in photo.text and "utm_source=telegram" in photo.text


def test_telegram_link_preview_options(templates):
    from distributor.config import TelegramChannelConfig

    article = sample_article("en")
    off = render_telegram(article, templates=templates, config=TelegramChannelConfig(chat_id="x", link_preview=False))
    assert off.link_preview == {"is_disabled": True}
    on = render_telegram(article, templates=templates,
                         config=TelegramChannelConfig(chat_id="x", link_preview_large_media=True))
    assert on.link_preview["prefer_large_media"] is True and on.link_preview["url"].startswith(article.url)


def test_telegram_with_nothing_to_say_is_a_render_error(templates):
    with pytest.raises(RenderError):
        render_telegram(sample_article("en").replace(title=" ", lede="", url=None, author=None), templates=templates)


# ------------------------------------------------------------ X


def test_hashtags_from_tags():
    assert hashtags_from_tags(["Central Asia", "kasachstan", "2023", "Central asia", "!!"], 5) == [
        "#CentralAsia", "#kasachstan"]
    assert hashtags_from_tags(["a", "b", "c"], 2) == ["#a", "#b"]


def test_tweet_respects_hashtag_settings(templates):
    article = sample_article("en").replace(lede="Short.")
    assert "#Kazakhstan" in render_tweet(article, templates=templates).text
    assert "#" not in render_tweet(article, templates=templates, config=TwitterChannelConfig(hashtags=False)).text


def test_tweet_counts_the_url_as_23(templates):
    article = sample_article("en").replace(url="https://novastan.org/" + "very-long-slug-" * 20, lede="Short.")
    msg = render_tweet(article, templates=templates)
    assert not msg.truncated and msg.length < 120


# ------------------------------------------------------------ UTM and dates


def test_utm_is_appended_without_touching_the_link_query():
    url = tag_link("https://n.example/a?q=a%20b&utm_source=mine#top", "newsletter", UtmConfig())
    assert url == "https://n.example/a?q=a%20b&utm_source=mine&utm_medium=email&utm_campaign=distributor#top"
    assert tag_link("https://n.example/a", "twitter", UtmConfig(enabled=False)) == "https://n.example/a"
    assert tag_link("mailto:x@y", "telegram", UtmConfig()) == "mailto:x@y"
    assert tag_link(None, "telegram", UtmConfig()) is None


def test_dates_per_language():
    d = dt.date(2025, 3, 1)
    assert [format_date(d, lang) for lang in ("de", "fr", "en", "ru", "xx")] == [
        "1. März 2025", "1er mars 2025", "1 March 2025", "1 марта 2025", "1 March 2025"]


# ------------------------------------------------------------ email


def test_digest_html_is_mail_client_safe(templates):
    article = sample_article("de").replace(image="https://novastan.example/i.jpg")
    msg = render_digest([article], templates=templates, language="de", name="Novastan", issue_date=ISSUE_DATE,
                        newsletter=NEWSLETTER, utm=UTM,
                        unsubscribe_url=UNSUBSCRIBE)
    soup = BeautifulSoup(msg.html, "html.parser")
    assert soup.find("style") is None and soup.find("link") is None  # CSS inlined, nothing external
    assert soup.find("table", attrs={"role": "presentation"})
    assert all(img.get("alt") for img in soup.find_all("img"))
    pre = soup.find(class_="preheader")
    assert "display: none" in pre["style"] and pre.get_text().startswith("1 neuer Artikel")
    assert "Diese Woche bei Novastan" in msg.text and "10. März 2023" in msg.text
    assert article.title in msg.text and "Jean Monéger" in msg.text
    assert "utm_medium=email" in msg.text and "{token}" in msg.html


def test_unsubscribe_headers_and_token_filling(templates):
    msg = render_digest([sample_article("en")], templates=templates, language="en", name="Novastan",
                        issue_date=ISSUE_DATE, newsletter=NEWSLETTER, utm=UTM,
                        unsubscribe_url=UNSUBSCRIBE)
    assert msg.headers == {
        "List-Unsubscribe": "<https://novastan.example/unsubscribe/{token}>, "
                            "<mailto:unsubscribe@novastan.example?subject=unsubscribe%20{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # The sender fills the one {token} slot per recipient, by plain replacement
    # (a SendGrid substitution; the headers in each personalization).
    def fill(s: str) -> str:
        return s.replace(TOKEN_SLOT, "tok-123")

    assert "{token}" not in fill(msg.headers["List-Unsubscribe"]) + fill(msg.html) + fill(msg.text)
    assert "https://novastan.example/unsubscribe/tok-123" in fill(msg.html)


def test_unsubscribe_header_warnings():
    assert unsubscribe_headers("")[0] == {}
    live = NewsletterChannelConfig(from_email="a@b", mode="live")
    assert any("https" in w for w in unsubscribe_headers("http://x/{token}", live)[1])
    assert any("slot" in w for w in unsubscribe_headers("https://x/u", live)[1])


def test_empty_digest_is_an_error(templates):
    with pytest.raises(RenderError):
        render_digest([], templates=templates, language="en", name="N", issue_date=ISSUE_DATE)


# ------------------------------------------------------------ templates


def _settings(tmp_path: Path, templates_dir: str = "") -> object:
    raw = {"render": {"templates_dir": templates_dir}, "editions": {"de": {}, "en": {}}}
    return settings_from_dict(raw, path=tmp_path / "distributor.toml")


def test_outlet_templates_override_per_language_and_extend_defaults(tmp_path):
    (tmp_path / "mine" / "de" / "telegram").mkdir(parents=True)
    (tmp_path / "mine" / "de" / "telegram" / "article.html.j2").write_text(
        '{% extends "default:telegram/article.html.j2" %}'
        "{% block byline %}<i>Novastan Deutsch</i>{% endblock +%}\n", encoding="utf-8")
    templates = Templates(tmp_path / "mine")
    de = render_telegram(sample_article("de"), templates=templates)
    en = render_telegram(sample_article("en"), templates=templates)
    assert "<i>Novastan Deutsch</i>" in de.text and "Weiterlesen" in de.text
    assert "Novastan Deutsch" not in en.text and "<i>By Jean Monéger</i>" in en.text
    assert check_templates(_settings(tmp_path, "mine")) == []


def test_check_reports_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine" / "de" / "twitter").mkdir(parents=True)
    (tmp_path / "mine" / "de" / "twitter" / "article.txt.j2").write_text("{{ title }}\n\n{{ lede }\n", encoding="utf-8")
    problems = check_templates(_settings(tmp_path, "mine"))
    assert len(problems) == 1
    assert re.match(r"mine/de/twitter/article\.txt\.j2:3: unexpected '}'", problems[0]), problems


def test_check_reports_undefined_variables_with_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine" / "telegram").mkdir(parents=True)
    (tmp_path / "mine" / "telegram" / "article.html.j2").write_text("<b>{{ title }}</b>\n{{ subtitle }}\n",
                                                                    encoding="utf-8")
    problems = check_templates(_settings(tmp_path, "mine"))
    assert problems and all(p.startswith("mine/telegram/article.html.j2:2:") for p in problems), problems
    assert "subtitle" in problems[0]


def test_template_producing_bad_telegram_html_is_a_configuration_error(tmp_path):
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram" / "article.html.j2").write_text("<p>{{ title }}</p>", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unsupported tag <p>"):
        render_telegram(sample_article("en"), templates=Templates(tmp_path))


def test_builtin_templates_pass_the_check(tmp_path):
    assert check_templates(_settings(tmp_path)) == []


def test_missing_templates_dir_is_reported(tmp_path):
    assert "not a directory" in check_templates(_settings(tmp_path, "nope"))[0]
