"""The shape every reader (formats.py, html_reader.py) turns its format into.

A `Document` is paragraphs of plain text with the links they hold, in
reading order, plus whatever metadata the format carries. The helpers here
are the text rules the readers share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from distributor.ingest.footer import Link


# The formats there is a reader for (RawArticle.format).
Format = Literal["text", "markdown", "html"]


@dataclass(frozen=True)
class Para:
    text: str
    links: tuple[Link, ...] = ()
    # True/False when the format says (Markdown "#", HTML <h2>); None when a
    # plain-text heuristic must decide.
    heading: bool | None = None


@dataclass
class Document:
    paras: list[Para]
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# The HTML elements read as paragraphs, and those of them that are subheadings.
BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption", "dd", "dt")
BLOCK_SET = frozenset(BLOCK_TAGS)
HEADINGS = frozenset(("h2", "h3", "h4", "h5", "h6"))

_URL = re.compile(r"<?(https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:!?])>?")
_SPACE_CHARS = " \t\u00a0\u2009\u202f"
# A run of those characters that is not already one plain space (a lone " "
# is left alone: replacing it by itself was most of the cost of clean()).
_SPACES = re.compile(f"[{_SPACE_CHARS}]{{2,}}|[{_SPACE_CHARS[1:]}]")


def bare_links(text: str) -> tuple[Link, ...]:
    """The URLs written out in a text, as links whose text is the URL."""
    if "http" not in text:  # every match holds "http"
        return ()
    return tuple(Link(m.group(1), m.group(1)) for m in _URL.finditer(text))


def clean(text: str) -> str:
    """Collapse runs of spaces (and &nbsp;) on each line; drop empty lines."""
    if "\n" not in text:
        return (_SPACES.sub(" ", text) if _has_spaces_to_collapse(text) else text).strip()
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _has_spaces_to_collapse(text: str) -> bool:
    """Whether _SPACES can match: a run of two holds "  " or another of its
    characters, and a single one is another of them."""
    return "  " in text or "\t" in text or "\u00a0" in text or "\u2009" in text or "\u202f" in text
