"""The real client libraries, wired to a running sandbox (the tests and bench/ use them):

    bot = telegram_bot(handle.url, "de")        # PTB, use inside `async with bot:`
    client = x_client(handle.url, "de")         # tweepy.Client redirected (reference §B.1)
    api = x_api(handle.url, "de")               # tweepy.API for v1.1 media upload
    sg = sendgrid_client(handle.url, "de")      # SendGridAPIClient
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Redirect sends https://api.twitter.com/… to the sandbox, mounted on tweepy's session:
# the OAuth1 signature was already computed over the original URL, which the sandbox verifies.
from distributor.channels.twitter import Redirect
from distributor.sandbox.credentials import sandbox_secret

if TYPE_CHECKING:
    import telegram
    import tweepy
    from sendgrid import SendGridAPIClient

X_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def telegram_bot(url: str, edition: str = "de", token: str | None = None) -> telegram.Bot:
    import telegram

    return telegram.Bot(token or sandbox_secret(edition, "telegram", "token"), base_url=f"{url}/telegram/bot")


def x_keys(edition: str = "de") -> dict[str, str]:
    return {f: sandbox_secret(edition, "twitter", f) for f in X_KEYS}


def x_client(url: str, edition: str = "de", **keys: str) -> tweepy.Client:
    import tweepy

    client = tweepy.Client(**{**x_keys(edition), **keys})
    client.session.mount("https://api.twitter.com", Redirect(f"{url}/x"))
    return client


def x_api(url: str, edition: str = "de", **keys: str) -> tweepy.API:
    import tweepy

    k = {**x_keys(edition), **keys}
    api = tweepy.API(tweepy.OAuth1UserHandler(k["consumer_key"], k["consumer_secret"],
                                              k["access_token"], k["access_token_secret"]))
    api.session.mount("https://upload.twitter.com", Redirect(f"{url}/x"))
    api.session.mount("https://api.twitter.com", Redirect(f"{url}/x"))
    return api


def sendgrid_client(url: str, edition: str = "de", api_key: str | None = None) -> SendGridAPIClient:
    from sendgrid import SendGridAPIClient

    return SendGridAPIClient(api_key or sandbox_secret(edition, "newsletter", "api_key"), host=f"{url}/sendgrid")
