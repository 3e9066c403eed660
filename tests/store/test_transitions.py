"""The deliveries' and issues' states and their one transition table (issue 11
item 2): the table as designed, each allowed transition made by the store
method that makes it, on SQLite and PostgreSQL, and forbidden ones refused
with an error naming the delivery, its state, the state asked for and what
allows it."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa

from distributor.errors import DistributorError
from distributor.ingest.pipeline import ingest
from distributor.store.approval import Corrections
from distributor.store.issues import Issues
from distributor.store import Store
from distributor.store.outbox import (
    INITIAL,
    TRANSITIONS,
    DeliveryStatus,
    InvalidTransition,
    allowed,
    check_transition,
    sources,
)
from distributor.store.schema import deliveries, issues
from distributor.store.states import ISSUE_TRANSITIONS, IssueStatus, check_issue_transition

S = DeliveryStatus
NOW = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)

# The table as designed: changing it is a decision, made here too.
# Approval (issue 13 item 4): a delivery of a channel in approval = "required"
# is planned (or planned again) awaiting_approval, goes pending when approved,
# is cancelled by a skip, and a pending one goes back when its article changes.
# No hold from awaiting_approval: it goes nowhere until an editor acts anyway.
EXPECTED = {
    "pending": {"sending", "held", "cancelled", "failed", "sent", "awaiting_approval"},
    "awaiting_approval": {"pending", "cancelled"},
    "sending": {"sent", "pending", "failed", "held"},
    "sent": set(),
    "failed": {"pending", "held", "cancelled"},
    "held": {"pending", "cancelled"},
    "skipped": {"pending", "cancelled", "awaiting_approval"},
    "cancelled": {"pending", "awaiting_approval"},
}


def test_the_table_is_the_designed_one_and_covers_every_state():
    assert {str(k): {str(v) for v in vs} for k, vs in TRANSITIONS.items()} == EXPECTED
    assert set(TRANSITIONS) == set(DeliveryStatus)
    assert INITIAL == {S.PENDING, S.SKIPPED, S.AWAITING_APPROVAL}
    # Every state is reachable from a planned one, and the schema comment lists them all.
    reachable, frontier = set(INITIAL), set(INITIAL)
    while frontier:
        frontier = {t for s in frontier for t in TRANSITIONS[s]} - reachable
        reachable |= frontier
    assert reachable == set(DeliveryStatus)
    assert {str(s) for s in DeliveryStatus} == {"pending", "sending", "sent", "failed", "held", "skipped",
                                                "cancelled", "awaiting_approval"}


def test_a_strenum_is_its_value_in_output():
    import json

    assert S.HELD == "held" and f"{S.HELD:6}|" == "held  |" and json.dumps({"s": S.SENT}) == '{"s": "sent"}'


@pytest.mark.parametrize("current, to", list(itertools.product(DeliveryStatus, DeliveryStatus)))
def test_check_transition_allows_exactly_the_table(current, to):
    if to in TRANSITIONS[current]:
        check_transition(7, "de.telegram", current, to)
        assert allowed(current, to) and current in sources(to)
        return
    with pytest.raises(InvalidTransition) as err:
        check_transition(7, "de.telegram", current, to)
    e = err.value
    assert isinstance(e, DistributorError)
    assert (e.what, e.row_id, e.current, e.requested) == ("delivery", 7, current, to)
    assert set(e.allowed) == {s for s in DeliveryStatus if to in TRANSITIONS[s]}
    assert str(e).startswith(f"delivery 7 (de.telegram) is {current}; only a delivery that is ")
    assert str(e).endswith(f"can become {to}")


def test_asking_for_a_move_the_table_forbids_is_a_bug_not_a_refusal():
    with pytest.raises(ValueError, match="no sent -> pending"):
        sources(S.PENDING, [S.SENT])
    with pytest.raises(ValueError, match="no sent -> pending"):
        check_transition(1, "de.telegram", S.SENT, S.PENDING, only_from=(S.HELD, S.SENT))


# ------------------------------------------------------------------ against a real database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, settings):
    if request.param == "sqlite":
        store = Store.open(settings)
    else:
        store = Store.open_url(request.getfixturevalue("pg_url"))
    with store:
        ingest(settings, store, now=NOW)
        yield store


def put(store: Store, delivery_id: int, status: str, **values) -> None:
    """Set a delivery's state directly (test setup only)."""
    with store.engine.begin() as conn:
        conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(status=status, **values))


