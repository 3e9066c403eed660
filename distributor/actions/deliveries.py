"""An editor's actions on deliveries and channels: approve, send now, resend,
skip, hold, release, retry, resume.

Which states each action applies to is data (MOVES), checked against the
store's transition table; the store refuses anything else with an
InvalidTransition naming the delivery, its state and what the action needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from distributor.actions.common import (
    ApprovalResult,
    ArticleApproval,
    ChannelResult,
    DeliveryResult,
    refusals,
    started,
)
from distributor.app import App
from distributor.channels import approval_required, channel_config, correction_needs_approval, edits_posts
from distributor.delivery import SOCIAL_KINDS
from distributor.errors import ConfigurationError, DistributorError
from distributor.store.issues import Issues
from distributor.store import DeliveryRow
from distributor.store.approval import ALREADY, APPROVED, CORRECTION_APPROVED, Approvals
from distributor.store.audit import REFUSED, STARTED, Audit, AuditNote
from distributor.store.outbox import DeliveryStatus, InvalidTransition, sources

__all__ = ["MOVES", "PACING_MAX_WAIT", "Move", "approve", "approve_article", "awaits_approval", "send_now",
           "resend", "skip", "hold", "release", "retry", "resume"]

S = DeliveryStatus

# The longest wait for a channel's pacing (or a flood wait) a send by hand
# sits out; a longer one is refused, naming when to try again.
PACING_MAX_WAIT = 120.0


@dataclass(frozen=True)
class Move:
    """An editor's state change: from which states, to which, with what reason."""

    only_from: tuple[DeliveryStatus, ...]
    to: DeliveryStatus
    reason: str
    reset_attempts: bool = False


# Holding a delivery that awaits approval is not a move: it goes nowhere until
# an editor approves (or sends, or skips) it anyway.
MOVES: dict[str, Move] = {
    "skip": Move((S.PENDING, S.AWAITING_APPROVAL, S.HELD, S.FAILED), S.CANCELLED, "cancelled by an editor"),
    "hold": Move((S.PENDING, S.FAILED), S.HELD, "held by an editor"),
    "release": Move((S.HELD,), S.PENDING, "released by an editor"),
    "retry": Move((S.FAILED,), S.PENDING, "retried by an editor", reset_attempts=True),
    # Send now: what is planned but not yet due, awaits approval, failed, held, skipped
    # or cancelled becomes due at once (a failed one with its attempts counted afresh);
    # an editor's send approves the article version it sends.
    "send": Move((S.PENDING, S.AWAITING_APPROVAL, S.FAILED, S.HELD, S.SKIPPED, S.CANCELLED), S.PENDING,
                 "sent by hand by an editor"),
}
for _m in MOVES.values():  # each one a transition the store's table allows (a bug otherwise)
    sources(_m.to, [s for s in _m.only_from if s != _m.to])


# ------------------------------------------------------------------ state changes


def skip(app: App, delivery_id: int, *, actor: str, reason: str | None = None,
         only_from: tuple[DeliveryStatus, ...] | None = None) -> DeliveryResult:
    """Cancel a delivery that must not go out (or that is already on the
    channel), with the editor's reason if given. `only_from` narrows the
    states it applies to (the editors' bot's Skip button: only what still
    awaits approval, so that a racing approval is not undone)."""
    return _move(app, "skip", delivery_id, actor=actor, why=reason, only_from=only_from)


def hold(app: App, delivery_id: int, *, actor: str, reason: str | None = None) -> DeliveryResult:
    """Hold a pending or failed delivery: it does not go out until released."""
    return _move(app, "hold", delivery_id, actor=actor, why=reason)


def release(app: App, delivery_id: int, *, actor: str) -> DeliveryResult:
    """Release a held delivery: it goes out at the next drain."""
    return _move(app, "release", delivery_id, actor=actor)


def retry(app: App, delivery_id: int, *, actor: str) -> DeliveryResult:
    """Try a failed delivery again (its attempt count starts over)."""
    return _move(app, "retry", delivery_id, actor=actor)


