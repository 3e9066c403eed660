"""Approval in the editors' chat: each article awaiting approval (a channel
in `approval = "required"` mode) is posted to the editors' group once, with
its variants and the buttons Approve all, Approve <channel> and Skip; a press
is one editor action (actions/deliveries.py) with the actor
"telegram:<user id>"; and the message is edited to show who decided and
when, whoever decided it and wherever (the chat, the desk, the CLI).

Everything is driven from the database, never from this process's memory:
the message of each article is recorded (store/editorbot.py) before and
after it is posted, so a restart neither posts it again nor forgets it; the
message is brought up to date when the article, one of its deliveries or an
edit of its variants changed since it was last shown (`refresh`), which is how a decision taken
on the desk in another process reaches the chat. Two presses at once act
once: in one process they are decided one after the other (per article);
across processes the actions' transitions are conditional in the database
(a second approval finds it approved, "already_approved"; the Skip button
skips only what still awaits approval), so the second press changes nothing
and says so.

The message shows each variant as it goes out (an editor's edit in place of
the template's text, distributor/edits.py), and its buttons carry the
article's version and the edits shown (texts.py): a press on a message whose
article or text changed since decides nothing, says why, and the message is
brought up to date; the approval itself checks the edits again
(`seen_edits`) where it is written, so a press never approves a text it did
not show.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace

import telegram
from telegram import error as tg_error

from distributor.actions import deliveries as actions
from distributor.actions.common import REFUSALS
from distributor.editorbot.context import BotContext, actor_of
from distributor.editorbot.texts import (
    KIND_NAMES,
    MAX_ANSWER,
    REFUSAL,
    ArticleView,
    Button,
    Callback,
    ChannelView,
    approval_buttons,
    approval_text,
    parse_callback,
    short,
    shown_hash,
    when,
)
from distributor.errors import ConfigurationError, DistributorError
from distributor.store import StoredArticle
from distributor.store.approval import ALREADY
from distributor.store.audit import REFUSED, STARTED, Audit, AuditEntry, AuditNote
from distributor.store.outbox import DeliveryRow, DeliveryStatus, InvalidTransition

log = logging.getLogger("distributor.editorbot")

__all__ = ["view_of", "post_new", "refresh", "on_press", "decide", "markup", "MAX_POSTS_PER_LOOK"]

S = DeliveryStatus
# New approval messages per look: a backlog reaches the group a few at a time,
# below Telegram's ~20 messages a minute into one group.
MAX_POSTS_PER_LOOK = 5
# What the message names as a channel's decision: the editor's last action on it.
DECISIONS = {"approve": "approved", "skip": "skipped", "send": "sent by hand", "resend": "sent again by hand",
             "hold": "held", "release": "released"}
NOT_DECISIONS = (REFUSED, STARTED, ALREADY, "error")


# ------------------------------------------------------------------ the view


def view_of(ctx: BotContext, article_id: int) -> ArticleView:
    """The article as its approval message shows it, read from the database:
    each variant as it goes out (an editor's edit in place of the
    template's: distributor/edits.py), and the edit ids its buttons carry."""
    from distributor.edits import render_sent
    from distributor.store.edits import Edits

    app = ctx.app()
    stored = ctx.store.get_article(article_id)
    # The edits before the texts: an edit saved in between makes the buttons name
    # the older edit, which the approval refuses (never a newer text approved unseen).
    edits = Edits(ctx.store.engine).of_article(stored.id)
    latest: dict[str, DeliveryRow] = {}
    for d in ctx.store.deliveries(article_id=article_id):
        if d.kind in KIND_NAMES and _configured(ctx, d.channel):
            latest[d.channel] = d  # ordered by id: the newest delivery of each channel wins
    history = Audit(ctx.store.engine).history(article_id=article_id)
    channels = []
    for channel, d in latest.items():
        awaiting = actions.awaits_approval(app, d, stored.version)
        variant = ""
        if awaiting and d.kind != "newsletter":
            try:
                variant = _plain(render_sent(ctx.settings, ctx.store, stored, d.kind))
            except DistributorError as exc:
                variant = f"(cannot render it: {exc})"
        decision = _decision(history, d.id)
        edit = edits.get(d.kind)
        current = edit is not None and edit.current(stored.version)
        channels.append(ChannelView(channel, d.kind, d.status, awaiting, variant,
                                    decided_by=decision.actor if decision else "",
                                    decided=DECISIONS.get(decision.action, decision.action) if decision else "",
                                    decided_at=decision.at if decision else None,
                                    edit_id=edit.id if edit is not None else 0,
                                    edited_by=edit.actor if edit is not None and current else "",
                                    stale_edit_by=edit.actor if edit is not None and not current else ""))
    a = stored.article
    return ArticleView(stored.id, stored.version, a.label, a.url or "", a.language, tuple(channels))


def _configured(ctx: BotContext, channel: str) -> bool:
    from distributor.channels import channel_config

    try:
        channel_config(ctx.settings, channel)
    except ConfigurationError:
        return False
    return True


def _plain(message: object) -> str:
    from distributor.render.telegram_html import EntityParseError, parse_html

    parts = getattr(message, "parts", ()) or (getattr(message, "text", ""),)
    if getattr(message, "channel", "") == "telegram":
        try:
            return parse_html(parts[0]).text
        except EntityParseError:
            return parts[0]
    return "\n\n".join(parts)


def _decision(history: Sequence[AuditEntry], delivery_id: int) -> AuditEntry | None:
    for e in history:  # newest first
        if e.delivery_id == delivery_id and e.action in DECISIONS and e.outcome not in NOT_DECISIONS:
            return e
    return None


def markup(buttons: Sequence[Sequence[Button]]) -> telegram.InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in buttons])


