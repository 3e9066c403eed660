"""Readers: plain text, Markdown with front matter, and HTML into one shape.

Each reader turns its format into a `Document` (document.py): paragraphs of
plain text with the links they hold, in reading order, plus whatever
metadata the format carries (front matter, <title>, og: tags). Deciding what
a paragraph *is* (lede, cross-link, author, footer) happens once, in
parse.py, for all formats. Text and Markdown are read here; HTML in
html_reader.py (its lxml fast path in html_xml.py).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from distributor.errors import ParseError
from distributor.ingest.document import Document, Para
from distributor.ingest.document import bare_links as _bare_links
from distributor.ingest.document import clean as _clean
from distributor.ingest.footer import Link
from distributor.ingest.html_reader import read_html

__all__ = ["Document", "Para", "read_html", "read_markdown", "read_text"]


# ------------------------------------------------------------------- text

_TITLE_PREFIX = re.compile(r"^(?:titel|title|titre|заголовок)\s*[:：]\s*(?P<title>\S.*)$", re.I)
_UNDERLINE = re.compile(r"^(?:=+|-+)$")
_SENTENCE_FINAL = tuple(".:;,!…")


def read_text(content: str) -> Document:
    """Plain text in the seed's shape: one paragraph per line.

    A title is taken from the text only when it is unmistakable: "Titel: …",
    a "# " line, an underlined first line, or a short first line without
    final punctuation standing alone before a blank line. The seed has none
    of these: its first line is the lede.
    """
    lines = content.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    meta: dict[str, Any] = {}
    title, rest = _title_line(lines)
    if title:
        meta["title"] = title
        lines = rest
    paras: list[Para] = []
    for block in _blocks(lines):
        if _looks_hard_wrapped(block):
            block = [" ".join(block)]
        for line in block:
            text = _clean(line)
            if text:
                paras.append(Para(text, _bare_links(text)))
    return Document(paras, meta)


def _title_line(lines: list[str]) -> tuple[str | None, list[str]]:
    if not lines:
        return None, lines
    first = lines[0].strip()
    m = _TITLE_PREFIX.match(first)
    if m:
        return m.group("title").strip(), lines[1:]
    if first.startswith("# "):
        return first[2:].strip(), lines[1:]
    if len(lines) > 2 and _UNDERLINE.match(lines[1].strip()):
        return first, lines[2:]
    stands_alone = len(lines) > 2 and not lines[1].strip() and any(line.strip() for line in lines[2:])
    if stands_alone and len(first) <= 150 and len(first.split()) <= 20 and not first.endswith(_SENTENCE_FINAL):
        return first, lines[2:]
    return None, lines


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _looks_hard_wrapped(block: list[str]) -> bool:
    """Lines broken at a fixed width (email-style) rather than one per paragraph:
    all short, and most of them stop mid-sentence. One-paragraph-per-line text
    like the seed ends nearly every line with punctuation."""
    if len(block) < 2:
        return False
    inner = [line.rstrip() for line in block[:-1]]
    if max(len(line) for line in block) > 100:
        return False
    mid_sentence = sum(1 for line in inner if not line.endswith(_LINE_FINAL))
    return mid_sentence * 2 > len(inner)


_LINE_FINAL = tuple(".!?:…\"“”»")


# --------------------------------------------------------------- markdown

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_MD_RULE = re.compile(r"^(?:[-*_]\s*){3,}$")
_MD_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_QUOTE = re.compile(r"^\s*>\s?")
# Link text and alt text hold no "[" (the innermost brackets are the link, as
# in CommonMark), so an unclosed "[" is never rescanned from every one after it.
_MD_IMAGE = re.compile(r"!\[(?P<alt>[^\[\]]*)\]\((?P<src>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_MD_LINK = re.compile(r"\[(?P<text>[^\[\]]+)\]\((?P<href>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_MD_AUTOLINK = re.compile(r"<(?P<href>https?://[^>\s]+)>")
# Emphasis spans at most 2,000 characters: an unmatched marker then costs a
# bounded scan, not one over the rest of the line from every marker after it.
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.{1,2000}?)(?<=\S)\1")
_MD_CODE = re.compile(r"`([^`]*)`")


def _load_yaml(text: str) -> Any:
    """yaml.safe_load, with libyaml's C loader when present (the same
    values, ten times faster); an error is reported by the pure-Python
    loader, whose messages show where."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)  # noqa: S506 - CSafeLoader is the safe loader
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def read_markdown(content: str) -> Document:
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(content)
    if m:
        try:
            loaded = _load_yaml(m.group("yaml"))
        except yaml.YAMLError as exc:
            raise ParseError(f"front matter is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ParseError("front matter must be a mapping of keys to values")
        meta = {str(k).lower(): v for k, v in (loaded or {}).items()}
        content = content[m.end():]

    paras: list[Para] = []
    images: list[str] = []
    title: str | None = None
    for block in _md_blocks(content.split("\n")):
        heading = _MD_HEADING.match(block[0])
        if heading:
            text, links = _md_inline(heading.group("text"), images)
            if len(heading.group("hashes")) == 1 and title is None and not paras and "title" not in meta:
                title = text  # a leading "# Title" is the title, not a subheading
            elif text:
                paras.append(Para(text, links, heading=True))
            continue
        text, links = _md_inline(_md_join(block), images)
        text = _clean(text)
        if text:
            paras.append(Para(text, links, heading=False))
    if title:
        meta["title"] = title
    if images and not meta.get("image"):
        meta["image"] = images[0]
    return Document(paras, meta)


def _md_blocks(lines: list[str]) -> list[list[str]]:
    """Paragraphs; headings and list items stand alone; rules are dropped."""
    blocks: list[list[str]] = [[]]
    for raw in lines:
        line = _MD_QUOTE.sub("", raw)
        if not line.strip() or _MD_RULE.match(line.strip()):
            blocks.append([])
        elif _MD_HEADING.match(line.strip()) or _MD_LIST_ITEM.match(line):
            blocks.extend([[_MD_LIST_ITEM.sub("", line).strip()], []])
        else:
            blocks[-1].append(line)
    return [b for b in blocks if b]


def _md_join(block: list[str]) -> str:
    """Soft breaks join with a space; "  " or "\\" at the end is a hard break."""
    out = ""
    for line in block:
        hard = line.endswith("  ") or line.rstrip().endswith("\\")
        out += line.rstrip().removesuffix("\\").rstrip() + ("\n" if hard else " ")
    return out


def _md_inline(text: str, images: list[str]) -> tuple[str, tuple[Link, ...]]:
    for m in _MD_IMAGE.finditer(text):
        images.append(m.group("src"))
    text = _MD_IMAGE.sub("", text)
    links: list[Link] = []

    def keep_link(m: re.Match[str]) -> str:
        anchor = _strip_emphasis(m.group("text"))
        links.append(Link(anchor, m.group("href")))
        return anchor

    text = _MD_LINK.sub(keep_link, text)
    text = _MD_AUTOLINK.sub(lambda m: m.group("href"), text)
    text = _strip_emphasis(_MD_CODE.sub(r"\1", text))
    # Bare URLs in the text are links too; keep anchor order by position.
    known = {link.href for link in links}
    extra = [link for link in _bare_links(text) if link.href not in known]
    ordered = sorted(links + extra, key=lambda link: _position(text, link.text))
    return text, tuple(ordered)


def _strip_emphasis(text: str) -> str:
    previous = None
    while previous != text:  # nested: ***bold italic***
        previous, text = text, _MD_EMPHASIS.sub(r"\2", text)
    return text


def _position(text: str, needle: str) -> int:
    at = text.find(needle)
    return at if at >= 0 else len(text)
