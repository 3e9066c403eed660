"""feedparser.parse for a feed document that is already UTF-8, without its copies.

`sources.parse_feed` decodes a feed by the rules of decoding.py and hands
feedparser UTF-8 that says so. feedparser.parse then converts it to UTF-8
again (`convert_to_utf8`: the bytes decoded, the declaration rewritten,
re-encoded) and strips the doctype (`replace_doctype`: the document cut in two
and joined), each a whole copy of the document while the input is still held:
about four copies at its peak, for nothing, since the bytes were UTF-8 already.

`parse_utf8` runs the same steps as feedparser.parse from there on (its own
parser classes, its doctype handling, its SAX-then-lenient fallback), on the
caller's bytes as they are, when doing so gives the same result. That is when
the document opens with a declaration feedparser's rewrite would not change
for the XML parser (version 1.0, encoding UTF-8, nothing else), when its
doctype step leaves the bytes as they were (no DOCTYPE, no ENTITY), and when
this feedparser has the internals used here. Anything else goes to
feedparser.parse itself. `tests/ingest/test_feed_utf8.py` compares the two
results on the fixture feeds and on generated well-formed and ill-formed ones.
"""

from __future__ import annotations

import io
import re
import xml.sax

import feedparser

try:  # feedparser's own steps (6.0.x); without them, feedparser.parse does it all
    from feedparser import api as _api
    from feedparser.api import LooseFeedParser, StrictFeedParser, make_safe_absolute_uri, replace_doctype
    from feedparser.util import FeedParserDict
except ImportError:  # pragma: no cover - another feedparser layout
    _api = None

# A declaration that feedparser's rewrite (to <?xml version='1.0' encoding='utf-8'?>)
# does not change for the XML parser: the same version and encoding, no standalone.
_UTF8_DECLARATION = re.compile(
    rb"""<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.0\1[ \t\r\n]+"""
    rb"""encoding[ \t\r\n]*=[ \t\r\n]*(["'])utf-8\2[ \t\r\n]*\?>""", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<\w")
_FEEDPARSER_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
_SLICE = 1 << 20


def parse_utf8(payload: bytes) -> feedparser.FeedParserDict:
    """feedparser.parse(payload, sanitize_html=True, resolve_relative_uris=True)
    for a UTF-8 document without a byte-order mark: the same result, with
    the payload read in place when that gives it (see the module docstring)."""
    declaration = _UTF8_DECLARATION.match(payload)
    if _api is None or declaration is None or not _api._XML_AVAILABLE:
        return _whole(payload)
    # replace_doctype on the head alone (up to the first element's first letter):
    # it looks at nothing after it, so an unchanged head is an unchanged document.
    first = _FIRST_ELEMENT.search(payload)
    head = payload[:first.start() + 2] if first is not None and first.start() > 0 else b""
    version, new_head, entities = replace_doctype(head)
    if new_head != head:
        return _whole(payload)

    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    result["encoding"] = "utf-8"  # what convert_to_utf8 sets for this document
    result["version"] = version
    baseuri = make_safe_absolute_uri("", "") or make_safe_absolute_uri("") or ""
    parser = StrictFeedParser(baseuri, None, "utf-8")
    parser.resolve_relative_uris = True
    parser.sanitize_html = True
    sax = xml.sax.make_parser(_api.PREFERRED_XML_PARSERS)
    sax.setFeature(xml.sax.handler.feature_namespaces, 1)
    try:
        sax.setFeature(xml.sax.handler.feature_external_ges, 0)
    except xml.sax.SAXNotSupportedException:
        pass
    sax.setContentHandler(parser)
    sax.setErrorHandler(parser)
    source = xml.sax.xmlreader.InputSource()
    source.setByteStream(io.BytesIO(payload))  # shares the bytes, copies nothing
    try:
        sax.parse(source)
    except xml.sax.SAXException as exc:
        result["bozo"] = 1
        result["bozo_exception"] = parser.exc or exc
        # The lenient parser reads text; feedparser hands it the rewritten declaration.
        text = _FEEDPARSER_DECLARATION + str(memoryview(payload)[declaration.end():], "utf-8", "replace")
        parser = LooseFeedParser(baseuri, None, "utf-8", entities)
        parser.resolve_relative_uris = True
        parser.sanitize_html = True
        parser.feed(text)
        del text
    result["feed"] = parser.feeddata
    result["entries"] = parser.entries
    result["version"] = result["version"] or parser.version
    result["namespaces"] = parser.namespaces_in_use
    return result


def declares_utf8(data: bytes) -> bool:
    """Whether the document opens with a declaration parse_utf8 can read in place."""
    return _UTF8_DECLARATION.match(data) is not None


def is_utf8_of(text: str, data: bytes) -> bool:
    """Whether data is exactly text encoded as UTF-8, compared a slice at a
    time (no whole copy of either)."""
    view, at = memoryview(data), 0
    for start in range(0, len(text), _SLICE):
        try:
            chunk = text[start:start + _SLICE].encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 at all
            return False
        if view[at:at + len(chunk)] != chunk:
            return False
        at += len(chunk)
    return at == len(data)


def _whole(payload: bytes) -> feedparser.FeedParserDict:
    return feedparser.parse(payload, sanitize_html=True, resolve_relative_uris=True)
