"""What the desk's article page (/desk/articles/<id>) shows, read through the
store's API: per channel the article's edition has configured, the variant
as readers will see it — rendered by edits.render_sent, the very call the
delivery loop makes (the template's render, or an editor's current edit),
from the same stored article — the state of its delivery, the editor actions
that apply to that state (the rules are actions/deliveries.py's MOVES and
awaits_approval, not repeated here), the editor's edit of the variant (or
what the edit field starts from), and after a send the request the attempt
recorded and the remote id; then the article's history from the audit table.

Telegram's HTML is shown as HTML only when render/telegram_html.py's check
accepts it (a safe subset: b, i, a href=http(s)/tg, spoiler, code, …);
otherwise it is shown escaped, as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from distributor.actions.deliveries import MOVES, awaits_approval
from distributor.app import App
from distributor.config import Settings
from distributor.delivery import SOCIAL_KINDS
from distributor.edits import render_sent
from distributor.errors import ConfigurationError, DistributorError
from distributor.render import RenderedMessage, render_article
from distributor.render.edits import edit_text_of
from distributor.render.email import EmailLimits
from distributor.render.telegram import TelegramLimits
from distributor.render.twitter import XLimits
from distributor.render.telegram_html import problems
from distributor.render.twitter import weighted_length
from distributor.store import Store
from distributor.store.audit import Audit, AuditEntry
from distributor.store.edits import Edit, Edits
from distributor.store.outbox import DeliveryRow
from distributor.store.outbox import DeliveryStatus as S
from distributor.store.records import StoredArticle
from distributor.web.desk.articles import (KIND_ORDER, ArticleView, DeliveryView, article_view, delivery_view,
                                           edition_zone, local_time)

# The kinds the page previews, in their order on the page.
PREVIEWED = ("telegram", "twitter", "newsletter")
# The order of a channel's buttons. "approve" goes first once the approval
# mode has it (it is added to `applicable` with the awaiting_approval state).
ACTION_ORDER = ("approve", "send", "resend", "release", "retry", "hold", "skip")
# The email preview's widths: a phone and a desktop mail client.
EMAIL_WIDTHS = (390, 600)


def applicable(kind: str, status: str | None, *, awaiting: bool = False) -> tuple[str, ...]:
    """The editor actions that apply to a `kind` channel whose (latest)
    delivery is in `status` (None: nothing planned yet), from MOVES;
    `awaiting`: it awaits an editor's approval (actions' awaits_approval)."""
    found = {"approve"} if awaiting and status is not None else set()
    if kind in SOCIAL_KINDS:  # the newsletter's articles go out with the digest, never one by one
        if status is None or status in MOVES["send"].only_from:
            found.add("send")
        if status == S.SENT:
            found.add("resend")  # a new, recorded delivery: send_now refuses what is sent
    for action in ("skip", "hold", "release", "retry"):
        if status is not None and status in MOVES[action].only_from:
            found.add(action)
    return tuple(a for a in ACTION_ORDER if a in found)


@dataclass(frozen=True)
class Post:
    """One post of a tweet or thread, with its weighted count."""

    text: str
    weighted: int
    limit: int


@dataclass(frozen=True)
class Preview:
    kind: str
    error: str | None = None  # the render failed: what it said
    warnings: tuple[str, ...] = ()
    length: int = 0
    limit: int = 0
    # telegram
    body: Markup | None = None  # the message's HTML when the check accepts it, else the escaped text
    html_ok: bool = True
    photo: str | None = None
    link_preview_url: str | None = None
    # twitter
    posts: tuple[Post, ...] = ()
    # newsletter
    subject: str | None = None
    email_html: str | None = None


@dataclass(frozen=True)
class Sent:
    """What the latest attempt recorded: its request, and the remote id."""

    request: str | None  # pretty JSON of the payload's "request"
    remote_id: str | None
    link: str | None
    outcome: str
    at: str


@dataclass(frozen=True)
class EditView:
    """The variant's edit field: the editor's edit if there is one (current
    or out of date), else the template's text to start from."""

    text: str  # what the field holds
    limit: int  # the platform's limit the help text names
    edit_id: int = 0  # the stored edit's id (0: none), what an approval names as seen
    actor: str = ""
    at: str = ""
    version: int = 0  # the article version it was written for
    current: bool = False  # written for the article's version: it is what goes out
    needs_approval: bool = False  # the channel requires approval: an edit needs a fresh one


@dataclass(frozen=True)
class Panel:
    kind: str
    channel: str
    delivery: DeliveryView | None  # the latest delivery on the channel
    earlier: tuple[DeliveryView, ...]  # earlier ones (resends leave them)
    actions: tuple[str, ...]
    preview: Preview
    sent: Sent | None
    edit: EditView | None = None


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    at_iso: str
    actor: str
    action: str
    outcome: str
    channel: str | None
    detail: str | None


@dataclass(frozen=True)
class ArticleDetail:
    article: ArticleView
    panels: tuple[Panel, ...]
    others: tuple[DeliveryView, ...]  # deliveries on channels the page does not preview (skipped kinds)
    history: tuple[HistoryEntry, ...]
    email_widths: tuple[int, ...] = field(default=EMAIL_WIDTHS)
    version: int = 1  # the article's version shown (what an approval or an edit names as seen)

    @property
    def approve_all(self) -> bool:
        """"Approve all" applies: at least one channel awaits approval."""
        return any("approve" in p.actions for p in self.panels)


