"""The reader side over HTTP (Starlette): thin handlers over newsletter/readers.

    GET  /subscribe/<edition>      the signup form (embeddable)
    POST /subscribe                email, edition (form, multipart or JSON): a confirmation email
    GET  /confirm/<token>          a page with a confirm button (changes nothing)
    POST /confirm/<token>          activates the subscription
    GET  /unsubscribe/<token>      a page with an unsubscribe button (changes nothing)
    POST /unsubscribe/<token>      RFC 8058 one-click (List-Unsubscribe=One-Click): at once, 200
    GET  /archive/<edition>/<id>   a sent digest issue, public, with nothing personal in it
    POST /webhooks/sendgrid        SendGrid's signed Event Webhook
    GET  /metrics, /healthz, /readyz   Prometheus metrics, alive, ready (web/ops.py)
    /desk/…                        the editors' desk (web/desk/routes.py), behind a login

Bad input gets a 4xx with a message saying what is wrong, as HTML for a
browser and as JSON for a JSON client; nothing is stored then.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from typing import Any, Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from distributor.config import Settings
from distributor.newsletter import readers, tokens
from distributor.render.env import Templates
from distributor.store.signup_limits import SignupLimits
from distributor.store.subscribers import InvalidAddress, Subscribers, normalize_email
from distributor.web import strings, webhook
from distributor.web.desk.routes import Desk
from distributor.web.ops import Ops

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"
WEBHOOK_MAX_BODY = 8 * 2**20  # SendGrid posts batches of events; far below this
HOUR = 3600.0


class BadRequest(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class WebApp:
    """The app and what its handlers share: settings, the database, limits."""

    def __init__(self, settings: Settings, store=None, *, clock: Callable[[], dt.datetime] = utcnow):  # noqa: ANN001
        self.settings = settings
        self._store = store
        self._own_store = store is None
        self.clock = clock
        self.templates = Templates.from_settings(settings)
        self.pending: set[asyncio.Task] = set()
        self.ops = Ops(settings, clock=clock)
        self.app = Starlette(routes=[
            Route("/subscribe/{edition}", self.subscribe_form, methods=["GET"]),
            Route("/subscribe", self.subscribe, methods=["POST"]),
            Route("/confirm/{token}", self.confirm, methods=["GET", "POST"]),
            Route("/unsubscribe/{token}", self.unsubscribe, methods=["GET", "POST"]),
            Route("/archive/{edition}/{issue_id}", self.archive, methods=["GET"]),
            Route("/webhooks/sendgrid", self.sendgrid_webhook, methods=["POST"]),
            *self.ops.routes(),
            Mount("/desk", routes=Desk(settings, lambda: self.store, clock=clock, templates=self.templates).routes()),
        ], lifespan=self.lifespan)
        self.app.state.web = self

    @property
    def store(self):  # noqa: ANN201
        if self._store is None:
            from distributor.store import Store

            self._store = Store.open(self.settings)
        return self._store

    @property
    def subscribers(self) -> Subscribers:
        return Subscribers(self.store.engine)

    @property
    def limits(self) -> SignupLimits:
        """The signup limits, counted in the database (store/signup_limits.py):
        the same for every process that answers /subscribe."""
        return SignupLimits(self.store.engine, tokens.web_secret(self.settings), window=HOUR)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette):  # noqa: ANN201
        try:
            yield
        finally:
            self.close()

    def close(self) -> None:
        self.ops.close()
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None

    # ------------------------------------------------------------ pages

    def page(self, language: str, template: str, status: int = 200, *, framed: bool = False,
             headers: dict[str, str] | None = None, **ctx: Any) -> HTMLResponse:
        w = strings.strings(language)
        html = self.templates.render(language, f"web/{template}.html.j2", w=w, **ctx)
        hdrs = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
                # The form is meant to be embedded; the pages with a button are not (clickjacking).
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                           + ("frame-ancestors *" if framed else "frame-ancestors 'none'"),
                **(headers or {})}
        return HTMLResponse(html, status_code=status, headers=hdrs)

    def error(self, request: Request, language: str, status: int, message: str,
              headers: dict[str, str] | None = None) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=status, headers=headers)
        w = strings.strings(language)
        return self.page(language, "message", status, headers=headers, title=w["error_title"], message=message,
                         error=True, back="")

    def name(self, edition: str) -> str:
        return readers.outlet(self.settings, edition)

    # ------------------------------------------------------------ signup

    async def subscribe_form(self, request: Request) -> Response:
        edition = request.path_params["edition"]
        if not readers.has_newsletter(self.settings, edition):
            return self.error(request, "en", 404, f"unknown edition {_safe(edition[:20])}: there is no such newsletter")
        w, name = strings.strings(edition), self.name(edition)
        return self.page(edition, "subscribe", framed=True, title=w["subscribe_title"].format(name=name), name=name,
                         edition=edition, action=f"{self.settings.web.public_url}/subscribe",
                         consent=w["consent"].format(name=name))

    async def subscribe(self, request: Request) -> Response:
        language = "en"
        try:
            fields = await self.read_fields(request, (FORM, MULTIPART, JSON))
            edition = fields.get("edition", "")
            if not edition:
                raise BadRequest(400, "the field edition is required")
            if not readers.has_newsletter(self.settings, edition):
                raise BadRequest(404, f"unknown edition {_safe(edition[:20])}: there is no such newsletter")
            language = edition
            try:
                email = normalize_email(fields.get("email", ""))
            except InvalidAddress as exc:
                raise BadRequest(400, f"email: {exc}") from None
            now = self.clock()
            client = request.client.host if request.client else "?"
            wait = self.limits.hit(self.settings.web.signups_per_client_per_hour, "client", client, now=time.time())
            if wait is not None:
                raise BadRequest(429, f"too many signups from this address; try again in {wait} seconds",
                                 {"Retry-After": str(wait)})
        except BadRequest as exc:
            return self.error(request, language, exc.status, exc.message, exc.headers)
        task = None
        # A filled honeypot is a bot: it gets the same answer, and nothing happens.
        if not fields.get("website"):
            # The per-address limit is silent: answering differently would tell
            # a stranger that someone signed this address up a moment ago.
            if self.limits.hit(self.settings.web.signups_per_address_per_hour, "address", edition, email,
                               now=time.time()) is None:
                name = self.name(edition)
                consent = strings.strings(edition)["consent"].format(name=name)
                source = f"web:/subscribe/{edition}"
                referer = request.headers.get("referer", "")
                if referer and not any(c in referer for c in "\r\n"):
                    source += f" via {referer[:300]}"
                result = readers.signup(self.settings, self.subscribers, edition, email, now=now, source=source,
                                        consent_text=consent)
                if result.send_confirmation:
                    task = BackgroundTask(self._send_confirmation, result.subscriber, now)
        w = strings.strings(edition)
        if _wants_json(request):
            return JSONResponse({"status": "ok", "message": w["check_inbox"]}, status_code=202, background=task)
        response = self.page(edition, "message", title=w["check_inbox_title"], message=w["check_inbox"],
                             error=False, back=f"{self.settings.web.public_url}/subscribe/{edition}", framed=True)
        response.background = task
        return response

    async def _send_confirmation(self, sub, now: dt.datetime) -> None:  # noqa: ANN001
        try:
            await readers.send_confirmation(self.settings, self.subscribers, sub, now=now)
        except Exception as exc:  # noqa: BLE001 - the reader already has their answer; log and go on
            log.warning("confirmation email for subscriber %s (%s) not sent: %s", sub.id, sub.edition, exc)

    # ------------------------------------------------------------ confirm, unsubscribe

    async def confirm(self, request: Request) -> Response:
        return await self._token_page(request, tokens.CONFIRM)

    async def unsubscribe(self, request: Request) -> Response:
        return await self._token_page(request, tokens.UNSUBSCRIBE)

    async def _token_page(self, request: Request, purpose: str) -> Response:
        token = request.path_params["token"]
        now = self.clock()
        try:
            sub = readers.subscriber_of(self.settings, self.subscribers, token, purpose, now)
        except tokens.BadToken as exc:
            return self.error(request, "en", 404, str(exc))
        lang, name = sub.edition, self.name(sub.edition)
        w = {k: v.format(name=name, email=sub.email) for k, v in strings.strings(lang).items()}
        action = f"{self.settings.web.public_url}/{'confirm' if purpose == tokens.CONFIRM else 'unsubscribe'}/{token}"
        if request.method == "GET":
            if purpose == tokens.CONFIRM:
                if sub.status == "active":
                    return self.page(lang, "message", title=w["confirmed_title"], message=w["confirmed"],
                                     error=False, back="")
                if sub.status != "pending":
                    return self.page(lang, "message", title=w["confirm_title"], message=w["not_pending"],
                                     error=False, back=f"{self.settings.web.public_url}/subscribe/{lang}")
                return self.page(lang, "action", title=w["confirm_title"], question=w["confirm_question"],
                                 action=action, button=w["confirm_button"], fields={})
            if sub.status != "active" and sub.status != "pending":
                return self.page(lang, "message", title=w["unsubscribed_title"], message=w["unsubscribed"],
                                 error=False, back="")
            return self.page(lang, "action", title=w["unsubscribe_title"], question=w["unsubscribe_question"],
                             action=action, button=w["unsubscribe_button"],
                             fields={"List-Unsubscribe": "One-Click"})
        if purpose == tokens.CONFIRM:
            try:
                await self.read_fields(request, (FORM, MULTIPART), empty_ok=True)
            except BadRequest as exc:
                return self.error(request, lang, exc.status, exc.message, exc.headers)
            if sub.status != "pending" and sub.status != "active":
                return self.page(lang, "message", 409, title=w["confirm_title"], message=w["not_pending"],
                                 error=True, back=f"{self.settings.web.public_url}/subscribe/{lang}")
            readers.confirm(self.subscribers, sub, now=now)
            return self.page(lang, "message", title=w["confirmed_title"], message=w["confirmed"], error=False,
                             back="")
        # RFC 8058: the body is List-Unsubscribe=One-Click; answer 200 at once, never a redirect.
        try:
            fields = await self.read_fields(request, (FORM, MULTIPART), empty_ok=True)
        except BadRequest as exc:
            return self.error(request, lang, exc.status, exc.message, exc.headers)
        if fields.get("List-Unsubscribe") != "One-Click":
            return self.error(request, lang, 400, "expected the body List-Unsubscribe=One-Click (RFC 8058)")
        readers.unsubscribe(self.subscribers, sub, now=now, how="unsubscribe link (POST List-Unsubscribe=One-Click)")
        return self.page(lang, "message", title=w["unsubscribed_title"], message=w["unsubscribed"], error=False,
                         back="")

    # ------------------------------------------------------------ archive

    async def archive(self, request: Request) -> Response:
        from distributor.newsletter import archive

        edition, issue_id = request.path_params["edition"], request.path_params["issue_id"]
        if not readers.has_newsletter(self.settings, edition):
            return self.error(request, "en", 404, f"unknown edition {_safe(edition[:20])}: there is no such newsletter")
        issue = await asyncio.to_thread(archive.published_issue, self.store.engine, edition, issue_id)
        if issue is None:
            return self.error(request, edition, 404, f"no sent issue {_safe(issue_id[:20])} in edition {edition}")
        html = archive.public_html(self.settings, issue)
        return HTMLResponse(html, headers={
            "Cache-Control": "public, max-age=300", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            # The articles' images come from the magazine's site; nothing else loads.
            "Content-Security-Policy": "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
                                       "form-action 'none'; frame-ancestors *"})

    # ------------------------------------------------------------ webhook

    async def sendgrid_webhook(self, request: Request) -> Response:
        try:
            body = await read_body(request, WEBHOOK_MAX_BODY)
        except BadRequest as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        try:
            webhook.verify(self.settings, body, request.headers.get(webhook.SIGNATURE_HEADER),
                           request.headers.get(webhook.TIMESTAMP_HEADER), self.clock().timestamp())
        except webhook.Refused as exc:
            log.warning("SendGrid webhook refused: %s", exc)
            return JSONResponse({"error": f"forbidden: {exc}"}, status_code=403)
        try:
            events = webhook.parse_events(body)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        result = await asyncio.to_thread(webhook.apply_events, self.store.engine, events, now=self.clock())
        return JSONResponse(result.to_json())

    # ------------------------------------------------------------ input

    async def read_fields(self, request: Request, allowed: tuple[str, ...], *, empty_ok: bool = False
                          ) -> dict[str, str]:
        """The request's fields as strings, from a capped body; BadRequest
        (413, 415, 400) with a message otherwise."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await read_body(request, self.settings.web.max_body_bytes)
        if not ctype and (empty_ok or not body):
            ctype = FORM
        if ctype not in allowed:
            names = ", ".join(allowed)
            raise BadRequest(415, f"unsupported content type {_safe(ctype[:60]) or '(none)'}: send {names}")
        if ctype == JSON:
            try:
                data = json.loads(body or b"{}")
            except (ValueError, UnicodeDecodeError):
                raise BadRequest(400, "the body is not valid JSON") from None
            if not isinstance(data, dict):
                raise BadRequest(400, "the JSON body must be an object like {\"email\": …, \"edition\": …}")
            fields = data
        elif ctype == FORM:
            try:
                fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                                        max_num_fields=20))
            except UnicodeDecodeError:
                raise BadRequest(400, "the form is not UTF-8") from None
            except ValueError:
                raise BadRequest(400, "too many form fields") from None
        else:
            request._body = body  # the capped body, for Starlette's multipart parser
            try:
                form = await request.form(max_files=0, max_fields=20)
            except Exception as exc:  # noqa: BLE001 - python-multipart's errors: a malformed body
                raise BadRequest(400, f"malformed multipart body: {exc}") from None
            fields = dict(form.items())
        out: dict[str, str] = {}
        for k, v in fields.items():
            if not isinstance(v, str):
                raise BadRequest(400, f"the field {_safe(str(k)[:40])} must be a string")
            if any(c in v for c in "\r\n\x00"):
                raise BadRequest(400, f"the field {_safe(str(k)[:40])} contains a line break or a control character")
            out[str(k)] = v.strip()
        return out


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"the request body is too large (at most {limit} bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"the request body is too large (at most {limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _safe(text: str) -> str:
    """User input echoed in a message: printable characters only."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _wants_json(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    accept = request.headers.get("accept", "")
    return ctype == JSON or ("application/json" in accept and "text/html" not in accept)


def create_app(settings: Settings, store=None, *, clock: Callable[[], dt.datetime] = utcnow) -> Starlette:  # noqa: ANN001
    """The ASGI app; `store` given (tests) or opened on first use."""
    tokens.web_secret(settings)  # a live newsletter without its signing secret does not start
    return WebApp(settings, store, clock=clock).app
