"""Formats and their edges: encodings, broken files, Markdown front matter,
HTML shapes, feed items handed in as RawArticle, titles and languages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from distributor.errors import ParseError
from distributor.ingest.language import detect_language
from distributor.ingest.parse import NO_TITLE, parse_file, parse_raw
from distributor.model import Author, ChannelRef, RawArticle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "articles"
GERMAN = (
    "Die Regierung in Bischkek hat am Montag ein neues Gesetz über die Medien verabschiedet. "
    "Kritiker sehen darin eine Gefahr für die Pressefreiheit, die in Kirgistan ohnehin unter Druck steht.\n"
    "Über die Änderungen wurde im Parlament nur kurz beraten, und die Opposition war nicht dabei.\n"
    "Noch mehr Zentralasien findet ihr auf Telegram und Twitter. Abonniert auch unseren Newsletter.\n"
)


# ------------------------------------------------------------- encodings


def test_cp1252_file_is_decoded_with_a_warning(tmp_path):
    path = tmp_path / "de-pressegesetz.txt"
    path.write_bytes(GERMAN.encode("cp1252"))
    a = parse_file(path)
    assert "Über die Änderungen" in a.body_text  # umlauts survive, not mojibake
    assert any(w.startswith("encoding:") and "cp1252" in w for w in a.warnings)
    assert [c.kind for c in a.channels] == ["telegram", "twitter", "newsletter"]


def test_mostly_utf8_file_keeps_utf8_and_reads_only_the_broken_bytes_as_cp1252(tmp_path):
    # The stray byte is a windows-1252 "é" pasted into UTF-8 text: it is read as
    # such (no U+FFFD), the UTF-8 letters stay, and the article is flagged.
    path = tmp_path / "de-pressegesetz.txt"
    path.write_bytes(GERMAN.encode("utf-8").replace(b"Montag", b"Mon\xe9tag"))
    a = parse_file(path)
    assert "Über die Änderungen" in a.body_text
    assert "Monétag" in a.body_text
    assert any("invalid UTF-8" in w and "windows-1252" in w for w in a.warnings)


def test_utf8_bom_crlf_and_utf16_are_read_without_warnings(tmp_path):
    bom = tmp_path / "a.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + GERMAN.replace("\n", "\r\n").encode("utf-8"))
    utf16 = tmp_path / "b.txt"
    utf16.write_bytes(GERMAN.encode("utf-16"))
    for path in (bom, utf16):
        a = parse_file(path)
        assert a.lede.startswith("Die Regierung in Bischkek")
        assert "\r" not in a.body_text
        assert not any(w.startswith("encoding") for w in a.warnings)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n\t\n", "empty file"),
        ("image.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("noise.txt", bytes(range(1, 32)) * 20, "binary"),
        ("article.pdf", b"%PDF-1.4", "unsupported file type"),
    ],
)
def test_unreadable_files_are_a_parse_error_naming_the_path(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ParseError, match=message) as err:
        parse_file(path)
    assert str(path) in str(err.value)


def test_html_with_only_markup_has_no_article_text(tmp_path):
    path = tmp_path / "leer.html"
    path.write_text("<html><body><script>x()</script><p> </p></body></html>")
    with pytest.raises(ParseError, match="no article text"):
        parse_file(path)


# ------------------------------------------------------------- markdown


def test_front_matter_overrides_channels_and_carries_the_embargo():
    a = parse_file(FIXTURES / "en-override.md")
    assert a.channels_override == ("twitter", "newsletter", "telegram")  # x, email, Telegram
    assert a.named_kinds == ("twitter", "newsletter", "telegram")
    assert [c.kind for c in a.channels] == ["facebook", "instagram"]  # the footer is still read
    assert a.language == "en"  # lang: en-GB
    assert a.publish_at == dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
    assert a.published == dt.datetime(2025, 5, 30, tzinfo=dt.timezone.utc)
    assert a.tags == ("Tajikistan", "Water")
    assert a.title == "Embargoed: Tajikistan's new water law"


def md(front: str, body: str = "A body paragraph that is long enough to be the lede of the article.\n") -> RawArticle:
    return RawArticle(key="a.md", name="a.md", format="markdown", content=f"---\n{front}\n---\n\n{body}")


def test_empty_channel_list_overrides_to_nowhere_and_needs_no_footer_warning():
    a = parse_raw(md("title: T\nchannels: []"))
    assert a.channels_override == ()
    assert not any("footer" in w for w in a.warnings)


@pytest.mark.parametrize(
    "front, message",
    [
        ("channels: [telegram, myspace]", "unknown channel 'myspace'"),
        ("channels: {a: 1}", "must be a list"),
        ("title: Embargoed: oops", "not valid YAML"),
        ("- a list", "must be a mapping"),
        ("publish_at: next tuesday", "publish_at: 'next tuesday' is not a date"),
    ],
)
def test_bad_front_matter_is_a_parse_error(front, message):
    with pytest.raises(ParseError, match=message):
        parse_raw(md(front))


def test_markdown_author_translator_and_title_from_a_leading_h1():
    raw = RawArticle(key="b.md", name="b.md", format="markdown", content=(
        "# Die Seidenstraße im Wandel\n\n"
        "![Karawanserei](https://example.org/bild.jpg)\n\n"
        "Der erste Absatz mit *Betonung* und __mehr__ Text, der als Lede dient und lang genug ist.\n\n"
        "### Ein Zwischentitel\n\n"
        "Zweiter Absatz mit einem [Link](https://example.org/x) und `Code` darin.\n\n"
        "**Jean Monéger**  \nRedakteur für Novastan\n\n"
        "*Aus dem Französischen von Robin Roth*\n"
    ))
    a = parse_raw(raw)
    assert a.title == "Die Seidenstraße im Wandel"
    assert a.image == "https://example.org/bild.jpg"
    assert a.lede == "Der erste Absatz mit Betonung und mehr Text, der als Lede dient und lang genug ist."
    assert [b.kind for b in a.blocks] == ["paragraph", "heading", "paragraph"]
    assert a.author == Author("Jean Monéger", "Redakteur für Novastan")
    assert a.translator == "Robin Roth"
    assert "Zweiter Absatz mit einem Link und Code darin." in a.body_text


# ------------------------------------------------------------- feed items


def test_feed_item_keeps_source_fields_and_merges_warnings():
    content = (FIXTURES / "de-feed-excerpt.html").read_text(encoding="utf-8")
    published = dt.datetime(2025, 3, 3, 6, tzinfo=dt.timezone.utc)
    raw = RawArticle(
        key="https://novastan.org/de/?p=71234", content=content, format="html", name="https://novastan.org/de/?p=71234",
        url="https://novastan.org/de/kirgistan/warum-kirgistans-bergdoerfer-schrumpfen/",
        title="Warum Kirgistans Bergdörfer schrumpfen", language="de-DE", published=published,
        tags=("Kirgistan", "Migration"), image="https://example.org/i.jpg", author="rroth",
        warnings=("excerpt only: the feed has no full text",),
    )
    a = parse_raw(raw)
    assert (a.title, a.language, a.published, a.tags, a.image) == (
        raw.title, "de", published, ("Kirgistan", "Migration"), "https://example.org/i.jpg")
    assert a.guid == raw.key and a.url == raw.url
    assert a.author == Author("rroth")
    assert a.lede.startswith("ENTSCHLÜSSELUNG.")  # the self-link paragraph is gone
    assert a.lede.endswith("darunter die Türkei und Georgien.")  # "Lest… […]" is cut
    assert a.warnings[0] == "excerpt only: the feed has no full text"
    assert "no footer found: the article names no channels" in a.warnings


def test_feed_item_with_wordpress_footer_in_content_encoded():
    html = (
        "<p>Erster Absatz über Kirgistan, lang genug, damit die Sprache erkannt wird und der Text steht.</p>\n"
        "<p><strong>Lest auch auf Novastan: <a href=\"https://novastan.org/de/x/\">Titel eines anderen Artikels</a>"
        "</strong></p>\n<p>Zweiter Absatz, der die Geschichte mit einigen weiteren Sätzen zu Ende erzählt.</p>\n"
        "<p><strong>Jean Monéger</strong><br />Redakteur für Novastan</p>\n"
        "<p><em>Aus dem Französischen von Robin Roth</em></p>\n"
        "<p><em>Noch mehr Zentralasien findet ihr auf unseren Social Media Kanälen, schaut mal vorbei bei "
        "<a href=\"https://twitter.com/EXAMPLE_DE\">Twitter</a> oder <a href=\"https://t.me/EXAMPLE\">Telegram</a>."
        "</em></p>"
    )
    a = parse_raw(RawArticle(key="g", content=html, format="html", title="T", language="de"))
    assert a.related[0].title == "Titel eines anderen Artikels" and a.related[0].url == "https://novastan.org/de/x/"
    assert a.author == Author("Jean Monéger", "Redakteur für Novastan")  # the body line beats a dc:creator
    assert a.channels == (ChannelRef("twitter", "https://twitter.com/EXAMPLE_DE"), ChannelRef("telegram", "https://t.me/EXAMPLE"))
    assert a.body_text.count("\n\n") == 1


def test_html_without_a_title_is_untitled_not_named_after_the_file(tmp_path):
    path = tmp_path / "en-almaty-metro.html"
    path.write_text("<p>Almaty's metro opened two new stations on Friday, and the city plans more for next year.</p>")
    a = parse_file(path)
    assert a.title == ""
    assert NO_TITLE in a.warnings
    assert a.language == "en"


# ------------------------------------------------------------- text shape


def test_text_title_line_only_when_it_is_clear(tmp_path):
    titled = tmp_path / "x.txt"
    titled.write_text("Ein klarer Titel ohne Punkt\n\n" + GERMAN, encoding="utf-8")
    assert parse_file(titled).title == "Ein klarer Titel ohne Punkt"
    untitled = tmp_path / "y.txt"
    untitled.write_text("Ein erster Satz mit Punkt.\n\n" + GERMAN, encoding="utf-8")
    a = parse_file(untitled)
    assert a.lede == "Ein erster Satz mit Punkt."
    assert a.title == "" and NO_TITLE in a.warnings


def test_hard_wrapped_text_is_joined_into_paragraphs(tmp_path):
    path = tmp_path / "wrapped.txt"
    path.write_text(
        "Die Regierung in Bischkek hat am Montag ein neues Gesetz\n"
        "über die Medien verabschiedet, das Kritiker für gefährlich\n"
        "halten, weil es die Pressefreiheit weiter einschränkt.\n\n"
        "Über die Änderungen wurde im Parlament nur kurz beraten,\n"
        "und die Opposition war bei der Abstimmung nicht dabei.\n",
        encoding="utf-8",
    )
    a = parse_file(path)
    assert len(a.blocks) == 2
    assert a.lede.endswith("weil es die Pressefreiheit weiter einschränkt.")


# ------------------------------------------------------------- language


def test_language_from_default_when_the_text_is_too_short():
    raw = RawArticle(key="k", name="k.txt", format="text", content="Astana, 2025.\n")
    assert parse_raw(raw, default_language="fr").language == "fr"
    fallback = parse_raw(raw)
    assert fallback.language == "en"
    assert "language unknown: assumed 'en'" in fallback.warnings


def test_the_text_beats_the_default_when_it_is_clear():
    raw = RawArticle(key="k", name="k.txt", format="text", content=GERMAN)
    assert parse_raw(raw, default_language="fr").language == "de"


@pytest.mark.parametrize(
    "text, language",
    [
        ("Le gouvernement a adopté une loi sur les médias, et les journalistes sont inquiets pour leur avenir.", "fr"),
        ("The government has passed a media law, and journalists are worried about what it will mean.", "en"),
        ("Правительство приняло закон о СМИ, и журналисты обеспокоены тем, что это значит для них.", "ru"),
        ("Уряд ухвалив закон про медіа, і журналісти стурбовані тим, що це означає для них.", "uk"),
        ("Die Regierung hat ein Mediengesetz verabschiedet, und die Journalisten sind besorgt.", "de"),
    ],
)
def test_detect_language(text, language):
    guess = detect_language(text)
    assert guess is not None and guess.language == language


def test_lowercasing_a_text_keeps_its_words_apart_as_they_were():
    """language._lowered_words() finds the words of the lowercased text: that
    is only the lowercased words if no character but "İ" changes its length or
    whether it is a letter or an apostrophe when lowercased (all of Unicode)."""
    import re as _re

    from distributor.ingest import language

    letter, apostrophe = _re.compile(r"[^\W\d_]"), _re.compile(r"['’]")
    changed = [hex(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
               if len(chr(cp).lower()) != 1
               or bool(letter.match(chr(cp))) != bool(letter.match(chr(cp).lower()))
               or bool(apostrophe.match(chr(cp))) != bool(apostrophe.match(chr(cp).lower()))]
    assert changed == ["0x130"]
    for text in ("Die Straße İstanbul’s d'un DER Ärger", "L'ÉTÉ aujourd’hui", "ΟΔΟΣ ΑΣ’Β", "Schön! Ja, und"):
        assert language._lowered_words(text) == [w.lower() for w in language._WORD.findall(text)] \
            or "Σ" in text  # (a final sigma may differ: no stop word has one)
