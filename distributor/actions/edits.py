"""An editor's edit of one variant of an article: the Telegram post's text or
caption, the tweet or thread, the newsletter entry's text.

`edit_variant` checks the text by the platform's rules (render/edits.py:
Telegram's HTML subset and 4096/1024, X's 280 weighted per post, the digest
entry's length) against the template's render of the article's current
version, and stores it (store/edits.py) with its audit row ("edit", who, what).
A text the rules refuse raises EditRefused and stores nothing (no audit row:
nothing was done); an edit of an article changed since the editor was shown it
(`seen_version`) is refused and recorded, like every refused action.
`remove_edit` goes back to the template's render.

The edit is what goes out (distributor/edits.py: render_sent, digest_articles)
while the article stays at the version it was written for. In a channel with
`approval = "required"` an edit (or its removal) needs a fresh approval of
what is not out yet: approval is of the text that goes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from distributor.actions.common import refusals
from distributor.app import App
from distributor.channels import channel_config
from distributor.errors import DistributorError
from distributor.render import render_article
from distributor.render.edits import EDITABLE, EditRefused, check_edit, posts_of
from distributor.store.audit import AuditNote
from distributor.store.edits import Edits

__all__ = ["EditResult", "EditRefused", "edit_variant", "remove_edit"]

DETAIL_CHARS = 300  # of the text, in the audit row's detail


@dataclass(frozen=True)
class EditResult:
    action: str  # "edit" | "unedit"
    actor: str
    article_id: int
    channel: str
    outcome: str  # "edited" | "removed"
    detail: str
    edit_id: int | None = None  # the stored edit's id (None once removed)


def _what(kind: str, text: str, photo: bool) -> str:
    if kind == "telegram":
        return "the Telegram caption" if photo else "the Telegram text"
    if kind == "twitter":
        n = len(posts_of(text))
        return f"the thread of {n} posts" if n > 1 else "the tweet"
    return "the newsletter entry's text"


def _target(app: App, article_id: int, kind: str, action: str, actor: str):  # noqa: ANN202
    """(stored article, its channel, the audit note) for an edit of `kind`;
    refused (recorded) for an unknown article, kind or channel."""
    note = AuditNote(actor, action, outcome="", article_id=article_id)
    with refusals(app, note):
        if kind not in EDITABLE:
            raise DistributorError(f"{kind!r} cannot be edited (one of {', '.join(EDITABLE)})")
        stored = app.store.get_article(article_id)
    channel = f"{stored.article.language}.{kind}"
    rows = [d for d in app.store.deliveries(article_id=stored.id) if d.channel == channel]
    note = AuditNote(actor, action, outcome="", article_id=stored.id, channel=channel,
                     delivery_id=rows[-1].id if rows else None)
    with refusals(app, note):
        cfg = channel_config(app.settings, channel)
    return stored, cfg, note


def edit_variant(app: App, article_id: int, kind: str, text: str, *, actor: str,
                 seen_version: int | None = None) -> EditResult:
    """Store an editor's own text for the article's `kind` variant (replacing
    an earlier edit). EditRefused (nothing stored, nothing recorded) when the
    platform's rules refuse it; a recorded refusal when the article changed
    since `seen_version`."""
    stored, cfg, note = _target(app, article_id, kind, "edit", actor)
    with refusals(app, note):
        if seen_version is not None and seen_version != stored.version:
            raise DistributorError(
                f"article {stored.id} changed since it was shown (version {seen_version} then, {stored.version} "
                "now): look at it again before editing it")
        base = render_article(app.settings, stored.article, kind)
    checked = check_edit(kind, text, base)
    required = cfg.approval == "required"
    shown = checked if len(checked) <= DETAIL_CHARS else checked[:DETAIL_CHARS] + "…"
    detail = (f"{_what(kind, checked, bool(base.photo))} for article version {stored.version}: {shown}"
              + ("; it awaits approval again" if required else ""))
    edit = Edits(app.store.engine).save(stored.id, kind, version=stored.version, text=checked, actor=actor,
                                        now=app.clock(), audit=_with(note, detail), required=required)
    return EditResult("edit", actor, stored.id, note.channel or "", "edited", detail, edit.id)


def remove_edit(app: App, article_id: int, kind: str, *, actor: str) -> EditResult:
    """Back to the template's render for the article's `kind` variant;
    refused (recorded) when there is no edit."""
    stored, cfg, note = _target(app, article_id, kind, "unedit", actor)
    required = cfg.approval == "required"
    detail = "back to the template's text" + ("; it awaits approval again" if required else "")
    edits = Edits(app.store.engine)
    with refusals(app, note):
        if not edits.remove(stored.id, kind, actor=actor, now=app.clock(), audit=_with(note, detail),
                            required=required):
            raise DistributorError(f"article {stored.id} has no edit of its {kind} text to remove")
    return EditResult("unedit", actor, stored.id, note.channel or "", "removed", detail)


def _with(note: AuditNote, detail: str) -> AuditNote:
    from dataclasses import replace

    return replace(note, detail=detail)
