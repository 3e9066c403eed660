"""UTM parameters on article links, per channel ([render.utm] in the config).

Parameters the link already carries are kept (an editor's own campaign wins);
only http(s) links are touched; the fragment stays at the end.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from distributor.config import UtmConfig
from distributor.links import append_query

# utm_source per channel: the place the click comes from.
SOURCES = {"telegram": "telegram", "twitter": "twitter", "newsletter": "newsletter"}


def tag_link(url: str | None, channel: str, utm: UtmConfig, *, content: str | None = None) -> str | None:
    """`url` with utm_source/medium/campaign (and utm_content if given)."""
    if not url or not utm.enabled:
        return url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    medium = utm.medium_email if channel == "newsletter" else utm.medium_social
    wanted = [
        ("utm_source", SOURCES.get(channel, channel)),
        ("utm_medium", medium),
        ("utm_campaign", utm.campaign),
    ]
    if content:
        wanted.append(("utm_content", content))
    extra = urlencode([(k, v) for k, v in wanted if v and k not in present])
    if not extra:
        return url
    # Append to the string rather than re-assemble the URL: the link's own
    # query (and scheme, and an empty "?") stays byte for byte.
    return append_query(url, extra)