def one(store: Store, channel: str = "de.telegram"):
    return next(d for d in store.deliveries() if d.channel == channel and d.seq == 0)


def status(store: Store, delivery_id: int) -> DeliveryStatus:
    row = store.outbox.get(delivery_id)
    assert isinstance(row.status, DeliveryStatus)
    return row.status


def claimed(store: Store, d, worker="w1") -> int:
    attempt = store.outbox.claim(d.id, worker=worker, payload="{}", now=NOW)
    assert attempt is not None and status(store, d.id) == S.SENDING
    return attempt


def test_pending_to_sending_held_cancelled_failed(db):
    box, d = db.outbox, one(db)
    claimed(db, d)  # pending -> sending
    put(db, d.id, "pending", claimed_by=None)
    assert box.set_status(d.id, from_states=(S.PENDING,), to=S.HELD, now=NOW, reason="x").status == S.HELD
    put(db, d.id, "pending")
    assert box.set_status(d.id, from_states=(S.PENDING,), to=S.CANCELLED, now=NOW).status == S.CANCELLED
    put(db, d.id, "pending")
    assert box.finish_failed(d.id, None, outcome="permanent", error="render: x", now=NOW) is True
    assert status(db, d.id) == S.FAILED


def test_pending_to_sent_when_its_digest_issue_goes_out(db):
    d = one(db, "de.newsletter")
    repo = Issues(db.engine)
    issue = repo.create(edition="de", slot=NOW, subject="s", html="<p>", text="t", headers={}, batch_size=10,
                        items=[(d.id, d.article_id)], now=NOW)
    assert issue is not None and issue.status == IssueStatus.SENDING
    repo.set_status(issue.id, IssueStatus.SENT, now=NOW)
    after = db.outbox.get(d.id)
    assert (after.status, after.remote_id) == (S.SENT, f"issue:{issue.id}")


def test_sending_to_sent_pending_failed_held(db):
    box, d = db.outbox, one(db)
    a = claimed(db, d)
    assert box.finish_sent(d.id, a, remote_id="1", article_version=1, now=NOW) is True
    assert status(db, d.id) == S.SENT
    other = one(db, "de.twitter")
    a = claimed(db, other)
    assert box.finish_retry(other.id, a, outcome="transient", error="503", next_attempt_at=NOW,
                            count_failure=True, now=NOW) is True
    assert status(db, other.id) == S.PENDING
    a = claimed(db, other)
    assert box.finish_failed(other.id, a, outcome="permanent", error="400", now=NOW) is True
    assert status(db, other.id) == S.FAILED
    put(db, other.id, "pending", next_attempt_at=None)
    claimed(db, other, worker="gone")
    assert box.resolve_unknown(other.id, claimed_by="gone", status=S.HELD, reason="?", remote_id=None, now=NOW)
    assert status(db, other.id) == S.HELD
    put(db, other.id, "pending", next_attempt_at=None, remote_id=None)
    claimed(db, other, worker="gone")
    assert box.resolve_unknown(other.id, claimed_by="gone", status=S.SENT, reason="found", remote_id="9",
                               now=NOW)
    assert status(db, other.id) == S.SENT


@pytest.mark.parametrize("start, to", [("failed", "pending"), ("failed", "held"), ("failed", "cancelled"),
                                       ("held", "pending"), ("held", "cancelled"), ("skipped", "pending"),
                                       ("skipped", "cancelled"), ("cancelled", "pending")])
