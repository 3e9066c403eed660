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
import hashlib
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
from distributor.posting import parse_window

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
    # sandbox_secret); these tables add more, e.g. for tests.
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
    # {token} is replaced per recipient at send time.
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""
    # Until subscribers are managed here: the edition's recipients.
    recipients: tuple[str, ...] = ()
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
    # The secret that signs per-recipient unsubscribe tokens.
    unsubscribe_secret_env: str = ""


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


def sandbox_secret(edition: str, kind: str, field_name: str) -> str:
    """The well-known credential the sandbox accepts for a sandbox channel.

    Deterministic, so the sandbox (which derives its accounts from the same
    config) and the channels agree without any secret in the repo. These only
    ever open the local emulators.
    """
    digest = hashlib.sha256(f"distributor-sandbox/{edition}/{kind}/{field_name}".encode()).hexdigest()
    if kind == "telegram" and field_name == "token":
        bot_id = 100000 + int(digest[:6], 16) % 900000
        return f"{bot_id}:SANDBOX{digest[:28]}"
    if kind == "newsletter" and field_name == "api_key":
        return f"SG.sandbox-{edition}.{digest[:40]}"
    return f"sandbox-{edition}-{field_name}-{digest[:24]}"


def channel_secret(settings: Settings, edition: str, kind: str, field_name: str, env_name: str) -> str:
    """A channel's credential: the named environment variable, or in sandbox
    mode the sandbox's well-known value when that variable is unset."""
    channel = getattr(settings.editions[edition].channels, kind)
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    if channel.mode == "sandbox":
        return sandbox_secret(edition, kind, field_name)
    raise ConfigurationError(
        f"{edition}.{kind}: the secret {field_name!r} is not set; "
        + (f"export {env_name}" if env_name else f"name its variable with {field_name}_env in [editions.{edition}.channels.{kind}]")
    )


# ---------------------------------------------------------------- loading


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("DISTRIBUTOR_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


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
    data = dict(raw)
    data["path"] = path
    settings = _build(Settings, data, where="", file=path)
    _validate(settings)
    return settings


def _build(cls: type, data: Any, *, where: str, file: Path) -> Any:
    label = f"[{where}]" if where else "the top level"
    if not isinstance(data, dict):
        raise ConfigurationError(f"{file}: {label} must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(k, fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(fields))})"
        raise ConfigurationError(f"{file}: {label}: unknown key {k!r}{hint}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            sub = f"{where}.{name}" if where else name
            kwargs[name] = _coerce(hints[name], data[name], where=sub, file=file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigurationError(f"{file}: {label}: missing required key {name!r}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, *, where: str, file: Path) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where=where, file=file)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where=where, file=file)
    if origin is Literal:
        if value not in args:
            raise ConfigurationError(
                f"{file}: {where} = {value!r} is not one of {', '.join(repr(a) for a in args)}"
            )
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigurationError(f"{file}: {where} must be a list")
        inner = args[0]
        return tuple(_coerce(inner, v, where=f"{where}[{i}]", file=file) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigurationError(f"{file}: [{where}] must be a table")
        return {k: _coerce(args[1], v, where=f"{where}.{k}", file=file) for k, v in value.items()}
    if tp is Path:
        return Path(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, float, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ConfigurationError(
                f"{file}: {where} must be {tp.__name__}, got {type(value).__name__} {value!r}"
            )
        return value
    raise TypeError(f"unsupported config type {tp!r}")  # a bug here, not in the file


def _validate(settings: Settings) -> None:
    file = settings.path
    names = [s.name for s in settings.sources]
    for s in settings.sources:
        if names.count(s.name) > 1:
            raise ConfigurationError(f"{file}: two sources are named {s.name!r}")
        if s.kind == "folder" and not s.path:
            raise ConfigurationError(f"{file}: source {s.name!r} (folder) needs path")
        if s.kind == "feed" and not s.url:
            raise ConfigurationError(f"{file}: source {s.name!r} (feed) needs url")
        if s.language and s.language not in settings.editions and len(s.language) != 2:
            raise ConfigurationError(f"{file}: source {s.name!r}: language {s.language!r} is not a 2-letter code")
    for code, edition in settings.editions.items():
        for kind in ("telegram", "twitter"):
            ch = getattr(edition.channels, kind)
            if ch is not None:
                try:
                    parse_window(ch.posting_window)
                except ValueError as exc:
                    raise ConfigurationError(f"{file}: [editions.{code}.channels.{kind}] {exc}") from None
        nl = edition.channels.newsletter
        if nl is not None:
            if not 1 <= nl.batch_size <= 1000:
                raise ConfigurationError(f"{file}: [editions.{code}.channels.newsletter] batch_size must be 1-1000")
            if nl.digest_day not in WEEKDAYS:
                raise ConfigurationError(f"{file}: [editions.{code}.channels.newsletter] digest_day "
                                         f"{nl.digest_day!r} is not one of {', '.join(WEEKDAYS)}")
            try:
                hour, minute = (int(x) for x in nl.digest_time.split(":"))
                dt_time(hour, minute)
            except ValueError:
                raise ConfigurationError(f"{file}: [editions.{code}.channels.newsletter] digest_time "
                                         f"{nl.digest_time!r} is not a time like 09:00") from None
        if len(code) != 2 or not code.isalpha() or not code.islower():
            raise ConfigurationError(
                f"{file}: [editions.{code}]: an edition is named by its ISO 639-1 language code, like 'de'"
            )
        try:
            ZoneInfo(edition.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"{file}: [editions.{code}] timezone {edition.timezone!r} is not a known time zone"
            ) from None
