"""Shared fixtures for the render tests: built-in templates only, fixed configs."""

from __future__ import annotations

import pytest

from distributor.config import NewsletterChannelConfig, TelegramChannelConfig, TwitterChannelConfig, UtmConfig
from distributor.render.env import Templates

NEWSLETTER = NewsletterChannelConfig(
    from_email="newsletter@novastan.example",
    from_name="Novastan",
    mode="live",
    unsubscribe_mailto="unsubscribe@novastan.example",
    postal_address="Novastan e.V.\nMusterstraße 1\n10115 Berlin",
)
UNSUBSCRIBE = "https://novastan.example/unsubscribe/{token}"
TELEGRAM = TelegramChannelConfig(chat_id="@novastan_test")
TWITTER = TwitterChannelConfig()
TWITTER_THREAD = TwitterChannelConfig(thread=True)
UTM = UtmConfig()


@pytest.fixture(scope="session")
def templates() -> Templates:
    return Templates()
