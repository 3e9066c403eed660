"""The draft of an edition's next digest issue (store/digest_drafts.py), on
SQLite and PostgreSQL: saved and chosen with its audit row in one
transaction, its version counted up by every change, taken by the
transaction that makes the issue only at the version read (else StaleItems,
nothing taken), and what the issue is made of: the draft's subject, intro
and articles, an article removed staying pending for the following issue."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from distributor.ingest.pipeline import ingest
from distributor.newsletter.digest import assemble
from distributor.newsletter.next_issue import next_issue
from distributor.store import Store
from distributor.store.audit import Audit, AuditNote
from distributor.store.digest_drafts import ADDED, REMOVED, Drafts
from distributor.store.issues import Issues, StaleItems
from distributor.store.outbox import DeliveryStatus as S
from support import add_subscribers

NOW = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, settings):
    if request.param == "sqlite":
        store = Store.open(settings)
    else:
        store = Store.open_url(request.getfixturevalue("pg_url"))
    with store:
        ingest(settings, store, now=NOW)
        yield store


def waiting_ids(settings, store) -> list[int]:
    return [d for d, _ in next_issue(settings, store, "de", NOW).items]


def test_saving_and_choosing_count_the_version_and_write_the_audit_row(db, settings):
    drafts = Drafts(db.engine)
    assert drafts.get("de").version == 0 and drafts.get("de").subject is None
    note = AuditNote("desk:anna", "digest_draft", outcome="saved", channel="de.newsletter", detail="subject 'S'")
    d = drafts.save("de", subject="S", intro="Hallo", now=NOW, by="desk:anna", audit=note)
    assert (d.subject, d.intro, d.version, d.updated_by) == ("S", "Hallo", 1, "desk:anna")
    assert d.updated_at == NOW
    first, *_ = waiting_ids(settings, db)
    d = drafts.choose("de", first, REMOVED, now=NOW, by="desk:bert")
    assert d.removed == {first} and d.version == 2 and d.subject == "S" and d.updated_by == "desk:bert"
    d = drafts.choose("de", first, ADDED, now=NOW, by="desk:bert")
    assert d.removed == frozenset() and d.added == {first} and d.version == 3
    d = drafts.choose("de", first, None, now=NOW, by="desk:bert")
    assert d.added == frozenset() and d.version == 4
    assert drafts.get("fr").version == 0  # per edition
    assert [(e.action, e.detail) for e in Audit(db.engine).history()] == [("digest_draft", "subject 'S'")]
    with pytest.raises(ValueError):
        drafts.choose("de", first, "maybe", now=NOW, by="desk:anna")


def test_the_draft_is_taken_only_at_the_version_read(db):
    drafts = Drafts(db.engine)
    with db.engine.begin() as conn:
        Drafts.take(conn, "de", 0)  # none read, none there: nothing to take
    drafts.save("de", subject="S", intro=None, now=NOW, by="desk:anna")
    for stale in (0, 2):
        with pytest.raises(StaleItems), db.engine.begin() as conn:
            Drafts.take(conn, "de", stale)
    assert drafts.get("de").version == 1  # nothing taken
    with db.engine.begin() as conn:
        Drafts.take(conn, "de", 1)
    assert drafts.get("de").version == 0


def test_the_issue_is_made_of_the_draft_and_takes_it(db, settings):
    add_subscribers(db, "de", ["a@example.org", "b@example.org"])
    drafts = Drafts(db.engine)
    first, *rest = waiting_ids(settings, db)
    assert rest
    drafts.save("de", subject="Die Woche", intro="Hallo zusammen", now=NOW, by="desk:anna")
    drafts.choose("de", first, REMOVED, now=NOW, by="desk:anna")
    issue = assemble(settings, db, "de", NOW, NOW)
    assert issue is not None
    assert (issue.subject, issue.editor_subject, issue.intro) == ("Die Woche", "Die Woche", "Hallo zusammen")
    assert "Hallo zusammen" in issue.html
    with db.engine.connect() as conn:
        carried = [d for d, in conn.execute(sa.text(
            "SELECT delivery_id FROM issue_items WHERE issue_id = :i ORDER BY position"), {"i": issue.id})]
    assert carried == rest and first not in carried
    # Taken with the issue: the following issue starts fresh, with the removed article.
    assert drafts.get("de").version == 0
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM digest_draft_articles")).scalar_one() == 0
    assert db.outbox.get(first).status == S.PENDING
    assert waiting_ids(settings, db) == [first]
    # A subject given on the command line wins over the draft's.
    drafts.save("de", subject="Entwurf", intro=None, now=NOW, by="desk:anna")
    later = NOW + dt.timedelta(days=7)
    issue = assemble(settings, db, "de", later, later, subject="Von der Kommandozeile")
    assert issue is not None and issue.subject == "Von der Kommandozeile"
    assert len(Issues(db.engine).list("de")) == 2


def test_addable_lists_held_and_skipped_newsletter_deliveries_in_no_issue(db, settings):
    first, second, *_ = waiting_ids(settings, db)
    drafts = Drafts(db.engine)
    assert drafts.addable("de", since=NOW - dt.timedelta(days=1)) == []
    db.outbox.set_status(first, from_states=[S.PENDING], to=S.HELD, now=NOW, reason="test")
    later = NOW + dt.timedelta(minutes=1)
    db.outbox.set_status(second, from_states=[S.PENDING], to=S.CANCELLED, now=later, reason="test")
    found = drafts.addable("de", since=NOW - dt.timedelta(days=1))
    assert [d for d, _ in found] == [second, first]  # the latest change first
    assert drafts.addable("de", since=later + dt.timedelta(seconds=1)) == []
    assert drafts.addable("fr", since=NOW - dt.timedelta(days=1)) == []


def test_digest_preview_shows_the_draft(settings, store, tmp_path):
    """`distributor digest --preview` writes the next issue as the desk's draft has it."""
    from click.testing import CliRunner

    from distributor.cli import cli

    ingest(settings, store, now=NOW)
    first, *_ = [d for d, _ in next_issue(settings, store, "de", NOW).items]
    drafts = Drafts(store.engine)
    drafts.save("de", subject="Aus dem Entwurf", intro="Einleitung aus dem Entwurf", now=NOW, by="desk:anna")
    drafts.choose("de", first, REMOVED, now=NOW, by="desk:anna")
    out = tmp_path / "next.html"
    result = CliRunner().invoke(cli, ["--config", str(settings.path), "digest", "--preview", str(out),
                                      "--edition", "de"])
    assert result.exit_code == 0, result.output
    assert "2 article(s), subject 'Aus dem Entwurf'" in result.output
    assert "Einleitung aus dem Entwurf" in out.read_text(encoding="utf-8")
