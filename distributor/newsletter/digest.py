"""The weekly digest: when an issue is due, assembling it, and sending it in
resumable batches.

An issue holds the articles whose footer names the newsletter and that no
issue carried yet. With none, no issue goes out. Sending goes through SendGrid
in batches of at most 1000 recipients, each with their own unsubscribe token,
read from the database a batch at a time (the snapshot rule: issues.py);
progress is saved after each batch, keyed by the last subscriber id it
covered, so a crash resumes at the next unsent batch and never sends a batch
twice (a batch whose outcome is unknown holds the issue).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo

from distributor.channels import build_channel
from distributor.config import WEEKDAYS, Settings
from distributor.errors import DeliveryError, DistributorError, OutcomeUnknown
from distributor.store.issues import Issue, Issues, StaleItems
from distributor.newsletter.tokens import unsubscribe_token, unsubscribe_tokens
from distributor.policy import RetryPolicy
from distributor.render import RenderedMessage, render_edition_digest
from distributor.render.email import fill_issue
from distributor.store import Store
from distributor.store.approval import Approvals
from distributor.store.states import IssueStatus
from distributor.store.subscribers import Subscribers

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ schedule


def slot_at_or_before(settings: Settings, edition: str, now: dt.datetime) -> dt.datetime:
    """The most recent digest time of the edition at or before `now` (UTC)."""
    nl = settings.editions[edition].channels.newsletter
    if nl is None:
        raise DistributorError(f"edition {edition} has no newsletter channel")
    tz = ZoneInfo(settings.editions[edition].timezone)
    hour, minute = (int(x) for x in nl.digest_time.split(":"))
    local = now.astimezone(tz)
    day = local.date()
    for back in range(8):
        d = day - dt.timedelta(days=back)
        if WEEKDAYS[d.weekday()] != nl.digest_day:
            continue
        candidate = dt.datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz)
        if candidate <= local:
            return candidate.astimezone(dt.timezone.utc)
    raise AssertionError("a weekly slot always exists within 8 days")  # pragma: no cover


def next_slot(settings: Settings, edition: str, now: dt.datetime) -> dt.datetime:
    """The first digest time of the edition after `now` (UTC)."""
    return slot_at_or_before(settings, edition, now + dt.timedelta(days=7))


def due_slot(settings: Settings, store: Store, edition: str, now: dt.datetime) -> dt.datetime | None:
    """The slot whose issue should go out now, if any: the latest slot, within
    the grace time, with no issue made for it yet."""
    nl = settings.editions[edition].channels.newsletter
    if nl is None:
        return None
    slot = slot_at_or_before(settings, edition, now)
    if now - slot > dt.timedelta(hours=nl.digest_grace_hours):
        return None
    if Issues(store.engine).find(edition, slot) is not None:
        return None
    return slot


# ------------------------------------------------------------------ recipients


def batch_tokens(settings: Settings, edition: str, page: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """(address, unsubscribe token) for a page of (subscriber id, address)."""
    toks = unsubscribe_tokens(settings, edition, [sid for sid, _ in page])
    return [(email, tok) for (_, email), tok in zip(page, toks)]


def recipient_tokens(settings: Settings, store: Store, edition: str, emails: list[str]) -> list[tuple[str, str]]:
    """(address, unsubscribe token) for a batch; an address that is not a
    subscriber (a test copy) gets a token that names no one."""
    ids = Subscribers(store.engine).ids_of(edition, emails)
    return [(e, unsubscribe_token(settings, edition, ids.get(e, 0))) for e in emails]


# ------------------------------------------------------------------ the articles


def waiting(settings: Settings, store: Store, edition: str, now: dt.datetime) -> list[tuple[int, int]]:
    """(delivery id, article id) of the articles the edition's next issue
    carries: pending newsletter deliveries no issue took, past their embargo;
    with `approval = "required"`, only those an editor approved at the
    article's current version (the others are gated to awaiting_approval
    first, so they show as such)."""
    nl = settings.editions[edition].channels.newsletter
    required = nl is not None and nl.approval == "required"
    Approvals(store.engine).gate(f"{edition}.newsletter", required=required, now=now)
    return Issues(store.engine).waiting_deliveries(edition, now, approved_only=required)


# ------------------------------------------------------------------ sending


def _page(settings: Settings, issues: Issues, issue: Issue, after: int) -> list[tuple[int, str, str]]:
    """The issue's next batch after subscriber `after`: (id, address, unsubscribe token)."""
    page = issues.recipient_page(issue, after)
    toks = unsubscribe_tokens(settings, issue.edition, [sid for sid, _ in page])
    return [(sid, email, tok) for (sid, email), tok in zip(page, toks)]