def test_an_editors_moves(db, start, to):
    d = one(db)
    put(db, d.id, start)
    after = db.outbox.set_status(d.id, from_states=(start,), to=to, now=NOW, reason="by hand")
    assert (after.status, after.reason) == (to, "by hand")


def test_routing_moves_skipped_and_cancelled_back_and_away(db, settings):
    """skipped -> pending and cancelled -> pending when the footer names the
    channel again; skipped -> cancelled when it names it no more."""
    from distributor.routing import Routing

    stored = db.get_article(one(db).article_id)
    tg, fb = one(db), next(d for d in db.deliveries(article_id=stored.id) if d.status == S.SKIPPED)
    put(db, tg.id, "cancelled")
    routing = Routing(planned=tuple(_planned(db, stored.id)), skipped=())
    db.apply_routing(stored, routing, now=NOW)
    assert status(db, tg.id) == S.PENDING  # cancelled -> pending: named again
    assert status(db, fb.id) == S.CANCELLED  # skipped -> cancelled: no longer named at all


def _planned(db: Store, article_id: int):
    from distributor.routing import Planned

    return [Planned(channel=d.channel, kind=d.kind) for d in db.deliveries(article_id=article_id)
            if d.status != S.SKIPPED]


def test_forbidden_moves_are_refused_and_change_nothing(db):
    box, d = db.outbox, one(db)
    a = claimed(db, d)
    box.finish_sent(d.id, a, remote_id="1", article_version=1, now=NOW)
    # An editor's release of a sent delivery: refused, naming it, its state and what release needs.
    with pytest.raises(InvalidTransition) as err:
        box.set_status(d.id, from_states=(S.HELD,), to=S.PENDING, now=NOW)
    assert str(err.value) == f"delivery {d.id} (de.telegram) is sent; only a delivery that is held can become pending"
    assert (err.value.current, err.value.requested, err.value.allowed) == (S.SENT, S.PENDING, (S.HELD,))
    # Nothing moves a sent delivery: not a claim, not a late close of someone's bracket.
    assert box.claim(d.id, worker="w2", payload="{}", now=NOW) is None
    assert box.finish_failed(d.id, a, outcome="permanent", error="late", now=NOW) is False
    assert box.resolve_unknown(d.id, claimed_by=None, status=S.HELD, reason="?", remote_id=None, now=NOW) is False
    assert status(db, d.id) == S.SENT
    # A held delivery (recovery settled it) is not moved by the late answer of the claim it settled.
    other = one(db, "de.twitter")
    a = claimed(db, other)
    put(db, other.id, "held", claimed_by=None)
    assert box.finish_sent(other.id, a, remote_id="5", article_version=1, now=NOW) is False
    assert status(db, other.id) == S.HELD
    assert box.attempts(other.id)[-1].outcome == "sent"  # the answer is kept as evidence
    # A correction is only for a sent post.
    with pytest.raises(InvalidTransition, match="only a sent delivery is corrected"):
        Corrections(db.engine).mark_corrected(other.id, article_version=2, note="x", outcome="edited", now=NOW)
    with pytest.raises(ValueError):
        box.resolve_unknown(other.id, claimed_by=None, status=S.PENDING, reason="?", remote_id=None, now=NOW)


def test_two_racing_editors_one_wins(db):
    """The change is conditional on the state read: the second hold finds the
    delivery held and is refused."""
    d = one(db)
    db.outbox.set_status(d.id, from_states=(S.PENDING, S.FAILED), to=S.HELD, now=NOW)
    with pytest.raises(InvalidTransition, match="is held; only a delivery that is pending or failed can become held"):
        db.outbox.set_status(d.id, from_states=(S.PENDING, S.FAILED), to=S.HELD, now=NOW)


# ------------------------------------------------------------------ approval


