"""Approval holds on every path by which a changed article (or one never
approved) could reach a channel in `approval = "required"` mode (issue 13
item 4): the edit of a sent Telegram post, an approved post not sent yet, a
held post released after the change, a channel switched to required (and
back), the digest, and an issue made while an article changes. Each against
the sandbox over HTTP, its request log showing what was (not) posted, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from distributor.actions import deliveries as actions
from distributor.app import open_app
from distributor.ingest.pipeline import ingest
from distributor.newsletter import digest
from distributor.store import Store
from distributor.store.issues import Issues, StaleItems
from distributor.store.outbox import DeliveryStatus, InvalidTransition
from support import add_subscribers, drain, on_engine, sent, with_channel

S = DeliveryStatus
ANNA = "desk:anna"
SEED = "de-kasachstan-china-ukraine.txt"
OLD, NEW = "12-Punkte-Plan", "Zwölf-Punkte-Plan"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sb_settings(request, sb_settings):
    """The sandbox settings, on SQLite or on a fresh PostgreSQL database."""
    return on_engine(request, sb_settings)


@pytest.fixture
def store(sb_settings):
    with Store.open(sb_settings) as s:
        yield s


def required(settings, *channels: str):
    for channel in channels:
        settings = with_channel(settings, channel, approval="required")
    return settings


def seed_row(store, channel="de.telegram"):
    seed = next(a for a in store.list_articles() if a.key == SEED)
    return next(d for d in store.deliveries(article_id=seed.id) if d.channel == channel)


def change_the_seed(articles_dir) -> None:
    path = articles_dir / SEED
    path.write_text(path.read_text(encoding="utf-8").replace(OLD, NEW, 1), encoding="utf-8")


def posts(control, chat="@novastan_de"):
    return [r for r in sent(control, "telegram") if r["body"].get("chat_id") == chat
            and r["path"].endswith(("sendMessage", "sendPhoto"))]


def text_of(call) -> str:
    return call["body"].get("text") or call["body"].get("caption") or ""


def approve(settings, clock, delivery_id):
    with open_app(settings, clock=clock) as app:
        return actions.approve(app, delivery_id, actor=ANNA)


def test_the_edit_of_a_corrected_post_waits_for_its_approval(sb_settings, store, clock, control, articles_dir):
    settings = required(sb_settings, "de.telegram", "de.twitter")
    ingest(settings, store, now=clock())
    tg, x = seed_row(store), seed_row(store, "de.twitter")
    approve(settings, clock, tg.id), approve(settings, clock, x.id)
    drain(settings, store, clock)
    assert store.outbox.get(tg.id).status == S.SENT and len(posts(control)) == 1
    change_the_seed(articles_dir)
    ingest(settings, store, now=clock())
    report = drain(settings, store, clock)
    # The post is not edited; the tweet (X posts are never edited) is recorded as left alone.
    assert sent(control, "telegram", "editMessageText") == []
    assert [(o.channel, o.status) for o in report.corrected] == [("de.twitter", "not_edited")]
    row = store.outbox.get(tg.id)
    assert (row.status, row.article_version, row.approved_version) == (S.SENT, 1, 1)
    assert row.reason == (f"the article changed (version 2): the correction of the post awaits an editor's "
                          f"approval (`distributor approve {tg.id}`)")
    updated = row.updated_at
    assert drain(settings, store, clock).corrected == [] and store.outbox.get(tg.id).updated_at == updated
    with open_app(settings, clock=clock) as app:
        from distributor.health import collect

        notes = collect(settings, app.store, clock())["notes"]
        assert any(f"the correction of delivery #{tg.id} (de.telegram" in n for n in notes)
        with pytest.raises(InvalidTransition, match=f"delivery {x.id} \\(de.twitter\\) is sent; only a delivery"):
            actions.approve(app, x.id, actor=ANNA)  # its correction was recorded: nothing awaits
        # Where the desk and the bot show an Approve button: the post's correction, not the tweet's.
        assert actions.awaits_approval(app, app.store.outbox.get(tg.id), 2)
        assert not actions.awaits_approval(app, app.store.outbox.get(x.id), 2)
        result = actions.approve(app, tg.id, actor=ANNA)
        assert not actions.awaits_approval(app, app.store.outbox.get(tg.id), 2)
    assert (result.outcome, result.status, result.version) == ("correction_approved", S.SENT, 2)
    assert "the post is edited at the next delivery run" in result.detail
    report = drain(settings, store, clock)
    assert [(o.channel, o.status) for o in report.corrected] == [("de.telegram", "edited")]
    (edit,) = sent(control, "telegram", "editMessageText")
    assert NEW in text_of(edit) and len(posts(control)) == 1  # edited in place, not posted again
    assert store.outbox.get(tg.id).article_version == 2
    assert approve(settings, clock, tg.id).outcome == "already_approved"


def test_a_sent_post_in_a_channel_that_does_not_edit_is_not_approved_again(sb_settings, store, clock, control,
                                                                            articles_dir):
    settings = required(with_channel(sb_settings, "de.telegram", edit_on_update=False), "de.telegram")
    ingest(settings, store, now=clock())
    tg = seed_row(store)
    approve(settings, clock, tg.id)
    drain(settings, store, clock)
    change_the_seed(articles_dir)
    ingest(settings, store, now=clock())
    with open_app(settings, clock=clock) as app:  # before the drain records the correction
        with pytest.raises(InvalidTransition, match="a correction does not edit its post there"):
            actions.approve(app, tg.id, actor=ANNA)
    report = drain(settings, store, clock)
    assert [(o.channel, o.status) for o in report.corrected if o.channel == "de.telegram"] == [
        ("de.telegram", "not_edited")]
    assert sent(control, "telegram", "editMessageText") == []


def test_an_approved_post_not_sent_yet_whose_article_changes_awaits_approval_again(sb_settings, store, clock,
                                                                                    control, articles_dir):
    settings = required(sb_settings, "de.telegram")
    ingest(settings, store, now=clock())
    tg = seed_row(store)
    approve(settings, clock, tg.id)
    change_the_seed(articles_dir)
    ingest(settings, store, now=clock())
    row = store.outbox.get(tg.id)
    assert (row.status, row.article_version, row.approved_version) == (S.AWAITING_APPROVAL, 2, 1)
    drain(settings, store, clock)
    assert posts(control) == []
    assert approve(settings, clock, tg.id).version == 2
    drain(settings, store, clock)
    (post,) = posts(control)
    assert NEW in text_of(post) and store.outbox.get(tg.id).status == S.SENT


def test_a_held_post_released_after_its_article_changed_awaits_approval(sb_settings, store, clock, control,
                                                                        articles_dir):
    settings = required(sb_settings, "de.telegram")
    ingest(settings, store, now=clock())
    tg = seed_row(store)
    approve(settings, clock, tg.id)
    with open_app(settings, clock=clock) as app:
        actions.hold(app, tg.id, actor=ANNA)
    change_the_seed(articles_dir)
    ingest(settings, store, now=clock())
    assert store.outbox.get(tg.id).status == S.HELD  # held stays held: it waits for an editor
    with open_app(settings, clock=clock) as app:
        assert actions.release(app, tg.id, actor=ANNA).status == S.PENDING
    report = drain(settings, store, clock)  # its gate: approved at version 1, the article is at 2
    assert report.awaiting_approval == 2 and not [o for o in report.outcomes if o.channel == "de.telegram"]
    assert posts(control) == [] and store.outbox.get(tg.id).status == S.AWAITING_APPROVAL
    approve(settings, clock, tg.id)
    drain(settings, store, clock)
    (post,) = posts(control)
    assert NEW in text_of(post)


def test_the_send_itself_checks_the_version_approved(sb_settings, store, clock, control, articles_dir):
    """Past the gate (a release or an article update racing the drain), the
    dispatcher renders the article and sends it only if that version is the
    approved one; the claim is conditional on it too."""
    from distributor.delivery import Dispatcher

    settings = required(sb_settings, "de.telegram")
    ingest(settings, store, now=clock())
    tg = seed_row(store)
    approve(settings, clock, tg.id)
    change_the_seed(articles_dir)
    ingest(with_channel(settings, "de.telegram", approval="auto"), store, now=clock())  # stays pending, at 1

    async def deliver():
        dispatcher = Dispatcher(settings, store, clock=clock, sleep=clock.sleep)
        try:
            return await dispatcher.deliver(tg.id)
        finally:
            await dispatcher.aclose()

    assert store.outbox.get(tg.id).status == S.PENDING
    outcome = asyncio.run(deliver())
    assert (outcome.status, outcome.detail) == ("awaiting_approval", "version 2 is not approved")
    assert posts(control) == [] and store.outbox.attempts(tg.id) == []
    assert store.outbox.get(tg.id).status == S.AWAITING_APPROVAL


def test_a_channel_switched_to_required_sends_nothing_unapproved_and_back_to_auto_all(sb_settings, store, clock,
                                                                                      control):
    ingest(sb_settings, store, now=clock())  # planned in auto mode: pending
    strict = required(sb_settings, "de.telegram")
    report = drain(strict, store, clock)
    assert posts(control) == [] and report.awaiting_approval == 2
    assert {d.status for d in store.deliveries() if d.channel == "de.telegram"} == {S.AWAITING_APPROVAL}
    assert len(posts(control, "@novastan_en")) == 1  # the others go on
    drain(sb_settings, store, clock)  # approval = "auto" again
    assert {d.status for d in store.deliveries() if d.channel == "de.telegram"} == {S.SENT}
    assert len(posts(control)) == 2


def test_the_digest_takes_only_approved_articles_at_their_current_version(sb_settings, store, clock, control,
                                                                          articles_dir):
    settings = required(sb_settings, "de.newsletter")
    ingest(settings, store, now=clock())
    add_subscribers(store, "de", ["leserin@example.org"])
    run = lambda: asyncio.run(digest.run_digest(settings, store, "de", clock=clock, sleep=clock.sleep))  # noqa: E731
    nothing = run()
    assert nothing.status == "nothing" and sent(control, "sendgrid", "/mail/send") == []
    nl = seed_row(store, "de.newsletter")
    approve(settings, clock, nl.id)
    change_the_seed(articles_dir)  # changed after its approval: out of the issue again
    ingest(settings, store, now=clock())
    assert store.outbox.get(nl.id).status == S.AWAITING_APPROVAL
    assert run().status == "nothing" and digest.waiting(settings, store, "de", clock()) == []
    approve(settings, clock, nl.id)
    clock.now += dt.timedelta(seconds=1)
    result = run()
    assert result.status == "sent" and Issues(store.engine).article_ids(result.issue.id) == [nl.article_id]
    (mail,) = sent(control, "sendgrid", "/mail/send")
    html = next(c["value"] for c in mail["body"]["content"] if c["type"] == "text/html")
    assert NEW in html and store.outbox.get(nl.id).status == S.SENT
    # The other newsletter articles were never approved: they wait.
    assert {d.status for d in store.deliveries() if d.channel == "de.newsletter" and d.id != nl.id} == {
        S.AWAITING_APPROVAL}


def test_an_issue_made_while_an_article_changes_is_made_again(sb_settings, store, clock, articles_dir, monkeypatch):
    settings = required(sb_settings, "de.newsletter")
    ingest(settings, store, now=clock())
    add_subscribers(store, "de", ["leserin@example.org"])
    with open_app(settings, clock=clock) as app:
        for d in [d for d in app.store.deliveries() if d.channel == "de.newsletter"]:
            actions.approve(app, d.id, actor=ANNA)
    items = digest.waiting(settings, store, "de", clock())
    assert len(items) == 3
    versions = {a: 1 for _, a in items}
    repo = Issues(store.engine)
    seed = seed_row(store, "de.newsletter")
    change_the_seed(articles_dir)
    ingest(settings, store, now=clock())  # the seed is at version 2, awaiting approval again
    with pytest.raises(StaleItems):
        repo.create(edition="de", slot=clock(), subject="s", html="h", text="t", headers={}, batch_size=10,
                    items=items, now=clock(), versions=versions)
    assert repo.list() == []
    # assemble renders what is waiting when it makes the issue: the two approved ones.
    real = digest.render_edition_digest
    calls = []

    def render_then_change(*args, **kwargs):  # an article changes while the first issue is rendered
        calls.append(len(args[2]))
        if len(calls) == 1:
            path = articles_dir / store.get_article(items[-1][1]).key
            path.write_text(path.read_text(encoding="utf-8") + "\nNachtrag.\n", encoding="utf-8")
            ingest(settings, store, now=clock())
        return real(*args, **kwargs)

    monkeypatch.setattr(digest, "render_edition_digest", render_then_change)
    issue = digest.assemble(settings, store, "de", clock(), clock())
    assert calls == [2, 1] and issue is not None
    assert [a for a in repo.article_ids(issue.id)] == [a for _, a in items[:-1] if a != seed.article_id]
