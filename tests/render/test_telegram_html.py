"""Telegram's parse_mode=HTML (distributor.render.telegram_html): the parser the
sandbox answers with and the check the render layer runs (reference §A.5)."""

import pytest

from distributor.render import telegram_html
from distributor.render.telegram_html import EntityParseError, parse_html, plain, utf16_len

# ---------------------------------------------------------------- parsing as Telegram does


def test_tags_do_not_count_and_entities_decode():
    p = parse_html('<b>hi</b> &amp; <a href="https://example.org/?a=1&amp;b=2">link</a> &lt;3 &#128512;')
    assert p.text == "hi & link <3 😀"
    assert p.entities == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 5, "length": 4, "url": "https://example.org/?a=1&b=2"},
    ]
    assert p.length == len("hi & link <3 ") + 2  # the emoji is 2 UTF-16 units


@pytest.mark.parametrize("text, message", [
    ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
    ("Grüße <div>x</div>", 'Unsupported start tag "div" at byte offset 8'),  # UTF-8 byte offset
    ("a <br/> b", 'Unsupported start tag "br/" at byte offset 2'),
    ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ("<b", "Unclosed start tag at byte offset 0"),
    ("<b x>y</b>", 'Expected equal sign in declaration of an attribute of the tag "b" at byte offset 0'),
])
def test_refused_html(text, message):
    with pytest.raises(EntityParseError) as exc:
        parse_html(text)
    assert str(exc.value) == message


def test_supported_tags():
    p = parse_html('<strong>a</strong><em>b</em><ins>c</ins><del>d</del><tg-spoiler>e</tg-spoiler>'
                   '<span class="tg-spoiler">f</span><code>g</code>'
                   '<pre><code class="language-python">h</code></pre><blockquote expandable>i</blockquote>'
                   '<a href="tg://user?id=42">j</a>')
    assert p.text == "abcdefghij"
    types = [e["type"] for e in p.entities]
    assert types == ["bold", "italic", "underline", "strikethrough", "spoiler", "spoiler", "code", "pre",
                     "expandable_blockquote", "text_mention"]
    assert p.entities[7]["language"] == "python"


def test_bare_ampersand_is_text_and_whitespace_is_trimmed():
    assert parse_html("  AT&T\n").text == "AT&T"
    assert plain(" \n ").text == ""
    assert utf16_len("👩‍👩‍👧‍👦") == 11


# ---------------------------------------------------------------- the render layer's check


@pytest.mark.parametrize("html", [
    "<b>bold</b> <i>it</i> <a href=\"https://x.example/?a=1&amp;b=2\">link</a>",
    "<pre><code class=\"language-python\">x &lt; 1</code></pre>",
    "<blockquote expandable>q</blockquote> <tg-spoiler>s</tg-spoiler> <span class=\"tg-spoiler\">s</span>",
    "&#39;&#x27;&quot;&amp;&lt;&gt;",
])
def test_checker_accepts_telegram_html(html):
    assert telegram_html.problems(html) == []


@pytest.mark.parametrize("html,why", [
    ("<p>para</p>", "unsupported tag"),
    ("<b>open", "never closed"),
    ("<b><i>x</b></i>", "does not close"),
    ("a < b", "bare '<'"),
    ("a > b", "bare '>'"),
    ("fish & chips", "bare '&'"),
    ("&nbsp;", "unknown entity"),
    ("<a>x</a>", "needs 'href'"),
    ("<a href=\"javascript:alert(1)\">x</a>", "invalid value"),
    ("<b class=\"x\">x</b>", "may not carry"),
    ("<blockquote><blockquote>x</blockquote></blockquote>", "cannot nest"),
    ("<a href=\"https://x.example\"><b>x</b></a>", "cannot be inside"),
])
def test_checker_rejects_what_telegram_refuses(html, why):
    found = telegram_html.problems(html)
    assert any(why in p for p in found), found


def test_visible_text_is_after_entity_parsing():
    assert telegram_html.visible_text("<b>a &amp; b</b> <a href=\"https://x\">c</a>") == "a & b c"


def test_refusals_are_reported_with_telegrams_words_and_byte_offsets():
    found = telegram_html.problems("Grüße <div>x</div>")
    assert found[0] == ('byte offset 8: unsupported tag <div> '
                        '(Telegram: can\'t parse entities: Unsupported start tag "div" at byte offset 8)')
    assert telegram_html.problems("é > b")[0].startswith("byte offset 3: bare '>'")


@pytest.mark.parametrize("html,why", [
    ("&#xD83D;&#xDE00;", "surrogate"),  # tdlib refuses a surrogate, paired or not
    ("&#X41;", "bare '&'"),  # only a lowercase x is hexadecimal: shown literally
    ("&#0;", "bare '&'"),
    ("&#1114111;", "bare '&'"),  # U+10FFFF and above stay literal
    ("&amp b", "without ';'"),
    ("<a HREF=\"https://x.example\">x</a>", "needs 'href'"),  # attribute names as written
    ("<b>x</B>", "does not close"),  # end tag names as written
    ("<b>x</>", "without naming it"),
    ("<b>x</b >" + "<i>y</i>" * 100, "entities"),
])
def test_check_is_at_least_as_strict_as_telegram(html, why):
    found = telegram_html.problems(html)
    assert any(why in p for p in found), found


def test_surrogate_entities_are_refused():
    with pytest.raises(EntityParseError, match="unmatched surrogate code units"):
        parse_html("&#xDFDF;")
