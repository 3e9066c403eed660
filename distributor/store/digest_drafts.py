"""The editors' draft of each edition's next digest issue: the subject and
intro set on the desk (/desk/digest) and the articles removed from or added
to it, each change written with its audit row in one transaction.

The draft is what the next issue is made of (newsletter/next_issue.py):
whichever sends it — the desk's Send now, `digest --send`, the daemon's
weekly slot — makes the issue in a transaction that also `take`s the draft:
deletes it, but only at the version that was read (else StaleItems, and the
issue is made again from the draft as it is now). So the following issue
starts fresh, an article removed from this one is pending for it, and an
edit saved while an issue was being made is never silently lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from distributor.store.audit import Audit, AuditNote
from distributor.store.issues import StaleItems
from distributor.store.outbox import DeliveryStatus
from distributor.store.schema import deliveries, digest_draft_articles, digest_drafts, issue_items

REMOVED, ADDED = "removed", "added"
# The newsletter deliveries an editor may add to the next issue: what is not
# going out (held, skipped by an editor or the footer), never one an issue
# carried, nor one awaiting approval (approving it is the way in).
ADDABLE = (DeliveryStatus.HELD, DeliveryStatus.CANCELLED, DeliveryStatus.SKIPPED)


@dataclass(frozen=True)
class Draft:
    edition: str
    subject: str | None = None  # None: the default subject
    intro: str | None = None  # None: the default intro line
    version: int = 0  # 0: nothing stored (an issue made from it checks that none appeared meanwhile)
    removed: frozenset[int] = field(default_factory=frozenset)  # delivery ids
    added: frozenset[int] = field(default_factory=frozenset)
    updated_at: dt.datetime | None = None
    updated_by: str | None = None


class Drafts:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def get(self, edition: str) -> Draft:
        with self.engine.connect() as conn:
            return self._get(conn, edition)

    @staticmethod
    def _get(conn: sa.Connection, edition: str) -> Draft:
        row = conn.execute(sa.select(digest_drafts).where(digest_drafts.c.edition == edition)).first()
        if row is None:
            return Draft(edition)
        chosen = conn.execute(sa.select(digest_draft_articles.c.delivery_id, digest_draft_articles.c.choice)
                              .where(digest_draft_articles.c.edition == edition)).all()
        return Draft(edition, row.subject, row.intro, row.version,
                     frozenset(d for d, c in chosen if c == REMOVED), frozenset(d for d, c in chosen if c == ADDED),
                     row.updated_at, row.updated_by)

    def save(self, edition: str, *, subject: str | None, intro: str | None, now: dt.datetime, by: str,
             audit: AuditNote | None = None) -> Draft:
        """Set the next issue's own subject and intro (None: the default)."""
        with self.engine.begin() as conn:
            self._touch(conn, edition, now, by, subject=subject or None, intro=intro or None)
            if audit is not None:
                Audit.insert(conn, audit, at=now)
            return self._get(conn, edition)

    def choose(self, edition: str, delivery_id: int, choice: str | None, *, now: dt.datetime, by: str,
               audit: AuditNote | None = None) -> Draft:
        """Record that an article (its newsletter delivery) is removed from or
        added to the next issue; None: the choice undone."""
        if choice not in (REMOVED, ADDED, None):
            raise ValueError(f"a draft's choice is {REMOVED!r} or {ADDED!r}, not {choice!r}")
        with self.engine.begin() as conn:
            self._touch(conn, edition, now, by)
            key = (digest_draft_articles.c.edition == edition, digest_draft_articles.c.delivery_id == delivery_id)
            conn.execute(digest_draft_articles.delete().where(*key))
            if choice is not None:
                conn.execute(digest_draft_articles.insert().values(edition=edition, delivery_id=delivery_id,
                                                                   choice=choice, at=now, by=by))
            if audit is not None:
                Audit.insert(conn, audit, at=now)
            return self._get(conn, edition)

    @staticmethod
    def _touch(conn: sa.Connection, edition: str, now: dt.datetime, by: str, **values: str | None) -> None:
        """The draft row, made if missing, its version counted up (locked on
        PostgreSQL until the transaction ends; SQLite serialises writers)."""
        row = conn.execute(sa.select(digest_drafts.c.version).where(digest_drafts.c.edition == edition)
                           .with_for_update()).first()
        if row is None:
            conn.execute(digest_drafts.insert().values(edition=edition, version=1, updated_at=now, updated_by=by,
                                                       **values))
        else:
            conn.execute(digest_drafts.update().where(digest_drafts.c.edition == edition).values(
                version=digest_drafts.c.version + 1, updated_at=now, updated_by=by, **values))

    @staticmethod
    def take(conn: sa.Connection, edition: str, version: int) -> None:
        """Inside the transaction that makes the edition's issue: delete the
        draft it was made from; StaleItems if the draft is no longer the one
        read (`version`; 0: there was none)."""
        current = conn.execute(sa.select(digest_drafts.c.version).where(digest_drafts.c.edition == edition)
                               .with_for_update()).scalar()
        if (current or 0) != version:
            raise StaleItems(f"the {edition} draft changed while the issue was being made")
        if current is not None:
            conn.execute(digest_draft_articles.delete().where(digest_draft_articles.c.edition == edition))
            conn.execute(digest_drafts.delete().where(digest_drafts.c.edition == edition))

    def addable(self, edition: str, *, since: dt.datetime, limit: int = 30) -> list[tuple[int, int]]:
        """(delivery id, article id) of the edition's newsletter deliveries an
        editor may add to the next issue (ADDABLE, in no issue), changed since
        `since`, the latest first."""
        q = (sa.select(deliveries.c.id, deliveries.c.article_id)
             .where(deliveries.c.channel == f"{edition}.newsletter", deliveries.c.status.in_(ADDABLE),
                    deliveries.c.id.not_in(sa.select(issue_items.c.delivery_id)), deliveries.c.updated_at >= since)
             .order_by(deliveries.c.updated_at.desc(), deliveries.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [(r.id, r.article_id) for r in conn.execute(q)]
