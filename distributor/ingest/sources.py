"""Sources hand raw articles to the parser: a folder of files, or an RSS/Atom feed.

A source yields `Item`s: a RawArticle with its content hash, or a per-item
error (one bad file never stops the others). A source that cannot be read at
all raises SourceError naming it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import logging
import os
import re
import socket
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import feedparser
import httpx

from distributor.config import Settings, SourceConfig
from distributor.errors import ParseError, SourceError
from distributor.ingest import feed_utf8
from distributor.ingest.decoding import decode
from distributor.ingest.document import Format
from distributor.model import RawArticle

log = logging.getLogger(__name__)

FORMATS: dict[str, Format] = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
                             ".htm": "html"}
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
    # The charset of the HTTP Content-Type, the feed's strongest declaration.
    charset: str | None = None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ folder


def folder_items(source: SourceConfig, settings: Settings) -> Iterator[Item]:
    for key, path, _stat in sorted(scan_folder(source, settings), key=lambda f: f[0].split("/")):
        yield read_folder_file(key, Path(path), source, _stat.st_size)


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


def read_folder_file(key: str, path: Path, source: SourceConfig, size: int | None = None) -> Item:
    """Read and decode one folder file: an Item with its RawArticle and the
    sha256 of its bytes, or an Item with the error. A file over the source's
    max_bytes is refused before it is read (`size`: its stat's, when known)."""
    try:
        return _read_folder_file(key, path, source, size)
    except Exception as exc:  # noqa: BLE001 - one bad file never stops its source
        log.debug("folder item %s failed", path, exc_info=True)
        return Item(key, error=f"{path}: cannot read: {type(exc).__name__}: {exc}")


def _read_folder_file(key: str, path: Path, source: SourceConfig, size: int | None) -> Item:
    fmt = FORMATS[path.suffix.lower()]
    try:
        if size is None:
            size = path.stat().st_size
        if size > source.max_bytes:
            return Item(key, error=too_big(path, size, source))
        data = path.read_bytes()
    except OSError as exc:
        return Item(key, error=f"cannot read {path}: {exc.strerror}")
    if len(data) > source.max_bytes:  # grew between the stat and the read
        return Item(key, error=too_big(path, len(data), source), content_hash=folder_hash(data, source))
    return folder_item(key, path, fmt, data, source)


def too_big(path: Path, size: int, source: SourceConfig) -> str:
    return f"{path}: the file is {size} bytes, over max_bytes={source.max_bytes}; refused"


def folder_item(key: str, path: Path, fmt: Format, data: bytes, source: SourceConfig,
                digest: str | None = None) -> Item:
    """Decode a folder file's bytes (never raises: an error Item instead);
    `digest`, its folder_hash, when the caller has it already."""
    digest = digest or folder_hash(data, source)
    try:
        content, warnings = decode(data, str(path), html=fmt == "html")
    except ParseError as exc:
        return Item(key, error=str(exc), content_hash=digest)
    except Exception as exc:  # noqa: BLE001 - one bad file never stops its source
        log.debug("folder item %s failed", path, exc_info=True)
        return Item(key, error=f"{path}: cannot read: {type(exc).__name__}: {exc}", content_hash=digest)
    # The source's language is only a default (the pipeline passes it as
    # such): the article's own front matter or text decides first.
    raw = RawArticle(key=key, content=content, format=fmt, name=path.name, warnings=tuple(warnings))
    return Item(key, raw=raw, content_hash=digest)


def folder_hash(data: bytes, source: SourceConfig) -> str:
    """A folder item's content hash: its bytes, and the source's url_template
    when it has one (the template is part of the article's link, so changing
    it re-parses and re-links the stored articles; without one the hash is
    the file's plain sha256, as before)."""
    if not source.url_template:
        return sha256(data)
    digest = hashlib.sha256(data)
    digest.update(b"\x1furl_template=" + source.url_template.encode("utf-8"))
    return digest.hexdigest()


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
    resp, body = bounded_get(url, source, headers, client)
    if resp.status_code == 304:
        state.not_modified = True
        return b""
    state.etag = resp.headers.get("ETag") or state.etag
    state.last_modified = resp.headers.get("Last-Modified") or state.last_modified
    state.charset = resp.charset_encoding
    return body


def bounded_get(url: str, source: SourceConfig, headers: dict[str, str],
                client: httpx.Client | None = None) -> tuple[httpx.Response, bytes]:
    """GET within one whole-request deadline (timeout_seconds) and max_bytes.

    httpx's timeouts are per operation: a server that trickles a byte every
    second never trips a read timeout. So a watchdog timer shuts the request's
    sockets down at the deadline (the connections are learnt from httpcore's
    "trace" extension), which ends any read blocked in headers or body at
    once; the body loop also checks the clock after every chunk. A 304 comes
    back with an empty body; an HTTP error status is a SourceError."""
    timeout = source.timeout_seconds
    deadline = time.monotonic() + timeout
    expired = threading.Event()
    sockets: list[socket.socket] = []
    lock = threading.Lock()

    def cut(sock) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    def watch(stream) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with lock:
                sockets.append(sock)
                if expired.is_set():
                    cut(sock)

    def trace(event: str, info: dict) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            watch(info.get("return_value"))

    def expire() -> None:
        with lock:
            expired.set()
            for sock in sockets:
                cut(sock)

    def over_deadline() -> SourceError:
        return SourceError(source.name, f"GET {url} timed out: no complete answer within the "
                                        f"{timeout:g}s deadline (timeout_seconds)")

    own = client is None
    client = client or httpx.Client(timeout=timeout, follow_redirects=True)
    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        with client.stream("GET", url, headers=headers, extensions={"trace": trace}) as resp:
            watch(resp.extensions.get("network_stream"))  # a reused connection had no connect event
            if resp.status_code == 304:
                return resp, b""
            if resp.status_code >= 400:
                raise SourceError(source.name, f"GET {url} answered HTTP {resp.status_code}")
            chunks, total = [], 0
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > source.max_bytes:
                    raise SourceError(source.name, f"feed at {url} is over max_bytes={source.max_bytes}; refused")
                if time.monotonic() > deadline:
                    raise over_deadline()
                chunks.append(chunk)
            return resp, b"".join(chunks)
    except httpx.TimeoutException:
        raise SourceError(source.name, f"GET {url} timed out after {timeout:g}s") from None
    except httpx.HTTPError as exc:
        if expired.is_set():
            raise over_deadline() from None
        raise SourceError(source.name, f"cannot reach {url}: {exc}") from None
    finally:
        timer.cancel()
        if own:
            client.close()


# feedparser flags these as "bozo" although the feed was read correctly.
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")


def parse_feed(source: SourceConfig, data: bytes, *, charset: str | None = None) -> feedparser.FeedParserDict:
    """Parse a feed document as feedparser reads it: decoded first by the rules
    of decoding.py (declared charset when it fits, else detected), then a
    feed that is not well-formed XML (a named HTML entity like &nbsp;, an
    unclosed tag) is still ingested when feedparser's lenient parser makes
    entries of it, each article warned with the problem and its line. Only a
    document with no entries at all is refused.

    Memory: the caller may hand `data` over (keep no reference to it). When
    the bytes are already the UTF-8 of their text and say so, feedparser reads
    them in place (feed_utf8.parse_utf8, without its own conversion's copies);
    otherwise they are let go once decoded, and the text once encoded for
    feedparser. Either way one copy of the document is held while feedparser
    reads it."""
    text, warnings = decoded_feed(source, data, charset)
    if feed_utf8.declares_utf8(data) and feed_utf8.is_utf8_of(text, data):
        payload = data  # the text's own UTF-8, declared so: nothing to re-encode
        del data, text
    else:
        del data
        # feedparser reads the bytes again: hand it UTF-8 that says so (the
        # declaration rewritten at the head, the text copied only if it changes).
        text = text.lstrip("\ufeff")
        declaration = _XML_DECLARATION.match(text)
        if declaration:
            utf8 = re.sub(r"""encoding\s*=\s*["'][^"']*["']""", 'encoding="utf-8"', declaration.group(0))
            if utf8 != declaration.group(0):
                text = utf8 + text[declaration.end():]
        payload = text.encode("utf-8")
        del text
    parsed = feed_utf8.parse_utf8(payload)
    del payload
    return checked_feed(source, parsed, warnings)


def decoded_feed(source: SourceConfig, data: bytes, charset: str | None) -> tuple[str, list[str]]:
    """The feed document's text and warnings, by the rules of decoding.py;
    an empty, binary or HTML document refused."""
    if not data or data.isspace():
        raise SourceError(source.name, "the feed is empty (0 bytes of content)")
    try:
        text, warnings = decode(data, "the feed", xml=True, declared=charset)
    except ParseError as exc:
        raise SourceError(source.name, str(exc).replace("not an article", "not RSS or Atom")) from None
    head = text[:500].lstrip("\ufeff \t\r\n").lower()
    if head.startswith(("<!doctype html", "<html")):
        raise SourceError(source.name, "the feed URL returned an HTML page, not RSS or Atom")
    return text, warnings


def checked_feed(source: SourceConfig, parsed: feedparser.FeedParserDict,
                 warnings: list[str]) -> feedparser.FeedParserDict:
    """feedparser's result judged: refused with no entries from a document
    that is not well-formed or not a feed, else warned; the warnings kept."""
    bozo = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(bozo, _HARMLESS_BOZO):
        problem = _bozo_text(bozo)
        if not parsed.entries:
            raise SourceError(source.name, f"the feed is not well-formed XML{problem}; nothing from it was ingested")
        warnings.append(f"feed: not well-formed XML{problem}; read by feedparser's lenient parser, "
                        "check the article")
    if not parsed.get("version") and not parsed.entries:
        raise SourceError(source.name, "the document is neither RSS nor Atom")
    parsed["distributor_warnings"] = [w.replace("encoding:", "feed encoding:", 1) for w in warnings]
    return parsed


def _bozo_text(exc: BaseException | None) -> str:
    """" at line N: message", the line said once (a SAXParseException's str()
    repeats it as "<unknown>:N:C: message")."""
    line = getattr(exc, "getLineNumber", lambda: None)()
    message = exc.getMessage() if exc is not None and hasattr(exc, "getMessage") else _exc_text(exc)
    return (f" at line {line}" if line else "") + f": {message}"


def _exc_text(exc: BaseException | None) -> str:
    text = str(exc or "unknown error")
    return text.split("\n", 1)[0][:200]


def feed_items(source: SourceConfig, parsed: feedparser.FeedParserDict,
               page_fetcher=None) -> Iterator[Item]:
    """Items of a parsed feed as RawArticles. The guid is the identity, whole
    (WordPress post ids repeat across language sub-sites)."""
    feed_lang = (parsed.feed.get("language") or "").split("-")[0].lower() or None
    language = feed_lang or source.language or None
    feed_warnings = list(parsed.get("distributor_warnings", ()))
    for n, entry in enumerate(parsed.entries, 1):
        key = entry.get("id") or entry.get("link") or entry.get("title")
        if not key:
            yield Item(f"<item {n} without guid, link or title>", error="item has no guid, link or title; skipped")
            continue
        try:
            yield _feed_item(source, entry, str(key), language, feed_warnings, page_fetcher)
        except Exception as exc:  # noqa: BLE001 - one bad item never stops its feed
            log.debug("feed item %s failed", key, exc_info=True)
            yield Item(str(key), error=f"item {n} ({key}): cannot read: {type(exc).__name__}: {exc}")


def _feed_item(source: SourceConfig, entry, key: str, language: str | None, feed_warnings: list[str],
               page_fetcher) -> Item:
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
    return Item(key, raw=raw, content_hash=digest)


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
    <article> or .entry-content); the same deadline and size cap as the feed."""
    from bs4 import BeautifulSoup

    resp, body = bounded_get(url, source, {"User-Agent": USER_AGENT})
    try:
        text, _ = decode(body, f"page {url}", html=True, declared=resp.charset_encoding)
    except ParseError as exc:
        raise SourceError(source.name, str(exc)) from None
    soup = BeautifulSoup(text, "html.parser")
    node = soup.select_one(".entry-content") or soup.find("article") or soup.body or soup
    return str(node)