# ------------------------------------------------------------------ posting and refreshing


async def post_new(ctx: BotContext, bot: telegram.Bot) -> int:
    """Post the approval message of each article awaiting approval that has
    none yet (a few per look); the number posted."""
    records, chat = ctx.records, ctx.chat_key
    now = ctx.clock()
    todo = await asyncio.to_thread(records.unposted_awaiting, chat)
    posted = 0
    for article_id in todo[:MAX_POSTS_PER_LOOK]:
        if not await asyncio.to_thread(records.claim_message, article_id, chat, now=now):
            continue  # another bot process is posting it, or did
        try:
            view = await asyncio.to_thread(view_of, ctx, article_id)
            text, buttons = approval_text(view), approval_buttons(view)
            sent = await bot.send_message(ctx.chat, text, parse_mode="HTML", reply_markup=markup(buttons),
                                          link_preview_options=telegram.LinkPreviewOptions(is_disabled=True))
        except (tg_error.TelegramError, DistributorError) as exc:
            await asyncio.to_thread(records.unclaim_message, article_id, chat)
            log.warning("editors' bot: the approval message of article %s was not posted: %s", article_id, exc)
            if isinstance(exc, tg_error.RetryAfter):
                break
            continue
        await asyncio.to_thread(records.posted, article_id, chat, sent.message_id, shown_hash(text, buttons),
                                now=now)
        posted += 1
    return posted


async def refresh(ctx: BotContext, bot: telegram.Bot, article_ids: Iterable[int] | None = None) -> int:
    """Edit each approval message whose article changed since it was shown
    (or those of `article_ids`); the number edited."""
    records, chat = ctx.records, ctx.chat_key
    now = ctx.clock()  # before reading: a change made while we read is seen at the next look
    if article_ids is None:
        messages = await asyncio.to_thread(records.stale, chat)
    else:
        messages = await asyncio.to_thread(records.messages, chat, list(article_ids))
    edited = 0
    for m in messages:
        if m.message_id is None:
            continue
        try:
            view = await asyncio.to_thread(view_of, ctx, m.article_id)
        except DistributorError as exc:  # the article is gone
            log.info("editors' bot: article %s of message %s: %s", m.article_id, m.message_id, exc)
            await asyncio.to_thread(records.reshow, m.article_id, chat, was=m.shown, shown="gone", now=now)
            continue
        text, buttons = approval_text(view), approval_buttons(view)
        shown = shown_hash(text, buttons)
        if not await asyncio.to_thread(records.reshow, m.article_id, chat, was=m.shown, shown=shown, now=now):
            continue  # another process brought it up to date meanwhile
        if shown == m.shown:
            continue
        try:
            await bot.edit_message_text(text, chat_id=ctx.chat, message_id=m.message_id, parse_mode="HTML",
                                        reply_markup=markup(buttons),
                                        link_preview_options=telegram.LinkPreviewOptions(is_disabled=True))
            edited += 1
        except tg_error.BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.warning("editors' bot: message %s (article %s) not edited: %s", m.message_id, m.article_id,
                            exc.message)
        except tg_error.TelegramError as exc:  # try again at the next look
            await asyncio.to_thread(records.reshow, m.article_id, chat, was=shown, shown=m.shown or "",
                                    now=m.updated_at)
            log.warning("editors' bot: message %s (article %s) not edited yet: %s", m.message_id, m.article_id, exc)
    return edited


