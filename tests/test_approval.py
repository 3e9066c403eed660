"""Approval (issue 13 item 4): a channel in `approval = "required"` mode sends
nothing until an editor approves it, and the approval is one action for the
CLI, the desk and the editors' bot. The config, the actions with their audit
and refusals, two editors approving at once (SQLite and PostgreSQL), the
posting rules applied from the approval on, and the command end to end with
the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from distributor.actions import deliveries as actions
from distributor.app import App, open_app
from distributor.cli import cli
from distributor.config import load_settings
from distributor.errors import ConfigurationError, DistributorError
from distributor.ingest.pipeline import ingest
from distributor.store.audit import Audit
from distributor.store.outbox import DeliveryStatus, InvalidTransition
from support import drain, sent, with_channel

S = DeliveryStatus
ANNA, BERT = "desk:anna", "telegram:4711"
SEED = "de-kasachstan-china-ukraine.txt"


def required(settings, *channels: str, **changes):
    """The settings with each channel ("de.telegram") in approval = "required"."""
    for channel in channels:
        settings = with_channel(settings, channel, approval="required", **changes)
    return settings


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_settings(request, sb_settings):
    """The sandbox settings with de.telegram and de.twitter in required mode,
    on a fresh SQLite file or PostgreSQL database."""
    s = required(sb_settings, "de.telegram", "de.twitter")
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        s = dataclasses.replace(s, database=dataclasses.replace(s.database, url=url))
    return s


def rows(app: App, channel: str) -> list:
    return [d for d in app.store.deliveries() if d.channel == channel]


def seed_row(app: App, channel: str = "de.telegram"):
    seed = next(a for a in app.store.list_articles() if a.key == SEED)
    return next(d for d in app.store.deliveries(article_id=seed.id) if d.channel == channel)


def posts(control, chat="@novastan_de"):
    return [r for r in sent(control, "telegram") if r["body"].get("chat_id") == chat
            and r["path"].endswith(("sendMessage", "sendPhoto"))]


# ------------------------------------------------------------------ config


def test_approval_is_auto_by_default_and_required_where_configured(make_config, articles_dir):
    settings = load_settings(make_config(articles=articles_dir))
    de = settings.editions["de"].channels
    assert (de.telegram.approval, de.twitter.approval, de.newsletter.approval) == ("auto", "auto", "auto")
    path = make_config(articles=articles_dir)
    text = path.read_text().replace('[editions.fr.channels.telegram]\n',
                                    '[editions.fr.channels.telegram]\napproval = "required"\n')
    path.write_text(text)
    assert load_settings(path).editions["fr"].channels.telegram.approval == "required"


def test_a_bad_approval_mode_is_an_error_listing_every_problem(make_config, articles_dir):
    path = make_config(articles=articles_dir)
    text = path.read_text()
    for table, value in (("de.channels.telegram", '"manual"'), ("de.channels.newsletter", "true"),
                         ("en.channels.twitter", '"Required"')):
        text = text.replace(f"[editions.{table}]\n", f"[editions.{table}]\napproval = {value}\n")
    path.write_text(text + '\n[sandbox]\nprot = 1\n')
    with pytest.raises(ConfigurationError) as err:
        load_settings(path)
    problems = err.value.problems
    assert f"{path}: editions.de.channels.telegram.approval = 'manual' is not one of 'auto', 'required'" in problems
    assert f"{path}: editions.de.channels.newsletter.approval = True is not one of 'auto', 'required'" in problems
    assert f"{path}: editions.en.channels.twitter.approval = 'Required' is not one of 'auto', 'required'" in problems
    assert any("unknown key 'prot'" in p for p in problems) and len(problems) == 4


def test_routing_says_which_planned_channels_need_approval(settings):
    from distributor.routing import route

    stored = None
    with open_app(required(settings, "de.twitter")) as app:
        ingest(app.settings, app.store, now=dt.datetime(2025, 3, 14, tzinfo=dt.timezone.utc))
        stored = next(a for a in app.store.list_articles() if a.key == SEED)
        plan = route(stored.article, app.settings)
    assert {p.channel: p.needs_approval for p in plan.planned} == {
        "de.twitter": True, "de.telegram": False, "de.newsletter": False}
    assert "needs_approval" not in json.dumps(plan.to_json())  # the routing's JSON is unchanged


# ------------------------------------------------------------------ the actions


def test_planned_awaiting_approval_then_approved_with_its_audit(app_settings, clock):
    with open_app(app_settings, clock=clock) as app:
        ingest(app.settings, app.store, now=clock())
        assert {d.status for d in rows(app, "de.telegram") + rows(app, "de.twitter")} == {S.AWAITING_APPROVAL}
        assert {d.status for d in rows(app, "fr.telegram") + rows(app, "de.newsletter")} == {S.PENDING}  # auto
        d = seed_row(app)
        assert (d.reason, d.approved_version) == ("awaits an editor's approval", None)
        clock.now += dt.timedelta(hours=3)
        result = actions.approve(app, d.id, actor=ANNA)
        assert (result.action, result.actor, result.delivery_id, result.channel, result.status, result.outcome) == (
            "approve", ANNA, d.id, "de.telegram", S.PENDING, "approved")
        assert (result.version, result.approved_by, result.approved_at, result.already) == (1, ANNA, clock(), False)
        after = app.store.outbox.get(d.id)
        # Due from the approval on, not from the ingest three hours before.
        assert (after.status, after.approved_version, after.next_attempt_at) == (S.PENDING, 1, clock())
        assert after.reason == f"approved by {ANNA}"
        (entry,) = Audit(app.store.engine).history(delivery_id=d.id)
        assert (entry.actor, entry.action, entry.outcome, entry.article_id, entry.channel, entry.at) == (
            ANNA, "approve", "approved", d.article_id, "de.telegram", clock())
        assert entry.detail == "approved article version 1"


def test_nothing_to_approve_is_refused_clearly_and_recorded(app_settings):
    with open_app(app_settings) as app:
        ingest(app.settings, app.store, now=app.clock())
        fr = rows(app, "fr.telegram")[0]  # auto mode: pending, never approved
        with pytest.raises(InvalidTransition) as err:
            actions.approve(app, fr.id, actor=ANNA)
        assert str(err.value) == (f"delivery {fr.id} (fr.telegram) is pending; only a delivery that is awaiting "
                                  "approval can be approved")
        assert (err.value.current, err.value.requested, err.value.allowed) == (S.PENDING, S.PENDING,
                                                                              (S.AWAITING_APPROVAL,))
        with pytest.raises(DistributorError, match="no delivery with id 9999"):
            actions.approve(app, 9999, actor=ANNA)
        d = seed_row(app)
        actions.skip(app, d.id, actor=BERT, reason="not for Telegram")
        with pytest.raises(InvalidTransition, match=f"delivery {d.id} \\(de.telegram\\) is cancelled; only a "
                                                    "delivery that is awaiting approval can be approved"):
            actions.approve(app, d.id, actor=ANNA)
        refused = [(e.delivery_id, e.outcome) for e in Audit(app.store.engine).history() if e.action == "approve"]
        assert refused == [(d.id, "refused"), (9999, "refused"), (fr.id, "refused")]
        assert app.store.outbox.get(fr.id).status == S.PENDING and app.store.outbox.get(d.id).status == S.CANCELLED


def test_an_approval_of_what_changed_since_it_was_shown_is_refused(app_settings, articles_dir):
    with open_app(app_settings) as app:
        ingest(app.settings, app.store, now=app.clock())
        path = articles_dir / SEED
        path.write_text(path.read_text(encoding="utf-8").replace("12-Punkte-Plan", "Zwölf-Punkte-Plan", 1),
                        encoding="utf-8")
        ingest(app.settings, app.store, now=app.clock())
        d = seed_row(app)
        with pytest.raises(DistributorError, match=f"article {d.article_id} changed since it was shown "
                                                   r"\(version 1 then, 2 now\)"):
            actions.approve(app, d.id, actor=ANNA, seen_version=1)
        assert app.store.outbox.get(d.id).status == S.AWAITING_APPROVAL
        assert actions.approve(app, d.id, actor=ANNA, seen_version=2).version == 2


def test_approve_all_of_an_article_or_of_some_channels(app_settings):
    with open_app(required(app_settings, "de.newsletter")) as app:
        ingest(app.settings, app.store, now=app.clock())
        d = seed_row(app)
        only = actions.approve_article(app, d.article_id, actor=ANNA, channels=["twitter"])
        assert [(r.channel, r.outcome) for r in only.results] == [("de.twitter", "approved")]
        assert (only.article_id, only.actor, only.refused) == (d.article_id, ANNA, ())
        rest = actions.approve_article(app, d.article_id, actor=BERT)
        assert sorted((r.channel, r.outcome) for r in rest.results) == [
            ("de.newsletter", "approved"), ("de.telegram", "approved"), ("de.twitter", "already_approved")]
        twitter = next(r for r in rest.results if r.channel == "de.twitter")
        assert (twitter.approved_by, twitter.already) == (ANNA, True)
        assert f"already approved (article version 1) by {ANNA} at " in twitter.detail
        # "Approve all" pressed again: every one was approved, by whom.
        again = actions.approve_article(app, d.article_id, actor=BERT)
        assert {(r.channel, r.outcome, r.approved_by) for r in again.results} == {
            ("de.newsletter", "already_approved", BERT), ("de.telegram", "already_approved", BERT),
            ("de.twitter", "already_approved", ANNA)}
        history = Audit(app.store.engine).history(article_id=d.article_id)
        assert sum(e.outcome == "approved" for e in history) == 3
        assert all(e.detail.endswith("; approve all") for e in history if e.outcome == "approved")
        fr = next(a for a in app.store.list_articles() if a.article.language == "fr")
        with pytest.raises(DistributorError, match=f"article {fr.id} has nothing awaiting approval "
                                                   r"\(fr.twitter is skipped, fr.telegram is pending"):
            actions.approve_article(app, fr.id, actor=ANNA)
        with pytest.raises(DistributorError, match="no channel 'facebook': approve takes telegram, twitter"):
            actions.approve_article(app, d.article_id, actor=ANNA, channels=["facebook"])
        with pytest.raises(DistributorError, match="no article with id 999"):
            actions.approve_article(app, 999, actor=ANNA)


def test_a_skip_cancels_what_awaits_approval_and_a_hold_is_refused(app_settings):
    with open_app(app_settings) as app:
        ingest(app.settings, app.store, now=app.clock())
        d = seed_row(app)
        with pytest.raises(InvalidTransition, match="is awaiting_approval; only a delivery that is pending or "
                                                    "failed can become held"):
            actions.hold(app, d.id, actor=ANNA)
        assert actions.skip(app, d.id, actor=ANNA, reason="not this one").status == S.CANCELLED


def _approve_at_once(settings, delivery_id: int, hold_lock) -> list:
    """Two editors approve the same delivery at the same moment, each with
    their own App (engine, connection): both start while `hold_lock` holds
    the row or the database, and go on when it is released."""
    results: list = [None, None]
    opened, go = threading.Barrier(3), threading.Barrier(3)

    def editor(i: int, actor: str) -> None:
        with open_app(settings) as app:
            app.store.outbox.get(delivery_id)  # connected before the start
            opened.wait()
            go.wait()
            try:
                results[i] = actions.approve(app, delivery_id, actor=actor)
            except Exception as exc:  # noqa: BLE001 - the assertion below shows it
                results[i] = exc

    threads = [threading.Thread(target=editor, args=(i, a)) for i, a in enumerate((ANNA, BERT))]
    for t in threads:
        t.start()
    opened.wait(60)
    with hold_lock():
        go.wait(60)
    for t in threads:
        t.join(60)
    return results


def test_two_editors_approving_at_once_make_one_approval_on_sqlite(sb_settings):
    settings = required(sb_settings, "de.telegram")
    with open_app(settings) as app:
        ingest(app.settings, app.store, now=app.clock())
        d = seed_row(app)
    path = settings.database_url.split("///", 1)[1]

    class hold_lock:
        """The database's write lock held (BEGIN IMMEDIATE) until both are waiting for it."""

        def __enter__(self):
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, *exc):
            time.sleep(0.3)  # let both threads reach the lock (the result holds either way)
            self.conn.execute("COMMIT")
            self.conn.close()

    _check_one_approval(settings, d.id, _approve_at_once(settings, d.id, hold_lock))


