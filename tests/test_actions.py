"""The editor actions (distributor/actions/), each against a real store
(SQLite, and PostgreSQL where the store is what matters) and the sandbox over
HTTP where it sends: what it changes, what it returns, and the audit row it
writes with its actor, refusals included."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from distributor.actions import deliveries as actions
from distributor.actions import digest as digest_actions
from distributor.actions.common import cli_actor
from distributor.app import App, open_app, open_app_async
from distributor.errors import ConfigurationError, DistributorError
from distributor.ingest.pipeline import ingest
from distributor.store.issues import Issues
from distributor.store.audit import Audit, AuditEntry
from distributor.store.outbox import DeliveryStatus, InvalidTransition
from distributor.store.states import IssueStatus
from support import add_subscribers, on_engine, sent, with_channel

S = DeliveryStatus
ANNA = "desk:anna"
BOT = "telegram:4711"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_settings(request, sb_settings):
    """The sandbox settings, on a fresh SQLite file or PostgreSQL database."""
    return on_engine(request, sb_settings)


def run(settings, fn, clock=None):
    """fn(app) inside open_app_async (the sandbox already runs), on an optional fake clock."""
    async def go():
        kw = {"clock": clock, "sleep": clock.sleep} if clock is not None else {}
        async with open_app_async(settings, sandbox=False, **kw) as app:
            return await fn(app)

    return asyncio.run(go())


def history(app: App, **by) -> list[AuditEntry]:
    return Audit(app.store.engine).history(**by)


def seed(app: App):
    """The seed article's de.telegram delivery, after an ingest."""
    ingest(app.settings, app.store, now=app.clock())
    return next(d for d in app.store.deliveries() if d.channel == "de.telegram" and d.seq == 0)


def posts(control, chat="@novastan_de"):
    return [r for r in sent(control, "telegram") if r["body"].get("chat_id") == chat
            and r["path"].endswith(("sendMessage", "sendPhoto"))]


# ------------------------------------------------------------------ state changes


def test_hold_release_skip_and_their_audit(app_settings):
    with open_app(app_settings) as app:
        d = seed(app)
        held = actions.hold(app, d.id, actor=ANNA)
        assert (held.status, held.outcome, held.channel, held.article_id) == (S.HELD, S.HELD, "de.telegram",
                                                                            d.article_id)
        assert app.store.outbox.get(d.id).reason == "held by an editor"
        released = actions.release(app, d.id, actor=BOT)
        assert released.status == S.PENDING
        skipped = actions.skip(app, d.id, actor=ANNA, reason="already posted by hand")
        assert skipped.status == S.CANCELLED
        assert app.store.outbox.get(d.id).reason == "cancelled by an editor: already posted by hand"
        entries = history(app, delivery_id=d.id)
        assert [(e.actor, e.action, e.outcome) for e in entries] == [
            (ANNA, "skip", "cancelled"), (BOT, "release", "pending"), (ANNA, "hold", "held")]
        assert all(e.article_id == d.article_id and e.channel == "de.telegram" for e in entries)
        assert entries[0].detail == "cancelled by an editor: already posted by hand"
        assert history(app, article_id=d.article_id) == entries


def test_an_impossible_move_raises_the_clear_error_changes_nothing_and_is_recorded(app_settings):
    with open_app(app_settings) as app:
        d = seed(app)
        actions.skip(app, d.id, actor=ANNA)
        with pytest.raises(InvalidTransition) as err:
            actions.release(app, d.id, actor=BOT)
        assert str(err.value) == (f"delivery {d.id} (de.telegram) is cancelled; only a delivery that is held "
                                  "can become pending")
        assert (err.value.current, err.value.requested, err.value.allowed) == (S.CANCELLED, S.PENDING, (S.HELD,))
        with pytest.raises(InvalidTransition, match="is cancelled; only a delivery that is failed can become"):
            actions.retry(app, d.id, actor=BOT)
        with pytest.raises(DistributorError, match="no delivery with id 99999"):
            actions.hold(app, 99999, actor=BOT)
        assert app.store.outbox.get(d.id).status == S.CANCELLED
        refused = [e for e in history(app) if e.outcome == "refused"]
        assert [(e.actor, e.action, e.delivery_id) for e in refused] == [
            (BOT, "hold", 99999), (BOT, "retry", d.id), (BOT, "release", d.id)]
        assert refused[2].detail == str(err.value) and refused[2].channel == "de.telegram"


