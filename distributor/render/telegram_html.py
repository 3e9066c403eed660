"""Telegram's parse_mode=HTML (reference §A.5), one implementation for both sides.

`parse_html(text)` parses as the Bot API (tdlib's parse_html) does: text in,
(plain text, entities) out, or `EntityParseError` carrying the message
Telegram puts after "Bad Request: can't parse entities: ". The sandbox answers
with it; the render layer counts with it.

`problems(html)` is the render layer's check: what Telegram refuses, plus
what Telegram accepts but the Bot API documentation forbids or shows other
than meant (a bare `>` or `&`, an unknown named entity, a disallowed
attribute or value, entities nested against the rules, over 100 entities).
`visible_text(html)` is the text after entity parsing, whose UTF-16 length
Telegram limits.

Byte offsets in messages are UTF-8 byte offsets into the original text;
lengths are UTF-16 code units, the unit of Telegram's limits and entity offsets.
"""

from __future__ import annotations

import functools

import re
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_TAGS = frozenset({
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji",
    "span", "pre", "code", "blockquote", "tg-time",
})
ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
# What the render check allows beyond Telegram's own refusals (reference §A.5):
# tag -> the attributes it may carry (value patterns, on the decoded value).
ALLOWED_ATTRS: dict[str, dict[str, re.Pattern[str] | None]] = {
    "b": {}, "strong": {}, "i": {}, "em": {}, "u": {}, "ins": {},
    "s": {}, "strike": {}, "del": {}, "tg-spoiler": {},
    "span": {"class": re.compile(r"tg-spoiler")},
    "a": {"href": re.compile(r"(?:https?|tg)://\S+", re.IGNORECASE)},
    "tg-emoji": {"emoji-id": re.compile(r"\d+")},
    "tg-time": {"unix": re.compile(r"\d+"), "format": re.compile(r"[a-zA-Z]*")},
    "code": {"class": re.compile(r"language-[\w+-]+")},
    "pre": {},
    "blockquote": {"expandable": None},
}
REQUIRED_ATTRS = {"a": "href", "span": "class", "tg-emoji": "emoji-id", "tg-time": "unix"}
# Entities that may contain only text (pre may hold one code).
LEAF_TAGS = {"a", "code", "pre", "tg-emoji", "tg-time"}
MAX_ENTITIES = 100  # more are sent but not rendered (MessageLimit.MESSAGE_ENTITIES)

# What Telegram trims around a message before counting it.
TRIMMED = " \t\n\r\v\f"
_SPECIAL = re.compile(rb"[<&]")
# Scanners for the byte loops of tdlib's parser (NUL counts as a space there).
_TAG_NAME = re.compile(rb"[^ \t\r\n\v\f\x00>]*")
_ATTR_NAME = re.compile(rb"[^ \t\r\n\v\f\x00=>]*")
_SPACES = re.compile(rb"[ \t\r\n\v\f\x00]*")
_TOKEN = re.compile(rb"[A-Za-z0-9.-]*")


def _end(run: re.Pattern[bytes], data: bytes, pos: int) -> int:
    """Where the run of `run` at `pos` ends (each pattern above also matches nothing)."""
    found = run.match(data, pos)
    return found.end() if found else pos


_SPACE = frozenset(b" \t\r\n\v\f\x00")


class EntityParseError(ValueError):
    """HTML Telegram refuses; str() is the text after "can't parse entities: ".

    `problem` says the same for an editor (what is wrong, where)."""

    def __init__(self, message: str, problem: str | None = None):
        super().__init__(message)
        self.problem = problem or message


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def length(self) -> int:
        return utf16_len(self.text)


