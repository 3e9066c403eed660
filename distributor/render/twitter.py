"""X: one post per article, or a numbered thread, within 280 weighted characters.

Counted with twitter-text v3 (`twitter-text-parser`, checked against the
official conformance data in tests/render/test_twitter_text_conformance.py):
a URL counts 23 however long, CJK and emoji 2. The lede, then hashtags,
then the title are shortened; the link never is.
"""

from __future__ import annotations

import re

from twitter_text import parse_tweet

from distributor.config import TwitterChannelConfig, UtmConfig
from distributor.model import Article
from distributor.render.common import post_fields, shrink_to_fit, tidy_lines
from distributor.render.env import Templates
from distributor.render.message import RenderedMessage
from distributor.render.textlimits import fit, pretrim

TEMPLATE = "twitter/article.txt.j2"


class XLimits:
    weighted = 280  # twitter-text v3 maxWeightedTweetLength
    thread_max_parts = 6  # a longer lede is cut in the last part
    shrink_order = ("lede", "hashtags", "title", "author")
    numbering_reserve = " 9/9"  # room kept for " k/n" while splitting a thread


def weighted_length(text: str) -> int:
    return parse_tweet(text).weightedLength


def hashtags_from_tags(tags: list[str], limit: int) -> list[str]:
    """"Central Asia" -> "#CentralAsia"; tags that make no valid hashtag (all
    digits, no word characters) are skipped; no duplicates."""
    out: list[str] = []
    for tag in tags:
        words = re.findall(r"\w+", tag)
        if not words:
            continue
        body = "".join(w if w[:1].isupper() or len(words) == 1 else w[:1].upper() + w[1:] for w in words)
        if body.isdigit() or "#" + body.casefold() in (h.casefold() for h in out):
            continue
        out.append("#" + body)
        if len(out) >= limit:
            break
    return out


def render_tweet(
    article: Article,
    *,
    templates: Templates,
    config: TwitterChannelConfig | None = None,
    utm: UtmConfig | None = None,
) -> RenderedMessage:
    config = config or TwitterChannelConfig()
    utm = utm or UtmConfig()
    lang = article.language
    link, ctx, warnings = post_fields(article, "twitter", utm)
    ctx["hashtags"] = hashtags_from_tags(ctx["tags"], config.max_hashtags) if config.hashtags else []
    full_lede = ctx["lede"]

    def render(c: dict) -> str:
        return tidy_lines(templates.render(lang, TEMPLATE, **c))

    limit = XLimits.weighted
    text, final, truncated, kept = shrink_to_fit(
        render, weighted_length, limit, ctx, XLimits.shrink_order, url_aware=True
    )
    parts: tuple[str, ...] = ()
    rest = full_lede[kept.get("lede", len(full_lede)):].strip() if truncated else ""
    if config.thread and rest and final["hashtags"] == ctx["hashtags"] and final["title"] == ctx["title"]:
        # Only the lede was cut: post the rest of it as a numbered thread.
        first, _, _, kept = shrink_to_fit(
            lambda c: render(c) + XLimits.numbering_reserve, weighted_length, limit, ctx, ("lede",),
            url_aware=True,
        )
        first = first[: -len(XLimits.numbering_reserve)]
        rest = full_lede[kept.get("lede", len(full_lede)):].strip()
        bodies, complete = _split(rest, XLimits.thread_max_parts - 1)
        bodies = [first, *bodies]
        n = len(bodies)
        parts = tuple(f"{body} {i}/{n}" for i, body in enumerate(bodies, 1))
        text, truncated = parts[0], not complete
        warnings.append(f"posted as a thread of {n}")
    if truncated:
        warnings.append(f"shortened to fit {limit} weighted characters")
    if link and link not in text:
        warnings.append("the template does not include the article link")
    lengths = [weighted_length(p) for p in parts] or [weighted_length(text)]
    return RenderedMessage(
        channel="twitter",
        text=text,
        length=max(lengths),
        limit=limit,
        language=lang,
        truncated=truncated,
        warnings=tuple(warnings),
        parts=parts,
        # Goes up as X media (media never counts toward the 280).
        photo=article.image,
    )


def _split(text: str, max_parts: int) -> tuple[list[str], bool]:
    """Consecutive chunks of `text`, each fitting one numbered post."""
    chunks: list[str] = []
    reserve = XLimits.numbering_reserve
    while text and len(chunks) < max_parts:
        head, _ = pretrim(text, XLimits.weighted, url_aware=True)
        cut = fit(head, lambda c: weighted_length(c + reserve) <= XLimits.weighted)
        if cut.kept == 0:
            break
        chunks.append(cut.text)
        text = text[cut.kept:].strip()
    return chunks, not text
