"""The whole reader loop over real HTTP: `serve` (uvicorn in a thread, on a free
port) and the sandbox, whose signed Event Webhook posts back to it.

Subscribe → the confirmation email reaches the sandbox → its link: GET shows a
button and changes nothing, POST confirms → the digest reaches the reader with
a working per-recipient unsubscribe link (GET changes nothing, one-click POST
unsubscribes) → the next digest leaves the reader out; signed events from the
sandbox mark a bounce and a complaint; a forged token and a forged webhook
change nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import httpx
import pytest

from distributor.ingest.pipeline import ingest
from distributor.newsletter.digest import run_digest
from distributor.store.subscribers import Subscribers
from distributor.web.server import start_web
from distributor.web.webhook import issue_counts
from support import add_subscribers
from web_helpers import confirm_link, free_port, one_click_url, personal, wait_for_mail, wait_until

NEWSLETTER_FOOTER = "Für Zentralasien direkt in eurer Mailbox könnt ihr euch zu unserem wöchentlichen Newsletter anmelden."


@pytest.fixture
def served(sb_settings, store, sandbox):
    """`serve` on a free port, its base_url what readers reach; the sandbox's
    Event Webhook pointed at it."""
    port = free_port()
    settings = dataclasses.replace(sb_settings, web=dataclasses.replace(
        sb_settings.web, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    handle = start_web(settings)
    emitter = sandbox.sandbox.sendgrid.emitter
    emitter.url = f"{handle.url}/webhooks/sendgrid"
    try:
        yield settings, handle.url
    finally:
        emitter.url = ""
        handle.stop()


def status(store, edition: str, email: str) -> str:
    return Subscribers(store.engine).find(edition, email).status


def test_the_whole_loop(served, store, control, clock, articles_dir, sandbox):
    settings, url = served
    web = httpx.Client(base_url=url, trust_env=False, timeout=10, follow_redirects=False)
    reader = "reader@example.org"

    # Sign up and confirm.
    r = web.post("/subscribe", data={"email": reader, "edition": "de"})
    assert r.status_code == 200
    link = confirm_link(wait_for_mail(control, reader)[0])
    assert link.startswith(f"{url}/confirm/")
    assert web.get(link).status_code == 200 and status(store, "de", reader) == "pending"
    assert web.post(link).status_code == 200 and status(store, "de", reader) == "active"
    add_subscribers(store, "de", ["bounce-1@example.org", "spam-1@example.org"])

    # The digest: the reader's own unsubscribe link, in the headers and the footer.
    ingest(settings, store, now=clock())
    first = asyncio.run(run_digest(settings, store, "de", clock=clock, sleep=clock.sleep))
    assert first.status == "sent", first.detail
    mail = personal(wait_for_mail(control, reader, count=2)[-1], reader)
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = one_click_url(mail["headers"])
    assert unsubscribe.startswith(f"{url}/unsubscribe/u.de.")
    assert f'href="{unsubscribe}"' in mail["content"][1]["value"]  # the visible "Abmelden" link
    assert mail["custom_args"]["issue_id"] == str(first.issue.id)

    # Signed events from the sandbox: a bounce, a complaint, deliveries counted.
    wait_until(lambda: status(store, "de", "bounce-1@example.org") == "bounced", what="the bounce")
    wait_until(lambda: status(store, "de", "spam-1@example.org") == "complained", what="the complaint")
    wait_until(lambda: issue_counts(store.engine, first.issue.id).get("delivered") == 2, what="2 delivered")

    # Forged: nothing changes.
    body, mac = unsubscribe.rsplit("/", 1)[1].rsplit(".", 1)
    forged = f"{url}/unsubscribe/{body}.{mac[::-1]}"
    assert web.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code in (400, 404)
    refused = web.post("/webhooks/sendgrid", content=b'[{"event":"bounce","email":"reader@example.org",'
                                                     b'"sg_event_id":"x"}]',
                       headers={"Content-Type": "application/json",
                                "X-Twilio-Email-Event-Webhook-Signature": "MEUCIQ==",
                                "X-Twilio-Email-Event-Webhook-Timestamp": "1"})
    assert refused.status_code == 403 and status(store, "de", reader) == "active"

    # The link: a GET (a scanner, a person) changes nothing; the one-click POST unsubscribes.
    page = web.get(unsubscribe)
    assert page.status_code == 200 and "Abmelden" in page.text and status(store, "de", reader) == "active"
    done = web.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and not done.is_redirect and status(store, "de", reader) == "unsubscribed"

    # The next digest leaves out the reader (and the bounced and complained addresses).
    add_subscribers(store, "de", ["still@example.org"])
    (articles_dir / "de-neu.txt").write_text(
        "Ein neuer Artikel über Bischkek\n\nEin kurzer Vorspann über Bischkek.\nText des Artikels.\n"
        + NEWSLETTER_FOOTER + "\n", encoding="utf-8")
    clock.now += dt.timedelta(hours=1)
    ingest(settings, store, now=clock())
    second = asyncio.run(run_digest(settings, store, "de", clock=clock, sleep=clock.sleep))
    assert second.status == "sent", second.detail
    from distributor.store.issues import Issues

    assert second.issue.recipient_count == 1
    assert [e for page in Issues(store.engine).recipients(second.issue) for _, e in page] == ["still@example.org"]
    assert len(wait_for_mail(control, reader, count=2)) == 2  # confirmation + first digest only
    web.close()
