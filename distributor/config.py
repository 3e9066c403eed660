"""Settings: the TOML file, read strictly into dataclasses.

Every setting is declared once, here, with its default; an unknown key, a wrong
type or a missing required value is a ConfigurationError that names the file
and the [section] it is in. Secrets are never in the file: a channel names the
environment variable that holds each one (`*_env` keys).

Relative paths in the file (database, folder sources, templates) are resolved
against the directory of the config file itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import time as dt_time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from distributor.errors import ConfigurationError
from distributor.links import link_problem
from distributor.posting import parse_window
from distributor.sandbox.credentials import sandbox_secret

DEFAULT_CONFIG = Path("config/distributor.toml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ---------------------------------------------------------------- sections


@dataclass(frozen=True)
class DatabaseConfig:
    # SQLAlchemy URL. A relative SQLite path is relative to the config file.
    url: str = "sqlite:///../var/distributor.db"


@dataclass(frozen=True)
class SandboxTelegramBot:
    # An extra bot the sandbox accepts: its token and the chats (@name or
    # numeric id) it administers. Local test credentials only, never real ones.
    token: str
    username: str = ""
    chats: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxXAccount:
    # An extra X app + user the sandbox accepts (local test credentials only).
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    username: str = ""


@dataclass(frozen=True)
class SandboxSendGridKey:
    # An extra SendGrid API key the sandbox accepts, with its verified senders.
    api_key: str
    senders: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    # Start the sandbox inside `distributor run` when a channel uses it and
    # nothing answers on host:port yet.
    autostart: bool = True
    # Where the sandbox posts signed SendGrid Event Webhook events ("" = nowhere).
    event_webhook_url: str = ""
    # Rate limits the emulators enforce, as the real services do (0 = no limit).
    telegram_per_chat_per_minute: int = 20
    telegram_per_second: int = 30
    x_tweets_per_window: int = 200
    x_window_seconds: int = 900
    sendgrid_requests_per_second: int = 600
    # Accounts are derived from every channel in "sandbox" mode (see
    # sandbox/credentials.py); these tables add more, e.g. for tests.
    telegram_bots: tuple[SandboxTelegramBot, ...] = ()
    x_accounts: tuple[SandboxXAccount, ...] = ()
    sendgrid_keys: tuple[SandboxSendGridKey, ...] = ()
    # Channels that exist but that no sandbox bot may post in (answered 403).
    foreign_chats: tuple[str, ...] = ("@sandbox_foreign",)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class UtmConfig:
    enabled: bool = True
    medium_social: str = "social"
    medium_email: str = "email"
    campaign: str = "distributor"


@dataclass(frozen=True)
class RenderConfig:
    # The outlet's own templates, searched before the built-in ones ("" = none).
    templates_dir: str = ""
    utm: UtmConfig = field(default_factory=UtmConfig)


@dataclass(frozen=True)
class DeliveryConfig:
    # A delivery fails (and is shown to editors) after this many failed attempts.
    max_attempts: int = 5
    # A channel pauses itself after this many consecutive failures.
    pause_after_failures: int = 5
    # Exponential backoff with jitter between attempts: base * 2^n, capped.
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    # A delivery left in `sending` by a process on another machine is judged
    # abandoned after this long (same machine: as soon as its process is gone).
    sending_lease_seconds: float = 600.0
    # `deliver --once` waits this long at most for a rate limit or a retry.
    once_max_wait_seconds: float = 30.0


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: Literal["folder", "feed"]
    # folder: a directory of .txt, .md and .html files
    path: str = ""
    # feed: an http(s) URL or a local file path
    url: str = ""
    # The edition's language when the feed or file does not say.
    language: str = ""
    poll_seconds: float = 300.0
    # feed: fetch the article page when an item carries only an excerpt.
    fetch_full_page: bool = False
    # feed: one deadline for the whole request, headers and body (a server
    # trickling a byte a second never trips a per-read timeout).
    timeout_seconds: float = 20.0
    # feed: refuse bodies larger than this (a broken or hostile server);
    # folder: refuse files larger than this, before reading them.
    max_bytes: int = 20_000_000
    # folder: the link of an article whose file names none, e.g.
    # "https://novastan.org/de/{slug}/"; {slug} is the front matter's `slug`
    # or the file name without its extension ("" = no link from the folder).
    url_template: str = ""


@dataclass(frozen=True)
class TelegramChannelConfig:
    chat_id: str
    # "sandbox" posts to `distributor sandbox`; "live" to the real Bot API.
    mode: Literal["sandbox", "live"] = "sandbox"
    api_url: str = "https://api.telegram.org"
    token_env: str = ""
    link_preview: bool = True
    # Link preview options (Bot API LinkPreviewOptions) when link_preview is on.
    link_preview_large_media: bool = False
    link_preview_above_text: bool = False
    # Edit the posted message when the article is corrected.
    edit_on_update: bool = True
    # When posts may go out, in the edition's time zone ("07:00-22:00"; "" =
    # any time). Outside it a post waits for the window to open, or, with
    # silent_outside_window, goes out at once without notifying anyone.
    posting_window: str = ""
    silent_outside_window: bool = False
    # Editorial spacing between two posts on this channel: a burst of
    # articles is spread out, oldest first.
    spacing_minutes: float = 0.0
    # Proactive pacing, below Telegram's ~20 messages a minute into one chat.
    min_interval_seconds: float = 3.5
    # How long to wait for an answer; past it the outcome is unknown and the
    # delivery is held (X: looked up first), never resent blindly.
    timeout_seconds: float = 20.0


@dataclass(frozen=True)
class TwitterChannelConfig:
    mode: Literal["sandbox", "live"] = "sandbox"
    api_url: str = "https://api.twitter.com"
    consumer_key_env: str = ""
    consumer_secret_env: str = ""
    access_token_env: str = ""
    access_token_secret_env: str = ""
    # Append hashtags made from the article's tags.
    hashtags: bool = True
    max_hashtags: int = 2
    # Post a long text as a numbered thread instead of cutting it.
    thread: bool = False
    # When posts may go out, in the edition's time zone ("" = any time), and
    # the editorial spacing between two posts (see the Telegram channel).
    posting_window: str = ""
    spacing_minutes: float = 0.0
    # Proactive pacing, below X's 200 posts per 15 minutes per user.
    min_interval_seconds: float = 5.0
    # How long to wait for an answer; past it the outcome is unknown and the
    # delivery is held (X: looked up first), never resent blindly.
    timeout_seconds: float = 20.0


@dataclass(frozen=True)
class NewsletterChannelConfig:
    from_email: str
    from_name: str = ""
    mode: Literal["sandbox", "live"] = "sandbox"
    api_url: str = "https://api.sendgrid.com"
    api_key_env: str = ""
    # The address of the List-Unsubscribe mailto: URI ("" = https only). The
    # https one-click URL is [web] base_url + /unsubscribe/<token>.
    unsubscribe_mailto: str = ""
    # The outlet's postal address, shown in every digest's footer (CAN-SPAM
    # requires one in commercial mail; `check` warns when a live newsletter
    # has none). One line, or several separated by newlines.
    postal_address: str = ""
    # Addresses `digest --send --to` (without an address) sends a test copy
    # to. The digest itself goes to the edition's active subscribers.
    test_recipients: tuple[str, ...] = ()
    # Weekly digest schedule (cron fields, in the edition's time zone).
    digest_day: str = "fri"
    digest_time: str = "09:00"
    categories: tuple[str, ...] = ("newsletter",)
    timeout_seconds: float = 30.0
    # A digest slot missed by more than this (the process was down) is not
    # sent late by the scheduler; `distributor digest --send` still can.
    digest_grace_hours: float = 12.0
    # Recipients per SendGrid request (at most 1000).
    batch_size: int = 1000


@dataclass(frozen=True)
class WebConfig:
    # `distributor serve`, and `distributor run` (the daemon) when enabled:
    # the reader pages (subscribe, confirm, unsubscribe) and the SendGrid
    # Event Webhook.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080  # 0: any free port
    # The public address readers reach ("" = http://host:port). Unsubscribe
    # and confirmation links are built from it; live mode needs https.
    base_url: str = ""
    # The environment variable holding the secret that signs unsubscribe and
    # confirmation tokens (required when a newsletter channel is live; in
    # sandbox mode an unset variable falls back to a well-known test secret).
    # A new secret invalidates every token made with the old one.
    secret_env: str = "DISTRIBUTOR_WEB_SECRET"
    # A confirmation link works this long after the signup.
    confirm_hours: float = 48.0
    # Signups per client address (IP) and per email address and edition, per hour.
    signups_per_client_per_hour: int = 10
    signups_per_address_per_hour: int = 3
    # Request bodies larger than this are refused (413).
    max_body_bytes: int = 16384
    # SendGrid's Event Webhook verification key (base64, from SendGrid's
    # "Signed Event Webhook" settings). "" = the sandbox's key when a
    # newsletter channel is in sandbox mode; otherwise every event is refused.
    sendgrid_public_key: str = ""
    # Signed events whose timestamp is further than this from now are refused.
    webhook_max_age_seconds: int = 600

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True)
class ChannelsConfig:
    telegram: TelegramChannelConfig | None = None
    twitter: TwitterChannelConfig | None = None
    newsletter: NewsletterChannelConfig | None = None

    def configured(self) -> dict[str, Any]:
        return {k: v for k, v in (("telegram", self.telegram), ("twitter", self.twitter),
                                  ("newsletter", self.newsletter)) if v is not None}


@dataclass(frozen=True)
class EditionConfig:
    timezone: str = "UTC"
    # Human name of the edition, used in the digest ("Novastan Deutsch").
    name: str = ""
    channels: ChannelsConfig = field(default_factory=ChannelsConfig)


@dataclass(frozen=True)
class Settings:
    path: Path
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    web: WebConfig = field(default_factory=WebConfig)
    sources: tuple[SourceConfig, ...] = ()
    editions: dict[str, EditionConfig] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, value: str) -> Path:
        """A path from the config file, made absolute against its directory."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute.

        DISTRIBUTOR_DATABASE_URL overrides the file (it may carry a password).
        """
        url = os.environ.get("DISTRIBUTOR_DATABASE_URL") or self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
            return prefix + str(self.resolve(url[len(prefix):]))
        return url

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigurationError(f"no source named {name!r} in {self.path} (known: {known})")


# ---------------------------------------------------------------- secrets


_ignored_in_sandbox: set[str] = set()


def channel_secret(settings: Settings, edition: str, kind: str, field_name: str, env_name: str) -> str:
    """A channel's credential: in live mode the named environment variable;
    in sandbox mode always the sandbox's well-known value.

    Sandbox mode is sealed: a real secret exported for a sandbox channel is
    never sent to the emulator (it would sit in its request log); it is
    ignored, with one warning per variable that names it but not its value.
    """
    channel = getattr(settings.editions[edition].channels, kind)
    if channel.mode == "sandbox":
        if env_name and os.environ.get(env_name) and env_name not in _ignored_in_sandbox:
            _ignored_in_sandbox.add(env_name)
            logging.getLogger(__name__).warning(
                "%s.%s is in sandbox mode: %s is set but ignored; the sandbox's test credential is used",
                edition, kind, env_name)
        return sandbox_secret(edition, kind, field_name)
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    raise ConfigurationError(
        f"{edition}.{kind}: the secret {field_name!r} is not set; "
        + (f"export {env_name}" if env_name else f"name its variable with {field_name}_env in [editions.{edition}.channels.{kind}]")
    )


# ---------------------------------------------------------------- ranges


@dataclass(frozen=True)
class Range:
    """The values a numeric setting allows, both ends inclusive unless
    `above` (the lower bound itself excluded); None: unbounded."""

    lo: float | None = None
    hi: float | None = None
    above: bool = False

    def __contains__(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.above else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def __str__(self) -> str:
        lo = None if self.lo is None else f"{self.lo:g}"
        hi = None if self.hi is None else f"{self.hi:g}"
        if self.above:
            return f"more than {lo}" + (f" and at most {hi}" if hi else "")
        if lo is not None and hi is not None:
            return f"{lo} to {hi}"
        return f"at least {lo}" if lo is not None else f"at most {hi}"


POSITIVE = Range(0, above=True)
NON_NEGATIVE = Range(0)
COUNT = Range(1)
TIMEOUT = Range(0, 3600, above=True)

# Every numeric setting and its range (tests check that none is missing).
RANGES: dict[type, dict[str, Range]] = {
    SandboxConfig: {"port": Range(1, 65535), "telegram_per_chat_per_minute": NON_NEGATIVE,
                    "telegram_per_second": NON_NEGATIVE, "x_tweets_per_window": NON_NEGATIVE,
                    "x_window_seconds": COUNT, "sendgrid_requests_per_second": NON_NEGATIVE},
    DeliveryConfig: {"max_attempts": Range(1, 100), "pause_after_failures": COUNT,
                     "backoff_base_seconds": POSITIVE, "backoff_max_seconds": POSITIVE,
                     "sending_lease_seconds": POSITIVE, "once_max_wait_seconds": NON_NEGATIVE},
    SourceConfig: {"poll_seconds": POSITIVE, "timeout_seconds": TIMEOUT, "max_bytes": COUNT},
    TelegramChannelConfig: {"spacing_minutes": NON_NEGATIVE, "min_interval_seconds": NON_NEGATIVE,
                            "timeout_seconds": TIMEOUT},
    TwitterChannelConfig: {"max_hashtags": Range(0, 10), "spacing_minutes": NON_NEGATIVE,
                           "min_interval_seconds": NON_NEGATIVE, "timeout_seconds": TIMEOUT},
    NewsletterChannelConfig: {"timeout_seconds": TIMEOUT, "digest_grace_hours": Range(0, 168),
                              "batch_size": Range(1, 1000)},
    WebConfig: {"port": Range(0, 65535),  # 0: any free port (the tests)
                "confirm_hours": POSITIVE, "signups_per_client_per_hour": COUNT,
                "signups_per_address_per_hour": COUNT, "max_body_bytes": Range(1024),
                "webhook_max_age_seconds": POSITIVE},
}


# ---------------------------------------------------------------- loading


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("DISTRIBUTOR_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


class ConfigErrors(ConfigurationError):
    """Every problem found in one config file, one message each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    p = config_path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"config file not found: {p} (set --config or DISTRIBUTOR_CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{p}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{p}: not UTF-8 text: {exc}") from None
    return settings_from_dict(raw, path=p.resolve())