def utf16_len(s: str) -> int:
    """Length in UTF-16 code units: Telegram's unit (astral emoji count 2)."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def _decode_entity(data: bytes, pos: int) -> tuple[int, int] | None:
    """(code point, position after it) for an HTML entity at pos, or None."""
    n = len(data)
    end = pos + 1
    res = 0
    if end < n and data[end] == 0x23:  # '#'
        end += 1
        if end < n and data[end] == 0x78:  # 'x'
            end += 1
            while end < n and chr(data[end]) in "0123456789abcdefABCDEF":
                res = res * 16 + int(chr(data[end]), 16)
                end += 1
                if res >= 0x10FFFF:
                    return None
        else:
            while end < n and 0x30 <= data[end] <= 0x39:
                res = res * 10 + data[end] - 0x30
                end += 1
                if res >= 0x10FFFF:
                    return None
        if res == 0 or end - pos >= 10:
            return None
    else:
        while end < n and chr(data[end]).isalpha() and data[end] < 0x80:
            end += 1
        name = data[pos + 1:end]
        res = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(name, 0)
        if not res:
            return None
    if end < n and data[end] == 0x3B:  # ';'
        end += 1
    return res, end


def parse_html(text: str, *, notes: list[str] | None = None) -> ParsedText:
    """Parse Telegram HTML; raise EntityParseError as the Bot API would.

    `notes`, if given, collects what Telegram accepts but the documentation
    forbids or shows other than meant (see `problems`)."""
    if "<" not in text and "&" not in text:
        if notes is not None and ">" in text:
            _note_bare_gt(notes, text.encode("utf-8"), 0)
        return trimmed(text, [])
    data = text.encode("utf-8")
    n = len(data)

    def at(k: int) -> int:
        return data[k] if k < n else 0

    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, str, int]] = []  # (tag, argument, utf16 offset)
    entities: list[dict[str, Any]] = []
    opened = 0
    surrogate = False
    i = 0
    while i < n:
        m = _SPECIAL.search(data, i)
        j = m.start() if m else n
        if j > i:
            chunk = data[i:j].decode("utf-8")
            out.append(chunk)
            u16 += utf16_len(chunk)
            if notes is not None and ">" in chunk:
                _note_bare_gt(notes, data[:j], i)
        if j >= n:
            break
        if data[j] == 0x26:  # '&'
            decoded = _decode_entity(data, j)
            if decoded is None:
                out.append("&")
                u16 += 1
                i = j + 1
                if notes is not None:
                    notes.append(f"byte offset {j}: bare '&' or unknown entity (write &amp;)")
            else:
                ch, i = decoded
                out.append(chr(ch))
                u16 += 2 if ch > 0xFFFF else 1
                surrogate = surrogate or 0xD800 <= ch <= 0xDFFF
                if notes is not None and data[i - 1] != 0x3B:
                    notes.append(f"byte offset {j}: entity without ';' (write &amp; for a bare '&')")
            continue

        begin = j
        i = j + 1
        if at(i) != 0x2F:  # start tag
            i = _end(_TAG_NAME, data, i)
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}",
                                       f"byte offset {begin}: bare '<' or unclosed tag (write &lt;)")
            tag = data[begin + 1:i].decode("utf-8", "replace").lower()
            if tag not in SUPPORTED_TAGS:
                bare = not tag[:1].isascii() or not tag[:1].isalpha()
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {begin}',
                    f"byte offset {begin}: bare '<' (write &lt;)" if bare
                    else f"byte offset {begin}: unsupported tag <{tag}>")
            argument = ""
            attrs: list[tuple[str, str | None]] = []
            while at(i) != 0x3E:
                i = _end(_SPACES, data, i)
                if at(i) == 0x3E:
                    break
                attr_begin = i
                i = _end(_ATTR_NAME, data, i)
                attr = data[attr_begin:i].decode("utf-8", "replace")
                if not attr:
                    raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}',
                                           f"byte offset {begin}: <{tag}> has an attribute without a name")
                i = _end(_SPACES, data, i)
                if at(i) != 0x3D:
                    if tag == "blockquote" and attr == "expandable":
                        argument = "expandable"
                        attrs.append((attr, None))
                        continue
                    raise EntityParseError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {begin}',
                        f"byte offset {begin}: <{tag}> may not carry {attr!r} without a value")
                i = _end(_SPACES, data, i + 1)
                if i >= n:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}',
                                           f"byte offset {begin}: <{tag}> is not closed by '>'")
                if at(i) not in (0x22, 0x27):  # a name token
                    token_begin = i
                    i = _end(_TOKEN, data, i)
                    value = data[token_begin:i].decode().lower()
                    if at(i) not in _SPACE and at(i) != 0x3E:
                        raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}",
                                               f"byte offset {token_begin}: <{tag} {attr}> has an invalid value"
                                               " (quote it)")
                else:  # a quoted string
                    quote = at(i)
                    end = data.find(bytes((quote,)), i + 1)
                    value, i = _quoted(data, i + 1, n if end < 0 else end)
                if i >= n:
                    raise EntityParseError(f"Unclosed start tag at byte offset {begin}",
                                           f"byte offset {begin}: <{tag}> is not closed by '>'")
                attrs.append((attr, value))
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[9:]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[3:]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
                elif tag == "tg-time" and attr == "unix":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}',
                                       f"byte offset {begin}: <span> needs 'class' \"tg-spoiler\"")
            if tag == "tg-emoji" and not argument.isdigit():
                raise EntityParseError(
                    f'Custom emoji entity must contain a valid custom emoji identifier at byte offset {begin}',
                    f"byte offset {begin}: <tg-emoji> needs a numeric 'emoji-id'")
            if notes is not None:
                notes.extend(_attr_notes(begin, tag, attrs, [t for t, _, _ in stack]))
            stack.append((tag, argument, u16))
            opened += 1
            i += 1  # past '>'
        else:  # end tag
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin}",
                                       f"byte offset {begin}: end tag does not close anything")
            i = _end(_TAG_NAME, data, i)
            end_name = data[begin + 2:i].decode("utf-8", "replace")
            i = _end(_SPACES, data, i)
            if at(i) != 0x3E:
                raise EntityParseError(f"Unclosed end tag at byte offset {begin}",
                                       f"byte offset {begin}: </{end_name}> is not closed by '>'"
                                       " or has attributes")
            tag, argument, offset = stack.pop()
            if end_name and end_name != tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_name}>"',
                    f"byte offset {begin}: </{end_name}> does not close <{tag}>")
            if not end_name and notes is not None:
                notes.append(f"byte offset {begin}: </> closes <{tag}> without naming it (write </{tag}>)")
            if u16 > offset:
                _add_entity(entities, tag, argument, offset, u16 - offset, "".join(out))
            i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"',
                               f"<{stack[-1][0]}> is never closed")
    if surrogate:
        raise EntityParseError("Text contains invalid Unicode characters after decoding HTML entities, "
                               "check for unmatched surrogate code units",
                               "an entity decodes to a surrogate code point (not a character)")
    if notes is not None and opened > MAX_ENTITIES:
        notes.append(f"{opened} entities: Telegram renders only the first {MAX_ENTITIES}")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return trimmed("".join(out), entities)


def _note_bare_gt(notes: list[str], before: bytes, start: int) -> None:
    k = before.find(b">", start)
    while k >= 0:
        notes.append(f"byte offset {k}: bare '>' (write &gt;)")
        k = before.find(b">", k + 1)


def _attr_notes(at: int, tag: str, attrs: list[tuple[str, str | None]], open_tags: list[str]) -> list[str]:
    """What the documentation forbids in a start tag Telegram accepted."""
    out = []
    allowed = ALLOWED_ATTRS[tag]
    seen = set()
    for attr, value in attrs:
        key = attr  # tdlib matches attribute names as written
        if key not in allowed:
            out.append(f"byte offset {at}: <{tag}> may not carry {key!r}")
            continue
        pattern = allowed[key]
        if pattern is not None and (value is None or not pattern.fullmatch(value)):
            out.append(f"byte offset {at}: <{tag} {key}> has an invalid value {value!r}")
        seen.add(key)
    if tag in REQUIRED_ATTRS and REQUIRED_ATTRS[tag] not in seen:
        out.append(f"byte offset {at}: <{tag}> needs {REQUIRED_ATTRS[tag]!r}")
    if tag == "blockquote" and "blockquote" in open_tags:
        out.append(f"byte offset {at}: blockquotes cannot nest")
    if open_tags and open_tags[-1] in LEAF_TAGS and not (open_tags[-1] == "pre" and tag == "code"):
        out.append(f"byte offset {at}: <{tag}> cannot be inside <{open_tags[-1]}>")
    return out


def problems(html: str) -> list[str]:
    """Everything wrong with `html` for Telegram, as readable lines: first what
    Telegram refuses ("can't parse entities", with its own words), then what
    it accepts but the documentation forbids or shows other than meant."""
    text, error, notes = _checked(html)
    if error is not None:
        return [f"{error.problem} (Telegram: can't parse entities: {error})", *notes]
    return list(notes)


def visible_text(html: str) -> str:
    """The message text after entity parsing: tags gone, entities decoded,
    surrounding whitespace trimmed (as Telegram trims). Raises
    EntityParseError for HTML Telegram refuses."""
    text, error, _ = _checked(html)
    if error is not None:  # a fresh one: the cached one would collect every raise's traceback
        raise EntityParseError(str(error), error.problem)
    assert text is not None
    return text


@functools.lru_cache(maxsize=32)
def _checked(html: str) -> tuple[str | None, EntityParseError | None, tuple[str, ...]]:
    """One parse of `html` for both `problems` and `visible_text`: a render
    measures its post, checks it and measures it again, three parses of the
    same string, where one does (the result is immutable: text, error, notes)."""
    notes: list[str] = []
    try:
        return parse_html(html, notes=notes).text, None, tuple(notes)
    except EntityParseError as e:
        return None, e, tuple(notes)


def _quoted(data: bytes, start: int, end: int) -> tuple[str, int]:
    """A quoted attribute value (entities decoded) and the position after its quote.

    An entity may run past the closing quote, as in tdlib's byte loop."""
    if data.find(b"&", start, end) < 0:
        return data[start:end].decode("utf-8", "replace"), min(end + 1, len(data))
    buf = bytearray()
    i = start
    quote = data[end] if end < len(data) else None
    while i < len(data) and data[i] != quote:
        if data[i] == 0x26:
            decoded = _decode_entity(data, i)
            if decoded is not None:
                buf += chr(decoded[0]).encode("utf-8")
                i = decoded[1]
                continue
        buf.append(data[i])
        i += 1
    return buf.decode("utf-8", "replace"), min(i + 1, len(data))


