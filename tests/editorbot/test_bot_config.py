"""[desk.telegram] (issue 14 item 1): read strictly, every problem at once,
each naming its key; in sandbox mode the sandbox knows the bot and the
group; in live mode the token comes from the environment only, and is
scrubbed wherever it could show."""

from __future__ import annotations

import pytest

from bot_helpers import ANNA, BERT, DESK_TOML, GROUP
from distributor import redact
from distributor.checks import run_checks
from distributor.config import desk_bot_token, load_settings
from distributor.errors import ConfigurationError
from distributor.sandbox.accounts import accounts_from_settings


def test_the_section_is_read_with_its_defaults(make_config, articles_dir):
    settings = load_settings(make_config(DESK_TOML, articles=articles_dir))
    bot = settings.desk.telegram
    assert (bot.mode, bot.chat_id, bot.editors) == ("sandbox", str(GROUP), (ANNA, BERT))
    assert bot.editor_emails == {str(ANNA): "anna@novastan.example"}
    assert load_settings(make_config(articles=articles_dir)).desk.telegram is None  # no section: no bot


def test_in_sandbox_mode_the_sandbox_knows_the_bot_and_the_group(make_config, articles_dir):
    settings = load_settings(make_config(DESK_TOML, articles=articles_dir))
    accounts = accounts_from_settings(settings)
    token = desk_bot_token(settings)
    bot = accounts.bots[token]
    assert bot.username == "sandbox_editors_bot" and GROUP in bot.admin_of
    assert accounts.chats[GROUP].type == "supergroup"
    # The channels' bots are distinct from it.
    assert all(b.token != token for b in accounts.bots.values() if b.username != "sandbox_editors_bot")


def test_every_problem_is_named_at_once(make_config, articles_dir):
    bad = """
[desk.telegram]
mode = "live"
chat_id = "editors"
editors = [0]
editor_emails = { "123" = "not an address" }
api_url = "ftp://x"
watch_seconds = 0
poll_timeout_seconds = 90
colour = "blue"
"""
    path = make_config(bad, articles=articles_dir)
    with pytest.raises(ConfigurationError) as err:
        load_settings(path)
    problems = "\n".join(err.value.problems)
    where = f"{path}: [desk.telegram]"
    for expected in (f"{where} chat_id 'editors' is neither a chat id", f"{where} editors: 0 is not a Telegram user id",
                     f"{where} editor_emails: '123' is not one of the editors' user ids",
                     f"{where} editor_emails: 'not an address' (123) is not an email address",
                     f"{where} token_env is missing: live mode needs", f"{where} api_url 'ftp://x' must start",
                     "watch_seconds = 0 is out of range", "poll_timeout_seconds = 90 is out of range",
                     "unknown key 'colour'"):
        assert expected in problems, (expected, problems)
    with pytest.raises(ConfigurationError) as err:
        load_settings(make_config('\n[desk.telegram]\nmode = "sandbox"\n', articles=articles_dir))
    assert any("chat_id is missing" in p for p in err.value.problems)
    assert any("editors is empty" in p for p in err.value.problems)


def test_in_live_mode_the_token_comes_from_the_environment_and_is_scrubbed(make_config, articles_dir, monkeypatch):
    toml = DESK_TOML.replace('mode = "sandbox"', 'mode = "live"\ntoken_env = "EDITORS_BOT_TOKEN"')
    settings = load_settings(make_config(toml, articles=articles_dir))
    monkeypatch.delenv("EDITORS_BOT_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="export EDITORS_BOT_TOKEN"):
        desk_bot_token(settings)
    problems, _ = run_checks(settings)
    assert any("EDITORS_BOT_TOKEN is not set" in p for p in problems)
    secret = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    monkeypatch.setenv("EDITORS_BOT_TOKEN", secret)
    assert desk_bot_token(settings) == secret
    redact.register(settings)
    assert secret not in redact.scrub(f"the token is {secret}.")
    # In sandbox mode an exported token is never used (nor sent to the sandbox).
    sandbox = load_settings(make_config(DESK_TOML.replace('mode = "sandbox"', 'mode = "sandbox"\ntoken_env = '
                                                          '"EDITORS_BOT_TOKEN"'), articles=articles_dir))
    assert desk_bot_token(sandbox) != secret
