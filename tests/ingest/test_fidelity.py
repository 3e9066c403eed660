"""Text fidelity, untitled articles and links (issue 10, items 5-7).

The article's text is kept as written (joiners included), an untitled article
leads with its lede instead of a file name turned into words, and an
article's link is either a safe http(s) URL kept byte for byte or no link.
"""

from __future__ import annotations

import html as html_lib
from pathlib import Path

import pytest

from distributor.config import UtmConfig
from distributor.ingest.parse import NO_LINK, NO_TITLE, parse_file, parse_raw
from distributor.model import Article, RawArticle
from distributor.render.email import render_digest
from distributor.render.env import Templates
from distributor.render.samples import ISSUE_DATE
from distributor.render.telegram import render_telegram
from distributor.render.twitter import render_tweet

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "articles" / "de-kasachstan-china-ukraine.txt"
SEED_LEDE_START = "Kasachstan unterstützt den chinesischen 12-Punkte-Plan für Frieden in der Ukraine."
FAMILY = "👨\u200d👩\u200d👧\u200d👦"
PERSIAN = "می\u200cخواهم"  # "I want", with its zero-width non-joiner
FOOTER = "Folgt uns auf Telegram und Twitter."
TEMPLATES = Templates()
UTM = UtmConfig()


def text_article(body: str, **raw) -> Article:
    return parse_raw(RawArticle(key="k", content=body, format="text", name="k.txt", **raw), default_language="de")


# ---------------------------------------------------------------- text fidelity


def test_a_family_emoji_and_a_persian_zwnj_survive_parsing():
    a = text_article(f"Die Familie {FAMILY} wartet. Er sagt {PERSIAN} auf Persisch.\n\nZweiter Absatz {FAMILY}.\n\n"
                     + FOOTER)
    assert FAMILY in a.lede and PERSIAN in a.lede
    assert a.body_text.count(FAMILY) == 2
    assert "\u200d" in a.body_text and "\u200c" in a.body_text


def test_only_invisible_noise_is_removed():
    a = text_article("Null\u200bbreite, Wort\u2060verbinder und ein \ufeffBOM mitten im Text. "
                     "Silben\u00adtrennung bleibt.\n\n" + FOOTER)
    assert a.lede == "Nullbreite, Wortverbinder und ein BOM mitten im Text. Silben\u00adtrennung bleibt."


def test_joiners_survive_into_every_rendered_variant():
    a = text_article(f"Die Familie {FAMILY} sagt {PERSIAN}.\n\n" + FOOTER, title="Titel", url="https://novastan.org/de/x/")
    tg = render_telegram(a, templates=TEMPLATES, utm=UTM)
    x = render_tweet(a, templates=TEMPLATES, utm=UTM)
    mail = render_digest([a], templates=TEMPLATES, language="de", name="Novastan", issue_date=ISSUE_DATE, utm=UTM)
    for out in (tg.text, x.text, mail.text, mail.html):
        assert FAMILY in out and PERSIAN in out


# ---------------------------------------------------------------- untitled


def test_the_seed_has_no_title_and_says_so():
    a = parse_file(SEED)
    assert a.title == "" and NO_TITLE in a.warnings
    assert "Kasachstan china ukraine" not in a.label


def test_the_seed_leads_with_its_lede_in_every_post_and_the_digest():
    a = parse_file(SEED)
    tg = render_telegram(a, templates=TEMPLATES, utm=UTM)
    x = render_tweet(a, templates=TEMPLATES, utm=UTM)
    mail = render_digest([a], templates=TEMPLATES, language="de", name="Novastan", issue_date=ISSUE_DATE, utm=UTM)
    assert tg.text.startswith(SEED_LEDE_START)
    assert x.text.startswith(SEED_LEDE_START[:60])
    entry = mail.text.split("Hier sind unsere Artikel der Woche.", 1)[1].lstrip()
    assert entry.startswith(SEED_LEDE_START)
    assert '<p class="lede"' in mail.html and "<h2" not in mail.html
    assert mail.text.count(SEED_LEDE_START) == 1  # shown once, not as a title and again as the lede
    assert mail.html.count(SEED_LEDE_START) == 2  # the hidden preheader, then the entry
    for out in (tg.text, x.text, mail.text, mail.html, mail.subject):
        assert "Kasachstan china ukraine" not in out and "china ukraine" not in out.lower()


# ---------------------------------------------------------------- links


def test_url_template_gives_the_seed_a_link(tmp_path):
    copy = tmp_path / "000_912118c3959980c4.txt"
    copy.write_bytes(SEED.read_bytes())
    a = parse_file(copy, url_template="https://novastan.org/de/{slug}/")
    assert a.url == "https://novastan.org/de/000_912118c3959980c4/"
    assert NO_LINK not in a.warnings
    tg = render_telegram(a, templates=TEMPLATES, utm=UTM)
    assert 'href="https://novastan.org/de/000_912118c3959980c4/?utm_source=telegram' in tg.text


def test_url_template_takes_the_front_matter_slug_and_the_front_matter_url_wins(tmp_path):
    md = tmp_path / "de-irgendwas.md"
    md.write_text("---\ntitle: Titel\nslug: kasachstan-china ukraine\n---\n\nKasachstan unterstützt den Plan. Mehr nicht.\n",
                  encoding="utf-8")
    assert parse_file(md, url_template="https://novastan.org/de/{slug}/").url == \
        "https://novastan.org/de/kasachstan-china%20ukraine/"
    md.write_text("---\ntitle: Titel\nurl: https://novastan.org/de/eigen/\n---\n\nKasachstan unterstützt den Plan.\n",
                  encoding="utf-8")
    assert parse_file(md, url_template="https://novastan.org/de/{slug}/").url == "https://novastan.org/de/eigen/"