@dataclass
class DigestResult:
    edition: str
    issue: Issue | None
    status: str  # sent, held, failed, paused, nothing, already, stopped
    detail: str = ""


Sleep = Callable[[float], Awaitable[None]]


def assemble(settings: Settings, store: Store, edition: str, slot: dt.datetime, now: dt.datetime, *,
             subject: str | None = None, intro: str | None = None) -> Issue | None:
    """Make the issue for (edition, slot) from the waiting articles (with an
    editor's own subject and intro, if given); None when there is nothing to
    send or another process made it first."""
    issues = Issues(store.engine)
    nl = settings.editions[edition].channels.newsletter
    if nl is None:
        raise DistributorError(f"edition {edition} has no newsletter channel")
    for attempt in range(3):
        items = waiting(settings, store, edition, now)
        if not items:
            return None
        stored = [store.get_article(a) for _, a in items]
        msg = render_edition_digest(settings, edition, [s.article for s in stored], slot.astimezone(
            ZoneInfo(settings.editions[edition].timezone)).date(), archive=True, subject=subject, intro=intro)
        if not Subscribers(store.engine).counts(edition).get("active"):
            raise DistributorError(f"edition {edition} has no active newsletter subscribers")
        try:
            # The snapshot is a rule (schema.issues), taken in the same transaction as the issue; the
            # articles are the versions rendered (one changed meanwhile: made again).
            return issues.create(edition=edition, slot=slot, subject=msg.subject or "", html=msg.html or "",
                                 text=msg.text, headers=dict(msg.headers), batch_size=nl.batch_size, items=items,
                                 now=now, editor_subject=subject, intro=intro,
                                 versions={s.id: s.version for s in stored})
        except StaleItems:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def issue_message(issue: Issue) -> RenderedMessage:
    """The stored issue's email, as the newsletter channel sends it (its
    "view in browser" link naming the issue)."""
    return fill_issue(RenderedMessage(channel="newsletter", text=issue.text, html=issue.html, subject=issue.subject,
                                      headers=issue.headers, length=len(issue.text), limit=0,
                                      language=issue.edition), issue.id)


