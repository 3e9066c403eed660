"""An editor's own text for one variant, checked by the rules the send uses
and put in place of the template's render (pure: text in, message out).

    telegram     the post's HTML (Telegram's HTML subset, render/telegram_html.py's
                 check), at most 4096 characters, 1024 as a photo's caption,
                 counted as Telegram counts (UTF-16 units after entity parsing)
    twitter      the tweet, or a thread: posts separated by a line of "---";
                 each at most 280 weighted characters (render/twitter.py's
                 weighted_length), at most XLimits.thread_max_parts posts
    newsletter   the entry's text in the digest (plain text, shown escaped; the
                 title, link and the rest of the email stay the template's),
                 at most EmailLimits.lede_chars

`check_edit` raises EditRefused (what is wrong, for the form to show next to
the field); `apply_edit` makes the message that goes out from the template's
render (which keeps the photo, the link preview, the channel's settings).
"""

from __future__ import annotations

import re
from dataclasses import replace

from distributor.model import Article
from distributor.render import telegram_html
from distributor.render.email import EmailLimits
from distributor.render.message import RenderedMessage
from distributor.render.telegram import TelegramLimits, telegram_length
from distributor.render.textlimits import clean, fit
from distributor.render.twitter import XLimits, weighted_length

__all__ = ["EDITABLE", "THREAD_SEPARATOR", "EditRefused", "check_edit", "apply_edit", "edited_article",
           "edit_text_of", "posts_of"]

EDITABLE = ("telegram", "twitter", "newsletter")
# The line between the posts of a thread, in the one field a thread is edited in.
THREAD_SEPARATOR = "---"
MAX_EDIT_CHARS = 20_000  # far above every limit: a bound on what is parsed at all


class EditRefused(ValueError):
    """The edited text breaks a rule of its platform (nothing is stored)."""


def _normal(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def posts_of(text: str) -> list[str]:
    """The posts of a tweet or thread as edited ("---" lines between them)."""
    parts = re.split(rf"\n[ \t]*{re.escape(THREAD_SEPARATOR)}[ \t]*\n", f"\n{text}\n")
    return [p.strip() for p in parts]


def check_edit(kind: str, text: str, base: RenderedMessage) -> str:
    """The edit, normalised (line ends, trailing spaces), if the platform's
    rules accept it as what `base` (the template's render) would be sent as;
    EditRefused naming the rule otherwise."""
    if kind not in EDITABLE:
        raise EditRefused(f"{kind!r} cannot be edited (one of {', '.join(EDITABLE)})")
    if len(text) > MAX_EDIT_CHARS:
        raise EditRefused(f"the text is {len(text)} characters long; far over any limit")
    text = _normal(text)
    if not text:
        raise EditRefused("the text is empty: remove the edit to send the template's text")
    if any(not c.isprintable() and c not in "\n\t" for c in text):
        raise EditRefused("the text contains a control character")
    if kind == "telegram":
        found = telegram_html.problems(text)
        if found:
            raise EditRefused(f"Telegram refuses this HTML: {'; '.join(found[:3])}")
        limit = TelegramLimits.caption if base.photo else TelegramLimits.text
        length = telegram_length(text)
        if length > limit:
            what = "a photo's caption" if base.photo else "a message"
            raise EditRefused(f"the text is {length} characters long; {what} takes at most {limit}")
        if length == 0 and not base.photo:
            raise EditRefused("the text shows nothing (only tags)")
    elif kind == "twitter":
        posts = posts_of(text)
        if len(posts) > XLimits.thread_max_parts:
            raise EditRefused(f"the thread has {len(posts)} posts; at most {XLimits.thread_max_parts}")
        for i, post in enumerate(posts, 1):
            which = f"post {i}" if len(posts) > 1 else "the post"
            if not post:
                raise EditRefused(f"{which} is empty (a {THREAD_SEPARATOR} line with nothing after it?)")
            n = weighted_length(post)
            if n > XLimits.weighted:
                raise EditRefused(f"{which} is {n} weighted characters long; X takes at most {XLimits.weighted}")
    elif len(text) > EmailLimits.lede_chars:
        raise EditRefused(f"the text is {len(text)} characters long; a digest entry takes at most "
                          f"{EmailLimits.lede_chars}")
    return text


def apply_edit(base: RenderedMessage, kind: str, text: str) -> RenderedMessage:
    """The message with the (checked) edit in place of the template's text.
    The newsletter's is applied to the article instead (edited_article)."""
    # What the template's text needed (cut to fit, made a thread) says nothing of the editor's.
    warnings = tuple(w for w in base.warnings if not w.startswith(("shortened", "posted as a thread")))
    if kind == "telegram":
        return replace(base, text=text, length=telegram_length(text), truncated=False, warnings=warnings)
    if kind == "twitter":
        posts = posts_of(text)
        return replace(base, text=posts[0], parts=tuple(posts) if len(posts) > 1 else (),
                       length=max(weighted_length(p) for p in posts), truncated=False, warnings=warnings)
    return base


def edited_article(article: Article, text: str) -> Article:
    """The article as the digest shows it with the entry's text edited."""
    return article.replace(lede=text)


def edit_text_of(message: RenderedMessage, article: Article) -> str:
    """What the edit field starts from: the template's text as it is sent
    (the newsletter's: the entry's text, the article's lede as the digest
    shows it)."""
    if message.channel == "twitter":
        return f"\n{THREAD_SEPARATOR}\n".join(message.parts or (message.text,))
    if message.channel == "newsletter":
        return fit(clean(article.lede), lambda c: len(c) <= EmailLimits.lede_chars).text
    return message.text
