"""An editor's work on the subscriber list: import a CSV, export, erase.

Import streams: the file is read a line at a time and written in batches of
BATCH rows, each one transaction of one executemany INSERT … ON CONFLICT DO
NOTHING (the (edition, email) key makes a re-import a no-op), so memory stays
flat whatever the file's size. An address already in the list is never
changed by an import: an unsubscribed, bounced or complained reader is not
reactivated (each is reported with its line), a pending one stays pending.

Without recorded consent, imported readers are `pending` and get the double
opt-in email, the one the signup form sends (readers.send_confirmation);
those whose confirmation has not gone out yet (confirm_sent_at empty) get it
at the next import of the same file, so an interrupted import is resumed by
running it again.

Erasure removes the subscriber rows and scrubs the address from every text
column of every table in the database (issue records, attempts and errors,
webhook bookkeeping, whatever a later table adds), with SQLite's secure_delete
on so the old bytes do not linger in the file.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

import sqlalchemy as sa

from distributor.config import Settings
from distributor.errors import DeliveryError, DistributorError, RateLimited
from distributor.store import Store, insert_ignore
from distributor.store.schema import subscribers
from distributor.store.subscribers import InvalidAddress, Subscribers, normalize_email

log = logging.getLogger(__name__)

BATCH = 5000
SUPPRESSED = ("unsubscribed", "bounced", "complained")
ERASED = "[erased]"
EXPORT_FIELDS = ("id", "edition", "email", "status", "status_reason", "status_changed_at", "consent_at",
                 "consent_source", "consent_text", "created_at")


@dataclass
class Problem:
    line: int
    text: str


@dataclass
class ImportReport:
    rows: int = 0  # data rows read (not counting blank lines)
    added: int = 0
    unchanged: int = 0  # already in the list (or twice in the file), left as they are
    suppressed: int = 0  # unsubscribed, bounced or complained: not reactivated
    invalid: int = 0
    confirmations: int = 0
    confirmation_error: str = ""
    statuses: dict[str, int] = field(default_factory=dict)


def _lines(binary: IO[bytes], progress: Callable[[int], None]) -> Iterator[str]:
    """The file's lines as text (UTF-8, a BOM allowed), reporting bytes read."""
    first = True
    for raw in binary:
        progress(len(raw))
        text = raw.decode("utf-8-sig" if first else "utf-8", errors="replace")
        first = False
        yield text


def import_csv(settings: Settings, store: Store, path: str | Path, edition: str, *, consent: str | None,
               now: dt.datetime, progress: Callable[[int], None] = lambda n: None,
               problem: Callable[[Problem], None] = lambda p: None, batch: int = BATCH) -> ImportReport:
    """Import the CSV at `path` into `edition`; `problem` hears of each refused
    row as it is met (nothing is kept per row, so a million bad rows cost no memory)."""
    ed = settings.editions.get(edition)
    if ed is None or ed.channels.newsletter is None:
        raise DistributorError(f"edition {edition!r} has no newsletter")
    path = Path(path)
    source = f"import:{path.name}"
    report = ImportReport()
    status = "active" if consent else "pending"
    with path.open("rb") as binary:
        reader = csv.reader(_lines(binary, progress))
        header = next(reader, None)
        columns = [h.strip().lower() for h in header or []]
        if "email" not in columns:
            raise DistributorError(f"{path}: the first row must be a header naming an `email` column "
                                   f"(found: {', '.join(columns) or 'nothing'})")
        at = columns.index("email")
        pending: dict[str, int] = {}  # address -> line, the batch being gathered
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            report.rows += 1
            line = reader.line_num
            try:
                email = normalize_email(row[at] if at < len(row) else "")
            except InvalidAddress as exc:
                report.invalid += 1
                problem(Problem(line, str(exc)))
                continue
            if email in pending:
                report.unchanged += 1
                continue
            pending[email] = line
            if len(pending) >= batch:
                _write(store, edition, pending, status, consent, source, now, report, problem)
                pending = {}
        if pending:
            _write(store, edition, pending, status, consent, source, now, report, problem)
    if not consent:
        _confirm_all(settings, store, edition, source, now, report)
    return report


