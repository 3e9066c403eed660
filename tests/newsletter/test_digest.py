"""The weekly digest against the sandbox's SendGrid: slots, batches of at most
1000 with per-recipient unsubscribe tokens, resuming without sending a batch
twice, holding on an unknown outcome, and the editors' commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from distributor.errors import DistributorError
from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.newsletter import tokens
from distributor.store.issues import Issues
from distributor.store.subscribers import Subscribers
from support import add_subscribers, sent, with_channel

UTC = dt.timezone.utc


def with_recipients(settings, store, edition: str, recipients: list[str], **changes):
    """The recipients as the edition's active subscribers; the settings with `changes`."""
    add_subscribers(store, edition, recipients)
    return with_channel(settings, f"{edition}.newsletter", **changes)


def mails(control) -> list[dict]:
    return [r["body"] for r in sent(control, "sendgrid", "/mail/send")]


def run(settings, store, clock, edition="de", **kw):
    return asyncio.run(digest.run_digest(settings, store, edition, clock=clock, sleep=clock.sleep, **kw))


# ------------------------------------------------------------------ slots


def test_slots_follow_the_edition_time_zone_across_daylight_saving(settings):
    # de: Friday 09:00 Europe/Berlin. 2025-03-28 is before the switch to CEST, 2025-04-04 after.
    before = digest.slot_at_or_before(settings, "de", dt.datetime(2025, 3, 30, 12, tzinfo=UTC))
    assert before == dt.datetime(2025, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 CET
    after = digest.next_slot(settings, "de", dt.datetime(2025, 3, 30, 12, tzinfo=UTC))
    assert after == dt.datetime(2025, 4, 4, 7, 0, tzinfo=UTC)  # 09:00 CEST
    exactly = digest.slot_at_or_before(settings, "de", after)
    assert exactly == after
    assert digest.next_slot(settings, "de", after) == after + dt.timedelta(days=7)


def test_a_slot_is_due_within_its_grace_time_and_only_once(settings, store):
    slot = dt.datetime(2025, 3, 14, 8, 0, tzinfo=UTC)
    # A minute before, the last slot is a week old: past its grace time.
    assert digest.due_slot(settings, store, "de", slot - dt.timedelta(minutes=1)) is None
    assert digest.due_slot(settings, store, "de", slot + dt.timedelta(hours=3)) == slot
    assert digest.due_slot(settings, store, "de", slot + dt.timedelta(hours=13)) is None  # grace: 12 h
    Issues(store.engine).create(edition="de", slot=slot, subject="s", html="h", text="t", headers={},
                                batch_size=1000, items=[], now=slot)
    assert digest.due_slot(settings, store, "de", slot + dt.timedelta(hours=3)) is None


# ------------------------------------------------------------------ sending


@pytest.fixture
def ingested(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    return store


def test_an_issue_goes_out_in_batches_with_a_token_per_recipient(sb_settings, ingested, clock, control):
    store = ingested
    people = [f"reader{i:04d}@example.org" for i in range(2500)]
    settings = with_recipients(sb_settings, store, "de", people)
    result = run(settings, store, clock)
    assert result.status == "sent", result.detail
    bodies = mails(control)
    assert [len(b["personalizations"]) for b in bodies] == [1000, 1000, 500]
    to = [p["to"][0]["email"] for b in bodies for p in b["personalizations"]]
    assert sorted(to) == sorted(people) and len(set(to)) == 2500
    p0 = bodies[0]["personalizations"][0]
    sub = Subscribers(store.engine).find("de", p0["to"][0]["email"])
    token = tokens.unsubscribe_token(settings, "de", sub.id)
    assert p0["substitutions"] == {"{token}": token}
    assert token in p0["headers"]["List-Unsubscribe"]
    assert p0["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {b["content"][0]["type"] for b in bodies} == {"text/plain"}
    assert "{token}" in bodies[0]["content"][1]["value"]  # substituted by SendGrid per recipient
    # The articles it carried are sent; a second run for the same slot sends nothing.
    issue = result.issue
    carried = Issues(store.engine).article_ids(issue.id)
    titles = [store.get_article(a).article.title for a in carried]
    assert len(titles) == 3  # the de articles whose footer names the newsletter
    de_nl = [d for d in store.deliveries() if d.channel == "de.newsletter"]
    assert {d.status for d in de_nl} == {"sent"} and {d.remote_id for d in de_nl} == {f"issue:{issue.id}"}
    again = run(settings, store, clock, slot=issue.slot)
    assert again.status == "already"
    nothing = run(settings, store, clock)
    assert nothing.status == "nothing" and nothing.issue is None
    assert len(mails(control)) == 3


def test_an_interrupted_issue_resumes_without_sending_a_batch_twice(sb_settings, ingested, clock, control):
    store = ingested
    settings = with_recipients(sb_settings, store, "de", [f"r{i}@example.org" for i in range(25)], batch_size=10)
    batches_sent = []

    def stop_after_first():
        batches_sent.append(len(mails(control)))
        return len(mails(control)) >= 1

    first = run(settings, store, clock, stop=stop_after_first)
    assert first.status == "stopped"
    issue = Issues(store.engine).get(first.issue.id)
    assert issue.status == "sending"
    assert [b.status for b in Issues(store.engine).batches(issue.id).values()] == ["sent"]
    second = run(settings, store, clock)
    assert second.status == "sent" and second.issue.id == issue.id
    counts = [len(b["personalizations"]) for b in mails(control)]
    assert counts == [10, 10, 5]


def test_a_batch_of_unknown_outcome_holds_the_issue_until_released(sb_settings, ingested, clock, control):
    store = ingested
    settings = with_recipients(sb_settings, store, "de", [f"r{i}@example.org" for i in range(15)], batch_size=10)
    # The process died during batch 2: its row says `sending`.
    first = run(settings, store, clock, stop=lambda: len(mails(control)) >= 1)
    issues = Issues(store.engine)
    assert issues.begin_batch(first.issue.id, 1, recipients=5, now=clock())
    held = run(settings, store, clock)
    assert held.status == "held" and "outcome is unknown" in held.detail
    assert f"digest --release {first.issue.id}" in held.detail
    assert len(mails(control)) == 1  # nothing was resent
    assert run(settings, store, clock).status in ("nothing", "already")  # the held issue keeps its articles
    assert len(mails(control)) == 1
    issues.release(first.issue.id, now=clock())
    done = asyncio.run(digest.send_issue(settings, store, issues.get(first.issue.id), clock=clock, sleep=clock.sleep))
    assert done.status == "sent"
    assert [len(b["personalizations"]) for b in mails(control)] == [10, 5]


def test_rate_limits_and_transient_errors_are_waited_out(sb_settings, ingested, clock, control):
    store = ingested
    add_subscribers(store, "de", ["leserin@example.org"])
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 429, "retry_after": 9, "times": 1})
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 500, "times": 1})
    result = run(sb_settings, store, clock)
    assert result.status == "sent"
    assert clock.slept and clock.slept[0] >= 1
    batch = Issues(store.engine).batches(result.issue.id)[0]
    assert batch.attempts == 3 and batch.status == "sent"


