"""redact.py: one scrub, and the three doors it guards (store, logging, CLI)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

import pytest
import sqlalchemy as sa

from distributor import redact
from distributor.logs import JsonFormatter
from distributor.redact import REDACTED, scrub

TOKEN = "7123456:AAHcanaryTokenValue0123456789abcdef"
API_KEY = "SG.canary-key.0123456789abcdefghij"


@pytest.fixture
def secrets_set(settings, monkeypatch):
    monkeypatch.setenv("REDACT_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("REDACT_TEST_KEY", API_KEY)
    monkeypatch.setenv("REDACT_TEST_SHORT", "abc")
    from support import with_channel

    s = with_channel(settings, "de.telegram", token_env="REDACT_TEST_TOKEN")
    s = with_channel(s, "de.newsletter", api_key_env="REDACT_TEST_KEY")
    s = dataclasses.replace(s, web=dataclasses.replace(s.web, secret_env="REDACT_TEST_SHORT"))
    redact.register(s)
    return s


def test_every_spelling_of_a_registered_secret_is_scrubbed(secrets_set):
    from urllib.parse import quote

    text = (f"token {TOKEN}; encoded {quote(TOKEN, safe='')}; half {TOKEN.split(':')[1]}; "
            f"json {json.dumps({'k': API_KEY})}")
    out = scrub(text)
    assert TOKEN.split(":")[1] not in out and "canary" not in out.lower()
    assert out.count(REDACTED) == 4


def test_short_values_are_not_secrets(secrets_set):
    # REDACT_TEST_SHORT = "abc": scrubbing it would blank out every "abc" everywhere.
    assert scrub("abcdef and abc") == "abcdef and abc"
    assert "abc" not in redact.secret_values()


def test_known_shapes_are_scrubbed_even_when_unregistered():
    stranger = "987654:ZZunregisteredTokenValue_0123456789"
    assert scrub(f"The token `{stranger}` was rejected by the server.") == \
        f"The token `{REDACTED}` was rejected by the server."
    assert scrub(f"POST https://api.telegram.org/bot{stranger}/sendMessage") == \
        f"POST https://api.telegram.org/bot{REDACTED}/sendMessage"
    assert scrub("{'Authorization': 'Bearer SG.unregistered9.key-value-0123'}") == f"{{'Authorization': 'Bearer {REDACTED}'}}"
    prose = "The token `abc` was a bearer instrument: Bearer certificates, Bearer bonds."
    assert scrub(prose) == prose
    assert scrub('OAuth oauth_consumer_key="ck123456", oauth_nonce="n1", oauth_token="at123456"') == \
        f'OAuth oauth_consumer_key="{REDACTED}", oauth_nonce="n1", oauth_token="{REDACTED}"'


def test_the_database_password_is_a_secret(monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL", "postgresql+psycopg://app:pa%40ss-w0rd-canary@db.example/x")
    out = scrub("could not connect with pa@ss-w0rd-canary (url …:pa%40ss-w0rd-canary@db…)")
    assert "w0rd" not in out


def test_a_filter_on_the_root_handler_scrubs_every_logger_and_level(secrets_set):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(redact.RedactingFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("python_http_client.client").debug("HEADERS: %s", {"Authorization": f"Bearer {API_KEY}"})
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            logging.getLogger("distributor.run").exception("job failed with %s", TOKEN)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == ["python_http_client.client", "distributor.run"]
    assert lines[1]["exception"].startswith("Traceback") and REDACTED in lines[1]["exception"]
    assert TOKEN.split(":")[1] not in stream.getvalue() and API_KEY not in stream.getvalue()


def test_the_store_never_writes_a_secret(secrets_set, store):
    """Any write, whichever method makes it: the scrub sits below them all."""
    now = redact_now()
    store.outbox.update_channel("de.telegram", paused=True, paused_reason=f"rejected: {TOKEN}", now=now)
    store.record_poll("articles", ok=False, error=f"GET https://x.example/?key={API_KEY} failed", now=now)
    with store.engine.connect() as conn:
        stored = repr(conn.execute(sa.text("SELECT * FROM channel_state")).all()) + \
            repr(conn.execute(sa.text("SELECT * FROM source_polls")).all())
    assert REDACTED in stored and "canary" not in stored.lower()
    assert store.outbox.channel("de.telegram").paused_reason == f"rejected: {REDACTED}"


def test_printed_output_is_scrubbed(secrets_set, monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    redact.install(secrets_set)
    import click
    import sys

    click.echo(f"paused: {TOKEN}")
    print(json.dumps({"error": API_KEY}))
    assert isinstance(sys.stdout, redact.RedactingStream)
    assert out.getvalue() == f"paused: {REDACTED}\n" + json.dumps({"error": REDACTED}) + "\n"


def redact_now():
    import datetime as dt

    return dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


def test_a_secret_that_is_also_a_word_of_the_articles_leaves_their_text_and_posts_alone(
        sb_settings, store, clock, control, monkeypatch):
    """The store scrubs what could carry a secret (errors, reasons, notes),
    not the world's text: a database password that is also the outlet's
    name must not turn every stored link into https://[redacted].org and
    every post into one without its link (or a crash on the broken URL)."""
    from distributor.ingest.pipeline import ingest
    from support import drain, sent

    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL", "postgresql+psycopg://novastan:novastan@db.internal/novastan")
    assert "novastan" in redact.secret_values()
    ingest(sb_settings, store, now=clock())
    urls = [a.article.url for a in store.list_articles() if a.article.url]
    assert urls and all("novastan.org" in u for u in urls)
    report = drain(sb_settings, store, clock)
    assert report.count("held") == 0 and report.count("failed") == 0
    posts = [r["body"]["text"] for r in sent(control, "telegram", "sendMessage") + sent(control, "x", "/2/tweets")]
    assert posts and all(REDACTED not in p for p in posts)
    assert any("novastan.org" in p for p in posts)
    # A reason or an error quoting it is still scrubbed.
    store.outbox.update_channel("de.telegram", paused=True, paused_reason="password novastan refused", now=clock())
    assert store.outbox.channel("de.telegram").paused_reason == f"password {REDACTED} refused"
