"""Helpers for tests that use the sandbox: fixtures and the real clients, wired.

In a conftest.py:

    from distributor.sandbox.testing import sandbox, sandbox_server  # noqa: F401  (fixtures)

`sandbox_server` (session) runs one sandbox on 127.0.0.1 on a free port for the
whole test session; `sandbox` (per test) hands it over reset. Clients:

    bot = telegram_bot(handle.url, "de")        # PTB, use inside `async with bot:`
    client = x_client(handle.url, "de")         # tweepy.Client redirected (reference §B.1)
    api = x_api(handle.url, "de")               # tweepy.API for v1.1 media upload
    sg = sendgrid_client(handle.url, "de")      # SendGridAPIClient
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Redirect sends https://api.twitter.com/… to the sandbox, mounted on tweepy's session:
# the OAuth1 signature was already computed over the original URL, which the sandbox verifies.
from distributor.channels.twitter import Redirect
from distributor.config import Settings, load_settings
from distributor.sandbox.credentials import sandbox_secret
from distributor.sandbox.server import SandboxHandle, start_sandbox

# The clients honour HTTP(S)_PROXY; loopback must never go through a proxy.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "distributor.toml"
X_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def default_settings() -> Settings:
    """The embedded default config: the channels every sandbox test relies on.
    Its Event Webhook posts nowhere (a test that wants events sets
    `handle.sandbox.sendgrid.emitter.url`)."""
    import dataclasses

    settings = load_settings(DEFAULT_CONFIG)
    return dataclasses.replace(settings, sandbox=dataclasses.replace(settings.sandbox, event_webhook_url=""))


def telegram_bot(url: str, edition: str = "de", token: str | None = None):  # type: ignore[no-untyped-def]
    import telegram

    return telegram.Bot(token or sandbox_secret(edition, "telegram", "token"), base_url=f"{url}/telegram/bot")


def x_keys(edition: str = "de") -> dict[str, str]:
    return {f: sandbox_secret(edition, "twitter", f) for f in X_KEYS}


def x_client(url: str, edition: str = "de", **keys: str):  # type: ignore[no-untyped-def]
    import tweepy

    client = tweepy.Client(**{**x_keys(edition), **keys})
    client.session.mount("https://api.twitter.com", Redirect(f"{url}/x"))
    return client


def x_api(url: str, edition: str = "de", **keys: str):  # type: ignore[no-untyped-def]
    import tweepy

    k = {**x_keys(edition), **keys}
    api = tweepy.API(tweepy.OAuth1UserHandler(k["consumer_key"], k["consumer_secret"],
                                              k["access_token"], k["access_token_secret"]))
    api.session.mount("https://upload.twitter.com", Redirect(f"{url}/x"))
    api.session.mount("https://api.twitter.com", Redirect(f"{url}/x"))
    return api


def sendgrid_client(url: str, edition: str = "de", api_key: str | None = None):  # type: ignore[no-untyped-def]
    from sendgrid import SendGridAPIClient

    return SendGridAPIClient(api_key or sandbox_secret(edition, "newsletter", "api_key"), host=f"{url}/sendgrid")


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHandle]:
    handle = start_sandbox(default_settings())
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> Iterator[SandboxHandle]:
    sandbox_server.reset()
    sandbox_server.clock.offset = 0.0
    yield sandbox_server