def test_a_permanent_error_fails_the_issue_and_a_manual_send_resumes_it(sb_settings, ingested, clock, control):
    store = ingested
    add_subscribers(store, "de", ["leserin@example.org"])
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 400, "times": 1})
    failed = run(sb_settings, store, clock)
    assert failed.status == "failed" and "400" in failed.detail
    assert Issues(store.engine).get(failed.issue.id).status == "failed"
    resumed = run(sb_settings, store, clock, resume_failed=True)
    assert resumed.status == "sent" and resumed.issue.id == failed.issue.id


def test_no_active_subscribers_means_no_issue(sb_settings, ingested, clock, control):
    store = ingested
    add_subscribers(store, "de", ["left@example.org"])
    Subscribers(store.engine).address_event("left@example.org", "unsubscribed", now=clock(), reason="test")
    result = run(sb_settings, store, clock)
    assert result.status == "nothing" and "no active subscribers" in result.detail
    assert mails(control) == [] and Issues(store.engine).list() == []
    with pytest.raises(DistributorError, match="edition de has no active newsletter subscribers"):
        digest.assemble(sb_settings, store, "de", clock(), clock())


# ------------------------------------------------------------------ commands


def cli_config(make_config, articles_dir, sandbox):
    port = int(sandbox.url.rsplit(":", 1)[1])
    return make_config(f"\n[sandbox]\nport = {port}\n", articles=articles_dir)


