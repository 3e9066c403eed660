"""The SendGrid Event Webhook: verify, then apply each event once.

Verification (reference §C.5): an ECDSA P-256 / SHA-256 signature, base64 DER
in `X-Twilio-Email-Event-Webhook-Signature`, over the timestamp header
followed by the raw body bytes exactly as received, checked with the public
key from SendGrid's "Signed Event Webhook" settings. A timestamp further than
`[web] webhook_max_age_seconds` from now is refused (a replay).

Applying: `bounce` and `dropped` mark the address bounced (in every edition:
the mailbox does not take mail), `spamreport` complained and `unsubscribe` /
`group_unsubscribe` unsubscribed (in the edition the mail was for, when the
event says which); `delivered`, `open` and `click` are counted per digest
issue (`issue_id` in custom_args). Each `sg_event_id` is recorded in the same
transaction as its effect, so a redelivered batch changes nothing twice.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from distributor.config import Settings
from distributor.store.schema import issue_stats, issues, webhook_events
from distributor.store.subscribers import Subscribers

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
SUPPRESS = {"bounce": "bounced", "dropped": "bounced", "spamreport": "complained",
            "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}
COUNTED = ("delivered", "open", "click")


class Refused(Exception):
    """The request is not from SendGrid (403); nothing was changed."""


def load_public_key(b64: str) -> ec.EllipticCurvePublicKey:
    try:
        key = load_der_public_key(base64.b64decode(b64, validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise ValueError(f"not a base64 DER public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve (ECDSA) key")
    return key


def public_key(settings: Settings) -> ec.EllipticCurvePublicKey | None:
    """The configured key; with none and a newsletter channel in sandbox mode,
    the sandbox's; else None (every event is refused)."""
    if settings.web.sendgrid_public_key:
        return load_public_key(settings.web.sendgrid_public_key)
    if any(e.channels.newsletter is not None and e.channels.newsletter.mode == "sandbox"
           for e in settings.editions.values()):
        from distributor.sandbox.sendgrid_events import public_key_b64

        return load_public_key(public_key_b64())
    return None


def verify(settings: Settings, body: bytes, signature: str | None, timestamp: str | None, now: float) -> None:
    """Raise Refused unless SendGrid signed this body at about this time."""
    if not signature or not timestamp:
        raise Refused("unsigned: the signature and timestamp headers are required")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > settings.web.webhook_max_age_seconds:
        raise Refused("stale or malformed timestamp")
    key = public_key(settings)
    if key is None:
        raise Refused("no [web] sendgrid_public_key configured")
    try:
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise Refused("bad signature") from None


@dataclass
class Applied:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    changed: int = 0
    counted: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "duplicates": self.duplicates, "ignored": self.ignored,
                "subscribers_changed": self.changed, "counted": self.counted}


def parse_events(body: bytes) -> list[dict[str, Any]]:
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError("the body must be a JSON array of event objects")
    return events


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def apply_events(engine: sa.Engine, events: list[dict[str, Any]], *, now: dt.datetime) -> Applied:
    from distributor.store.db import insert_ignore as _insert_ignore

    subs = Subscribers(engine)
    result = Applied()
    for e in events:
        event_id, kind = e.get("sg_event_id"), e.get("event")
        if not isinstance(event_id, str) or not event_id or not isinstance(kind, str):
            result.ignored += 1
            continue
        issue_id = _int(e.get("issue_id"))
        with engine.begin() as conn:
            if issue_id is not None and conn.execute(
                    sa.select(issues.c.id).where(issues.c.id == issue_id)).first() is None:
                issue_id = None
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT here.
            fresh = conn.execute(_insert_ignore(conn, webhook_events).values(
                sg_event_id=event_id[:100], event=kind[:32], issue_id=issue_id, received_at=now)
                .returning(webhook_events.c.sg_event_id)).first()
            if fresh is None:
                result.duplicates += 1
                continue
            result.applied += 1
            email = e.get("email")
            if kind in SUPPRESS and isinstance(email, str):
                edition = None
                if kind not in ("bounce", "dropped"):
                    edition = e.get("edition") if isinstance(e.get("edition"), str) else None
                    if edition is None and issue_id is not None:
                        edition = conn.execute(sa.select(issues.c.edition).where(issues.c.id == issue_id)).scalar()
                reason = f"SendGrid {kind}: {e.get('reason') or e.get('type') or ''}".strip().rstrip(":")
                result.changed += subs.address_event(email.strip().lower(), SUPPRESS[kind], now=now,
                                                     reason=reason[:500], edition=edition, conn=conn)
            elif kind in COUNTED and issue_id is not None:
                done = conn.execute(issue_stats.update().where(
                    issue_stats.c.issue_id == issue_id, issue_stats.c.event == kind).values(
                    count=issue_stats.c.count + 1)).rowcount
                if not done:
                    conn.execute(issue_stats.insert().values(issue_id=issue_id, event=kind, count=1))
                result.counted[kind] = result.counted.get(kind, 0) + 1
    return result


def issue_counts(engine: sa.Engine, issue_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        # By key: a Row's `.count` is, to the type checker, tuple.count.
        return {r.event: r._mapping["count"] for r in conn.execute(
            sa.select(issue_stats).where(issue_stats.c.issue_id == issue_id))}


# What the desk shows per issue (the events' names as editors say them): the
# counted ones from issue_stats, bounces and complaints from the recorded
# events (each stored with the issue_id of the send's custom_args).
FIGURES = {"delivered": ("delivered",), "bounced": ("bounce", "dropped"), "complained": ("spamreport",),
           "opened": ("open",), "clicked": ("click",)}


def issue_figures(engine: sa.Engine, issue_ids: list[int]) -> dict[int, dict[str, int]]:
    """issue id -> {delivered, bounced, complained, opened, clicked}, for the
    issues any event came back for (the others: absent, "no figures yet")."""
    if not issue_ids:
        return {}
    by_event: dict[int, dict[str, int]] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.select(issue_stats).where(issue_stats.c.issue_id.in_(issue_ids))):
            by_event.setdefault(r.issue_id, {})[r.event] = r._mapping["count"]
        suppressing = [e for name in ("bounced", "complained") for e in FIGURES[name]]
        for iid, event, n in conn.execute(
                sa.select(webhook_events.c.issue_id, webhook_events.c.event, sa.func.count())
                .where(webhook_events.c.issue_id.in_(issue_ids), webhook_events.c.event.in_(suppressing))
                .group_by(webhook_events.c.issue_id, webhook_events.c.event)):
            by_event.setdefault(iid, {})[event] = n
    return {iid: {name: sum(events.get(e, 0) for e in kinds) for name, kinds in FIGURES.items()}
            for iid, events in by_event.items()}