@pytest.mark.postgres
def test_two_editors_approving_at_once_make_one_approval_on_postgresql(sb_settings, pg_url):
    settings = required(sb_settings, "de.telegram")
    settings = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=pg_url))
    with open_app(settings) as app:
        ingest(app.settings, app.store, now=app.clock())
        d = seed_row(app)
    engine = sa.create_engine(pg_url)

    class hold_lock:
        """The delivery's row locked until both editors' transactions wait for it."""

        def __enter__(self):
            self.conn = engine.connect()
            self.tx = self.conn.begin()
            self.conn.execute(sa.text("SELECT id FROM deliveries WHERE id = :id FOR UPDATE"), {"id": d.id})

        def __exit__(self, *exc):
            deadline = time.monotonic() + 30
            with engine.connect() as watch:
                while watch.execute(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")).scalar() < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
            self.tx.commit()
            self.conn.close()

    try:
        _check_one_approval(settings, d.id, _approve_at_once(settings, d.id, hold_lock))
    finally:
        engine.dispose()


def _check_one_approval(settings, delivery_id: int, results: list) -> None:
    assert not [r for r in results if isinstance(r, BaseException)], results
    first, second = sorted(results, key=lambda r: r.outcome != "approved")
    assert (first.outcome, second.outcome) == ("approved", "already_approved")
    assert second.approved_by == first.actor != second.actor
    assert f"already approved (article version 1) by {first.actor} at " in second.detail
    with open_app(settings) as app:
        row = app.store.outbox.get(delivery_id)
        assert (row.status, row.approved_version) == (S.PENDING, 1)
        entries = Audit(app.store.engine).history(delivery_id=delivery_id)
        assert sorted((e.actor, e.outcome) for e in entries) == sorted(
            [(first.actor, "approved"), (second.actor, "already_approved")])


# ------------------------------------------------------------------ posting rules from the approval on


def test_spacing_counts_from_the_approval_not_from_the_ingest(sb_settings, store, control, clock):
    """Two articles approved three hours after their ingest go out one after
    the other, spaced from the first send, not crammed in as if three hours late."""
    settings = required(sb_settings, "de.telegram", spacing_minutes=30)
    ingest(settings, store, now=clock())
    assert drain(settings, store, clock).count("sent") and not posts(control)
    clock.now += dt.timedelta(hours=3)
    approved_at = clock()
    with open_app(settings, clock=clock) as app:
        for d in rows(app, "de.telegram"):
            actions.approve(app, d.id, actor=ANNA)
    drain(settings, store, clock, max_wait=2 * 3600)
    tg = [d for d in store.deliveries() if d.channel == "de.telegram"]
    assert {d.status for d in tg} == {S.SENT} and len(posts(control)) == 2
    starts = sorted(store.outbox.attempts(d.id)[-1].started_at for d in tg)
    assert starts[0] == approved_at and starts[1] - starts[0] == dt.timedelta(minutes=30)


def test_the_posting_window_applies_from_the_approval_on(sb_settings, store, control, clock):
    from zoneinfo import ZoneInfo

    settings = required(sb_settings, "de.telegram", posting_window="07:00-22:00")
    clock.now = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.timezone.utc)  # ingest at noon (in the window)
    ingest(settings, store, now=clock())
    drain(settings, store, clock)
    clock.now = dt.datetime(2025, 3, 14, 22, 30, tzinfo=dt.timezone.utc)  # approved at night
    with open_app(settings, clock=clock) as app:
        d = seed_row(app)
        actions.approve(app, d.id, actor=ANNA)
    drain(settings, store, clock)
    row = store.outbox.get(d.id)
    opening = dt.datetime(2025, 3, 15, 7, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(dt.timezone.utc)
    assert (row.status, row.next_attempt_at) == (S.PENDING, opening) and not posts(control)
    clock.now = opening
    drain(settings, store, clock)
    assert store.outbox.get(d.id).status == S.SENT and len(posts(control)) == 1


def test_an_embargo_outlasts_an_earlier_approval(sb_settings, store, control, clock, articles_dir):
    embargo = dt.datetime(2025, 3, 20, 8, 0, tzinfo=dt.timezone.utc)
    (articles_dir / "later.md").write_text(
        "---\ntitle: Embargoed\nlanguage: de\nurl: https://novastan.org/de/x/\n"
        f"publish_at: {embargo.isoformat()}\nchannels: [telegram]\n---\n\nText des Artikels.\n", encoding="utf-8")
    settings = required(sb_settings, "de.telegram")
    ingest(settings, store, now=clock())
    with open_app(settings, clock=clock) as app:
        d = next(r for r in rows(app, "de.telegram") if app.store.get_article(r.article_id).key == "later.md")
        assert actions.approve(app, d.id, actor=ANNA).status == S.PENDING
    assert store.outbox.get(d.id).next_attempt_at == embargo
    drain(settings, store, clock)
    assert store.outbox.get(d.id).status == S.PENDING
    clock.now = embargo
    drain(settings, store, clock)
    assert store.outbox.get(d.id).status == S.SENT


# ------------------------------------------------------------------ the command, end to end


def cli_config(make_config, articles_dir, sandbox, *channels: str):
    """A config file on the session's sandbox with `channels` in required mode."""
    port = int(sandbox.url.rsplit(":", 1)[1])
    path = make_config(f"\n[sandbox]\nport = {port}\n", articles=articles_dir)
    text = path.read_text(encoding="utf-8")
    for channel in channels:
        edition, kind = channel.split(".")
        header = f"[editions.{edition}.channels.{kind}]\n"
        assert header in text
        text = text.replace(header, header + 'approval = "required"\n', 1)
    path.write_text(text, encoding="utf-8")
    return path


def invoke(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def outbox(cfg) -> dict[tuple[int, str], dict]:
    result = invoke(cfg, "outbox", "--json")
    assert result.exit_code == 0, result.output
    return {(d["article_id"], d["channel"]): d for d in json.loads(result.output)["deliveries"] if d["seq"] == 0}


def de_tweets(control, cfg) -> list[dict]:
    """The tweets of the de account (the en account, in auto mode, posts too)."""
    ids = {d["remote_id"] for (_a, ch), d in outbox(cfg).items() if ch == "en.twitter"}
    return [r for r in sent(control, "x", "/2/tweets") if r["result"]["data"]["id"] not in ids]


def test_nothing_goes_out_before_the_approval_and_exactly_once_after(make_config, articles_dir, sandbox, control):
    cfg = cli_config(make_config, articles_dir, sandbox, "de.telegram", "de.twitter")
    run = invoke(cfg, "run", "--once")
    assert run.exit_code == 0, run.output
    assert "awaiting approval (`distributor approve --article ID`)" in run.output
    assert "de.telegram     awaiting approval (`distributor approve --article ID`): 2" in run.output
    delivered = invoke(cfg, "deliver", "--once", "--json")
    assert delivered.exit_code == 0 and json.loads(delivered.output)["awaiting_approval"] == 4
    # The sandbox's request log: nothing posted for the de edition; auto mode unchanged for the others.
    assert posts(control) == [] and de_tweets(control, cfg) == []
    assert len(posts(control, "@novastan_fr")) == 1 and len(posts(control, "@novastan_en")) == 1
    rows_ = outbox(cfg)
    articles = {a["id"]: a for a in json.loads(invoke(cfg, "articles", "--json").output)}
    seed = next(a for a in articles if articles[a]["key"] == SEED)
    assert {d["status"] for (a, ch), d in rows_.items() if ch in ("de.telegram", "de.twitter")} == {
        "awaiting_approval"}
    status = json.loads(invoke(cfg, "status", "--json").output)
    assert status["deliveries"]["by_state"]["awaiting_approval"] == 4
    assert status["deliveries"]["awaiting_approval"] == 4
    assert any(n.startswith("awaiting approval: article ") for n in status["notes"])
    text = invoke(cfg, "status")
    assert text.exit_code == 0, text.output  # an editor's routine, not a problem
    assert "awaiting_approval" in text.output and "note: awaiting approval: article " in text.output
    listed = invoke(cfg, "outbox", "--status", "awaiting_approval")
    assert listed.output.count("awaiting_approval") == 4, listed.output
    assert {p["channel"]: p["status"] for p in articles[seed]["planned"]}["de.telegram"] == "awaiting_approval"

    approved = invoke(cfg, "approve", "--article", str(seed), "--channel", "telegram")
    assert approved.exit_code == 0, approved.output
    tg = rows_[(seed, "de.telegram")]["id"]
    assert approved.output.startswith(f"#{tg} de.telegram: approved article version 1: it goes out from ")
    delivered = invoke(cfg, "deliver", "--once")
    assert delivered.exit_code == 0 and "3 awaiting approval" in delivered.output, delivered.output
    (post,) = posts(control)
    assert outbox(cfg)[(seed, "de.telegram")]["status"] == "sent" and de_tweets(control, cfg) == []
    assert outbox(cfg)[(seed, "de.telegram")]["approved_version"] == 1
    assert "12-Punkte-Plan" in json.dumps(post["body"], ensure_ascii=False)  # the seed article

    again = invoke(cfg, "approve", str(tg))
    assert again.exit_code == 0
    assert again.output.startswith(f"#{tg} de.telegram: already approved (article version 1) by cli:")
    assert ("; it is sent") in again.output
    assert invoke(cfg, "approve", "--article", str(seed)).exit_code == 0  # its tweet
    invoke(cfg, "run", "--once")
    invoke(cfg, "deliver", "--once")
    assert len(posts(control)) == 1 and len(de_tweets(control, cfg)) == 1  # exactly one of each


def test_the_command_refuses_what_it_cannot_approve(make_config, articles_dir, sandbox):
    cfg = cli_config(make_config, articles_dir, sandbox, "de.telegram")
    invoke(cfg, "ingest")
    rows_ = outbox(cfg)
    fr = next(d for (_a, ch), d in rows_.items() if ch == "fr.telegram")
    refused = invoke(cfg, "approve", str(fr["id"]))
    assert refused.exit_code == 2
    assert refused.output == (f"error: delivery {fr['id']} (fr.telegram) is pending; only a delivery that is "
                              "awaiting approval can be approved\n")
    assert invoke(cfg, "approve").exit_code == 2
    both = invoke(cfg, "approve", "1", "--article", "2")
    assert both.exit_code == 2 and "name one delivery (DELIVERY_ID) or one article (--article ID)" in both.output
    alone = invoke(cfg, "approve", "1", "--channel", "telegram")
    assert alone.exit_code == 2 and "--channel goes with --article" in alone.output
    nothing = invoke(cfg, "approve", "--article", str(fr["article_id"]))
    assert nothing.exit_code == 2 and "has nothing awaiting approval" in nothing.output
    assert invoke(cfg, "approve", "--article", "1", "--channel", "facebook").exit_code == 2  # click's choice


def test_send_now_of_what_awaits_approval_approves_what_it_sends(app_settings, control, clock):
    async def go():
        from distributor.app import open_app_async

        async with open_app_async(app_settings, sandbox=False, clock=clock, sleep=clock.sleep) as app:
            ingest(app.settings, app.store, now=clock())
            d = seed_row(app)
            result = await actions.send_now(app, d.article_id, "telegram", actor=ANNA)
            again = actions.approve(app, d.id, actor=BERT)
            return d, result, again, app.store.outbox.get(d.id)

    d, result, again, row = asyncio.run(go())
    assert (result.outcome, row.status, row.approved_version) == ("sent", S.SENT, 1)
    assert len(posts(control)) == 1
    assert (again.outcome, again.approved_by) == ("already_approved", ANNA)
