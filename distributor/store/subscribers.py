"""Newsletter readers in the database: one row per (edition, address).

States and their transitions are one table (TRANSITIONS); an impossible
transition is an error when asked for strictly (an editor, a reader's click),
and ignored when it comes from the outside world out of order (a webhook
event about an address already unsubscribed, say).

    pending ──confirm──► active ──► unsubscribed ──signup──► pending
       │                   │
       └────────► bounced · complained (suppressed: a new signup sends nothing)

Addresses are validated and normalised with email-validator (no DNS lookup)
and then lower-cased whole, so one reader is one row whatever they type.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import sqlalchemy as sa
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from distributor.errors import DistributorError
from distributor.store.db import insert_ignore
from distributor.store.schema import subscribers

STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
Page = list[tuple[int, str]]  # (id, address) in id order; a module name: the class has a method `list`
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"active", "unsubscribed", "bounced", "complained"}),
    "active": frozenset({"unsubscribed", "bounced", "complained"}),
    "unsubscribed": frozenset({"pending", "bounced", "complained"}),
    "bounced": frozenset({"unsubscribed", "complained"}),
    "complained": frozenset(),
}
_STAMP = {s: f"{s}_at" for s in STATUSES}
PAGE = 1000


class InvalidAddress(ValueError):
    pass


# The common case, checked in a microsecond instead of email-validator's ~80:
# a plain ASCII dot-atom local part at a plain ASCII host name (letters, digits,
# inner hyphens, no "--" anywhere, so no Punycode) under an alphabetic TLD that
# is not a special-use name. Everything it accepts, email-validator accepts with
# the same normalisation (tests/store/test_normalize.py checks the two agree);
# anything else goes to email-validator. It is what makes a million-row import fast.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>(?:{_LABEL}\.)+(?P<tld>[A-Za-z]{{2,63}}))")
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _plain(address: str) -> str | None:
    m = _PLAIN.fullmatch(address)
    if (m is None or len(m["local"]) > 64 or len(address) > 254 or "--" in m["domain"]
            or m["tld"].lower() in _SPECIAL):
        return None
    return address.lower()


def normalize_email(raw: str) -> str:
    """The address as stored, or InvalidAddress with a reason a reader understands."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidAddress("an email address is required")
    if any(c in raw for c in "\r\n\x00"):
        raise InvalidAddress("the email address contains a line break or a control character")
    if len(raw) > 320:
        raise InvalidAddress("the email address is too long")
    fast = _plain(raw.strip())
    if fast is not None:
        return fast
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(f"not a valid email address: {exc}") from None
    return info.normalized.lower()


@dataclass(frozen=True)
class Subscriber:
    id: int
    edition: str
    email: str
    status: str
    status_reason: str | None
    status_changed_at: dt.datetime
    pending_at: dt.datetime | None
    active_at: dt.datetime | None
    unsubscribed_at: dt.datetime | None
    bounced_at: dt.datetime | None
    complained_at: dt.datetime | None
    consent_at: dt.datetime | None
    consent_source: str | None
    consent_text: str | None
    confirm_sent_at: dt.datetime | None
    created_at: dt.datetime


def _row(row) -> Subscriber:
    return Subscriber(**row._mapping)


