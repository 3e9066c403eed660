"""feed_utf8.parse_utf8 gives feedparser.parse's result without its copies.

`sources.parse_feed` used to re-encode every decoded feed and hand it to
feedparser.parse, which converted it to UTF-8 once more and cut out its
doctype (about four copies of the document at its peak). Now a feed whose
bytes are already its declared UTF-8 is read in place. Each feed here is
parsed both ways, the old one written out below, and the results (every
entry, every field, the bozo flag and its exception) must be equal.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import feedparser
import pytest

from distributor.config import SourceConfig
from distributor.errors import SourceError
from distributor.ingest import feed_utf8, sources

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
FILES = sorted(p for p in [*FEEDS.glob("*.xml"), *(FEEDS / "corpus" / "feeds").iterdir()] if p.is_file())
SOURCE = SourceConfig(name="feed", kind="feed", url="https://example.org/feed")


def old_parse_feed(source, data: bytes, *, charset: str | None = None):
    """parse_feed as it was before parse_utf8 (the text re-encoded, feedparser.parse on it)."""
    text, warnings = sources.decoded_feed(source, data, charset)  # unchanged: shared
    del data
    text = sources._XML_DECLARATION.sub(lambda m: re.sub(r"""encoding\s*=\s*["'][^"']*["']""", 'encoding="utf-8"',
                                                         m.group(0)), text.lstrip("\ufeff"), count=1)
    payload = text.encode("utf-8")
    del text
    parsed = feedparser.parse(payload, sanitize_html=True, resolve_relative_uris=True)
    del payload
    return sources.checked_feed(source, parsed, warnings)  # unchanged: shared


def plain(value):
    """A parse result as comparable data (an exception by its type and text)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    return value


def outcome(parse, data: bytes) -> tuple:
    try:
        return ("parsed", plain(parse(SOURCE, data)))
    except SourceError as exc:
        return ("error", str(exc))


def both_ways(data: bytes) -> tuple:
    return outcome(old_parse_feed, data), outcome(sources.parse_feed, data)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_fixture_feed_parses_as_it_did(path):
    old, new = both_ways(path.read_bytes())
    assert new == old


def _feed(rng: random.Random, declaration: str, items: int, rate: float) -> str:
    bad = ["&nbsp;", "<p>unclosed", "</b>", "&", "<br>", "\u00e9t\u00e9 \u2014 \u201eZitat\u201c", "\U0001f600",
           "<![CDATA[<p>cdata</p>]]>", "&#x1F600;", "&amp;", "<script>x()</script>", "<a href='/rel'>rel</a>"]
    parts = [declaration, '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
             "<channel><title>T</title><link>https://example.org/</link><language>de-DE</language>"]
    for i in range(items):
        body = " ".join(rng.choice(bad) if rng.random() < rate else f"Wort{rng.randrange(99)}"
                        for _ in range(rng.randrange(3, 30)))
        wrap = rng.random() < 0.5
        content = f"<![CDATA[<p>{body}</p>]]>" if wrap else body
        parts.append(f"<item><title>Item {i} {rng.choice(bad) if rng.random() < rate else ''}</title>"
                     f"<guid>https://example.org/?p={i}</guid><link>https://example.org/{i}/</link>"
                     f"<pubDate>Mon, 0{i % 9 + 1} Dec 2025 10:00:00 +0000</pubDate>"
                     f"<content:encoded>{content}</content:encoded></item>")
    parts.append("</channel></rss>" if rng.random() < 0.9 else "</channel>")
    return "\n".join(parts)


DECLARATIONS = ['<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0' encoding='utf-8'?>",
                '<?xml version="1.0"  encoding="utf-8" ?>', '<?xml version="1.0" encoding="utf-8" standalone="yes"?>',
                '<?xml version="1.0"?>', "", '  <?xml version="1.0" encoding="utf-8"?>',
                '<?xml version="1.0" encoding="iso-8859-1"?>', '<?xml version="1.1" encoding="utf-8"?>']


@pytest.mark.parametrize("seed", range(40))
def test_generated_feeds_well_and_ill_formed_parse_as_they_did(seed):
    rng = random.Random(seed)
    text = _feed(rng, DECLARATIONS[seed % len(DECLARATIONS)], rng.randrange(1, 12), (0.0, 0.01, 0.15)[seed % 3])
    data = text.encode("utf-8")
    old, new = both_ways(data)
    assert new == old


def test_a_utf8_feed_is_read_in_place_and_an_ill_formed_one_too(monkeypatch):
    """The equality above is not the fallback's: a UTF-8 feed that declares
    itself so never reaches feedparser.parse (neither does an ill-formed one,
    which goes to the lenient parser the same way)."""
    calls = []
    monkeypatch.setattr(feed_utf8, "_whole", lambda payload: calls.append(payload) or feedparser.parse(payload))
    for name in ("rss-wordpress.xml", "rss-illformed.xml", "rss-named-entities.xml"):
        parsed = sources.parse_feed(SOURCE, (FEEDS / "corpus" / "feeds" / name).read_bytes())
        assert parsed.entries
    assert parsed.bozo  # the named entities: read by the lenient parser
    assert calls == []
    # A doctype, or a declaration naming another charset, takes feedparser's whole way.
    sources.parse_feed(SOURCE, (FEEDS / "corpus" / "feeds" / "rss-doctype-entities.xml").read_bytes())
    assert len(calls) == 1


def test_is_utf8_of_compares_every_slice(monkeypatch):
    monkeypatch.setattr(feed_utf8, "_SLICE", 7)
    text = "Grüße — „Zitat“ 😀 " * 5
    data = text.encode("utf-8")
    assert feed_utf8.is_utf8_of(text, data)
    assert not feed_utf8.is_utf8_of(text, data[:-1])
    assert not feed_utf8.is_utf8_of(text, data + b" ")
    assert not feed_utf8.is_utf8_of(text.replace("😀", "x", 4), data)
    assert not feed_utf8.is_utf8_of(text[:-2] + "\ud800 ", data)
    assert not feed_utf8.is_utf8_of(text, text.encode("latin-1", "replace"))
    assert feed_utf8.is_utf8_of("", b"")


def test_the_declaration_read_in_place_is_exactly_version_1_0_encoding_utf8():
    assert feed_utf8.declares_utf8(b'<?xml version="1.0" encoding="UTF-8"?><rss/>')
    assert feed_utf8.declares_utf8(b"<?xml version='1.0' encoding='utf-8' ?>")
    for other in (b'<?xml version="1.0"?>', b' <?xml version="1.0" encoding="utf-8"?>',
                  b'<?xml version="1.0" encoding="utf-8" standalone="no"?>', b'<?xml version="1.0" encoding="utf8"?>',
                  b'<?xml version="1.0" encoding="utf-8\'?>', b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>"):
        assert not feed_utf8.declares_utf8(other), other
