"""Fixtures of the newsletter's tests."""

from __future__ import annotations

import pytest

from distributor.store import Store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def open_store(request, settings):
    """Opens the store of a test, on SQLite (the test settings') or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return lambda: Store.open(settings)
    url = request.getfixturevalue("pg_url")
    return lambda: Store.open_url(url)
