"""Fixtures of the editors' bot tests: a sandbox that knows the bot and the
editors' group (started from settings with [desk.telegram], as `distributor
sandbox` would be), and the test settings pointed at it, with de.telegram and
de.twitter in approval = "required" (`any_db_settings`: those on SQLite and
on PostgreSQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from bot_helpers import DESK_TOML, Harness
from distributor.config import load_settings
from distributor.sandbox.server import SandboxHandle, start_sandbox
from support import default_settings, on_engine, with_channel


@pytest.fixture(scope="session")
def desk_sandbox_server(tmp_path_factory) -> Iterator[SandboxHandle]:
    path = tmp_path_factory.mktemp("desk") / "desk.toml"
    path.write_text(DESK_TOML, encoding="utf-8")
    desk = load_settings(path).desk
    handle = start_sandbox(dataclasses.replace(default_settings(), desk=desk))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def desk_sandbox(desk_sandbox_server: SandboxHandle) -> Iterator[SandboxHandle]:
    desk_sandbox_server.reset()
    desk_sandbox_server.clock.offset = 0.0
    yield desk_sandbox_server


@pytest.fixture
def bot_settings(make_config, articles_dir, desk_sandbox):
    """BASE_CONFIG with [desk.telegram], on the desk sandbox; de.telegram and
    de.twitter need approval."""
    settings = load_settings(make_config(DESK_TOML, articles=articles_dir))
    port = int(desk_sandbox.url.rsplit(":", 1)[1])
    settings = dataclasses.replace(settings, sandbox=dataclasses.replace(settings.sandbox, port=port))
    for channel in ("de.telegram", "de.twitter"):
        settings = with_channel(settings, channel, approval="required")
    return settings


@pytest.fixture
def harness(desk_sandbox) -> Harness:
    return Harness(desk_sandbox.url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_settings(request, bot_settings):
    """bot_settings on SQLite, and on PostgreSQL."""
    return on_engine(request, bot_settings)
