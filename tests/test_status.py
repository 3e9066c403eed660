"""`distributor status`: health of the running system, as text and JSON, and
its exit code (0 healthy, 1 when something needs an editor)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from click.testing import CliRunner

from distributor import health
from distributor.cli import cli
from distributor.ingest.pipeline import ingest
from distributor.store.issues import Issues

T0 = dt.datetime(2025, 3, 5, 10, 0, tzinfo=dt.timezone.utc)  # a Wednesday


@pytest.fixture
def ingested(settings, store):
    ingest(settings, store)
    return store


def run_status(settings, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(settings.path), "status", *args])
    assert result.exit_code in (0, 1), result.output
    return result


def status_json(settings):
    result = run_status(settings, "--json")
    return result.exit_code, json.loads(result.output)


def pending(store, channel: str):
    return next(d for d in store.deliveries(status="pending") if d.channel == channel)


def fail(store, delivery_id: int, error: str, now: dt.datetime) -> None:
    attempt = store.outbox.claim(delivery_id, worker="test", payload="{}", now=now)
    assert attempt is not None
    store.outbox.finish_failed(delivery_id, attempt, outcome="permanent", error=error, now=now)


def make_issue(store, edition: str, slot: dt.datetime, now: dt.datetime):
    from support import add_subscribers

    add_subscribers(store, edition, ["leserin@example.org"])  # the issue's snapshot: its one active reader
    return Issues(store.engine).create(
        edition=edition, slot=slot, subject=f"Digest {edition}", html="<p>x</p>", text="x", headers={},
        batch_size=1000, items=[], now=now)


# ------------------------------------------------------------------ healthy


def test_healthy_after_ingest_exits_0_with_stable_json(settings, ingested):
    code, data = status_json(settings)
    assert code == 0
    assert set(data) == {"now", "daemon", "leader", "standby", "sources", "deliveries", "channels", "editions",
                         "problems", "notes", "healthy", "workers"}
    assert data["healthy"] is True and data["problems"] == []
    assert data["leader"] is None and data["standby"] == []  # no `distributor run` is running
    dt.datetime.fromisoformat(data["now"])

    assert data["daemon"] == {"ever_ran": False, "jobs": []}
    assert any("never run" in n for n in data["notes"])

    (src,) = data["sources"]
    assert src["name"] == "articles" and src["ok"] is True and src["error"] is None
    assert "new" in src["summary"]
    assert dt.datetime.fromisoformat(src["polled_at"]).tzinfo is not None
    assert 0 <= src["age_seconds"] < 120

    dels = data["deliveries"]
    rows = ingested.deliveries()
    assert dels["total"] == len(rows)
    assert sum(dels["by_state"].values()) == len(rows)
    telegram = [d for d in rows if d.channel == "de.telegram"]
    assert dels["by_channel"]["de.telegram"] == {"pending": len(telegram)}
    assert dels["attention"] == [] and dels["attention_total"] == 0
    assert data["channels"] == []

    editions = {e["edition"]: e for e in data["editions"]}
    assert set(editions) == {"de", "fr", "en"}
    de = editions["de"]
    assert de["timezone"] == "Europe/Berlin" and de["newsletter"] is True
    nxt = dt.datetime.fromisoformat(de["next_digest"])
    local = dt.datetime.fromisoformat(de["next_digest_local"])
    assert nxt == local and nxt > dt.datetime.fromisoformat(data["now"])
    assert de["last_sent"] is None and de["open_issues"] == []


def test_healthy_text_output(settings, ingested):
    result = run_status(settings)
    assert result.exit_code == 0
    out = result.output
    assert "daemon: never ran" in out
    assert "articles" in out and "ok" in out and "ago" in out
    assert "de.telegram" in out and "pending" in out
    assert "de: next " in out and "(Europe/Berlin)" in out and "last sent: none yet" in out
    assert out.rstrip().endswith("healthy")


def test_never_polled_source_is_a_note_not_a_problem(settings, store):
    result = run_status(settings)
    assert result.exit_code == 0
    assert "never polled" in result.output
    code, data = status_json(settings)
    assert code == 0
    assert data["sources"][0]["polled_at"] is None and data["sources"][0]["ok"] is None


# ------------------------------------------------------------------ needs an editor


def test_failed_delivery_exits_1_and_shows_its_error(settings, ingested):
    d = pending(ingested, "de.telegram")
    fail(ingested, d.id, "Forbidden: bot was kicked from the channel chat", dt.datetime.now(dt.timezone.utc))

    code, data = status_json(settings)
    assert code == 1 and data["healthy"] is False
    assert data["deliveries"]["by_channel"]["de.telegram"]["failed"] == 1
    (item,) = data["deliveries"]["attention"]
    assert item["id"] == d.id and item["status"] == "failed"
    assert item["last_error"] == "Forbidden: bot was kicked from the channel chat"
    assert item["title"]
    assert any("1 failed delivery" in p for p in data["problems"])

    result = run_status(settings)
    assert result.exit_code == 1
    assert f"#{d.id}" in result.output and "bot was kicked" in result.output
    assert "NEEDS AN EDITOR" in result.output


def test_held_delivery_exits_1_with_its_reason(settings, ingested):
    d = pending(ingested, "de.telegram")
    ingested.outbox.set_status(d.id, from_states=("pending",), to="held", now=dt.datetime.now(dt.timezone.utc),
                               reason="outcome unknown: check the channel before releasing")
    code, data = status_json(settings)
    assert code == 1
    (item,) = data["deliveries"]["attention"]
    assert item["status"] == "held" and "outcome unknown" in item["reason"]
    result = run_status(settings)
    assert result.exit_code == 1 and "outcome unknown" in result.output


def test_attention_lists_newest_first_and_is_capped(settings, ingested, monkeypatch):
    monkeypatch.setattr(health, "RECENT_LIMIT", 2)
    open_rows = ingested.deliveries(status="pending")
    assert len(open_rows) >= 3
    for n, d in enumerate(open_rows[:3]):
        fail(ingested, d.id, f"error {n}", T0 + dt.timedelta(minutes=n))
    data = health.collect(settings, ingested, T0 + dt.timedelta(hours=1))
    assert data["deliveries"]["attention_total"] == 3
    assert [a["last_error"] for a in data["deliveries"]["attention"]] == ["error 2", "error 1"]
    assert data["problems"] == ["3 failed deliveries"]
    json.dumps(data)  # JSON-ready as it is


def test_paused_channel_exits_1_with_resume_hint(settings, ingested):
    ingested.outbox.update_channel("de.telegram", paused=True, paused_reason="5 consecutive failures: 401",
                                   consecutive_failures=5, now=dt.datetime.now(dt.timezone.utc))
    code, data = status_json(settings)
    assert code == 1
    (ch,) = data["channels"]
    assert ch == {"channel": "de.telegram", "paused": True, "paused_reason": "5 consecutive failures: 401",
                  "consecutive_failures": 5, "not_before": None, "resume": "distributor resume de.telegram"}
    result = run_status(settings)
    assert result.exit_code == 1
    assert "PAUSED de.telegram: 5 consecutive failures: 401" in result.output
    assert "distributor resume de.telegram" in result.output


def test_resumed_channel_is_healthy_again(settings, ingested):
    now = dt.datetime.now(dt.timezone.utc)
    ingested.outbox.update_channel("de.telegram", paused=True, paused_reason="x", now=now)
    ingested.outbox.update_channel("de.telegram", paused=False, paused_reason=None, consecutive_failures=0,
                                   not_before=None, now=now)
    code, data = status_json(settings)
    assert code == 0 and data["channels"] == []


def test_rate_limited_channel_is_shown_but_healthy(settings, ingested):
    now = dt.datetime.now(dt.timezone.utc)
    ingested.outbox.update_channel("de.twitter", not_before=now + dt.timedelta(minutes=15), now=now)
    code, data = status_json(settings)
    assert code == 0
    (ch,) = data["channels"]
    assert ch["paused"] is False and ch["not_before"] is not None
    assert "waiting until" in run_status(settings).output


def test_failed_source_poll_exits_1(settings, ingested):
    ingested.record_poll("articles", ok=False, error="folder /nowhere does not exist")
    code, data = status_json(settings)
    assert code == 1
    src = data["sources"][0]
    assert src["ok"] is False and src["error"] == "folder /nowhere does not exist"
    assert any("source articles" in p for p in data["problems"])
    result = run_status(settings)
    assert "ERROR folder /nowhere does not exist" in result.output


def test_poll_age_is_measured_from_now(settings, store):
    store.record_poll("articles", ok=True, summary="0 new", now=T0)
    data = health.collect(settings, store, T0 + dt.timedelta(seconds=90))
    assert data["sources"][0]["age_seconds"] == 90
    assert data["sources"][0]["polled_at"] == T0.isoformat()


def test_unconfigured_source_poll_is_listed_but_not_a_problem(settings, store):
    store.record_poll("old-feed", ok=False, error="gone", now=T0)
    data = health.collect(settings, store, T0)
    old = next(s for s in data["sources"] if s["name"] == "old-feed")
    assert old["configured"] is False
    assert data["problems"] == []


# ------------------------------------------------------------------ digests


def test_digest_issues_in_progress_sent_and_held(settings, store):
    issues = Issues(store.engine)
    sent = make_issue(store, "de", T0 - dt.timedelta(days=7), T0 - dt.timedelta(days=7))
    issues.set_status(sent.id, "sent", now=T0 - dt.timedelta(days=7))
    running = make_issue(store, "de", T0, T0)

    data = health.collect(settings, store, T0 + dt.timedelta(minutes=5))
    de = next(e for e in data["editions"] if e["edition"] == "de")
    assert de["last_sent"]["id"] == sent.id
    assert [i["status"] for i in de["open_issues"]] == ["sending"]
    assert data["problems"] == []  # in progress is not a problem

    issues.set_status(running.id, "held", now=T0, reason="batch 1: outcome unknown")
    code, payload = status_json(settings)
    assert code == 1
    de = next(e for e in payload["editions"] if e["edition"] == "de")
    (held,) = de["open_issues"]
    assert held["id"] == running.id and held["reason"] == "batch 1: outcome unknown"
    assert any(f"issue #{running.id}" in p and "held" in p for p in payload["problems"])
    out = run_status(settings).output
    assert f"issue #{running.id}" in out and "HELD: batch 1: outcome unknown" in out
    assert f"last sent: #{sent.id}" in out


def test_failed_issue_exits_1(settings, store):
    issue = make_issue(store, "fr", T0, T0)
    Issues(store.engine).set_status(issue.id, "failed", now=T0, reason="batch 1: 401 Unauthorized")
    code, data = status_json(settings)
    assert code == 1
    assert any("401 Unauthorized" in p for p in data["problems"])


def test_next_digest_is_after_now_in_the_edition_zone(settings, store):
    from zoneinfo import ZoneInfo

    from distributor.newsletter.digest import next_slot

    data = health.collect(settings, store, T0)
    for e in data["editions"]:
        assert e["next_digest"] == next_slot(settings, e["edition"], T0).isoformat()
        local = dt.datetime.fromisoformat(e["next_digest_local"])
        assert local.utcoffset() == local.astimezone(ZoneInfo(e["timezone"])).utcoffset()
        assert local > T0


# ------------------------------------------------------------------ daemon


def test_daemon_jobs_are_listed_once_the_daemon_ran(settings, store):
    from distributor.schedule import make_scheduler, sync_jobs

    async def persist_jobs() -> None:
        scheduler = make_scheduler(settings, store)
        scheduler.start(paused=True)
        try:
            sync_jobs(scheduler, settings)
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(persist_jobs())
    code, data = status_json(settings)
    assert data["daemon"]["ever_ran"] is True
    ids = [j["id"] for j in data["daemon"]["jobs"]]
    assert "poll:articles" in ids and "digest:de" in ids and "deliver" in ids
    for j in data["daemon"]["jobs"]:
        assert j["next_run"] is None or dt.datetime.fromisoformat(j["next_run"]).tzinfo is not None
    assert not any("never run" in n for n in data["notes"])

    out = run_status(settings).output
    assert "daemon jobs:" in out and "poll:articles" in out and "next at" in out

    # Long after the stored next runs: the daemon is probably not running.
    later = health.collect(settings, store, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))
    assert any(j["overdue"] for j in later["daemon"]["jobs"])
    assert any("overdue" in n for n in later["notes"])


def test_help_documents_the_exit_codes():
    result = CliRunner().invoke(cli, ["status", "--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output and "needs an editor" in result.output


def test_bad_config_exits_2(tmp_path):
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(cli, ["--config", str(missing), "status"])
    assert result.exit_code == 2


def test_a_sending_row_older_than_its_lease_exits_1(settings, ingested):
    lease = settings.delivery.sending_lease_seconds
    now = dt.datetime.now(dt.timezone.utc)
    fresh, stale = [d for d in ingested.deliveries(status="pending") if d.kind == "telegram"][:2]
    # A send in flight within its lease is normal: healthy.
    ingested.outbox.claim(fresh.id, worker="other-host:1:a", payload="{}", now=now - dt.timedelta(seconds=lease - 30))
    code, data = status_json(settings)
    assert code == 0 and data["problems"] == []
    # One past its lease: its process is gone or stuck.
    ingested.outbox.claim(stale.id, worker="other-host:1:b", payload="{}", now=now - dt.timedelta(seconds=lease + 30))
    code, data = status_json(settings)
    assert code == 1
    (problem,) = data["problems"]
    assert f"delivery #{stale.id}" in problem and "sending since" in problem and "lease" in problem
    result = run_status(settings)
    assert result.exit_code == 1 and f"delivery #{stale.id}" in result.output
