"""The editors' audit history: who did what, when, on which delivery, issue,
article or channel, and how it ended.

One row per editor action (distributor/actions.py), whichever edge called it
(the CLI, the desk, the bot): `actor` says who ("cli:<unix user>",
"desk:<name>", "telegram:<user id>"). A refused action is recorded too, with
the refusal as its detail and nothing else changed: the history shows what was
asked, not only what happened. An action that takes long (a send, a digest
issue) is recorded "started" before it acts and concluded after, so a process
that dies mid-way leaves the request in the history.

The rows are written through the store's engine, so the redaction hook
(store/db.py) scrubs every configured secret from the actor, the detail and
the rest, like the outbox's reasons and errors. Rows have no foreign keys: the
history outlives what it names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from distributor.store.db import inserted_id
from distributor.store.schema import audit

__all__ = ["Audit", "AuditEntry", "AuditNote", "STARTED", "REFUSED"]

# Outcomes besides the state or result an action ended in ("held", "sent", …).
STARTED = "started"  # recorded before a long action; concluded after it
REFUSED = "refused"  # the action was not allowed; the detail says why


@dataclass(frozen=True)
class AuditNote:
    """An audit row to write (with the change it records, where it can be)."""

    actor: str
    action: str
    outcome: str
    detail: str | None = None
    delivery_id: int | None = None
    issue_id: int | None = None
    article_id: int | None = None
    channel: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    outcome: str
    detail: str | None
    delivery_id: int | None
    issue_id: int | None
    article_id: int | None
    channel: str | None


class Audit:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def record(self, note: AuditNote, *, at: dt.datetime) -> int:
        with self.engine.begin() as conn:
            return self.insert(conn, note, at=at)

    @staticmethod
    def insert(conn: sa.Connection, note: AuditNote, *, at: dt.datetime) -> int:
        """The row, inside the caller's transaction (with the change it records)."""
        return inserted_id(conn.execute(audit.insert().values(
            at=at, actor=note.actor, action=note.action, outcome=note.outcome, detail=note.detail,
            delivery_id=note.delivery_id, issue_id=note.issue_id, article_id=note.article_id,
            channel=note.channel)))

    def conclude(self, entry_id: int, *, outcome: str, detail: str | None,
                 delivery_id: int | None = None, issue_id: int | None = None) -> None:
        """How a started action ended (and the delivery or issue it ended on,
        when it learnt them only by acting). `at` stays when it was asked for."""
        values: dict[str, object] = {"outcome": outcome, "detail": detail}
        if delivery_id is not None:
            values["delivery_id"] = delivery_id
        if issue_id is not None:
            values["issue_id"] = issue_id
        with self.engine.begin() as conn:
            conn.execute(audit.update().where(audit.c.id == entry_id).values(**values))

    def get(self, entry_id: int) -> AuditEntry:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(audit).where(audit.c.id == entry_id)).one()
        return AuditEntry(**row._mapping)

    def history(self, *, article_id: int | None = None, delivery_id: int | None = None,
                issue_id: int | None = None, channel: str | None = None, actor: str | None = None,
                limit: int | None = 200) -> list[AuditEntry]:
        """Entries about an article (its deliveries included), a delivery, an
        issue, a channel or by an actor, newest first; every entry without a
        filter."""
        q = sa.select(audit).order_by(audit.c.id.desc())
        for column, value in ((audit.c.article_id, article_id), (audit.c.delivery_id, delivery_id),
                              (audit.c.issue_id, issue_id), (audit.c.channel, channel), (audit.c.actor, actor)):
            if value is not None:
                q = q.where(column == value)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [AuditEntry(**r._mapping) for r in conn.execute(q)]
