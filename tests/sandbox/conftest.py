"""Sandbox tests: one sandbox on 127.0.0.1 (ephemeral port) for the session,
reset before each test (fixtures from distributor.sandbox.testing)."""

import httpx
import pytest

from distributor.sandbox.testing import sandbox, sandbox_server  # noqa: F401  (fixtures)


@pytest.fixture
def control(sandbox):
    """An httpx client on the sandbox's /_sandbox control routes."""
    with httpx.Client(base_url=sandbox.url, trust_env=False, timeout=10) as client:
        yield client