def _required(db: Store, article_id: int, **approval):
    """The article's planned channels, in approval = "required" mode unless named False."""
    from distributor.routing import Planned

    return tuple(Planned(channel=d.channel, kind=d.kind, needs_approval=approval.get(d.kind, True))
                 for d in db.deliveries(article_id=article_id) if d.status != S.SKIPPED)


def test_required_mode_plans_awaiting_approval_and_an_approval_makes_it_pending(db):
    from distributor.routing import Routing
    from distributor.store.approval import Approvals
    from distributor.store.audit import AuditNote

    stored = db.get_article(one(db).article_id)
    tg, fb = one(db), next(d for d in db.deliveries(article_id=stored.id) if d.status == S.SKIPPED)
    routing = Routing(planned=_required(db, stored.id), skipped=())
    put(db, tg.id, "cancelled")
    put(db, one(db, "de.twitter").id, "skipped")
    db.apply_routing(stored, routing, now=NOW)
    # cancelled -> awaiting_approval, skipped -> awaiting_approval: named again, in required mode.
    assert status(db, tg.id) == S.AWAITING_APPROVAL and status(db, one(db, "de.twitter").id) == S.AWAITING_APPROVAL
    assert status(db, fb.id) == S.CANCELLED  # no longer named: as before
    # Nothing claims it, nothing holds it.
    assert db.outbox.claim(tg.id, worker="w1", payload="{}", now=NOW) is None
    with pytest.raises(InvalidTransition, match="is awaiting_approval; only a delivery that is pending or failed"):
        db.outbox.set_status(tg.id, from_states=(S.PENDING, S.FAILED), to=S.HELD, now=NOW)
    # awaiting_approval -> pending: approved, due now, with the version approved.
    done = Approvals(db.engine).approve(tg.id, now=NOW, audit=AuditNote("desk:anna", "approve", ""))
    assert (done.outcome, done.version, done.row.status, done.row.next_attempt_at) == ("approved", 1, S.PENDING,
                                                                                    NOW)
    # A claim only of the version approved.
    assert db.outbox.claim(tg.id, worker="w1", payload="{}", now=NOW, approved_version=2) is None
    assert db.outbox.claim(tg.id, worker="w1", payload="{}", now=NOW, approved_version=1) is not None


def test_pending_goes_back_to_awaiting_approval_and_the_mode_back_to_auto(db):
    from distributor.store.approval import Approvals

    box, approvals, tg = db.outbox, Approvals(db.engine), one(db)
    # Planned in auto mode, then the channel requires approval: pending -> awaiting_approval.
    assert approvals.gate("de.telegram", required=True, now=NOW) == len(
        [d for d in db.deliveries() if d.channel == "de.telegram"])
    assert status(db, tg.id) == S.AWAITING_APPROVAL and box.get(tg.id).reason == "awaits an editor's approval"
    assert approvals.gate("de.telegram", required=True, now=NOW) == 0  # nothing more to move
    # The channel back in auto mode: awaiting_approval -> pending.
    assert approvals.gate("de.telegram", required=False, now=NOW) >= 1 and status(db, tg.id) == S.PENDING
    # Approved at version 1, the article at 2: pending -> awaiting_approval (the dispatcher's check).
    put(db, tg.id, "pending", approved_version=1)
    assert approvals.withdraw(tg.id, version=1, now=NOW) is False and status(db, tg.id) == S.PENDING
    assert approvals.withdraw(tg.id, version=2, now=NOW) is True and status(db, tg.id) == S.AWAITING_APPROVAL
    assert box.get(tg.id).reason == "the article changed since its approval: it awaits approval again"
    # awaiting_approval -> cancelled: an editor's skip, or the article retracted.
    assert box.set_status(tg.id, from_states=(S.AWAITING_APPROVAL,), to=S.CANCELLED, now=NOW).status == S.CANCELLED
    x = one(db, "de.twitter")
    put(db, x.id, "awaiting_approval")
    stored = db.get_article(x.article_id)
    assert db.retract(stored.source, stored.key, now=NOW, reason="retracted") >= 1
    assert status(db, x.id) == S.CANCELLED


