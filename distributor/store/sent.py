"""What went out, newest first: every post (a sent Telegram or X delivery)
and every digest issue that was sent, in one list, filtered and paged in the
database (SQLite and PostgreSQL alike), for the desk's /desk/sent.

A post went out when its attempt was answered "sent" (or, after an unknown
outcome, "found" on the account): the earliest such attempt's finish; a row
with no attempt (sent before attempts were recorded) counts from its last
change. An issue went out at its `sent_at`. Newsletter deliveries are not
listed one by one: the issue that carried them is.

Each item is ("post", delivery id, channel, time) or ("issue", issue id,
"<edition>.newsletter", time). A time window applies per edition
(`windows`: edition -> [start, end) in UTC, either end open), so that "from
3 March" means 3 March in each edition's own zone; `other_window` is the one
for channels of editions no longer configured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from distributor.store.outbox import DeliveryRow, DeliveryStatus
from distributor.store.schema import UTCDateTime, articles, deliveries, delivery_attempts, issues
from distributor.store.states import IssueStatus

__all__ = ["WentOut", "Item", "Window", "SENT_OUTCOMES"]

# The attempt outcomes that mean the post is on the channel.
SENT_OUTCOMES = ("sent", "found")
Window = tuple[dt.datetime | None, dt.datetime | None]


@dataclass(frozen=True)
class Item:
    what: str  # "post" or "issue"
    id: int  # the delivery's or the issue's
    channel: str
    at: dt.datetime


class WentOut:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    @staticmethod
    def _union() -> sa.Subquery:
        first_sent = (sa.select(delivery_attempts.c.delivery_id,
                                sa.func.min(delivery_attempts.c.finished_at).label("at"))
                      .where(delivery_attempts.c.outcome.in_(SENT_OUTCOMES),
                             delivery_attempts.c.finished_at.is_not(None))
                      .group_by(delivery_attempts.c.delivery_id).subquery())
        posts = (sa.select(sa.literal("post").label("what"), deliveries.c.id.label("id"),
                           deliveries.c.channel.label("channel"),
                           sa.func.coalesce(first_sent.c.at, deliveries.c.updated_at, type_=UTCDateTime).label("at"))
                 .select_from(deliveries.outerjoin(first_sent, first_sent.c.delivery_id == deliveries.c.id))
                 .where(deliveries.c.status == DeliveryStatus.SENT.value, deliveries.c.kind != "newsletter"))
        sent_issues = (sa.select(sa.literal("issue").label("what"), issues.c.id.label("id"),
                                 (issues.c.edition + sa.literal(".newsletter")).label("channel"),
                                 issues.c.sent_at.label("at"))
                       .where(issues.c.status == IssueStatus.SENT.value, issues.c.sent_at.is_not(None)))
        return sa.union_all(posts, sent_issues).subquery("went_out")

    @staticmethod
    def _where(u: sa.Subquery, *, windows: Mapping[str, Window], other_window: Window, edition: str | None,
               channel: str | None) -> list[sa.ColumnElement[bool]]:
        conds: list[sa.ColumnElement[bool]] = []
        if edition is not None:
            conds.append(u.c.channel.startswith(f"{edition}.", autoescape=True))
        if channel is not None:
            conds.append(u.c.channel == channel)

        def within(window: Window) -> list[sa.ColumnElement[bool]]:
            start, end = window
            return [c for c in ((u.c.at >= start) if start is not None else None,
                                (u.c.at < end) if end is not None else None) if c is not None]

        if any(any(w) for w in windows.values()) or any(other_window):
            known = [u.c.channel.startswith(f"{code}.", autoescape=True) for code in windows]
            branches = [sa.and_(k, *within(w)) for k, w in zip(known, windows.values())]
            branches.append(sa.and_(sa.not_(sa.or_(*known)) if known else sa.true(), *within(other_window)))
            conds.append(sa.or_(*branches))
        return conds

    def page(self, *, windows: Mapping[str, Window], other_window: Window = (None, None),
             edition: str | None = None, channel: str | None = None, offset: int = 0,
             limit: int = 50) -> tuple[list[Item], int]:
        """One page of what went out, newest first, and how many items match in all."""
        u = self._union()
        conds = self._where(u, windows=windows, other_window=other_window, edition=edition, channel=channel)
        q = (sa.select(u.c.what, u.c.id, u.c.channel, u.c.at).where(*conds)
             .order_by(u.c.at.desc(), u.c.what, u.c.id.desc()).offset(offset).limit(limit))
        count = sa.select(sa.func.count()).select_from(u).where(*conds)
        with self.engine.connect() as conn:
            rows = [Item(r.what, int(r.id), r.channel, r.at) for r in conn.execute(q)]
            total = int(conn.execute(count).scalar_one())
        return rows, total

    def deliveries(self, ids: Iterable[int]) -> dict[int, tuple[DeliveryRow, str]]:
        """The deliveries `ids` with their article's stored title ("" when it has none)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        q = (sa.select(deliveries, articles.c.title.label("article_title"))
             .join(articles, articles.c.id == deliveries.c.article_id).where(deliveries.c.id.in_(wanted)))
        out = {}
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                values = dict(r._mapping)
                title = values.pop("article_title") or ""
                out[int(values["id"])] = (DeliveryRow(**values), title)
        return out

