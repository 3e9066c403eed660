"""Telegram's HTML and MarkdownV2 parse rules, as pure functions."""

import pytest

from distributor.sandbox.telegram_html import EntityParseError, parse_html, plain, utf16_len
from distributor.sandbox.telegram_markdown import parse_markdown_v2


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


# ---------------------------------------------------------------- MarkdownV2


def test_markdown_v2_entities():
    p = parse_markdown_v2("*fett* _kursiv_ __unter__ ~weg~ ||geheim|| `code` [Link](https://x.org/a\\)b) Ende\\.")
    assert p.text == "fett kursiv unter weg geheim code Link Ende."
    assert [e["type"] for e in p.entities] == ["bold", "italic", "underline", "strikethrough", "spoiler", "code",
                                               "text_link"]
    assert p.entities[-1]["url"] == "https://x.org/a)b"
    pre = parse_markdown_v2("```python\nprint(1)\n```")
    assert pre.text == "print(1)" and pre.entities[0]["language"] == "python"
    assert parse_markdown_v2("*a _b_*").entities == [{"type": "bold", "offset": 0, "length": 3},
                                                     {"type": "italic", "offset": 2, "length": 1}]


@pytest.mark.parametrize("text, message", [
    ("Ende.", "Character '.' is reserved and must be escaped with the preceding '\\'"),
    ("a-b", "Character '-' is reserved and must be escaped with the preceding '\\'"),
    ("*offen", "Can't find end of Bold entity at byte offset 0"),
    ("x `code", "Can't find end of Code entity at byte offset 2"),
])
def test_markdown_v2_refused(text, message):
    with pytest.raises(EntityParseError) as exc:
        parse_markdown_v2(text)
    assert str(exc.value) == message


def test_legacy_markdown():
    p = parse_markdown_v2("*b* _i_ [t](https://x.org) a.b-c", legacy=True)
    assert p.text == "b i t a.b-c"
    with pytest.raises(EntityParseError):
        parse_markdown_v2("*open", legacy=True)
