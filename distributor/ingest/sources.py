"""Sources hand raw articles to the parser: a folder of files, or an RSS/Atom feed.

A source yields `Item`s: a RawArticle with its content hash, or a per-item
error (one bad file never stops the others). A source that cannot be read at
all raises SourceError naming it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import feedparser
import httpx

from distributor.config import Settings, SourceConfig
from distributor.errors import ParseError, SourceError
from distributor.ingest.parse import decode
from distributor.model import RawArticle

FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
USER_AGENT = "distributor/0.1 (+https://github.com/; feed reader)"


@dataclass(frozen=True)
class Item:
    key: str
    raw: RawArticle | None = None
    content_hash: str = ""
    error: str | None = None


@dataclass
class FeedState:
    """Conditional-GET validators from the previous poll, and the new ones."""

    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ folder


def folder_items(source: SourceConfig, settings: Settings) -> Iterator[Item]:
    for key, path, _stat in sorted(scan_folder(source, settings), key=lambda f: f[0].split("/")):
        yield read_folder_file(key, Path(path))


def scan_folder(source: SourceConfig, settings: Settings,
                on_folder: Callable[[str], None] | None = None) -> list[tuple[str, str, os.stat_result]]:
    """The article files of a folder source as (key, path, stat), in no
    particular order (sort by key.split("/") for path order), without reading
    any: a stat per file is all a poll of an unchanged folder costs, so this
    loop is kept lean. Hidden files and folders are skipped, and so are
    unknown types. `on_folder(path)` is called for each folder before it is listed."""
    root = settings.resolve(source.path)
    if not root.is_dir():
        raise SourceError(source.name, f"folder {root} does not exist or is not a directory")
    found: list[tuple[str, str, os.stat_result]] = []
    append, is_reg, formats = found.append, stat.S_ISREG, FORMATS
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        if on_folder is not None:
            on_folder(folder)
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if name[0] == ".":
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((entry.path, f"{prefix}{name}/"))
                        continue
                    dot = name.rfind(".")
                    if dot < 0 or name[dot:].lower() not in formats:
                        continue
                    st = entry.stat()
                except OSError:
                    continue
                if is_reg(st.st_mode):
                    append((prefix + name, entry.path, st))
    return found


def read_folder_file(key: str, path: Path) -> Item:
    """Read and decode one folder file: an Item with its RawArticle and the
    sha256 of its bytes, or an Item with the error."""
    fmt = FORMATS[path.suffix.lower()]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Item(key, error=f"cannot read {path}: {exc.strerror}")
    return folder_item(key, path, fmt, data)


def folder_item(key: str, path: Path, fmt: str, data: bytes, digest: str | None = None) -> Item:
    try:
        content, warnings = decode(data, str(path), html=fmt == "html")
    except ParseError as exc:
        return Item(key, error=str(exc), content_hash=digest or sha256(data))
    # The source's language is only a default (the pipeline passes it as
    # such): the article's own front matter or text decides first.
    raw = RawArticle(key=key, content=content, format=fmt, name=path.name, warnings=tuple(warnings))
    return Item(key, raw=raw, content_hash=digest or sha256(data))


# ------------------------------------------------------------------ feed


def fetch_feed_bytes(source: SourceConfig, settings: Settings, state: FeedState,
                     client: httpx.Client | None = None) -> bytes:
    """The feed document: a local file, or an HTTP GET with ETag and
    Last-Modified, size-capped. Sets state.not_modified on a 304."""
    url = source.url
    if not url.startswith(("http://", "https://")):
        path = settings.resolve(url.removeprefix("file://"))
        try:
            size = path.stat().st_size
            if size > source.max_bytes:
                raise SourceError(source.name, f"feed file {path} is {size} bytes, over max_bytes={source.max_bytes}")
            return path.read_bytes()
        except OSError as exc:
            raise SourceError(source.name, f"cannot read feed file {path}: {exc.strerror}") from None
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    own = client is None
    client = client or httpx.Client(timeout=source.timeout_seconds, follow_redirects=True)
    try:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304:
                state.not_modified = True
                return b""
            if resp.status_code >= 400:
                raise SourceError(source.name, f"GET {url} answered HTTP {resp.status_code}")
            chunks, total = [], 0
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > source.max_bytes:
                    raise SourceError(source.name, f"feed at {url} is over max_bytes={source.max_bytes}; refused")
                chunks.append(chunk)
            state.etag = resp.headers.get("ETag") or state.etag
            state.last_modified = resp.headers.get("Last-Modified") or state.last_modified
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise SourceError(source.name, f"GET {url} timed out after {source.timeout_seconds:g}s") from None
    except httpx.HTTPError as exc:
        raise SourceError(source.name, f"cannot reach {url}: {exc}") from None
    finally:
        if own:
            client.close()


# feedparser flags these as "bozo" although the feed was read correctly.
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(source: SourceConfig, data: bytes) -> feedparser.FeedParserDict:
    """Parse a feed document strictly: a feed that is not well-formed is an
    error for the whole source (a recovered half-feed could post truncated
    articles); it is read again at the next poll."""
    if not data.strip():
        raise SourceError(source.name, "the feed is empty (0 bytes of content)")
    head = data[:500].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise SourceError(source.name, "the feed URL returned an HTML page, not RSS or Atom")
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=True)
    exc = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(exc, _HARMLESS_BOZO):
        line = getattr(exc, "getLineNumber", lambda: None)()
        where = f" at line {line}" if line else ""
        raise SourceError(source.name, f"the feed is not well-formed XML{where}: {_exc_text(exc)}; "
                                       "nothing from it was ingested")
    if not parsed.get("version"):
        raise SourceError(source.name, "the document is neither RSS nor Atom")
    return parsed


def _exc_text(exc: BaseException | None) -> str:
    text = str(exc or "unknown error")
    return text.split("\n", 1)[0][:200]


def feed_items(source: SourceConfig, parsed: feedparser.FeedParserDict,
               page_fetcher=None) -> Iterator[Item]:
    """Items of a parsed feed as RawArticles. The guid is the identity, whole
    (WordPress post ids repeat across language sub-sites)."""
    feed_lang = (parsed.feed.get("language") or "").split("-")[0].lower() or None
    language = feed_lang or source.language or None
    feed_warnings = []
    if isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        feed_warnings.append(f"feed encoding: {parsed['bozo_exception']}")
    for entry in parsed.entries:
        key = entry.get("id") or entry.get("link") or entry.get("title")
        if not key:
            yield Item("<item without guid, link or title>", error="item has no guid, link or title; skipped")
            continue
        warnings: list[str] = list(feed_warnings)
        content = _full_text(entry)
        if content is None:
            content = entry.get("summary", "")
            if source.fetch_full_page and entry.get("link") and page_fetcher is not None:
                try:
                    content = page_fetcher(entry["link"])
                except SourceError as err:
                    warnings.append(f"excerpt only: fetching the full page failed ({err})")
                else:
                    warnings.append("excerpt only in the feed: full text fetched from the page")
            else:
                warnings.append("excerpt only: the feed has no full text (content:encoded), "
                                "so the footer and its channels may be missing")
        raw = RawArticle(
            key=key, content=content, format="html", name=key, url=entry.get("link"),
            title=entry.get("title") or None, language=language, published=_entry_date(entry),
            image=_entry_image(entry), tags=tuple(t.get("term") for t in entry.get("tags", []) if t.get("term")),
            author=entry.get("author") or None, warnings=tuple(warnings),
        )
        digest = sha256("\x1f".join([key, raw.title or "", raw.url or "", content]).encode("utf-8"))
        yield Item(key, raw=raw, content_hash=digest)


def _full_text(entry) -> str | None:
    for c in entry.get("content", []):
        if c.get("value", "").strip():
            return c["value"]
    return None


def _entry_date(entry) -> dt.datetime | None:
    t = entry.get("published_parsed") or entry.get("updated_parsed")
    if not t:
        return None
    return dt.datetime.fromtimestamp(calendar.timegm(t), tz=dt.timezone.utc)


def _entry_image(entry) -> str | None:
    for m in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if m.get("url"):
            return m["url"]
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return link.get("href")
    return None


def fetch_page_article_html(url: str, source: SourceConfig) -> str:
    """The article body of a page, for excerpt-only feed items (WordPress:
    <article> or .entry-content)."""
    from bs4 import BeautifulSoup

    try:
        resp = httpx.get(url, timeout=source.timeout_seconds, follow_redirects=True,
                         headers={"User-Agent": USER_AGENT})
    except httpx.HTTPError as exc:
        raise SourceError(source.name, f"cannot fetch page {url}: {exc}") from None
    if resp.status_code >= 400:
        raise SourceError(source.name, f"page {url} answered HTTP {resp.status_code}")
    soup = BeautifulSoup(resp.text, "html.parser")
    node = soup.select_one(".entry-content") or soup.find("article") or soup.body or soup
    return str(node)
