"""The SendGrid emulator, driven by the sendgrid client, and its Event Webhook."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from python_http_client import exceptions as sg_errors
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.mail import Mail

from distributor.config import settings_from_dict
from distributor.sandbox.clients import sendgrid_client
from distributor.sandbox.credentials import sandbox_secret
from distributor.sandbox.sendgrid_events import SIGNATURE_HEADER, TIMESTAMP_HEADER
from distributor.sandbox.server import start_sandbox
from support import DEFAULT_CONFIG

FROM = "newsletter@novastan.example"


def mail(**overrides):
    body = {
        "from": {"email": FROM, "name": "Novastan"}, "subject": "Wochenrückblick",
        "personalizations": [{"to": [{"email": "leserin@example.org"}]}],
        "content": [{"type": "text/plain", "value": "Hallo"}, {"type": "text/html", "value": "<p>Hallo</p>"}],
    }
    body.update(overrides)
    return body


def post(sandbox, body, **kw):
    return sendgrid_client(sandbox.url, **kw).client.mail.send.post(request_body=body)


def refused(sandbox, body, error=sg_errors.BadRequestsError):
    with pytest.raises(error) as exc:
        post(sandbox, body)
    return exc.value


def test_send_with_the_helper(sandbox, control):
    message = Mail(from_email=FROM, to_emails=["leserin@example.org", "leser@example.org"], subject="Neu",
                   plain_text_content="Hallo", html_content="<p>Hallo</p>")
    r = sendgrid_client(sandbox.url).send(message)
    assert r.status_code == 202 and r.body == b""
    assert len(r.headers["X-Message-Id"]) == 22
    assert r.headers["X-RateLimit-Limit"] == "600" and r.headers["X-RateLimit-Remaining"] == "599"
    (logged,) = control.get("/_sandbox/requests", params={"service": "sendgrid"}).json()["requests"]
    assert logged["status"] == 202 and logged["result"]["message_id"] == r.headers["X-Message-Id"]
    assert logged["body"]["subject"] == "Neu"


def test_bad_key_is_401(sandbox):
    with pytest.raises(sg_errors.UnauthorizedError) as exc:
        post(sandbox, mail(), api_key="SG.not-a-key")
    assert exc.value.to_dict == {"errors": [{
        "message": "The provided authorization grant is invalid, expired, or revoked", "field": None, "help": None}]}


def test_unverified_sender_is_403(sandbox):
    e = refused(sandbox, mail(**{"from": {"email": "someone@else.example"}}), sg_errors.ForbiddenError)
    assert e.to_dict["errors"][0]["field"] == "from"
    # each edition's key has its own verified senders; the fr key has the same sender here
    assert post(sandbox, mail(), api_key=sandbox_secret("fr", "newsletter", "api_key")).status_code == 202


@pytest.mark.parametrize("changes, field, message", [
    ({"personalizations": []}, "personalizations",
     "The personalizations field is required and must have at least one personalization."),
    ({"personalizations": [{"to": [{"email": f"r{i}@example.org"}]} for i in range(1001)]}, "personalizations",
     "The personalization block is limited to 1000 personalizations per API request. You have provided 1001 "
     "personalizations. Please consider splitting this into multiple requests and resending your request."),
    ({"personalizations": [{"to": [{"email": f"r{i}@example.org"} for i in range(600)],
                            "cc": [{"email": f"c{i}@example.org"} for i in range(401)]}]}, "personalizations",
     "There is a limit of 1000 total recipients (to + cc + bcc) per request."),
    ({"personalizations": [{"cc": [{"email": "a@example.org"}]}]}, "personalizations.0.to",
     "The to array is required for all personalization objects, and must have at least one email object with a "
     "valid email address."),
    ({"personalizations": [{"to": [{"email": "not-an-address"}]}]}, "personalizations.0.to.0.email",
     "Does not contain a valid address."),
    ({"personalizations": [{"to": [{"email": "a@example.org"}]}, {"to": [{"email": "A@example.org"}]}]},
     "personalizations.1.to", None),
    ({"content": [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]}, "content",
     "If present, text/plain must be first, followed by text/html, followed by any other content."),
    ({"content": []}, "content", None),
    ({"content": [{"type": "text/plain", "value": ""}]}, "content.0.value",
     "The content value must be a string at least one character in length."),
    ({"subject": None}, "subject",
     "The subject is required. You can get around this requirement if you use a template with a subject defined "
     "or if every personalization has a subject defined."),
    ({"subject": ""}, "subject", "The subject of your email must be a string at least one character in length."),
    ({"from": None}, "from.email", None),
    ({"from": {"email": "nope"}}, "from.email", "The from email does not contain a valid address."),
    ({"categories": [f"c{i}" for i in range(11)]}, "categories",
     "There is a limit of 10 categories for each email that is sent. You provided 11 categories."),
    ({"categories": ["a", "a"]}, "categories", None),
    ({"custom_args": {"blob": "x" * 10_001}}, "custom_args", None),
    ({"custom_args": {"n": 1}}, "custom_args", "All values of custom arguments object must be strings"),
    ({"send_at": 2_000_000_000_000}, "send_at", "Scheduling more than 72 hours in advance is forbidden."),
    ({"send_at": "tomorrow"}, "send_at", None),
    ({"headers": {"From": "x@example.org"}}, "headers", "Header can not be one of the reserved keys."),
    ({"attachments": [{"content": "not base64!", "filename": "a.txt"}]}, "attachments.0.content",
     "The attachment content must be base64 encoded."),
    ({"asm": {"group_id": "12"}}, "asm.group_id", "The ASM group ID must be an integer."),
])
def test_validation_errors(sandbox, changes, field, message):
    body = {k: v for k, v in mail(**changes).items() if v is not None}
    e = refused(sandbox, body)
    errors = e.to_dict["errors"]
    assert field in [err["field"] for err in errors], errors
    if message:
        assert message in [err["message"] for err in errors]
    assert all(err["help"] is None or err["help"].startswith("http://sendgrid.com/docs/") for err in errors)


def test_limits_are_inclusive(sandbox):
    now = int(sandbox.clock.now())
    body = mail(personalizations=[{"to": [{"email": f"r{i}@example.org"}], "custom_args": {"i": str(i)}}
                                  for i in range(1000)],
                categories=[f"c{i}" for i in range(10)], custom_args={"blob": "x" * 9000},
                send_at=now + 72 * 3600 - 60,
                attachments=[{"content": base64.b64encode(b"hi").decode(), "filename": "hi.txt"}],
                headers={"List-Unsubscribe": "<https://example.org/u/t>",
                         "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    assert post(sandbox, body).status_code == 202
    every_p_subject = mail(personalizations=[{"to": [{"email": "a@example.org"}], "subject": "eigene"}])
    del every_p_subject["subject"]
    assert post(sandbox, every_p_subject).status_code == 202


def test_sandbox_mode_validates_and_sends_nothing(sandbox):
    r = post(sandbox, mail(mail_settings={"sandbox_mode": {"enable": True}}))
    assert r.status_code == 200 and "X-Message-Id" not in r.headers


def test_too_large_and_wrong_content_type(sandbox):
    key = sandbox_secret("de", "newsletter", "api_key")
    huge = mail(attachments=[{"content": "A" * (30 * 2**20), "filename": "big.bin"}])
    e = refused(sandbox, huge, sg_errors.PayloadTooLargeError)
    assert e.to_dict == {"errors": [{"message": "content too large", "field": None}]}
    r = httpx.post(f"{sandbox.url}/sendgrid/v3/mail/send", content=b"subject=x", trust_env=False,
                   headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


def test_rate_limit(sandbox):
    sandbox.call(setattr, sandbox.sandbox.sendgrid.window, "limit", 2)
    assert post(sandbox, mail()).headers["X-RateLimit-Remaining"] == "1"
    post(sandbox, mail())
    e = refused(sandbox, mail(), sg_errors.TooManyRequestsError)
    assert e.headers["X-RateLimit-Remaining"] == "0"
    assert int(e.headers["X-RateLimit-Reset"]) >= int(sandbox.clock.now())
    assert e.to_dict == {"errors": [{"field": None, "message": "too many requests"}]}
    sandbox.clock.advance(1.5)
    assert post(sandbox, mail()).status_code == 202


def test_injected_faults(sandbox, control):
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 500})
    refused(sandbox, mail(), sg_errors.InternalServerError)
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 429, "retry_after": 30})
    e = refused(sandbox, mail(), sg_errors.TooManyRequestsError)
    assert 29 <= int(e.headers["X-RateLimit-Reset"]) - sandbox.clock.now() <= 31
    control.post("/_sandbox/faults", json={"service": "sendgrid", "status": 503, "times": 2})
    refused(sandbox, mail(), sg_errors.ServiceUnavailableError)
    refused(sandbox, mail(), sg_errors.ServiceUnavailableError)
    assert post(sandbox, mail()).status_code == 202


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    done = threading.Event()

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.done.set()

    def log_message(self, *args):
        pass


def test_signed_event_webhook(tmp_path):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    raw = __import__("tomllib").loads(DEFAULT_CONFIG.read_text())
    raw["sandbox"]["event_webhook_url"] = f"http://127.0.0.1:{receiver.server_port}/sendgrid/events"
    settings = settings_from_dict(raw, path=DEFAULT_CONFIG)
    try:
        with start_sandbox(settings) as handle:
            r = post(handle, mail(
                personalizations=[{"to": [{"email": "leserin@example.org"}], "custom_args": {"issue": "7"}},
                                  {"to": [{"email": "bounce@example.org"}]},
                                  {"to": [{"email": "spam@example.org"}]},
                                  {"to": [{"email": "unsubscribe@example.org"}]}],
                categories=["newsletter"]))
            message_id = r.headers["X-Message-Id"]
            assert _Receiver.done.wait(10)
            public_key = httpx.get(f"{handle.url}/_sandbox/accounts", trust_env=False).json()[
                "sendgrid_event_webhook"]["public_key"]
            signed = sendgrid_client(handle.url).client.user.webhooks.event.settings.signed.get()
            assert json.loads(signed.body)["public_key"] == public_key
    finally:
        receiver.shutdown()
    ((headers, body),) = _Receiver.received
    verifier = EventWebhook(public_key)
    assert verifier.verify_signature(body.decode(), headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER])
    assert not verifier.verify_signature(body.decode().replace("bounce", "bounced"), headers[SIGNATURE_HEADER],
                                         headers[TIMESTAMP_HEADER])
    events = json.loads(body)
    by = {}
    for e in events:
        by.setdefault(e["email"], []).append(e["event"])
        assert e["sg_message_id"].startswith(message_id + ".")
        assert e["category"] == "newsletter"
    assert by == {"leserin@example.org": ["processed", "delivered"],
                  "bounce@example.org": ["processed", "bounce"],
                  "spam@example.org": ["processed", "delivered", "spamreport"],
                  "unsubscribe@example.org": ["processed", "delivered", "unsubscribe"]}
    assert [e.get("issue") for e in events if e["email"] == "leserin@example.org"] == ["7", "7"]
