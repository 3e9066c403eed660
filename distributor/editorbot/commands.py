"""The editors' commands in the chat. Thin, as every edge: each parses its
arguments, calls the editor action (distributor/actions/) with the actor
"telegram:<user id>" or reads what `distributor status` reads, and says in
one reply what happened. Bad arguments get the command's usage line; a
refused action its refusal (the action recorded it in the audit).

    /latest                              the newest articles with their states
    /preview ID [telegram|twitter|newsletter]   the variant as it will look (the email as a file)
    /send ID CHANNEL                     send now (telegram or twitter)
    /skip ID CHANNEL [reason]            /hold ID CHANNEL    /release ID CHANNEL
    /resume CHANNEL                      a paused channel (e.g. de.telegram)
    /status                              what `distributor status` says, shortened
    /digest [EDITION]                    the next issue, and a test copy to your own address

ID is an article's id (/latest lists them); CHANNEL a kind of its edition's
channels (telegram, twitter, newsletter) or a channel's full name
(de.telegram). Only the editors of [desk.telegram] may use them (bot.py
refuses anyone else before a command runs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from distributor.actions import deliveries as actions
from distributor.editorbot.context import BotContext, actor_of
from distributor.editorbot.texts import KIND_NAMES, USAGE, esc, short, when
from distributor.errors import DistributorError
from distributor.store.outbox import DeliveryRow

__all__ = ["COMMANDS", "Reply", "Usage", "run_command"]

LATEST = 10
STATUS_LINES = 12


class Usage(DistributorError):
    """The arguments do not fit the command: its usage line is the reply."""


@dataclass
class Reply:
    """What a command answers: HTML text, and files to send after it."""

    text: str
    messages: list[tuple[str, str | None]] = field(default_factory=list)  # (text, parse_mode) sent after it
    documents: list[tuple[str, bytes, str]] = field(default_factory=list)  # (file name, content, caption)


Handler = Callable[[BotContext, int, list[str]], Awaitable[Reply]]


def _id(args: list[str], command: str) -> int:
    if not args or not args[0].isdigit() or len(args[0]) > 12:
        raise Usage(USAGE[command])
    return int(args[0])


def _kind(ctx: BotContext, article_id: int, raw: str, command: str, kinds: tuple[str, ...]) -> tuple[str, str]:
    """(edition, kind) of CHANNEL for the article."""
    stored = ctx.store.get_article(article_id)
    edition = stored.article.language
    wanted_edition, _, kind = raw.lower().rpartition(".")
    if kind not in kinds:
        raise Usage(f"{USAGE[command]}\nCHANNEL is one of {', '.join(kinds)}, not {raw!r}")
    if wanted_edition and wanted_edition != edition:
        raise DistributorError(f"article {article_id} is in the {edition} edition, not {wanted_edition}")
    return edition, kind


def _delivery(ctx: BotContext, article_id: int, edition: str, kind: str) -> DeliveryRow:
    found = [d for d in ctx.store.deliveries(article_id=article_id) if d.channel == f"{edition}.{kind}"]
    if not found:
        raise DistributorError(f"article {article_id} has no delivery on {edition}.{kind}")
    return found[-1]


def _line(d: DeliveryRow) -> str:
    return esc(f"#{d.id} {d.channel}: {d.status.replace('_', ' ')}"
                       + (f" ({short(d.reason, 160)})" if d.reason else ""))


# ------------------------------------------------------------------ the commands


async def latest(ctx: BotContext, user_id: int, args: list[str]) -> Reply:
    def read() -> list[str]:
        lines = []
        for article_id in ctx.records.newest_article_ids(LATEST):
            stored = ctx.store.get_article(article_id)
            states = "; ".join(f"{d.kind} {d.status.replace('_', ' ')}"
                               for d in ctx.store.deliveries(article_id=article_id) if d.kind in KIND_NAMES)
            lines.append(f"<b>{stored.id}</b> [{stored.article.language}] "
                         f"{esc(short(stored.article.label, 70))} (v{stored.version})"
                         f"\n    {esc(states or 'no delivery')}")
        return lines

    lines = await asyncio.to_thread(read)
    return Reply("\n".join(lines) if lines else "No article stored yet.")


async def preview(ctx: BotContext, user_id: int, args: list[str]) -> Reply:
    """Each variant as it goes out: an editor's edit in place of the
    template's text (distributor/edits.py), named as such."""
    from distributor.edits import current_edit, render_sent

    article_id = _id(args, "preview")
    if len(args) > 2:
        raise Usage(USAGE["preview"])
    stored = await asyncio.to_thread(ctx.store.get_article, article_id)
    edition = ctx.settings.editions.get(stored.article.language)
    if len(args) == 2:
        _, kind = _kind(ctx, article_id, args[1], "preview", tuple(KIND_NAMES))
        kinds = [kind]
    else:
        kinds = [k for k in KIND_NAMES if edition is not None and getattr(edition.channels, k) is not None]
    reply = Reply(f"Preview of article {article_id} “{esc(short(stored.article.label, 80))}”: "
                  + ", ".join(KIND_NAMES[k] for k in kinds))
    for kind in kinds:
        msg = await asyncio.to_thread(render_sent, ctx.settings, ctx.store, stored, kind)
        edit = await asyncio.to_thread(current_edit, ctx.store, stored, kind)
        notes = (f"\n✏ edited by {edit.actor}" if edit is not None else "") + "".join(f"\n⚠ {w}" for w in msg.warnings)
        if kind == "telegram":
            photo = f"\n(with the photo {msg.photo})" if msg.photo else ""
            reply.messages.append((f"Telegram, {msg.length}/{msg.limit}:{photo}{notes}", None))
            reply.messages.append((msg.text, "HTML"))
        elif kind == "twitter":
            parts = msg.parts or (msg.text,)
            reply.messages.append((f"X, {len(parts)} post(s), {msg.length}/{msg.limit}:{notes}", None))
            reply.messages += [(p, None) for p in parts]
        else:
            name = f"article-{article_id}-{stored.article.language}.html"
            edited = f" (the entry's text edited by {edit.actor})" if edit is not None else ""
            reply.documents.append((name, (msg.html or "").encode(),
                                    f"Newsletter: {short(msg.subject or '', 800)}{edited}"))
    return reply