def load_settings_engine(cfg):
    from distributor.config import load_settings
    from distributor.store.db import create_engine

    return create_engine(load_settings(cfg).database_url)


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def test_digest_commands_send_test_preview_and_archive(make_config, articles_dir, sandbox, control, tmp_path):
    cfg = cli_config(make_config, articles_dir, sandbox)
    assert invoke(cfg, "ingest").exit_code == 0
    out = tmp_path / "next.html"
    preview = invoke(cfg, "digest", "--preview", str(out), "--edition", "de")
    assert preview.exit_code == 0, preview.output
    assert "3 article(s)" in preview.output and "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in preview.output
    assert out.read_text().startswith("<!DOCTYPE html") or "<html" in out.read_text()

    test_copy = invoke(cfg, "digest", "--send", "--to", "editor@example.org", "--edition", "de")
    assert test_copy.exit_code == 0, test_copy.output
    (only,) = mails(control)
    assert [p["to"][0]["email"] for p in only["personalizations"]] == ["editor@example.org"]
    assert only["subject"].startswith("[Test] ")
    assert json.loads(invoke(cfg, "issues", "--json").output) == []  # a test copy is recorded nowhere

    add_subscribers(load_settings_engine(cfg), "de", ["leserin@example.org"])
    send = invoke(cfg, "digest", "--send", "--edition", "de")
    assert send.exit_code == 0, send.output
    assert "sent" in send.output
    archive = json.loads(invoke(cfg, "issues", "--json").output)
    assert [(i["edition"], i["status"], i["recipients"], len(i["articles"])) for i in archive] == [
        ("de", "sent", 1, 3)]
    stored = tmp_path / "stored.html"
    again = invoke(cfg, "digest", "--preview", str(stored), "--issue", str(archive[0]["id"]))
    assert again.exit_code == 0, again.output
    assert stored.read_text() == digest.issue_message(Issues(load_settings_engine(cfg)).get(archive[0]["id"])).html
    nothing = invoke(cfg, "digest", "--send", "--edition", "de")
    assert "nothing" in nothing.output and len(mails(control)) == 2
    # A stored issue, resent to one reader who lost it; the archive is unchanged.
    resent = invoke(cfg, "digest", "--send", "--to", "reader@example.org", "--issue", str(archive[0]["id"]))
    assert resent.exit_code == 0, resent.output
    last = mails(control)[-1]
    assert [p["to"][0]["email"] for p in last["personalizations"]] == ["reader@example.org"]
    assert last["subject"] == archive[0]["subject"]
    assert json.loads(invoke(cfg, "issues", "--json").output) == archive
    refused = invoke(cfg, "digest", "--send", "--issue", str(archive[0]["id"]))
    assert refused.exit_code == 2 and "--issue ID --send --to ADDRESS" in refused.output


def test_digest_needs_exactly_one_action(make_config, articles_dir, sandbox):
    cfg = cli_config(make_config, articles_dir, sandbox)
    result = invoke(cfg, "digest")
    assert result.exit_code == 2 and "give one of --preview OUT, --send or --release ISSUE" in result.output
