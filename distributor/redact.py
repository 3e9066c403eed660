"""Every configured secret, scrubbed in one place.

The secrets are the values of the environment variables the settings name
(every `*_env` key of every channel: bot tokens, the X keys, SendGrid keys,
unsubscribe secrets; the editors' bot's token_env) and the database URL's password (from the file or
DISTRIBUTOR_DATABASE_URL). They are looked up when a text is scrubbed, not
when the settings are registered, so a variable exported later is still
known. A few shapes are scrubbed even when their value is not registered:
python-telegram-bot's "The token `…` was rejected", a `bot<TOKEN>` URL path,
an `Authorization: Bearer …` value and the keys in an OAuth 1.0a header.

`scrub(text)` is the mechanism; it is applied at three doors, wired once:

- the store: every string parameter of every statement (store/db.py), so
  no error, reason or pause note is ever written with a secret in it, but
  the world's text (an article, a post's payload, a digest, an address) is
  stored as it came: a secret that is also a word of it (a database
  password "novastan") must not rewrite every link into https://[redacted].org;
- logging: `RedactingFilter` on the root handlers (and Python's last-resort
  handler), so every record of every logger at every level is rewritten,
  python_http_client's and oauthlib's DEBUG lines included;
- the CLI: `install(settings)` (cli/common.py: settings_of) wraps sys.stdout and
  sys.stderr, so whatever a command prints is scrubbed as it is written.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from distributor.config import Settings

REDACTED = "[redacted]"
# A shorter value ("1", "test", "") would blank out ordinary words everywhere.
MIN_SECRET_LENGTH = 6
DATABASE_URL_ENV = "DISTRIBUTOR_DATABASE_URL"

# Secrets in a recognisable shape, scrubbed whether registered or not; the
# markers let a text without any of them skip the regular expression. The
# shapes are narrow on purpose: the store scrubs article text too, and an
# article about "bearer bonds" must come out as it went in.
_SHAPES = (
    r"(?<=The token `)[^`\s]+(?=` was rejected)",    # python-telegram-bot's InvalidToken message
    r"(?<=/bot)\d{3,}:[A-Za-z0-9_-]{20,}",           # a Bot API URL: /bot<TOKEN>/method
    r"(?<=Bearer )(?=[^\s'\"]*\d)[A-Za-z0-9._~+/=-]{16,}",  # an Authorization header's token
    r'(?<=oauth_consumer_key=")[^"]+|(?<=oauth_token=")[^"]+',   # X's OAuth 1.0a header
)
_MARKERS = ("The token `", "/bot", "Bearer ", 'oauth_consumer_key="', 'oauth_token="')

_env_names: set[str] = set()
_database_urls: set[str] = set()


def register(settings: Settings) -> None:
    """Learn which variables hold secrets: every `*_env` key of every channel,
    the editors' bot's token_env, and the web's token signing secret, whatever its mode (a real secret exported for a sandbox channel is a
    secret too), and the configured database URL."""
    for edition in settings.editions.values():
        for channel in edition.channels.configured().values():
            for f in dataclasses.fields(channel):
                name = getattr(channel, f.name)
                if f.name.endswith("_env") and name:
                    _env_names.add(name)
    desk_bot = settings.desk.telegram
    if desk_bot is not None and desk_bot.token_env:  # the editors' bot's token
        _env_names.add(desk_bot.token_env)
    if settings.web.secret_env:  # signs the readers' unsubscribe and confirmation tokens
        _env_names.add(settings.web.secret_env)
    _database_urls.add(settings.database.url)


def secret_values() -> tuple[str, ...]:
    """The current value of every known secret long enough to scrub."""
    values = {os.environ.get(name, "") for name in _env_names}
    for url in (*_database_urls, os.environ.get(DATABASE_URL_ENV, "")):
        values.add(_password(url))
    return tuple(sorted(v for v in values if len(v) >= MIN_SECRET_LENGTH))


def scrub(text: str) -> str:
    """The text with every secret, in any spelling, replaced by [redacted]."""
    return _scrubber(secret_values()).scrub(text)


def scrub_parameters(parameters: Any, *, keep: frozenset[str] = frozenset()) -> Any:
    """A statement's parameters (a dict, a tuple, or a list of them for
    executemany) with every string scrubbed, except the strings in `keep`
    (the world's text: see store/db.py)."""
    return _walk(parameters, _scrubber(secret_values()), keep)


def _walk(value: Any, scrubber: _Scrubber, keep: frozenset[str]) -> Any:
    if isinstance(value, str):
        return value if value in keep else scrubber.scrub(value)
    if isinstance(value, dict):
        return {k: _walk(v, scrubber, keep) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_walk(v, scrubber, keep) for v in value)
    return value


# ---------------------------------------------------------------- logging


class RedactingFilter(logging.Filter):
    """Rewrites a record before any handler formats it: the message with its
    arguments merged in, the traceback text and the stack, all scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - arguments that do not fit the format
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = scrub(str(message)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


_FORMATTER = logging.Formatter()
_FILTER = RedactingFilter()


def protect_logging() -> None:
    """Put the filter on every root handler and on the last-resort handler
    (the one Python uses when nothing is configured). Idempotent; called
    again whenever the root handlers are replaced (logs.setup_logging)."""
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    for handler in handlers:
        if handler is not None and not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(_FILTER)


# ---------------------------------------------------------------- printing


class RedactingStream:
    """A text stream that scrubs each write before passing it on; everything
    else (encoding, isatty, fileno, buffer) is the wrapped stream's."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: Any) -> int:
        if isinstance(text, str):
            self._stream.write(scrub(text))
            return len(text)
        return self._stream.write(text)  # bytes fail as they would on the stream itself

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install(settings: Settings | None = None) -> None:
    """At startup: register the settings' secrets, filter logging, and wrap
    sys.stdout and sys.stderr so every printed message is scrubbed."""
    if settings is not None:
        register(settings)
    protect_logging()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


# ---------------------------------------------------------------- internals


@functools.lru_cache(maxsize=64)
def _password(url: str) -> str:
    if not url or "@" not in url:
        return ""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).password or ""
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can read: nothing to learn from it
        return ""


def _spellings(value: str) -> set[str]:
    """The forms a secret takes on its way out: raw, URL-encoded (a query
    string, an OAuth header), JSON-escaped, and a Telegram token's secret
    half (after the bot id) on its own."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1]}
    _, colon, tail = value.partition(":")
    if colon and len(tail) >= MIN_SECRET_LENGTH:
        forms |= {tail, quote(tail, safe="")}
    return forms


class _Scrubber:
    """The scrub for one set of secret values (built once per set)."""

    def __init__(self, values: tuple[str, ...]):
        forms = set().union(*(_spellings(v) for v in values)) if values else set()
        # Longest first, so a whole token goes before the half it contains.
        self.forms = tuple(sorted(forms, key=len, reverse=True))
        self.pattern = re.compile("|".join([*(re.escape(f) for f in self.forms), *_SHAPES]))

    def scrub(self, text: str) -> str:
        # Substring tests first: most texts hold no secret, and `in` is far
        # cheaper than the alternation (the store scrubs every statement).
        if not text or not any(f in text for f in (*self.forms, *_MARKERS)):
            return text
        return self.pattern.sub(REDACTED, text)


@functools.lru_cache(maxsize=32)
def _scrubber(values: tuple[str, ...]) -> _Scrubber:
    return _Scrubber(values)