async def send_issue(settings: Settings, store: Store, issue: Issue, *, clock: Callable[[], dt.datetime],
                     sleep: Sleep = asyncio.sleep, stop: Callable[[], bool] = lambda: False,
                     channel=None, policy: RetryPolicy | None = None) -> DigestResult:
    """Send (or resume) an issue batch by batch, each batch under the one
    retry policy (policy.py): a rate limit is waited out exactly and is not a
    failed attempt, a transient error backs off, and after `max_attempts` the
    issue fails visibly (`digest --send` resumes it); bad credentials pause
    the newsletter channel and leave the issue to resume once it is resumed."""
    issues = Issues(store.engine)
    policy = policy or RetryPolicy(settings)
    own_channel = channel is None
    channel = channel or build_channel(settings, f"{issue.edition}.newsletter")
    message = issue_message(issue)
    try:
        done = issues.batches(issue.id)
        unknown = [b for b in done.values() if b.status == "sending"]
        if unknown:
            reason = (f"batch {unknown[0].batch_no + 1} of {issue.batch_count} was being sent when the process "
                      f"stopped (at {unknown[0].started_at.isoformat(timespec='seconds')}); its outcome is unknown. "
                      f"Check SendGrid's activity, then `distributor digest --release {issue.id}` to send it "
                      f"again, or leave it held.")
            issues.set_status(issue.id, IssueStatus.HELD, now=clock(), reason=reason)
            return DigestResult(issue.edition, issues.get(issue.id), "held", reason)
        channel_name = f"{issue.edition}.newsletter"
        state = store.outbox.channel(channel_name)
        if state.paused:
            return DigestResult(issue.edition, issue, "paused",
                                f"{channel_name} is paused ({state.paused_reason}); after `distributor resume "
                                f"{channel_name}` the issue resumes at the next run")
        # Keyset paging over the snapshot: batch n covers the subscriber ids
        # (after, last]; a sent batch is skipped by its last id, so a resume
        # continues with the next unsent batch and never re-reads the others.
        # While a batch's request is in flight the next page is read and its
        # tokens made; between two requests one transaction marks the one sent,
        # drops from the next whoever left meanwhile, and marks it sending.
        n, after, total = 0, 0, 0
        while n in done and done[n].status == "sent":
            last = done[n].last_id
            after = last if last is not None else after
            total += done[n].recipients
            n += 1
        stopping = stop()  # asked before the page is read: it is read as late as it can be
        page = _page(settings, issues, issue, after)
        if page and stopping:
            return DigestResult(issue.edition, issue, "stopped", f"stopped before batch {n + 1}")
        began = False  # batch n marked `sending` by the transaction that closed batch n - 1
        while page:
            last = page[-1][0]
            failures = waits = 0  # this run's failed attempts and rate-limit waits for the batch
            while True:
                if not began and not issues.begin_batch(issue.id, n, recipients=len(page), now=clock(),
                                                        after_id=after, last_id=last):
                    return DigestResult(issue.edition, issue, "already",
                                        f"batch {n + 1} is being sent by another process")
                began = False
                try:
                    request = asyncio.ensure_future(channel.send_batch(
                        message, [(e, t) for _, e, t in page],
                        custom_args={"issue_id": str(issue.id), "batch": str(n)}))
                    await asyncio.sleep(0)  # the request starts (in its thread) before the next page is read
                    try:
                        upcoming = _page(settings, issues, issue, last)
                    except BaseException:
                        request.cancel()
                        raise
                    message_id = await request
                except OutcomeUnknown as exc:
                    # Left in `sending`: the next resume holds the issue.
                    reason = f"batch {n + 1}: {exc}; `distributor digest --release {issue.id}` sends it again"
                    issues.set_status(issue.id, IssueStatus.HELD, now=clock(), reason=reason)
                    return DigestResult(issue.edition, issues.get(issue.id), "held", reason)
                except DeliveryError as exc:
                    issues.finish_batch(issue.id, n, status="failed", now=clock(), error=str(exc))
                    decision = policy.decide(exc, failures=failures, waits=waits)
                    failures = decision.failures
                    if decision.action in ("wait", "retry"):
                        waits = waits + 1 if decision.action == "wait" else 0
                        log.warning("digest %s issue %s: batch %d: %s; retrying in %.0fs", issue.edition,
                                    issue.id, n + 1, decision.why, decision.delay)
                        await sleep(decision.delay)
                        if stop():  # the process is stopping: the next run resumes this batch
                            return DigestResult(issue.edition, issues.get(issue.id), "stopped",
                                                f"stopped while batch {n + 1} waited to be retried")
                        continue
                    if decision.action == "pause":
                        reason = f"{exc} (digest issue #{issue.id}, batch {n + 1})"
                        store.outbox.update_channel(channel_name, paused=True, paused_reason=reason, now=clock())
                        return DigestResult(issue.edition, issues.get(issue.id), "paused",
                                            f"{channel_name} paused: {exc}; after `distributor resume "
                                            f"{channel_name}` the issue resumes at the next run")
                    issues.set_status(issue.id, IssueStatus.FAILED, now=clock(), reason=f"batch {n + 1}: {decision.why}")
                    return DigestResult(issue.edition, issues.get(issue.id), "failed", decision.why)
                log.info("digest %s issue %s: batch %d/%d sent (%d recipients, %s)", issue.edition, issue.id,
                         n + 1, issue.batch_count, len(page), message_id)
                break
            after, total, n = last, total + len(page), n + 1
            if stop():
                issues.finish_batch(issue.id, n - 1, status="sent", now=clock(), message_id=message_id)
                if upcoming:
                    return DigestResult(issue.edition, issue, "stopped", f"stopped before batch {n + 1}")
                break
            prefetched_last = upcoming[-1][0] if upcoming else after
            page, began = issues.advance(issue, n - 1, message_id=message_id, now=clock(), after=after,
                                         page=upcoming)
            if upcoming and not page:  # everyone in it left meanwhile: read on after it
                page = _page(settings, issues, issue, prefetched_last)
                after = prefetched_last
        issues.set_status(issue.id, IssueStatus.SENT, now=clock())
        return DigestResult(issue.edition, issues.get(issue.id), "sent",
                            f"{total} recipients in {n} batch(es)")
    finally:
        if own_channel:
            await channel.aclose()


