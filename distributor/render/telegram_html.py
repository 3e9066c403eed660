"""Telegram's `parse_mode=HTML` rules, checked on our side (reference §A.5–A.6).

`problems(html)` lists what Telegram would refuse ("can't parse entities"):
a tag outside the allowed set, a disallowed attribute, unbalanced or badly
nested tags, a bare `<`, `>` or `&`, a named entity other than the four
Telegram knows. `visible_text(html)` is the text after entity parsing, the
one whose UTF-16 length Telegram limits.

Deliberately independent of the sandbox's parser: two implementations of
the same rules check each other.
"""

from __future__ import annotations

import html as _html
import re

# tag -> the attributes it may carry (value patterns).
ALLOWED_TAGS: dict[str, dict[str, re.Pattern[str] | None]] = {
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

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*\"[^\"<>]*\")?)*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*\"([^\"]*)\")?")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")


def problems(html: str) -> list[str]:
    """Everything Telegram would reject in `html`, as readable lines."""
    found: list[str] = []
    stack: list[str] = []
    entities = 0
    i = 0
    while i < len(html):
        ch = html[i]
        if ch == "<":
            m = _TAG.match(html, i)
            if not m:
                found.append(f"offset {i}: bare '<' (write &lt;)")
                i += 1
                continue
            closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
            if name not in ALLOWED_TAGS:
                found.append(f"offset {i}: unsupported tag <{closing}{name}>")
            elif closing:
                if attrs.strip():
                    found.append(f"offset {i}: closing tag </{name}> has attributes")
                if not stack or stack[-1] != name:
                    found.append(f"offset {i}: </{name}> does not close {('<' + stack[-1] + '>') if stack else 'anything'}")
                    if name in stack:
                        del stack[len(stack) - 1 - stack[::-1].index(name):]
                else:
                    stack.pop()
            else:
                found.extend(_check_open(i, name, attrs, stack))
                stack.append(name)
                entities += 1
            i = m.end()
        elif ch == ">":
            found.append(f"offset {i}: bare '>' (write &gt;)")
            i += 1
        elif ch == "&":
            m = _ENTITY.match(html, i)
            if not m:
                found.append(f"offset {i}: bare '&' or unknown entity (write &amp;)")
                i += 1
            else:
                i = m.end()
        else:
            i += 1
    for name in reversed(stack):
        found.append(f"<{name}> is never closed")
    if entities > MAX_ENTITIES:
        found.append(f"{entities} entities: Telegram renders only the first {MAX_ENTITIES}")
    return found


def _check_open(at: int, name: str, attrs: str, stack: list[str]) -> list[str]:
    out = []
    allowed = ALLOWED_TAGS[name]
    seen = {}
    for am in _ATTR.finditer(attrs):
        key, value = am.group(1).lower(), am.group(2)
        if key not in allowed:
            out.append(f"offset {at}: <{name}> may not carry {key!r}")
            continue
        pattern = allowed[key]
        if pattern is not None and (value is None or not pattern.fullmatch(_html.unescape(value))):
            out.append(f"offset {at}: <{name} {key}> has an invalid value {value!r}")
        seen[key] = value
    if name in REQUIRED_ATTRS and REQUIRED_ATTRS[name] not in seen:
        out.append(f"offset {at}: <{name}> needs {REQUIRED_ATTRS[name]!r}")
    if name == "blockquote" and "blockquote" in stack:
        out.append(f"offset {at}: blockquotes cannot nest")
    if stack and stack[-1] in LEAF_TAGS and not (stack[-1] == "pre" and name == "code"):
        out.append(f"offset {at}: <{name}> cannot be inside <{stack[-1]}>")
    return out


def visible_text(html: str) -> str:
    """The message text after entity parsing: tags gone, entities decoded,
    surrounding whitespace trimmed (as Telegram trims)."""
    return _html.unescape(_TAG.sub("", html)).strip()
