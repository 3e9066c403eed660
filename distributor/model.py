"""Plain data shared by every layer: a parsed article and its parts.

Everything here is a frozen dataclass with a `to_json()` that gives the shape
`distributor parse --json` prints (and that checks rely on).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import regex

# Canonical, lowercase channel kinds a footer may name.
CHANNEL_KINDS = (
    "newsletter",
    "telegram",
    "twitter",
    "facebook",
    "linkedin",
    "instagram",
    "mastodon",
    "bluesky",
    "threads",
    "youtube",
    "tiktok",
    "vk",
    "whatsapp",
    "signal",
    "discord",
    "dzen",
    "podcast",
    "rss",
)



@dataclass(frozen=True)
class ChannelRef:
    """One channel named by the footer (or front matter), in footer order."""

    kind: str
    url: str | None = None


@dataclass(frozen=True)
class Author:
    name: str
    role: str | None = None


@dataclass(frozen=True)
class Related:
    """A "read also" cross-link."""

    title: str
    url: str | None = None


@dataclass(frozen=True)
class Block:
    """One body block: a paragraph or a subheading."""

    kind: Literal["paragraph", "heading"]
    text: str


@dataclass(frozen=True)
class Article:
    title: str
    lede: str
    language: str
    url: str | None = None
    author: Author | None = None
    translator: str | None = None
    related: tuple[Related, ...] = ()
    channels: tuple[ChannelRef, ...] = ()
    footer: str | None = None
    body_text: str = ""
    blocks: tuple[Block, ...] = ()
    warnings: tuple[str, ...] = ()
    image: str | None = None
    tags: tuple[str, ...] = ()
    published: dt.datetime | None = None
    # Embargo: not to be posted before this instant (front matter `publish_at`,
    # or a feed date in the future).
    publish_at: dt.datetime | None = None
    # Front matter `channels:` overrides the footer for routing when given.
    channels_override: tuple[str, ...] | None = None
    # The article's identity in its source: the feed's guid, the file's front
    # matter `id`, or else its path.
    guid: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `distributor parse --json`."""
        return {
            "title": self.title,
            "lede": self.lede,
            "language": self.language,
            "url": self.url,
            "author": _plain(self.author) if self.author else None,
            "translator": self.translator,
            "related": [_plain(r) for r in self.related],
            "channels": [_plain(c) for c in self.channels],
            "footer": self.footer,
            "body_text": self.body_text,
            "blocks": [_plain(b) for b in self.blocks],
            "warnings": list(self.warnings),
            "image": self.image,
            "tags": list(self.tags),
            "published": _iso(self.published),
            "publish_at": _iso(self.publish_at),
            "channels_override": list(self.channels_override) if self.channels_override is not None else None,
            "guid": self.guid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Article:
        """Inverse of to_json (the store keeps articles in this shape)."""
        return cls(
            title=data["title"],
            lede=data["lede"],
            language=data["language"],
            url=data.get("url"),
            author=Author(**data["author"]) if data.get("author") else None,
            translator=data.get("translator"),
            related=tuple(Related(**r) for r in data.get("related", ())),
            channels=tuple(ChannelRef(**c) for c in data.get("channels", ())),
            footer=data.get("footer"),
            body_text=data.get("body_text", ""),
            blocks=tuple(Block(**b) for b in data.get("blocks", ())),
            warnings=tuple(data.get("warnings", ())),
            image=data.get("image"),
            tags=tuple(data.get("tags", ())),
            published=_parse_iso(data.get("published")),
            publish_at=_parse_iso(data.get("publish_at")),
            channels_override=(
                tuple(data["channels_override"]) if data.get("channels_override") is not None else None
            ),
            guid=data.get("guid"),
        )

    @property
    def label(self) -> str:
        """What lists show editors: the title, or for an untitled article the
        start of its lede (never used as a headline)."""
        if self.title:
            return self.title
        text = " ".join(self.lede.split())
        first = re.match(r"(.+?[.!?…])(?:\s|$)", text)
        text = first.group(1) if first else text
        if len(text) > 80:
            end = 0
            for m in regex.finditer(r"\X", text):  # whole grapheme clusters only
                if m.end() > 79:
                    break
                end = m.end()
            head = text[:end]
            text = (head.rsplit(" ", 1)[0] if " " in head else head) + "…"
        return f"(untitled) {text}" if text else "(untitled)"

    def replace(self, **changes: Any) -> Article:
        return dataclasses.replace(self, **changes)

    @property
    def named_kinds(self) -> tuple[str, ...]:
        """The channel kinds this article asks for, in order, without repeats."""
        if self.channels_override is not None:
            kinds = self.channels_override
        else:
            kinds = tuple(c.kind for c in self.channels)
        return tuple(dict.fromkeys(kinds))


def _plain(obj: Any) -> dict[str, Any]:
    """dataclasses.asdict of a flat dataclass without its deep copy (a tenth
    of the time, for every block of every stored article); asdict itself for
    one with nested values."""
    values = dict(vars(obj))
    if all(v is None or type(v) in (str, int, float, bool) for v in values.values()):
        return values
    return dataclasses.asdict(obj)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class RawArticle:
    """What a source hands to the parser: bytes or text plus what it knows."""

    key: str  # identity within the source: a relative path or the feed's guid
    content: str
    format: Literal["text", "markdown", "html"]
    name: str = ""  # a file name, for a derived title
    url: str | None = None
    title: str | None = None
    language: str | None = None
    published: dt.datetime | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()
    author: str | None = None
    warnings: tuple[str, ...] = field(default=())
