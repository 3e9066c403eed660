"""Telegram's parse_mode=MarkdownV2 (and legacy Markdown), after tdlib's parsers.

Pure, like distributor.render.telegram_html: returns ParsedText or raises EntityParseError with
Telegram's wording ("Character '.' is reserved and must be escaped with the
preceding '\\'", "Can't find end of Bold entity at byte offset N").
Covered: bold, italic, underline, strikethrough, spoiler, code, pre (with a
language), [text](url) links and '>' blockquote lines.
"""

from __future__ import annotations

from typing import Any

from distributor.render.telegram_html import EntityParseError, ParsedText, trimmed, utf16_len

RESERVED = set("_*[]()~`>#+-=|{}.!")
NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}
TYPES = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


def _byte_offset(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def parse_markdown_v2(text: str, legacy: bool = False) -> ParsedText:
    if legacy:
        return _parse_legacy(text)
    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, int, int]] = []  # (marker, utf16 offset, index in text)
    entities: list[dict[str, Any]] = []
    quote_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and c == ">":
            if quote_start is None:
                quote_start = u16
            i += 1
            continue
        if at_line_start and quote_start is not None and c != ">" and i > 0:
            _close_quote(entities, quote_start, u16 - 1)  # the quote ended with the previous line's "\n"
            quote_start = None
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) < 127:
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if c == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = _find_unescaped(text, fence, i + len(fence))
            if end < 0:
                raise EntityParseError(f"Can't find end of {'Pre' if fence == '```' else 'Code'} entity at byte "
                                       f"offset {_byte_offset(text, i)}")
            inner = _unescape_code(text[i + len(fence):end])
            language = ""
            if fence == "```" and "\n" in inner:
                first, rest = inner.split("\n", 1)
                if first and " " not in first:
                    language, inner = first, rest
            length = utf16_len(inner)
            if length:
                entity: dict[str, Any] = {"type": "pre" if fence == "```" else "code", "offset": u16,
                                          "length": length}
                if language:
                    entity["language"] = language
                entities.append(entity)
            out.append(inner)
            u16 += length
            i = end + len(fence)
            continue
        if c == "[":
            close = _find_unescaped(text, "]", i + 1)
            if close < 0 or not text.startswith("(", close + 1):
                raise EntityParseError(f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, i)}")
            url_end = _find_unescaped(text, ")", close + 2)
            if url_end < 0:
                raise EntityParseError(f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, i)}")
            label = parse_markdown_v2(text[i + 1:close])
            url = _unescape_code(text[close + 2:url_end])
            length = utf16_len(label.text)
            if length:
                entities.append({"type": "text_link", "offset": u16, "length": length, "url": url})
            for e in label.entities:
                entities.append({**e, "offset": e["offset"] + u16})
            out.append(label.text)
            u16 += length
            i = url_end + 1
            continue
        marker = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else c
        if marker in TYPES:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                if u16 > start:
                    entities.append({"type": TYPES[marker], "offset": start, "length": u16 - start})
            elif any(m == marker for m, _, _ in stack):
                raise EntityParseError(f"Can't find end of {NAMES[stack[-1][0]]} entity at byte offset "
                                       f"{_byte_offset(text, stack[-1][2])}")
            else:
                stack.append((marker, u16, i))
            i += len(marker)
            continue
        if c in RESERVED:
            raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        u16 += 2 if ord(c) > 0xFFFF else 1
        i += 1
    if stack:
        marker, _, where = stack[-1]
        raise EntityParseError(f"Can't find end of {NAMES[marker]} entity at byte offset {_byte_offset(text, where)}")
    if quote_start is not None:
        _close_quote(entities, quote_start, u16)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return trimmed("".join(out), entities)


def _close_quote(entities: list[dict[str, Any]], start: int, end: int) -> None:
    if end > start:
        entities.append({"type": "blockquote", "offset": start, "length": end - start})


def _find_unescaped(text: str, token: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(token, i):
            return i
        i += 1
    return -1


def _unescape_code(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _parse_legacy(text: str) -> ParsedText:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url); no nesting."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    u16, i, n = 0, 0, len(text)
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        c = text[i]
        if c in kinds or c == "[":
            if c == "`" and text.startswith("```", i):
                end, kind, skip = text.find("```", i + 3), "pre", 3
            elif c == "[":
                close = text.find("](", i + 1)
                end = text.find(")", close + 2) if close >= 0 else -1
                kind, skip = "text_link", 1
            else:
                end, kind, skip = text.find(c, i + 1), kinds[c], 1
            if end < 0:
                raise EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}")
            if kind == "text_link":
                inner, extra = text[i + 1:close], {"url": text[close + 2:end]}
                i = end + 1
            else:
                inner, extra = text[i + skip:end], {}
                i = end + skip
            length = utf16_len(inner)
            if length:
                entities.append({"type": kind, "offset": u16, "length": length, **extra})
            out.append(inner)
            u16 += length
            continue
        out.append(c)
        u16 += 2 if ord(c) > 0xFFFF else 1
        i += 1
    return trimmed("".join(out), entities)
