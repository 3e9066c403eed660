"""The dispatcher against the sandbox with the real clients: each error class,
exact waits, idempotence, corrections, pausing. No test sleeps: the fake
clock's sleep only moves time."""

from __future__ import annotations

import datetime as dt

import pytest

from distributor.ingest.pipeline import ingest

from support import drain, sent, with_channel



def fault(control, **f):
    r = control.post("/_sandbox/faults", json=f)
    assert r.status_code < 300, r.text


def by_channel(store, article_title_part: str | None = None):
    titles = {a.id: a.article.title for a in store.list_articles()}
    return {(titles[d.article_id], d.channel): d for d in store.deliveries()}


@pytest.fixture
def ingested(sb_settings, store, clock):
    ingest(sb_settings, store, now=clock())
    return store


def test_each_article_goes_once_to_each_named_channel_and_a_second_run_sends_nothing(
        sb_settings, ingested, clock, control):
    store = ingested
    report = drain(sb_settings, store, clock)
    pending_social = [d for d in store.deliveries(status="pending") if d.kind != "newsletter"]
    assert pending_social == []
    sent_rows = store.deliveries(status="sent")
    assert {d.channel for d in sent_rows} == {"de.telegram", "de.twitter", "en.telegram", "en.twitter", "fr.telegram"}
    assert report.count("sent") == len(sent_rows)
    assert all(d.remote_id for d in sent_rows)
    posts = sent(control, "telegram", "sendMessage") + sent(control, "telegram", "sendPhoto")
    tweets = sent(control, "x", "/2/tweets")
    assert len(posts) == sum(d.kind == "telegram" for d in sent_rows)
    assert len(tweets) == sum(d.kind == "twitter" for d in sent_rows)
    # Newsletter deliveries wait for the digest; skipped ones stay skipped.
    assert {d.status for d in store.deliveries() if d.kind == "newsletter"} == {"pending"}
    assert any(d.status == "skipped" for d in store.deliveries())

    again = drain(sb_settings, store, clock)
    assert again.outcomes == []
    assert len(sent(control, "telegram", "sendMessage") + sent(control, "telegram", "sendPhoto")) == len(posts)
    assert len(sent(control, "x", "/2/tweets")) == len(tweets)


def test_telegram_flood_wait_is_honoured_exactly(sb_settings, ingested, clock, control):
    store = ingested
    fault(control, service="telegram", status=429, retry_after=7, method="send", times=1)
    start = clock()
    drain(sb_settings, store, clock)
    # The first Telegram send was refused with retry_after=7; the dispatcher
    # waited exactly that long (sleeping, on the fake clock) and the retry went through.
    rows = [d for d in store.deliveries() if d.kind == "telegram"]
    assert {d.status for d in rows} == {"sent"}
    limited = [a for d in rows for a in store.outbox.attempts(d.id) if a.outcome == "rate_limited"]
    assert len(limited) == 1
    retried = [a for a in store.outbox.attempts(limited[0].delivery_id) if a.outcome == "sent"][0]
    assert retried.started_at - limited[0].started_at == dt.timedelta(seconds=7)
    assert clock() - start >= dt.timedelta(seconds=7) and sum(clock.slept) >= 7
    # A rate-limit wait is not a failed attempt.
    assert store.outbox.get(limited[0].delivery_id).attempts == 0


def with_delivery(settings, **changes):
    import dataclasses

    return dataclasses.replace(settings, delivery=dataclasses.replace(settings.delivery, **changes))


def test_transient_errors_back_off_then_fail_visibly(sb_settings, ingested, clock, control):
    store = ingested
    settings = with_delivery(sb_settings, pause_after_failures=100)
    fault(control, service="x", status=503, method="tweets", times=50)
    drain(settings, store, clock, max_wait=10_000)
    tweets = [d for d in store.deliveries() if d.kind == "twitter" and d.status != "skipped"]
    assert len(tweets) == 3
    assert {d.status for d in tweets} == {"failed"}
    for d in tweets:
        assert d.attempts == sb_settings.delivery.max_attempts
        assert "gave up after 5 attempts" in d.last_error
        outcomes = [a.outcome for a in store.outbox.attempts(d.id)]
        assert outcomes == ["transient"] * 5
    # Backoff doubled between attempts (rand=1.0: the full ceiling): 30, 60, 120, 240 s.
    first = store.outbox.attempts(tweets[0].id)
    gaps = [round((b.started_at - a.started_at).total_seconds()) for a, b in zip(first, first[1:])]
    assert gaps == [30, 60, 120, 240]


def test_a_channel_pauses_itself_after_repeated_failures(sb_settings, ingested, clock, control):
    store = ingested
    settings = with_delivery(sb_settings, pause_after_failures=3)
    fault(control, service="x", status=503, method="tweets", times=50)
    drain(settings, store, clock, max_wait=10_000)
    state = store.outbox.channel("de.twitter")
    assert state.paused and state.paused_reason.startswith("3 failures in a row, the last: de.twitter: 503")
    de_x = [d for d in store.deliveries() if d.channel == "de.twitter"]
    assert sum(len(store.outbox.attempts(d.id)) for d in de_x) == 3  # no more calls once paused
    assert {d.status for d in de_x} == {"pending"}


