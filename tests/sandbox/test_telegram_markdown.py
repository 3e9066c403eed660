"""Telegram's MarkdownV2 and legacy Markdown parse rules, as pure functions."""

import pytest

from distributor.render.telegram_html import EntityParseError
from distributor.sandbox.telegram_markdown import parse_markdown_v2


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