def test_a_newsletter_delivery_in_an_issue_goes_with_it(app_settings):
    with open_app(app_settings) as app:
        seed(app)
        nl = next(d for d in app.store.deliveries() if d.channel == "de.newsletter")
        issue = Issues(app.store.engine).create(edition="de", slot=app.clock(), subject="s", html="h", text="t",
                                                headers={}, batch_size=10, items=[(nl.id, nl.article_id)],
                                                now=app.clock())
        assert issue is not None
        with pytest.raises(DistributorError, match=f"is in the digest issue #{issue.id} and goes out with it"):
            actions.hold(app, nl.id, actor=ANNA)
        assert app.store.outbox.get(nl.id).status == S.PENDING


def test_resume_clears_the_pause_and_records_why_it_was_paused(app_settings):
    with open_app(app_settings) as app:
        app.store.outbox.update_channel("de.telegram", paused=True, paused_reason="bad token",
                                        consecutive_failures=3, now=app.clock())
        result = actions.resume(app, "de.telegram", actor=ANNA)
        assert (result.channel, result.detail) == ("de.telegram", "was paused: bad token")
        state = app.store.outbox.channel("de.telegram")
        assert (state.paused, state.paused_reason, state.consecutive_failures) == (False, None, 0)
        with pytest.raises(ConfigurationError, match="no channel 'de.facebook'"):
            actions.resume(app, "de.facebook", actor=ANNA)
        assert [(e.action, e.channel, e.outcome) for e in history(app)] == [
            ("resume", "de.facebook", "refused"), ("resume", "de.telegram", "resumed")]


# ------------------------------------------------------------------ sending by hand


def test_send_now_then_refuse_then_resend_through_the_sandbox(app_settings, control, clock):
    def go(fn):
        return run(app_settings, fn, clock)

    async def first(app):
        d = seed(app)
        return d, await actions.send_now(app, d.article_id, "telegram", actor=ANNA)

    d, result = go(first)
    assert (result.delivery_id, result.outcome, result.status, result.action) == (d.id, "sent", S.SENT, "send")
    assert result.detail and len(posts(control)) == 1

    async def again(app):
        return await actions.send_now(app, d.article_id, "telegram", actor=BOT)

    with pytest.raises(DistributorError, match="is already sent to de.telegram .*use --force"):
        go(again)
    waits: list[tuple[str, float]] = []

    async def forced(app):
        return await actions.resend(app, d.article_id, "telegram", actor=BOT, on_wait=lambda c, s: waits.append((c, s)))

    resent = go(forced)
    assert resent.outcome == "sent" and resent.delivery_id != d.id and resent.action == "resend"
    # The channel's pacing after the first post (its min_interval_seconds) was sat out, on the fake clock.
    assert waits == [("de.telegram", app_settings.editions["de"].channels.telegram.min_interval_seconds)]
    assert resent.waited == waits[0][1]
    assert len(posts(control)) == 2

    with open_app(app_settings) as app:
        rows = {r.seq: r for r in app.store.deliveries(article_id=d.article_id) if r.channel == "de.telegram"}
        assert rows[0].status == rows[1].status == S.SENT
        entries = history(app, article_id=d.article_id)
    assert [(e.actor, e.action, e.outcome, e.delivery_id) for e in entries] == [
        (BOT, "resend", "sent", resent.delivery_id), (BOT, "send", "refused", None), (ANNA, "send", "sent", d.id)]
    assert "use --force" in entries[1].detail and entries[1].channel == "de.telegram"