async def send(ctx: BotContext, user_id: int, args: list[str]) -> Reply:
    if len(args) != 2:
        raise Usage(USAGE["send"])
    article_id = _id(args, "send")
    _, kind = await asyncio.to_thread(_kind, ctx, article_id, args[1], "send", ("telegram", "twitter"))
    async with ctx.sending() as app:
        r = await actions.send_now(app, article_id, kind, actor=actor_of(user_id))
    return Reply(esc(f"#{r.delivery_id} {r.channel}: {r.outcome} {r.detail}".strip()))


def _mover(command: str) -> Handler:
    async def move(ctx: BotContext, user_id: int, args: list[str]) -> Reply:
        if len(args) < 2 or (command != "skip" and len(args) != 2):
            raise Usage(USAGE[command])
        article_id = _id(args, command)
        reason = " ".join(args[2:])[:500] or None

        def act() -> DeliveryRow:
            edition, kind = _kind(ctx, article_id, args[1], command, tuple(KIND_NAMES))
            d = _delivery(ctx, article_id, edition, kind)
            app, actor = ctx.app(), actor_of(user_id)
            if command == "skip":
                actions.skip(app, d.id, actor=actor, reason=reason)
            elif command == "hold":
                actions.hold(app, d.id, actor=actor)
            else:
                actions.release(app, d.id, actor=actor)
            return ctx.store.outbox.get(d.id)

        return Reply(_line(await asyncio.to_thread(act)))

    move.__name__ = command
    return move


async def resume(ctx: BotContext, user_id: int, args: list[str]) -> Reply:
    if len(args) != 1 or "." not in args[0]:
        raise Usage(USAGE["resume"])
    r = await asyncio.to_thread(lambda: actions.resume(ctx.app(), args[0], actor=actor_of(user_id)))
    return Reply(esc(f"{r.channel}: resumed ({r.detail})"))


async def status(ctx: BotContext, user_id: int, args: list[str]) -> Reply:
    from distributor.health import collect

    data = await asyncio.to_thread(collect, ctx.settings, ctx.store, ctx.clock())
    dels = data["deliveries"]
    problems = data["problems"]
    lines = [f"<b>Needs an editor ({len(problems)})</b>" if problems else "<b>Healthy</b>"]
    lines.append(esc(f"deliveries: {dels['total']}" + (
        " (" + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in dels["by_state"].items()) + ")"
        if dels["total"] else "")))
    lines += [esc(f"• {short(p, 200)}") for p in problems[:STATUS_LINES]]
    if len(problems) > STATUS_LINES:
        lines.append(f"… and {len(problems) - STATUS_LINES} more (`distributor status`)")
    lines += [esc(f"note: {short(n, 200)}") for n in data["notes"][:4]]
    for e in data["editions"]:
        if e["newsletter"]:
            lines.append(esc(f"digest {e['edition']}: next {when(dt.datetime.fromisoformat(e['next_digest']))}"))
    return Reply("\n".join(lines))


async def digest(ctx: BotContext, user_id: int, args: list[str]) -> Reply:
    from distributor.actions import digest as digest_actions
    from distributor.newsletter.digest import next_slot, waiting
    from distributor.store.subscribers import Subscribers

    if len(args) > 1:
        raise Usage(USAGE["digest"])
    editions = digest_actions.newsletter_editions(ctx.settings, args[0].lower() if args else None)
    address = ctx.email_of(user_id)
    lines = []
    for ed in editions:
        now = ctx.clock()
        count = len(await asyncio.to_thread(waiting, ctx.settings, ctx.store, ed, now))
        active = (await asyncio.to_thread(Subscribers(ctx.store.engine).counts, ed)).get("active", 0)
        line = (f"<b>{ed}</b>: next issue {when(next_slot(ctx.settings, ed, now))}: {count} article(s), "
                f"{active} recipient(s)")
        if address and count:
            try:
                copy = await digest_actions.send_test(ctx.app(), ed, address, actor=actor_of(user_id))
                line += esc(f"; a test copy went to {copy.address}")
            except DistributorError as exc:
                line += esc(f"; no test copy: {exc}")
        lines.append(line)
    if not address:
        lines.append("No address of yours in [desk.telegram] editor_emails: no test copy sent.")
    return Reply("\n".join(lines))


COMMANDS: dict[str, Handler] = {
    "latest": latest, "preview": preview, "send": send, "skip": _mover("skip"), "hold": _mover("hold"),
    "release": _mover("release"), "resume": resume, "status": status, "digest": digest,
}


async def run_command(ctx: BotContext, name: str, user_id: int, args: list[str]) -> Reply:
    """An editor's command: its reply; a refusal or bad arguments as the reply."""
    from distributor.actions.common import REFUSALS

    try:
        return await COMMANDS[name](ctx, user_id, args)
    except Usage as exc:
        return Reply(esc(str(exc)))
    except REFUSALS as exc:
        return Reply(esc(f"Refused: {exc}"))