def _add_entity(entities: list[dict[str, Any]], tag: str, argument: str, offset: int, length: int,
                text_so_far: str) -> None:
    if tag == "tg-time":
        return
    if tag == "a":
        url = argument
        if not url:
            url = _tail_utf16(text_so_far, length)
        if url.startswith("tg://user?id="):
            uid = url[len("tg://user?id="):]
            if uid.isdigit():
                entities.append({"type": "text_mention", "offset": offset, "length": length,
                                 "user": {"id": int(uid), "is_bot": False, "first_name": ""}})
            return
        entities.append({"type": "text_link", "offset": offset, "length": length, "url": url})
        return
    entity: dict[str, Any] = {"type": ENTITY_TYPES[tag], "offset": offset, "length": length}
    if tag == "blockquote" and argument == "expandable":
        entity["type"] = "expandable_blockquote"
    elif tag == "code" and argument:
        entity["language"] = argument
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = argument
    elif tag == "pre" and entities:
        last = entities[-1]
        if last["type"] == "code" and last["offset"] == offset and last["length"] == length and "language" in last:
            entities.pop()
            entity["language"] = last["language"]
    entities.append(entity)


def _tail_utf16(s: str, units: int) -> str:
    enc = s.encode("utf-16-le")
    return enc[len(enc) - 2 * units:].decode("utf-16-le", "replace")


def trimmed(text: str, entities: list[dict[str, Any]]) -> ParsedText:
    """The text as Telegram keeps it: leading and trailing whitespace stripped,
    the entities shifted and cut to what remains (every parse mode ends here)."""
    stripped = text.strip(TRIMMED)
    if stripped == text:
        return ParsedText(text, entities)
    lead = utf16_len(text[: len(text) - len(text.lstrip(TRIMMED))])
    total = utf16_len(stripped)
    kept = []
    for e in entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, total)
        if end > start:
            kept.append({**e, "offset": start, "length": end - start})
    return ParsedText(stripped, kept)


def entities_from_json(entities: Any, text: str) -> ParsedText:
    """Explicit `entities`/`caption_entities`: checked against the text."""
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        raise EntityParseError("entities must be an array of MessageEntity")
    total = utf16_len(text)
    for e in entities:
        off, ln = e.get("offset"), e.get("length")
        if not isinstance(off, int) or not isinstance(ln, int) or off < 0 or ln <= 0 or off + ln > total \
                or not isinstance(e.get("type"), str):
            raise EntityParseError("wrong entity offset or length")
    return trimmed(text, entities)


def plain(text: str) -> ParsedText:
    """A text sent without parse_mode or entities."""
    return trimmed(text, [])