def test_send_now_sends_a_held_one_and_refuses_a_paused_channel_or_a_long_wait(sb_settings, control, clock):
    def go(fn):
        return run(sb_settings, fn, clock)

    async def setup(app):
        d = seed(app)
        actions.hold(app, d.id, actor=ANNA)
        app.store.outbox.update_channel("de.telegram", paused=True, paused_reason="bad token", now=app.clock())
        return d

    d = go(setup)

    async def send(app):
        return await actions.send_now(app, d.article_id, "telegram", actor=ANNA)

    with pytest.raises(DistributorError, match=r"de.telegram is paused \(bad token\); `distributor resume"):
        go(send)

    async def slow(app):
        actions.resume(app, "de.telegram", actor=ANNA)
        app.store.outbox.update_channel("de.telegram", not_before=app.clock() + dt.timedelta(seconds=600),
                                        now=app.clock())

    go(slow)
    with pytest.raises(DistributorError, match="de.telegram must wait until .* UTC \\(a rate limit\\)"):
        go(send)

    async def later(app):
        app.store.outbox.update_channel("de.telegram", not_before=None, now=app.clock())
        return await actions.send_now(app, d.article_id, "telegram", actor=ANNA)

    with open_app(sb_settings) as app:
        assert app.store.outbox.get(d.id).status == S.HELD  # the refusals changed nothing
    result = go(later)
    assert result.outcome == "sent" and result.delivery_id == d.id and len(posts(control)) == 1


def test_send_now_on_a_failing_channel_then_retry(sb_settings, control, clock):
    control.post("/_sandbox/faults", json={"service": "x", "status": 400, "times": 1, "method": "tweets"})

    async def send(app):
        d = seed(app)
        return await actions.send_now(app, d.article_id, "twitter", actor=ANNA)

    failed = run(sb_settings, send, clock)
    assert (failed.outcome, failed.status) == ("failed", S.FAILED)
    with open_app(sb_settings) as app:
        retried = actions.retry(app, failed.delivery_id, actor=BOT)
        assert retried.status == S.PENDING and app.store.outbox.get(failed.delivery_id).attempts == 0
        assert [(e.action, e.outcome) for e in history(app, delivery_id=failed.delivery_id)] == [
            ("retry", "pending"), ("send", "failed")]


def test_a_newsletter_is_not_sent_article_by_article(sb_settings):
    async def send(app):
        d = seed(app)
        return await actions.send_now(app, d.article_id, "newsletter", actor=ANNA)

    with pytest.raises(DistributorError, match="de.newsletter is not sent article by article"):
        run(sb_settings, send)


# ------------------------------------------------------------------ the digest


def test_digest_send_test_copy_resend_and_release(app_settings, control, clock):
    mails = lambda: [r["body"] for r in sent(control, "sendgrid", "/mail/send")]  # noqa: E731

    async def go(app):
        ingest(app.settings, app.store, now=app.clock())
        add_subscribers(app.store, "de", ["a@example.org", "b@example.org"])
        copy = await digest_actions.send_test(app, "de", "editor@example.org", actor=ANNA, subject="Diese Woche")
        result = await digest_actions.send_digest(app, "de", actor=ANNA)
        again = await digest_actions.resend_issue(app, result.issue.id, "late@example.org", actor=BOT)
        return copy, result, again

    copy, result, again = run(app_settings, go, clock)
    assert copy.address == "editor@example.org" and copy.message_id
    assert result.status == "sent" and result.issue.status == IssueStatus.SENT
    assert again.issue_id == result.issue.id and again.edition == "de"
    to = [p["to"][0]["email"] for b in mails() for p in b["personalizations"]]
    assert to == ["editor@example.org", "a@example.org", "b@example.org", "late@example.org"]
    assert mails()[0]["subject"] == "[Test] Diese Woche"
    with open_app(app_settings) as app:
        entries = history(app)
        assert [(e.actor, e.action, e.outcome, e.issue_id) for e in entries] == [
            (BOT, "digest_test", "sent", result.issue.id), (ANNA, "digest_send", "sent", result.issue.id),
            (ANNA, "digest_test", "sent", None)]
        assert entries[2].detail.startswith("to editor@example.org (X-Message-Id ")
        assert history(app, issue_id=result.issue.id) == entries[:2]
        # A sent issue cannot be released: refused and recorded.
        issue_id = result.issue.id

    async def release(app):
        return await digest_actions.release_issue(app, issue_id, actor=BOT)

    with pytest.raises(InvalidTransition, match=f"issue {issue_id} is sent; only a held issue can be released"):
        run(app_settings, release, clock)
    with open_app(app_settings) as app:
        assert history(app, limit=1)[0].outcome == "refused"


