"""Every setting, declared once, here, with its default: one frozen dataclass per
[section] of the TOML file, and the range each numeric setting allows (RANGES).

Secrets are never in the file: a channel names the environment variable that
holds each one (`*_env` keys). Relative paths in the file (database, folder
sources, templates) are resolved against the directory of the config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from distributor.errors import ConfigurationError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A channel's approval mode: "auto" sends what is planned when it is due;
# "required" holds every new delivery (and every correction of a sent post)
# in `awaiting_approval` until an editor approves it (`distributor approve`).
Approval = Literal["auto", "required"]


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
    # "required": a new post, and the edit of a corrected one, wait for an
    # editor's approval; posting window and spacing apply from the approval on.
    approval: Approval = "auto"
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
    # The account's name (without "@"), for the links to its posts on the desk
    # (x.com/<username>/status/<id>); "" = x.com/i/status/<id> (the sandbox's
    # accounts are named sandbox_<edition>).
    username: str = ""
    # When posts may go out, in the edition's time zone ("" = any time), and
    # the editorial spacing between two posts (see the Telegram channel).
    posting_window: str = ""
    spacing_minutes: float = 0.0
    # Proactive pacing, below X's 200 posts per 15 minutes per user.
    min_interval_seconds: float = 5.0
    # "required": a new post waits for an editor's approval (see Telegram).
    approval: Approval = "auto"
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
    # "required": an article joins a digest issue only once an editor approved
    # its newsletter delivery (and again after each new version of it).
    approval: Approval = "auto"
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
    # The editors' desk (/desk/): how long a login lasts, and how many failed
    # logins per 15 minutes, per client address and per editor name, before
    # further attempts are refused (429) without checking the password.
    desk_session_hours: float = 12.0
    desk_failed_logins_per_client: int = 20
    desk_failed_logins_per_name: int = 5

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True)
class DeskTelegramConfig:
    # The editors' Telegram bot (`distributor editor-bot`, and inside
    # `distributor run`): commands from the editors, approval buttons for
    # channels in approval = "required", alerts. "sandbox" talks to
    # `distributor sandbox` (which knows this bot and the group); "live" to
    # the real Bot API with the token from the variable token_env names.
    mode: Literal["sandbox", "live"] = "sandbox"
    token_env: str = ""
    # The editors' group (its numeric id, "-100…", or "@name"): approval
    # messages and alerts go there.
    chat_id: str = ""
    # The Telegram user ids allowed to act; anyone else is refused.
    editors: tuple[int, ...] = ()
    # An editor's own address, by user id ("4711" = "anna@example.org"):
    # where /digest sends that editor a test copy of the next issue.
    editor_emails: dict[str, str] = field(default_factory=dict)
    api_url: str = "https://api.telegram.org"
    # A source whose polls have failed for longer than this is alerted.
    alert_source_failing_minutes: float = 30.0
    # How often the bot looks in the database for articles to approve,
    # decisions taken elsewhere (desk, CLI) and new alerts.
    watch_seconds: float = 5.0
    # getUpdates long polling: how long one request waits for an update.
    poll_timeout_seconds: int = 30
    # How long to wait for an answer to any other Bot API call.
    timeout_seconds: float = 20.0


@dataclass(frozen=True)
class DeskConfig:
    telegram: DeskTelegramConfig | None = None


@dataclass(frozen=True)
class MetricsConfig:
    # `distributor run` (and `worker`) serve GET /metrics (Prometheus), /healthz
    # and /readyz on this address when port is set; 0: they serve none.
    # (`distributor serve` has them on the [web] port anyway.) In a container,
    # host = "0.0.0.0" lets Prometheus reach them.
    host: str = "127.0.0.1"
    port: int = 0


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
    desk: DeskConfig = field(default_factory=DeskConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
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
    DeskTelegramConfig: {"alert_source_failing_minutes": POSITIVE, "watch_seconds": Range(0, 3600, above=True),
                         "poll_timeout_seconds": Range(0, 50), "timeout_seconds": TIMEOUT},
    MetricsConfig: {"port": Range(0, 65535)},  # 0: off
    WebConfig: {"port": Range(0, 65535),  # 0: any free port (the tests)
                "confirm_hours": POSITIVE, "signups_per_client_per_hour": COUNT,
                "signups_per_address_per_hour": COUNT, "max_body_bytes": Range(1024),
                "webhook_max_age_seconds": POSITIVE, "desk_session_hours": Range(0, 24 * 30, above=True),
                "desk_failed_logins_per_client": COUNT, "desk_failed_logins_per_name": COUNT},
}
