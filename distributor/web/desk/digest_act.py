"""The desk's digest page (/desk/digest) and its buttons:

    GET  /desk/digest        every newsletter edition's next issue, the past issues
                             (?done=<audit id>: what a button just did)
    POST /desk/digest/act    action=save|remove|add|test|send, edition[, subject, intro,
                             delivery, address, confirm], csrf

Each button is one editor action of distributor/actions/digest.py, called with
the actor "desk:<editor name>" over the web app's store (app.app_over): save
(the draft's subject and intro), remove or add an article, test (a copy of
the next issue to one address, validated), send (Send now: first a
confirmation naming the number of active recipients, then send_digest,
refused while an issue of the edition is in progress). A refusal is recorded
by the action and shown; a field the action refuses (a subject with a line
break, an address that is none) is shown next to the field, the page answered
400 with what was typed kept, and nothing changed. Routes (routes.py) are the
Desk's; this module sees the Desk through `DeskLike`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from sqlalchemy.exc import NoResultFound
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from distributor.actions import digest as actions
from distributor.actions.common import REFUSALS
from distributor.app import app_over
from distributor.config import Settings
from distributor.errors import DistributorError
from distributor.store import Store
from distributor.store.audit import Audit, AuditEntry
from distributor.store.subscribers import InvalidAddress, Subscribers, normalize_email
from distributor.web.desk import digest

log = logging.getLogger(__name__)

ACTIONS = ("save", "remove", "add", "test", "send")
# The page's CSP lets the email preview's images come from the magazine's site.
IMAGES = ("img-src 'self' data:", "img-src 'self' data: https: http:")


class Req(Protocol):
    request: Request
    lang: str
    w: dict[str, str]
    lang_query: str
    fields: dict[str, str]

    @property
    def editor(self) -> Any: ...


class DeskLike(Protocol):
    settings: Settings
    prefix: str
    clock: Callable[[], dt.datetime]

    def _store(self) -> Store: ...

    def page(self, desk: Any, template: str, status: int = 200, **ctx: Any) -> Response: ...

    def message(self, desk: Any, status: int, title: str, message: str) -> Response: ...


class BadForm(ValueError):
    """The form names no action or edition this page has (400, nothing done)."""


@dataclass(frozen=True)
class Pressed:
    action: str
    edition: str
    delivery_id: int | None = None
    subject: str = ""
    intro: str = ""
    address: str = ""
    confirmed: bool = False


def read(fields: dict[str, str], editions: list[str]) -> Pressed:
    action, edition = fields.get("action", ""), fields.get("edition", "")
    if action not in ACTIONS or edition not in editions:
        raise BadForm(f"unknown action {action[:20]!r} or edition {edition[:20]!r}")
    delivery_id = None
    if action in ("remove", "add"):
        raw = fields.get("delivery", "")
        if not raw.isdigit() or len(raw) > 12:
            raise BadForm(f"delivery {raw[:20]!r} is not a delivery id")
        delivery_id = int(raw)
    return Pressed(action, edition, delivery_id, fields.get("subject", ""), fields.get("intro", ""),
                   fields.get("address", "").strip(), fields.get("confirm") == "yes")


def actor_of(editor_name: str) -> str:
    return f"desk:{editor_name}"


def with_images(response: Response) -> Response:
    """The desk's CSP (routes.py), widened only to let the email preview's
    images load from the magazine's site."""
    policy = response.headers.get("Content-Security-Policy", "")
    if IMAGES[0] in policy:
        response.headers["Content-Security-Policy"] = policy.replace(*IMAGES)
    return response


async def show(desk: DeskLike, d: Req, status: int = 200, *, errors: dict[str, str] | None = None,
               typed: dict[str, str] | None = None, edition: str | None = None) -> Response:
    """The page; with `errors` (field -> message) and `typed` (what was typed) for `edition`."""
    store = desk._store()
    data = await asyncio.to_thread(digest.digest_page, desk.settings, store, desk.clock())
    done = await asyncio.to_thread(entry_of, store, d.request.query_params.get("done"))
    return with_images(desk.page(d, "digest", status, title=d.w["digest_title"], current="digest", data=data,
                                 done=done, errors=errors or {}, typed=typed or {}, failed_edition=edition,
                                 count=digest.count, action=f"{desk.prefix}/digest/act{d.lang_query}"))


