"""An editor's button on the article page, done: the form read, the editor
action of distributor/actions/deliveries.py called with the actor
"desk:<editor name>", and the audit entry it wrote (its result, or its
refusal) named, for the page to show after the redirect.

Approve and Approve all carry the article version and the edits of its
variants the page showed (`seen_version`, `seen_edit`): a page grown stale
(the article corrected, a variant edited since) is refused by the action,
recorded and shown, never approving a text the editor did not see. Edit
saves an editor's own text for a variant (actions/edits.py); a text the
platform's rules refuse comes back as EditRefused for the page to show next
to the field, with nothing stored.

Sending happens here, in the web process, through an App over the web app's
store (app.app_over), its dispatcher's channels closed after each action.
Whether an action applies is the action's own decision (MOVES and the
store's transition table): a button pressed on a page grown stale is
refused by it, recorded, and shown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import NoResultFound

from distributor.actions import deliveries, edits
from distributor.actions.common import REFUSALS
from distributor.app import App, app_over
from distributor.config import Settings
from distributor.store import Store
from distributor.store.audit import Audit, AuditEntry
from distributor.web.desk.article import PREVIEWED

log = logging.getLogger(__name__)

MOVES = ("skip", "hold", "release", "retry")
SENDS = ("send", "resend")
EDITS = ("edit", "unedit")
# The actions on one delivery (the form names it); "approve_all" is the article's.
ON_DELIVERY = MOVES + ("approve",)
ACTIONS = SENDS + ON_DELIVERY + EDITS + ("approve_all",)
MAX_REASON = 500


class BadForm(ValueError):
    """The form names no action this page has (400, nothing done)."""


@dataclass(frozen=True)
class Pressed:
    action: str
    kind: str
    delivery_id: int | None
    reason: str | None
    confirmed: bool
    text: str | None = None  # an edit's text
    seen_version: int | None = None  # the article version the page showed
    seen_edits: dict[str, int] = field(default_factory=dict)  # per kind, the edit the page showed (0: none)


def _number(fields: dict[str, str], name: str) -> int | None:
    raw = fields.get(name, "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise BadForm(f"{name} {raw[:20]!r} is not a number")
    return int(raw)


def read(fields: dict[str, str], delivery_ids: dict[int, str]) -> Pressed:
    """The button pressed; `delivery_ids`: the article's deliveries (id -> kind)."""
    action, kind = fields.get("action", ""), fields.get("kind", "")
    if action == "approve_all" and not kind:
        kind = "article"
    elif action not in ACTIONS or kind not in PREVIEWED:
        raise BadForm(f"unknown action {action[:20]!r} or channel {kind[:20]!r}")
    seen_edits = {k: n for k in PREVIEWED if (n := _number(fields, f"seen_edit_{k}")) is not None}
    if action == "approve" and (n := _number(fields, "seen_edit")) is not None:
        seen_edits[kind] = n
    text = fields.get("text") if action == "edit" else None
    if action == "edit" and text is None:
        raise BadForm("the edit has no text field")
    delivery_id = None
    if action in ON_DELIVERY:
        raw = fields.get("delivery", "")
        if not raw.isdigit() or len(raw) > 12 or delivery_ids.get(int(raw)) != kind:
            raise BadForm(f"delivery {raw[:20]!r} is not one of this article's {kind} deliveries")
        delivery_id = int(raw)
    reason = " ".join(fields.get("reason", "").split())[:MAX_REASON] or None
    return Pressed(action, kind, delivery_id, reason if action in ("skip", "hold") else None,
                   fields.get("confirm") == "yes", text, _number(fields, "seen_version"), seen_edits)


def actor_of(editor_name: str) -> str:
    return f"desk:{editor_name}"


async def perform(settings: Settings, store: Store, clock: Callable[[], dt.datetime], article_id: int,
                  pressed: Pressed, actor: str) -> int | None:
    """Do it; the id of the audit entry that records what happened (None
    when none was written)."""
    before = _newest(store, article_id, actor)
    try:
        if pressed.action == "edit":
            assert pressed.text is not None  # read() sees to it
            async with app_over(settings, store, clock=clock) as app:
                await asyncio.to_thread(edits.edit_variant, app, article_id, pressed.kind, pressed.text,
                                        actor=actor, seen_version=pressed.seen_version)
        elif pressed.action == "unedit":
            async with app_over(settings, store, clock=clock) as app:
                await asyncio.to_thread(edits.remove_edit, app, article_id, pressed.kind, actor=actor)
        elif pressed.action == "approve_all":
            async with app_over(settings, store, clock=clock) as app:
                await asyncio.to_thread(deliveries.approve_article, app, article_id, actor=actor,
                                        seen_version=pressed.seen_version, seen_edits=pressed.seen_edits)
        elif pressed.action in SENDS:
            send = deliveries.resend if pressed.action == "resend" else deliveries.send_now
            async with app_over(settings, store, clock=clock) as app:
                await send(app, article_id, pressed.kind, actor=actor)
        else:
            assert pressed.delivery_id is not None  # read() sees to it
            async with app_over(settings, store, clock=clock) as app:
                await asyncio.to_thread(_move, app, pressed, actor)
    except REFUSALS:
        pass  # recorded in the audit by the action; the page shows it
    except edits.EditRefused:
        raise  # nothing done: the page shows it next to the field
    except Exception:  # noqa: BLE001 - the started entry records it ("error"); the page shows that
        log.exception("desk: %s of article %s on %s by %s", pressed.action, article_id, pressed.kind, actor)
    after = _newest(store, article_id, actor)
    return after if after is not None and after != before else None


def _move(app: App, pressed: Pressed, actor: str) -> None:
    assert pressed.delivery_id is not None
    if pressed.action == "approve":
        deliveries.approve(app, pressed.delivery_id, actor=actor, seen_version=pressed.seen_version,
                           seen_edit=pressed.seen_edits.get(pressed.kind))
    elif pressed.action == "skip":
        deliveries.skip(app, pressed.delivery_id, actor=actor, reason=pressed.reason)
    elif pressed.action == "hold":
        deliveries.hold(app, pressed.delivery_id, actor=actor, reason=pressed.reason)
    elif pressed.action == "release":
        deliveries.release(app, pressed.delivery_id, actor=actor)
    else:
        deliveries.retry(app, pressed.delivery_id, actor=actor)


def _newest(store: Store, article_id: int, actor: str) -> int | None:
    found = Audit(store.engine).history(article_id=article_id, actor=actor, limit=1)
    return found[0].id if found else None


def entry_of(store: Store, article_id: int, raw: str | None) -> AuditEntry | None:
    """The audit entry `?done=<id>` names, when it is about this article."""
    entry = done_entry(store, raw)
    return entry if entry is not None and entry.article_id == article_id else None


def done_entry(store: Store, raw: str | None) -> AuditEntry | None:
    """The audit entry a page's `?done=<id>` names (None: no such entry, or no id)."""
    if not raw or not raw.isdigit() or len(raw) > 12:
        return None
    try:
        return Audit(store.engine).get(int(raw))
    except NoResultFound:
        return None
