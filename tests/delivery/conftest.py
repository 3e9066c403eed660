"""Delivery tests: the real clients against one sandbox for the session, reset
before each test; the dispatcher runs on a fake clock that its sleeps advance."""

from __future__ import annotations

import dataclasses
import datetime as dt

import httpx
import pytest

from distributor.sandbox.testing import sandbox, sandbox_server  # noqa: F401  (fixtures)

START = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.timezone.utc)


class FakeClock:
    def __init__(self, now: dt.datetime = START):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sb_settings(settings, sandbox):
    """The test settings, pointed at the running sandbox."""
    port = int(sandbox.url.rsplit(":", 1)[1])
    return dataclasses.replace(settings, sandbox=dataclasses.replace(settings.sandbox, port=port))


@pytest.fixture
def control(sandbox):
    with httpx.Client(base_url=sandbox.url, trust_env=False, timeout=10) as client:
        yield client


def sent(control, service: str, method: str | None = None) -> list[dict]:
    """Accepted calls of a service (optionally only one method/path suffix)."""
    reqs = control.get("/_sandbox/requests", params={"service": service}).json()
    reqs = reqs if isinstance(reqs, list) else reqs["requests"]
    return [r for r in reqs if method is None or r["path"].endswith(method)]