def _move(app: App, action: str, delivery_id: int, *, actor: str, why: str | None = None,
          only_from: tuple[DeliveryStatus, ...] | None = None) -> DeliveryResult:
    move = MOVES[action]
    if only_from is not None:
        move = replace(move, only_from=tuple(s for s in move.only_from if s in only_from))
    reason = f"{move.reason}: {why}" if why else move.reason
    note = AuditNote(actor, action, outcome=move.to, detail=reason, delivery_id=delivery_id)
    outbox = app.store.outbox
    with refusals(app, note):
        row = outbox.get(delivery_id)
    note = AuditNote(actor, action, outcome=move.to, detail=reason, delivery_id=row.id,
                     article_id=row.article_id, channel=row.channel)
    with refusals(app, note):
        if move.to in (S.HELD, S.CANCELLED):
            _not_in_an_issue(app, row, action)
        after = outbox.set_status(row.id, from_states=move.only_from, to=move.to, now=app.clock(),
                                  reason=reason, reset_attempts=move.reset_attempts, audit=note)
    return _result(action, actor, after, outcome=after.status, detail=reason)


def _not_in_an_issue(app: App, row: DeliveryRow, action: str) -> None:
    """A newsletter delivery already in a digest issue goes out with it."""
    if row.kind != "newsletter":
        return
    issue_id = Issues(app.store.engine).carrying(row.id)
    if issue_id is not None:
        raise DistributorError(f"delivery {row.id} ({row.channel}) is in the digest issue #{issue_id} and goes "
                               f"out with it: it cannot {action} now")


def _result(action: str, actor: str, row: DeliveryRow, *, outcome: str, detail: str,
            waited: float = 0.0) -> DeliveryResult:
    return DeliveryResult(action, actor, row.id, row.article_id, row.channel, row.status, outcome, detail, waited)


def resume(app: App, channel: str, *, actor: str) -> ChannelResult:
    """Resume a paused channel (e.g. de.telegram) once its problem is fixed:
    its failure count and any wait are cleared too."""
    note = AuditNote(actor, "resume", outcome="resumed", channel=channel)
    with refusals(app, note):
        channel_config(app.settings, channel)  # a ConfigurationError for an unknown channel
        state = app.store.outbox.channel(channel)
        detail = f"was paused: {state.paused_reason}" if state.paused else "was not paused"
        note = AuditNote(actor, "resume", outcome="resumed", channel=channel, detail=detail)
        app.store.outbox.update_channel(channel, paused=False, paused_reason=None, consecutive_failures=0,
                                        not_before=None, now=app.clock(), audit=note)
    return ChannelResult("resume", actor, channel, detail)


# ------------------------------------------------------------------ approval

APPROVAL_KINDS = ("telegram", "twitter", "newsletter")


def approve(app: App, delivery_id: int, *, actor: str, seen_version: int | None = None,
            seen_edit: int | None = None) -> ApprovalResult:
    """Approve a delivery awaiting approval (a channel in `approval =
    "required"` mode): it goes out when due, the posting window and spacing
    applying from now on. On a sent post whose article changed, approve the
    correction (the next delivery run edits the post). With `seen_version`
    (the article version the editor was shown), refused if it changed since;
    with `seen_edit` (the id of the edit of the variant the editor was shown,
    0: none; actions/edits.py), refused if the text was edited since.
    Approving what another editor approved at this version already changes
    nothing and says who did ("already_approved"); anything else that awaits
    no approval is an InvalidTransition."""
    note = AuditNote(actor, "approve", outcome="", delivery_id=delivery_id)
    with refusals(app, note):
        row = app.store.outbox.get(delivery_id)
    note = AuditNote(actor, "approve", outcome="", delivery_id=row.id, article_id=row.article_id,
                     channel=row.channel)
    return _approve(app, row, note, seen_version, seen_edit)


def approve_article(app: App, article_id: int, *, actor: str, channels: Iterable[str] | None = None,
                    seen_version: int | None = None, seen_edits: Mapping[str, int] | None = None
                    ) -> ArticleApproval:
    """"Approve all": every delivery of the article awaiting approval (and
    every correction of its sent posts awaiting it), or those of the given
    channel kinds (telegram, twitter, newsletter). Those approved at this
    version already are in the results as "already_approved"; refused when
    there is nothing of either. `seen_edits`: per kind, the edit the editor
    was shown (as `approve`'s seen_edit)."""
    kinds = tuple(channels) if channels is not None else APPROVAL_KINDS
    note = AuditNote(actor, "approve", outcome="", article_id=article_id)
    with refusals(app, note):
        unknown = [k for k in kinds if k not in APPROVAL_KINDS]
        if unknown or not kinds:
            raise DistributorError(f"no channel {', '.join(map(repr, unknown)) or 'named'}: "
                                   f"approve takes {', '.join(APPROVAL_KINDS)}")
        stored = app.store.get_article(article_id)
        rows = [d for d in app.store.deliveries(article_id=stored.id) if d.kind in kinds]
        todo = [d for d in rows if awaits_approval(app, d, stored.version) or _approved(app, d, stored.version)]
        if not todo:
            states = ", ".join(f"{d.channel} is {d.status}" for d in rows) or "it has no delivery there"
            raise DistributorError(f"article {stored.id} has nothing awaiting approval"
                                   f"{' on ' + ', '.join(kinds) if channels is not None else ''} ({states})")
    results, refused = [], []
    for d in todo:
        one = AuditNote(actor, "approve", outcome="", detail="approve all", delivery_id=d.id,
                        article_id=d.article_id, channel=d.channel)
        try:
            results.append(_approve(app, d, one, seen_version,
                                    seen_edits.get(d.kind, 0) if seen_edits is not None else None))
        except InvalidTransition as exc:  # a racing change took it first (recorded as refused)
            refused.append((d.id, str(exc)))
    return ArticleApproval(stored.id, actor, tuple(results), tuple(refused))