def article_detail(settings: Settings, store: Store, article_id: int) -> ArticleDetail:
    """The page's data; DistributorError for an unknown article."""
    stored = store.get_article(article_id)
    rows = store.deliveries(article_id=stored.id)
    edition = stored.article.language
    cfg = settings.editions.get(edition)
    configured = [k for k in PREVIEWED if cfg is not None and getattr(cfg.channels, k, None) is not None]
    edits = Edits(store.engine).of_article(stored.id)
    panels = tuple(panel(settings, store, stored, kind, [d for d in rows if d.kind == kind], edits.get(kind))
                   for kind in configured)
    others = tuple(delivery_view(settings, d) for d in sorted(rows, key=lambda d: (KIND_ORDER.get(d.kind, 9), d.id))
                   if d.kind not in configured)
    zone = edition_zone(settings, edition)
    history = tuple(HistoryEntry(local_time(e.at, zone), e.at.isoformat(), e.actor, e.action, e.outcome, e.channel,
                                 e.detail) for e in article_history(store, stored.id))
    return ArticleDetail(article_view(settings, stored, rows), panels, others, history, version=stored.version)


def article_history(store: Store, article_id: int) -> list[AuditEntry]:
    return Audit(store.engine).history(article_id=article_id)


def panel(settings: Settings, store: Store, stored: StoredArticle, kind: str, rows: list[DeliveryRow],
          edit: Edit | None = None) -> Panel:
    rows = sorted(rows, key=lambda d: (d.seq, d.id))
    latest = rows[-1] if rows else None
    view = delivery_view(settings, latest) if latest is not None else None
    awaiting = latest is not None and awaits_approval(App(settings, store), latest, stored.version)
    return Panel(kind=kind, channel=f"{stored.article.language}.{kind}", delivery=view,
                 earlier=tuple(delivery_view(settings, d) for d in rows[:-1]),
                 actions=applicable(kind, latest.status if latest is not None else None, awaiting=awaiting),
                 preview=preview(settings, store, stored, kind), sent=last_sent(settings, store, latest, view),
                 edit=edit_view(settings, stored, kind, edit))


def edit_view(settings: Settings, stored: StoredArticle, kind: str, edit: Edit | None) -> EditView | None:
    """The edit field of the variant (None when the template cannot render it)."""
    try:
        base = render_article(settings, stored.article, kind)
    except (DistributorError, ConfigurationError):
        return None
    cfg = getattr(settings.editions[stored.article.language].channels, kind)
    limit = {"telegram": TelegramLimits.caption if base.photo else TelegramLimits.text,
             "twitter": XLimits.weighted}.get(kind, EmailLimits.lede_chars)
    needs = cfg is not None and cfg.approval == "required"
    if edit is None:
        return EditView(edit_text_of(base, stored.article), limit, needs_approval=needs)
    zone = edition_zone(settings, stored.article.language)
    return EditView(edit.text, limit, edit.id, edit.actor, local_time(edit.created_at, zone), edit.article_version,
                    edit.current(stored.version), needs)


def preview(settings: Settings, store: Store, stored: StoredArticle, kind: str) -> Preview:
    """The variant as the send renders it (delivery.py: edits.render_sent of
    the stored article), shaped for the page."""
    try:
        msg = render_sent(settings, store, stored, kind)
    except (DistributorError, ConfigurationError) as exc:
        return Preview(kind, error=str(exc))
    common: dict[str, Any] = dict(warnings=msg.warnings, length=msg.length, limit=msg.limit)
    if kind == "telegram":
        return telegram_preview(msg, common)
    if kind == "twitter":
        parts = msg.parts or (msg.text,)
        return Preview(kind, posts=tuple(Post(p, weighted_length(p), msg.limit) for p in parts), **common)
    return Preview(kind, subject=msg.subject, email_html=msg.html or "", **common)


def telegram_preview(msg: RenderedMessage, common: dict[str, Any]) -> Preview:
    body, ok = telegram_body(msg.text)
    # As channels/telegram.py's build_post sends it: a photo with the text as
    # its caption, or a text message with its link preview.
    link = None
    if not msg.photo and msg.link_preview and not msg.link_preview.get("is_disabled"):
        link = str(msg.link_preview.get("url") or "") or None
    return Preview("telegram", body=body, html_ok=ok, photo=msg.photo or None, link_preview_url=link, **common)


def telegram_body(html: str) -> tuple[Markup, bool]:
    """The message's HTML to put in the page: as it is when the render
    check accepts it (the subset Telegram shows), else escaped (as text)."""
    if not problems(html):
        return Markup(html), True
    return escape(html), False


def last_sent(settings: Settings, store: Store, row: DeliveryRow | None, view: DeliveryView | None) -> Sent | None:
    """The latest attempt of the delivery: its recorded request and remote id."""
    if row is None:
        return None
    attempts = store.outbox.attempts(row.id)
    if not attempts:
        return None
    last = attempts[-1]
    request = None
    if last.payload:
        try:
            recorded = json.loads(last.payload).get("request")
        except (ValueError, AttributeError):
            recorded = None
        if recorded is not None:
            request = json.dumps(recorded, ensure_ascii=False, indent=2)
    zone = edition_zone(settings, row.edition)
    return Sent(request=request, remote_id=last.remote_id or row.remote_id,
                link=view.link if view is not None else None, outcome=last.outcome,
                at=local_time(last.finished_at or last.started_at, zone))