class Subscribers:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    # ------------------------------------------------------------ reading

    def get(self, subscriber_id: int) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        return _row(row) if row else None

    def find(self, edition: str, email: str) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(subscribers).where(subscribers.c.edition == edition,
                                                            subscribers.c.email == email)).first()
        return _row(row) if row else None

    def list(self, edition: str | None = None, status: str | None = None) -> list[Subscriber]:
        q = sa.select(subscribers).order_by(subscribers.c.id)
        if edition:
            q = q.where(subscribers.c.edition == edition)
        if status:
            q = q.where(subscribers.c.status == status)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q)]

    def active_pages(self, edition: str, page: int = PAGE) -> Iterator[Page]:
        """(id, email) of the edition's active subscribers, in id order, a page
        at a time (keyset paging: never an OFFSET, never everything at once)."""
        after = 0
        while True:
            q = (sa.select(subscribers.c.id, subscribers.c.email)
                 .where(subscribers.c.edition == edition, subscribers.c.status == "active",
                        subscribers.c.id > after)
                 .order_by(subscribers.c.id).limit(page))
            with self.engine.connect() as conn:
                rows = [(r.id, r.email) for r in conn.execute(q)]
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    def rows(self, edition: str | None = None, status: str | None = None, *, page: int = PAGE,
             where=None) -> Iterator[Subscriber]:  # noqa: ANN001 - an extra SQL condition
        """Every matching subscriber in id order, read a page at a time (keyset):
        an export of a million rows holds a thousand at once."""
        after = 0
        while True:
            q = sa.select(subscribers).where(subscribers.c.id > after).order_by(subscribers.c.id).limit(page)
            if edition:
                q = q.where(subscribers.c.edition == edition)
            if status:
                q = q.where(subscribers.c.status == status)
            if where is not None:
                q = q.where(where)
            with self.engine.connect() as conn:
                rows = [_row(r) for r in conn.execute(q)]
            if not rows:
                return
            yield from rows
            after = rows[-1].id

    def snapshot_page(self, edition: str, *, max_id: int, after: int, limit: int = PAGE) -> Page:
        """The next page of an issue's recipients (snapshot_rows), read
        outside a transaction on SQLite (one statement is one consistent read)."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            rows = snapshot_rows(cur, self.engine.dialect.paramstyle, edition, max_id=max_id, after=after,
                                 limit=limit)
            cur.close()
            if self.engine.dialect.name != "sqlite":
                raw.rollback()
            return rows
        finally:
            raw.close()

    def ids_of(self, edition: str, emails: Iterable[str]) -> dict[str, int]:
        emails = list(emails)
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(emails), 500):
                chunk = emails[i:i + 500]
                q = sa.select(subscribers.c.id, subscribers.c.email).where(
                    subscribers.c.edition == edition, subscribers.c.email.in_(chunk))
                out.update({r.email: r.id for r in conn.execute(q)})
        return out

    def counts(self, edition: str | None = None) -> dict[str, int]:
        q = sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
        if edition:
            q = q.where(subscribers.c.edition == edition)
        with self.engine.connect() as conn:
            return {s: n for s, n in conn.execute(q)}

    def has_active(self, edition: str) -> bool:
        """Whether the edition has an active subscriber: one index probe, where
        counts() reads a million index entries."""
        q = sa.select(subscribers.c.id).where(subscribers.c.edition == edition,
                                              subscribers.c.status == "active").limit(1)
        with self.engine.connect() as conn:
            return conn.execute(q).first() is not None

    # ------------------------------------------------------------ changing

    def signup(self, edition: str, email: str, *, now: dt.datetime, source: str,
               consent_text: str) -> tuple[Subscriber, bool]:
        """A reader asked to subscribe: (their row, whether to send a
        confirmation email). New or unsubscribed: pending, send. Pending: send
        again. Active, bounced, complained: nothing changes, nothing is sent."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(subscribers).where(
                subscribers.c.edition == edition, subscribers.c.email == email)).first()
            if row is None:
                conn.execute(insert_ignore(conn, subscribers).values(
                    edition=edition, email=email, status="pending", status_changed_at=now, pending_at=now,
                    consent_source=source, consent_text=consent_text, created_at=now))
                send = True
            elif row.status in ("pending", "unsubscribed"):
                conn.execute(subscribers.update().where(subscribers.c.id == row.id).values(
                    status="pending", status_changed_at=now if row.status != "pending" else row.status_changed_at,
                    pending_at=now, status_reason=None, consent_source=source, consent_text=consent_text))
                send = True
            else:
                send = False
            row = conn.execute(sa.select(subscribers).where(
                subscribers.c.edition == edition, subscribers.c.email == email)).first()
        return _row(row), send

    def confirm_sent(self, subscriber_id: int, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(confirm_sent_at=now))

    def transition(self, subscriber_id: int, to: str, *, now: dt.datetime, reason: str | None = None,
                   strict: bool = True, conn: sa.Connection | None = None, **values) -> bool:
        """Move a subscriber to `to`; False when already there (idempotent) or,
        unless strict, when the table does not allow it."""
        if to not in STATUSES:
            raise DistributorError(f"unknown subscriber status {to!r}")
        if conn is None:
            with self.engine.begin() as own:
                return self._transition(own, subscriber_id, to, now, reason, strict, values)
        return self._transition(conn, subscriber_id, to, now, reason, strict, values)

    @staticmethod
    def _transition(conn: sa.Connection, subscriber_id: int, to: str, now: dt.datetime, reason: str | None,
                    strict: bool, values: dict) -> bool:
        row = conn.execute(sa.select(subscribers.c.status).where(subscribers.c.id == subscriber_id)).first()
        if row is None:
            raise DistributorError(f"no subscriber with id {subscriber_id}")
        if row.status == to:
            return False
        if to not in TRANSITIONS[row.status]:
            if strict:
                raise DistributorError(f"subscriber {subscriber_id} is {row.status}: cannot become {to}")
            return False
        changed = conn.execute(subscribers.update().where(
            subscribers.c.id == subscriber_id, subscribers.c.status == row.status).values(
            status=to, status_changed_at=now, status_reason=reason, **{_STAMP[to]: now}, **values)).rowcount
        return bool(changed)

    def confirm(self, subscriber_id: int, *, now: dt.datetime) -> bool:
        """pending -> active; the confirmation is the moment consent was given."""
        sub = self.get(subscriber_id)
        if sub is None or sub.status != "pending":
            return False
        return self.transition(subscriber_id, "active", now=now, reason="confirmed", consent_at=now)

    def address_event(self, email: str, to: str, *, now: dt.datetime, reason: str,
                      edition: str | None = None, conn: sa.Connection | None = None) -> int:
        """A provider's report about an address (bounce, complaint, unsubscribe):
        every matching row (of `edition`, or all editions) that may move, moves.
        Returns how many changed."""
        q = sa.select(subscribers.c.id).where(subscribers.c.email == email)
        if edition:
            q = q.where(subscribers.c.edition == edition)
        if conn is None:
            with self.engine.begin() as own:
                return self.address_event(email, to, now=now, reason=reason, edition=edition, conn=own)
        ids = [r.id for r in conn.execute(q)]
        return sum(self._transition(conn, i, to, now, reason, False, {}) for i in ids)

    def add_active(self, edition: str, emails: Iterable[str], *, now: dt.datetime, source: str,
                   consent_text: str) -> None:
        """Add confirmed subscribers (an editor's import with recorded consent,
        tests); an address already there is left as it is."""
        rows = [dict(edition=edition, email=normalize_email(e), status="active", status_changed_at=now,
                     active_at=now, consent_at=now, consent_source=source, consent_text=consent_text,
                     created_at=now) for e in emails]
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(insert_ignore(conn, subscribers), rows)