def test_an_article_without_any_url_is_flagged():
    a = text_article("Kasachstan unterstützt den Plan. Mehr nicht.\n\n" + FOOTER)
    assert a.url is None and NO_LINK in a.warnings


BAD_URLS = [
    ("javascript:alert(document.cookie)", "not an http(s) URL"),
    ("https://novastan.org/de/mit leerzeichen/", "space"),
    ("https://redaktion:geheim@novastan.org/de/x/", "credentials"),
]


@pytest.mark.parametrize("url, why", BAD_URLS, ids=["javascript", "space", "credentials"])
def test_a_bad_article_url_is_refused_at_parsing_with_a_warning(url, why):
    a = text_article("Kasachstan unterstützt den Plan. Mehr nicht.\n\n" + FOOTER, url=url)
    assert a.url is None
    [warning] = [w for w in a.warnings if w.startswith("link ")]
    assert "refused" in warning and why in warning
    assert "geheim" not in warning  # a password is never repeated


@pytest.mark.parametrize("url, why", BAD_URLS, ids=["javascript", "space", "credentials"])
def test_a_bad_stored_url_is_absent_from_every_rendered_variant(url, why):
    a = Article(title="Titel", lede="Kasachstan unterstützt den Plan.", language="de", url=url,
                image="https://novastan.example/a.jpg")
    tg = render_telegram(a.replace(image=None), templates=TEMPLATES, utm=UTM)
    caption = render_telegram(a, templates=TEMPLATES, utm=UTM)
    x = render_tweet(a, templates=TEMPLATES, utm=UTM)
    mail = render_digest([a], templates=TEMPLATES, language="de", name="Novastan", issue_date=ISSUE_DATE, utm=UTM)
    needles = ("javascript", "leerzeichen", "geheim", "redaktion:")
    for msg in (tg, caption, x, mail):
        shown = " ".join(filter(None, [msg.text, msg.html, *msg.parts, str(msg.link_preview)]))
        assert not any(n in html_lib.unescape(shown) for n in needles), shown
        assert any("refused" in w and why in w for w in msg.warnings), msg.warnings


QUERY = "https://novastan.org/de/x/?a=1&flag&q=%22x%22"


def test_the_query_stays_byte_for_byte_through_parsing_and_utm_tagging():
    a = text_article("Kasachstan unterstützt den Plan. Mehr nicht.\n\n" + FOOTER, url=QUERY, title="Titel")
    assert a.url == QUERY
    tagged = QUERY + "&utm_source=telegram&utm_medium=social&utm_campaign=distributor"
    tg = render_telegram(a, templates=TEMPLATES, utm=UTM)
    assert f'href="{html_lib.escape(tagged)}"' in tg.text and tg.link_preview["url"] == tagged
    x = render_tweet(a, templates=TEMPLATES, utm=UTM)
    assert QUERY + "&utm_source=twitter&utm_medium=social&utm_campaign=distributor" in x.text
    mail = render_digest([a], templates=TEMPLATES, language="de", name="Novastan", issue_date=ISSUE_DATE, utm=UTM)
    assert QUERY + "&utm_source=newsletter&utm_medium=email&utm_campaign=distributor" in mail.text


def test_only_noredirect_leaves_the_query():
    a = text_article("Kasachstan unterstützt den Plan. Mehr nicht.\n\n" + FOOTER,
                     url="https://novastan.org/de/x/?noredirect=de-DE&a=1&flag&q=\"x\"#teil")
    assert a.url == "https://novastan.org/de/x/?a=1&flag&q=\"x\"#teil"
    a = text_article("Kasachstan unterstützt den Plan. Mehr nicht.\n\n" + FOOTER,
                     url="https://novastan.org/de/x/?noredirect=de-DE")
    assert a.url == "https://novastan.org/de/x/"


def test_an_image_url_with_credentials_is_not_sent_nor_repeated():
    a = Article(title="Titel", lede="Kasachstan unterstützt den Plan.", language="de",
                url="https://novastan.org/de/x/", image="https://redaktion:geheim@novastan.example/a.jpg")
    tg = render_telegram(a, templates=TEMPLATES, utm=UTM)
    assert tg.photo is None and "geheim" not in tg.text
    [warning] = [w for w in tg.warnings if w.startswith("image ")]
    assert "credentials" in warning and "geheim" not in warning


def test_the_label_of_an_untitled_article_never_splits_a_cluster():
    hangul = "\u1112\u1161\u11ab"  # one decomposed syllable
    label = Article(title="", lede=hangul * 60, language="ko").label
    assert label.endswith(hangul + "…") and label.count("\u1112") == label.count("\u11ab")


def test_the_ascii_shortcut_of_link_problem_gives_the_unicode_answer():
    """links.link_problem() checks an ASCII URL in C (isprintable() and no space):
    the answer of the per-character Unicode check, for every ASCII character
    anywhere in a URL, and the Unicode check is still made for any other URL."""
    import unicodedata

    from distributor import links

    def per_character(url: str) -> bool:
        return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in url)

    for code in range(128):
        for url in (chr(code), f"https://novastan.org/de/{chr(code)}x/", f"https://novastan.org/{chr(code)}"):
            assert links._has_space_or_invisible(url) == per_character(url), repr(url)
    for url in ("https://novastan.org/de/\u00a0x/", "https://novastan.org/\u200bx", "https://novastan.org/\u2028",
                "https://novastan.org/de/über/"):
        assert links._has_space_or_invisible(url) == per_character(url), repr(url)
