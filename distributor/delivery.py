"""The dispatch loop.

For each due delivery: render, build the request (the channel's pure payload
builder), claim (state and the exact request written before the call), post,
record (state written after it). Then, by what policy.py decides the
channel's error means (the waits, backoff and give-up are shared with the
digest):

- RateLimited: due again after exactly `retry_after`; the whole channel waits.
- TransientDeliveryError: exponential backoff with jitter; failed after
  `max_attempts`; the channel pauses after `pause_after_failures` in a row.
- ChatMigrated: the channel's chat id is updated and the delivery is due again at once.
- ChannelUnusable (bad credentials, bot removed): the channel pauses at once
  and the delivery waits for it, instead of every delivery failing in turn.
- PhotoRefused: posted at once without the photo, with a note.
- PermanentDeliveryError: failed, shown to editors.
- OutcomeUnknown (or any surprise after the claim): held for an editor with
  the evidence, except on a channel that declares it can search its posts
  (SearchableChannel: X), where the account's recent posts are searched
  first and a post found there marks the delivery sent, if its text is what
  this delivery sent and no other delivery owns it. Never resent blindly.
  Any other surprise holds that one delivery, with the traceback's summary;
  the loop and the recovery go on.
- DuplicateContent: searched for in the same way; failed if it is not ours.

Corrections edit a post in place where the channel declares it can
(EditableChannel: Telegram) and the config asks for it. What is sent is
edits.render_sent's: the template's render, or an editor's current edit.

A channel in `approval = "required"` mode sends only the article version an
editor approved: each drain first gates its deliveries (store/approval.py),
and a claim is conditional on the version rendered being the approved one; a
correction is applied once its version is approved.

Drain leases a few due deliveries at a time (store/leases.py), read in one
query while their channel's state cannot have changed unseen (every send
before gone through, none on their paced channel). On unpaced channels a sent delivery's answer is
written with the next claim (answers.py), still before the next request.

Newsletter deliveries are not sent here: they wait for the weekly digest.
The clock and the sleep are injected, so tests move time instead of waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable
from zoneinfo import ZoneInfo

from distributor.channels import (Channel, SendResult, SocialConfig, build_channel,
                                  correction_needs_approval, edits_posts, social_channels, social_config)
from distributor.config import Settings, TelegramChannelConfig
from distributor.errors import ChatMigrated, ConfigurationError, DeliveryError, RenderError
from distributor.policy import Decision, RetryPolicy
from distributor.posting import in_window, next_opening, parse_window
from distributor.edits import render_sent
from distributor.metrics import timed
from distributor.answers import Answers
from distributor.render import RenderedMessage
from distributor.store import DeliveryRow, StoredArticle, Store, utcnow
from distributor.store.approval import Approvals, Corrections, correction_awaits
from distributor.store.outbox import ChannelBusy, DeliveryStatus, SentAnswer, Sending
from distributor.evidence import attempt_payload, held_reason, message_from_payload, surprise
from distributor.workers import claimer_gone, worker_id

log = logging.getLogger(__name__)

# The kinds the dispatcher posts article by article.
SOCIAL_KINDS = ("telegram", "twitter")

# X refuses a text it was sent in this window as a duplicate.
DUPLICATE_WINDOW = dt.timedelta(hours=24)
# The services' names in what editors read ("posted without the photo, which Telegram refused").
SERVICE_NAMES = {"telegram": "Telegram", "twitter": "X"}

Clock = Callable[[], dt.datetime]
Sleep = Callable[[float], Awaitable[None]]
# Builds a channel the dispatcher posts to: (settings, "de.telegram", chat_id=…).
ChannelFactory = Callable[..., Channel[Any]]


@dataclass
class Outcome:
    delivery_id: int
    channel: str
    status: str  # sent, retry, rate_limited, failed, held, paused, lost_race
    detail: str = ""


@dataclass
class DrainReport:
    outcomes: list[Outcome] = field(default_factory=list)
    recovered: list[Outcome] = field(default_factory=list)
    corrected: list[Outcome] = field(default_factory=list)
    waiting: int = 0  # still pending afterwards, due later
    blocked: int = 0  # of those, waiting for a paused channel (until an editor resumes it)
    awaiting_approval: int = 0  # deliveries awaiting an editor's approval afterwards

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


class Dispatcher:
    def __init__(self, settings: Settings, store: Store, *, clock: Clock = utcnow,
                 sleep: Sleep = asyncio.sleep, worker: str | None = None,
                 channel_factory: ChannelFactory = build_channel, rand: Callable[[], float] = random.random):
        self.settings = settings
        self.store = store
        self.outbox = store.outbox
        self.approvals, self.corrections = Approvals(store.engine), Corrections(store.engine)
        self.clock = clock
        self.sleep = sleep
        self.worker = worker or worker_id()
        self.channel_factory = channel_factory
        self.rand = rand
        self.policy = RetryPolicy(settings, rand)
        self._channels: dict[str, Channel[Any]] = {}
        self.stopping = False
        # A sent delivery's answer, written with the next claim inside drain (answers.py).
        self.answers = Answers(self.outbox, worker=lambda: self.worker, clock=lambda: self.clock())

    # ------------------------------------------------------------ the loop

    async def drain(self, *, max_wait: float | None = None) -> DrainReport:
        """Recover, correct, then send everything due; wait up to `max_wait`
        seconds for deliveries that become due soon (rate limits, backoff)."""
        max_wait = self.settings.delivery.once_max_wait_seconds if max_wait is None else max_wait
        report = DrainReport()
        report.recovered = await self.recover()
        for channel, cfg in social_channels(self.settings):
            self.approvals.gate(channel, required=cfg.approval == "required", now=self.clock())
        report.corrected = await self.correct()
        deadline = self.clock() + dt.timedelta(seconds=max_wait)
        self.answers.joining = True
        try:
            while not self.stopping:
                # A few at a time, leased: the other workers pass them by (store/leases.py).
                ids = self.outbox.lease_due(self.clock(), kinds=SOCIAL_KINDS, worker=self.worker)
                if ids:
                    # Read in one query; used while every send goes through (after a wait,
                    # a pause or a failure, a channel's state is read afresh, one by one).
                    batch = self.outbox.for_sending_many(ids) if len(ids) > 1 else {}
                    for delivery_id in ids:
                        if self.stopping:
                            break
                        outcome = await self._deliver_guarded(delivery_id, batch.pop(delivery_id, None))
                        if outcome.status != "sent":
                            batch.clear()
                        elif self._paced(outcome.channel):  # it must wait now, which the batch's read misses
                            batch = {i: r for i, r in batch.items() if r[0].channel != outcome.channel}
                        if outcome.status != "waiting":  # its channel got busy meanwhile: next round
                            report.outcomes.append(outcome)
                    continue
                self.answers.write()  # before waiting: no answer is kept across a sleep
                wake = self.outbox.next_due_at(self.clock(), kinds=SOCIAL_KINDS, worker=self.worker)
                if wake is None or wake > deadline:
                    break
                await self.sleep(max(0.0, (wake - self.clock()).total_seconds()))
        finally:
            self.answers.joining = False
            self.answers.write()
        report.waiting, report.blocked, report.awaiting_approval = self.outbox.waiting(kinds=SOCIAL_KINDS)
        return report

    def _paced(self, channel: str) -> bool:
        """Whether a send on `channel` makes it wait before the next (its pacing)."""
        try:
            return pacing(social_config(self.settings, channel)) > 0
        except ConfigurationError:
            return True  # as good as paced: its next delivery is read afresh, and reports the config

    # ------------------------------------------------------------ one delivery

    async def _deliver_guarded(self, delivery_id: int, read: Sending | None = None) -> Outcome:
        """`deliver`, but a surprise it did not handle itself holds this one
        delivery with the evidence instead of stopping the loop: before the
        claim (nothing was sent), or after it, outside the send's own handling
        (the outcome is unknown). A broken config still stops it (never
        swallowed)."""
        try:
            return await self.deliver(delivery_id, read)
        except ConfigurationError:
            raise
        except Exception as exc:  # noqa: BLE001 - one delivery must not stop the others
            row = self.outbox.get(delivery_id)
            why = f"unexpected {surprise(exc)}"
            # Our claim, then the bracket broke:
            if row.status == DeliveryStatus.SENDING and row.claimed_by == self.worker:
                self.outbox.resolve_unknown(row.id, claimed_by=self.worker, status=DeliveryStatus.HELD,
                                            reason=held_reason(row.id, why), remote_id=None, now=self.clock())
            elif row.status == DeliveryStatus.PENDING:
                self.outbox.set_status(row.id, from_states=(DeliveryStatus.PENDING,), to=DeliveryStatus.HELD,
                                       now=self.clock(), reason=f"{why}; nothing was sent. "
                                                                f"`distributor release {row.id}` to try again")
            return Outcome(row.id, row.channel, "held", why)

    async def deliver(self, delivery_id: int, read: Sending | None = None) -> Outcome:
        """Send one delivery (`read`: what Outbox.for_sending read of it, if drain read it with its batch)."""
        row, state, stored, edit = read or self.outbox.for_sending(delivery_id)
        now = self.clock()
        if state.paused:
            return Outcome(row.id, row.channel, "paused", state.paused_reason or "")
        if state.not_before and state.not_before > now:
            return Outcome(row.id, row.channel, "waiting", f"channel waits until {state.not_before}")
        cfg = social_config(self.settings, row.channel)
        required = cfg.approval == "required"
        if required and row.approved_version != stored.version:  # never approved, or changed since
            self.approvals.withdraw(row.id, version=stored.version, now=now)
            return Outcome(row.id, row.channel, "awaiting_approval", f"version {stored.version} is not approved")
        window = parse_window(cfg.posting_window)
        silent = False
        if window is not None:
            tz = ZoneInfo(self.settings.editions[row.edition].timezone)
            if not in_window(now, window, tz):
                if isinstance(cfg, TelegramChannelConfig) and cfg.silent_outside_window:
                    silent = True
                else:
                    opening = next_opening(now, window, tz)
                    self.outbox.defer(row.id, until=opening, now=now,
                                      reason=f"waits for the posting window {cfg.posting_window}")
                    return Outcome(row.id, row.channel, "deferred", f"outside {cfg.posting_window}; at {opening}")
        try:
            message = render_sent(self.settings, self.store, stored, row.kind, edit=edit)
        except (RenderError, ConfigurationError) as exc:
            self.outbox.finish_failed(row.id, None, outcome="permanent", error=f"render: {exc}", now=now)
            return Outcome(row.id, row.channel, "failed", f"render: {exc}")
        channel = self._channel(row.channel)  # a ConfigurationError stops the loop, holding nothing
        # The channel's payload builder makes the exact request; the attempt
        # records it before it is made.
        request = channel.build(message, silent=silent)
        try:  # the claim takes the channel's slot too: its pacing and waits, shared by every worker
            attempt = self.answers.claim(row.id, payload=attempt_payload(message, request), now=now,
                                         approved_version=stored.version if required else None,
                                         channel=row.channel, interval=pacing(cfg))
        except ChannelBusy as busy:
            return Outcome(row.id, row.channel, "paused" if busy.paused else "waiting", str(busy))
        if attempt is None:
            return Outcome(row.id, row.channel, "lost_race", "another worker or an editor took it")
        try:
            result = await timed(row.channel, channel.post(request))
        except DeliveryError as exc:
            decision = self.policy.decide(exc, failures=row.attempts)
            if decision.action == "drop_photo":
                return await self._without_photo(row, attempt, channel, stored, exc, cfg, silent=silent)
            return await self._failed(row, attempt, message, exc, decision)
        except Exception as exc:  # noqa: BLE001
            # A surprise after the claim: the request may have gone out.
            return await self._resolve(row, attempt, message, f"unexpected {surprise(exc)}")
        return self._sent(row, attempt, stored, cfg, result, silent=silent)

    async def _without_photo(self, row: DeliveryRow, attempt: int, channel: Channel[Any], stored: StoredArticle,
                             refused: DeliveryError, cfg: SocialConfig, *, silent: bool) -> Outcome:
        """The service refused the photo and posted nothing: the post goes out
        as a text post instead, within the same attempt, with a note."""
        message = render_sent(self.settings, self.store, stored, row.kind,
                              article=stored.article.replace(image=None))
        try:
            result = await timed(row.channel, channel.send(message, silent=silent))
        except DeliveryError as exc:
            return await self._failed(row, attempt, message, exc, self.policy.decide(exc, failures=row.attempts))
        except Exception as exc:  # noqa: BLE001
            return await self._resolve(row, attempt, message, f"unexpected {surprise(exc)}")
        note = f"posted without the photo, which {SERVICE_NAMES[row.kind]} refused: {refused}"
        return self._sent(row, attempt, stored, cfg, dataclasses.replace(result, note=note), silent=silent)

    def _sent(self, row: DeliveryRow, attempt: int, stored: StoredArticle, cfg: SocialConfig, result: SendResult,
              *, silent: bool) -> Outcome:
        note = "; ".join(filter(None, [result.note, "sent silently, outside the posting window" if silent else None]))
        interval, now = pacing(cfg), self.clock()
        answer = SentAnswer(row.id, attempt, remote_id=result.remote_id, article_version=stored.version, now=now,
                            note=note or None, channel=row.channel,
                            channel_not_before=now + dt.timedelta(seconds=interval) if interval else None)
        outcome = Outcome(row.id, row.channel, "sent", result.remote_id)
        self.answers.sent(answer, outcome)
        return outcome

    async def _failed(self, row: DeliveryRow, attempt: int, message: RenderedMessage, exc: DeliveryError,
                      decision: Decision) -> Outcome:
        """What the policy decided the channel's error means, done."""
        now = self.clock()
        match decision.action:
            case "wait":
                until = now + dt.timedelta(seconds=decision.delay)
                self.outbox.finish_retry(row.id, attempt, outcome="rate_limited", error=str(exc),
                                         next_attempt_at=until, count_failure=False, now=now)
                self.outbox.extend_wait(row.channel, until=until, now=now)
                return Outcome(row.id, row.channel, "rate_limited", f"retry after {decision.delay:g}s")
            case "move" if isinstance(exc, ChatMigrated):
                self.outbox.update_channel(row.channel, chat_id=str(exc.new_chat_id), now=now)
                self._drop_channel(row.channel)
                self.outbox.finish_retry(row.id, attempt, outcome="transient", error=str(exc),
                                         next_attempt_at=now, count_failure=False, now=now)
                return Outcome(row.id, row.channel, "retry", decision.why)
            case "pause":
                self._pause(row.channel, f"{exc} (delivery {row.id})")
                self.outbox.finish_retry(row.id, attempt, outcome="permanent", error=str(exc),
                                         next_attempt_at=now, count_failure=False, now=now)
                return Outcome(row.id, row.channel, "paused", str(exc))
            case "retry" | "give_up":
                return self._transient(row, attempt, exc, decision)
            case "look_up":
                return await self._resolve(row, attempt, message, str(exc), duplicate=True)
            case "hold":
                return await self._resolve(row, attempt, message, str(exc))
            case _:  # "fail"
                self.outbox.finish_failed(row.id, attempt, outcome="permanent", error=decision.why, now=now)
                self._count_failure(row.channel, decision.why)
                return Outcome(row.id, row.channel, "failed", decision.why)

    def _transient(self, row: DeliveryRow, attempt: int, exc: DeliveryError, decision: Decision) -> Outcome:
        failures = decision.failures
        now = self.clock()
        if decision.action == "give_up":
            self.outbox.finish_failed(row.id, attempt, outcome="transient",
                                      error=f"{exc} (gave up after {failures} attempts)", now=now)
            self._count_failure(row.channel, str(exc))
            return Outcome(row.id, row.channel, "failed", f"gave up after {failures} attempts: {exc}")
        wait = decision.delay
        self.outbox.finish_retry(row.id, attempt, outcome="transient", error=str(exc),
                                 next_attempt_at=now + dt.timedelta(seconds=wait), count_failure=True, now=now)
        self._count_failure(row.channel, str(exc))
        return Outcome(row.id, row.channel, "retry", f"attempt {failures} failed, retry in {wait:.0f}s: {exc}")

    async def _resolve(self, row: DeliveryRow, attempt: int | None, message: RenderedMessage, why: str,
                       *, duplicate: bool = False, since: dt.datetime | None = None) -> Outcome:
        """An unknown outcome (or a post refused as a duplicate): look for the
        post where the channel can search its posts, else hold the delivery
        for an editor. A post found counts as this delivery's only if its text
        is what this delivery sent and no other delivery owns it. `attempt`
        None: a claim of a process that is gone (recovery)."""
        found: str | None = None
        taken: tuple[str, tuple[int, int]] | None = None
        # Our own claim, or the gone process's: the row is settled only if it still holds it.
        claimed_by = self.worker if attempt else row.claimed_by
        service = SERVICE_NAMES.get(row.kind, row.kind)
        searchable = self._channel(row.channel).as_searchable()
        if searchable is not None:
            if duplicate:  # the post it duplicates may be as old as the service's duplicate window
                since = self.clock() - DUPLICATE_WINDOW
            try:
                for post_id in await searchable.find_posts(message, since or row.claimed_at or self.clock()):
                    owner = self.outbox.owner_of(row.channel, post_id, besides=row.id)
                    if owner is None:
                        found = post_id
                        break
                    taken = taken or (post_id, owner)
            except DeliveryError as exc:
                why = f"{why}; looking for the post failed: {exc}"
            except Exception as exc:  # noqa: BLE001 - the search must not turn one unknown into a crash
                why = f"{why}; looking for the post failed: unexpected {surprise(exc)}"
        now = self.clock()
        if found:
            note = (f"{service} refused it as a duplicate; the post was found on the account" if duplicate
                    else f"outcome was unknown ({why}); the post was found on the account")
            self.outbox.resolve_unknown(row.id, claimed_by=claimed_by, status=DeliveryStatus.SENT, reason=note, remote_id=found,
                                        now=now)
            return Outcome(row.id, row.channel, "sent", f"{found} (found after: {why})")
        if taken:
            post_id, (owner_delivery, owner_article) = taken
            elsewhere = f"post {post_id}, already article {owner_article}'s (delivery {owner_delivery})"
            if duplicate:
                error = f"{service} refused it as a duplicate of {elsewhere}"
                self.outbox.finish_failed(row.id, attempt, outcome="permanent", error=error, now=now)
                return Outcome(row.id, row.channel, "failed", error)
            why = f"{why}; the account's post with this text is {elsewhere}"
        if duplicate:
            self.outbox.finish_failed(row.id, attempt, outcome="permanent",
                                      error=f"{why}; no matching post of ours was found", now=now)
            return Outcome(row.id, row.channel, "failed", why)
        self.outbox.resolve_unknown(row.id, claimed_by=claimed_by, status=DeliveryStatus.HELD, reason=held_reason(row.id, why),
                                    remote_id=None, now=now)
        return Outcome(row.id, row.channel, "held", why)

    # ------------------------------------------------------------ recovery

    async def recover(self) -> list[Outcome]:
        """Settle deliveries left in `sending` by a process that is gone."""
        out = []
        lease = dt.timedelta(seconds=self.settings.delivery.sending_lease_seconds)
        for delivery_id in self.outbox.sending():
            row = self.outbox.get(delivery_id)
            if row.claimed_by == self.worker:
                continue
            if not (claimer_gone(self.store, row.claimed_by, self.clock())
                    or (row.claimed_at and self.clock() - row.claimed_at > lease)):
                continue
            when = row.claimed_at.isoformat(timespec="seconds") if row.claimed_at else "an unknown time"
            why = f"the process {row.claimed_by} stopped while sending at {when}"
            try:
                attempts = self.outbox.attempts(row.id)
                message = message_from_payload(attempts[-1].payload if attempts else None)
                if message is None:
                    message = RenderedMessage(channel=row.kind, text="", length=0, limit=0)
                out.append(await self._resolve(row, None, message, why, since=row.claimed_at))
            except ConfigurationError:
                raise
            except Exception as exc:  # noqa: BLE001 - one stuck row must not stop every later drain
                why = f"{why}; settling it failed: unexpected {surprise(exc)}"
                self.outbox.resolve_unknown(row.id, claimed_by=row.claimed_by, status=DeliveryStatus.HELD,
                                            reason=held_reason(row.id, why), remote_id=None, now=self.clock())
                out.append(Outcome(row.id, row.channel, "held", why))
        return out

    # ------------------------------------------------------------ corrections

    async def correct(self) -> list[Outcome]:
        """Posts whose article changed since: edit the Telegram message where
        configured (in "required" mode once the new version is approved);
        leave the tweet alone and record the change."""
        out = []
        for row, stored in self.corrections.outdated_sent(kinds=SOCIAL_KINDS):
            cfg = social_config(self.settings, row.channel)
            now = self.clock()
            version = stored.version
            edit = edits_posts(cfg)
            if row.remote_id and correction_needs_approval(self.settings, row.channel, row.approved_version, version):
                if row.reason != correction_awaits(row.id, version):
                    self.corrections.awaiting(row.id, version=version, now=now)
                continue
            if not self.outbox.take_lease(row.id, worker=self.worker, now=now):
                continue  # another worker is correcting it
            if not edit or not row.remote_id:
                note = f"article changed (version {version}); the post was left as it is"
                self.corrections.mark_corrected(row.id, article_version=version, note=note, outcome="not_edited", now=now)
                out.append(Outcome(row.id, row.channel, "not_edited", note))
                continue
            try:
                message = render_sent(self.settings, self.store, stored, row.kind)
                editable = self._channel(row.channel).as_editable()
                if editable is None:
                    raise ConfigurationError(f"{row.channel} has edit_on_update, but the channel cannot edit posts")
                request = await editable.edit(row.remote_id, message)
            except ConfigurationError:
                raise
            except Exception as exc:  # noqa: BLE001 - one post must not stop the drain
                error = str(exc) if isinstance(exc, (DeliveryError, RenderError)) else f"unexpected {surprise(exc)}"
                note = f"article changed (version {version}); editing the post failed: {error}"
                self.corrections.mark_corrected(row.id, article_version=version, note=note, outcome="edit_failed",
                                           now=now, error=error)
                out.append(Outcome(row.id, row.channel, "edit_failed", error))
                continue
            note = f"edited to article version {version}"
            self.corrections.mark_corrected(row.id, article_version=version, note=note, outcome="edited", now=now,
                                       payload=attempt_payload(message, request))
            out.append(Outcome(row.id, row.channel, "edited", note))
        return out

    # ------------------------------------------------------------ channels

    def warm(self) -> list[str]:
        """Build every configured social channel's client now (its library
        imported, its HTTP client and TLS context made: ~0.3 s of CPU for
        Telegram), so that a worker is ready when it says it is, instead of
        spending that on its first send. The channels it built. One whose
        config is broken is left for its first delivery to report, as before."""
        built = []
        for name, _cfg in social_channels(self.settings):
            try:
                self._channel(name)
            except ConfigurationError as exc:
                log.warning("channel %s not built ahead: %s", name, exc)
                continue
            built.append(name)
        return built

    def _channel(self, name: str) -> Channel[Any]:
        if name not in self._channels:
            state = self.outbox.channel(name)
            self._channels[name] = self.channel_factory(self.settings, name, chat_id=state.chat_id)
        return self._channels[name]

    def _drop_channel(self, name: str) -> None:
        self._channels.pop(name, None)

    def _pause(self, channel: str, reason: str) -> None:
        self.outbox.update_channel(channel, paused=True, paused_reason=reason, now=self.clock())

    def _count_failure(self, channel: str, error: str) -> None:
        failures = self.outbox.add_failure(channel, now=self.clock())
        limit = self.settings.delivery.pause_after_failures
        if failures >= limit:
            self._pause(channel, f"{failures} failures in a row, the last: {error}")

    async def aclose(self) -> None:
        for channel in self._channels.values():
            await channel.aclose()
        self._channels.clear()


def pacing(cfg: SocialConfig) -> float:
    """The seconds between two posts on a channel: its minimum interval, or its editorial spacing."""
    return max(cfg.min_interval_seconds, 60.0 * cfg.spacing_minutes)