async def run_digest(settings: Settings, store: Store, edition: str, *, clock: Callable[[], dt.datetime],
                     slot: dt.datetime | None = None, sleep: Sleep = asyncio.sleep,
                     stop: Callable[[], bool] = lambda: False, resume_failed: bool = False,
                     subject: str | None = None, intro: str | None = None) -> DigestResult:
    """Resume an unfinished issue of the edition (with resume_failed, an
    editor's --send, also a failed one), else make and send the issue for
    `slot` (default: now, an editor's manual send), with an editor's own
    `subject` and `intro` if given (an unfinished issue keeps its own: giving
    them then is an error)."""
    issues = Issues(store.engine)
    unfinished = issues.unfinished(edition, (IssueStatus.SENDING, IssueStatus.FAILED) if resume_failed
                                   else (IssueStatus.SENDING,))
    if unfinished:
        issue = unfinished[0]
        if subject or intro:
            raise DistributorError(f"issue #{issue.id} of edition {edition} is unfinished and resumes with its own "
                                   f"subject and intro: run `digest --send` without --subject/--intro first")
        if issue.status == IssueStatus.FAILED:
            issues.resume(issue.id, now=clock())
            issue = issues.get(issue.id)
        return await send_issue(settings, store, issue, clock=clock, sleep=sleep, stop=stop)
    now = clock()
    if slot is None:  # an editor's manual send: the issue of this second
        if not waiting(settings, store, edition, now):
            log.info("digest %s: no newsletter articles since the last issue; no issue goes out", edition)
            return DigestResult(edition, None, "nothing", "no newsletter articles since the last issue")
        slot = now.replace(microsecond=0)
    existing = issues.find(edition, slot)
    if existing is not None:
        return DigestResult(edition, existing, "already", f"issue #{existing.id} for this slot is {existing.status}")
    if not Subscribers(store.engine).counts(edition).get("active"):
        log.info("digest %s: the edition has no active subscribers; no issue goes out", edition)
        return DigestResult(edition, None, "nothing", "the edition has no active subscribers")
    made = assemble(settings, store, edition, slot, now, subject=subject, intro=intro)
    if made is None:
        log.info("digest %s: no newsletter articles since the last issue; no issue goes out", edition)
        return DigestResult(edition, None, "nothing", "no newsletter articles since the last issue")
    return await send_issue(settings, store, made, clock=clock, sleep=sleep, stop=stop)


async def run_due_digest(settings: Settings, store: Store, edition: str, *, clock: Callable[[], dt.datetime],
                         sleep: Sleep = asyncio.sleep, stop: Callable[[], bool] = lambda: False
                         ) -> DigestResult | None:
    """What the schedule does for an edition: send the issue of a slot that is
    due, or resume an interrupted one; None when neither (nothing due)."""
    slot = due_slot(settings, store, edition, clock())
    if not Issues(store.engine).unfinished(edition):
        if slot is None:
            return None
        return await run_digest(settings, store, edition, clock=clock, slot=slot, sleep=sleep, stop=stop)
    resumed = await run_digest(settings, store, edition, clock=clock, slot=slot, sleep=sleep, stop=stop)
    if resumed.status != "sent" or slot is None or due_slot(settings, store, edition, clock()) is None:
        return resumed
    # The interrupted issue is out; the slot that is due now gets its own.
    log.info("digest %s: resumed issue #%s %s", edition, resumed.issue.id if resumed.issue else "?", resumed.status)
    return await run_digest(settings, store, edition, clock=clock, slot=slot, sleep=sleep, stop=stop)


async def send_test_copy(settings: Settings, store: Store, edition: str, address: str, *,
                         now: dt.datetime, issue_id: int | None = None, subject: str | None = None,
                         intro: str | None = None) -> str:
    """The edition's next issue (or a stored issue, resent), to one address
    only; nothing is recorded."""
    from dataclasses import replace

    issues = Issues(store.engine)
    if issue_id is not None:
        issue = issues.get(issue_id)
        edition = issue.edition
        msg = issue_message(issue)
    else:
        items = waiting(settings, store, edition, now)
        if not items:
            raise DistributorError(f"no newsletter articles waiting for edition {edition}: nothing to test")
        articles = [store.get_article(a).article for _, a in items]
        msg = render_edition_digest(settings, edition, articles,
                                    now.astimezone(ZoneInfo(settings.editions[edition].timezone)).date(),
                                    subject=subject, intro=intro)
        msg = replace(msg, subject=f"[Test] {msg.subject}")
    channel = build_channel(settings, f"{edition}.newsletter")
    try:
        return await channel.send_batch(msg, recipient_tokens(settings, store, edition, [address]),
                                        custom_args={"test": "1"})
    finally:
        await channel.aclose()
