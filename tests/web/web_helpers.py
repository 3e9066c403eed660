"""Helpers for the reader-side tests (imported, not fixtures)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time

from support import sent


def mails(control, to: str | None = None) -> list[dict]:
    bodies = [r["body"] for r in sent(control, "sendgrid", "/mail/send")]
    if to is None:
        return bodies
    return [b for b in bodies if any(p["to"][0]["email"] == to for p in b["personalizations"])]


def wait_for_mail(control, to: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mails(control, to)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} reached the sandbox within {timeout}s")


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


def confirm_link(mail: dict) -> str:
    """The confirmation URL in a confirmation email's plain-text part."""
    text = mail["content"][0]["value"]
    (url,) = set(re.findall(r"https?://\S+/confirm/[A-Za-z0-9._-]+", text))
    return url


def personal(mail: dict, to: str) -> dict:
    """The mail as one recipient gets it: SendGrid's substitutions and headers applied."""
    (p,) = [p for p in mail["personalizations"] if p["to"][0]["email"] == to]
    out = json.loads(json.dumps(mail))
    for part in out["content"]:
        for k, v in (p.get("substitutions") or {}).items():
            part["value"] = part["value"].replace(k, v)
    out["headers"] = {**(mail.get("headers") or {}), **(p.get("headers") or {})}
    return out


def one_click_url(headers: dict) -> str:
    (url,) = re.findall(r"<(https?://[^>]+)>", headers["List-Unsubscribe"])[:1]
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(settings, store=None):
    """`serve` in a thread on a free port of 127.0.0.1, its base_url the
    address it answers on: (its settings, its URL)."""
    import dataclasses

    from distributor.web.server import start_web

    port = free_port()
    settings = dataclasses.replace(settings, web=dataclasses.replace(
        settings.web, host="127.0.0.1", port=port, base_url=f"http://127.0.0.1:{port}"))
    handle = start_web(settings, store=store)
    try:
        yield settings, handle.url
    finally:
        handle.stop()
