"""Approval: in a channel's `approval = "required"` mode, only an article
version an editor approved reaches the channel; and corrections of sent posts.

The rule is one column and one state. `deliveries.approved_version` is the
article version an editor approved for the delivery (by approving it, or by
sending it by hand); `awaiting_approval` is the state of a delivery waiting for
that. Every path by which an article (or a new version of it) could reach a
channel in required mode meets the rule:

- planning (store/__init__.py): a new delivery, or one planned again (skipped,
  cancelled), starts awaiting_approval; a pending one whose article changed
  since its approval goes back to awaiting_approval, in the same transaction
  as the new version;
- sending (delivery.py): the dispatcher sends a pending delivery only if the
  version it rendered is the approved one (the claim is conditional on it), so
  a held or failed delivery released after its article changed, or one planned
  before the channel's mode became "required", goes back to awaiting_approval
  instead (`gate`, and the check before each claim);
- the digest (newsletter/digest.py): an issue takes a newsletter delivery only
  if it is pending and approved at the article's current version;
- corrections (Corrections, and Dispatcher.correct): a sent post whose article
  changed is edited only once the new version is approved; until then it stays
  sent, its reason saying the correction awaits approval. `approve` on it
  approves the correction (no transition: a correction keeps a post sent).

Who approved and when is the audit's (store/audit.py): one row per approval,
written in the transaction that makes it. Two editors approving at once make
one approval: the row is locked (PostgreSQL) or the writers queue (SQLite's
BEGIN IMMEDIATE), and the second finds it approved ("already").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.store.audit import Audit, AuditNote
from distributor.store.edits import Edits
from distributor.store.outbox import DeliveryRow, DeliveryStatus, sources
from distributor.store.records import StoredArticle, stored_article
from distributor.store.schema import articles, deliveries, delivery_attempts, issue_items
from distributor.store.states import InvalidTransition

__all__ = ["Approval", "Approvals", "Corrections", "APPROVED", "CORRECTION_APPROVED", "ALREADY", "AWAITS",
           "changed_since_approval", "correction_awaits"]

S = DeliveryStatus

# What an approval did (its audit outcome, and Approval.outcome).
APPROVED = "approved"  # awaiting_approval -> pending
CORRECTION_APPROVED = "correction_approved"  # a sent post's correction: the next drain applies it
ALREADY = "already_approved"  # approved at this version already (another editor, a second press)

# The reasons a delivery awaits approval.
AWAITS = "awaits an editor's approval"


def changed_since_approval(version: int) -> str:
    return f"the article changed (version {version}) since its approval: it awaits approval again"


def correction_awaits(delivery_id: int, version: int) -> str:
    return (f"the article changed (version {version}): the correction of the post awaits an editor's approval "
            f"(`distributor approve {delivery_id}`)")


@dataclass(frozen=True)
class Approval:
    """What approving a delivery did (APPROVED, CORRECTION_APPROVED or
    ALREADY), the delivery afterwards and the article version approved."""

    row: DeliveryRow
    outcome: str
    version: int


def _current_version() -> sa.ScalarSelect[Any]:
    return sa.select(articles.c.version).where(articles.c.id == deliveries.c.article_id).scalar_subquery()


def _not_in_an_issue() -> sa.ColumnElement[bool]:
    return deliveries.c.id.not_in(sa.select(issue_items.c.delivery_id))


class Approvals:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def approve(self, delivery_id: int, *, now: dt.datetime, audit: AuditNote,
                seen_version: int | None = None, seen_edit: int | None = None) -> Approval:
        """An editor's approval of the article's current version for this
        delivery: an awaiting_approval one becomes pending (due at once, or
        at its embargo; the posting window and spacing apply from now on); a
        sent post whose article changed gets its correction approved. With
        `seen_version` (the version the editor was shown), refused if the
        article changed since. The audit row (`audit`, its outcome set here)
        is written with the change. With `seen_edit` (the id of the editor's
        edit of this variant the editor was shown, 0: none; store/edits.py),
        refused if the text was edited (or the edit removed) since. ALREADY
        when there is nothing left to
        approve because it is approved at this version; anything else is an
        InvalidTransition."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)
                               .with_for_update()).first()
            if row is None:
                raise DistributorError(f"no delivery with id {delivery_id}")
            version = conn.execute(sa.select(articles.c.version)
                                   .where(articles.c.id == row.article_id)).scalar_one()
            if seen_version is not None and seen_version != version:
                raise DistributorError(
                    f"article {row.article_id} changed since it was shown (version {seen_version} then, "
                    f"{version} now): look at it again before approving")
            if seen_edit is not None:
                edit = Edits.get_in(conn, row.article_id, row.kind)
                if (edit.id if edit is not None else 0) != seen_edit:
                    raise DistributorError(
                        f"the {row.kind} text of article {row.article_id} was edited since it was shown"
                        f"{' (by ' + edit.actor + ')' if edit is not None else ''}: look at it again before "
                        "approving")
            outcome: str | None = None
            values: dict[str, Any] = {}
            where: list[sa.ColumnElement[bool]] = []
            if row.status == S.AWAITING_APPROVAL:
                due = max(now, row.next_attempt_at) if row.next_attempt_at is not None else now
                outcome, where = APPROVED, [deliveries.c.status.in_(sources(S.PENDING, [S.AWAITING_APPROVAL]))]
                values = dict(status=S.PENDING, next_attempt_at=due, reason=f"approved by {audit.actor}")
            elif row.status == S.SENT and row.article_version < version and (row.approved_version or 0) < version:
                outcome, where = CORRECTION_APPROVED, [deliveries.c.status == S.SENT]
            if outcome is not None:
                done = conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, *where).values(
                    approved_version=version, updated_at=now, **values)).rowcount
                if done:  # else a racing change won (the lock makes that the other's state): below
                    Audit.insert(conn, replace(audit, outcome=outcome, detail=_detail(outcome, version, audit)),
                                 at=now)
                    return Approval(_row(conn, delivery_id), outcome, version)
                row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).one()
            if row.approved_version == version and row.status not in (S.CANCELLED, S.SKIPPED,
                                                                        S.AWAITING_APPROVAL):
                return Approval(DeliveryRow(**row._mapping), ALREADY, version)
            extra = " (or a sent post whose correction awaits it)" if row.status == S.SENT else ""
            raise InvalidTransition(
                f"delivery {delivery_id} ({row.channel}) is {row.status}; only a delivery that is awaiting "
                f"approval{extra} can be approved",
                what="delivery", row_id=delivery_id, current=row.status, requested=S.PENDING,
                allowed=(S.AWAITING_APPROVAL,))

    def sent_by_hand(self, delivery_id: int, *, version: int, now: dt.datetime) -> None:
        """An editor sends the pending delivery by hand: that approves `version`."""
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == S.PENDING)
                         .values(approved_version=version, updated_at=now))

    def gate(self, channel: str, *, required: bool, now: dt.datetime) -> int:
        """Make the channel's deliveries meet its approval mode; how many
        moved. "required": a pending delivery not approved at its article's
        current version (never approved, or changed since) goes to
        awaiting_approval (one in a digest issue goes out with it). "auto":
        what awaits approval becomes pending. Reads first, so a drain with
        nothing to move writes nothing."""
        where: list[sa.ColumnElement[bool]] = [deliveries.c.channel == channel]
        if required:
            stale = sa.or_(deliveries.c.approved_version.is_(None),
                           deliveries.c.approved_version != _current_version())
            where += [deliveries.c.status == S.PENDING, stale, _not_in_an_issue()]
        else:
            where.append(deliveries.c.status == S.AWAITING_APPROVAL)
        with self.engine.connect() as conn:
            if conn.execute(sa.select(deliveries.c.id).where(*where).limit(1)).first() is None:
                return 0
        with self.engine.begin() as conn:
            if required:
                return self._to_awaiting(conn, where, now)
            return conn.execute(deliveries.update().where(*where).values(
                status=S.PENDING, reason='no approval needed any more (approval = "auto")',
                updated_at=now)).rowcount

    def withdraw(self, delivery_id: int, *, version: int, now: dt.datetime) -> bool:
        """A pending delivery whose rendered `version` is not the approved one
        goes (back) to awaiting_approval; whether it did."""
        stale = sa.or_(deliveries.c.approved_version.is_(None), deliveries.c.approved_version != version)
        with self.engine.begin() as conn:
            return bool(self._to_awaiting(conn, [deliveries.c.id == delivery_id, deliveries.c.status == S.PENDING,
                                                 stale, _not_in_an_issue()], now))

    @staticmethod
    def _to_awaiting(conn: sa.Connection, where: list[sa.ColumnElement[bool]], now: dt.datetime) -> int:
        reason = sa.case((deliveries.c.approved_version.is_(None), AWAITS),
                         else_="the article changed since its approval: it awaits approval again")
        return conn.execute(deliveries.update().where(*where).values(
            status=S.AWAITING_APPROVAL, reason=reason, updated_at=now)).rowcount


