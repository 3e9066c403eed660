"""Email: the weekly digest and the double opt-in confirmation.

Both are an HTML part (table layout, CSS inlined with css-inline, no external
stylesheet, a hidden preheader, alt text on every image) and a plain-text part.
The digest carries RFC 8058 one-click unsubscribe headers whose `{token}` slot
the sender fills per recipient (a SendGrid substitution); the token must
be URL-safe (an HMAC in base64url, say). Its "view in browser" link may carry
an `{issue}` slot, filled once the issue has its id (`fill_issue`).

An editor may give an issue its own subject and intro (`editor_subject`,
`editor_intro` check them): the subject replaces the default one, the intro
(plain text, escaped; blank lines separate paragraphs) the default intro line.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Sequence
from urllib.parse import quote

import css_inline

from distributor.config import NewsletterChannelConfig, UtmConfig
from distributor.errors import RenderError
from distributor.model import Article
from distributor.render import i18n
from distributor.render.common import article_fields, article_link, language_warnings, tidy_lines
from distributor.render.env import Templates
from distributor.render.message import TOKEN_SLOT, RenderedMessage
from distributor.render.textlimits import clean, fit


ISSUE_SLOT = "{issue}"  # the issue id in the archive link, filled by fill_issue


class EmailLimits:
    gmail_clip_bytes = 102_400  # Gmail clips HTML bodies above ~102 KB
    lede_chars = 600  # a digest entry is a teaser, not the article
    title_chars = 200
    preheader_chars = 110  # what inbox previews show
    subject_chars = 120
    editor_subject_chars = 200  # an editor's own subject: refused above this, never cut
    intro_chars = 2000


_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False)


def unsubscribe_headers(url: str, newsletter: NewsletterChannelConfig | None = None
                        ) -> tuple[dict[str, str], list[str]]:
    """List-Unsubscribe (https and mailto) and List-Unsubscribe-Post, with the
    {token} slot; and warnings when one-click cannot work. `url` is the
    one-click address ([web] base_url + /unsubscribe/{token})."""
    warnings: list[str] = []
    if not url:
        return {}, ["no unsubscribe URL: the digest has no List-Unsubscribe headers"]
    if TOKEN_SLOT not in url:
        warnings.append(f"the unsubscribe URL has no {TOKEN_SLOT} slot: every recipient gets the same link")
    if not url.lower().startswith("https://") and newsletter is not None and newsletter.mode == "live":
        warnings.append("the unsubscribe URL ([web] base_url) is not https: mail providers ignore "
                        "one-click unsubscribe (RFC 8058)")
    uris = [f"<{url}>"]
    if newsletter is not None and newsletter.unsubscribe_mailto:
        subject = quote("unsubscribe ", safe="") + TOKEN_SLOT
        uris.append(f"<mailto:{newsletter.unsubscribe_mailto}?subject={subject}>")
    return {
        "List-Unsubscribe": ", ".join(uris),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }, warnings


def editor_subject(subject: str | None) -> str:
    """An editor's subject, checked: one line (CR/LF would inject headers),
    printable, not blank, at most `editor_subject_chars`."""
    if subject is None:
        return ""
    if "\r" in subject or "\n" in subject:
        raise RenderError("the subject contains a line break (CR or LF): a subject is one line")
    if any(not c.isprintable() for c in subject):
        raise RenderError("the subject contains a control character")
    subject = " ".join(subject.split())
    if not subject:
        raise RenderError("the subject is empty")
    if len(subject) > EmailLimits.editor_subject_chars:
        raise RenderError(f"the subject is {len(subject)} characters long; at most "
                          f"{EmailLimits.editor_subject_chars}")
    return subject


def editor_intro(intro: str | None) -> str:
    """An editor's intro, checked: plain text (HTML in it is shown as text,
    escaped), at most `intro_chars`; line breaks kept, other control
    characters refused."""
    if intro is None:
        return ""
    intro = intro.replace("\r\n", "\n").replace("\r", "\n").strip()
    if any(not c.isprintable() and c not in "\n\t" for c in intro):
        raise RenderError("the intro contains a control character")
    if len(intro) > EmailLimits.intro_chars:
        raise RenderError(f"the intro is {len(intro)} characters long; at most {EmailLimits.intro_chars}")
    return intro


def _paragraphs(intro: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", intro) if p.strip()]


def fill_issue(message: RenderedMessage, issue_id: int) -> RenderedMessage:
    """The message with its archive link naming the issue."""
    from dataclasses import replace

    slot = ISSUE_SLOT
    return replace(message, text=message.text.replace(slot, str(issue_id)),
                   html=message.html.replace(slot, str(issue_id)) if message.html is not None else None)


def _short(text: str, chars: int) -> str:
    return fit(text, lambda c: len(c) <= chars).text


def _finish_html(html: str) -> tuple[str, list[str]]:
    html = _INLINER.inline(html)
    warnings = []
    if re.search(r"<link\b[^>]*stylesheet", html, re.IGNORECASE):
        warnings.append("the HTML links an external stylesheet, which mail clients drop")
    for img in re.findall(r"<img\b[^>]*>", html, re.IGNORECASE):
        if not re.search(r'\balt="[^"]+"', img):
            warnings.append("an image has no alt text")
    size = len(html.encode("utf-8"))
    if size > EmailLimits.gmail_clip_bytes:
        warnings.append(f"the HTML is {size} bytes: Gmail clips messages above {EmailLimits.gmail_clip_bytes}")
    return html, warnings


def _render_parts(templates: Templates, language: str, name: str, ctx: dict) -> tuple[str, str, list[str]]:
    """An email's HTML (finished: CSS inlined, checked) and plain-text parts,
    from the templates `name`.html.j2 and `name`.txt.j2; and the HTML's warnings."""
    html, warnings = _finish_html(templates.render(language, f"{name}.html.j2", **ctx))
    text = tidy_lines(templates.render(language, f"{name}.txt.j2", **ctx)) + "\n"
    return html, text, warnings