def test_a_new_version_sends_an_approved_delivery_back_to_awaiting_approval(db, settings, articles_dir):
    """In the transaction that stores the new version: pending (approved at 1)
    -> awaiting_approval; a newsletter delivery already in an issue goes out
    with it."""
    import dataclasses

    from distributor.store.approval import Approvals

    tg, nl = one(db), one(db, "de.newsletter")
    put(db, tg.id, "pending", approved_version=1)
    put(db, nl.id, "pending", approved_version=1)
    Issues(db.engine).create(edition="de", slot=NOW, subject="s", html="<p>", text="t", headers={}, batch_size=10,
                             items=[(nl.id, nl.article_id)], now=NOW)
    editions = dict(settings.editions)
    de = editions["de"]
    channels = dataclasses.replace(de.channels, **{k: dataclasses.replace(getattr(de.channels, k), approval="required")
                                                   for k in ("telegram", "twitter", "newsletter")})
    strict = dataclasses.replace(settings, editions={**editions, "de": dataclasses.replace(de, channels=channels)})
    path = articles_dir / db.get_article(tg.article_id).key
    path.write_text(path.read_text(encoding="utf-8").replace("12-Punkte-Plan", "Zwölf-Punkte-Plan", 1),
                    encoding="utf-8")
    ingest(strict, db, now=NOW)
    after = db.outbox.get(tg.id)
    assert (after.status, after.article_version, after.approved_version) == (S.AWAITING_APPROVAL, 2, 1)
    assert after.reason == "the article changed (version 2) since its approval: it awaits approval again"
    assert status(db, nl.id) == S.PENDING  # in issue: goes out with it
    others = [d for d in db.deliveries() if d.channel == "de.newsletter" and d.id != nl.id]
    assert Approvals(db.engine).gate("de.newsletter", required=True, now=NOW) == len(others) == 2
    assert status(db, nl.id) == S.PENDING and {status(db, d.id) for d in others} == {S.AWAITING_APPROVAL}


# ------------------------------------------------------------------ issues


def test_the_issue_table():
    assert {str(k): {str(v) for v in vs} for k, vs in ISSUE_TRANSITIONS.items()} == {
        "sending": {"sent", "held", "failed"}, "sent": set(), "held": {"sending"}, "failed": {"sending"}}
    for cur, to in itertools.product(IssueStatus, IssueStatus):
        if to in ISSUE_TRANSITIONS[cur]:
            check_issue_transition(3, cur, to)
        else:
            with pytest.raises(InvalidTransition, match=f"issue 3 is {cur}; only an issue that is"):
                check_issue_transition(3, cur, to)


def test_issue_moves_against_the_database(db):
    repo = Issues(db.engine)
    issue = repo.create(edition="de", slot=NOW, subject="s", html="<p>", text="t", headers={}, batch_size=10,
                        items=[], now=NOW)
    assert issue is not None
    with pytest.raises(InvalidTransition, match=f"issue {issue.id} is sending; only a held issue can be released"):
        repo.release(issue.id, now=NOW)
    repo.set_status(issue.id, IssueStatus.HELD, now=NOW, reason="batch 1: unknown")
    repo.release(issue.id, now=NOW)
    assert repo.get(issue.id).status == IssueStatus.SENDING
    repo.set_status(issue.id, IssueStatus.FAILED, now=NOW)
    repo.resume(issue.id, now=NOW)
    assert repo.get(issue.id).status == IssueStatus.SENDING
    repo.set_status(issue.id, IssueStatus.SENT, now=NOW)
    with pytest.raises(InvalidTransition, match="is sent; only an issue that is sending can become held"):
        repo.set_status(issue.id, IssueStatus.HELD, now=NOW)
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(issues.c.status).where(issues.c.id == issue.id)).scalar() == "sent"