def _detail(outcome: str, version: int, audit: AuditNote) -> str:
    what = "the correction to " if outcome == CORRECTION_APPROVED else ""
    return f"approved {what}article version {version}" + (f"; {audit.detail}" if audit.detail else "")


def _row(conn: sa.Connection, delivery_id: int) -> DeliveryRow:
    return DeliveryRow(**conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).one()._mapping)


class Corrections:
    """Sent posts whose article changed since: what became of each (it stays
    sent: a correction is no transition)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def outdated_sent(self, *, kinds: tuple[str, ...]) -> list[tuple[DeliveryRow, StoredArticle]]:
        """(delivery, stored article) for posts made from an older version of
        their article: corrections to apply or record."""
        q = (
            sa.select(deliveries, articles.c.version.label("current_version"))
            .join(articles, articles.c.id == deliveries.c.article_id)
            .where(deliveries.c.status == S.SENT, deliveries.c.kind.in_(kinds),
                   deliveries.c.article_version < articles.c.version)
            .order_by(deliveries.c.id)
        )
        with self.engine.connect() as conn:
            rows = [DeliveryRow(**{k: v for k, v in r._mapping.items() if k != "current_version"})
                    for r in conn.execute(q)]
            out = []
            for d in rows:
                art = conn.execute(sa.select(articles).where(articles.c.id == d.article_id)).one()
                out.append((d, stored_article(art)))
        return out

    def mark_corrected(self, delivery_id: int, *, article_version: int, note: str, outcome: str,
                       now: dt.datetime, error: str | None = None, payload: str | None = None) -> None:
        """Record what happened to a sent post when its article changed."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries.c.status, deliveries.c.channel)
                               .where(deliveries.c.id == delivery_id)).first()
            if row is None:
                raise DistributorError(f"no delivery with id {delivery_id}")
            if row.status != S.SENT:
                raise InvalidTransition(
                    f"delivery {delivery_id} ({row.channel}) is {row.status}; only a sent delivery is corrected",
                    what="delivery", row_id=delivery_id, current=row.status, requested=S.SENT, allowed=(S.SENT,))
            conn.execute(
                deliveries.update().where(deliveries.c.id == delivery_id).values(
                    article_version=article_version, reason=note, updated_at=now
                )
            )
            conn.execute(
                delivery_attempts.insert().values(
                    delivery_id=delivery_id, started_at=now, finished_at=now, outcome=outcome,
                    error=error, payload=payload,
                )
            )

    def awaiting(self, delivery_id: int, *, version: int, now: dt.datetime) -> None:
        """Say on a sent post that its correction to `version` awaits approval."""
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.status == S.SENT)
                         .values(reason=correction_awaits(delivery_id, version), updated_at=now))