def test_bad_credentials_pause_the_channel_without_a_retry_storm(sb_settings, ingested, clock, control, monkeypatch):
    store = ingested
    monkeypatch.setenv("DE_TG_TOKEN", "123456:WRONGWRONGWRONGWRONGWRONGWRONGWRONG")
    # A live channel pointed at the sandbox (sandbox mode would ignore the variable).
    settings = with_channel(sb_settings, "de.telegram", token_env="DE_TG_TOKEN", mode="live",
                            api_url=f"{sb_settings.sandbox.base_url}/telegram")
    drain(settings, store, clock)
    state = store.outbox.channel("de.telegram")
    assert state.paused and "token was rejected" in state.paused_reason
    de_tg = [d for d in store.deliveries() if d.channel == "de.telegram"]
    # Every de.telegram delivery waits for the channel; none failed, none retried in a loop.
    assert {d.status for d in de_tg} == {"pending"}
    assert sum(len(store.outbox.attempts(d.id)) for d in de_tg) == 1
    # Other channels went on.
    assert {d.status for d in store.deliveries() if d.channel == "en.telegram"} == {"sent"}


def test_a_permanent_error_fails_the_delivery_and_shows_why(sb_settings, ingested, clock, control):
    store = ingested
    fault(control, service="x", status=400, method="tweets", times=1)
    drain(sb_settings, store, clock)
    failed = store.deliveries(status="failed")
    assert len(failed) == 1 and failed[0].kind == "twitter"
    assert failed[0].last_error.startswith(f"{failed[0].channel}: 400")
    assert [a.outcome for a in store.outbox.attempts(failed[0].id)] == ["permanent"]


def test_a_timeout_after_the_request_left_holds_the_telegram_delivery(sb_settings, ingested, clock, control):
    store = ingested
    # The sandbox takes longer than the client waits: the outcome is unknown.
    fault(control, service="telegram", delay_ms=3_000, method="sendMessage", times=1)
    drain(sb_settings, store, clock)
    held = store.deliveries(status="held")
    assert len(held) == 1 and held[0].kind == "telegram"
    assert "outcome unknown" in held[0].reason and f"distributor release {held[0].id}" in held[0].reason
    assert [a.outcome for a in store.outbox.attempts(held[0].id)] == ["unknown"]
    assert store.outbox.attempts(held[0].id)[0].payload  # the evidence: what was sent


def test_an_x_timeout_is_resolved_by_finding_the_post(sb_settings, ingested, clock, control):
    store = ingested
    fault(control, service="x", delay_ms=3_000, method="tweets", times=1)
    drain(sb_settings, store, clock)
    tweets = [d for d in store.deliveries() if d.kind == "twitter" and d.status != "skipped"]
    assert {d.status for d in tweets} == {"sent"}
    found = [d for d in tweets if d.reason and "found on the account" in d.reason]
    assert len(found) == 1
    created = sent(control, "x", "/2/tweets")
    assert found[0].remote_id in {r["result"]["data"]["id"] for r in created if "result" in r}
    assert len(created) == len(tweets)  # no second post


def test_corrections_edit_telegram_and_record_x(sb_settings, ingested, clock, control, articles_dir):
    store = ingested
    drain(sb_settings, store, clock)
    path = articles_dir / "de-kasachstan-china-ukraine.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("12-Punkte-Plan", "Zwölf-Punkte-Plan", 1),
                    encoding="utf-8")
    ingest(sb_settings, store, now=clock())
    report = drain(sb_settings, store, clock)
    statuses = {o.channel: o.status for o in report.corrected}
    assert statuses == {"de.telegram": "edited", "de.twitter": "not_edited"}
    edits = sent(control, "telegram", "editMessageText")
    assert len(edits) == 1 and "Zwölf-Punkte-Plan" in edits[0]["body"]["text"]
    tweet = [d for d in store.deliveries() if d.channel == "de.twitter" and d.article_version == 2]
    assert tweet and "left as it is" in tweet[0].reason
    assert drain(sb_settings, store, clock).corrected == []  # recorded once


def test_embargo_waits_for_publish_at(sb_settings, store, clock, control, articles_dir):
    (articles_dir / "later.md").write_text(
        "---\ntitle: Embargoed\nlanguage: de\nurl: https://novastan.org/de/x/\n"
        "publish_at: 2025-03-20T08:00:00+00:00\nchannels: [telegram]\n---\n\nText des Artikels.\n",
        encoding="utf-8")
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    row = [d for d in store.deliveries() if d.channel == "de.telegram"
           and store.get_article(d.article_id).article.title == "Embargoed"][0]
    assert row.status == "pending"
    clock.now = dt.datetime(2025, 3, 20, 8, 0, 1, tzinfo=dt.timezone.utc)
    drain(sb_settings, store, clock)
    assert store.outbox.get(row.id).status == "sent"


def test_a_migrated_chat_updates_the_stored_chat_id(sb_settings, ingested, clock, control):
    store = ingested
    moved = control.post("/_sandbox/telegram/migrate", json={"chat": "@novastan_de"}).json()
    new_id = moved["migrate_to_chat_id"]
    drain(sb_settings, store, clock)
    de_tg = [d for d in store.deliveries() if d.channel == "de.telegram"]
    assert {d.status for d in de_tg} == {"sent"}
    assert store.outbox.channel("de.telegram").chat_id == str(new_id)
    posts = [r for r in sent(control, "telegram") if r["path"].endswith(("sendMessage", "sendPhoto"))]
    assert {r["body"]["chat_id"] for r in posts if r["body"]["chat_id"] in (str(new_id), "@novastan_de")} == {
        str(new_id)}
    refused = [r for r in control.get("/_sandbox/requests", params={"service": "telegram", "all": 1}).json()["requests"]
               if not r["accepted"]]
    assert len(refused) == 1 and "upgraded to a supergroup" in refused[0]["error"]
    # The migration was not a failed attempt.
    assert all(d.attempts == 0 for d in de_tg)
