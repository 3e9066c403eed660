"""Identity follows the article, not only its path.

A folder file at a path the store does not know may still be a stored
article: the one whose own id (front matter `id`) or url it carries, or,
failing both, whose bytes it has. If that article's file is gone (in this
poll, or removed earlier), the file is the article, moved. If it is still
there, the two files are one article: the newcomer is a duplicate, reported
with a warning naming both, and creates nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from distributor.store import ArticleIdentity


@dataclass(frozen=True)
class Match:
    article: ArticleIdentity
    by: str  # what they share, for messages: "front-matter id 'x'", "url …", "text"
    moved: bool  # its file is gone: this item is the article at its new path


class FolderIdentities:
    """The stored articles of one folder source, looked up by id, url and hash."""

    def __init__(self, rows: Iterable[ArticleIdentity]):
        self._rows: dict[int, ArticleIdentity] = {}
        self._index: dict[tuple[str, str], set[int]] = defaultdict(set)
        for row in rows:
            self.record(row)

    def record(self, row: ArticleIdentity) -> None:
        """Add or replace a row (a new article, or one moved or changed this poll)."""
        self._rows[row.id] = row
        for facet in _facets(row.identity, row.url, row.content_hash):
            self._index[facet].add(row.id)

    def match(self, *, own_id: str | None, url: str | None, content_hash: str,
              live: set[str] | None) -> Match | None:
        """The stored article this item is, strongest evidence first: its own
        id, then its url (unless both name different ids), then identical
        bytes. Among several, one whose file is gone (not in `live`) first;
        with `live` None (not known yet), any, and `moved` means nothing."""
        tiers = [("id", own_id, f"front-matter id {own_id!r}"), ("url", _url(url), f"url {url}"),
                 ("hash", content_hash, "text")]
        for facet, value, by in tiers:
            if not value:
                continue
            found = [r for r in (self._rows[i] for i in sorted(self._index.get((facet, value), ())))
                     if (facet, value) in _facets(r.identity, r.url, r.content_hash)  # still current
                     and not (own_id and r.identity and r.identity != own_id)]
            if found:
                gone = [r for r in found if live is None or r.key not in live]
                return Match(gone[0], by, moved=True) if gone else Match(found[0], by, moved=False)
        return None


def facets(identity: str | None, url: str | None, content_hash: str) -> set[tuple[str, str]]:
    """What an article is recognised by: its own id, url and content hash."""
    return _facets(identity, url, content_hash)


def _facets(identity: str | None, url: str | None, content_hash: str) -> set[tuple[str, str]]:
    return {(f, v) for f, v in (("id", identity), ("url", _url(url)), ("hash", content_hash)) if v}


def _url(url: str | None) -> str | None:
    return url.strip().rstrip("/") if url else None