def snapshot_rows(cursor: Any, paramstyle: str, edition: str, *, max_id: int, after: int,
                  limit: int) -> Page:
    """(id, address) of the next page of an issue's recipients (see
    schema.issues): id in (after, max_id] and active now, in id order. Keyset
    paging on the (edition, status, id) index: the millionth page costs what
    the first does. On a driver cursor: a page is a thousand rows, a million
    readers a thousand pages, and SQLAlchemy's Result rows would cost more
    than the query."""
    ph = "?" if paramstyle == "qmark" else "%s"
    cursor.execute(f"SELECT id, email FROM subscribers WHERE edition = {ph} AND status = 'active' "
                   f"AND id > {ph} AND id <= {ph} ORDER BY id LIMIT {ph}", (edition, after, max_id, limit))
    return [(int(i), e) for i, e in cursor.fetchall()]


def leaver_ids(cursor: Any, paramstyle: str, edition: str, *, after: int, last: int) -> set[int]:
    """Ids in (after, last] of the edition's subscribers who are not active.
    The other statuses are named, so that each is one seek in the
    (edition, status, id) index that finds only those rows (`status <> 'active'`
    would walk the whole edition, and the primary key's range reads every row
    of the range): a dozen microseconds for a batch nobody left."""
    ph = "?" if paramstyle == "qmark" else "%s"
    others = [s for s in STATUSES if s != "active"]
    cursor.execute(f"SELECT id FROM subscribers WHERE edition = {ph} AND status IN ({', '.join([ph] * len(others))}) "
                   f"AND id > {ph} AND id <= {ph}", (edition, *others, after, last))
    return {int(i) for (i,) in cursor.fetchall()}
