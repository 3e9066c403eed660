"""What the desk's /desk/sent shows: every post and digest issue that went
out, newest first (store/sent.py finds them, filtered and paged in the
database), each with the link to it as followers and readers see it
(articles.py's post_link and archive_link) and to the article page (for an
issue, to the pages of the articles it carried).

The filters come from the page's GET form:

    from, to    dates (YYYY-MM-DD), both included, each taken in the time zone
                of the edition of what went out (an edition no longer in the
                config: UTC)
    edition     one of the configured editions
    channel     one of the configured channels ("de.telegram", "de.newsletter")
    page        1, 2, …

A value that is none of these is a FilterError naming the field and what is
wrong with it (the page shows it next to the field, lists nothing, answers
400); nothing else about the request is guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from distributor.config import Settings
from distributor.errors import DistributorError
from distributor.store import Store
from distributor.store.issues import Issues
from distributor.store.sent import Item, WentOut, Window
from distributor.web.desk.articles import archive_link, edition_zone, local_time, post_link

PER_PAGE = 50
# The dates the filter takes: a day's bounds stay representable in every zone.
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)
MAX_PAGE = 100_000
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIELDS = ("from", "to", "edition", "channel", "page")


class FilterError(ValueError):
    """A filter value the page cannot use: which field, and the message key and its values."""

    def __init__(self, field: str, key: str, **values: object):
        super().__init__(f"{field}: {key} {values}")
        self.field, self.key, self.values = field, key, values


@dataclass(frozen=True)
class Filters:
    start: dt.date | None = None
    end: dt.date | None = None
    edition: str | None = None
    channel: str | None = None
    page: int = 1

    def query(self, page: int | None = None) -> dict[str, str]:
        """The filters as the form's query (for the pager's links)."""
        q = {"from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else "",
             "edition": self.edition or "", "channel": self.channel or ""}
        out = {k: v for k, v in q.items() if v}
        if page is not None and page > 1:
            out["page"] = str(page)
        return out


@dataclass(frozen=True)
class SentArticle:
    id: int
    title: str


@dataclass(frozen=True)
class SentItem:
    what: str  # "post" or "issue"
    id: int  # the delivery's or the issue's
    channel: str
    kind: str  # telegram, twitter, newsletter
    at: str  # when it went out, in the edition's zone
    at_iso: str
    link: str | None  # as followers and readers see it
    articles: tuple[SentArticle, ...]  # a post's article, an issue's articles
    seq: int = 0  # a post's resend number
    subject: str = ""  # an issue's
    recipients: int = 0  # an issue's


@dataclass(frozen=True)
class SentPage:
    items: tuple[SentItem, ...]
    total: int
    page: int
    has_older: bool
    has_newer: bool


def editions(settings: Settings) -> list[str]:
    return list(settings.editions)


def channels(settings: Settings) -> list[str]:
    """Every configured channel that can have sent something, edition by edition."""
    return [f"{code}.{kind}" for code, ed in settings.editions.items() for kind in ed.channels.configured()]


def read_filters(settings: Settings, params: dict[str, str]) -> Filters:
    """The filters of the query `params`; FilterError for the first bad one."""
    start, end = _date(params, "from"), _date(params, "to")
    if start and end and start > end:
        raise FilterError("to", "sent_bad_range", start=start.isoformat(), end=end.isoformat())
    edition = params.get("edition", "").strip() or None
    if edition is not None and edition not in settings.editions:
        raise FilterError("edition", "sent_bad_edition", value=_shown(edition), known=", ".join(editions(settings)))
    channel = params.get("channel", "").strip() or None
    if channel is not None and channel not in channels(settings):
        raise FilterError("channel", "sent_bad_channel", value=_shown(channel), known=", ".join(channels(settings)))
    if channel is not None and edition is not None and not channel.startswith(f"{edition}."):
        raise FilterError("channel", "sent_channel_not_of_edition", value=channel, edition=edition)
    raw = params.get("page", "").strip() or "1"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= MAX_PAGE):
        raise FilterError("page", "sent_bad_page", value=_shown(raw), most=MAX_PAGE)
    return Filters(start, end, edition, channel, int(raw))


def _date(params: dict[str, str], field: str) -> dt.date | None:
    raw = params.get(field, "").strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw) if DATE.fullmatch(raw) else None
    except ValueError:
        day = None
    if day is None:
        raise FilterError(field, "sent_bad_date", value=_shown(raw))
    if not FIRST_DAY <= day <= LAST_DAY:
        raise FilterError(field, "sent_date_out_of_range", value=raw, first=FIRST_DAY.isoformat(),
                          last=LAST_DAY.isoformat())
    return day


def _shown(value: str) -> str:
    """A bad value as the message quotes it: printable, and short."""
    clean = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in value)
    return clean if len(clean) <= 40 else clean[:39] + "…"


def window(start: dt.date | None, end: dt.date | None, zone: dt.tzinfo) -> Window:
    """[start 00:00, the day after end 00:00) in `zone`, in UTC."""
    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.timezone.utc)

    return (midnight(start) if start else None, midnight(end + dt.timedelta(days=1)) if end else None)


def sent_page(settings: Settings, store: Store, filters: Filters, per_page: int | None = None) -> SentPage:
    per_page = per_page or PER_PAGE
    windows = {code: window(filters.start, filters.end, edition_zone(settings, code)) for code in settings.editions}
    went_out = WentOut(store.engine)
    found, total = went_out.page(windows=windows, other_window=window(filters.start, filters.end, dt.timezone.utc),
                                 edition=filters.edition, channel=filters.channel,
                                 offset=(filters.page - 1) * per_page, limit=per_page)
    posts = went_out.deliveries(i.id for i in found if i.what == "post")
    items = tuple(view for i in found if (view := item_view(settings, store, i, posts)) is not None)
    return SentPage(items, total, filters.page, has_older=filters.page * per_page < total,
                    has_newer=filters.page > 1)


def item_view(settings: Settings, store: Store, item: Item, posts: dict[int, tuple]) -> SentItem | None:
    edition, _, kind = item.channel.partition(".")
    zone = edition_zone(settings, edition)
    at, at_iso = local_time(item.at, zone), item.at.isoformat()
    if item.what == "post":
        if item.id not in posts:
            return None  # gone between the two reads
        row, title = posts[item.id]
        if not title:
            title = found.title if (found := _article(store, row.article_id)) else ""
        return SentItem("post", row.id, row.channel, row.kind, at, at_iso, post_link(settings, row),
                        (SentArticle(row.article_id, title),), seq=row.seq)
    issues = Issues(store.engine)
    issue = issues.get(item.id)
    carried = tuple(a for a in (_article(store, i) for i in issues.article_ids(issue.id)) if a is not None)
    return SentItem("issue", issue.id, item.channel, "newsletter", at, at_iso,
                    archive_link(settings, issue.edition, issue.id), carried, subject=issue.subject,
                    recipients=issue.recipient_count)


def _article(store: Store, article_id: int) -> SentArticle | None:
    try:
        return SentArticle(article_id, store.get_article(article_id).article.label)
    except DistributorError:  # gone since: the issue still went out
        return None


def zone_names(settings: Settings) -> list[tuple[str, str]]:
    """(edition, its time zone), for the form's explanation."""
    return [(code, ed.timezone) for code, ed in settings.editions.items()]
