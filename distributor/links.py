"""Article links: which URLs may go out as a post's link, and how they are shown.

One rule for the parser (which refuses a bad link with a warning) and for
every renderer (which never shows one, whatever was stored): a link is an
absolute http(s) URL with a host, no whitespace or control character, and no
credentials. Everything else about it (the query above all) stays byte for
byte as the outlet wrote it.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit


def link_problem(url: str) -> str | None:
    """Why `url` cannot be an article's link, or None when it can."""
    if _has_space_or_invisible(url):
        return "it contains a space or an invisible character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"it is not an http(s) URL (scheme {parts.scheme + ':' if parts.scheme else 'missing'})"
    if "@" in parts.netloc:
        return "it carries credentials (user:password@)"
    if not parts.hostname:
        return "it has no host"
    return None


def _has_space_or_invisible(url: str) -> bool:
    """A white-space character, or one of categories Cc, Cf, Zl, Zp. In ASCII
    those are the characters up to and including " " and DEL: a printable
    ASCII string without a space has none (the usual URL, in C)."""
    if url.isascii():
        return not url.isprintable() or " " in url
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in url)


def shown(url: str) -> str:
    """`url` safe to print in a warning: credentials masked, cut when long."""
    head, sep, rest = url.partition("://")
    if sep:
        netloc, slash, path = rest.partition("/")
        if "@" in netloc:
            url = f"{head}://***@{netloc.rsplit('@', 1)[1]}{slash}{path}"
    return url if len(url) <= 120 else url[:119] + "…"


def refused(url: str, problem: str) -> str:
    """The warning for a refused link (the same words in parse and render)."""
    return f"link {shown(url)!r} refused: {problem}; the posts go out without it"


def drop_query_parameter(url: str, name: str) -> str:
    """`url` without the query parameter `name`; everything else byte for byte
    (no decoding, no re-encoding: `&flag` stays `&flag`, `%22` stays `%22`)."""
    base, hash_, fragment = url.partition("#")
    path, question, query = base.partition("?")
    if not question:
        return url
    params = query.split("&")
    kept = [p for p in params if p.split("=", 1)[0] != name]
    if len(kept) == len(params):
        return url
    return path + ("?" + "&".join(kept) if kept else "") + hash_ + fragment


def append_query(url: str, extra: str) -> str:
    """`url` with `extra` (already encoded) added to its query, before the
    fragment; the existing query is not touched."""
    base, hash_, fragment = url.partition("#")
    if "?" not in base:
        joined = f"{base}?{extra}"
    elif base.endswith(("?", "&")):
        joined = base + extra
    else:
        joined = f"{base}&{extra}"
    return joined + hash_ + fragment
