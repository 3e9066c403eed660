"""The signed SendGrid Event Webhook emitter (reference §C.5).

After an accepted send, the sandbox POSTs one JSON array of events for its
recipients to `[sandbox] event_webhook_url`, signed as SendGrid signs them:
ECDSA P-256 over `timestamp + raw body`, base64 DER in
`X-Twilio-Email-Event-Webhook-Signature`. What happens to a recipient follows
its address, so a test can ask for each outcome:

    bounce…@…       -> processed, bounce
    spam…@…         -> processed, delivered, spamreport
    unsubscribe…@…  -> processed, delivered, unsubscribe
    anything else   -> processed, delivered

The key is derived from a fixed seed, so the receiving side can verify
without asking: `public_key_b64()` is what SendGrid's settings page would show
(also served at /sendgrid/v3/user/webhooks/event/settings/signed).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections import deque
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from distributor.sandbox.sendgrid_mail import recipients

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_SEED = b"distributor-sandbox/sendgrid/event-webhook"
_KEY = ec.derive_private_key(1 + int.from_bytes(hashlib.sha256(_SEED).digest(), "big") % (_P256_ORDER - 1),
                             ec.SECP256R1())


def public_key_b64() -> str:
    der = _KEY.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def sign(payload: bytes, timestamp: str) -> str:
    sig = _KEY.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(sig).decode()


def outcome(email: str) -> list[str]:
    local = email.split("@", 1)[0].lower()
    if local.startswith("bounce"):
        return ["processed", "bounce"]
    if local.startswith("spam"):
        return ["processed", "delivered", "spamreport"]
    if local.startswith("unsubscribe"):
        return ["processed", "delivered", "unsubscribe"]
    return ["processed", "delivered"]


def build_events(message_id: str, body: dict[str, Any], now: float) -> list[dict[str, Any]]:
    events = []
    categories = body.get("categories")
    global_args = body.get("custom_args") or {}
    ps = body.get("personalizations") or []
    for n, (i, _kind, r) in enumerate(recipients(body)):
        args = {**global_args, **(ps[i].get("custom_args") or {})}
        smtp_id = f"<{message_id}.{n}@sandbox.sendgrid.local>"
        for k, event in enumerate(outcome(r["email"])):
            e: dict[str, Any] = {
                **args,
                "email": r["email"], "timestamp": int(now) + k, "event": event,
                "sg_event_id": secrets.token_urlsafe(16),
                "sg_message_id": f"{message_id}.filter0001.{n}.0", "smtp-id": smtp_id,
            }
            if categories:
                e["category"] = categories if len(categories) > 1 else categories[0]
            if event == "delivered":
                e.update(response="250 OK", ip="127.0.0.1", tls=1)
            elif event == "bounce":
                e.update(reason="550 5.1.1 The email account that you tried to reach does not exist.",
                         status="5.1.1", type="bounce", bounce_classification="Invalid Address")
            elif event == "unsubscribe" and "asm" in body:
                e["asm_group_id"] = body["asm"].get("group_id")
            events.append(e)
    return events


class EventEmitter:
    """Posts event batches in the background; keeps what it sent for /_sandbox/events."""

    def __init__(self, url: str, clock: Any, attempts: int = 3):
        self.url, self.clock, self.attempts = url, clock, attempts
        # The last 200 batches posted (bounded, as the request log is).
        self.sent: deque[dict[str, Any]] = deque(maxlen=200)
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, events: list[dict[str, Any]]) -> None:
        if not self.url or not events:
            return
        task = asyncio.get_running_loop().create_task(self._post(events))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, events: list[dict[str, Any]]) -> None:
        payload = json.dumps(events, separators=(",", ":")).encode()
        record: dict[str, Any] = {"url": self.url, "events": events, "attempts": []}
        self.sent.append(record)
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            for attempt in range(self.attempts):
                timestamp = str(int(self.clock.now()))
                headers = {"Content-Type": "application/json", "User-Agent": "SendGrid Event API",
                           SIGNATURE_HEADER: sign(payload, timestamp), TIMESTAMP_HEADER: timestamp}
                try:
                    r = await client.post(self.url, content=payload, headers=headers)
                    record["attempts"].append({"time": self.clock.now(), "status": r.status_code})
                    if r.status_code < 300:
                        return
                except httpx.HTTPError as exc:
                    record["attempts"].append({"time": self.clock.now(), "error": type(exc).__name__})
                await asyncio.sleep(0.5 * 2**attempt)

    async def drain(self) -> None:
        """Wait for the posts in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
