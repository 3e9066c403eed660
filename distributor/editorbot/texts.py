"""What the editors' bot writes, as pure functions: plain data in, Telegram
HTML (and inline keyboards as plain rows) out.

The approval message of an article (its variants, each channel's state and
who decided it, the buttons while anything awaits approval), the callback
data of those buttons, the alerts, and the usage lines of the commands.

A button's data names what the message showed: the article's version and,
per channel kind the button acts on, the id of the editor's edit of that
variant (0: none; store/edits.py), so that a press on a message showing one
text never approves another (approvals.py refuses it; the message is then
brought up to date):

    ap:<article>:<version>:all:<telegram edit>.<twitter edit>.<newsletter edit>
    ap:<article>:<version>:<kind>:<its edit>
    sk:<article>:<version>:all:<telegram edit>.<twitter edit>.<newsletter edit>

With every id at its largest (2**31 - 1) the longest is 61 bytes.

Limits are Telegram's: a message is at most 4096 characters, a button's
data 64 bytes, a callback answer 200 characters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ChannelView", "ArticleView", "Button", "approval_text", "approval_buttons", "shown_hash",
           "callback_data", "parse_callback", "Callback", "USAGE", "HELP", "REFUSAL", "short", "when",
           "MAX_ANSWER", "KIND_NAMES", "esc"]

MAX_MESSAGE = 4096
MAX_ANSWER = 200  # answerCallbackQuery's text
VARIANT_CHARS = 700  # of each variant, in the approval message
def esc(text: str) -> str:
    """Text made safe for Telegram's HTML (quotes stay as they are)."""
    return html.escape(text, quote=False)


KIND_NAMES = {"telegram": "Telegram", "twitter": "X", "newsletter": "Newsletter"}

REFUSAL = "Sorry: only the editors of this outlet can use this bot."

# Each command's usage line: the reply to bad arguments.
USAGE = {
    "latest": "/latest — the newest articles with their states",
    "preview": "/preview ID [telegram|twitter|newsletter] — the variant as it will look (the email as a file)",
    "send": "/send ID CHANNEL — send article ID to its edition's CHANNEL (telegram or twitter) now",
    "skip": "/skip ID CHANNEL [reason] — skip article ID on CHANNEL",
    "hold": "/hold ID CHANNEL — hold article ID on CHANNEL until released",
    "release": "/release ID CHANNEL — release article ID held on CHANNEL",
    "resume": "/resume CHANNEL — resume a paused channel (e.g. de.telegram)",
    "status": "/status — the health of the system, shortened",
    "digest": "/digest [EDITION] — the next digest issue; a test copy to your own address",
}
HELP = "Commands:\n" + "\n".join(USAGE.values())


def when(t: dt.datetime | None) -> str:
    return "-" if t is None else t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def short(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class ChannelView:
    """One channel of an article as the approval message shows it."""

    channel: str  # "de.telegram"
    kind: str
    status: str
    awaiting: bool  # an Approve button applies
    variant: str = ""  # the rendered text, plain ("" for the newsletter)
    decided_by: str = ""  # who decided last, and what
    decided: str = ""
    decided_at: dt.datetime | None = None
    edit_id: int = 0  # the stored edit of this variant (0: none), current or not
    edited_by: str = ""  # who wrote the text shown, when it is an editor's (a current edit)
    stale_edit_by: str = ""  # who wrote an edit out of date (not sent: the template's text is)


@dataclass(frozen=True)
class ArticleView:
    article_id: int
    version: int
    title: str
    url: str
    language: str
    channels: tuple[ChannelView, ...]

    @property
    def awaiting(self) -> tuple[ChannelView, ...]:
        return tuple(c for c in self.channels if c.awaiting)


@dataclass(frozen=True)
class Button:
    text: str
    data: str


def approval_text(view: ArticleView) -> str:
    """The approval message: title, link, then each channel's state and variant."""
    e = esc
    head = f"<b>{'To approve' if view.awaiting else 'Decided'}</b> · article {view.article_id} " \
           f"({view.language}), version {view.version}\n<b>{e(short(view.title, 200))}</b>"
    if view.url:
        head += f"\n{e(view.url)}"
    parts = [head]
    budget = max(200, (MAX_MESSAGE - 600) // max(1, len(view.channels)))
    for c in view.channels:
        line = f"<b>{KIND_NAMES.get(c.kind, c.kind)}</b> ({e(c.channel)}): {e(c.status.replace('_', ' '))}"
        if c.decided_by:
            line += f" — {e(c.decided)} by {e(c.decided_by)} at {when(c.decided_at)}"
        if c.edited_by:
            line += f"\n✏ edited by {e(c.edited_by)}"
        elif c.stale_edit_by:
            line += f"\n✏ the edit by {e(c.stale_edit_by)} is out of date: the template's text goes out"
        if c.variant:
            line += f"\n<blockquote expandable>{e(short(c.variant, min(VARIANT_CHARS, budget)))}</blockquote>"
        parts.append(line)
    text = "\n\n".join(parts)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 40] + "…"  # pragma: no cover - budgeted


def approval_buttons(view: ArticleView) -> list[list[Button]]:
    """Approve all, approve per channel, skip: while anything awaits approval."""
    waiting = view.awaiting
    if not waiting:
        return []
    a, v = view.article_id, view.version
    edits = {c.kind: c.edit_id for c in view.channels}
    rows = [[Button("✅ Approve all", callback_data("ap", a, v, "all", edits))]]
    if len(waiting) > 1:
        rows.append([Button(f"Approve {KIND_NAMES.get(c.kind, c.kind)}",
                            callback_data("ap", a, v, c.kind, edits)) for c in waiting])
    rows.append([Button("⏭ Skip", callback_data("sk", a, v, "all", edits))])
    return rows


def shown_hash(text: str, buttons: Sequence[Sequence[Button]]) -> str:
    flat = "|".join(f"{b.text}={b.data}" for row in buttons for b in row)
    return hashlib.sha256(f"{text}\n{flat}".encode()).hexdigest()


@dataclass(frozen=True)
class Callback:
    action: str  # "ap" (approve) or "sk" (skip)
    article_id: int
    version: int
    kind: str  # a channel kind, or "all"
    edits: tuple[tuple[str, int], ...] = ()  # (kind, edit id shown; 0: none) of each kind it acts on

    @property
    def seen_edits(self) -> dict[str, int]:
        return dict(self.edits)


def _kinds(kind: str) -> tuple[str, ...]:
    return tuple(KIND_NAMES) if kind == "all" else (kind,)


def callback_data(action: str, article_id: int, version: int, kind: str, edits: dict[str, int]) -> str:
    """A button's data: the article, its version and the edits (per kind,
    0: none) the message shows of the kinds the button acts on."""
    ids = ".".join(str(edits.get(k, 0)) for k in _kinds(kind))
    data = f"{action}:{article_id}:{version}:{kind}:{ids}"
    assert len(data.encode()) <= 64, data  # Telegram's limit: at most 61 bytes with 32-bit ids
    return data


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # not "²", which int() refuses


def parse_callback(data: str | None) -> Callback | None:
    bits = (data or "").split(":")
    if len(bits) != 5 or bits[0] not in ("ap", "sk") or not _number(bits[1]) or not _number(bits[2]):
        return None
    if bits[3] not in ("all", *KIND_NAMES):
        return None
    ids, kinds = bits[4].split("."), _kinds(bits[3])
    if len(ids) != len(kinds) or not all(map(_number, ids)):
        return None
    return Callback(bits[0], int(bits[1]), int(bits[2]), bits[3], tuple(zip(kinds, map(int, ids))))
