"""What the editors' bot keeps in the database: the approval message of each
article in the editors' group, and the alerts of events still going on.

Both are claimed with a conditional write before the Bot API call and
completed after it, so that two bot processes (or a restart) never post the
same approval message or alert twice: the process whose INSERT (or
conditional UPDATE) wrote the row posts; the others find it taken. A failed
post gives its claim back, so the next look tries again. A claim left
without a message id by a process that died mid-post is taken over after
CLAIM_LEASE; that post may then be in the group twice, which for a message
to editors is the lesser harm than never showing an article to approve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from distributor.store.db import insert_ignore
from distributor.store.edits import EDITED, REMOVED
from distributor.store.outbox import DeliveryStatus
from distributor.store.schema import articles, audit, deliveries, editorbot_alerts, editorbot_messages

__all__ = ["BotMessage", "BotRecords", "CLAIM_LEASE"]

CLAIM_LEASE = dt.timedelta(minutes=2)

M, A = editorbot_messages, editorbot_alerts


@dataclass(frozen=True)
class BotMessage:
    article_id: int
    chat_id: str
    message_id: int | None
    shown: str | None
    claimed_at: dt.datetime
    updated_at: dt.datetime


class BotRecords:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ------------------------------------------------------------ approval messages

    def claim_message(self, article_id: int, chat_id: str, *, now: dt.datetime) -> bool:
        """Whether this process is to post the article's approval message:
        no one posted it, and no one else is posting it now."""
        key = (M.c.article_id == article_id) & (M.c.chat_id == chat_id)
        with self.engine.begin() as conn:
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
            if conn.execute(insert_ignore(conn, M).values(article_id=article_id, chat_id=chat_id, claimed_at=now,
                                                          updated_at=now).returning(M.c.article_id)).first():
                return True
            return bool(conn.execute(M.update().where(key, M.c.message_id.is_(None),
                                                      M.c.claimed_at < now - CLAIM_LEASE)
                                     .values(claimed_at=now, updated_at=now)).rowcount)

    def posted(self, article_id: int, chat_id: str, message_id: int, shown: str, *, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(M.update().where(M.c.article_id == article_id, M.c.chat_id == chat_id)
                         .values(message_id=message_id, shown=shown, updated_at=now))

    def unclaim_message(self, article_id: int, chat_id: str) -> None:
        """The post failed: the next look posts it."""
        with self.engine.begin() as conn:
            conn.execute(M.delete().where(M.c.article_id == article_id, M.c.chat_id == chat_id,
                                          M.c.message_id.is_(None)))

    def messages(self, chat_id: str, article_ids: Iterable[int] | None = None) -> list[BotMessage]:
        """The approval messages posted (or being posted) in the chat."""
        q = sa.select(M).where(M.c.chat_id == chat_id).order_by(M.c.article_id)
        if article_ids is not None:
            q = q.where(M.c.article_id.in_(list(article_ids)))
        with self.engine.connect() as conn:
            return [BotMessage(**r._mapping) for r in conn.execute(q)]

    def newest_article_ids(self, limit: int) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(articles.c.id).order_by(articles.c.id.desc()).limit(limit)).scalars())

    def unposted_awaiting(self, chat_id: str) -> list[int]:
        """Articles with a delivery awaiting approval and no message in the
        chat yet, oldest first."""
        posted = sa.select(M.c.article_id).where(M.c.chat_id == chat_id)
        q = (sa.select(deliveries.c.article_id).where(deliveries.c.status == DeliveryStatus.AWAITING_APPROVAL,
                                                      deliveries.c.article_id.not_in(posted))
             .group_by(deliveries.c.article_id).order_by(deliveries.c.article_id))
        with self.engine.connect() as conn:
            return [r.article_id for r in conn.execute(q)]

    def stale(self, chat_id: str) -> list[BotMessage]:
        """The posted messages whose article, one of its deliveries, or the
        editors' text of one of its variants changed since the message was
        last brought up to date. An edit saved or removed is seen by its audit
        row, written with it (store/edits.py): a removal leaves no row in
        variant_edits, nor always a delivery changed."""
        changed = sa.or_(
            sa.exists().where(deliveries.c.article_id == M.c.article_id, deliveries.c.updated_at >= M.c.updated_at),
            sa.exists().where(articles.c.id == M.c.article_id, articles.c.updated_at >= M.c.updated_at),
            sa.exists().where(audit.c.article_id == M.c.article_id, audit.c.action.in_(("edit", "unedit")),
                              audit.c.outcome.in_((EDITED, REMOVED)),
                              audit.c.at >= M.c.updated_at))
        q = sa.select(M).where(M.c.chat_id == chat_id, M.c.message_id.is_not(None), changed).order_by(M.c.article_id)
        with self.engine.connect() as conn:
            return [BotMessage(**r._mapping) for r in conn.execute(q)]

    def message_of(self, chat_id: str, message_id: int) -> BotMessage | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(M).where(M.c.chat_id == chat_id, M.c.message_id == message_id)).first()
        return BotMessage(**row._mapping) if row else None

    def reshow(self, article_id: int, chat_id: str, *, was: str | None, shown: str, now: dt.datetime) -> bool:
        """Record that the message shows `shown` as of `now` (the time its
        article was read), if it still showed `was` (False: another process
        is editing it to the same end)."""
        with self.engine.begin() as conn:
            return bool(conn.execute(M.update().where(
                M.c.article_id == article_id, M.c.chat_id == chat_id, M.c.message_id.is_not(None),
                M.c.shown.is_(None) if was is None else M.c.shown == was).values(shown=shown, updated_at=now)
            ).rowcount)

    # ------------------------------------------------------------ alerts

    def alerted(self) -> dict[str, str]:
        """Every event alerted and not over: key -> fingerprint."""
        with self.engine.connect() as conn:
            return {r.key: r.fingerprint for r in conn.execute(sa.select(A.c.key, A.c.fingerprint))}

    def claim_alert(self, key: str, fingerprint: str, *, now: dt.datetime) -> bool:
        """Whether this process is to send the alert of the event `key`: not
        alerted yet, or alerted for another episode (fingerprint)."""
        with self.engine.begin() as conn:
            if conn.execute(insert_ignore(conn, A).values(key=key, fingerprint=fingerprint, alerted_at=now)
                            .returning(A.c.key)).first():
                return True
            return bool(conn.execute(A.update().where(A.c.key == key, A.c.fingerprint != fingerprint)
                                     .values(fingerprint=fingerprint, alerted_at=now, message_id=None)).rowcount)

    def alert_sent(self, key: str, message_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(A.update().where(A.c.key == key).values(message_id=message_id))

    def forget_alerts(self, keys: Iterable[str]) -> None:
        """The events are over (or their alert could not be sent): a new
        episode is alerted anew."""
        keys = list(keys)
        if not keys:
            return
        with self.engine.begin() as conn:
            conn.execute(A.delete().where(A.c.key.in_(keys)))
