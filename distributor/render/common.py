"""What every channel renderer shares: the article as template data, and the
loop that shrinks fields until the whole message fits its platform's limit."""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from distributor.errors import RenderError
from distributor.links import link_problem, refused
from distributor.model import Article
from distributor.render import i18n
from distributor.config import UtmConfig
from distributor.render.textlimits import clean, fit, pretrim
from distributor.render.utm import tag_link


def article_fields(article: Article, link: str | None) -> dict[str, Any]:
    """The article as templates see it: cleaned, one-line strings, never None
    (StrictUndefined makes a missing key an error; empty means "absent")."""
    author = article.author
    return {
        "title": clean(article.title),
        "lede": clean(article.lede),
        "url": link or "",
        "author": clean(author.name) if author else "",
        "role": clean(author.role) if author and author.role else "",
        "translator": clean(article.translator),
        "tags": [t for t in (clean(x) for x in article.tags) if t],
        "image": article.image if article.image and is_web_url(article.image) and not link_problem(article.image)
        else "",
        "published": article.published,
        "language": article.language,
    }


def post_fields(article: Article, channel: str, utm: UtmConfig) -> tuple[str | None, dict[str, Any], list[str]]:
    """What a social post starts from: the article's link tagged for `channel`,
    its template fields, and the warnings so far (language, no URL)."""
    warnings = language_warnings(article.language)
    link = article_link(article, channel, utm, warnings)
    if not article.url:
        warnings.append("the article has no URL: the post carries no link")
    return link, article_fields(article, link), warnings


def article_link(article: Article, channel: str, utm: UtmConfig, warnings: list[str]) -> str | None:
    """The article's link tagged for `channel`; None (and a warning) when the
    stored URL may not be a link (javascript:, spaces, credentials)."""
    if not article.url:
        return None
    problem = link_problem(article.url)
    if problem:
        warnings.append(refused(article.url, problem))
        return None
    return tag_link(article.url, channel, utm)


def language_warnings(language: str) -> list[str]:
    if i18n.supported(language):
        return []
    return [f"no strings for language {language!r}: using {i18n.FALLBACK!r}"]


def is_web_url(value: str | None) -> bool:
    return bool(value) and re.match(r"https?://[^\s/]+", value or "", re.IGNORECASE) is not None


def tidy_lines(text: str) -> str:
    """Template output made stable: no trailing spaces, at most one blank line."""
    lines = [line.rstrip() for line in text.strip().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def shrink_to_fit(
    render: Callable[[dict[str, Any]], str],
    measure: Callable[[str], int],
    limit: int,
    ctx: dict[str, Any],
    order: Sequence[str],
    *,
    url_aware: bool = False,
) -> tuple[str, dict[str, Any], bool, dict[str, int]]:
    """Render `ctx`; while over `limit`, shrink the fields in `order`.

    A string field is cut (sentence/word boundary, "…"); a list field loses
    items from its end. Fields not named (the link above all) are never
    touched. Returns (output, final ctx, truncated, kept chars per cut field).
    `url_aware`: links count a fixed weight (X), for the pre-trim bound.
    """
    ctx = dict(ctx)
    kept: dict[str, int] = {}
    for name in order:
        if isinstance(ctx[name], str):
            ctx[name], trimmed = pretrim(ctx[name], limit, url_aware=url_aware)
            if trimmed:
                kept[name] = len(ctx[name])
    out = render(ctx)
    if measure(out) <= limit:
        # Normally a pre-trimmed field is over the limit on its own; should the
        # bound be loose for some script, the shorter text is still valid.
        return out, ctx, bool(kept), kept
    for name in order:
        value = ctx[name]
        if isinstance(value, list):
            while value and measure(render(ctx)) > limit:
                value = value[:-1]
                ctx[name] = value
        else:
            cut = fit(value, lambda cand: measure(render({**ctx, name: cand})) <= limit)
            ctx[name] = cut.text
            kept[name] = cut.kept
        out = render(ctx)
        if measure(out) <= limit:
            return out, ctx, True, kept
    raise RenderError(
        f"the message is {measure(out)} long (limit {limit}) even with "
        f"{', '.join(order)} emptied: the link or the template's fixed text is too long"
    )
