"""A channel's credentials, and the editors' bot's token: from the
environment in live mode, the sandbox's well-known ones in sandbox mode."""

from __future__ import annotations

import logging
import os

from distributor.config.sections import Settings
from distributor.errors import ConfigurationError
from distributor.sandbox.credentials import DESK_EDITION, sandbox_secret



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
            logging.getLogger("distributor.config").warning(
                "%s.%s is in sandbox mode: %s is set but ignored; the sandbox's test credential is used",
                edition, kind, env_name)
        return sandbox_secret(edition, kind, field_name)
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    raise ConfigurationError(
        f"{edition}.{kind}: the secret {field_name!r} is not set; "
        + (f"export {env_name}" if env_name else f"name its variable with {field_name}_env in [editions.{edition}.channels.{kind}]")
    )


def desk_bot_token(settings: Settings) -> str:
    """The editors' bot's token ([desk.telegram]): the variable token_env
    names in live mode; in sandbox mode always the sandbox's well-known one
    (an exported variable is ignored, with one warning, as for a channel)."""
    bot = settings.desk.telegram
    if bot is None:
        raise ConfigurationError(f"{settings.path}: no [desk.telegram] section: the editors' bot is not configured")
    if bot.mode == "sandbox":
        if bot.token_env and os.environ.get(bot.token_env) and bot.token_env not in _ignored_in_sandbox:
            _ignored_in_sandbox.add(bot.token_env)
            logging.getLogger("distributor.config").warning(
                "[desk.telegram] is in sandbox mode: %s is set but ignored; the sandbox's test credential is used",
                bot.token_env)
        return sandbox_secret(DESK_EDITION, "telegram", "token")
    if bot.token_env and os.environ.get(bot.token_env):
        return os.environ[bot.token_env]
    raise ConfigurationError(f"[desk.telegram]: the editors' bot token is not set; "
                             + (f"export {bot.token_env}" if bot.token_env else "name its variable with token_env"))