# ------------------------------------------------------------------ a press


async def on_press(ctx: BotContext, bot: telegram.Bot, query: telegram.CallbackQuery) -> None:
    """A button pressed: the decision (for an editor), the answer (always),
    the message brought up to date."""
    user_id = query.from_user.id
    cb = parse_callback(query.data)
    if not ctx.is_editor(user_id):
        await asyncio.to_thread(ctx.refuse, user_id, "approve" if cb is None or cb.action == "ap" else "skip",
                                "not one of the editors of [desk.telegram]",
                                article_id=cb.article_id if cb else None)
        await _answer(query, REFUSAL)
        return
    if cb is None:
        await _answer(query, "This button is not one the bot knows.")
        return
    try:
        async with ctx.deciding.setdefault(cb.article_id, asyncio.Lock()):
            answer = await asyncio.to_thread(decide, ctx, cb, actor_of(user_id))
    except REFUSALS as exc:
        answer = str(exc)
    await _answer(query, answer)
    await refresh(ctx, bot, [cb.article_id])


async def _answer(query: telegram.CallbackQuery, text: str) -> None:
    try:
        await query.answer(short(text, MAX_ANSWER))
    except tg_error.TelegramError as exc:  # too late (the query expired): the edited message still tells
        log.warning("editors' bot: callback answer failed: %s", exc)


def decide(ctx: BotContext, cb: Callback, actor: str) -> str:
    """The decision a button stands for, by `actor`; what to answer. Refused
    (recorded, nothing decided) when the article or a variant's text changed
    since the message showed it."""
    app = ctx.app()
    note = AuditNote(actor, "approve" if cb.action == "ap" else "skip", outcome=REFUSED, article_id=cb.article_id)
    try:
        stored = ctx.store.get_article(cb.article_id)
        why = _changed_since_shown(ctx, stored, cb)
    except DistributorError as exc:  # the article is gone
        why = str(exc)
    if why:
        Audit(ctx.store.engine).record(replace(note, detail=why), at=ctx.clock())
        return why
    if cb.action == "ap":
        # seen_edits again: an edit saved after the look above is refused where the approval is written.
        done = actions.approve_article(app, cb.article_id, actor=actor, seen_version=cb.version,
                                       seen_edits=cb.seen_edits, channels=None if cb.kind == "all" else [cb.kind])
        fresh = [r for r in done.results if not r.already]
        if fresh:
            text = "Approved: " + ", ".join(sorted(r.channel for r in fresh))
        else:
            first = done.results[0] if done.results else None
            by = f" by {first.approved_by}" if first and first.approved_by else ""
            at = f" at {when(first.approved_at)}" if first and first.approved_at else ""
            text = f"Already approved{by}{at}: nothing more done"
        if done.refused:
            text += "; taken first by another decision: " + ", ".join(f"#{i}" for i, _ in done.refused)
        return text
    skipped = []
    for d in ctx.store.deliveries(article_id=cb.article_id):
        if d.status == S.AWAITING_APPROVAL and (cb.kind == "all" or d.kind == cb.kind):
            try:
                actions.skip(app, d.id, actor=actor, reason="in the editors' chat", only_from=(S.AWAITING_APPROVAL,))
                skipped.append(d.channel)
            except InvalidTransition:
                pass  # a racing decision took it first (recorded as refused by the action)
    if skipped:
        return "Skipped: " + ", ".join(sorted(skipped))
    why = "nothing awaits approval any more: already decided"
    Audit(ctx.store.engine).record(replace(note, detail=why), at=ctx.clock())
    return why[0].upper() + why[1:]


def _changed_since_shown(ctx: BotContext, stored: StoredArticle, cb: Callback) -> str:
    """Why the press is on a message out of date ("" if it is not): the
    article's version, or an edit of a variant it acts on saved or removed
    since."""
    from distributor.store.edits import Edits

    if stored.version != cb.version:
        return (f"article {cb.article_id} changed since it was shown (version {cb.version} then, {stored.version} "
                "now): look at it again")
    edits = Edits(ctx.store.engine).of_article(stored.id)
    for kind, seen in cb.edits:
        edit = edits.get(kind)
        if (edit.id if edit is not None else 0) != seen:
            change = f"text was edited by {edit.actor}" if edit is not None else "text's edit was removed"
            return f"the {KIND_NAMES[kind]} {change} since this message showed it: nothing done; look at it again"
    return ""