def settings_from_dict(raw: dict[str, Any], *, path: Path) -> Settings:
    """Read the whole file, collecting every problem (a bad value is replaced
    by its default meanwhile, so that the rest is still checked); raise them
    all at once, as ConfigErrors."""
    data = dict(raw)
    data["path"] = path
    errors: list[str] = []
    settings = _build(Settings, data, where="", file=path, errors=errors)
    if settings is _INVALID:  # pragma: no cover - Settings has no required key besides path
        raise ConfigErrors(errors)
    _validate(settings, errors)
    if errors:
        raise ConfigErrors(errors)
    return settings


class _Invalid:
    """A value that could not be read (its problem is recorded)."""


_INVALID = _Invalid()


def _build(cls: type, data: Any, *, where: str, file: Path, errors: list[str]) -> Any:
    label = f"[{where}]" if where else "the top level"
    if not isinstance(data, dict):
        errors.append(f"{file}: {label} must be a table, got {type(data).__name__}")
        return _INVALID
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in data:
        if k not in fields:
            close = difflib.get_close_matches(k, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(fields))})"
            errors.append(f"{file}: {label}: unknown key {k!r}{hint}")
    ranges = RANGES.get(cls, {})
    kwargs = {}
    complete = True
    for name, f in fields.items():
        if name in data:
            sub = f"{where}.{name}" if where else name
            value = _coerce(hints[name], data[name], where=sub, file=file, errors=errors)
            if value is not _INVALID and name in ranges and value not in ranges[name]:
                errors.append(f"{file}: {label} {name} = {data[name]!r} is out of range: "
                              f"must be {ranges[name]}")
                value = _INVALID
            if value is not _INVALID:
                kwargs[name] = value
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                complete = False
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            errors.append(f"{file}: {label}: missing required key {name!r}")
            complete = False
    return cls(**kwargs) if complete else _INVALID