def awaits_approval(app: App, d: DeliveryRow, version: int) -> bool:
    """Whether `d` awaits an editor's approval, its article being at
    `version`: it is awaiting_approval, or a sent post whose correction to
    that version awaits it (where an Approve button applies)."""
    if d.status == S.AWAITING_APPROVAL:
        return True
    return (d.status == S.SENT and d.article_version < version
            and correction_needs_approval(app.settings, d.channel, d.approved_version, version))


def _approved(app: App, d: DeliveryRow, version: int) -> bool:
    """Whether `d` is approved at this version already (in required mode)."""
    if d.approved_version != version or d.status in (S.CANCELLED, S.SKIPPED):
        return False
    try:
        return approval_required(app.settings, d.channel)
    except ConfigurationError:  # a channel no longer configured
        return False


def _edits(app: App, d: DeliveryRow) -> bool:
    try:
        return edits_posts(channel_config(app.settings, d.channel))
    except ConfigurationError:  # a channel no longer configured
        return False


def _approve(app: App, row: DeliveryRow, note: AuditNote, seen_version: int | None,
             seen_edit: int | None = None) -> ApprovalResult:
    with refusals(app, note):
        version = app.store.get_article(row.article_id).version
        if row.status == S.SENT and row.article_version < version and not _edits(app, row):
            raise InvalidTransition(
                f"delivery {row.id} ({row.channel}) is sent, and a correction does not edit its post there: "
                "there is nothing to approve", what="delivery", row_id=row.id, current=row.status,
                requested=S.PENDING, allowed=(S.AWAITING_APPROVAL,))
        now = app.clock()
        done = Approvals(app.store.engine).approve(row.id, now=now, audit=note, seen_version=seen_version,
                                                   seen_edit=seen_edit)
    after = done.row
    if done.outcome != ALREADY:
        if done.outcome == CORRECTION_APPROVED:
            detail = (f"approved the correction to article version {done.version}: the post is edited at the "
                      "next delivery run")
        elif after.kind == "newsletter":
            detail = f"approved article version {done.version}: it joins the next digest issue"
        else:
            due = after.next_attempt_at or now
            detail = (f"approved article version {done.version}: it goes out from {due:%Y-%m-%d %H:%M} UTC on, "
                      "its posting window and spacing applying")
        return ApprovalResult("approve", note.actor, after.id, after.article_id, after.channel, after.status,
                              done.outcome, detail, version=done.version, approved_by=note.actor,
                              approved_at=now)
    by, at = _approver(app, after.id)
    detail = (f"already approved (article version {done.version})" + (f" by {by}" if by else "")
              + (f" at {at:%Y-%m-%d %H:%M} UTC" if at else "") + f"; it is {after.status}")
    Audit(app.store.engine).record(replace(note, outcome=ALREADY, detail=detail), at=app.clock())
    return ApprovalResult("approve", note.actor, after.id, after.article_id, after.channel, after.status, ALREADY,
                          detail, version=done.version, approved_by=by, approved_at=at)


def _approver(app: App, delivery_id: int) -> tuple[str, dt.datetime | None]:
    """Who approved the delivery last, and when (from the audit): an approval,
    or a send by hand."""
    for e in Audit(app.store.engine).history(delivery_id=delivery_id):
        if e.outcome in (APPROVED, CORRECTION_APPROVED) or (
                e.action in ("send", "resend") and e.outcome not in (REFUSED, STARTED, "error")):
            return e.actor, e.at
    return "", None


# ------------------------------------------------------------------ sending by hand


