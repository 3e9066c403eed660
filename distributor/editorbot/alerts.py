"""Alerts to the editors' group, once per event, not once per look.

An event is a condition read from the database that needs an editor: a
channel paused (with its reason and the /resume hint), a delivery held (its
outcome unknown, or held by the dispatcher for a surprise; one an editor held
is no event), a delivery failed, a digest issue held or failed, a source
whose polls have failed for longer than [desk.telegram]
alert_source_failing_minutes. Each has a key ("paused:de.telegram",
"failed:12", …); the alerts still going on are rows in the database
(store/editorbot.py), claimed before the alert is sent, so an event is
alerted once whatever the number of looks, bot processes or restarts. When
the condition is over its row goes, and the next episode is alerted anew.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

import telegram
from telegram import error as tg_error

from distributor.editorbot.context import BotContext
from distributor.editorbot.texts import esc, short, when
from distributor.store.outbox import DeliveryStatus
from distributor.store.states import IssueStatus

log = logging.getLogger("distributor.editorbot")

__all__ = ["Event", "events", "send_alerts", "MAX_ALERTS_PER_LOOK"]

S = DeliveryStatus
MAX_ALERTS_PER_LOOK = 10
EDITOR_HELD = "held by an editor"  # actions.deliveries MOVES["hold"].reason


@dataclass(frozen=True)
class Event:
    key: str
    fingerprint: str  # another value under the same key: another episode
    text: str  # Telegram HTML


def events(ctx: BotContext, now: dt.datetime) -> list[Event]:
    """Every event going on now, read from the database."""
    from distributor.store.issues import Issues

    e = esc
    store = ctx.store
    out: list[Event] = []
    for c in store.outbox.channels():
        if c.paused:
            out.append(Event(f"paused:{c.channel}", "paused",
                             f"⏸ <b>{e(c.channel)} is paused</b>: {e(short(c.paused_reason or 'no reason recorded', 600))}"
                             f"\nOnce its problem is fixed: /resume {e(c.channel)}"))
    titles: dict[int, str] = {}

    def title(article_id: int) -> str:
        if article_id not in titles:
            try:
                titles[article_id] = short(store.get_article(article_id).article.label, 80)
            except Exception:  # noqa: BLE001 - an alert must not fail on one row
                titles[article_id] = "?"
        return titles[article_id]

    kind_of = {"telegram", "twitter"}
    for d in store.deliveries(status=S.HELD):
        if (d.reason or "").startswith(EDITOR_HELD):
            continue
        hint = (f"\nIf it is on the channel: /skip {d.article_id} {d.kind}; if not: /release {d.article_id} {d.kind}"
                if d.kind in kind_of else "")
        out.append(Event(f"held:{d.id}", "held",
                         f"✋ <b>Delivery #{d.id} held</b> ({e(d.channel)}, article {d.article_id} "
                         f"“{e(title(d.article_id))}”): {e(short(d.reason or '', 600))}{hint}"))
    for d in store.deliveries(status=S.FAILED):
        hint = f"\nTo try again: /send {d.article_id} {d.kind}" if d.kind in kind_of else ""
        out.append(Event(f"failed:{d.id}", "failed",
                         f"❌ <b>Delivery #{d.id} failed</b> ({e(d.channel)}, article {d.article_id} "
                         f"“{e(title(d.article_id))}”) after {d.attempts} attempt(s): "
                         f"{e(short(d.last_error or d.reason or '', 600))}{hint}"))
    for issue in Issues(store.engine).unfinished(statuses=(IssueStatus.HELD, IssueStatus.FAILED)):
        how = "`distributor digest --release {}`".format(issue.id) if issue.status == IssueStatus.HELD \
            else "`distributor digest --send --edition {}`".format(issue.edition)
        out.append(Event(f"issue:{issue.id}:{issue.status}", issue.status,
                         f"📰 <b>Digest issue #{issue.id} ({e(issue.edition)}) is {issue.status}</b>: "
                         f"{e(short(issue.reason or 'no reason recorded', 600))}\n{e(how)}"))
    limit = dt.timedelta(minutes=ctx.config.alert_source_failing_minutes)
    configured = {s.name for s in ctx.settings.sources}
    for poll in store.last_polls():
        since = poll.failing_since
        if poll.ok or since is None or poll.source not in configured or now - since < limit:
            continue
        minutes = int((now - since).total_seconds() // 60)
        out.append(Event(f"source:{poll.source}", since.isoformat(),
                         f"📡 <b>Source {e(poll.source)} has been failing for {minutes} min</b> (since "
                         f"{when(since)}): {e(short(poll.error or 'unknown error', 600))}"))
    return out


async def send_alerts(ctx: BotContext, bot: telegram.Bot) -> int:
    """Alert each new event, forget those that are over; the number sent."""
    records = ctx.records
    now = ctx.clock()
    current = await asyncio.to_thread(events, ctx, now)
    alerted = await asyncio.to_thread(records.alerted)
    keys = {ev.key for ev in current}
    await asyncio.to_thread(records.forget_alerts, [k for k in alerted if k not in keys])
    sent = 0
    for ev in current:
        if alerted.get(ev.key) == ev.fingerprint:
            continue
        if sent >= MAX_ALERTS_PER_LOOK:
            break  # the rest at the next look
        if not await asyncio.to_thread(records.claim_alert, ev.key, ev.fingerprint, now=now):
            continue  # another bot process alerted it
        try:
            msg = await bot.send_message(ctx.chat, ev.text, parse_mode="HTML",
                                         link_preview_options=telegram.LinkPreviewOptions(is_disabled=True))
        except tg_error.TelegramError as exc:
            await asyncio.to_thread(records.forget_alerts, [ev.key])  # alerted at the next look
            log.warning("editors' bot: alert %s not sent: %s", ev.key, exc)
            if isinstance(exc, tg_error.RetryAfter):
                break
            continue
        await asyncio.to_thread(records.alert_sent, ev.key, msg.message_id)
        sent += 1
    return sent