def _coerce(tp: Any, value: Any, *, where: str, file: Path, errors: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where=where, file=file, errors=errors)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where=where, file=file, errors=errors)
    if origin is Literal:
        if value not in args:
            errors.append(f"{file}: {where} = {value!r} is not one of {', '.join(repr(a) for a in args)}")
            return _INVALID
        return value
    if origin is tuple:
        if not isinstance(value, list):
            errors.append(f"{file}: {where} must be a list")
            return _INVALID
        items = [_coerce(args[0], v, where=f"{where}[{i}]", file=file, errors=errors) for i, v in enumerate(value)]
        return tuple(v for v in items if v is not _INVALID)
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{file}: [{where}] must be a table")
            return _INVALID
        items = {k: _coerce(args[1], v, where=f"{where}.{k}", file=file, errors=errors) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not _INVALID}
    if tp is Path:
        return Path(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, float, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            errors.append(f"{file}: {where} must be {tp.__name__}, got {type(value).__name__} {value!r}")
            return _INVALID
        if tp is float and value != value:  # NaN passes every comparison's negation
            errors.append(f"{file}: {where} must be a number, got nan")
            return _INVALID
        return value
    raise TypeError(f"unsupported config type {tp!r}")  # a bug here, not in the file


def _url_template_problem(s: SourceConfig) -> str | None:
    if s.kind != "folder":
        return ": only a folder source has one (a feed's items carry their links)"
    if "{slug}" not in s.url_template:
        return " has no {slug} slot: every article would get the same link"
    leftover = s.url_template.replace("{slug}", "")
    if "{" in leftover or "}" in leftover:
        return ": the only slot is {slug}"
    problem = link_problem(s.url_template.replace("{slug}", "slug"))
    return f" is not a link: {problem}" if problem else None


def _validate(settings: Settings, errors: list[str]) -> None:
    file = settings.path
    d = settings.delivery
    if d.backoff_max_seconds < d.backoff_base_seconds:
        errors.append(f"{file}: [delivery] backoff_max_seconds = {d.backoff_max_seconds:g} is out of range: "
                      f"must be at least backoff_base_seconds ({d.backoff_base_seconds:g})")
    names = [s.name for s in settings.sources]
    for s in settings.sources:
        if names.count(s.name) > 1 and names.index(s.name) == settings.sources.index(s):
            errors.append(f"{file}: two sources are named {s.name!r}")
        if s.kind == "folder" and not s.path:
            errors.append(f"{file}: source {s.name!r} (folder) needs path")
        if s.kind == "feed" and not s.url:
            errors.append(f"{file}: source {s.name!r} (feed) needs url")
        if s.url_template and (problem := _url_template_problem(s)):
            errors.append(f"{file}: source {s.name!r}: url_template {s.url_template!r}{problem}")
        if s.language and s.language not in settings.editions and len(s.language) != 2:
            errors.append(f"{file}: source {s.name!r}: language {s.language!r} is not a 2-letter code")
    web = settings.web
    if web.base_url and not web.base_url.startswith(("http://", "https://")):
        errors.append(f"{file}: [web] base_url {web.base_url!r} must start with https:// (or http://)")
    for code, edition in settings.editions.items():
        for kind in ("telegram", "twitter"):
            ch = getattr(edition.channels, kind)
            if ch is not None:
                try:
                    parse_window(ch.posting_window)
                except ValueError as exc:
                    errors.append(f"{file}: [editions.{code}.channels.{kind}] {exc}")
        nl = edition.channels.newsletter
        if nl is not None:
            if len(nl.postal_address) > 300 or any(
                    not c.isprintable() and c != "\n" for c in nl.postal_address):
                errors.append(f"{file}: [editions.{code}.channels.newsletter] postal_address must be at most "
                              "300 printable characters (lines separated by newlines)")
            if nl.digest_day not in WEEKDAYS:
                errors.append(f"{file}: [editions.{code}.channels.newsletter] digest_day "
                              f"{nl.digest_day!r} is not one of {', '.join(WEEKDAYS)}")
            try:
                hour, minute = (int(x) for x in nl.digest_time.split(":"))
                dt_time(hour, minute)
            except ValueError:
                errors.append(f"{file}: [editions.{code}.channels.newsletter] digest_time "
                              f"{nl.digest_time!r} is not a time like 09:00")
        if len(code) != 2 or not code.isalpha() or not code.islower():
            errors.append(f"{file}: [editions.{code}]: an edition is named by its ISO 639-1 language code, like 'de'")
        try:
            ZoneInfo(edition.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"{file}: [editions.{code}] timezone {edition.timezone!r} is not a known time zone"
                          + _did_you_mean_zone(edition.timezone))


def _did_you_mean_zone(name: str) -> str:
    from zoneinfo import available_timezones

    zones = sorted(available_timezones())
    by_lower = {z.lower(): z for z in zones}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
