"""Sandbox mode is sealed: a sandbox channel presents only the sandbox's own
credentials, and nothing (this process, nor the sandbox) reaches beyond
127.0.0.1 — a remote article image is replaced by the sandbox's placeholder."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from distributor.ingest.pipeline import ingest
from distributor.sandbox.http import image_info
from support import drain, sent, with_channel

REMOTE_IMAGE = "https://novastan.org/de/wp-content/uploads/jurte.jpg"


@pytest.fixture
def outside(monkeypatch):
    """Every attempt to resolve or reach a host beyond loopback, recorded
    (the conftest guard refuses them, but the refusal alone could be caught
    and papered over as "posted without the image")."""
    attempts: list[str] = []
    real_getaddrinfo, guarded_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", b"127.0.0.1", b"localhost"):
            attempts.append(f"resolve {host}")
            raise socket.gaierror(f"test: no lookups beyond 127.0.0.1 ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(f"connect {address[0]}")
        return guarded_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def article_with_image(articles_dir, url: str) -> None:
    for f in articles_dir.iterdir():
        f.unlink()
    (articles_dir / "jurte.md").write_text(
        f"---\ntitle: Die Jurte kehrt zurück\nlanguage: de\nurl: https://novastan.org/de/jurte/\n"
        f"image: {url}\nchannels: [telegram, twitter]\n---\n\nIn Kirgistan wohnen wieder mehr Familien in Jurten.\n",
        encoding="utf-8")


def test_a_remote_image_goes_out_as_the_sandbox_placeholder(sb_settings, store, control, clock, articles_dir,
                                                            outside):
    article_with_image(articles_dir, REMOTE_IMAGE)
    ingest(sb_settings, store, now=clock())
    drain(sb_settings, store, clock)
    assert outside == []
    placeholder = f"{sb_settings.sandbox.base_url}/_sandbox/placeholder.png"
    (photo,) = sent(control, "telegram", "sendPhoto")
    assert photo["body"]["photo"] == placeholder
    served = control.get("/_sandbox/placeholder.png")
    assert served.status_code == 200 and image_info(served.content)[0] == "image/png"
    (upload,) = sent(control, "x", "/2/media/upload")
    assert upload["body"]["media"]["size"] == len(served.content)
    (tweet,) = sent(control, "x", "/2/tweets")
    assert tweet["body"]["media"]["media_ids"] == [upload["result"]["data"]["id"]]
    rows = store.deliveries()
    assert {d.status for d in rows} == {"sent"} and not any(d.reason for d in rows), rows
    # The sandbox's page never points a browser at the remote image either.
    assert REMOTE_IMAGE not in control.get("/_sandbox/").text


def test_a_loopback_image_is_sent_as_it_is(sb_settings):
    from distributor.channels.base import sealed_photo

    placeholder = f"{sb_settings.sandbox.base_url}/_sandbox/placeholder.png"
    assert sealed_photo("http://127.0.0.1:9999/yurt.png", placeholder) == "http://127.0.0.1:9999/yurt.png"
    assert sealed_photo("/srv/images/yurt.png", placeholder) == "/srv/images/yurt.png"
    assert sealed_photo(REMOTE_IMAGE, placeholder) == placeholder
    assert sealed_photo(REMOTE_IMAGE, None) == REMOTE_IMAGE  # live mode: the real API fetches it


REAL_LOOKING = {
    "token_env": ("SEALED_DE_TG_TOKEN", "6123456789:AAF-real-looking-production-token-9f8e7d"),
    "consumer_key_env": ("SEALED_DE_X_KEY", "realLookingConsumerKey5f4e3d2c1b"),
    "access_token_secret_env": ("SEALED_DE_X_TOKEN_SECRET", "realLookingAccessTokenSecret0a9b8c7d"),
}


def test_an_exported_secret_is_not_what_the_sandbox_receives(sb_settings, store, control, clock, monkeypatch,
                                                             caplog):
    for env, value in REAL_LOOKING.values():
        monkeypatch.setenv(env, value)
    settings = with_channel(sb_settings, "de.telegram", token_env=REAL_LOOKING["token_env"][0])
    settings = with_channel(settings, "de.twitter", consumer_key_env=REAL_LOOKING["consumer_key_env"][0],
                            access_token_secret_env=REAL_LOOKING["access_token_secret_env"][0])
    ingest(settings, store, now=clock())
    with caplog.at_level(logging.WARNING, logger="distributor.config"):
        drain(settings, store, clock)
        drain(settings, store, clock)  # built again: still one notice per variable
    # The sandbox's own credentials were used: it accepted every call.
    de = [d for d in store.deliveries() if d.channel in ("de.telegram", "de.twitter")]
    assert de and {d.status for d in de} == {"sent"}, [(d.channel, d.status, d.last_error) for d in de]
    log = json.dumps(control.get("/_sandbox/requests", params={"all": 1}).json())
    for _, value in REAL_LOOKING.values():
        assert value not in log and value[:10] not in log
    notices = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert sorted(notices) == sorted(
        f"de.{kind} is in sandbox mode: {env} is set but ignored; the sandbox's test credential is used"
        for kind, env in (("telegram", "SEALED_DE_TG_TOKEN"), ("twitter", "SEALED_DE_X_KEY"),
                          ("twitter", "SEALED_DE_X_TOKEN_SECRET")))
    assert not any(value in " ".join(notices) for _, value in REAL_LOOKING.values())
