"""Channel adapters, one module per service, built from the settings here.

`build_channel(settings, "de.telegram")` gives the adapter with its secrets read
from the environment (or the sandbox's test credentials in sandbox mode).
"""

from __future__ import annotations

from typing import Union

from distributor.channels.base import (
    BatchChannel,
    Channel,
    EditableChannel,
    Request,
    SearchableChannel,
    SendResult,
)
from distributor.config import (
    NewsletterChannelConfig,
    Settings,
    TelegramChannelConfig,
    TwitterChannelConfig,
    channel_secret,
)
from distributor.errors import ConfigurationError

__all__ = ["BatchChannel", "Channel", "ChannelConfig", "EditableChannel", "Request", "SearchableChannel",
           "SendResult", "SocialConfig", "approval_required", "build_channel", "channel_config",
           "correction_needs_approval", "edits_posts",
           "social_channels", "social_config"]

ChannelConfig = Union[TelegramChannelConfig, TwitterChannelConfig, NewsletterChannelConfig]
# The channels the dispatcher posts to article by article.
SocialConfig = Union[TelegramChannelConfig, TwitterChannelConfig]


def channel_config(settings: Settings, channel: str) -> ChannelConfig:
    edition, _, kind = channel.partition(".")
    ed = settings.editions.get(edition)
    configured: dict[str, ChannelConfig | None] = (
        {"telegram": ed.channels.telegram, "twitter": ed.channels.twitter, "newsletter": ed.channels.newsletter}
        if ed else {})
    cfg = configured.get(kind)
    if cfg is None:
        raise ConfigurationError(f"no channel {channel!r} in {settings.path}")
    return cfg


def social_config(settings: Settings, channel: str) -> SocialConfig:
    """The config of a channel posted to article by article (Telegram, X)."""
    cfg = channel_config(settings, channel)
    if isinstance(cfg, NewsletterChannelConfig):
        raise ConfigurationError(f"{channel} is a newsletter: it goes out with the digest, not post by post")
    return cfg


def social_channels(settings: Settings) -> list[tuple[str, SocialConfig]]:
    """Every configured Telegram and X channel: ("de.telegram", its config)."""
    out: list[tuple[str, SocialConfig]] = []
    for code, ed in settings.editions.items():
        out += [(f"{code}.{kind}", cfg) for kind, cfg in (("telegram", ed.channels.telegram),
                                                          ("twitter", ed.channels.twitter)) if cfg is not None]
    return out


def edits_posts(cfg: ChannelConfig) -> bool:
    """Whether a correction of an article edits its post on the channel (only
    Telegram's config has edit_on_update; X posts and digest issues stay as
    they went out)."""
    return isinstance(cfg, TelegramChannelConfig) and cfg.edit_on_update


def approval_required(settings: Settings, channel: str) -> bool:
    """Whether the channel ("de.telegram") sends only what an editor approved."""
    return channel_config(settings, channel).approval == "required"


def correction_needs_approval(settings: Settings, channel: str, approved_version: int | None, version: int) -> bool:
    """Whether the edit of a sent post on `channel` to article `version`
    awaits an editor's approval: the channel requires approval, edits its
    posts, and that version is not approved (False for a channel no longer
    configured: nothing is edited there)."""
    try:
        cfg = channel_config(settings, channel)
    except ConfigurationError:
        return False
    return cfg.approval == "required" and edits_posts(cfg) and (approved_version or 0) < version


# Where each service lives inside `distributor sandbox`.
SANDBOX_PATHS = {"telegram": "telegram", "twitter": "x", "newsletter": "sendgrid"}
# The image the sandbox serves in place of a remote one (sandbox/app.py).
SANDBOX_PLACEHOLDER = "/_sandbox/placeholder.png"


def api_base(settings: Settings, channel: str) -> str:
    cfg = channel_config(settings, channel)
    if cfg.mode == "sandbox":
        return f"{settings.sandbox.base_url}/{SANDBOX_PATHS[channel.partition('.')[2]]}"
    return cfg.api_url


def build_channel(settings: Settings, channel: str, *, chat_id: str | None = None):
    cfg = channel_config(settings, channel)
    edition, _, kind = channel.partition(".")
    base = api_base(settings, channel)
    # Sandbox mode is sealed: remote article images are replaced, never fetched.
    placeholder = settings.sandbox.base_url + SANDBOX_PLACEHOLDER if cfg.mode == "sandbox" else None

    def secret(field: str, env: str) -> str:
        return channel_secret(settings, edition, kind, field, env)

    if isinstance(cfg, TelegramChannelConfig):
        from distributor.channels.telegram import TelegramChannel

        return TelegramChannel(channel, token=secret("token", cfg.token_env), chat_id=chat_id or cfg.chat_id,
                               api_url=base, timeout=cfg.timeout_seconds,
                               placeholder_image=placeholder)
    if isinstance(cfg, TwitterChannelConfig):
        from distributor.channels.twitter import TwitterChannel

        return TwitterChannel(
            channel,
            consumer_key=secret("consumer_key", cfg.consumer_key_env),
            consumer_secret=secret("consumer_secret", cfg.consumer_secret_env),
            access_token=secret("access_token", cfg.access_token_env),
            access_token_secret=secret("access_token_secret", cfg.access_token_secret_env),
            api_url=base,
            timeout=cfg.timeout_seconds,
            placeholder_image=placeholder,
        )
    from distributor.channels.newsletter import NewsletterChannel

    return NewsletterChannel(channel, api_key=secret("api_key", cfg.api_key_env), api_url=base,
                             from_email=cfg.from_email, from_name=cfg.from_name, categories=cfg.categories,
                             timeout=cfg.timeout_seconds)
