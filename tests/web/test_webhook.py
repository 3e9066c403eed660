"""POST /webhooks/sendgrid: signed as the sandbox's emitter signs (ECDSA P-256
over timestamp + raw body), stale or forged requests refused with 403 and
nothing changed, each sg_event_id applied once, events counted per issue."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from distributor.store.issues import Issues
from distributor.sandbox.sendgrid_events import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from distributor.store.subscribers import Subscribers
from distributor.web.app import create_app
from distributor.web.webhook import issue_counts
from support import add_subscribers

NOW = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def client(sb_settings, store):
    with TestClient(create_app(sb_settings, store), base_url="https://novastan.example") as c:
        yield c


@pytest.fixture
def issue(store):
    return Issues(store.engine).create(edition="de", slot=NOW, subject="s", html="h", text="t", headers={},
                                       batch_size=1000, items=[], now=NOW)


def post(client, events, *, ts: int | None = None, signature: str | None = None, body: bytes | None = None):
    raw = body if body is not None else json.dumps(events, separators=(",", ":")).encode()
    ts = int(time.time()) if ts is None else ts
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(ts),
               SIGNATURE_HEADER: signature if signature is not None else sign(raw, str(ts))}
    return client.post("/webhooks/sendgrid", content=raw, headers=headers)


def event(what: str, email: str, n: int, **extra) -> dict:
    return {"email": email, "event": what, "timestamp": 1, "sg_event_id": f"ev-{what}-{n}",
            "sg_message_id": "m.filter0001.0.0", **extra}


def statuses(store) -> dict[tuple[str, str], str]:
    return {(s.edition, s.email): s.status for s in Subscribers(store.engine).list()}


def test_signed_events_suppress_and_count_once(client, store, issue):
    add_subscribers(store, "de", ["bounce@example.org", "spam@example.org", "gone@example.org", "ok@example.org"])
    add_subscribers(store, "fr", ["bounce@example.org", "spam@example.org"])
    iid = str(issue.id)
    events = [event("bounce", "bounce@example.org", 1, issue_id=iid, reason="550 5.1.1"),
              event("spamreport", "spam@example.org", 2, issue_id=iid),
              event("unsubscribe", "gone@example.org", 3, issue_id=iid),
              event("delivered", "ok@example.org", 4, issue_id=iid),
              event("open", "ok@example.org", 5, issue_id=iid),
              event("open", "ok@example.org", 6, issue_id=iid),
              event("click", "ok@example.org", 7, issue_id=iid, url="https://novastan.org/"),
              event("processed", "ok@example.org", 8, issue_id=iid)]
    r = post(client, events)
    assert r.status_code == 200, r.text
    assert r.json()["applied"] == 8 and r.json()["subscribers_changed"] == 4
    assert statuses(store) == {
        ("de", "bounce@example.org"): "bounced", ("fr", "bounce@example.org"): "bounced",  # the mailbox, everywhere
        ("de", "spam@example.org"): "complained", ("fr", "spam@example.org"): "active",  # the complaint was about de
        ("de", "gone@example.org"): "unsubscribed", ("de", "ok@example.org"): "active"}
    bounced = Subscribers(store.engine).find("de", "bounce@example.org")
    assert bounced.bounced_at is not None and "550 5.1.1" in bounced.status_reason
    assert issue_counts(store.engine, issue.id) == {"delivered": 1, "open": 2, "click": 1}
    # SendGrid redelivers the batch: nothing is applied or counted twice.
    again = post(client, events)
    assert again.status_code == 200 and again.json()["duplicates"] == 8 and again.json()["applied"] == 0
    assert issue_counts(store.engine, issue.id) == {"delivered": 1, "open": 2, "click": 1}


def test_a_bounced_confirmation_email_suppresses_the_pending_address(client, store):
    Subscribers(store.engine).signup("fr", "typo@exmaple.org", now=NOW, source="t", consent_text="c")
    r = post(client, [event("dropped", "typo@exmaple.org", 1, edition="fr", reason="Invalid",
                            **{"kind": "confirm"})])
    assert r.status_code == 200 and statuses(store) == {("fr", "typo@exmaple.org"): "bounced"}


@pytest.mark.parametrize("case", ["unsigned", "forged", "other key", "altered body", "stale", "future"])
def test_unsigned_forged_or_stale_requests_get_403_and_change_nothing(client, store, issue, case):
    add_subscribers(store, "de", ["bounce@example.org"])
    events = [event("bounce", "bounce@example.org", 1, issue_id=str(issue.id))]
    raw = json.dumps(events).encode()
    now = int(time.time())
    if case == "unsigned":
        r = client.post("/webhooks/sendgrid", content=raw, headers={"Content-Type": "application/json"})
    elif case == "forged":
        r = post(client, events, signature="MEUCIQDforgedforgedforgedforgedforgedforgedforgedforgedAiEAforged==")
    elif case == "other key":
        import base64

        other = ec.generate_private_key(ec.SECP256R1())
        sig = base64.b64encode(other.sign(str(now).encode() + raw, ec.ECDSA(hashes.SHA256()))).decode()
        r = post(client, events, ts=now, signature=sig, body=raw)
    elif case == "altered body":
        r = post(client, events, ts=now, signature=sign(raw, str(now)), body=raw.replace(b"bounce\"", b"bounce\" "))
    elif case == "stale":
        r = post(client, events, ts=now - 3600)
    else:
        r = post(client, events, ts=now + 3600)
    assert r.status_code == 403, r.text
    assert statuses(store) == {("de", "bounce@example.org"): "active"}
    assert issue_counts(store.engine, issue.id) == {}


def test_a_signed_body_that_is_not_an_event_array_is_400(client):
    assert post(client, None, body=b'{"event": "bounce"}').status_code == 400
    assert post(client, None, body=b"not json").status_code == 400