async def act(desk: DeskLike, d: Req, finish: Callable[[Response], Response]) -> Response:
    """A button pressed; `finish` puts the desk's headers on a redirect (routes.headers)."""
    store = desk._store()
    try:
        pressed = read(d.fields, digest.newsletter_codes(desk.settings))
    except BadForm as exc:
        return desk.message(d, 400, d.w["bad_request_title"], str(exc))
    if pressed.action == "test":
        try:
            normalize_email(pressed.address)
        except InvalidAddress as exc:
            return await show(desk, d, 400, errors={"address": str(exc)}, typed={"address": pressed.address[:320]},
                              edition=pressed.edition)
    if pressed.action == "send" and not pressed.confirmed:
        active = await asyncio.to_thread(lambda: Subscribers(store.engine).counts(pressed.edition).get("active", 0))
        return desk.page(d, "digest_confirm", title=d.w["digest_send_confirm_title"], current="digest",
                         edition=pressed.edition, question=d.w["digest_send_question"].format(
                             n=digest.count(active, d.lang), edition=pressed.edition), active=active,
                         action=f"{desk.prefix}/digest/act{d.lang_query}",
                         back=f"{desk.prefix}/digest{d.lang_query}#edition-{pressed.edition}")
    actor = actor_of(d.editor.name)
    before = _newest(store, actor)
    try:
        await perform(desk.settings, store, desk.clock, pressed, actor)
    except REFUSALS as exc:
        if pressed.action == "save":  # the field the editor typed, kept, with what is wrong with it
            field = "intro" if "intro" in str(exc) else "subject"
            return await show(desk, d, 400, errors={field: str(exc)}, edition=pressed.edition,
                              typed={"subject": pressed.subject[:1000], "intro": pressed.intro[:5000]})
    except Exception:  # noqa: BLE001 - the started entry records it ("error"); the page shows that
        log.exception("desk: digest %s of %s by %s", pressed.action, pressed.edition, actor)
    after = _newest(store, actor)
    sep = "&" if d.lang_query else "?"
    done = f"{sep}done={after}" if after is not None and after != before else ""
    return finish(RedirectResponse(f"{desk.prefix}/digest{d.lang_query}{done}#edition-{pressed.edition}", 303))


async def perform(settings: Settings, store: Store, clock: Callable[[], dt.datetime], pressed: Pressed,
                  actor: str) -> None:
    """The editor action; its refusals (recorded in the audit) go on up."""
    async with app_over(settings, store, clock=clock) as app:
        if pressed.action == "save":
            await asyncio.to_thread(actions.save_draft, app, pressed.edition, actor=actor, subject=pressed.subject,
                                    intro=pressed.intro)
        elif pressed.action in ("remove", "add"):
            assert pressed.delivery_id is not None  # read() sees to it
            move = actions.remove_article if pressed.action == "remove" else actions.add_article
            await asyncio.to_thread(move, app, pressed.edition, pressed.delivery_id, actor=actor)
        elif pressed.action == "test":
            await actions.send_test(app, pressed.edition, normalize_email(pressed.address), actor=actor)
        else:
            await actions.send_digest(app, pressed.edition, actor=actor, new_only=True)


def _newest(store: Store, actor: str) -> int | None:
    found = Audit(store.engine).history(actor=actor, limit=1)
    return found[0].id if found else None


def entry_of(store: Store, raw: str | None) -> AuditEntry | None:
    """The audit entry `?done=<id>` names, when it is about the digest."""
    if not raw or not raw.isdigit() or len(raw) > 12:
        return None
    try:
        entry = Audit(store.engine).get(int(raw))
    except (NoResultFound, DistributorError):
        return None
    return entry if entry.action.startswith("digest_") else None
