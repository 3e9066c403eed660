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
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Awaitable, Callable, Literal
from zoneinfo import ZoneInfo

from distributor.channels import build_channel
from distributor.config import WEEKDAYS, NewsletterChannelConfig, Settings
from distributor.errors import DeliveryError, DistributorError, OutcomeUnknown
from distributor.store.issues import Batch, Issue, Issues, StaleItems
from distributor.newsletter.digest_sender import Sender, on_loop, posted
from distributor.newsletter.collector import quiet_collector
from distributor.newsletter.tokens import unsubscribe_token, unsubscribe_tokens
from distributor.policy import RetryPolicy
from distributor.edits import digest_articles
from distributor.render import RenderedMessage, render_edition_digest
from distributor.render.email import fill_issue
from distributor.store import Store
from distributor.store.digest_batches import END, TAKEN, BatchBook, Begun, Sent
from distributor.store.digest_drafts import Drafts
from distributor.newsletter.next_issue import NextIssue, next_issue, waiting  # noqa: F401 - waiting: its old home
from distributor.store.states import IssueStatus
from distributor.store.subscribers import Subscribers

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ schedule


def newsletter_of(settings: Settings, edition: str) -> NewsletterChannelConfig:
    nl = settings.editions[edition].channels.newsletter
    if nl is None:
        raise DistributorError(f"edition {edition} has no newsletter channel")
    return nl


def slot_at_or_before(settings: Settings, edition: str, now: dt.datetime) -> dt.datetime:
    """The most recent digest time of the edition at or before `now` (UTC)."""
    nl = newsletter_of(settings, edition)
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


# ------------------------------------------------------------------ the articles: newsletter/next_issue.py


# ------------------------------------------------------------------ sending


@dataclass
class DigestResult:
    edition: str
    issue: Issue | None
    status: str  # sent, held, failed, paused, nothing, already, stopped
    detail: str = ""


Sleep = Callable[[float], Awaitable[None]]


def assemble(settings: Settings, store: Store, edition: str, slot: dt.datetime, now: dt.datetime, *,
             subject: str | None = None, intro: str | None = None, first: NextIssue | None = None,
             checked_active: bool = False) -> Issue | None:
    """Make the issue for (edition, slot) from the next issue's articles and
    draft (newsletter/next_issue.py; a `subject` or `intro` given here wins
    over the draft's), taking the draft in the same transaction; None when
    there is nothing to send or another process made it first. `first`, the
    next issue the caller just read, and `checked_active` spare the first
    attempt reading them again."""
    issues = Issues(store.engine)
    nl = newsletter_of(settings, edition)
    given = (subject, intro)
    for attempt in range(3):
        nxt = first if first is not None and attempt == 0 else next_issue(settings, store, edition, now)
        items, subject, intro = nxt.items, nxt.subject(given[0]), nxt.intro(given[1])
        if not items:
            return None
        stored = store.get_articles([a for _, a in items])
        msg = render_edition_digest(settings, edition, digest_articles(store, stored), slot.astimezone(
            ZoneInfo(settings.editions[edition].timezone)).date(), archive=True, subject=subject, intro=intro)
        if not (checked_active and attempt == 0) and not Subscribers(store.engine).has_active(edition):
            raise DistributorError(f"edition {edition} has no active newsletter subscribers")
        try:
            # The snapshot is a rule (schema.issues), taken in the same transaction as the issue; the
            # articles are the versions rendered (one changed meanwhile: made again).
            return issues.create(edition=edition, slot=slot, subject=msg.subject or "", html=msg.html or "",
                                 text=msg.text, headers=dict(msg.headers), batch_size=nl.batch_size, items=items,
                                 now=now, editor_subject=subject, intro=intro,
                                 versions={s.id: s.version for s in stored},
                                 within=lambda conn: Drafts.take(conn, edition, nxt.draft.version))
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


def _unknown(issue: Issue, unknown: list[Batch]) -> str:
    """Why an issue is held: the batches found `sending` (at most two, see
    store/digest_batches.py) and what an editor can do."""
    nos = [b.batch_no + 1 for b in unknown]
    which, were, their = ((f"batch {nos[0]}", "was", "its") if len(nos) == 1
                          else ("batches " + ", ".join(map(str, nos[:-1])) + f" and {nos[-1]}", "were", "their"))
    return (f"{which} of {issue.batch_count} {were} being sent when the process stopped (at "
            f"{unknown[0].started_at.isoformat(timespec='seconds')}); {their} outcome is unknown. Check SendGrid's "
            f"activity, then `distributor digest --release {issue.id}` to send {'it' if len(nos) == 1 else 'them'} "
            f"again, or leave it held.")


