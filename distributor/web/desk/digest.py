"""What the desk's digest page (/desk/digest) shows, read through the store's
API: per edition with a newsletter channel, its next issue as it will look —
the articles newsletter/next_issue.py gives the send, rendered by
render_edition_digest (the call the send makes) with the draft's subject and
intro — the articles removed from it and those an editor may add, the
number of active recipients, the next weekly slot, and an issue in progress;
then the past issues with their send progress (batches and recipients) and
the webhook's figures (web/webhook.py: issue_figures).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from distributor.actions.digest import IN_PROGRESS
from distributor.config import Settings
from distributor.edits import digest_articles
from distributor.errors import ConfigurationError, DistributorError
from distributor.newsletter.digest import next_slot
from distributor.newsletter.next_issue import next_issue
from distributor.render import render_edition_digest
from distributor.store import Store
from distributor.store.digest_drafts import Draft, Drafts
from distributor.store.issues import Issue, Issues
from distributor.store.subscribers import Subscribers
from distributor.web.desk.articles import edition_zone, local_time
from distributor.web.webhook import FIGURES, issue_figures

# The email preview's widths: a phone and a desktop mail client (as the article page's).
EMAIL_WIDTHS = (390, 600)
# How far back a held or skipped newsletter article is offered to be added.
ADDABLE_DAYS = 60
PAST_ISSUES = 20


@dataclass(frozen=True)
class Entry:
    """An article of (or for) the next issue, by its newsletter delivery."""

    delivery_id: int
    article_id: int
    title: str
    status: str
    added: bool = False  # an editor added it


@dataclass(frozen=True)
class EditionDigest:
    edition: str
    channel: str
    draft: Draft
    recipients: int
    next_slot: str
    test_recipients: tuple[str, ...]
    items: tuple[Entry, ...]
    removed: tuple[Entry, ...]
    addable: tuple[Entry, ...]
    busy: Issue | None  # an issue in progress: Send now is refused until it is finished
    subject: str = ""  # the rendered issue's subject
    email_html: str = ""
    warnings: tuple[str, ...] = ()
    error: str | None = None  # the render failed: what it said


@dataclass(frozen=True)
class PastIssue:
    id: int
    edition: str
    at: str
    at_iso: str
    subject: str
    status: str
    reason: str | None
    batches_sent: int
    batches: int
    recipients_sent: int
    recipients: int
    figures: dict[str, int] | None  # None: no event came back (yet)


@dataclass(frozen=True)
class DigestPage:
    editions: tuple[EditionDigest, ...]
    past: tuple[PastIssue, ...]
    figures: tuple[str, ...] = tuple(FIGURES)
    email_widths: tuple[int, ...] = field(default=EMAIL_WIDTHS)


def newsletter_codes(settings: Settings) -> list[str]:
    return [code for code, e in settings.editions.items() if e.channels.newsletter is not None]


def digest_page(settings: Settings, store: Store, now: dt.datetime) -> DigestPage:
    editions = tuple(edition_digest(settings, store, code, now) for code in newsletter_codes(settings))
    return DigestPage(editions, past_issues(settings, store))


def _entry(settings: Settings, store: Store, delivery_id: int, article_id: int, draft: Draft) -> Entry:
    stored = store.get_article(article_id)
    status = store.outbox.get(delivery_id).status
    return Entry(delivery_id, article_id, stored.article.title or stored.article.label, str(status),
                 delivery_id in draft.added)


def edition_digest(settings: Settings, store: Store, edition: str, now: dt.datetime) -> EditionDigest:
    nl = settings.editions[edition].channels.newsletter
    assert nl is not None  # newsletter_codes
    nxt = next_issue(settings, store, edition, now)
    drafts = Drafts(store.engine)
    zone = edition_zone(settings, edition)
    addable = drafts.addable(edition, since=now - dt.timedelta(days=ADDABLE_DAYS))
    busy = Issues(store.engine).unfinished(edition, IN_PROGRESS)
    view = EditionDigest(
        edition=edition, channel=f"{edition}.newsletter", draft=nxt.draft,
        recipients=Subscribers(store.engine).counts(edition).get("active", 0),
        next_slot=local_time(next_slot(settings, edition, now), zone),
        test_recipients=tuple(nl.test_recipients),
        items=tuple(_entry(settings, store, d, a, nxt.draft) for d, a in nxt.items),
        removed=tuple(_entry(settings, store, d, a, nxt.draft) for d, a in nxt.removed),
        addable=tuple(_entry(settings, store, d, a, nxt.draft) for d, a in addable),
        busy=busy[0] if busy else None)
    if not nxt.items:
        return view
    try:
        # As the send renders it (newsletter/digest.py: assemble), without the "view in
        # browser" link: an issue not made yet has no archive page.
        articles = digest_articles(store, store.get_articles([a for _, a in nxt.items]))
        msg = render_edition_digest(settings, edition, articles,
                                    now.astimezone(zone).date(), subject=nxt.subject(), intro=nxt.intro())
    except (DistributorError, ConfigurationError) as exc:
        return replace(view, error=str(exc))
    return replace(view, subject=msg.subject or "", email_html=msg.html or "", warnings=msg.warnings)


def past_issues(settings: Settings, store: Store, limit: int = PAST_ISSUES) -> tuple[PastIssue, ...]:
    repo = Issues(store.engine)
    rows = repo.recent(limit)
    figures = issue_figures(store.engine, [i.id for i in rows])
    out = []
    for i in rows:
        batches = repo.batches(i.id).values()
        sent = [b for b in batches if b.status == "sent"]
        zone = edition_zone(settings, i.edition)
        when = i.sent_at or i.slot
        out.append(PastIssue(i.id, i.edition, local_time(when, zone), when.isoformat(), i.subject, str(i.status),
                             i.reason, len(sent), max(i.batch_count, len(sent)), sum(b.recipients for b in sent),
                             i.recipient_count, figures.get(i.id)))
    return tuple(out)


def count(n: int, lang: str) -> str:
    """A count as the page's language writes it: 1,234 · 1.234 · 1 234."""
    sep = {"de": ".", "fr": "\u202f"}.get(lang, ",")
    return f"{n:,}".replace(",", sep)
