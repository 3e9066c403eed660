"""Shared fixtures. Tests reach nothing beyond 127.0.0.1: an autouse guard
makes any other connection fail loudly (python-telegram-bot's OfflineRequest
idea, at the socket level so it covers httpx, requests and urllib alike)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor.sandbox.server import SandboxHandle, start_sandbox
from support import default_settings

# The clients honour HTTP(S)_PROXY; loopback must never go through a proxy
# (the session's sandbox starts before any test's monkeypatch).
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = REPO / "examples" / "articles" / "de-kasachstan-china-ukraine.txt"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(address) -> None:
    if isinstance(address, (str, bytes)):  # a unix socket
        return
    host = address[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost":
            return
        raise ConnectionRefusedError(f"test tried to reach {host!r}: tests reach nothing beyond 127.0.0.1") from None
    if not ip.is_loopback:
        raise ConnectionRefusedError(f"test tried to reach {host}: tests reach nothing beyond 127.0.0.1")


def _guarded_connect(self, address):
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_address(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxHandle]:
    """One sandbox on 127.0.0.1, on a free port, for the whole session (started on first use)."""
    handle = start_sandbox(default_settings())
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxHandle) -> Iterator[SandboxHandle]:
    """The session's sandbox, handed to each test reset (accounts, faults, clock)."""
    sandbox_server.reset()
    sandbox_server.clock.offset = 0.0
    yield sandbox_server


BASE_CONFIG = """
[database]
url = "sqlite:///{db}"

[web]
base_url = "https://novastan.example"
port = 0

[[sources]]
name = "articles"
kind = "folder"
path = "{articles}"

[editions.de]
timezone = "Europe/Berlin"
[editions.de.channels.telegram]
chat_id = "@novastan_de"
timeout_seconds = 2
[editions.de.channels.twitter]
timeout_seconds = 2
[editions.de.channels.newsletter]
from_email = "newsletter@novastan.example"
test_recipients = ["leserin@example.org"]
unsubscribe_mailto = "unsubscribe@novastan.example"

[editions.fr]
timezone = "Europe/Paris"
[editions.fr.channels.telegram]
chat_id = "@novastan_fr"
timeout_seconds = 2
[editions.fr.channels.newsletter]
from_email = "newsletter@novastan.example"

[editions.en]
timezone = "Europe/London"
[editions.en.channels.telegram]
chat_id = "@novastan_en"
timeout_seconds = 2
[editions.en.channels.twitter]
timeout_seconds = 2
[editions.en.channels.newsletter]
from_email = "newsletter@novastan.example"
"""


# The PostgreSQL server the tests use (.ci/run and scripts/test-services start it).
PG_ADMIN_URL = os.environ.get("DISTRIBUTOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test (dropped after it): its URL."""
    import uuid

    import sqlalchemy as sa

    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"distributor_test_{uuid.uuid4().hex[:10]}"
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (.ci/run starts it): {exc}")
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A private copy of the example articles, free to edit."""
    dest = tmp_path / "articles"
    shutil.copytree(REPO / "examples" / "articles", dest)
    return dest


@pytest.fixture
def make_config(tmp_path: Path):
    """Write a config file (BASE_CONFIG plus extra TOML) and return its path."""

    def make(extra: str = "", *, articles: Path | None = None, db: Path | None = None) -> Path:
        path = tmp_path / "distributor.toml"
        text = BASE_CONFIG.format(db=db or tmp_path / "distributor.db",
                                  articles=articles or tmp_path / "articles")
        path.write_text(text + extra, encoding="utf-8")
        return path

    return make


@pytest.fixture
def settings(make_config, articles_dir):
    from distributor.config import load_settings

    return load_settings(make_config(articles=articles_dir))


@pytest.fixture
def store(settings):
    from distributor.store import Store

    with Store.open(settings) as s:
        yield s


@pytest.fixture
def clock():
    from support import FakeClock

    return FakeClock()


@pytest.fixture
def sb_settings(settings, sandbox):
    """The test settings, pointed at the running sandbox."""
    import dataclasses

    port = int(sandbox.url.rsplit(":", 1)[1])
    return dataclasses.replace(settings, sandbox=dataclasses.replace(settings.sandbox, port=port))


@pytest.fixture
def control(sandbox):
    """An httpx client on the sandbox's /_sandbox control routes."""
    import httpx

    with httpx.Client(base_url=sandbox.url, trust_env=False, timeout=10) as client:
        yield client
