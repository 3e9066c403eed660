"""No configured secret ever leaves the process in clear: the canary test.

Every secret variable a channel names, the web's token signing secret and the
database password carry a distinctive canary value. Every channel is live but
pointed at the sandbox (`api_url`), which rejects the unknown credentials
(Telegram InvalidToken, X 401, SendGrid 401), so each channel fails the way a
revoked production secret would. Every command runs at DEBUG; then every
printed line, every log record and every column of every table is searched:
no canary, in any form it could take (raw, URL-encoded, in a bot URL), may
appear anywhere.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from distributor.cli import cli
from distributor.sandbox.sendgrid_events import public_key_b64
from support import add_subscribers, sent



def canary(tag: str) -> str:
    return f"CANARY{tag}{secrets.token_hex(10)}"


def telegram_canary(n: int) -> str:
    # Shaped like a real token, colon included, so its URL-encoded form differs.
    return f"{7000000 + n}:CANARYtg{secrets.token_hex(14)}"


EDITIONS = {"de": ("telegram", "twitter", "newsletter"), "en": ("telegram", "twitter", "newsletter"),
            "fr": ("telegram", "newsletter")}
WEB_SECRET_ENV = "CANARYTEST_WEB_SECRET"
X_ENVS = ("consumer_key_env", "consumer_secret_env", "access_token_env", "access_token_secret_env")


def secret_env(settings_key: str, edition: str) -> str:
    return f"CANARYTEST_{edition.upper()}_{settings_key.removesuffix('_env').upper()}"


def config_text(*, articles, sandbox_url: str) -> str:
    parts = [
        '[database]\nurl = "sqlite:///unused-the-environment-overrides-it.db"\n',
        "[delivery]\nonce_max_wait_seconds = 1\nmax_attempts = 2\n",
        # The readers' side of a live newsletter: the token signing secret is a canary too.
        f'[web]\nbase_url = "https://novastan.example"\nport = 0\nsecret_env = "{WEB_SECRET_ENV}"\n'
        f'sendgrid_public_key = "{public_key_b64()}"\n',
        f'[[sources]]\nname = "articles"\nkind = "folder"\npath = "{articles}"\n',
    ]
    for code, kinds in EDITIONS.items():
        parts.append(f'[editions.{code}]\ntimezone = "UTC"\n')
        if "telegram" in kinds:
            parts.append(f'[editions.{code}.channels.telegram]\nmode = "live"\nchat_id = "@novastan_{code}"\n'
                         f'api_url = "{sandbox_url}/telegram"\ntoken_env = "{secret_env("token_env", code)}"\n'
                         "timeout_seconds = 5\n")
        if "twitter" in kinds:
            keys = "".join(f'{k} = "{secret_env(k, code)}"\n' for k in X_ENVS)
            parts.append(f'[editions.{code}.channels.twitter]\nmode = "live"\napi_url = "{sandbox_url}/x"\n'
                         f"{keys}timeout_seconds = 5\n")
        parts.append(f'[editions.{code}.channels.newsletter]\nmode = "live"\n'
                     f'from_email = "newsletter@novastan.example"\napi_url = "{sandbox_url}/sendgrid"\n'
                     f'api_key_env = "{secret_env("api_key_env", code)}"\n'
                     f'unsubscribe_mailto = "unsubscribe@novastan.example"\n'
                     f'test_recipients = ["leserin-{code}@example.org"]\n')
    return "\n".join(parts)


def forms(value: str) -> set[str]:
    """Every spelling of a secret a log line, a URL or a JSON dump could carry."""
    return {value, quote(value, safe=""), quote_plus(value), quote(value), value.split(":")[-1]}


class Collect(logging.Handler):
    """Every record any logger emits, formatted as a log file would hold it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def restore_logging():
    """`run` and `deliver` configure the root logger; give it back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)


@pytest.mark.postgres
def test_no_canary_secret_anywhere(tmp_path, articles_dir, sandbox, control, pg_url, monkeypatch,
                                   restore_logging):
    values: dict[str, str] = {}
    for n, (code, kinds) in enumerate(EDITIONS.items()):
        if "telegram" in kinds:
            values[secret_env("token_env", code)] = telegram_canary(n)
        if "twitter" in kinds:
            for k in X_ENVS:
                values[secret_env(k, code)] = canary(f"x{code}")
        values[secret_env("api_key_env", code)] = "SG." + canary(f"sg{code}")
    values[WEB_SECRET_ENV] = canary("web")
    password = canary("pw")
    # The fresh database's URL with a canary password (trust auth ignores it).
    values["DISTRIBUTOR_DATABASE_URL"] = sa.engine.make_url(pg_url).set(password=password).render_as_string(
        hide_password=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DISTRIBUTOR_LOG_LEVEL", "DEBUG")
    cfg = tmp_path / "live.toml"
    cfg.write_text(config_text(articles=articles_dir, sandbox_url=sandbox.url), encoding="utf-8")

    logs = Collect()
    outputs: list[str] = []

    def invoke(*args: str) -> None:
        # Whatever `run` made of the root logger, every record also reaches `logs`.
        root = logging.getLogger()
        root.setLevel(logging.DEBUG)
        if logs not in root.handlers:
            root.addHandler(logs)
        result = CliRunner().invoke(cli, ["--config", str(cfg), *args])
        outputs.append(f"$ distributor {' '.join(args)} -> {result.exit_code}\n{result.stdout}\n{result.stderr}")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            outputs.append("".join(traceback.format_exception(result.exception)))

    engine = sa.create_engine(values["DISTRIBUTOR_DATABASE_URL"])

    def make_due() -> None:
        # `resume` lifts the pause; this lifts the backoff, so the next command tries again.
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE deliveries SET next_attempt_at = NULL WHERE status = 'pending'"))

    invoke("check")
    invoke("ingest")
    for code in EDITIONS:  # the digest goes to each edition's active subscribers
        add_subscribers(engine, code, [f"leserin-{code}@example.org"])
    invoke("deliver", "--once")
    invoke("deliver", "--once", "--json")
    for channel in ("de.telegram", "de.twitter", "en.twitter", "en.telegram", "fr.telegram"):
        invoke("resume", channel)
    make_due()
    invoke("run", "--once")
    for channel in ("de.telegram", "de.twitter"):
        invoke("resume", channel)
    make_due()
    invoke("run", "--once", "--log-json")
    invoke("resume", "de.telegram")
    invoke("send", "1", "--channel", "telegram")
    invoke("resume", "de.twitter")
    invoke("send", "1", "--channel", "twitter")
    invoke("digest", "--send", "--to", "probe@example.org", "--edition", "de")
    invoke("digest", "--send")
    invoke("issues")
    invoke("issues", "--json")
    invoke("status")
    invoke("status", "--json")
    invoke("outbox")
    invoke("outbox", "--json", "--attempts")
    invoke("articles", "--json")

    dump: list[str] = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                dump.append(f"{table}: {tuple(row)!r}")
    engine.dispose()

    printed, logged, stored = "\n".join(outputs), "\n".join(logs.lines), "\n".join(dump)
    # The failures really happened, with the canaries on the wire and the
    # libraries' DEBUG chatter on: otherwise finding nothing would prove nothing.
    refused = control.get("/_sandbox/requests", params={"all": 1}).json()["requests"]
    assert {r["service"] for r in refused} >= {"x", "sendgrid"}, refused
    assert sent(control, "x", "tweets") == [] and sent(control, "sendgrid") == []
    assert "the bot token was rejected" in printed and "PAUSED de.telegram" in printed
    assert "credentials rejected: 401" in printed and "401 The provided authorization" in printed
    everything = printed + logged
    assert "python_http_client" in everything and "oauthlib" in everything and '"logger": "oauthlib' in printed
    assert "deliveries" in stored and "channel_state" in stored and "issue_batches" in stored

    leaks = []
    for name, value in values.items():
        secret = password if name == "DISTRIBUTOR_DATABASE_URL" else value
        for form in forms(secret):
            for where, text in (("output", printed), ("log", logged), ("database", stored)):
                if form in text:
                    at = text.index(form)
                    leaks.append(f"{name} ({form!r}) in the {where}: …{text[max(0, at - 120):at + 40]}…")
    assert not leaks, "\n".join(leaks)
