"""The SendGrid v3 emulator: /sendgrid/v3/mail/send and a few neighbours.

`SendGridAPIClient(api_key, host="http://HOST:PORT/sendgrid")` works against
it. Accepted mail is answered 202 with an empty body and `X-Message-Id`;
errors use SendGrid's envelope `{"errors": [{"message", "field", "help"}]}`.
Every response after authentication carries the `X-RateLimit-*` headers.
"""

from __future__ import annotations

import asyncio
from collections import deque
import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from distributor.sandbox.accounts import SendGridKey, mask
from distributor.sandbox.core import SandboxCore
from distributor.sandbox.faults import Fault
from distributor.sandbox.http import json_response
from distributor.sandbox.ratelimit import FixedWindow
from distributor.sandbox.sendgrid_events import EventEmitter, build_events, public_key_b64
from distributor.sandbox.sendgrid_mail import validate_mail

MAX_BODY = 30 * 2**20  # "< 30 MB including attachments"
UNVERIFIED_SENDER = ("The from address does not match a verified Sender Identity. Mail cannot be sent until this "
                     "error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/"
                     "sender-identity/ to see the Sender Identity requirements")
FAULT_MESSAGES = {401: "The provided authorization grant is invalid, expired, or revoked",
                  403: "access forbidden", 413: "content too large", 429: "too many requests",
                  500: "internal server error", 502: "bad gateway", 503: "service unavailable",
                  504: "gateway timeout"}


def errors_body(message: str, field: str | None = None, help_: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": help_}]}


class SendGridService:
    name = "sendgrid"

    def __init__(self, core: SandboxCore):
        self.core = core
        self.emitter = EventEmitter(core.config.event_webhook_url, core.clock)
        self.reset()

    def reset(self) -> None:
        self.window = FixedWindow(self.core.config.sendgrid_requests_per_second, 1.0)
        # The last accepted messages, for the page (bounded: see core.BODIES_KEPT).
        self.mail: deque[dict[str, Any]] = deque(maxlen=50)
        self.batches: set[str] = set()
        self.emitter.sent.clear()

    async def handle(self, request: Request) -> Response:
        path = request.url.path[len("/sendgrid"):]
        method = f"{request.method} {path}"
        now = self.core.clock.now()
        auth = request.headers.get("authorization", "")
        key = self.core.accounts.sendgrid.get(auth[7:]) if auth.startswith("Bearer ") else None
        if key is None:
            self.core.log.add("sendgrid", method, request.url.path, now, None, status=401, error="bad key")
            return json_response(errors_body("The provided authorization grant is invalid, expired, or revoked"),
                                 401)
        allowed, win = self.window.hit(key.api_key, now)
        headers = {}
        if win.limit:
            headers = {"X-RateLimit-Limit": str(win.limit), "X-RateLimit-Remaining": str(win.remaining),
                       "X-RateLimit-Reset": str(win.reset)}
        # Read everything first, even a body about to be refused: a client still
        # writing would otherwise see a broken pipe instead of the answer, and a
        # slow answer (delay_ms) is a call SendGrid did receive and carry out.
        size, raw = 0, []
        async for chunk in request.stream():
            size += len(chunk)
            if size < MAX_BODY:
                raw.append(chunk)
        fault = self.core.faults.take("sendgrid", method)
        if fault is not None and fault.status:
            await asyncio.sleep(fault.delay_ms / 1000)
            self.core.log.add("sendgrid", method, request.url.path, now, None, account=key.label,
                              status=fault.status, error="injected fault")
            return self.fault_response(fault, headers, now)
        response = self._serve(request, path, key, allowed, headers, method, size, b"".join(raw))
        if fault is not None:  # latency only: the call is carried out, its answer comes late
            await asyncio.sleep(fault.delay_ms / 1000)
        return response

    def _serve(self, request: Request, path: str, key: SendGridKey, allowed: bool, headers: dict[str, str],
               method: str, size: int, raw: bytes) -> Response:
        now = self.core.clock.now()
        if not allowed:
            self.core.log.add("sendgrid", method, request.url.path, now, None, account=key.label, status=429)
            return json_response({"errors": [{"field": None, "message": "too many requests"}]}, 429, headers)
        if path == "/v3/mail/send" and request.method == "POST":
            return self.mail_send(request, key, headers, method, size, raw)
        if path == "/v3/user/webhooks/event/settings/signed" and request.method == "GET":
            return json_response({"public_key": public_key_b64()}, 200, headers)
        if path == "/v3/mail/batch" and request.method == "POST":
            batch_id = secrets.token_urlsafe(24)
            self.batches.add(batch_id)
            return json_response({"batch_id": batch_id}, 201, headers)
        return json_response({"errors": [{"field": None, "message": "resource not found"}]}, 404, headers)

    def fault_response(self, fault: Fault, headers: dict[str, str], now: float) -> Response:
        status = fault.status or 500
        if status == 429:
            wait = fault.retry_after if fault.retry_after is not None else 1
            headers = {**headers, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + wait)}
            headers.setdefault("X-RateLimit-Limit", str(self.window.limit))
            return json_response({"errors": [{"field": None, "message": "too many requests"}]}, 429, headers)
        message = fault.description or FAULT_MESSAGES.get(status, "internal server error")
        return json_response(errors_body(message), status, headers)

    def mail_send(self, request: Request, key: SendGridKey, headers: dict[str, str], method: str,
                  size: int, raw: bytes) -> Response:
        now = self.core.clock.now()

        def refuse(status: int, body: dict[str, Any], logged: Any = None) -> Response:
            self.core.log.add("sendgrid", method, request.url.path, now, logged, account=key.label,
                              status=status, error=json.dumps(body)[:2000])
            return json_response(body, status, headers)

        if not request.headers.get("content-type", "").startswith("application/json"):
            return refuse(415, errors_body("Content-Type should be application/json."))
        if size >= MAX_BODY:
            return refuse(413, {"errors": [{"message": "content too large", "field": None}]})
        try:
            body = json.loads(raw)
        except ValueError:
            return refuse(400, errors_body("Invalid UTF8 in request." if b"\xff" in raw else "Bad Request"))
        errors = validate_mail(body, now)
        if errors:
            return refuse(400, {"errors": errors}, body)
        sender = str(body["from"]["email"]).lower()
        if sender not in key.senders:
            return refuse(403, errors_body(UNVERIFIED_SENDER, "from"), body)
        batch = body.get("batch_id")
        if batch is not None and batch not in self.batches:
            return refuse(400, errors_body("The batch id is not valid.", "batch_id"), body)
        sandbox_mode = ((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable") is True
        if sandbox_mode:  # SendGrid validates and sends nothing: 200, no message id
            self.core.log.add("sendgrid", method, request.url.path, now, body, account=key.label, status=200,
                              raw=raw)
            return Response(status_code=200, headers=headers)
        message_id = secrets.token_urlsafe(16)[:22]
        self.core.log.add("sendgrid", method, request.url.path, now, body, account=key.label, status=202,
                          result={"message_id": message_id}, raw=raw)
        # As received (core.py: the request log's bodies); the page parses the ones it shows.
        self.mail.append({"message_id": message_id, "time": now, "key": mask(key.api_key), "raw": raw})
        send_at = body.get("send_at")
        if self.emitter.url and not (isinstance(send_at, int) and send_at > now):  # scheduled: no events here
            self.emitter.emit(build_events(message_id, body, now))
        return Response(status_code=202, headers={**headers, "X-Message-Id": message_id})
