"""Telegram: one post per article, `parse_mode=HTML` (reference §A.5–A.6).

With an image the post is a photo with a caption (1024), else a text
message (4096); both counted in UTF-16 units after entity parsing. The lede,
then the title, are cut to fit; the link is never cut.
"""

from __future__ import annotations

from typing import Any

from distributor.config import TelegramChannelConfig, UtmConfig
from distributor.errors import ConfigurationError, RenderError
from distributor.links import link_problem, shown
from distributor.model import Article
from distributor.render import telegram_html
from distributor.render.common import post_fields, shrink_to_fit, tidy_lines
from distributor.render.env import Templates
from distributor.render.message import RenderedMessage
from distributor.render.telegram_html import utf16_len

TEMPLATE = "telegram/article.html.j2"


class TelegramLimits:
    text = 4096  # MessageLimit.MAX_TEXT_LENGTH
    caption = 1024  # MessageLimit.CAPTION_LENGTH
    parse_mode = "HTML"
    shrink_order = ("lede", "title", "author")


def telegram_length(html: str) -> int:
    """What Telegram counts: UTF-16 units of the text after entity parsing.
    Raises EntityParseError for HTML Telegram refuses."""
    return utf16_len(telegram_html.visible_text(html))


def render_telegram(
    article: Article,
    *,
    templates: Templates,
    config: TelegramChannelConfig | None = None,
    utm: UtmConfig | None = None,
) -> RenderedMessage:
    config = config or TelegramChannelConfig(chat_id="")
    utm = utm or UtmConfig()
    lang = article.language
    link, ctx, warnings = post_fields(article, "telegram", utm)
    photo = ctx["image"] or None
    if article.image and not photo:
        why = link_problem(article.image) or "it is not an http(s) URL"
        warnings.append(f"image {shown(article.image)!r} not used: {why}; sent as a text message")
    ctx["is_caption"] = photo is not None
    limit = TelegramLimits.caption if photo else TelegramLimits.text

    def render(c: dict) -> str:
        return tidy_lines(templates.render(lang, TEMPLATE, **c))

    def check(html: str, c: dict | None = None) -> None:
        problems = telegram_html.problems(html)
        if not problems:
            return
        found = "; ".join(problems[:5])
        fields = _data_at_fault(render, c if c is not None else ctx)
        if fields:
            # The template is sound with ordinary data: the article's own text
            # (shown unescaped by an outlet template, say) is what breaks it.
            raise RenderError(f"the article's data ({', '.join(fields)}) gives HTML Telegram refuses: {found} "
                              f"(the data's fault: {TEMPLATE} ({lang}) renders ordinary text fine)")
        raise ConfigurationError(f"{TEMPLATE} ({lang}) produces HTML Telegram refuses: {found}")

    def measure(html: str) -> int:
        try:
            return telegram_length(html)
        except telegram_html.EntityParseError:
            check(html)
            raise

    html, final, truncated, _ = shrink_to_fit(render, measure, limit, ctx, TelegramLimits.shrink_order)
    check(html, final)
    length = telegram_length(html)
    if length == 0 and not photo:
        raise RenderError("nothing to post: the article has no title, lede or link")
    if truncated:
        warnings.append(f"shortened to fit {'a caption' if photo else 'a message'} ({limit} characters)")
    if article.url and link and link not in _hrefs(html):
        warnings.append("the template does not link the article")

    link_preview: dict[str, Any] | None
    if photo:
        link_preview = None  # a photo post has no link preview
    elif not config.link_preview or not link:
        link_preview = {"is_disabled": True}
    else:
        link_preview = {
            "url": link,
            "prefer_large_media": config.link_preview_large_media,
            "show_above_text": config.link_preview_above_text,
        }
    return RenderedMessage(
        channel="telegram",
        text=html,
        length=length,
        limit=limit,
        language=lang,
        truncated=truncated,
        warnings=tuple(warnings),
        parse_mode=TelegramLimits.parse_mode,
        photo=photo,
        link_preview=link_preview,
    )


# Ordinary stand-ins for the article's data, to tell a template's fault from the data's.
_NEUTRAL_URL = "https://example.org/article/"


def _neutral(value):
    if isinstance(value, str):
        return (_NEUTRAL_URL if value.startswith(("http://", "https://")) else "Text") if value else ""
    if isinstance(value, list):
        return ["Text"] if value else []
    return value


def _data_at_fault(render, ctx: dict) -> list[str]:
    """The fields whose own value makes the HTML refused; [] when the template
    is refused with ordinary stand-ins too (then it is the template's fault)."""
    data = [k for k, v in ctx.items() if isinstance(v, (str, list)) and v]
    neutral = {**ctx, **{k: _neutral(ctx[k]) for k in data}}
    try:
        if telegram_html.problems(render(neutral)):
            return []
    except ConfigurationError:
        return []
    return [k for k in data if telegram_html.problems(render({**neutral, k: ctx[k]}))] or data


def _hrefs(html: str) -> list[str]:
    import html as _html
    import re

    return [_html.unescape(m) for m in re.findall(r'<a href="([^"]*)"', html)]