def _write(store: Store, edition: str, batch: dict[str, int], status: str, consent: str | None, source: str,
           now: dt.datetime, report: ImportReport, problem: Callable[[Problem], None]) -> None:
    with store.engine.begin() as conn:
        known = {r.email: r.status for r in conn.execute(
            sa.select(subscribers.c.email, subscribers.c.status).where(
                subscribers.c.edition == edition, subscribers.c.email.in_(list(batch))))}
        stamp = "active_at" if status == "active" else "pending_at"
        rows = [{"edition": edition, "email": e, "status": status, "status_changed_at": now, stamp: now,
                 "consent_at": now if consent else None, "consent_source": source, "consent_text": consent,
                 "created_at": now} for e in batch if e not in known]
        if rows:
            conn.execute(insert_ignore(conn, subscribers), rows)
    report.added += len(rows)
    report.statuses[status] = report.statuses.get(status, 0) + len(rows)
    for email, st in known.items():
        if st in SUPPRESSED:
            report.suppressed += 1
            problem(Problem(batch[email], f"{email} is {st}: not reactivated"))
        else:
            report.unchanged += 1


def _confirm_all(settings: Settings, store: Store, edition: str, source: str, now: dt.datetime,
                 report: ImportReport) -> None:
    """The confirmation email to each imported pending reader that has not had one."""
    from distributor.channels import build_channel
    from distributor.newsletter.readers import send_confirmation

    subs = Subscribers(store.engine)
    todo = subs.rows(edition, "pending", where=sa.and_(subscribers.c.consent_source == source,
                                                       subscribers.c.confirm_sent_at.is_(None)))

    async def go() -> None:
        channel = build_channel(settings, f"{edition}.newsletter")
        try:
            for sub in todo:
                for attempt in range(5):
                    try:
                        await send_confirmation(settings, subs, sub, now=now, channel=channel)
                        report.confirmations += 1
                        break
                    except RateLimited as exc:  # the provider's pace: wait it out, a few times
                        if attempt == 4:
                            raise
                        await asyncio.sleep(min(exc.retry_after, 60))
        except DeliveryError as exc:
            report.confirmation_error = (f"{exc}; the others get theirs when the same file is imported again")
        finally:
            await channel.aclose()

    asyncio.run(go())


# ------------------------------------------------------------------ export


def export(store: Store, out: IO[str], *, edition: str | None, fmt: str, status: str | None = None) -> int:
    """Write the list to `out` as CSV (a header row) or a JSON array, streaming."""
    def value(v):  # noqa: ANN001, ANN202
        return v.isoformat() if isinstance(v, dt.datetime) else v

    n = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(EXPORT_FIELDS)
        for sub in Subscribers(store.engine).rows(edition, status):
            writer.writerow(["" if getattr(sub, f) is None else value(getattr(sub, f)) for f in EXPORT_FIELDS])
            n += 1
        return n
    import json

    out.write("[")
    for sub in Subscribers(store.engine).rows(edition, status):
        out.write(("," if n else "") + "\n  " + json.dumps({f: value(getattr(sub, f)) for f in EXPORT_FIELDS},
                                                           ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


# ------------------------------------------------------------------ erasure


def erase(store: Store, email: str, *, edition: str | None = None) -> dict[str, int]:
    """Delete the address's subscriber rows (of `edition`, or every edition)
    and scrub it from every text column in the database. Returns what changed,
    per table ("subscribers": rows deleted; others: rows scrubbed)."""
    try:
        address = normalize_email(email)
    except InvalidAddress:
        address = email.strip().lower()
    if not address:
        raise DistributorError("give the address to erase")
    changed: dict[str, int] = {}
    pattern = re.compile(re.escape(address), re.IGNORECASE)
    like = "%" + address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    reflected = sa.MetaData()
    reflected.reflect(store.engine)
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        q = subscribers.delete().where(subscribers.c.email == address)
        if edition:
            q = q.where(subscribers.c.edition == edition)
        changed["subscribers"] = conn.execute(q).rowcount
        if edition is None or not conn.execute(sa.select(subscribers.c.id).where(
                subscribers.c.email == address)).first():
            # Records outside the subscribers table are scrubbed once no edition keeps the reader.
            for table in reflected.sorted_tables:
                if table.name in ("subscribers", "alembic_version"):
                    continue
                texts = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text))]
                keys = list(table.primary_key.columns)
                if not texts or not keys:
                    continue
                for col in texts:
                    hits = conn.execute(sa.select(*keys, col).where(
                        sa.func.lower(col).like(like, escape="\\"))).all()
                    for hit in hits:
                        conn.execute(table.update().where(*(k == hit._mapping[k.name] for k in keys)).values(
                            {col.name: pattern.sub(ERASED, hit._mapping[col.name])}))
                    if hits:
                        changed[table.name] = changed.get(table.name, 0) + len(hits)
    if store.engine.dialect.name == "sqlite":
        raw = store.engine.raw_connection()  # the WAL holds the old pages until a checkpoint
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.close()
        finally:
            raw.close()
    return changed