def render_digest(
    articles: Sequence[Article],
    *,
    templates: Templates,
    language: str,
    name: str,
    issue_date: dt.date,
    newsletter: NewsletterChannelConfig | None = None,
    utm: UtmConfig | None = None,
    unsubscribe_url: str = "",
    archive_url: str = "",
    subject: str | None = None,
    intro: str | None = None,
) -> RenderedMessage:
    """The digest of `articles` for one edition (`name` is the outlet's name
    as readers know it, e.g. "Novastan"); `unsubscribe_url` has the {token}
    slot, filled per recipient; `archive_url` ("" = no link) the public copy,
    perhaps with the {issue} slot; `subject` and `intro` an editor's own."""
    if not articles:
        raise RenderError("the digest has no articles")
    utm = utm or UtmConfig()
    t = i18n.strings(language)
    warnings = language_warnings(language)
    name = clean(name) or "Newsletter"
    entries = []
    for a in articles:
        f = article_fields(a, article_link(a, "newsletter", utm, warnings))
        f["title"] = _short(f["title"], EmailLimits.title_chars)
        f["lede"] = _short(f["lede"], EmailLimits.lede_chars)
        # An untitled article leads with its lede; lists and alt text name it by it.
        name_of = f["title"] or _short(clean(a.lede), 80)
        f["image_alt"] = t["image_alt"].format(title=name_of)
        if not a.url:
            warnings.append(f"{name_of[:60]!r} has no URL: the digest cannot link it")
        entries.append(f)
    subject = editor_subject(subject) or _short(
        t["digest_subject"].format(name=name, date=i18n.format_date(issue_date, language)), EmailLimits.subject_chars)
    intro = editor_intro(intro)
    new_articles = i18n.plural(len(entries), language)
    preheader = _short(t["digest_preheader"].format(articles=new_articles,
                                                    first=entries[0]["title"] or entries[0]["lede"]),
                       EmailLimits.preheader_chars)
    postal = newsletter.postal_address if newsletter is not None else ""
    if newsletter is not None and newsletter.mode == "live" and not postal.strip():
        warnings.append("no postal_address for the newsletter: CAN-SPAM requires one in the footer")
    headers, header_warnings = unsubscribe_headers(unsubscribe_url, newsletter)
    warnings += header_warnings
    ctx = dict(
        name=name,
        subject=subject,
        preheader=preheader,
        issue_date=issue_date,
        articles=entries,
        new_articles=new_articles,
        intro=_paragraphs(intro),
        archive_url=archive_url,
        postal_address=[line.strip() for line in postal.splitlines() if line.strip()],
        unsubscribe_url=unsubscribe_url,
    )
    html, text, html_warnings = _render_parts(templates, language, "email/digest", ctx)
    return RenderedMessage(
        channel="newsletter",
        text=text,
        html=html,
        subject=subject,
        headers=headers,
        length=len(html.encode("utf-8")),
        limit=EmailLimits.gmail_clip_bytes,
        language=language,
        truncated=False,
        warnings=tuple(warnings + html_warnings),
    )


def render_confirm(*, templates: Templates, language: str, name: str, confirm_url: str) -> RenderedMessage:
    """The double opt-in email: one link that confirms the subscription."""
    t = i18n.strings(language)
    name = clean(name) or "Newsletter"
    subject = t["confirm_subject"].format(name=name)
    ctx = dict(name=name, subject=subject, preheader=t["confirm_body"].format(name=name), confirm_url=confirm_url)
    html, text, warnings = _render_parts(templates, language, "email/confirm", ctx)
    return RenderedMessage(
        channel="newsletter",
        text=text,
        html=html,
        subject=subject,
        length=len(html.encode("utf-8")),
        limit=EmailLimits.gmail_clip_bytes,
        language=language,
        warnings=tuple(language_warnings(language) + warnings),
    )