async def send_issue(settings: Settings, store: Store, issue: Issue, *, clock: Callable[[], dt.datetime],
                     sleep: Sleep = asyncio.sleep, stop: Callable[[], bool] = lambda: False,
                     channel=None, policy: RetryPolicy | None = None, new: bool = False) -> DigestResult:
    """Send (or resume) an issue batch by batch, each batch under the one
    retry policy (policy.py): a rate limit is waited out exactly and is not a
    failed attempt, a transient error backs off, and after `max_attempts` the
    issue fails visibly (`digest --send` resumes it); bad credentials pause
    the newsletter channel and leave the issue to resume once it is resumed.
    `new`: the issue was made just now, so none of its batches exists yet."""
    issues = Issues(store.engine)
    policy = policy or RetryPolicy(settings)
    own_channel = channel is None
    channel = channel or build_channel(settings, f"{issue.edition}.newsletter")
    message = issue_message(issue)
    book = BatchBook(store.engine, issue_id=issue.id, edition=issue.edition, max_id=issue.max_subscriber_id,
                     batch_size=issue.batch_size)

    def recipients(batch: Begun) -> list[tuple[str, str]]:
        return batch_tokens(settings, issue.edition, batch.page)

    def args(batch: Begun) -> dict[str, str]:
        return {"issue_id": str(issue.id), "batch": str(batch.batch_no)}

    # A channel that builds a batch's request body apart from posting it (the
    # newsletter channel does) has the next body built while a request runs;
    # any other (a test's) is handed each batch's recipients.
    prebuilds = callable(getattr(channel, "build", None)) and callable(getattr(channel, "post", None))
    prepare = getattr(channel, "prepare", None) if prebuilds else None

    def build(batch: Begun | Literal["end", "taken"], to: list[tuple[str, str]]) -> object:
        if not prebuilds or not isinstance(batch, Begun):
            return None
        try:
            body = channel.build(message, to, custom_args=args(batch))
        except ValueError:  # a batch the channel refuses: send_batch raises it as the request would start
            return None
        # Serialised here too (the newsletter channel's `prepare`), while the request before runs:
        # the sender's thread then only posts it.
        return prepare(body) if prepare is not None else body

    # Every request is posted by the sender's thread (newsletter/digest_sender.py):
    # the newsletter channel's blocking post there and then, any other channel's
    # coroutine on the loop.
    loop = asyncio.get_running_loop()
    post_now = getattr(channel, "post_now", None) if prebuilds else None

    def start(item: tuple[Begun, list[tuple[str, str]], object]) -> Callable[[], str]:
        batch, to, body = item
        if body is not None and post_now is not None:
            return lambda: post_now(body)
        return on_loop(loop, channel.post(body) if body is not None
                       else channel.send_batch(message, to, custom_args=args(batch)))

    def ready(batch: Begun) -> bool:
        """In the sender's thread, after an answer: may `batch` go out at once?"""
        return not stop() and not book.leavers(batch)

    quiet_collector.start()
    try:
        done = {} if new else issues.batches(issue.id)
        unknown = sorted((b for b in done.values() if b.status == "sending"), key=lambda b: b.batch_no)
        if unknown:
            reason = _unknown(issue, unknown)
            issues.set_status(issue.id, IssueStatus.HELD, now=clock(), reason=reason)
            return DigestResult(issue.edition, issues.get(issue.id), "held", reason)
        channel_name = f"{issue.edition}.newsletter"
        state = store.outbox.channel(channel_name)
        if state.paused:
            return DigestResult(issue.edition, issue, "paused",
                                f"{channel_name} is paused ({state.paused_reason}); after `distributor resume "
                                f"{channel_name}` the issue resumes at the next run")
        # Keyset paging over the snapshot: batch n covers the subscriber ids
        # (after, last]; the sent batches are a prefix, so a resume continues
        # after the last one's last id and never re-reads the others.
        n, after, total = 0, 0, 0
        while n in done and done[n].status == "sent":
            last = done[n].last_id
            after = last if last is not None else after
            total += done[n].recipients
            n += 1
        if stop():  # asked before anything is begun: a stopping process starts no batch
            if book.peek(after):
                return DigestResult(issue.edition, issue, "stopped", f"stopped before batch {n + 1}")
            cur: Begun | Literal["end", "taken"] = END
        else:
            cur = book.step(sent=None, batch_no=n, after=after, now=clock())
        if cur == TAKEN:
            return DigestResult(issue.edition, issue, "already", f"batch {n + 1} is being sent by another process")
        # One request in flight; while it runs, `step` records the batch before
        # it sent, reads and begins the next one (store/digest_batches.py), and
        # its tokens and request body are made; then it is handed to the sender,
        # which posts it as soon as the answer comes unless someone of it left
        # since it was read or the send is stopping (the loop decides those).
        pending: Sent | None = None  # answered, recorded by the next transaction
        ahead: Begun | Literal["end", "taken"] | None = None  # the batch after cur, once prepared
        to = recipients(cur) if isinstance(cur, Begun) else []
        body, ahead_to, ahead_body = build(cur, to), [], None  # the bodies of cur and ahead (prebuilds only)
        sender = Sender(loop, channel_name, start, ready)
        try:
            request = await posted(sender, (cur, to, body)) if isinstance(cur, Begun) else None
            while isinstance(cur, Begun) and request is not None:
                failures = waits = 0  # this run's failed attempts and rate-limit waits for the batch
                while True:
                    follow = None  # ahead's request, if the sender posts it right after cur's answer
                    try:
                        if ahead is None:
                            ahead = book.step(sent=pending, batch_no=cur.batch_no + 1, after=cur.last_id,
                                              now=clock())
                            pending = None
                            ahead_to = recipients(ahead) if isinstance(ahead, Begun) else []
                            ahead_body = build(ahead, ahead_to)
                            if isinstance(ahead, Begun):
                                follow = sender.then(ahead, (ahead, ahead_to, ahead_body))
                        answer = await request
                    except OutcomeUnknown as exc:
                        # Left in `sending`: the next resume holds the issue.
                        book.settle(now=clock(), sent=pending, put_back=ahead)
                        reason = (f"batch {cur.batch_no + 1}: {exc}; `distributor digest --release {issue.id}` "
                                  f"sends it again")
                        issues.set_status(issue.id, IssueStatus.HELD, now=clock(), reason=reason)
                        return DigestResult(issue.edition, issues.get(issue.id), "held", reason)
                    except DeliveryError as exc:
                        book.settle(now=clock(), sent=pending, failed=(cur.batch_no, str(exc)), put_back=ahead)
                        pending, ahead, ahead_body = None, None, None
                        decision = policy.decide(exc, failures=failures, waits=waits)
                        failures = decision.failures
                        if decision.action in ("wait", "retry"):
                            waits = waits + 1 if decision.action == "wait" else 0
                            log.warning("digest %s issue %s: batch %d: %s; retrying in %.0fs", issue.edition,
                                        issue.id, cur.batch_no + 1, decision.why, decision.delay)
                            await sleep(decision.delay)
                            if stop():  # the process is stopping: the next run resumes this batch
                                return DigestResult(issue.edition, issues.get(issue.id), "stopped",
                                                    f"stopped while batch {cur.batch_no + 1} waited to be retried")
                            again = book.begin(cur, clock())
                            if again is None:
                                return DigestResult(issue.edition, issue, "already",
                                                    f"batch {cur.batch_no + 1} is being sent by another process")
                            cur = again
                            request = await posted(sender, (cur, to, body))
                            continue
                        if decision.action == "pause":
                            reason = f"{exc} (digest issue #{issue.id}, batch {cur.batch_no + 1})"
                            store.outbox.update_channel(channel_name, paused=True, paused_reason=reason, now=clock())
                            return DigestResult(issue.edition, issues.get(issue.id), "paused",
                                                f"{channel_name} paused: {exc}; after `distributor resume "
                                                f"{channel_name}` the issue resumes at the next run")
                        issues.set_status(issue.id, IssueStatus.FAILED, now=clock(),
                                          reason=f"batch {cur.batch_no + 1}: {decision.why}")
                        return DigestResult(issue.edition, issues.get(issue.id), "failed", decision.why)
                    except BaseException:
                        # Cancelled or interrupted: cur's outcome is unknown (left `sending`),
                        # what is known is recorded and the batch after it put back (the
                        # sender, closed first, posts nothing more).
                        sender.close()
                        with contextlib.suppress(Exception):
                            book.settle(now=clock(), sent=pending, put_back=ahead)
                        raise
                    log.info("digest %s issue %s: batch %d/%d sent (%d recipients, %s)", issue.edition, issue.id,
                             cur.batch_no + 1, issue.batch_count, len(to), answer.message_id)
                    break
                pending, total, n = (cur.batch_no, answer.message_id, len(to)), total + len(to), cur.batch_no + 1
                if answer.chained:  # the sender found nobody gone and no stop: ahead's request runs already
                    assert follow is not None and isinstance(ahead, Begun)
                    cur, to, body, request = ahead, ahead_to, ahead_body, follow
                    ahead, ahead_to, ahead_body = None, [], None
                    continue
                if stop():
                    book.settle(now=clock(), sent=pending, put_back=ahead)
                    pending = None
                    if ahead != END:
                        return DigestResult(issue.edition, issue, "stopped", f"stopped before batch {n + 1}")
                    break
                while isinstance(ahead, Begun) and (gone := book.leavers(ahead)):
                    # Whoever stopped being active since the batch was read is left out;
                    # with nobody left in it, the batch is put back and the next page read.
                    keep = [i for i, (sid, _) in enumerate(ahead.page) if sid not in gone]
                    if keep:
                        ahead.page, ahead_to = [ahead.page[i] for i in keep], [ahead_to[i] for i in keep]
                        ahead_body = build(ahead, ahead_to)
                        break
                    book.settle(now=clock(), put_back=ahead)
                    ahead = book.step(sent=pending, batch_no=ahead.batch_no, after=ahead.last_id, now=clock())
                    pending = None
                    ahead_to = recipients(ahead) if isinstance(ahead, Begun) else []
                    ahead_body = build(ahead, ahead_to)
                if ahead == TAKEN:
                    book.settle(now=clock(), sent=pending)
                    return DigestResult(issue.edition, issue, "already",
                                        f"batch {n + 1} is being sent by another process")
                cur, to, body, ahead, ahead_to, ahead_body = ahead, ahead_to, ahead_body, None, [], None
                if isinstance(cur, Begun):
                    request = await posted(sender, (cur, to, body))
        finally:
            sender.close()
        if pending is not None:  # the last batch and the issue recorded sent in one transaction
            at = clock()
            if not book.finish(sent=pending, now=at,
                               then=lambda cur, style, when: Issues.sent_on_driver(cur, style, issue.id, when)):
                book.settle(now=at, sent=pending, within=lambda c: Issues.set_status_in(c, issue.id, "sent", now=at))
            at = at.astimezone(dt.timezone.utc)  # the row as set_status_in wrote it, without reading it back
            final = replace(issue, status=IssueStatus.SENT, reason=None, updated_at=at, sent_at=at)
        else:
            issues.set_status(issue.id, IssueStatus.SENT, now=clock())
            final = issues.get(issue.id)
        return DigestResult(issue.edition, final, "sent", f"{total} recipients in {n} batch(es)")
    finally:
        quiet_collector.stop()
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
    # Annotated: Issues.list shadows `list` in issues.py's own annotations.
    states = (IssueStatus.SENDING, IssueStatus.FAILED) if resume_failed else (IssueStatus.SENDING,)
    unfinished: list[Issue] = issues.unfinished(edition, states)
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
    first = None  # the next issue's look, reused by assemble's first attempt
    if slot is None:  # an editor's manual send: the issue of this second
        first = next_issue(settings, store, edition, now)
        if not first.items:
            log.info("digest %s: no newsletter articles since the last issue; no issue goes out", edition)
            return DigestResult(edition, None, "nothing", "no newsletter articles since the last issue")
        slot = now.replace(microsecond=0)
    existing = issues.find(edition, slot)
    if existing is not None:
        return DigestResult(edition, existing, "already", f"issue #{existing.id} for this slot is {existing.status}")
    if not Subscribers(store.engine).has_active(edition):
        log.info("digest %s: the edition has no active subscribers; no issue goes out", edition)
        return DigestResult(edition, None, "nothing", "the edition has no active subscribers")
    made = assemble(settings, store, edition, slot, now, subject=subject, intro=intro, first=first,
                    checked_active=True)
    if made is None:
        log.info("digest %s: no newsletter articles since the last issue; no issue goes out", edition)
        return DigestResult(edition, None, "nothing", "no newsletter articles since the last issue")
    return await send_issue(settings, store, made, clock=clock, sleep=sleep, stop=stop, new=True)


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
    issues = Issues(store.engine)
    if issue_id is not None:
        issue = issues.get(issue_id)
        edition = issue.edition
        msg = issue_message(issue)
    else:
        nxt = next_issue(settings, store, edition, now)
        if not nxt.items:
            raise DistributorError(f"no newsletter articles waiting for edition {edition}: nothing to test")
        articles = digest_articles(store, store.get_articles([a for _, a in nxt.items]))
        msg = render_edition_digest(settings, edition, articles,
                                    now.astimezone(ZoneInfo(settings.editions[edition].timezone)).date(),
                                    subject=nxt.subject(subject), intro=nxt.intro(intro))
        msg = replace(msg, subject=f"[Test] {msg.subject}")
    channel = build_channel(settings, f"{edition}.newsletter")
    try:
        return await channel.send_batch(msg, recipient_tokens(settings, store, edition, [address]),
                                        custom_args={"test": "1"})
    finally:
        await channel.aclose()
