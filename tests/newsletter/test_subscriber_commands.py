"""`distributor subscribers import|export|list|delete` against a file database
and the sandbox: line-numbered refusals, idempotent re-import, consent or
double opt-in, no reactivation, streaming export, erasure everywhere."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3

from click.testing import CliRunner

from distributor.cli import cli
from distributor.config import load_settings
from distributor.store import Store
from distributor.store.subscribers import Subscribers
from support import sent

UTC = dt.timezone.utc

CSV = """name,email,city
Anna,anna@example.org,Almaty
Boris,not-an-address,Bishkek
,  Chen@Example.ORG ,Osh

Dana,,Taraz
Emil,anna@example.org,Almaty
"""


def cfg_of(make_config, articles_dir, sandbox):
    port = int(sandbox.url.rsplit(":", 1)[1])
    return make_config(f"\n[sandbox]\nport = {port}\n", articles=articles_dir)


def invoke(cfg, *args, input=None):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], input=input)


def subs_of(cfg):
    settings = load_settings(cfg)
    store = Store.open(settings)
    return store, Subscribers(store.engine)


def test_import_reports_bad_rows_by_line_and_imports_the_rest_once(make_config, articles_dir, sandbox, tmp_path):
    cfg = cfg_of(make_config, articles_dir, sandbox)
    f = tmp_path / "readers.csv"
    f.write_text(CSV, encoding="utf-8")
    r = invoke(cfg, "subscribers", "import", str(f), "--edition", "de", "--consent", "Ich will den Newsletter")
    assert r.exit_code == 0, r.output
    assert "readers.csv, line 3: not a valid email address" in r.output
    assert "readers.csv, line 6: an email address is required" in r.output
    assert "5 row(s) read: 2 added as active, 1 already listed (unchanged)" in r.output and "2 invalid" in r.output
    store, subs = subs_of(cfg)
    rows = subs.list("de")
    assert [(s.email, s.status) for s in rows] == [("anna@example.org", "active"), ("chen@example.org", "active")]
    assert {(s.consent_source, s.consent_text) for s in rows} == {("import:readers.csv", "Ich will den Newsletter")}
    assert all(s.consent_at and s.active_at for s in rows)
    # Again: nothing changes.
    again = invoke(cfg, "subscribers", "import", str(f), "--edition", "de", "--consent", "Ich will den Newsletter")
    assert again.exit_code == 0 and "0 added" in again.output and "3 already listed" in again.output
    assert subs.list("de") == rows
    store.close()


def test_import_without_consent_sends_the_confirmation_and_never_reactivates(make_config, articles_dir, sandbox,
                                                                              control, tmp_path):
    cfg = cfg_of(make_config, articles_dir, sandbox)
    store, subs = subs_of(cfg)
    now = dt.datetime.now(UTC)
    subs.add_active("de", ["left@example.org"], now=now, source="test", consent_text="t")
    subs.address_event("left@example.org", "unsubscribed", now=now, reason="test")
    f = tmp_path / "list.csv"
    f.write_text("email\nnew@example.org\nleft@example.org\n", encoding="utf-8")
    control.delete("/_sandbox/requests")
    r = invoke(cfg, "subscribers", "import", str(f), "--edition", "de")
    assert r.exit_code == 0, r.output
    assert "list.csv, line 3: left@example.org is unsubscribed: not reactivated" in r.output
    assert "1 added as pending" in r.output and "1 confirmation email(s) sent" in r.output
    assert subs.find("de", "left@example.org").status == "unsubscribed"
    new = subs.find("de", "new@example.org")
    assert new.status == "pending" and new.consent_at is None and new.confirm_sent_at is not None
    (mail,) = [m["body"] for m in sent(control, "sendgrid", "/mail/send")]
    assert [p["to"][0]["email"] for p in mail["personalizations"]] == ["new@example.org"]
    assert "/confirm/" in json.dumps(mail)
    # Re-import: no second confirmation, nothing changes.
    again = invoke(cfg, "subscribers", "import", str(f), "--edition", "de")
    assert again.exit_code == 0 and "0 confirmation email(s) sent" in again.output
    assert len(sent(control, "sendgrid", "/mail/send")) == 1
    store.close()


def test_import_needs_an_email_column(make_config, articles_dir, sandbox, tmp_path):
    cfg = cfg_of(make_config, articles_dir, sandbox)
    f = tmp_path / "bad.csv"
    f.write_text("name,address\nA,a@example.org\n", encoding="utf-8")
    r = invoke(cfg, "subscribers", "import", str(f), "--edition", "de", "--consent", "x")
    assert r.exit_code == 2 and "header naming an `email` column" in r.output


def seeded(make_config, articles_dir, sandbox):
    cfg = cfg_of(make_config, articles_dir, sandbox)
    store, subs = subs_of(cfg)
    now = dt.datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    subs.add_active("de", ["a@example.org", "b@example.org"], now=now, source="test", consent_text="ja")
    subs.add_active("fr", ["c@example.org"], now=now, source="test", consent_text="oui")
    subs.address_event("b@example.org", "bounced", now=now, reason="test")
    store.close()
    return cfg


def test_export_csv_and_json_and_list_filters(make_config, articles_dir, sandbox):
    cfg = seeded(make_config, articles_dir, sandbox)
    out = invoke(cfg, "subscribers", "export")
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert [(r["edition"], r["email"], r["status"]) for r in rows] == [
        ("de", "a@example.org", "active"), ("de", "b@example.org", "bounced"), ("fr", "c@example.org", "active")]
    assert rows[0]["consent_text"] == "ja" and rows[0]["consent_at"].startswith("2025-03-14T09:00")
    data = json.loads(invoke(cfg, "subscribers", "export", "--edition", "fr", "--format", "json").output)
    assert [(d["email"], d["consent_text"]) for d in data] == [("c@example.org", "oui")]
    assert json.loads(invoke(cfg, "subscribers", "export", "--edition", "en", "--format", "json").output) == []
    listed = invoke(cfg, "subscribers", "list", "--edition", "de", "--status", "active")
    assert "a@example.org" in listed.output and "b@example.org" not in listed.output
    as_json = json.loads(invoke(cfg, "subscribers", "list", "--status", "bounced", "--json").output)
    assert [d["email"] for d in as_json] == ["b@example.org"]
    assert "no subscribers" in invoke(cfg, "subscribers", "list", "--status", "pending").output


def test_delete_erases_the_address_everywhere(make_config, articles_dir, sandbox, control, clock, tmp_path):
    import asyncio

    from distributor.ingest.pipeline import ingest
    from distributor.newsletter import digest
    from distributor.store.schema import delivery_attempts, issue_batches, issues, webhook_events

    cfg = seeded(make_config, articles_dir, sandbox)
    settings = load_settings(cfg)
    store = Store.open(settings)
    ingest(settings, store, now=clock())
    result = asyncio.run(digest.run_digest(settings, store, "de", clock=clock, sleep=clock.sleep))
    assert result.status == "sent", result.detail
    d = store.deliveries()[0].id
    with store.engine.begin() as conn:  # the address left in records an error or a provider may write
        conn.execute(issue_batches.update().values(error="550 a@example.org: mailbox unavailable"))
        conn.execute(issues.update().values(reason="bounce from A@Example.org"))
        conn.execute(webhook_events.insert().values(sg_event_id="ev-a@example.org", event="bounce",
                                                    received_at=clock()))
        conn.execute(delivery_attempts.insert().values(delivery_id=d, started_at=clock(), outcome="sent",
                                                       payload="to a@example.org"))
    store.close()
    db = tmp_path / "distributor.db"
    refused = invoke(cfg, "subscribers", "delete", "a@example.org", input="n\n")
    assert refused.exit_code == 1 and "Erase a@example.org" in refused.output
    done = invoke(cfg, "subscribers", "delete", "A@example.org", "--yes")
    assert done.exit_code == 0, done.output
    assert "1 subscriber row(s) deleted" in done.output and "issue_batches" in done.output
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert "a@example.org" not in dump.lower() and "[erased]" in dump
    assert "c@example.org" in dump  # the others stay
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("distributor.db*"))
    assert b"a@example.org" not in raw.lower()
    assert "not found" in invoke(cfg, "subscribers", "delete", "a@example.org", "--yes").output
