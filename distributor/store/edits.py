"""An editor's own text for one variant of an article (the table
`variant_edits`): the Telegram post, the tweet or thread, or the newsletter
entry's text, in place of the template's render.

At most one edit per (article, kind). It is bound to the article version it
was written for: once the article changes (a correction, a new version), the
edit is out of date, is not sent, and the template's render of the new
version goes out instead, until an editor saves the edit again or removes it
(the desk shows it as out of date). Saving replaces the row with a new one (a
new id), so an approval can name exactly the text it saw (store/approval.py:
`seen_edit`).

In a channel with `approval = "required"`, approval is of the text that goes
out: saving or removing an edit withdraws the approval of the article's
deliveries on that channel that are not out yet — a pending one goes back to
awaiting_approval — in the same transaction as the edit and its audit row.
A sent post stays sent (an edit goes out with a resend).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import sqlalchemy as sa

from distributor.store.audit import Audit, AuditNote
from distributor.store.db import inserted_id
from distributor.store.outbox import DeliveryStatus
from distributor.store.records import Edit
from distributor.store.schema import deliveries, issue_items, variant_edits

__all__ = ["Edit", "Edits", "EDITED", "REMOVED", "edited_after_approval"]

S = DeliveryStatus

# The audit outcomes of an edit.
EDITED = "edited"
REMOVED = "removed"

# A delivery not out yet whose approval an edit withdraws.
NOT_OUT = (S.PENDING, S.AWAITING_APPROVAL, S.HELD, S.FAILED)


def edited_after_approval(actor: str) -> str:
    return f"the text was edited by {actor}: it awaits approval again"




def _edit(row: sa.Row) -> Edit:
    return Edit(**row._mapping)


class Edits:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def get(self, article_id: int, kind: str) -> Edit | None:
        with self.engine.connect() as conn:
            return self.get_in(conn, article_id, kind)

    @staticmethod
    def get_in(conn: sa.Connection, article_id: int, kind: str) -> Edit | None:
        row = conn.execute(sa.select(variant_edits).where(variant_edits.c.article_id == article_id,
                                                          variant_edits.c.kind == kind)).first()
        return _edit(row) if row is not None else None

    def get_many(self, article_ids: list[int], kind: str) -> dict[int, Edit]:
        """`get` for several articles in one query: their edits for `kind`, by article id."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(variant_edits).where(variant_edits.c.article_id.in_(article_ids),
                                                               variant_edits.c.kind == kind))
            return {r.article_id: _edit(r) for r in rows}

    def of_article(self, article_id: int) -> dict[str, Edit]:
        """The article's edits by kind."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(variant_edits).where(variant_edits.c.article_id == article_id))
            return {r.kind: _edit(r) for r in rows}

    def save(self, article_id: int, kind: str, *, version: int, text: str, actor: str, now: dt.datetime,
             audit: AuditNote, required: bool) -> Edit:
        """Store the edit for the article's `version` (replacing any earlier
        one), with its audit row; with `required` (the channel's approval
        mode), withdraw the approval of what is not out yet."""
        with self.engine.begin() as conn:
            self._withdraw(conn, article_id, kind, actor, now, required)
            conn.execute(variant_edits.delete().where(variant_edits.c.article_id == article_id,
                                                      variant_edits.c.kind == kind))
            new_id = inserted_id(conn.execute(variant_edits.insert().values(
                article_id=article_id, kind=kind, article_version=version, text=text, actor=actor,
                created_at=now)))
            Audit.insert(conn, replace(audit, outcome=EDITED), at=now)
            return Edit(new_id, article_id, kind, version, text, actor, now)

    def remove(self, article_id: int, kind: str, *, actor: str, now: dt.datetime, audit: AuditNote,
               required: bool) -> bool:
        """Back to the template's render; whether there was an edit to remove."""
        with self.engine.begin() as conn:
            gone = conn.execute(variant_edits.delete().where(variant_edits.c.article_id == article_id,
                                                             variant_edits.c.kind == kind)).rowcount
            if gone:
                self._withdraw(conn, article_id, kind, actor, now, required)
                Audit.insert(conn, replace(audit, outcome=REMOVED), at=now)
            return bool(gone)

    @staticmethod
    def _withdraw(conn: sa.Connection, article_id: int, kind: str, actor: str, now: dt.datetime,
                  required: bool) -> None:
        if not required:
            return
        mine = [deliveries.c.article_id == article_id, deliveries.c.kind == kind,
                deliveries.c.id.not_in(sa.select(issue_items.c.delivery_id))]
        # A pending one approved before goes back to awaiting approval ...
        conn.execute(deliveries.update().where(*mine, deliveries.c.status == S.PENDING).values(
            status=S.AWAITING_APPROVAL, approved_version=None, reason=edited_after_approval(actor),
            updated_at=now))
        # ... and one held, failed or awaiting needs a fresh approval before it goes.
        conn.execute(deliveries.update().where(*mine, deliveries.c.status.in_(NOT_OUT),
                                               deliveries.c.approved_version.is_not(None)).values(
            approved_version=None, updated_at=now))
