"""The sandbox ASGI app: the three emulators plus the /_sandbox control routes.

    /telegram/bot<TOKEN>/<method>        Telegram Bot API
    /x/2/…, /x/1.1/media/upload.json     X API (tweepy redirected, reference §B.1)
    /sendgrid/v3/…                       SendGrid v3
    GET  /_sandbox/                      what followers and subscribers would see (HTML)
    GET  /_sandbox/accounts[?reveal=1]   what the sandbox accepts
    GET  /_sandbox/requests?service=…[&all=1]   accepted calls in order (all=1: refused ones too);
                                               the last 10,000 listed, bodies of the last 200,
                                               "total" counts them all
    DELETE /_sandbox/requests
    GET|POST|DELETE /_sandbox/faults     injected errors, latency, timeouts
    POST /_sandbox/telegram/updates      an incoming update (a user writes, a button press)
    POST /_sandbox/telegram/migrate      {"chat": …}: a group becomes a supergroup (migrate_to_chat_id)
    POST /_sandbox/telegram/history      {"chat": …, "last": N}: the chat's last message id is N (its next N + 1)
    GET|POST /_sandbox/clock             {"advance": seconds}: move the sandbox's time
    POST /_sandbox/reset                 forget messages, tweets, mail, limits, faults, log
    GET  /_sandbox/events                Event Webhook batches posted
    GET  /_sandbox/ping                  a trivial endpoint (benchmark baseline)
    GET  /_sandbox/placeholder.png       the image sandbox channels send instead of a remote one
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from distributor.config import Settings
from distributor.sandbox.core import SandboxCore
from distributor.sandbox.faults import FaultError, fault_from_json
from distributor.sandbox.http import json_response
from distributor.sandbox.page import render_page
from distributor.sandbox.ratelimit import Clock
from distributor.sandbox.sendgrid import SendGridService
from distributor.sandbox.sendgrid_events import public_key_b64
from distributor.sandbox.telegram import TelegramService
from distributor.sandbox.x import XService

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class Sandbox:
    """The emulators and their shared state, behind one ASGI app (`.app`)."""

    def __init__(self, settings: Settings, clock: Clock | None = None):
        self.core = SandboxCore(settings, clock)
        self.telegram = TelegramService(self.core)
        self.x = XService(self.core)
        self.sendgrid = SendGridService(self.core)
        self.app = Starlette(routes=self.routes())
        self.app.state.sandbox = self

    @property
    def clock(self) -> Clock:
        return self.core.clock

    def reset(self) -> None:
        for service in (self.telegram, self.x, self.sendgrid):
            service.reset()
        self.core.faults.clear()
        self.core.log.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/telegram/bot{token}/{method}", self.telegram.handle, methods=["GET", "POST"]),
            Route("/x/{rest:path}", self.x.handle, methods=ALL_METHODS),
            Route("/sendgrid/{rest:path}", self.sendgrid.handle, methods=ALL_METHODS),
            Route("/_sandbox/ping", self.ping, methods=["GET", "POST"]),
            Route("/_sandbox/", self.page, methods=["GET"]),
            Route("/_sandbox/accounts", self.accounts, methods=["GET"]),
            Route("/_sandbox/requests", self.requests, methods=["GET", "DELETE"]),
            Route("/_sandbox/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/telegram/updates", self.telegram_update, methods=["POST"]),
            Route("/_sandbox/telegram/migrate", self.telegram_migrate, methods=["POST"]),
            Route("/_sandbox/telegram/history", self.telegram_history, methods=["POST"]),
            Route("/_sandbox/clock", self.clock_route, methods=["GET", "POST"]),
            Route("/_sandbox/reset", self.reset_route, methods=["POST"]),
            Route("/_sandbox/events", self.events, methods=["GET"]),
            Route("/_sandbox/files/{file_id}", self.file, methods=["GET"]),
            Route("/_sandbox/placeholder.png", self.placeholder, methods=["GET"]),
        ]

    # ------------------------------------------------------------------ control

    async def ping(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def page(self, request: Request) -> Response:
        return HTMLResponse(render_page(self.core, self.telegram, self.x, self.sendgrid))

    async def accounts(self, request: Request) -> Response:
        reveal = request.query_params.get("reveal") in ("1", "true")
        data = self.core.accounts.to_json(reveal=reveal)
        data["sendgrid_event_webhook"] = {"url": self.core.config.event_webhook_url,
                                          "public_key": public_key_b64()}
        return json_response(data)

    async def requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.core.log.clear()
            return json_response({"deleted": True})
        service = request.query_params.get("service") or None
        if service not in (None, "telegram", "x", "sendgrid"):
            return json_response({"error": "service must be telegram, x or sendgrid"}, 400)
        everything = request.query_params.get("all") in ("1", "true")
        entries = self.core.log.select(service, accepted_only=not everything)
        return json_response({"requests": entries, "count": len(entries),
                              "total": self.core.log.total(service, accepted_only=not everything)})

    async def faults(self, request: Request) -> Response:
        faults = self.core.faults
        if request.method == "POST":
            try:
                data = await request.json()
                for item in data if isinstance(data, list) else [data]:
                    faults.add(fault_from_json(item))
            except (ValueError, FaultError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response({"pending": faults.to_json()}, 201)
        if request.method == "DELETE":
            faults.clear()
        return json_response({"pending": faults.to_json()})

    async def telegram_update(self, request: Request) -> Response:
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("give a JSON object")
            update = self.telegram.inject(data)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"update": update}, 201)

    async def telegram_migrate(self, request: Request) -> Response:
        try:
            data = await request.json()
            return json_response(self.telegram.migrate(data["chat"]), 201)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": f'give {{"chat": "@name or id"}}: {exc}'}, 400)

    async def telegram_history(self, request: Request) -> Response:
        try:
            data = await request.json()
            return json_response(self.telegram.history(data["chat"], data["last"]), 201)
        except (ValueError, KeyError, TypeError) as exc:
            return json_response({"error": f'give {{"chat": "@name or id", "last": N}}: {exc}'}, 400)

    async def clock_route(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await request.json()
                seconds = float(data["advance"])
            except (ValueError, KeyError, TypeError):
                return json_response({"error": 'give {"advance": seconds}'}, 400)
            self.core.clock.advance(seconds)
        return json_response({"now": self.core.clock.now(), "offset": self.core.clock.offset})

    async def reset_route(self, request: Request) -> Response:
        self.reset()
        return json_response({"reset": True})

    async def events(self, request: Request) -> Response:
        return json_response({"url": self.core.config.event_webhook_url, "batches": list(self.sendgrid.emitter.sent)},)

    async def file(self, request: Request) -> Response:
        upload = self.telegram.files.get(request.path_params["file_id"])
        if upload is None:
            return PlainTextResponse("not found", 404)
        from distributor.sandbox.http import image_info

        info = image_info(upload.data)
        return Response(upload.data, media_type=info[0] if info else "application/octet-stream")

    async def placeholder(self, request: Request) -> Response:
        from distributor.sandbox.http import placeholder_png

        return Response(placeholder_png(), media_type="image/png")


def create_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    return Sandbox(settings, clock).app