async def send_now(app: App, article_id: int, kind: str, *, actor: str,
                   on_wait: Callable[[str, float], None] | None = None) -> DeliveryResult:
    """Send a stored article to its edition's `kind` channel now: what is
    planned but not yet due, awaits approval (the send approves what it
    sends), failed, held, skipped or cancelled. Refused, with
    nothing changed, when the channel is paused, must wait longer than
    PACING_MAX_WAIT, or the article is already sent (or being sent) there
    (that is `resend`). A shorter wait for the channel's pacing is sat out
    (`on_wait(channel, seconds)` hears of it first)."""
    return await _send(app, article_id, kind, actor=actor, force=False, on_wait=on_wait)


async def resend(app: App, article_id: int, kind: str, *, actor: str,
                 on_wait: Callable[[str, float], None] | None = None) -> DeliveryResult:
    """send_now, and when the article is already sent there, send it again as
    a new, recorded delivery."""
    return await _send(app, article_id, kind, actor=actor, force=True, on_wait=on_wait)


async def _send(app: App, article_id: int, kind: str, *, actor: str, force: bool,
                on_wait: Callable[[str, float], None] | None) -> DeliveryResult:
    action = "resend" if force else "send"
    store, outbox = app.store, app.store.outbox
    with refusals(app, AuditNote(actor, action, outcome="", article_id=article_id)):
        stored = store.get_article(article_id)
    edition = stored.article.language
    channel = f"{edition}.{kind}"
    with started(app, AuditNote(actor, action, outcome="", article_id=stored.id, channel=channel)) as entry:
        cfg = app.settings.editions.get(edition)
        if cfg is None or getattr(cfg.channels, kind, None) is None:
            raise DistributorError(f"no {kind} channel configured for {edition}")
        if kind not in SOCIAL_KINDS:
            raise DistributorError(f"{channel} is not sent article by article: its articles go out with the "
                                   "digest (`distributor digest --send`)")
        # Refuse before changing anything: a paused channel, a wait too long to sit out.
        state = outbox.channel(channel)
        if state.paused:
            raise DistributorError(f"{channel} is paused ({state.paused_reason}); "
                                   f"`distributor resume {channel}` first")
        now = app.clock()
        wait = (state.not_before - now).total_seconds() if state.not_before and state.not_before > now else 0.0
        if wait > PACING_MAX_WAIT:
            raise DistributorError(f"{channel} must wait until {state.not_before:%H:%M:%S} UTC "
                                   "(a rate limit); try again then")
        delivery_id = outbox.ensure(stored.id, channel=channel, kind=kind, article_version=stored.version,
                                    now=now)
        row = outbox.get(delivery_id)
        if row.status in (S.SENT, S.SENDING):
            if not force:
                last = [d for d in store.deliveries(article_id=stored.id)
                        if d.channel == channel and d.status in (S.SENT, S.SENDING)][-1]
                raise DistributorError(
                    f"article {stored.id} is already {last.status} to {channel} (delivery {last.id}, "
                    f"remote id {last.remote_id or '-'}); use --force to send it again")
            delivery_id = outbox.add_forced(stored.id, channel=channel, kind=kind,
                                            article_version=stored.version, now=now)
        elif row.status != S.PENDING or (row.next_attempt_at and row.next_attempt_at > now):
            move = MOVES["send"]
            outbox.set_status(delivery_id, from_states=move.only_from, to=move.to, now=now, reason=move.reason,
                              reset_attempts=row.status == S.FAILED)
        Approvals(store.engine).sent_by_hand(delivery_id, version=stored.version, now=now)
        if wait > 0:
            # The channel's pacing or a flood wait: sat out rather than risking a 429.
            if on_wait is not None:
                on_wait(channel, wait)
            await app.sleep(wait)
        outcome = await app.dispatcher.deliver(delivery_id)
        for _ in range(3):  # a worker took the channel's next slot meanwhile: its pacing, sat out too
            state = outbox.channel(channel)
            more = (state.not_before - app.clock()).total_seconds() if state.not_before else 0.0
            if outcome.status != "waiting" or not 0 < more <= PACING_MAX_WAIT:
                break
            if on_wait is not None:
                on_wait(channel, more)
            await app.sleep(more)
            wait += more
            outcome = await app.dispatcher.deliver(delivery_id)
        entry.conclude(outcome.status, outcome.detail or None, delivery_id=delivery_id)
    return _result(action, actor, outbox.get(delivery_id), outcome=outcome.status, detail=outcome.detail,
                   waited=wait)

