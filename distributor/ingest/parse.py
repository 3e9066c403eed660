"""The article parser: a file or a source's RawArticle in, an Article out.

    parse_file(path)  reads bytes, picks the format by extension, decodes.
    parse_raw(raw)    the one entry point every source calls (folder, feed).

The readers in formats.py turn text, Markdown and HTML into paragraphs with
their links; everything after that is shared: taking out cross-links, author,
translator and boilerplate, finding the footer (footer.py), telling headings
from paragraphs, and filling in title and language when nothing says.
What had to be guessed is said in Article.warnings, never silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from distributor.errors import ParseError
from distributor.ingest import bounded, markers
from distributor.ingest.decoding import decode
from distributor.ingest.footer import channels_in, find_footer, normalise_kind
from distributor.ingest.document import Format
from distributor.ingest.formats import Document, Para, read_html, read_markdown, read_text
from distributor.ingest.language import detect_language
from distributor.links import drop_query_parameter, link_problem, refused
from distributor.model import Article, Author, Block, ChannelRef, RawArticle, Related

log = logging.getLogger(__name__)

FORMATS_BY_SUFFIX: dict[str, Format] = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
                                        ".htm": "html"}
_READERS = {"text": read_text, "markdown": read_markdown, "html": read_html}
FALLBACK_LANGUAGE = "en"

# Invisible noise, taken out of the whole article: zero-width space, word
# joiner and a BOM in mid-text (pasted or concatenated files). Kept, because
# they are text: ZWNJ and ZWJ (Persian "می‌خواهم", the family emoji 👨‍👩‍👧‍👦,
# Indic half forms), bidi marks, variation selectors, and the soft hyphen
# (U+00AD: an author's hyphenation point, invisible unless a line breaks there,
# which mail clients honour).
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")
_HEADING_END = tuple(".:;,!…\"“”»«'’)")
_LANGUAGE_NAMES = {
    "german": "de", "deutsch": "de", "french": "fr", "français": "fr", "francais": "fr",
    "english": "en", "englisch": "en", "russian": "ru", "русский": "ru", "ukrainian": "uk",
}
_LANGUAGE_CODE = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]+)*$", re.I)
NO_TITLE = "no title: the posts and the digest lead with the lede (give the article a title to head them)"
NO_LINK = ("no URL: the posts go out without a link (set url in the front matter, "
           "or url_template on the folder source)")


# ---------------------------------------------------------------- reading


def parse_file(path: Path, *, default_language: str | None = None, url_template: str | None = None) -> Article:
    """Parse one article file (.txt, .md/.markdown, .html/.htm)."""
    path = Path(path)
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS_BY_SUFFIX)
        raise ParseError(f"{path}: unsupported file type {path.suffix or '(none)'!r} (expected {known})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path}: cannot read: {exc.strerror or exc}") from None
    content, warnings = decode(data, str(path), html=fmt == "html")
    raw = RawArticle(key=str(path), content=content, format=fmt, name=path.name, warnings=tuple(warnings))
    return parse_raw(raw, default_language=default_language, url_template=url_template)


# ---------------------------------------------------------------- parsing


def parse_raw(raw: RawArticle, *, default_language: str | None = None,
              url_template: str | None = None) -> Article:
    """Structure one article from any source; warnings of the source are kept.

    `url_template` (a folder source's, e.g. "https://novastan.org/de/{slug}/")
    gives the link of an article that names none: {slug} is the front matter's
    `slug` or the file name without its extension.

    Bounded in time and memory (bounded.py): a large input is parsed in a
    child process that is limited and killed when it runs over."""
    if bounded.needs_worker(raw):
        return bounded.parse_in_worker(raw, default_language, url_template)
    return parse_inline(raw, default_language, url_template)


def parse_inline(raw: RawArticle, default_language: str | None, url_template: str | None = None) -> Article:
    """parse_raw in this process. Any failure is a ParseError naming the
    article, never an exception that would stop its source."""
    try:
        return _parse(raw, default_language, url_template)
    except ParseError as exc:
        message = str(exc)
        raise ParseError(message if message.startswith(raw.key) else f"{raw.key}: {message}") from None
    except RecursionError:
        raise ParseError(f"{raw.key}: too deeply nested to parse") from None
    except MemoryError:
        raise  # the bounded worker reports it with its limit
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the source either
        log.debug("parsing %s failed", raw.key, exc_info=True)
        raise ParseError(f"{raw.key}: cannot parse: {type(exc).__name__}: {exc}") from None


def _parse(raw: RawArticle, default_language: str | None, url_template: str | None) -> Article:
    reader = _READERS.get(raw.format)
    if reader is None:
        raise ParseError(f"unknown format {raw.format!r}")
    content = _INVISIBLE.sub("", raw.content.replace("\r\n", "\n").replace("\r", "\n"))
    doc = reader(content)
    warnings = [*raw.warnings, *doc.warnings]
    meta = doc.meta

    title = raw.title or _text(meta.get("title"))
    url = _article_url(raw.url or _text(meta.get("url")), meta, raw.name, url_template, warnings)
    paras = _prepare(doc, title, url)
    if not paras:
        raise ParseError("no article text")

    parts = _Sorted.of(paras, warnings)
    footer_at = set(parts.footer_indices())
    body = [p for i, p in enumerate(parts.body) if i not in footer_at]
    footer = [parts.body[i] for i in sorted(footer_at)]
    blocks = _blocks(body)

    channels = _merge_channels(footer)
    override = _channels_override(meta)
    if not footer and override is None:
        warnings.append("no footer found: the article names no channels")

    lede = next((b.text for b in blocks if b.kind == "paragraph"), "")
    if not title:
        # Never a file name turned into words ("Kasachstan china ukraine"):
        # an untitled article leads with its lede.
        title = ""
        warnings.append(NO_TITLE)

    article_text = "\n".join([title, *(b.text for b in blocks)])
    language = _language(raw.language or _text(meta.get("language") or meta.get("lang")), article_text,
                         default_language, warnings)

    return Article(
        title=title,
        lede=lede,
        language=language,
        url=url,
        author=_author(meta, parts.author, raw.author),
        translator=_text(meta.get("translator")) or parts.translator,
        related=tuple(parts.related),
        channels=channels,
        footer="\n\n".join(p.text for p in footer) or None,
        body_text="\n\n".join(b.text for b in blocks),
        blocks=tuple(blocks),
        warnings=tuple(dict.fromkeys(warnings)),
        image=raw.image or _text(meta.get("image")),
        tags=raw.tags or _tags(meta.get("tags")),
        published=raw.published or _datetime(meta.get("published") or meta.get("date"), "published"),
        publish_at=_datetime(meta.get("publish_at"), "publish_at"),
        channels_override=override,
        # Front matter `id`: the article's own identity, whatever its path.
        guid=_text(meta.get("id")) or raw.key,
    )


def _prepare(doc: Document, title: str | None, url: str | None) -> list[Para]:
    """Cut excerpt stubs and drop a feed's self-link first paragraph."""
    paras = []
    for p in doc.paras:
        text = markers.strip_truncation(p.text)
        if text:
            paras.append(p if text == p.text else Para(text, p.links, p.heading))
    if paras and len(paras[0].links) == 1:
        first, link = paras[0], paras[0].links[0]
        if link.text == first.text and (link.href.rstrip("/") == (url or "").rstrip("/") or first.text == title):
            paras.pop(0)
    return paras


class _Sorted:
    """The paragraphs sorted into body, cross-links, author and translator."""

    def __init__(self) -> None:
        self.body: list[Para] = []
        self.related: list[Related] = []
        self.author: Author | None = None
        self.translator: str | None = None

    @classmethod
    def of(cls, paras: list[Para], warnings: list[str]) -> _Sorted:
        parts = cls()
        for p in paras:
            if p.heading:
                parts.body.append(p)
                continue
            if markers.is_boilerplate(p.text):
                if markers.is_paywall(p.text):
                    warnings.append("paywall: the rest of the article is for subscribers only")
                continue
            related = markers.cross_link_title(p.text)
            if related:
                parts.related.append(Related(related, p.links[0].href if p.links else None))
                continue
            author = markers.author_of(p.text)
            if author and parts.author is None:
                parts.author = Author(*author)
                continue
            translator = markers.translator_of(p.text)
            if translator and parts.translator is None:
                parts.translator = translator
                continue
            parts.body.append(p)
        return parts

    def footer_indices(self) -> list[int]:
        """Footer paragraphs, as indices into self.body (headings never count)."""
        candidates = [i for i, p in enumerate(self.body) if not p.heading]
        found = find_footer([(self.body[i].text, self.body[i].links) for i in candidates])
        return [candidates[k] for k in found]


def _blocks(body: list[Para]) -> list[Block]:
    """Body blocks; plain-text headings are short unpunctuated lines before text."""
    blocks: list[Block] = []
    for i, p in enumerate(body):
        heading = p.heading
        if heading is None:
            following = body[i + 1] if i + 1 < len(body) else None
            # Not the lede, and followed by text rather than another short line.
            heading = (
                i > 0
                and following is not None
                and _looks_like_heading(p)
                and not _looks_like_heading(following)
            )
        blocks.append(Block("heading" if heading else "paragraph", p.text))
    return blocks


def _looks_like_heading(p: Para) -> bool:
    text = p.text
    return (
        p.heading is not False
        and len(text) <= 100
        and len(text.split()) <= 12
        and "\n" not in text
        and not text.endswith(_HEADING_END)
        and not p.links
        and not markers.is_credit(text)
    )


def _merge_channels(footer: list[Para]) -> tuple[ChannelRef, ...]:
    order: dict[str, str | None] = {}
    for p in footer:
        for ref in channels_in(p.text, p.links):
            if ref.kind not in order or (order[ref.kind] is None and ref.url):
                order[ref.kind] = order.get(ref.kind) or ref.url
    return tuple(ChannelRef(kind, url) for kind, url in order.items())


# ------------------------------------------------------------ metadata


def _language(said: str | None, text: str, default: str | None, warnings: list[str]) -> str:
    if said:
        code = _language_code(said)
        if code:
            return code
        warnings.append(f"language {said!r} is not an ISO 639-1 code; detecting it from the text")
    guess = detect_language(text)
    if guess and guess.confidence == "sure":
        return guess.language
    if default:
        return _language_code(default) or default
    if guess:
        warnings.append(f"language guessed from little text: {guess.language}")
        return guess.language
    warnings.append(f"language unknown: assumed {FALLBACK_LANGUAGE!r}")
    return FALLBACK_LANGUAGE


def _language_code(value: str) -> str | None:
    value = value.strip().lower()
    if value in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[value]
    m = _LANGUAGE_CODE.match(value)
    return m.group(1) if m else None


def _author(meta: dict[str, Any], from_body: Author | None, from_source: str | None) -> Author | None:
    """Front matter wins; else the body's author line (it has the role; a feed's
    dc:creator is often a login like "cevans"); else the source's author."""
    value = meta.get("author")
    if isinstance(value, dict) and value.get("name"):
        return Author(str(value["name"]), _text(value.get("role")))
    if isinstance(value, str) and value.strip():
        parsed = markers.author_of(value)
        if parsed:
            return Author(*parsed)
        name = value.strip()
        role = from_body.role if from_body and from_body.name == name else None
        return Author(name, role)
    if from_body:
        return from_body
    return Author(from_source.strip()) if from_source and from_source.strip() else None


def _channels_override(meta: dict[str, Any]) -> tuple[str, ...] | None:
    value = meta.get("channels")
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list):
        raise ParseError("front matter 'channels' must be a list, e.g. [telegram, newsletter]")
    kinds = []
    for name in names:
        kind = normalise_kind(str(name))
        if kind is None:
            raise ParseError(f"front matter 'channels': unknown channel {name!r}")
        kinds.append(kind)
    return tuple(dict.fromkeys(kinds))


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    return tuple(str(t).strip() for t in value if str(t).strip())


def _datetime(value: Any, key: str) -> dt.datetime | None:
    """A front-matter date as an aware datetime; a bare date or naive time is
    taken as UTC so that every later comparison is between aware values."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            result = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ParseError(f"{key}: {value!r} is not a date (use 2025-03-03 or 2025-03-03T08:00:00+01:00)") from None
    return result if result.tzinfo else result.replace(tzinfo=dt.timezone.utc)


def _article_url(url: str | None, meta: dict[str, Any], name: str, template: str | None,
                 warnings: list[str]) -> str | None:
    """The article's link: its own, else the source's url_template filled in;
    None, with a warning, when there is none or it may not be a link."""
    if url:
        url = url.strip()
    elif template:
        slug = _text(meta.get("slug")) or Path(name).stem
        url = template.replace("{slug}", quote(slug.strip("/"), safe="/-._~"))
    if not url:
        warnings.append(NO_LINK)
        return None
    problem = link_problem(url)
    if problem:
        warnings.append(refused(url, problem))
        return None
    # WordPress's language-switch parameter (?noredirect=de-DE) goes; the rest
    # of the query stays byte for byte.
    return drop_query_parameter(url, "noredirect")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
