"""Fixtures of the store's tests."""

from __future__ import annotations

import pytest

from distributor.store.db import create_engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_engine(request, tmp_path):
    """An engine on an empty database, once on SQLite and once on the
    PostgreSQL server (a fresh database): a migration test takes it from an
    older revision up and down again. Disposed after the test."""
    url = f"sqlite:///{tmp_path / 'old.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