def test_release_a_held_issue(sb_settings, control, clock):
    async def go(app):
        ingest(app.settings, app.store, now=app.clock())
        add_subscribers(app.store, "de", ["a@example.org"])
        repo = Issues(app.store.engine)
        items = repo.waiting_deliveries("de", app.clock())
        from distributor.newsletter.digest import assemble

        issue = assemble(app.settings, app.store, "de", app.clock(), app.clock())
        repo.begin_batch(issue.id, 0, recipients=1, now=app.clock(), after_id=0, last_id=10**9)
        repo.set_status(issue.id, IssueStatus.HELD, now=app.clock(), reason="batch 1: outcome unknown")
        result = await digest_actions.release_issue(app, issue.id, actor=ANNA)
        return items, result

    items, result = run(sb_settings, go, clock)
    assert items and result.status == "sent" and result.issue.status == IssueStatus.SENT
    assert len(sent(control, "sendgrid", "/mail/send")) == 1
    with open_app(sb_settings) as app:
        (entry,) = history(app)
        assert (entry.actor, entry.action, entry.outcome, entry.issue_id) == (ANNA, "digest_release", "sent",
                                                                              result.issue.id)


def test_digest_actions_refuse_an_edition_without_a_newsletter(sb_settings):
    async def go(app):
        return await digest_actions.send_digest(app, "xx", actor=ANNA)

    with pytest.raises(ConfigurationError, match="edition 'xx' has no newsletter channel"):
        run(sb_settings, go)
    with open_app(sb_settings) as app:
        assert [(e.action, e.outcome) for e in history(app)] == [("digest_send", "refused")]
    with pytest.raises(DistributorError, match="edition de has no test_recipients"):
        digest_actions.copy_addresses(with_channel(sb_settings, "de.newsletter", test_recipients=()), "de", None)


# ------------------------------------------------------------------ the audit


def test_the_audit_is_scrubbed_of_secrets_like_every_stored_reason(settings, monkeypatch):
    secret = "123456:AAFakeButLongEnoughSecretValue_1234"
    monkeypatch.setenv("TEST_ACTIONS_DE_TOKEN", secret)
    settings = with_channel(settings, "de.telegram", token_env="TEST_ACTIONS_DE_TOKEN")
    with open_app(settings) as app:
        d = seed(app)
        actions.hold(app, d.id, actor=f"desk:{secret}", reason=f"the token {secret} leaked")
        (entry,) = history(app)
        assert secret not in entry.detail and secret not in entry.actor
        assert entry.detail == "held by an editor: the token [redacted] leaked"


def test_the_cli_actor_names_the_unix_user(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "marta")
    assert cli_actor() == "cli:marta"

    def nobody():
        raise OSError("no login name")

    monkeypatch.setattr("getpass.getuser", nobody)
    assert cli_actor().startswith("cli:uid")


def test_what_each_editor_move_applies_to():
    """The CLI's old rules, now data beside the actions (and each one in the store's table)."""
    assert {name: (tuple(map(str, m.only_from)), str(m.to)) for name, m in actions.MOVES.items()} == {
        "skip": (("pending", "awaiting_approval", "held", "failed"), "cancelled"),
        "hold": (("pending", "failed"), "held"),
        "release": (("held",), "pending"),
        "retry": (("failed",), "pending"),
        "send": (("pending", "awaiting_approval", "failed", "held", "skipped", "cancelled"), "pending"),
    }
