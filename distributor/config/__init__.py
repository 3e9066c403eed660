"""Settings: the TOML file, read strictly into dataclasses.

    from distributor.config import Settings, load_settings

sections.py declares every setting once, with its default and its range;
loading.py reads the file (every problem at once, each naming the file and
the [section]); secrets.py gives a channel its credentials (the environment
in live mode, the sandbox's well-known ones in sandbox mode).
"""

from distributor.config.loading import DEFAULT_CONFIG, ConfigErrors, config_path, load_settings, settings_from_dict
from distributor.config.secrets import channel_secret, desk_bot_token
from distributor.config.sections import (
    COUNT,
    NON_NEGATIVE,
    POSITIVE,
    RANGES,
    TIMEOUT,
    WEEKDAYS,
    ChannelsConfig,
    DatabaseConfig,
    DeliveryConfig,
    DeskConfig,
    DeskTelegramConfig,
    EditionConfig,
    MetricsConfig,
    NewsletterChannelConfig,
    Range,
    RenderConfig,
    SandboxConfig,
    SandboxSendGridKey,
    SandboxTelegramBot,
    SandboxXAccount,
    Settings,
    SourceConfig,
    TelegramChannelConfig,
    TwitterChannelConfig,
    UtmConfig,
    WebConfig,
)

__all__ = [
    "COUNT", "DEFAULT_CONFIG", "NON_NEGATIVE", "POSITIVE", "RANGES", "TIMEOUT", "WEEKDAYS",
    "ChannelsConfig", "ConfigErrors", "DatabaseConfig", "DeliveryConfig", "DeskConfig", "DeskTelegramConfig",
    "EditionConfig", "MetricsConfig",
    "NewsletterChannelConfig", "Range", "RenderConfig", "SandboxConfig", "SandboxSendGridKey",
    "SandboxTelegramBot", "SandboxXAccount", "Settings", "SourceConfig", "TelegramChannelConfig",
    "TwitterChannelConfig", "UtmConfig", "WebConfig",
    "channel_secret", "config_path", "desk_bot_token", "load_settings", "settings_from_dict",
]
